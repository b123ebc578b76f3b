#!/usr/bin/env bash
# bench/quantize_bench.sh — int8 post-training quantization of the generators that have it
# (llama, mamba, cvae): for each kind of KINDS, the float32 model, its weight-only and its dynamic int8
# copies (ntg.quantize) side by side in one run, through SQL, with the paper's Table III rows
# beside llama's (docs/quantization.md).
#
#   bench/quantize_bench.sh                      # llama, everything (a few minutes on a quiet machine)
#   QUALITY=0 ROUNDS=5 bench/quantize_bench.sh   # efficiency only (EFFICIENCY=0: quality only)
#   KINDS=mamba QUALITY=0 bench/quantize_bench.sh   # mamba only (KINDS="llama mamba cvae": all three)
#   EPOCHS_Q=30 HYPER_Q='"dropout": 0.3' bench/quantize_bench.sh
#
# Efficiency (the paper's protocol, as bench/llama_efficiency.sh): the 5 largest label_app classes
# of ndpi/flows.tsv x 500 rows; each kind at its default shape trained EPOCHS epochs at batch 32
# (the token generators without dropout or token noise, sampling independent rows: the paper's
# protocol; HYPER: more hyperparameters as JSON members), quantized both ways.  Per model: stored bytes; generation
# ms/sample one at a time (SINGLE_CALLS separate ntg.generate(n => 1) calls over the 5 classes) and
# batched (one ntg.generate call of SAMPLES/5 rows per class), wall and CPU time of the
# backend; ntg.profile_model()'s one-row and batched ms (inside one call: no SQL call overhead);
# the backend's peak memory after generating.  Timings are the fastest of ROUNDS rounds over the
# three models (other load on a shared machine slows some rounds down, never speeds one up).
#
# Core (CORE=1; token generators only): bench/quantize_core.c (--kind) on the quality model below
# (the rows of the test split scored): held-out loss and mean KL(float || int8) of the next-token distributions for int8 with
# and without the embedding and the head in float — the measurements behind quantizing both; the
# share of a sampled row's time in the matrix products and the speed-up int8 could reach with free
# products; and bench/simd_peak.c, the multiply-adds per ns of float32 FMAs and of the int8 dot
# product instructions on this CPU.
#
# Quality (QUALITY=1, the protocol of bench/llama_quality.sh): the 30 classes of
# ndpi/recommended_classes_min30.txt, split 80/20; each kind trained on the training split (a
# token generator EPOCHS_Q epochs, default 10, with HYPER_Q, default no dropout, no token noise,
# independent rows, no copy control: the llama defaults of 0.1.0, which docs/quantization.md's
# figures were measured with; the cvae at its defaults, with HYPER_Q_LATENT), quantized both ways; each model generates as
# many rows per class as the training split has, each row alone with a seed of its own, the same
# seeds for every model, so that float and int8 rows differ only where quantization moves a draw;
# SEEDS such seed sets from GEN_SEED (the float model's spread over them is the sampling noise of
# one set); ntg.fidelity() against the test split
# (JSD of num_packets, 1-gram, 2-gram, Markov; leakage against the training split, size-matched)
# and TSTR (a Random Forest trained on the synthetic rows, tested on the test split, over one
# trained on the real training rows).  Target: every figure of an int8 model equal to the float
# model's to two significant figures.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=test/lib/pg_harness.sh
. test/lib/pg_harness.sh
ntg_shared_data
# OpenBLAS's own kernels for the float products, as on a stock install (KEEP_CORETYPE=1: the
# environment's OPENBLAS_CORETYPE); the int8 kernels are ntg's and pick their level the same way
ntg_blas_own_kernels
NTG_PASS_ENV="KINDS EPOCHS HYPER SAMPLES SINGLE_CALLS ROUNDS EFFICIENCY QUALITY CORE EPOCHS_Q HYPER_Q HYPER_Q_LATENT GEN_SEED SEEDS NTG_BENCH_PORT OPENBLAS_CORETYPE" \
	ntg_rerun_as_postgres bench/quantize_bench.sh "$@"

KINDS=${KINDS:-llama}
# the token generators (llama, mamba) take the token hyperparameters and sampling options below
token_kind() { [ "$1" = llama ] || [ "$1" = mamba ]; }
EPOCHS=${EPOCHS:-10}; HYPER=${HYPER:-}; SAMPLES=${SAMPLES:-500}; SINGLE_CALLS=${SINGLE_CALLS:-200}
ROUNDS=${ROUNDS:-3}; EFFICIENCY=${EFFICIENCY:-1}; QUALITY=${QUALITY:-1}; CORE=${CORE:-1}; EPOCHS_Q=${EPOCHS_Q:-10}
HYPER_Q=${HYPER_Q:-'"dropout": 0, "token_noise": 0, "sampling": {"stratified": false, "copy_guard": false}'}; GEN_SEED=${GEN_SEED:-1}; SEEDS=${SEEDS:-5}
HYPER_Q_LATENT=${HYPER_Q_LATENT:-}
data=$NTG_SHARED_DATA
if [ -z "$data" ] || [ ! -f "$data/ndpi/flows.tsv" ]; then
	echo "skipped: $data/ndpi/flows.tsv is absent (set NTG_SHARED_DATA)"; exit 0
fi
ntg_blas_kernels
work=$(mktemp -d /tmp/ntg-quantize-bench.XXXXXX)
/usr/bin/python3 bench/make_rows.py efficiency --flows "$data/ndpi/flows.tsv" --out "$work/eff.tsv" \
	--classes 5 --rows 500 --seed 1 2>/dev/null
/usr/bin/python3 bench/make_rows.py quality --flows "$data/ndpi/flows.tsv" --out "$work/quality.tsv" \
	--classes-file "$data/ndpi/recommended_classes_min30.txt"
if [ "$CORE" = 1 ]; then
	make -s -j2 unit-build >/dev/null
	deps=$(make -s print-dep-flags)
	# shellcheck disable=SC2086
	gcc -O2 -std=gnu11 -Isrc/core -Wl,--wrap=nn_matmul -o "$work/quantize_core" bench/quantize_core.c \
		test/unit/bin/libntgcore.a $deps
	gcc -O2 -o "$work/simd_peak" bench/simd_peak.c
	"$work/simd_peak" >"$work/simd_peak.txt"
fi

OPENBLAS_NUM_THREADS=1 ntg_server_start "$work/pg" "${NTG_BENCH_PORT:-54333}" ntgbench
trap 'ntg_server_stop; rm -rf "$work"' EXIT
PSQL=("${NTG_PSQL[@]}")
"${PSQL[@]}" -c "CREATE EXTENSION ntg" >/dev/null
"${PSQL[@]}" -q -f bench/timed.sql
"${PSQL[@]}" <<SQL
SET ntg.progress = off;
CREATE TABLE eff (label text, pl integer[]);
CREATE TEMP TABLE raw (label text, pl text);
\copy raw FROM '$work/eff.tsv'
INSERT INTO eff SELECT label, ('{' || pl || '}')::integer[] FROM raw;
CREATE TABLE flows (split text, label text, pl integer[]);
\copy flows FROM '$work/quality.tsv'
CREATE VIEW train AS SELECT label, pl FROM flows WHERE split = 'train';
CREATE VIEW test AS SELECT label, pl FROM flows WHERE split = 'test';
CREATE TABLE cpu_log (model text, what text, wall_ms float8, cpu_ms float8);
CREATE TABLE prof_log (model text, one_row_ms float8, batched_ms float8);
SQL
models=()
for kind in $KINDS; do
	models+=("qb_${kind}_float" "qb_${kind}_weight_only" "qb_${kind}_dynamic")
done
per_class=$(( (SAMPLES + 4) / 5 ))

if [ "$EFFICIENCY" = 1 ]; then
for kind in $KINDS; do
echo "== efficiency: training the float $kind model, quantizing it ($(uptime))"
"${PSQL[@]}" -F ' ' <<SQL
SET ntg.progress = off;
SELECT 'trained: ' || epochs || ' epochs, ' || round(train_seconds::numeric, 1) || ' s, '
	|| parameters || ' parameters' FROM ntg.train('qb_${kind}_float', '$kind', 'SELECT label, pl FROM eff',
		'{"epochs": $EPOCHS, "batch_size": 32, "seed": 1$(token_kind "$kind" && echo ', "dropout": 0, "token_noise": 0,
		  "sampling": {"stratified": false, "copy_guard": false}')${HYPER:+, $HYPER}}');
SELECT 'quantized: ' || model || ' ' || bytes || ' bytes' FROM ntg.quantize('qb_${kind}_float', 'qb_${kind}_weight_only', 'weight_only');
SELECT 'quantized: ' || model || ' ' || bytes || ' bytes' FROM ntg.quantize('qb_${kind}_float', 'qb_${kind}_dynamic', 'dynamic');
SQL
done
for r in $(seq 1 "$ROUNDS"); do
	for m in "${models[@]}"; do
		"${PSQL[@]}" -c "SET ntg.progress = off" -c "SELECT count(*) FROM ntg.generate('$m', n => $per_class, seed => 1)" -c \
			"INSERT INTO cpu_log SELECT '$m', 'single', * FROM timed('WITH c AS (SELECT array_agg(DISTINCT label ORDER BY label) AS l FROM eff)
				SELECT count(*) FROM c, generate_series(1, $SINGLE_CALLS) AS s,
				LATERAL ntg.generate(''$m'', c.l[1 + s % 5], 1, s)')" -c \
			"INSERT INTO cpu_log SELECT '$m', 'batched', * FROM timed('SELECT count(*) FROM ntg.generate(''$m'', n => $per_class, seed => 2)')" -c \
			"INSERT INTO prof_log SELECT '$m', one_row_ms, batched_ms FROM ntg.profile_model('$m', n => $SAMPLES, seed => $r)" >/dev/null
	done
done
: >"$work/eff_results"
for m in "${models[@]}"; do
	peak=$(ntg_backend_peak_kb "SELECT count(*) FROM ntg.generate('$m', n => $per_class, seed => 2)")
	"${PSQL[@]}" -F ' ' -c "
		SELECT '$m', m.bytes, m.parameters,
			(SELECT min(wall_ms) / $SINGLE_CALLS FROM cpu_log WHERE model = '$m' AND what = 'single'),
			(SELECT min(cpu_ms) / $SINGLE_CALLS FROM cpu_log WHERE model = '$m' AND what = 'single'),
			(SELECT min(wall_ms) / ($per_class * 5) FROM cpu_log WHERE model = '$m' AND what = 'batched'),
			(SELECT min(cpu_ms) / ($per_class * 5) FROM cpu_log WHERE model = '$m' AND what = 'batched'),
			(SELECT min(one_row_ms) FROM prof_log WHERE model = '$m'),
			(SELECT min(batched_ms) FROM prof_log WHERE model = '$m'), $peak
		FROM ntg.models AS m WHERE m.name = '$m'" >>"$work/eff_results"
done
fi

if [ "$QUALITY" = 1 ] || [ "$CORE" = 1 ]; then
	for kind in $KINDS; do
	if token_kind "$kind"; then
		hq="{\"seed\": 1, \"epochs\": $EPOCHS_Q${HYPER_Q:+, $HYPER_Q}}"
	else
		hq="{\"seed\": 1${HYPER_Q_LATENT:+, $HYPER_Q_LATENT}}"
	fi
	echo "== quality: training a $kind on the training split, hyperparameters $hq ($(uptime))"
	"${PSQL[@]}" -F ' ' <<SQL
SET ntg.progress = off;
SELECT 'trained: ' || epochs || ' epochs, ' || round(train_seconds::numeric, 1) || ' s, '
	|| parameters || ' parameters, ' || bytes || ' bytes'
FROM ntg.train('qq_${kind}_float', '$kind', 'SELECT label, pl FROM train', '$hq');
SELECT 'quantized: ' || model || ' ' || bytes || ' bytes' FROM ntg.quantize('qq_${kind}_float', 'qq_${kind}_weight_only', 'weight_only');
SELECT 'quantized: ' || model || ' ' || bytes || ' bytes' FROM ntg.quantize('qq_${kind}_float', 'qq_${kind}_dynamic', 'dynamic');
SQL
	done
fi

if [ "$CORE" = 1 ]; then
	for kind in $KINDS; do
	token_kind "$kind" || continue		# quantize_core scores next-token distributions
	"${PSQL[@]}" -c "SELECT encode(weights, 'hex') FROM ntg.models WHERE name = 'qq_${kind}_float'" |
		/usr/bin/python3 -c "import sys; sys.stdout.buffer.write(bytes.fromhex(sys.stdin.read().strip()))" \
		>"$work/qq_${kind}_float.bin"
	echo "== core: the $kind quality model's int8 variants ($(uptime))"
	OPENBLAS_NUM_THREADS=1 "$work/quantize_core" --kind "$kind" --tsv "$work/quality.tsv" \
		--model "$work/qq_${kind}_float.bin" --samples 100 --rounds "$ROUNDS" >"$work/core_table_$kind"
	done
fi

if [ "$QUALITY" = 1 ]; then
	echo "== quality: generating, fidelity and TSTR ($(uptime))"
	"${PSQL[@]}" <<SQL >/dev/null
SET ntg.progress = off;
CREATE TABLE quality_log (model text, seedset integer, metric text, value float8);
INSERT INTO quality_log SELECT 'real train', 0, 'tstr_macro_f1', f1
  FROM ntg.rf_fit_evaluate('SELECT label, pl FROM train', 'SELECT label, pl FROM test', '{"seed": 1}')
 WHERE kind = 'macro avg';
INSERT INTO quality_log SELECT 'real train', 0, metric, value
  FROM ntg.fidelity('SELECT label, pl FROM test', 'SELECT label, pl FROM train')
 WHERE metric IN ('jsd_num_packets', 'jsd_1gram', 'jsd_2gram', 'jsd_markov');
INSERT INTO quality_log SELECT 'real train', 0, 'jsd_markov_train_as_real', value
  FROM ntg.fidelity('SELECT label, pl FROM train', 'SELECT label, pl FROM test') WHERE metric = 'jsd_markov';
INSERT INTO quality_log SELECT 'real train', 0, 'leakage_size_matched', value
  FROM ntg.fidelity('SELECT label, pl FROM train', 'SELECT label, pl FROM test') WHERE metric = 'leakage';
SQL
	# Paired rows: in seed set s, row k of a class is generated alone with seed
	# (GEN_SEED + s) * 1000000 + k by every model, so a float and an int8 row differ only where
	# quantization moved a draw to another token.  Over SEEDS sets, the float model's spread shows
	# the sampling noise of one set.
	for s in $(seq 0 $((SEEDS - 1))); do
		for kind in $KINDS; do
		for m in qq_${kind}_float qq_${kind}_weight_only qq_${kind}_dynamic; do
			"${PSQL[@]}" <<SQL >/dev/null
SET ntg.progress = off;
DROP TABLE IF EXISTS synth_small;
CREATE TABLE synth_${m}_$s AS
	SELECT g.label, g.pl, c.k
	FROM (SELECT label, generate_series(1, count(*)::integer) AS k FROM train GROUP BY label) AS c,
		 LATERAL ntg.generate('$m', c.label, 1, $(((GEN_SEED + s) * 1000000)) + c.k) AS g;
CREATE TABLE synth_small AS
	SELECT s.label, s.pl FROM synth_${m}_$s AS s
	JOIN (SELECT label, count(*) AS n FROM test GROUP BY label) AS t USING (label) WHERE s.k <= t.n;
INSERT INTO quality_log SELECT '$m', $s, metric, value
  FROM ntg.fidelity('SELECT label, pl FROM test', 'SELECT label, pl FROM synth_${m}_$s')
 WHERE metric IN ('jsd_num_packets', 'jsd_1gram', 'jsd_2gram', 'jsd_markov');
INSERT INTO quality_log SELECT '$m', $s, 'jsd_markov_train_as_real', value
  FROM ntg.fidelity('SELECT label, pl FROM synth_${m}_$s', 'SELECT label, pl FROM test') WHERE metric = 'jsd_markov';
INSERT INTO quality_log SELECT '$m', $s, 'leakage_size_matched', value
  FROM ntg.fidelity('SELECT label, pl FROM train', 'SELECT label, pl FROM synth_small') WHERE metric = 'leakage';
INSERT INTO quality_log SELECT '$m', $s, 'tstr_macro_f1', f1
  FROM ntg.rf_fit_evaluate('SELECT label, pl FROM synth_${m}_$s', 'SELECT label, pl FROM test', '{"seed": 1}')
 WHERE kind = 'macro avg';
INSERT INTO quality_log SELECT '$m', $s, 'rows_as_float', avg((s.pl IS NOT DISTINCT FROM f.pl)::int)
  FROM synth_${m}_$s AS s JOIN synth_qq_${kind}_float_$s AS f USING (label, k);
SQL
		done
		done
	done
	"${PSQL[@]}" -F ' ' -c "SELECT model, seedset, metric, value FROM quality_log ORDER BY model, metric, seedset" \
		>"$work/quality_results"
fi

echo
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(uptime)"
/usr/bin/python3 - "$work" "$SINGLE_CALLS" "$SAMPLES" "$ROUNDS" $KINDS <<'PY'
import os, sys
work, single_calls, samples, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
kinds = sys.argv[5:]
rows = {}
for line in open(os.path.join(work, "eff_results")) if os.path.exists(os.path.join(work, "eff_results")) else []:
    f = line.split()
    rows[f[0]] = dict(bytes=int(f[1]), params=int(f[2]), single=float(f[3]), cpu_single=float(f[4]),
                      batched=float(f[5]), cpu_batched=float(f[6]), prof_one=float(f[7]),
                      prof_batched=float(f[8]), peak_kb=int(f[9]))
import statistics
def x(a, b):
    return "%.2fx" % (a / b) if a and b else "-"
for kind in kinds:
    names = [("qb_%s_float" % kind, "float32"), ("qb_%s_weight_only" % kind, "int8 weight-only"),
             ("qb_%s_dynamic" % kind, "int8 dynamic")]
    base = rows.get("qb_%s_float" % kind)
    if base:
        print()
        print("%s int8 quantization, efficiency: 5 classes x 500 rows, one CPU thread; timings are the fastest "
              "of %d rounds" % (kind, rounds))
        print()
        print("| model | stored MB | of float | ms/sample 1-at-a-time (wall / CPU) | speed-up (CPU) "
              "| ms/sample batched (wall / CPU) | speed-up (CPU) | profile_model one-row / batched ms | backend peak MB |")
        print("|" + "---|" * 9)
        for key, label in names:
            r = rows[key]
            print("| %s | %.2f | %.1f %% | %.4f / %.4f | %s | %.4f / %.4f | %s | %.4f / %.4f | %.0f |" % (
                label, r["bytes"] / 1e6, 100.0 * r["bytes"] / base["bytes"], r["single"], r["cpu_single"],
                x(base["cpu_single"], r["cpu_single"]), r["batched"], r["cpu_batched"],
                x(base["cpu_batched"], r["cpu_batched"]), r["prof_one"], r["prof_batched"], r["peak_kb"] / 1024))
        if kind == "llama":
            print("| paper LLaMA (GPU, Table III) | 7.9 | 100 % | 31.21 | 1.00x | - | - | - | 353 (GPU) |")
            print("| paper LLaMA-PTQ int8-WO | 3.5 | 44 % | 45.33 | 0.69x | - | - | - | 357 (GPU) |")
            print("| paper LLaMA-PTQ int8-DA | 3.4 | 43 % | 990.04 | 0.03x | - | - | - | 347 (GPU) |")
        print()
        print("1-at-a-time: %d separate ntg.generate(n => 1) calls through SQL (model cached per backend); batched: "
              "one call of %d rows per class; profile_model: %d rows inside one call, one at a time and batched." % (
                  single_calls, (samples + 4) // 5, samples))
        print("Targets: stored bytes <= 30 % of float; weight-only no slower than float; dynamic >= 1.5x faster, "
              "batched and one at a time.")
        wo, dy = rows["qb_%s_weight_only" % kind], rows["qb_%s_dynamic" % kind]
        checks = [("int8 stored bytes <= 30 % of float", max(wo["bytes"], dy["bytes"]) <= 0.3 * base["bytes"]),
                  ("weight-only no slower (CPU, SQL 1-at-a-time and batched)",
                   wo["cpu_single"] <= base["cpu_single"] and wo["cpu_batched"] <= base["cpu_batched"]),
                  ("dynamic >= 1.5x (CPU, SQL 1-at-a-time and batched)",
                   base["cpu_single"] >= 1.5 * dy["cpu_single"] and base["cpu_batched"] >= 1.5 * dy["cpu_batched"])]
        for what, good in checks:
            print("  %s: %s" % (what, "met" if good else "NOT met"))

    core = os.path.join(work, "core_table_" + kind)
    if os.path.exists(core):
        print()
        print("%s core (bench/quantize_core.c, no SQL) on the quality model: int8 variants, held-out loss on the test "
              "split, KL of the next-token distributions; CPU ms per row (one per call / 100 per call), fastest of "
              "%d rounds; '~': bytes estimated (such a model cannot be stored)" % (kind, rounds))
        print(open(core).read().rstrip())

    qpath = os.path.join(work, "quality_results")
    if os.path.exists(qpath):
        q = {}
        for line in open(qpath):
            f = line.split(" ")
            model, metric, value = " ".join(f[:-3]), f[-2], float(f[-1])
            q.setdefault(metric, {}).setdefault(model, []).append(value)
        def sf2(v):
            return float("%.2g" % v)
        def mean(v):
            return statistics.mean(v) if v else None
        def sd(v):
            return statistics.stdev(v) if v and len(v) > 1 else 0.0
        sets = len(q.get("tstr_macro_f1", {}).get("qq_%s_float" % kind, []))
        print()
        print("%s quality on nDPI (30 classes, stratified 80/20 split; synthetic: as many rows per class as the training "
              "split, %d paired seed sets); JSD against the test split, test rows as real unless said" % (kind, sets))
        print()
        print("| metric | real train | float32: mean (sd over seed sets) | int8 weight-only: mean | int8 dynamic: mean "
              "| equal to 2 significant figures | paired difference, weight-only | paired difference, dynamic |")
        print("|---|---|---|---|---|---|---|---|")
        order = ["jsd_num_packets", "jsd_1gram", "jsd_2gram", "jsd_markov", "jsd_markov_train_as_real",
                 "leakage_size_matched", "tstr_macro_f1", "rows_as_float"]
        for metric in order:
            v = q.get(metric, {})
            f, w, d = (v.get(m, []) for m in ("qq_%s_float" % kind, "qq_%s_weight_only" % kind, "qq_%s_dynamic" % kind))
            if not f:
                continue
            same = "-" if metric == "rows_as_float" else \
                "yes" if w and d and sf2(mean(f)) == sf2(mean(w)) == sf2(mean(d)) else "NO"
            diff = ["%+.4f (sd %.4f)" % (mean([b - a for a, b in zip(f, o)]), sd([b - a for a, b in zip(f, o)]))
                    if o and metric != "rows_as_float" else "-" for o in (w, d)]
            print("| %s | %s | %.4f (%.4f) | %s | %s | %s | %s | %s |" % (
                metric, "%.4f" % v["real train"][0] if "real train" in v else "-", mean(f), sd(f),
                "%.4f" % mean(w) if w else "-", "%.4f" % mean(d) if d else "-", same, diff[0], diff[1]))
        f1 = q.get("tstr_macro_f1", {})
        if "real train" in f1:
            print()
            print("TSTR ratio (synthetic / real macro F1, means): float32 %.3f, weight-only %.3f, dynamic %.3f" % tuple(
                mean(f1.get(m, [float("nan")])) / f1["real train"][0]
                for m in ("qq_%s_float" % kind, "qq_%s_weight_only" % kind, "qq_%s_dynamic" % kind)))
        print("Rows: each generated alone with its own seed, the same seeds for every model within a seed set (paired); "
              "rows_as_float: the share of rows equal to the float32 model's row of the same seed.")
        print("Paper: both int8 variants 'consistent with the non-quantized model up to two significant figures'.")
PY
if [ -f "$work/simd_peak.txt" ]; then
	echo
	echo "The most multiply-adds a core does per ns with the products' instructions (bench/simd_peak.c):"
	cat "$work/simd_peak.txt"
fi
