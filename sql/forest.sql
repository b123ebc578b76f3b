-- The Random Forest classifier, the augmentation baselines and the experiment functions, on small
-- hand-made data.  (Checks on the benchmark data, docs/data.md, are in forest_ndpi.sql.)
SET ntg.progress = off;
SET extra_float_digits = 0;

CREATE TABLE flows (id serial, label text, pl smallint[]);
-- three classes: "dns" (one short request/response), "web" (big downstream), "ssh" (small both ways)
INSERT INTO flows (label, pl)
SELECT c.label,
	   CASE c.label
		   WHEN 'dns' THEN ARRAY[30 + i % 20, -(80 + i % 50)]
		   WHEN 'web' THEN ARRAY[300 + i % 100, -1400, -1400, -(200 + i % 300)]
		   ELSE ARRAY[-(20 + i % 5), 40 + i % 8, -(36 + i % 4), 36, -36]
	   END::smallint[]
FROM (VALUES ('dns'), ('web'), ('ssh')) AS c(label), generate_series(1, 40) AS i;
CREATE TABLE train AS SELECT * FROM flows WHERE id % 5 <> 0;
CREATE TABLE test AS SELECT * FROM flows WHERE id % 5 = 0;

-- Training stores the model with every default filled in.
SELECT parameters AS rf_nodes FROM ntg.rf_train('rf', 'SELECT label, pl FROM train', '{"n_estimators": 10, "seed": 3}') \gset
SELECT :rf_nodes > 10 AS has_nodes;
-- parameters = the node count rf_train returned; every node takes at least 8 bytes of the model.
SELECT name, kind, classes, train_rows, parameters = :rf_nodes AS parameters_are_nodes, version,
	   bytes = octet_length(weights) AND bytes > 8 * parameters AS bytes_ok, config
FROM ntg.models WHERE name = 'rf';

-- Prediction, on smallint[] and integer[], and probabilities.
SELECT ntg.rf_predict('rf', '{35,-100}'::smallint[]) AS dns,
	   ntg.rf_predict('rf', '{350,-1400,-1400,-300}'::integer[]) AS web,
	   ntg.rf_predict('rf', '{-21,42,-37,36,-36}'::integer[]) AS ssh,
	   ntg.rf_predict('rf', '{}'::integer[]) AS empty_sequence;
SELECT ntg.rf_predict_proba('rf', '{350,-1400,-1400,-300}'::smallint[]) AS web_proba;
SELECT ntg.rf_predict('rf', NULL::integer[]);
SELECT label, ntg.rf_predict('rf', pl) AS predicted, count(*) FROM test GROUP BY 1, 2 ORDER BY 1, 2;

-- The bytea form gives the same answers from the stored value.
SELECT count(*) FILTER (WHERE ntg.rf_predict_model(m.weights, t.pl) = ntg.rf_predict('rf', t.pl)) AS agree,
	   count(*) AS total
FROM test t, ntg.models m WHERE m.name = 'rf';

-- Evaluation: one row per class, then accuracy, macro avg, weighted avg.
SELECT kind, label, round("precision"::numeric, 3) AS "precision", round(recall::numeric, 3) AS recall,
	   round(f1::numeric, 3) AS f1, support
FROM ntg.rf_evaluate('rf', 'SELECT label, pl FROM test');
SELECT * FROM ntg.rf_confusion('rf', 'SELECT label, pl FROM test');
-- A test label the model never saw counts against recall; hand-checked scores on a forced mistake.
SELECT kind, label, round("precision"::numeric, 3) AS "precision", round(recall::numeric, 3) AS recall,
	   round(f1::numeric, 3) AS f1, support
FROM ntg.rf_evaluate('rf', $$SELECT * FROM (VALUES ('dns', '{35,-100}'::int[]), ('dns', '{36,-90}'),
	('web', '{350,-1400,-1400,-300}'), ('quic', '{1200,-1200}')) v$$);
SELECT * FROM ntg.rf_confusion('rf', $$SELECT * FROM (VALUES ('quic', '{1200,-1200}'::int[])) v$$);

-- Same seed, same model; replace bumps the version.
SELECT model FROM ntg.rf_train('rf2', 'SELECT label, pl FROM train', '{"n_estimators": 10, "seed": 3}');
SELECT (SELECT weights FROM ntg.models WHERE name = 'rf') = (SELECT weights FROM ntg.models WHERE name = 'rf2') AS same_bytes_for_same_seed_and_rows;
CREATE TABLE odd AS SELECT i AS id, ARRAY[i * 37 % 500 - 250, -(i * 91 % 1500), i % 7]::int[] AS pl
FROM generate_series(1, 50) i;
SELECT string_agg(ntg.rf_predict_proba('rf2', pl)::text, ';' ORDER BY id) AS before_replace FROM odd \gset
SELECT (ntg.rf_train('rf2', 'SELECT label, pl FROM train', '{"n_estimators": 5, "max_depth": 2, "criterion": "entropy", "max_features": "all", "class_weight": "balanced", "bootstrap": false}', replace => true)).parameters <= 5 * 7 AS small;
SELECT version, config->>'max_depth' AS max_depth, config->>'criterion' AS criterion,
	   config->>'max_features_count' AS max_features_count
FROM ntg.models WHERE name = 'rf2';
-- The per-backend cache sees the replaced model.
SELECT ntg.rf_predict('rf2', '{35,-100}'::int[]) AS dns,
	   string_agg(ntg.rf_predict_proba('rf2', pl)::text, ';' ORDER BY id) <> :'before_replace' AS probabilities_changed
FROM odd;

-- Train and evaluate without storing.
SELECT kind, round(f1::numeric, 3) AS f1, support
FROM ntg.rf_fit_evaluate('SELECT label, pl FROM train', 'SELECT label, pl FROM test', '{"n_estimators": 10}')
WHERE kind <> 'class';

-- SMOTE and Fast Retransmit: pinned rows for a seed.
CREATE TABLE small (label text, pl integer[]);
INSERT INTO small VALUES ('a', '{100,-1400,60}'), ('a', '{120,-1300,80,-5}'), ('a', '{90,-1500}'),
	('a', '{-50,10,10}'), ('b', '{-30,200}');
SELECT * FROM ntg.smote('SELECT label, pl FROM small', 6, seed => 42, top_up => true);
SELECT * FROM ntg.smote('SELECT label, pl FROM small', 2, seed => 42, k => 1, top_up => false);
SELECT * FROM ntg.fast_retransmit('SELECT label, pl FROM small', 3, seed => 7, p => 1, top_up => false);
-- Order of the source rows does not matter.
SELECT (SELECT array_agg(s ORDER BY s::text) FROM ntg.smote('SELECT label, pl FROM small', 20, 5, top_up => true) s)
	 = (SELECT array_agg(s ORDER BY s::text) FROM ntg.smote('SELECT label, pl FROM small ORDER BY pl DESC', 20, 5, top_up => true) s)
	AS order_independent;
SELECT count(*) AS rows, count(DISTINCT label) AS classes FROM ntg.fast_retransmit('SELECT label, pl FROM train', 50, top_up => true);

-- Stratified split, synthesize, TSTR and the augmentation sweep.
SELECT label, count(*) FILTER (WHERE is_test) AS test, count(*) FILTER (WHERE NOT is_test) AS train
FROM ntg.split('SELECT label, pl FROM flows', 0.25, 1) GROUP BY 1 ORDER BY 1;
SELECT (SELECT array_agg(s ORDER BY s::text) FROM ntg.split('SELECT label, pl FROM flows', 0.2, 9) s)
	 = (SELECT array_agg(s ORDER BY s::text) FROM ntg.split('SELECT label, pl FROM flows ORDER BY id DESC', 0.2, 9) s)
	AS split_order_independent;
SELECT label, count(*) FROM ntg.synthesize('smote', 'SELECT label, pl FROM small', 4, top_up => true) GROUP BY 1 ORDER BY 1;
SELECT label, count(*) FROM ntg.synthesize('smote', 'SELECT label, pl FROM small', 4) GROUP BY 1 ORDER BY 1;
SELECT generator, train_rows, round(macro_f1::numeric, 3) AS macro_f1
FROM ntg.tstr('SELECT label, pl FROM train', 'SELECT label, pl FROM test', '{smote,fast_retransmit}',
			  '{"n_estimators": 10}', 1);
CREATE TABLE sweep AS
SELECT * FROM ntg.augment_sweep('SELECT label, pl FROM train', 'SELECT label, pl FROM test',
								'{smote,fast_retransmit}', '{0.05,0.5,1}', '{"n_estimators": 10}', 1);
-- The classes are told apart by the first packet alone, so every forest here scores 1 (scores below
-- 1 are checked against hand counts in experiments.sql).
SELECT generator, fraction, real_rows, synthetic_rows, round(macro_f1::numeric, 3) AS macro_f1,
	   round(real_only_f1::numeric, 3) AS real_only_f1
FROM sweep ORDER BY fraction, generator;
SELECT xml_is_well_formed_document(ntg.line_chart_svg(
	$$SELECT generator, fraction * 100, macro_f1 FROM sweep
	  UNION ALL SELECT DISTINCT 'real only', fraction * 100, real_only_f1 FROM sweep$$,
	'F1 <vs> "real" & synthetic')) AS svg_is_xml;
SELECT ntg.line_chart_svg('SELECT ''a'', 1, 0.5') LIKE '<svg %</svg>' AS svg_shape;

-- Errors.
SELECT ntg.rf_train('rf', 'SELECT label, pl FROM train');
SELECT ntg.rf_train('empty', 'SELECT label, pl FROM train WHERE false');
SELECT ntg.rf_train('cols', 'SELECT label FROM train');
SELECT ntg.rf_train('types', 'SELECT 1, pl FROM train');
SELECT ntg.rf_train('bad', 'SELECT label, pl FROM train', '{"n_trees": 10}');
SELECT ntg.rf_train('bad', 'SELECT label, pl FROM train', '{"n_estimators": 0}');
SELECT ntg.rf_train('bad', 'SELECT label, pl FROM train', '{"max_features": "half"}');
SELECT ntg.rf_train('bad', 'SELECT label, pl FROM train', '{"max_features": 11}');
SELECT ntg.rf_train('bad', 'SELECT label, pl FROM train', '{"criterion": 1}');
SELECT ntg.rf_train('bad', 'SELECT label, pl FROM train', '[1]');
SELECT ntg.rf_train(NULL, 'SELECT label, pl FROM train');
SELECT ntg.rf_train('', 'SELECT label, pl FROM train');
SELECT ntg.rf_predict('nope', '{1}'::int[]);
SELECT * FROM ntg.rf_evaluate('nope', 'SELECT label, pl FROM test');
SELECT * FROM ntg.rf_evaluate('rf', 'SELECT label, pl FROM test WHERE false');
SELECT ntg.rf_predict('rf', '{1,NULL}'::int[]);
SELECT ntg.rf_predict('rf', '{{1,2},{3,4}}'::int[]);
INSERT INTO ntg.models (name, kind, config, classes, weights) VALUES ('gen', 'llama', '{}', '{a}', '\x00');
SELECT ntg.rf_predict('gen', '{1}'::int[]);
SELECT * FROM ntg.synthesize('gen', 'SELECT label, pl FROM small', 3);
SELECT * FROM ntg.synthesize('rf', 'SELECT label, pl FROM small', 3);
SELECT * FROM ntg.synthesize('nope', 'SELECT label, pl FROM small', 3);
SELECT * FROM ntg.smote('SELECT label, pl FROM small', -1);
SELECT * FROM ntg.smote('SELECT label, pl FROM small', 1, k => 0);
SELECT * FROM ntg.fast_retransmit('SELECT label, pl FROM small', 1, p => 1.5);
SELECT * FROM ntg.split('SELECT label, pl FROM small', 1.5);
SELECT * FROM ntg.augment_sweep('SELECT label, pl FROM small', 'SELECT label, pl FROM small', '{smote}', '{0}');
-- Damaged model bytes: a flipped byte (checksum), a cut value, a foreign value.
UPDATE ntg.models SET weights = overlay(weights PLACING '\xff'::bytea FROM 100 FOR 1) WHERE name = 'rf';
SELECT ntg.rf_predict('rf', '{35,-100}'::int[]);
SELECT * FROM ntg.rf_evaluate('rf', 'SELECT label, pl FROM test');
UPDATE ntg.models SET weights = substring(weights FROM 1 FOR 50) WHERE name = 'rf';
SELECT ntg.rf_predict('rf', '{35,-100}'::int[]);
SELECT ntg.rf_predict_model('\x4e54474d4f44454c'::bytea, '{1}'::int[]);
-- The undamaged model still works after those errors.
SELECT ntg.rf_predict('rf2', '{35,-100}'::int[]) AS dns;

-- Parallel workers can run rf_predict (PARALLEL SAFE: a read-only lookup and a per-worker cache).
CREATE TABLE many AS SELECT f.* FROM flows f, generate_series(1, 50);
ANALYZE many;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET force_parallel_mode = on;
EXPLAIN (COSTS OFF) SELECT count(*) FROM many WHERE ntg.rf_predict('rf2', pl) = label;
SELECT count(*) FILTER (WHERE ntg.rf_predict('rf2', pl) = label) AS correct, count(*) FROM many;
RESET force_parallel_mode;
RESET max_parallel_workers_per_gather;
