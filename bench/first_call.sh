#!/usr/bin/env bash
# bench/first_call.sh — what a small ntg.generate call costs inside the server: the first call of
# a new backend (loading ntg's library and the model), a one-row call once the model is loaded, and
# a row of a batched call beside them.  The llama is the default shape trained on the efficiency
# protocol's rows (5 classes x 500 rows, bench/llama_efficiency.sh) for one epoch, without dropout
# or token noise as that protocol trains (the default's token noise spreads a one-epoch model's
# rows over many more distinct histories, and so costs more decode steps per row).
#
#   bench/first_call.sh                    SESSIONS=5 CALLS=200 LONG=5000 BATCH=500 bench/first_call.sh
#
# Per backend: loading the library, the first and the second one-row call, CALLS one-row calls
# (one statement, a LATERAL call per row, each with its own seed) twice — the second time the
# histories the rows share have been kept by the model — then LONG more in one statement (as a
# query that synthesizes a row per input row makes them), and a batched call's time per row.
# Four set-ups, one after the other, each measured in SESSIONS new backends:
#   cold      the server just started: the first backend maps the model file that ntg.train wrote
#             (ntg.model_file_cache) into empty shared buffers; it is timed alone
#   files     later backends map the same file, no preload
#   table     the model file removed: the first backend reads the model from ntg.models (TOAST)
#             and writes the file again; timed alone
#   preload   the model file there, and shared_preload_libraries = 'ntg': backends start with the
#             library
# Times are measured inside the server (clock_timestamp around the statement, and the backend's
# CPU time from /proc/self/schedstat), so client round trips are not in them.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=test/lib/pg_harness.sh
. test/lib/pg_harness.sh
# shellcheck source=bench/small_calls_model.sh
. bench/small_calls_model.sh
ntg_shared_data
NTG_PASS_ENV="SESSIONS CALLS LONG BATCH" ntg_rerun_as_postgres bench/first_call.sh "$@"

SESSIONS=${SESSIONS:-5}; CALLS=${CALLS:-200}; LONG=${LONG:-5000}; BATCH=${BATCH:-500}
data=$NTG_SHARED_DATA
if [ -z "$data" ] || [ ! -f "$data/ndpi/flows.tsv" ]; then
	echo "skipped: $data/ndpi/flows.tsv is absent (set NTG_SHARED_DATA)"; exit 0
fi
srv=$(mktemp -d /tmp/ntg-bench-fc.XXXXXX)
out=$(mktemp /tmp/ntg-fc-out.XXXXXX)
trap 'ntg_server_stop "$srv" 2>/dev/null || true; rm -rf "$srv" "$out"' EXIT

# One session: library load, first generate (1 row), second, mean of CALLS one-row calls, and a
# batched call's time per row; "label|wall_ms|cpu_ms" lines, from timed().
session_sql() {
	cat <<SQL
CREATE FUNCTION pg_temp.t(label text, q text, n int DEFAULT 1) RETURNS text LANGUAGE sql AS
	\$\$ SELECT label || '|' || wall_ms / n || '|' || cpu_ms / n FROM timed(q) \$\$;
SELECT pg_temp.t('library', 'SELECT ntg.library_versions()');
SELECT pg_temp.t('first call', 'SELECT count(*) FROM ntg.generate(''fc'', ''$1'', 1, 1)');
SELECT pg_temp.t('second call', 'SELECT count(*) FROM ntg.generate(''fc'', ''$1'', 1, 2)');
SELECT pg_temp.t('one-row call', 'SELECT count(*) FROM generate_series(1, $CALLS) s,
	LATERAL ntg.generate(''fc'', (ARRAY[$2])[1 + s % 5], 1, s)', $CALLS);
SELECT pg_temp.t('one-row call, again', 'SELECT count(*) FROM generate_series($CALLS + 1, 2 * $CALLS) s,
	LATERAL ntg.generate(''fc'', (ARRAY[$2])[1 + s % 5], 1, s)', $CALLS);
SELECT pg_temp.t('one-row call, long statement', 'SELECT count(*) FROM generate_series(2 * $CALLS + 1, 2 * $CALLS + $LONG) s,
	LATERAL ntg.generate(''fc'', (ARRAY[$2])[1 + s % 5], 1, s)', $LONG);
SELECT pg_temp.t('batched, per row', 'SELECT count(*) FROM ntg.generate(''fc'', ''$1'', $BATCH, 3)', $BATCH);
SELECT pg_temp.t('one-row call, tiny model', 'SELECT count(*) FROM generate_series(1, $CALLS) s,
	LATERAL ntg.generate(''fc_tiny'', (ARRAY[$2])[1 + s % 5], 1, s)', $CALLS);
SQL
}

# the server, timed(q) (a statement's wall-clock and CPU milliseconds in this backend), the rows
# (table eff) and the llama 'fc'
small_calls_model "$srv" 54334
PSQL=("${NTG_PSQL[@]}")
"${PSQL[@]}" >/dev/null <<SQL
SET ntg.progress = off;
SELECT ntg.train('fc_tiny', 'llama', 'SELECT label, pl FROM eff',
				 '{"epochs": 1, "seed": 1, "dropout": 0, "token_noise": 0, "dim": 8, "hidden_dim": 8, "n_layers": 1, "n_heads": 1}');
SQL
# the classes as SQL literals inside a literal (quotes doubled)
labels=$("${PSQL[@]}" -c "SELECT string_agg(replace(quote_literal(c), chr(39), repeat(chr(39), 2)), ',') FROM unnest((SELECT classes FROM ntg.models WHERE name = 'fc')) c")
first=$("${PSQL[@]}" -c "SELECT classes[1] FROM ntg.models WHERE name = 'fc'")
size=$("${PSQL[@]}" -c "SELECT pg_size_pretty(bytes) || ', ' || parameters || ' parameters' FROM ntg.models WHERE name = 'fc'")

measure() {	# measure SETUP SESSIONS
	for s in $(seq 1 "$2"); do
		session_sql "$first" "$labels" | "${PSQL[@]}" | sed "s/^/$1|/" >>"$out"
	done
}
ntg_server_restart			# the model file ntg.train wrote outlives it
measure cold 1
measure files "$SESSIONS"
rm -f "$srv"/data/pg_stat_tmp/ntg_model_*
measure table 1
NTG_SERVER_OPTS="-c shared_preload_libraries=ntg" ntg_server_restart
measure cold-preload 1
measure preload "$SESSIONS"

echo "model: llama at its default shape, $size; $(nproc) cores; $(uptime | sed 's/.*load/load/')"
echo "small ntg.generate calls inside the server, ms (wall / CPU), median of $SESSIONS new backends"
/usr/bin/python3 - "$out" <<'PY'
import statistics, sys
rows = [l.strip().split("|") for l in open(sys.argv[1]) if l.count("|") == 3]
setups = ["cold", "files", "table", "preload"]
steps = ["library", "first call", "second call", "one-row call", "one-row call, again",
         "one-row call, long statement", "batched, per row", "one-row call, tiny model"]
def cell(setup, step):
    w = [float(r[2]) for r in rows if r[0] == setup and r[1] == step]
    c = [float(r[3]) for r in rows if r[0] == setup and r[1] == step]
    return "%.2f / %.2f" % (statistics.median(w), statistics.median(c)) if w else "-"
print("| step | " + " | ".join(setups) + " |")
print("|---|" + "---|" * len(setups))
for st in steps:
    print("| %s | %s |" % (st, " | ".join(cell(s, st) for s in setups)))
print("cold: the first backend after a server start, which maps the model file ntg.train wrote; "
      "files: new backends map that file; table: the first backend without a model file, which "
      "reads the model from ntg.models and writes the file; preload: the library is loaded before "
      "the backends start; one-row "
      "call: CALLS calls, each with its own seed, cycling over the 5 classes; again: CALLS more, "
      "once the histories they share are kept (llama_nodes.c); long statement: LONG more in one "
      "statement; the tiny model (dim 8, one layer) "
      "shows what a call costs besides the network")
PY
