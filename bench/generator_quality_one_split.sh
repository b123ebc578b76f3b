#!/usr/bin/env bash
# bench/generator_quality_one_split.sh — the quality protocol of docs/research/llama-quality.md for any
# generator kind, through SQL: llama_quality.sh with the kind, its hyperparameters and its sampling
# options as arguments; the model's own sampling defaults unless OPTIONS override them.
#   (One deterministic hash split, the protocol the kinds' own docs quote; bench/generator_quality.sh is
#   the quality criterion over three ntg.split splits, with the perfect generator beside.)
#
#   bench/generator_quality_one_split.sh mamba                       # the kind's defaults
#   bench/generator_quality_one_split.sh cvae '"epochs": 60' '{"latent_temperature": 0.8}'
#   SEED=2 GEN_SEED=1 bench/generator_quality_one_split.sh llama '"epochs": 30, "dropout": 0.3' '{"stratified": true}'
#
# Arguments: KIND (default llama), extra hyperparameters as JSON members (HYPER), sampling options as
# a JSON object (OPTIONS, ntg.generate's options).  SEED (the model's seed, default 1), GEN_SEED
# (default 1), EPOCHS and NTG_BENCH_PORT (default 54336) as environment variables; HYPER may also
# come from the environment.
#
# Rows: the 30 classes of ndpi/recommended_classes_min30.txt of the benchmark data (label_app of
# flows.tsv, payload biflows, first 10 signed payload lengths), split 80/20 per class by a
# deterministic hash of the flow's pcap and 5-tuple (bench/make_rows.py).  The model is trained on
# the training split; as many rows per class as the training split has are generated; then, with
# ntg.fidelity(), JSD(synthetic, test) is compared with JSD(train, test) for
# jsd_num_packets, jsd_1gram, jsd_2gram and jsd_markov, and leakage(synthetic, train) with
# leakage(test, train).  Goal: synthetic no farther from test than train is, and leakage no higher.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=test/lib/pg_harness.sh
. test/lib/pg_harness.sh
ntg_shared_data
NTG_PASS_ENV="EPOCHS SEED HYPER GEN_SEED NTG_BENCH_PORT" \
	ntg_rerun_as_postgres bench/generator_quality_one_split.sh "$@"

KIND=${1:-llama}; HYPER=${2:-${HYPER:-}}; OPTIONS=${3:-'{}'}
EPOCHS=${EPOCHS:-}; SEED=${SEED:-1}; GEN_SEED=${GEN_SEED:-1}
data=$NTG_SHARED_DATA
if [ -z "$data" ] || [ ! -f "$data/ndpi/flows.tsv" ]; then
	echo "skipped: $data/ndpi/flows.tsv is absent (set NTG_SHARED_DATA)"; exit 0
fi
rows=$(mktemp /tmp/ntg-quality-rows.XXXXXX.tsv)
/usr/bin/python3 bench/make_rows.py quality --flows "$data/ndpi/flows.tsv" --out "$rows" \
	--classes-file "$data/ndpi/recommended_classes_min30.txt"

srv=$(mktemp -d /tmp/ntg-bench-pg.XXXXXX)
OPENBLAS_NUM_THREADS=1 ntg_server_start "$srv" "${NTG_BENCH_PORT:-54336}" ntgbench
trap 'ntg_server_stop; rm -rf "$srv"' EXIT
PSQL=("${NTG_PSQL[@]}")
"${PSQL[@]}" -c "CREATE EXTENSION ntg" >/dev/null
hp="{\"seed\": $SEED${EPOCHS:+, \"epochs\": $EPOCHS}${HYPER:+, $HYPER}}"
"${PSQL[@]}" <<SQL
SET ntg.progress = off;
CREATE TABLE flows (split text, label text, pl integer[]);
\copy flows FROM '$rows'
CREATE VIEW train AS SELECT label, pl FROM flows WHERE split = 'train';
CREATE VIEW test AS SELECT label, pl FROM flows WHERE split = 'test';
SQL
echo "rows: $("${PSQL[@]}" -c "SELECT string_agg(split || ' ' || n, ', ') FROM (SELECT split, count(*) n FROM flows GROUP BY split ORDER BY split DESC) s"), classes: $("${PSQL[@]}" -c "SELECT count(DISTINCT label) FROM flows")"
echo "training $KIND on the training split, hyperparameters $hp; sampling options over the model's defaults: $OPTIONS"
"${PSQL[@]}" -F ' ' <<SQL
SET ntg.progress = off;
SELECT 'trained: ' || epochs || ' epochs, ' || round(train_seconds::numeric, 1) || ' s, final loss '
	|| round(final_loss::numeric, 4) || ', ' || parameters || ' parameters, ' || bytes || ' bytes'
	|| coalesce(', ' || train_rows || ' rows trained on, weights of epoch ' || best_epoch
				|| ' (validation loss ' || round(validation_loss::numeric, 4) || ')', '')
FROM ntg.train('quality', '$KIND', 'SELECT label, pl FROM train', '$hp');
SELECT 'sampling defaults: ' || (config->'sampling')::text FROM ntg.models WHERE name = 'quality';
-- As many synthetic rows per class as the training split has.
-- k: the row's place in generation order, which is random (independent draws are independent;
-- stratified draws are dealt to the rows in a random order), for the size-matched subsample below.
CREATE TABLE synth AS
	SELECT g.label, g.pl, g.k
	FROM (SELECT label, count(*)::integer AS n FROM train GROUP BY label) AS c,
		 LATERAL ntg.generate('quality', c.label, c.n, $GEN_SEED, '$OPTIONS') WITH ORDINALITY AS g(label, pl, k);
SELECT 'generated: ' || count(*) || ' rows' FROM synth;
SQL

if [ "$("${PSQL[@]}" -c "SELECT count(*) FROM pg_proc WHERE proname = 'fidelity' AND pronamespace = 'ntg'::regnamespace")" = 0 ]; then
	echo "ntg.fidelity() is not installed in this build (the metrics branch is not merged): no figures."
	exit 0
fi
echo
echo "$KIND quality on ndpi (30 classes, stratified 80/20 split)"
"${PSQL[@]}" -F ' | ' <<'SQL'
SET ntg.progress = off;
WITH tt AS (SELECT metric, value FROM ntg.fidelity('SELECT label, pl FROM test', 'SELECT label, pl FROM train')),
	 st AS (SELECT metric, value FROM ntg.fidelity('SELECT label, pl FROM test', 'SELECT label, pl FROM synth')),
	 lk_s AS (SELECT value FROM ntg.fidelity('SELECT label, pl FROM train', 'SELECT label, pl FROM synth') WHERE metric = 'leakage'),
	 lk_t AS (SELECT value FROM ntg.fidelity('SELECT label, pl FROM train', 'SELECT label, pl FROM test') WHERE metric = 'leakage'),
	 ref(metric, ref_train_test) AS (VALUES ('jsd_num_packets', 0.115), ('jsd_1gram', 0.344),
		('jsd_2gram', 0.499), ('jsd_markov', 0.495))
SELECT '| metric | JSD(train, test) | JSD(synthetic, test) | gap | synthetic <= train | reference: train vs test |'
UNION ALL SELECT '|---|---|---|---|---|---|'
UNION ALL SELECT * FROM (
	SELECT format('| %s | %s | %s | %s | %s | %s |', tt.metric, round(tt.value::numeric, 3), round(st.value::numeric, 3),
				  to_char(st.value - tt.value, 'SG0.000'), CASE WHEN st.value <= tt.value THEN 'yes' ELSE 'NO' END,
				  ref.ref_train_test)
	FROM tt JOIN st USING (metric) JOIN ref USING (metric)
	ORDER BY array_position(ARRAY['jsd_num_packets', 'jsd_1gram', 'jsd_2gram', 'jsd_markov'], tt.metric)) AS m
UNION ALL SELECT format('| leakage vs train split | test: %s | synthetic: %s | - | %s | - |',
	round(lk_t.value::numeric, 3), round(lk_s.value::numeric, 3),
	CASE WHEN lk_s.value <= lk_t.value THEN 'yes' ELSE 'NO' END) FROM lk_s, lk_t;
SQL

# jsd_markov is not symmetric: its source values and weights come from the rows passed as real.
# The comparison above passes the test rows as real on both sides.  The reference figure
# (0.495) is the other orientation, ntg.fidelity(train, test): the training rows as real, as
# "JSD(train, test)" reads.  Print that orientation too, the synthetic rows then in train's place.
echo
"${PSQL[@]}" -F ' | ' <<'SQL'
SET ntg.progress = off;
SELECT format('jsd_markov with the rows compared as real (the training rows as real): train %s, synthetic %s, %s',
			  round(t.value::numeric, 3), round(s.value::numeric, 3), CASE WHEN s.value <= t.value THEN 'yes' ELSE 'NO' END)
  FROM ntg.fidelity('SELECT label, pl FROM train', 'SELECT label, pl FROM test') AS t
  JOIN ntg.fidelity('SELECT label, pl FROM synth', 'SELECT label, pl FROM test') AS s USING (metric)
 WHERE metric = 'jsd_markov';
SQL

# Leakage is a Jaccard of distinct-sequence sets, so it grows with the size of the set compared: the
# quality condition sets a train-sized synthetic set (all rows) against the smaller test split. As a
# size-matched view, also compare a synthetic subsample of exactly the test split's size per class:
# its first rows in generation order, a uniform subsample.  (Ordering by a hash of the row would not
# be: every copy of a sequence would be in or out together, which under-counts the common sequences
# that the training rows share, and so the leakage.)
echo
"${PSQL[@]}" -F ' | ' <<'SQL'
CREATE TABLE synth_small AS
	SELECT s.label, s.pl FROM synth AS s
	JOIN (SELECT label, count(*) AS n FROM test GROUP BY label) AS t USING (label) WHERE s.k <= t.n;
SELECT format('size-matched leakage vs train split: test %s, synthetic subsample of test size %s',
			  round(t.value::numeric, 3), round(s.value::numeric, 3))
  FROM ntg.fidelity('SELECT label, pl FROM train', 'SELECT label, pl FROM test') AS t
  JOIN ntg.fidelity('SELECT label, pl FROM train', 'SELECT label, pl FROM synth_small') AS s USING (metric)
 WHERE metric = 'leakage';
SQL

# Train on synthetic, test on real (TSTR): a Random Forest (scikit-learn defaults) on the synthetic
# rows scored above (as many per class as the training split has), against one on the real training
# rows, both evaluated on the test split.
echo
"${PSQL[@]}" -F ' | ' <<'SQL'
SET ntg.progress = off;
CREATE TABLE tstr AS
	SELECT 'real' AS train_on, (SELECT count(*) FROM train) AS n, e.kind, e.f1
	  FROM ntg.rf_fit_evaluate('SELECT label, pl FROM train', 'SELECT label, pl FROM test', '{"seed": 1}') AS e
	UNION ALL
	SELECT 'synthetic', (SELECT count(*) FROM synth), e.kind, e.f1
	  FROM ntg.rf_fit_evaluate('SELECT label, pl FROM synth', 'SELECT label, pl FROM test', '{"seed": 1}') AS e;
SELECT '| train on | rows | macro F1 | accuracy |' UNION ALL SELECT '|---|---|---|---|'
UNION ALL SELECT * FROM (SELECT format('| %s | %s | %s | %s |', train_on, max(n),
									  round(max(f1) FILTER (WHERE kind = 'macro avg')::numeric, 3),
									  round(max(f1) FILTER (WHERE kind = 'accuracy')::numeric, 3))
						   FROM tstr GROUP BY train_on ORDER BY train_on) AS r;
SELECT format('TSTR ratio (synthetic / real macro F1): %s',
			  round((max(f1) FILTER (WHERE train_on = 'synthetic') / max(f1) FILTER (WHERE train_on = 'real'))::numeric, 3))
  FROM tstr WHERE kind = 'macro avg';
SQL
rm -f "$rows"
