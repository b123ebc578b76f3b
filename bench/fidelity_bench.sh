#!/usr/bin/env bash
# bench/fidelity_bench.sh — time ntg.fidelity on ROWS real vs ROWS synthetic rows over 30 classes
# (default 100000 each), side by side with the Python reference (test/reference/fidelity_ref.py)
# on the same rows, and print a table.
#
#   bash bench/fidelity_bench.sh [ROWS] [REPEATS]
#
# Also times the C core alone (bench/fidelity_core_bench.c, built against the unit-test core
# library) on the same rows.  Rows come from bench/fidelity_gen.py (deterministic: seed 1 real, seed 2 synthetic; see there).
# Server: with NTG_BENCH_PGHOST set, the server at PGHOST/PGPORT/PGDATABASE (ntg must be
# installable there); otherwise a temporary server from the build's tmp_install, started and
# stopped here (as the postgres user when run as root).  Both sides run on one core: a backend is
# one process, and the reference is plain single-threaded Python.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rows=${1:-100000}
repeats=${2:-3}
cd "$repo"
# shellcheck source=test/lib/pg_harness.sh
. test/lib/pg_harness.sh
work=$(mktemp -d /tmp/ntg-fidbench.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

python=/usr/bin/python3
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
"$python" "$repo/bench/fidelity_gen.py" "$rows" 1 >"$work/real.tsv"
"$python" "$repo/bench/fidelity_gen.py" "$rows" 2 >"$work/synth.tsv"

if [ -n "${NTG_BENCH_PGHOST:-}" ]; then
	export PGHOST=$NTG_BENCH_PGHOST
	psql=(psql -XAtq -v ON_ERROR_STOP=1)
else
	# one BLAS thread: the comparison is on one core, like the Python side
	OPENBLAS_NUM_THREADS=1 ntg_server_start "$work/pg" 54339
	trap 'ntg_server_stop; rm -rf "$work"' EXIT
	psql=("${NTG_PSQL[@]}")
fi

"${psql[@]}" <<SQL
CREATE EXTENSION IF NOT EXISTS ntg;
DROP TABLE IF EXISTS ntg_bench_real, ntg_bench_synth;
CREATE TABLE ntg_bench_real (label text, pl int[]);
CREATE TABLE ntg_bench_synth (label text, pl int[]);
\copy ntg_bench_real FROM '$work/real.tsv'
\copy ntg_bench_synth FROM '$work/synth.tsv'
VACUUM ANALYZE ntg_bench_real, ntg_bench_synth;
SQL

# Best of $repeats wall times (ms) of one statement, measured inside the server.
time_sql() {
	"${psql[@]}" <<SQL
CREATE OR REPLACE FUNCTION pg_temp.best(stmt text, n int) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz; best float8 := 'Infinity';
BEGIN
	FOR i IN 1..n LOOP
		t0 := clock_timestamp();
		EXECUTE stmt;
		best := least(best, extract(epoch FROM clock_timestamp() - t0) * 1000);
	END LOOP;
	RETURN best;
END \$\$;
SELECT round(pg_temp.best(\$s\$$1\$s\$, $repeats)::numeric, 1);
SQL
}

q_real="SELECT label, pl FROM ntg_bench_real"
q_synth="SELECT label, pl FROM ntg_bench_synth"
t_scan=$(time_sql "SELECT count(*) FROM (SELECT label, pl FROM ntg_bench_real UNION ALL SELECT label, pl FROM ntg_bench_synth) s")
t_ntg=$(time_sql "SELECT * FROM ntg.fidelity('$q_real', '$q_synth')")
t_class=$(time_sql "SELECT * FROM ntg.fidelity_by_class('$q_real', '$q_synth')")

ref=$("$python" - "$repo/test/reference" "$work/real.tsv" "$work/synth.tsv" "$repeats" <<'PY'
import sys, time
sys.path.insert(0, sys.argv[1])
import fidelity_ref as ref
def rows(path):
    out = []
    for line in open(path):
        label, arr = line.rstrip("\n").split("\t")
        out.append((label, [int(v) for v in arr[1:-1].split(",")] if arr != "{}" else []))
    return out
real, synth = rows(sys.argv[2]), rows(sys.argv[3])
best = float("inf")
for _ in range(int(sys.argv[4])):
    t0 = time.perf_counter()
    values = ref.fidelity(real, synth)
    best = min(best, time.perf_counter() - t0)
print(f"{best * 1000:.1f}")
for m, v in values.items():
    print(f"{m}\t{v!r}")
PY
)
t_ref=$(echo "$ref" | head -1)
# The metric code alone, without the server (same rows, read from the TSV files).
make -C "$repo" -s unit-build >/dev/null
deps=$(make -C "$repo" -s print-dep-flags)
# shellcheck disable=SC2086
cc -O2 -std=gnu11 -I"$repo/src/core" -o "$work/core_bench" "$repo/bench/fidelity_core_bench.c" \
	"$repo/test/unit/bin/libntgcore.a" $deps
read -r t_core t_core_cpu < <("$work/core_bench" "$work/real.tsv" "$work/synth.tsv" "$repeats")

ntg_values=$("${psql[@]}" -F $'\t' -c "SELECT * FROM ntg.fidelity('$q_real', '$q_synth')")
nclasses=$(cut -f1 "$work/real.tsv" | sort -u | wc -l)
vals=$(cat "$work/real.tsv" "$work/synth.tsv" | awk -F'\t' '{n += ($2 == "{}") ? 0 : gsub(/,/, ",", $2) + 1} END {print n}')

echo
echo "fidelity: $rows real vs $rows synthetic rows, $nclasses classes, $vals values; best of $repeats"
echo "(nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); load average $(cut -d' ' -f1 /proc/loadavg))"
printf '| %-58s | %10s |\n' "what" "ms"
printf '|%s|%s|\n' "$(printf -- '-%.0s' {1..60})" "$(printf -- '-%.0s' {1..12})"
printf '| %-58s | %10s |\n' "server: scan both tables (count(*), for scale)" "$t_scan"
printf '| %-58s | %10s |\n' "ntg.fidelity (reads both queries via SPI + metrics)" "$t_ntg"
printf '| %-58s | %10s |\n' "ntg.fidelity_by_class (same work, 30x6 rows out)" "$t_class"
printf '| %-58s | %10s |\n' "core C ntg_fidelity_compute alone (no server)" "$t_core"
printf '| %-58s | %10s |\n' "  the same, CPU time of the process (load-independent)" "$t_core_cpu"
printf '| %-58s | %10s |\n' "Python reference fidelity() (rows already in memory)" "$t_ref"
echo
echo "values (ntg | reference | |difference|):"
paste <(echo "$ntg_values") <(echo "$ref" | tail -n +2 | cut -f2) |
	awk -F'\t' '{d = $2 - $3; if (d < 0) d = -d; printf "  %-16s %.12f  %.12f  %.1e\n", $1, $2, $3, d}'
