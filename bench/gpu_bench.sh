#!/usr/bin/env bash
# bench/gpu_bench.sh — the paper's efficiency protocol for the llama generator on the CUDA device
# and on the CPU, side by side in one run through SQL (ntg.device = cuda, then cpu), beside the
# paper's figures (Table III, a 48 GB datacenter GPU) and the goals of docs/gpu.md.
#
#   bench/gpu_bench.sh                         # the full protocol
#   BATCH1_EPOCHS=1 SINGLE_CALLS=100 BATCHED=20000 bench/gpu_bench.sh
#   ROWS=20 SINGLE_CALLS=5 BATCHED=50 NTG_CUDA_LIBRARY=/tmp/ntg_cuda_emu.so bench/gpu_bench.sh   # check the script
#
# Rows: 5 classes x 500 rows, the 5 largest label_app classes of ndpi/flows.tsv of the benchmark data
# (docs/data.md) as bench/llama_efficiency.sh draws them; without the data, 5 synthetic classes of
# the same size (said so in the output).  Per device: seconds per epoch at batch 1 (BATCH1_EPOCHS
# epochs) and batch 32 (EPOCHS), as ntg.train measured them; ms/sample one at a time (SINGLE_CALLS
# separate ntg.generate(n => 1) calls, the model cached); batched generation in rows per minute
# (one ntg.generate call of BATCHED rows per class, sample_batch 4096).  The GPU's models are
# trained on the GPU, the CPU's on the CPU, from the same seed.
# Prints "skipped: no CUDA device (...)" and exits 0 when the server finds no usable device.
# NTG_CUDA_LIBRARY (passed to the server) loads another build of the kernels, e.g. the emulated one
# of the unit tests, to check this script where no GPU is: its figures are then not a GPU's.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=test/lib/pg_harness.sh
. test/lib/pg_harness.sh
ntg_shared_data
NTG_PASS_ENV="EPOCHS BATCH1_EPOCHS SINGLE_CALLS BATCHED ROWS NTG_CUDA_LIBRARY" \
	ntg_rerun_as_postgres bench/gpu_bench.sh "$@"

EPOCHS=${EPOCHS:-5}; BATCH1_EPOCHS=${BATCH1_EPOCHS:-1}; SINGLE_CALLS=${SINGLE_CALLS:-200}
BATCHED=${BATCHED:-20000}; ROWS=${ROWS:-500}
echo "uptime: $(uptime)"

srv=$(mktemp -d /tmp/ntg-gpu-bench.XXXXXX)
# the CPU side on one BLAS thread, as in bench/llama_efficiency.sh
OPENBLAS_NUM_THREADS=1 ntg_server_start "$srv" 54342 ntgbench
trap 'ntg_server_stop; rm -rf "$srv"' EXIT
PSQL=("${NTG_PSQL[@]}")
"${PSQL[@]}" -c "CREATE EXTENSION ntg" >/dev/null
read -r device flavor detail <<<"$("${PSQL[@]}" -F ' ' -c "SELECT coalesce(device, 'none'),
	CASE WHEN detail LIKE 'emulated%' THEN 'emulated' ELSE 'cuda' END, detail FROM ntg.device_status()")"
if [ "$device" != cuda ]; then
	echo "skipped: no CUDA device ($detail)"
	exit 0
fi
echo "device: $detail"
[ "$flavor" = emulated ] && echo "NOTE: emulated kernels (serial, on the host): these figures check the script, they are no GPU's"

# ---- rows ----
data=$NTG_SHARED_DATA
"${PSQL[@]}" -c "CREATE TABLE gb_rows (label text, pl integer[])" >/dev/null
if [ -n "$data" ] && [ -f "$data/ndpi/flows.tsv" ]; then
	rows=$(mktemp /tmp/ntg-gpu-rows.XXXXXX.tsv)
	/usr/bin/python3 bench/make_rows.py efficiency --flows "$data/ndpi/flows.tsv" --out "$rows" \
		--classes 5 --rows "$ROWS" --seed 1 2>/dev/null
	"${PSQL[@]}" <<SQL
CREATE TEMP TABLE raw (label text, pl text);
\copy raw FROM '$rows'
INSERT INTO gb_rows SELECT label, ('{' || pl || '}')::integer[] FROM raw;
SQL
	rm -f "$rows"
	echo "rows: 5 largest nDPI classes x $ROWS (bench/make_rows.py efficiency, seed 1)"
else
	"${PSQL[@]}" -c "SELECT setseed(0.1); INSERT INTO gb_rows
		SELECT 'class' || (i % 5), (SELECT array_agg(((random() * 20)::int * 73 - 700) * (CASE WHEN j % 2 = 0 THEN 1 ELSE -1 END))
		                          FROM generate_series(1, 1 + (i * 7) % 10) AS j WHERE i > 0)
		FROM generate_series(1, 5 * $ROWS) AS i" >/dev/null
	echo "rows: 5 synthetic classes x $ROWS (no benchmark data: NTG_SHARED_DATA)"
fi

# ---- one device ----
"${PSQL[@]}" <<'SQL' >/dev/null
CREATE FUNCTION timed_ms(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	EXECUTE q;
	RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;
SQL

# measure DEV: s/epoch at batch 1 and 32, ms/sample one at a time, rows/minute batched
measure() {
	local dev=$1 b1 b32 single batched
	"${PSQL[@]}" -c "SET ntg.progress = off" -c "SET ntg.device = $dev" -c \
		"SELECT ntg.train('gb_${dev}_b1', 'llama', 'SELECT label, pl FROM gb_rows',
			'{\"epochs\": $BATCH1_EPOCHS, \"batch_size\": 1, \"seed\": 1}')" -c \
		"SELECT ntg.train('gb_${dev}_b32', 'llama', 'SELECT label, pl FROM gb_rows',
			'{\"epochs\": $EPOCHS, \"batch_size\": 32, \"seed\": 1, \"sample_batch\": 4096}')" >/dev/null
	b1=$("${PSQL[@]}" -c "SELECT round(epoch_seconds::numeric, 3) FROM ntg.models WHERE name = 'gb_${dev}_b1'")
	b32=$("${PSQL[@]}" -c "SELECT round(epoch_seconds::numeric, 3) FROM ntg.models WHERE name = 'gb_${dev}_b32'")
	# one session: warm the model cache (and the device), then time
	{ read -r single; read -r batched; } < <("${PSQL[@]}" -c "SET ntg.progress = off" -c "SET ntg.device = $dev" \
		-c "SELECT count(*) FROM ntg.generate('gb_${dev}_b32', n => 2)" -c "
		SELECT round((timed_ms('WITH c AS (SELECT array_agg(DISTINCT label ORDER BY label) AS l FROM gb_rows)
			SELECT count(*) FROM c, generate_series(1, $SINGLE_CALLS) AS s,
			LATERAL ntg.generate(''gb_${dev}_b32'', c.l[1 + s % 5], 1, s)') / $SINGLE_CALLS)::numeric, 3)" -c "
		SELECT round((5 * $BATCHED / timed_ms('SELECT count(*) FROM ntg.generate(''gb_${dev}_b32'', n => $BATCHED, seed => 2)')
			* 1000 * 60)::numeric)" | tail -2)
	echo "$b1 $b32 $single $batched"
}

read -r g_b1 g_b32 g_single g_rows <<<"$(measure cuda)"
read -r c_b1 c_b32 c_single c_rows <<<"$(measure cpu)"

/usr/bin/python3 - "$g_b1" "$c_b1" "$g_b32" "$c_b32" "$g_single" "$c_single" "$g_rows" "$c_rows" <<'PY'
import sys
g_b1, c_b1, g_b32, c_b32, g_s, c_s, g_r, c_r = map(float, sys.argv[1:])
def x(a, b, lower_better=True):
    return "%.1fx" % ((b / a) if lower_better else (a / b)) if a and b else "-"
print()
print("| measure | GPU (ntg.device = cuda) | CPU (one thread) | GPU vs CPU | paper (GPU) | GPU vs paper | goal |")
print("|---|---|---|---|---|---|---|")
print("| training, batch 1, s/epoch | %.2f | %.2f | %s | 36.8 | %s | <= 3.68 |" % (g_b1, c_b1, x(g_b1, c_b1), x(g_b1, 36.8)))
print("| training, batch 32, s/epoch | %.2f | %.2f | %s | - | - | - |" % (g_b32, c_b32, x(g_b32, c_b32)))
print("| generation one at a time, ms/sample | %.3f | %.3f | %s | 31.21 | %s | <= 3.12 |" % (g_s, c_s, x(g_s, c_s), x(g_s, 31.21)))
print("| generation batched, rows/minute | %.0f | %.0f | %s | - | - | >= 1000000 |" % (g_r, c_r, x(g_r, c_r, False)))
PY
echo
echo "Protocol: 5 classes x $ROWS rows (the paper's: 500); batch 1 runs BATCH1_EPOCHS=$BATCH1_EPOCHS epoch(s), batch 32 EPOCHS=$EPOCHS;"
echo "one at a time = $SINGLE_CALLS separate ntg.generate(n => 1) calls (model cached); batched = one call of $BATCHED rows per class."
