#!/usr/bin/env bash
# bench/frontier.sh RESULTS.tsv... — the privacy-utility frontier (ntg.frontier_svg) of the settings
# that bench/generator_quality.sh scored (its RESULTS file), written to docs/privacy-utility-frontier.svg
# (OUT to write elsewhere) and printed as a table: per setting, the largest of its four JSD gaps in
# units of the perfect generator's sigma (the fidelity condition holds at <= 1), the TSTR ratio and the
# size-matched leakage, and the real rows' leakage as the reference.
#
#   RESULTS=/tmp/runs.tsv PART=validation LABEL="30 epochs" HYPER=... bash bench/generator_quality.sh
#   bash bench/frontier.sh /tmp/runs.tsv
#
# Knobs: PART (validation: the rows scored on the validation part, the default; test), TITLE,
# OUT (default docs/privacy-utility-frontier.svg), NTG_BENCH_PORT (54359).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: bench/frontier.sh RESULTS.tsv..." >&2; exit 2; }
files=()
for f in "$@"; do files+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"); done
cd "$repo"
# shellcheck source=test/lib/pg_harness.sh
. test/lib/pg_harness.sh
PART=${PART:-validation}; TITLE=${TITLE:-"Privacy-utility frontier, nDPI benchmark ($PART part, mean of 3 splits)"}
OUT=${OUT:-docs/privacy-utility-frontier.svg}
case "$OUT" in /*) ;; *) OUT="$repo/$OUT" ;; esac
all=$(mktemp /tmp/ntg-frontier.XXXXXX.tsv)
cat "${files[@]}" > "$all"
chmod a+r "$all"
srv=$(mktemp -d /tmp/ntg-frontier-pg.XXXXXX)
ntg_server_start "$srv" "${NTG_BENCH_PORT:-54359}" ntgbench
trap 'ntg_server_stop; rm -rf "$srv" "$all"' EXIT
PSQL=("${NTG_PSQL[@]}" -v "part=$PART" -v "title=$TITLE")
"${PSQL[@]}" -c "CREATE EXTENSION ntg" >/dev/null
"${PSQL[@]}" <<SQL
CREATE TABLE r (setting text, gen text, part text, metric text, mean float8, sd float8, pmean float8, psd float8);
\copy r FROM '$all' WITH (NULL '')
SQL
"${PSQL[@]}" <<'SQL' >/dev/null
-- one point per setting and generator; a setting scored twice keeps its last line
CREATE VIEW pts AS
	SELECT setting AS name, max(mean) FILTER (WHERE metric = 'tstr_ratio') AS tstr_ratio,
		   max(mean) FILTER (WHERE metric = 'leakage_synthetic') AS leakage,
		   max(mean / nullif(psd, 0)) FILTER (WHERE metric IN ('jsd_num_packets', 'jsd_1gram', 'jsd_2gram', 'jsd_markov')) AS gap_sigma
	  FROM r WHERE part = :'part' GROUP BY setting, gen;
SQL
echo "| setting | largest JSD gap / sigma | TSTR ratio | size-matched leakage |"
echo "|---|---|---|---|"
"${PSQL[@]}" -At -F ' | ' -c "SELECT '| ' || name, round(gap_sigma::numeric, 2), round(tstr_ratio::numeric, 3), round(leakage::numeric, 3) || ' |' FROM pts ORDER BY leakage"
real=$("${PSQL[@]}" -At <<<"SELECT round(avg(mean)::numeric, 4) FROM r WHERE part = :'part' AND metric = 'leakage_test_rows'")
echo "| real rows (reference) | - | 1 | $real |"
"${PSQL[@]}" -v "real=$real" <<<"SELECT ntg.frontier_svg('SELECT name, tstr_ratio, leakage FROM pts', :real, :'title')" > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT"
