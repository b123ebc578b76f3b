#!/usr/bin/env bash
# bench/generator_quality.sh — the quality criterion of every generator kind, through SQL, on the
# nDPI benchmark (docs/research/generator-quality.md):
#
#   bash bench/generator_quality.sh                        # every generator kind, at its defaults
#   KINDS=llama bash bench/generator_quality.sh            # some kinds (space-separated)
#   KINDS=llama HYPER='{"epochs": 20}' OPTIONS='{"stratified": false}' bash bench/generator_quality.sh
#   KINDS=llama OPTIONS='{"copy_guard": false}; {}' bash bench/generator_quality.sh   # two option sets
#   PART=validation KINDS=llama HYPER='{...}' bash bench/generator_quality.sh   # to choose settings
#
# Rows: the 30 classes of ndpi/recommended_classes_min30.txt (label_app; payload biflows; first 10
# signed payload lengths; bench/make_rows.py).  For each of SPLITS (default "1 2 3") a stratified
# 80/20 split, ntg.split(rows, 0.2, SPLIT): the model is trained on the training part R with
# ntg.train(name, kind, 'SELECT label, pl FROM train', HYPER) (HYPER default '{}': the kind's
# defaults), as many rows per class as R has are generated with ntg.generate(model, label, n,
# GEN_SEED, OPTIONS) (OPTIONS default '{}': the model's stored sampling defaults; several JSON
# objects separated by ';' score the same trained model with each, as KIND/1, KIND/2, ...), and S is
# compared with the test part T by ntg.fidelity_gap(R, T, S):
#   - the four JSD gaps JSD(S, T) - JSD(R, T) (S and R in the real rows' place, as written);
#   - the size-matched leakage: S cut to T's size per class against R, beside T against R;
#   - the TSTR ratio: macro F1 on T of a Random Forest (ntg.rf_fit_evaluate, seed 1) trained on S,
#     over one trained on R.
# The perfect generator (a fresh real sample) is scored the same way: per class R is shuffled and
# halved (HALVINGS times per split, default 10); one half plays R, the other S.  Its standard
# deviation over all halvings of all splits is the noise floor sigma of each JSD gap.  The criterion,
# on the means over the splits: every JSD gap <= sigma, size-matched leakage <= the test rows',
# TSTR ratio >= 0.95.
#
# PART=validation scores on a validation part of the training split instead (the training part
# split again 80/20 with ntg.split(R, 0.2, 1000 + SPLIT)): choices are made there, never on the
# test part.  BASELINES="smote fast_retransmit" scores those (ntg.synthesize) the same way, beside the
# kinds (KINDS=none: the baselines only).  Other knobs: GEN_SEED (1), PERFECT_TSTR (halvings per split whose TSTR is measured,
# 3), RESULTS (a file to append one TSV line per kind and metric: setting, kind, part, metric,
# mean, sd, perfect mean, perfect sd), LABEL (the setting's name in RESULTS), NTG_BENCH_PORT (54349).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=test/lib/pg_harness.sh
. test/lib/pg_harness.sh
ntg_shared_data
KINDS=${KINDS:-}; BASELINES=${BASELINES:-}; HYPER=${HYPER:-'{}'}; OPTIONS=${OPTIONS:-'{}'}; SPLITS=${SPLITS:-1 2 3}
HALVINGS=${HALVINGS:-10}; PART=${PART:-test}; GEN_SEED=${GEN_SEED:-1}; PERFECT_TSTR=${PERFECT_TSTR:-3}
LABEL=${LABEL:-}; RESULTS=${RESULTS:-}
case "$PART" in test|validation) ;; *) echo "PART must be test or validation" >&2; exit 2 ;; esac
if [ -n "$RESULTS" ]; then
	case "$RESULTS" in /*) ;; *) RESULTS="$PWD/$RESULTS" ;; esac
	touch "$RESULTS" && chmod a+rw "$RESULTS" 2>/dev/null || true
fi
data=$NTG_SHARED_DATA
if [ -z "$data" ] || [ ! -f "$data/ndpi/flows.tsv" ]; then
	echo "skipped: $data/ndpi/flows.tsv is absent (set NTG_SHARED_DATA)"; exit 0
fi
NTG_PASS_ENV="KINDS BASELINES HYPER OPTIONS SPLITS HALVINGS PART GEN_SEED PERFECT_TSTR LABEL RESULTS NTG_BENCH_PORT" \
	ntg_rerun_as_postgres bench/generator_quality.sh "$@"

rows=$(mktemp /tmp/ntg-genq-rows.XXXXXX.tsv)
/usr/bin/python3 bench/make_rows.py quality --flows "$data/ndpi/flows.tsv" --out "$rows" \
	--classes-file "$data/ndpi/recommended_classes_min30.txt"
srv=$(mktemp -d /tmp/ntg-genq-pg.XXXXXX)
OPENBLAS_NUM_THREADS=1 ntg_server_start "$srv" "${NTG_BENCH_PORT:-54349}" ntgbench
trap 'ntg_server_stop; rm -rf "$srv" "$rows"' EXIT
PSQL=("${NTG_PSQL[@]}" -v "hyper=$HYPER" -v "gen_seed=$GEN_SEED")
IFS=';' read -r -a OPTION_SETS <<<"$OPTIONS"
gen_name() {	# the name of kind $1 with option set $2 (0-based) in the tables
	if [ "${#OPTION_SETS[@]}" -gt 1 ]; then echo "$1/$(($2 + 1))"; else echo "$1"; fi
}
"${PSQL[@]}" -c "CREATE EXTENSION ntg" >/dev/null
"${PSQL[@]}" <<SQL
SET ntg.progress = off;
CREATE TABLE raw (split text, label text, pl integer[]);
\copy raw FROM '$rows'
CREATE TABLE flows AS SELECT label, pl FROM raw;
-- results: one row per (generator, split, repetition, metric)
CREATE TABLE res (gen text, split integer, rep integer, metric text, real_value float8, synthetic_value float8);
CREATE TABLE runs (gen text, split integer, epochs integer, train_seconds float8, rows bigint);
SQL
if [ "$KINDS" = none ]; then
	KINDS=
elif [ -z "$KINDS" ]; then
	KINDS=$("${PSQL[@]}" -c "SELECT string_agg(kind, ' ' ORDER BY kind) FROM ntg.model_kinds() WHERE generates")
fi
echo "generator quality on ndpi: kinds $KINDS; hyperparameters $HYPER; sampling options $OPTIONS; splits $SPLITS; scored on the $PART part"
echo "$(date -u +%Y-%m-%dT%H:%MZ), $(uptime | sed 's/.*load/load/')"

# The split's training part R (tr) and the part scored (te); the real F1 on te.
make_split() {
	local s=$1
	"${PSQL[@]}" -v "s=$s" -v "part=$PART" <<'SQL'
SET ntg.progress = off;
SET client_min_messages = warning;
DROP TABLE IF EXISTS tr, te, sp;
CREATE TABLE sp AS SELECT * FROM ntg.split('SELECT label, pl FROM flows', 0.2, :s);
SELECT :'part' = 'validation' AS validation \gset
\if :validation
CREATE TABLE sp2 AS SELECT * FROM ntg.split('SELECT label, pl FROM sp WHERE NOT is_test', 0.2, 1000 + :s);
CREATE TABLE tr AS SELECT label, pl FROM sp2 WHERE NOT is_test;
CREATE TABLE te AS SELECT label, pl FROM sp2 WHERE is_test;
DROP TABLE sp2;
\else
CREATE TABLE tr AS SELECT label, pl FROM sp WHERE NOT is_test;
CREATE TABLE te AS SELECT label, pl FROM sp WHERE is_test;
\endif
CREATE TABLE IF NOT EXISTS f1_real (split integer, f1 float8);
INSERT INTO f1_real SELECT :s, max(e.f1) FILTER (WHERE e.kind = 'macro avg')
  FROM ntg.rf_fit_evaluate('SELECT label, pl FROM tr', 'SELECT label, pl FROM te', '{"seed": 1}') e;
SQL
}

# The perfect generator: HALVINGS halvings of tr.
perfect() {
	local s=$1
	"${PSQL[@]}" -v "s=$s" -v "halvings=$HALVINGS" -v "ptstr=$PERFECT_TSTR" <<'SQL'
SET ntg.progress = off;
SET client_min_messages = warning;
DO $$
DECLARE
	h integer;
BEGIN
	FOR h IN 1 .. current_setting('ntg_bench.halvings')::integer LOOP
		DROP TABLE IF EXISTS half;
		CREATE TABLE half AS
			SELECT label, pl, r <= n / 2 AS first, r <= 2 * (n / 2) AS used FROM (
				SELECT label, pl, count(*) OVER (PARTITION BY label) AS n,
					   row_number() OVER (PARTITION BY label ORDER BY md5(h || '/' || label || '/' || pl::text || '/' || k)) AS r
				FROM (SELECT label, pl, row_number() OVER (PARTITION BY label, pl) AS k FROM tr) d) x;
		INSERT INTO res SELECT 'perfect', current_setting('ntg_bench.split')::integer, h, g.metric, g.real_value, g.synthetic_value
		  FROM ntg.fidelity_gap('SELECT label, pl FROM half WHERE first', 'SELECT label, pl FROM te',
								'SELECT label, pl FROM half WHERE used AND NOT first') g;
		INSERT INTO res SELECT 'perfect', current_setting('ntg_bench.split')::integer, h, 'jsd_markov_test_as_real',
			   (SELECT value FROM ntg.fidelity('SELECT label, pl FROM te', 'SELECT label, pl FROM half WHERE first') WHERE metric = 'jsd_markov'),
			   (SELECT value FROM ntg.fidelity('SELECT label, pl FROM te', 'SELECT label, pl FROM half WHERE used AND NOT first') WHERE metric = 'jsd_markov');
		IF h <= current_setting('ntg_bench.ptstr')::integer THEN
			INSERT INTO res SELECT 'perfect', current_setting('ntg_bench.split')::integer, h, 'macro_f1',
				(SELECT max(e.f1) FROM ntg.rf_fit_evaluate('SELECT label, pl FROM half WHERE first', 'SELECT label, pl FROM te', '{"seed": 1}') e WHERE e.kind = 'macro avg'),
				(SELECT max(e.f1) FROM ntg.rf_fit_evaluate('SELECT label, pl FROM half WHERE used AND NOT first', 'SELECT label, pl FROM te', '{"seed": 1}') e WHERE e.kind = 'macro avg');
		END IF;
	END LOOP;
	DROP TABLE half;
END
$$;
SQL
}

# Score the rows of table synth as generator $1 on split $2.
score() {
	"${PSQL[@]}" -v "gen=$1" -v "s=$2" <<'SQL'
SET ntg.progress = off;
SET client_min_messages = warning;
INSERT INTO res SELECT :'gen', :s, 0, g.metric, g.real_value, g.synthetic_value
  FROM ntg.fidelity_gap('SELECT label, pl FROM tr', 'SELECT label, pl FROM te', 'SELECT label, pl FROM synth') g;
INSERT INTO res SELECT :'gen', :s, 0, 'jsd_markov_test_as_real',
	   (SELECT value FROM ntg.fidelity('SELECT label, pl FROM te', 'SELECT label, pl FROM tr') WHERE metric = 'jsd_markov'),
	   (SELECT value FROM ntg.fidelity('SELECT label, pl FROM te', 'SELECT label, pl FROM synth') WHERE metric = 'jsd_markov');
INSERT INTO res SELECT :'gen', :s, 0, 'macro_f1', (SELECT f1 FROM f1_real WHERE split = :s),
	   (SELECT max(e.f1) FROM ntg.rf_fit_evaluate('SELECT label, pl FROM synth', 'SELECT label, pl FROM te', '{"seed": 1}') e
		 WHERE e.kind = 'macro avg');
SQL
}

# One kind on one split: train, then generate and score with each option set.
generator() {
	local kind=$1 s=$2 i
	"${PSQL[@]}" -v "s=$s" -v "kind=$kind" <<'SQL'
SET ntg.progress = off;
SET client_min_messages = warning;
SELECT 'q_' || :'kind' AS model \gset
INSERT INTO runs SELECT :'kind', :s, t.epochs, t.train_seconds, t.train_rows
  FROM ntg.train(:'model', :'kind', 'SELECT label, pl FROM tr', :'hyper'::jsonb, replace => true) t;
SQL
	for i in "${!OPTION_SETS[@]}"; do
		"${PSQL[@]}" -v "kind=$kind" -v "options=${OPTION_SETS[$i]}" <<'SQL'
SET ntg.progress = off;
SET client_min_messages = warning;
SELECT 'q_' || :'kind' AS model \gset
DROP TABLE IF EXISTS synth;
CREATE TABLE synth AS
	SELECT g.label, g.pl
	FROM (SELECT label, count(*)::integer AS n FROM tr GROUP BY label) AS c,
		 LATERAL ntg.generate(:'model', c.label, c.n, :gen_seed, :'options'::jsonb) AS g;
SQL
		score "$(gen_name "$kind" "$i")" "$s"
	done
}

# A baseline (ntg.synthesize: smote, fast_retransmit) on one split: as many rows per class as tr.
baseline() {
	local b=$1 s=$2
	"${PSQL[@]}" -v "b=$b" <<'SQL'
SET ntg.progress = off;
SET client_min_messages = warning;
DROP TABLE IF EXISTS synth;
CREATE TABLE synth AS
	SELECT x.label, x.pl
	FROM (SELECT label, count(*)::integer AS n FROM tr GROUP BY label) AS c,
		 LATERAL ntg.synthesize(:'b', format('SELECT label, pl FROM tr WHERE label = %L', c.label), c.n, :gen_seed) AS x;
SQL
	score "$b" "$s"
}

export PGOPTIONS="-c ntg_bench.halvings=$HALVINGS -c ntg_bench.ptstr=$PERFECT_TSTR"
for s in $SPLITS; do
	echo "split $s: perfect generator ($HALVINGS halvings) ..." >&2
	make_split "$s"
	PGOPTIONS="$PGOPTIONS -c ntg_bench.split=$s" perfect "$s"
	for k in $KINDS; do
		echo "split $s: $k ..." >&2
		generator "$k" "$s"
	done
	for b in $BASELINES; do
		echo "split $s: $b ..." >&2
		baseline "$b" "$s"
	done
done

# The table: per kind, the criterion on the means over splits, the perfect generator beside.
entries=()	# generator|trained model kind|options, in the order they are printed
for k0 in $KINDS; do
	for i in "${!OPTION_SETS[@]}"; do entries+=("$(gen_name "$k0" "$i")|$k0|${OPTION_SETS[$i]}"); done
done
for b in $BASELINES; do entries+=("$b|$b|"); done
for entry in "${entries[@]}"; do
	IFS='|' read -r k k0 opts <<<"$entry"
	label=$LABEL
	case " $BASELINES " in *" $k "*) label="baseline $k" ;; esac
	echo
	"${PSQL[@]}" -v "kind=$k" -v "trained=$k0" -v "label=$label" -v "part=$PART" -v "options=$opts" -F ' | ' <<'SQL'
-- per generator and split: the value the criterion reads (a difference, a leakage or a ratio)
CREATE TEMP VIEW v AS
	SELECT gen, split, rep, metric, synthetic_value - real_value AS v FROM res
	 WHERE metric IN ('jsd_num_packets', 'jsd_1gram', 'jsd_2gram', 'jsd_markov', 'jsd_markov_test_as_real', 'uniq_align')
	UNION ALL SELECT gen, split, rep, 'leakage_synthetic', synthetic_value FROM res WHERE metric = 'leakage'
	UNION ALL SELECT gen, split, rep, 'leakage_test_rows', real_value FROM res WHERE metric = 'leakage'
	UNION ALL SELECT gen, split, rep, 'leakage_diff', synthetic_value - real_value FROM res WHERE metric = 'leakage'
	UNION ALL SELECT gen, split, rep, 'tstr_ratio', synthetic_value / real_value FROM res WHERE metric = 'macro_f1';
CREATE TEMP VIEW per_split AS SELECT gen, split, metric, avg(v) AS v FROM v GROUP BY 1, 2, 3;
CREATE TEMP VIEW g AS SELECT metric, avg(v) AS mean, coalesce(stddev_samp(v), 0) AS sd FROM per_split WHERE gen = :'kind' GROUP BY 1;
-- the perfect generator: over every halving of every split
CREATE TEMP VIEW p AS SELECT metric, avg(v) AS mean, coalesce(stddev_samp(v), 0) AS sd FROM v WHERE gen = 'perfect' GROUP BY 1;
SELECT CASE WHEN count(*) = 0 THEN format('%s (%s), scored on the %s part', :'kind', :'label', :'part')
	   ELSE format('%s (%s), %s split%s, scored on the %s part; %s epochs, %s s of training per split',
			  :'kind', coalesce(nullif(:'label', '') || ', ', '') || 'hyperparameters ' || :'hyper' || ', options ' || :'options',
			  count(*), CASE WHEN count(*) > 1 THEN 's' ELSE '' END, :'part',
			  string_agg(DISTINCT epochs::text, '/'), round(avg(train_seconds)::numeric, 1)) END
  FROM runs WHERE gen = :'trained';
SELECT '| condition | ' || :'kind' || ' (mean ± sd over splits) | perfect generator (mean ± sigma) | bar | holds |'
UNION ALL SELECT '|---|---|---|---|---|'
UNION ALL SELECT * FROM (
	SELECT format('| %s | %s ± %s | %s ± %s | %s | %s |', d.title,
				  to_char(g.mean, 'SG0.000'), to_char(g.sd, 'FM0.000'), to_char(p.mean, 'SG0.000'), to_char(p.sd, 'FM0.000'),
				  d.bar_text,
				  CASE WHEN d.bar IS NULL THEN '-' WHEN g.mean <= d.bar THEN 'yes' ELSE format('NO (by %s)', to_char(g.mean - d.bar, 'FM0.000')) END)
	FROM (VALUES (1, 'jsd_num_packets', 'JSD num_packets: gap'), (2, 'jsd_1gram', 'JSD 1gram: gap'),
				 (3, 'jsd_2gram', 'JSD 2gram: gap'), (4, 'jsd_markov', 'JSD markov: gap'))
		 AS d0(o, metric, title)
	JOIN g USING (metric) JOIN p USING (metric),
		 LATERAL (SELECT d0.o, d0.title, p.sd AS bar, '<= sigma ' || to_char(p.sd, 'FM0.000') AS bar_text) d
	ORDER BY d.o) x
UNION ALL SELECT format('| size-matched leakage vs R | %s ± %s | minus its test rows'' %s ± %s | <= test rows %s ± %s | %s |',
						to_char(g.mean, 'FM0.000'), to_char(g.sd, 'FM0.000'), to_char(p.mean, 'SG0.000'), to_char(p.sd, 'FM0.000'),
						to_char(t.mean, 'FM0.000'), to_char(t.sd, 'FM0.000'),
						CASE WHEN g.mean <= t.mean THEN 'yes' ELSE format('NO (by %s)', to_char(g.mean - t.mean, 'FM0.000')) END)
	FROM g, p, g AS t WHERE g.metric = 'leakage_synthetic' AND p.metric = 'leakage_diff' AND t.metric = 'leakage_test_rows'
UNION ALL SELECT format('| TSTR ratio | %s ± %s | %s ± %s | >= 0.95 | %s |',
						to_char(g.mean, 'FM0.000'), to_char(g.sd, 'FM0.000'), to_char(p.mean, 'FM0.000'), to_char(p.sd, 'FM0.000'),
						CASE WHEN g.mean >= 0.95 THEN 'yes' ELSE format('NO (by %s)', to_char(0.95 - g.mean, 'FM0.000')) END)
	FROM g, p WHERE g.metric = 'tstr_ratio' AND p.metric = 'tstr_ratio'
UNION ALL SELECT format('| (not a condition) JSD markov, test rows as real: gap | %s ± %s | %s ± %s | - | - |',
						to_char(g.mean, 'SG0.000'), to_char(g.sd, 'FM0.000'), to_char(p.mean, 'SG0.000'), to_char(p.sd, 'FM0.000'))
	FROM g JOIN p USING (metric) WHERE metric = 'jsd_markov_test_as_real'
UNION ALL SELECT format('| (not a condition) uniq_align: gap | %s ± %s | %s ± %s | - | - |',
						to_char(g.mean, 'SG0.000'), to_char(g.sd, 'FM0.000'), to_char(p.mean, 'SG0.000'), to_char(p.sd, 'FM0.000'))
	FROM g JOIN p USING (metric) WHERE metric = 'uniq_align';
SELECT 'per split: ' || string_agg(format('%s: gaps %s / %s / %s / %s, leakage %s (test rows %s), TSTR %s', split,
	   to_char(np, 'SG0.000'), to_char(g1, 'SG0.000'), to_char(g2, 'SG0.000'), to_char(mk, 'SG0.000'),
	   to_char(ls, 'FM0.000'), to_char(lt, 'FM0.000'), to_char(tr, 'FM0.000')), '; ' ORDER BY split)
  FROM (SELECT split, max(v) FILTER (WHERE metric = 'jsd_num_packets') AS np, max(v) FILTER (WHERE metric = 'jsd_1gram') AS g1,
			   max(v) FILTER (WHERE metric = 'jsd_2gram') AS g2, max(v) FILTER (WHERE metric = 'jsd_markov') AS mk,
			   max(v) FILTER (WHERE metric = 'leakage_synthetic') AS ls, max(v) FILTER (WHERE metric = 'leakage_test_rows') AS lt,
			   max(v) FILTER (WHERE metric = 'tstr_ratio') AS tr
		  FROM per_split WHERE gen = :'kind' GROUP BY split) x;
SQL
	if [ -n "$RESULTS" ]; then
		"${PSQL[@]}" -v "kind=$k" -v "label=$label" -v "part=$PART" -v "options=$opts" -F $'\t' <<'SQL' >> "$RESULTS"
SELECT coalesce(nullif(:'label', '') || ' ' || :'options', :'hyper' || ' ' || :'options'), :'kind', :'part', g.metric,
	   round(g.mean::numeric, 4), round(g.sd::numeric, 4), round(p.mean::numeric, 4), round(p.sd::numeric, 4)
  FROM (SELECT metric, avg(v) AS mean, coalesce(stddev_samp(v), 0) AS sd FROM
		  (SELECT split, metric, avg(v) AS v FROM (
			SELECT split, metric, synthetic_value - real_value AS v FROM res WHERE gen = :'kind' AND metric NOT IN ('leakage', 'macro_f1')
			UNION ALL SELECT split, 'leakage_synthetic', synthetic_value FROM res WHERE gen = :'kind' AND metric = 'leakage'
			UNION ALL SELECT split, 'leakage_test_rows', real_value FROM res WHERE gen = :'kind' AND metric = 'leakage'
			UNION ALL SELECT split, 'leakage_diff', synthetic_value - real_value FROM res WHERE gen = :'kind' AND metric = 'leakage'
			UNION ALL SELECT split, 'tstr_ratio', synthetic_value / real_value FROM res WHERE gen = :'kind' AND metric = 'macro_f1') a
		   GROUP BY 1, 2) b GROUP BY 1) g
  LEFT JOIN (SELECT metric, avg(v) AS mean, stddev_samp(v) AS sd FROM (
			SELECT metric, synthetic_value - real_value AS v FROM res WHERE gen = 'perfect' AND metric NOT IN ('leakage', 'macro_f1')
			UNION ALL SELECT 'leakage_synthetic', synthetic_value FROM res WHERE gen = 'perfect' AND metric = 'leakage'
			UNION ALL SELECT 'leakage_test_rows', real_value FROM res WHERE gen = 'perfect' AND metric = 'leakage'
			UNION ALL SELECT 'leakage_diff', synthetic_value - real_value FROM res WHERE gen = 'perfect' AND metric = 'leakage'
			UNION ALL SELECT 'tstr_ratio', synthetic_value / real_value FROM res WHERE gen = 'perfect' AND metric = 'macro_f1') c
			GROUP BY 1) p USING (metric)
 ORDER BY g.metric;
SQL
	fi
done
