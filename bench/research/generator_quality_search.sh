#!/usr/bin/env bash
# bench/research/generator_quality_search.sh [RESULTS] — the settings of llama scored on the
# validation part for docs/research/generator-quality.md ("The privacy-utility frontier"): each line
# below runs bench/generator_quality.sh (PART=validation, 5 halvings, 1 TSTR halving per split) and
# appends its means to RESULTS (default /tmp/ntg-genq-search.tsv); bench/frontier.sh RESULTS then
# prints the table and draws docs/privacy-utility-frontier.svg.  About 3 hours on the shared 2-core
# machine (the 50- and 60-epoch settings train for 4-5 minutes per split at load 10).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RESULTS=${1:-/tmp/ntg-genq-search.tsv}
S='{"stratified": true}'
G='{"stratified": true, "copy_guard": true}'
B2='{"stratified": true, "copy_guard": true, "copy_budget": 2}'
B4='{"stratified": true, "copy_guard": true, "copy_budget": 4}'
run() {
	local label=$1 hyper=$2 opts=$3
	PART=validation HALVINGS=5 PERFECT_TSTR=1 KINDS=${KINDS:-llama} BASELINES=${BASELINES:-} \
		HYPER="$hyper" OPTIONS="$opts" LABEL="$label" RESULTS="$RESULTS" \
		bash "$here/../generator_quality.sh"
}
run "10 epochs" '{}' "{}; $S; $G"
run "30 ep d0.1 tn0.3" '{"epochs": 30, "dropout": 0.1, "token_noise": 0.3}' "$S; $B2; $B4"
run "30 ep d0.3 tn0.6" '{"epochs": 30, "dropout": 0.3, "token_noise": 0.6}' "$S; $G; $B2"
run "40 ep d0.1 tn0.3" '{"epochs": 40, "dropout": 0.1, "token_noise": 0.3}' "$S; $G; $B2; $B4"
run "40 ep d0.3 tn0.6" '{"epochs": 40, "dropout": 0.3, "token_noise": 0.6}' "$S; $G; $B2; $B4"
run "50 ep d0.3 tn0.6" '{"epochs": 50, "dropout": 0.3, "token_noise": 0.6}' "$S; $G; $B2; $B4"
run "60 ep d0.3 tn0.6" '{"epochs": 60, "dropout": 0.3, "token_noise": 0.6}' \
	"$S; $G; {\"stratified\": true, \"copy_guard\": true, \"copy_budget\": 0.5}; {\"stratified\": true, \"copy_guard\": true, \"copy_budget\": 0}"
KINDS=none BASELINES="smote fast_retransmit" run "baseline" '{}' '{}'
bash "$here/../frontier.sh" "$RESULTS"
