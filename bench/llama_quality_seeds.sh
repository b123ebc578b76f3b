#!/usr/bin/env bash
# bench/llama_quality_seeds.sh — bench/llama_quality.sh over several training seeds, one table.
#
#   SEEDS="1 2 3" EPOCHS=30 HYPER='"dropout": 0.3, "token_noise": 0.6' STRATIFIED=true \
#       bench/llama_quality_seeds.sh
#
# Every knob of llama_quality.sh passes through (EPOCHS, HYPER, GEN_SEED, TEMPERATURE, STRATIFIED);
# SEED is taken from SEEDS.  Prints, per seed and as the mean over seeds: JSD(synthetic, test) for
# the four metrics, leakage against the training split (all rows and size-matched), and the TSTR
# ratio, and jsd_markov with the training rows as real (llama_quality.sh), under the real reference
# (train vs test).  One seed's differences of 0.01-0.02 are within
# the run-to-run spread; the mean is what to compare.  Each seed is a full run (about 1.5 min).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seeds=${SEEDS:-1 2 3}
out=$(mktemp -d /tmp/ntg-quality-seeds.XXXXXX)
trap 'rm -rf "$out"' EXIT
for s in $seeds; do
	echo "seed $s ..." >&2
	SEED=$s bash "$repo/bench/llama_quality.sh" > "$out/$s.txt" 2>&1 || { cat "$out/$s.txt"; exit 1; }
	if grep -q '^skipped' "$out/$s.txt"; then cat "$out/$s.txt"; exit 0; fi
done

echo "llama quality over training seeds ${seeds// /, } (EPOCHS=${EPOCHS:-default} HYPER=${HYPER:-none} STRATIFIED=${STRATIFIED:-false})"
echo "| seed | num_packets | 1gram | 2gram | markov | leakage (all rows) | leakage (size-matched) | TSTR ratio | markov, train as real |"
echo "|---|---|---|---|---|---|---|---|---|"
for s in $seeds; do
	awk -v seed="$s" -F' *[|] *' '
		/^\| jsd_/ { ref[$2] = $3; syn[$2] = $4 }
		/^\| leakage vs train split/ { split($4, a, ": "); leak = a[2]; split($3, b, ": "); leak_ref = b[2] }
		/^size-matched leakage/ { n = split($0, c, " "); small = c[n] }
		/^TSTR ratio/ { split($0, d, ": "); split(d[2], e, " "); tstr = e[1] }
		/^jsd_markov with the rows compared as real/ { split($0, f, "train "); split(f[2], g, ","); rev_ref = g[1]
			split($0, h, "synthetic "); split(h[2], k, ","); rev = k[1] }
		END {
			printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", seed, syn["jsd_num_packets"], syn["jsd_1gram"],
				syn["jsd_2gram"], syn["jsd_markov"], leak, small, tstr, rev
			printf "REF | %s | %s | %s | %s | %s | %s\n", ref["jsd_num_packets"], ref["jsd_1gram"], ref["jsd_2gram"],
				ref["jsd_markov"], leak_ref, rev_ref > "/dev/stderr"
		}' "$out/$s.txt" 2>"$out/$s.ref"
done | tee "$out/rows"
awk -F' *[|] *' '{ for (i = 3; i <= 10; i++) sum[i] += $i; n++ }
	END { printf "| mean |"; for (i = 3; i <= 10; i++) printf " %.3f |", sum[i] / n; printf "\n" }' "$out/rows"
first=${seeds%% *}
awk -F' *[|] *' '{ printf "| train vs test (reference) | %s | %s | %s | %s | %s | %s | 1 | %s |\n", $2, $3, $4, $5, $6, $6, $7 }' "$out/$first.ref"
