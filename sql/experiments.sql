-- The experiment functions with a real generator model beside the baselines: TSTR (Table II) and
-- the augmentation sweep (Fig. 3).  Row counts are pinned exactly.  Scores depend on the sampled
-- rows, so they are not printed: each is recomputed here from the rows the experiment is defined
-- to use, by a forest trained on them and accuracy and F1 counted in SQL.
SET ntg.progress = off;
-- Three classes with distinct shapes: upload-heavy, download-heavy, request/response pairs (twice
-- as many); one row in 7 of the first two looks like a pair, so that no forest scores perfectly,
-- and the classes' sizes differ, so that macro and weighted averages differ.
CREATE TABLE x_rows AS
SELECT CASE i % 4 WHEN 0 THEN 'up' WHEN 1 THEN 'down' ELSE 'pair' END AS label,
	   CASE WHEN i % 4 >= 2 OR i % 7 = 0 THEN ARRAY[30 + i % 3, -(30 + i % 3), 30 + i % 3, -(30 + i % 3)]
		   WHEN i % 4 = 0 THEN ARRAY[100 + (i % 7) * 10, 1400, 1400, -40]
		   ELSE ARRAY[60, -1400, -1400, -(200 + (i % 5) * 20)]
	   END::integer[] AS pl,
	   i
  FROM generate_series(1, 150) i;
CREATE TABLE x_parts AS SELECT * FROM ntg.split('SELECT label, pl FROM x_rows', 0.2, 3);
SELECT label, count(*) FILTER (WHERE NOT is_test) AS train, count(*) FILTER (WHERE is_test) AS test
  FROM x_parts GROUP BY label ORDER BY label;
SELECT model, classes, train_rows
  FROM ntg.train('x_llama', 'llama', 'SELECT label, pl FROM x_parts WHERE NOT is_test',
				 '{"dim": 16, "hidden_dim": 32, "n_layers": 1, "n_heads": 2, "epochs": 8,
				   "batch_size": 8, "lr": 0.01, "seed": 5}');

-- synthesize: exactly rows_per_class rows of every class from the model, all with known labels.
SELECT label, count(*) AS rows, bool_and(cardinality(pl) BETWEEN 0 AND 4) AS lengths_ok
  FROM ntg.synthesize('x_llama', 'SELECT label, pl FROM x_parts WHERE NOT is_test', 20, 1, top_up => false)
 GROUP BY label ORDER BY label;

-- options reach ntg.generate: the same rows as asking it for them directly
-- (and not the independent draws of the call above).
SELECT (SELECT array_agg(s::text) FROM ntg.synthesize('x_llama', 'SELECT label, pl FROM x_parts WHERE NOT is_test',
													 20, 1, top_up => false, options => '{"stratified": true}') AS s)
	 = (SELECT array_agg(ROW(g.label, g.pl)::text ORDER BY c.label, g.k)
		  FROM (SELECT DISTINCT label FROM x_parts) AS c,
			   LATERAL ntg.generate('x_llama', c.label, 20, 1, '{"stratified": true}') WITH ORDINALITY AS g(label, pl, k))
	   AS options_passed_on,
	   (SELECT array_agg(s::text) FROM ntg.synthesize('x_llama', 'SELECT label, pl FROM x_parts WHERE NOT is_test',
													 20, 1, top_up => false, options => '{"stratified": true}') AS s)
	 <> (SELECT array_agg(s::text) FROM ntg.synthesize('x_llama', 'SELECT label, pl FROM x_parts WHERE NOT is_test',
													  20, 1, top_up => false, options => '{"stratified": false}') AS s)
	   AS differs_from_independent;
SELECT count(*) FROM ntg.synthesize('x_llama', 'SELECT label, pl FROM x_parts', 5, options => NULL);
SELECT count(*) FROM ntg.synthesize('x_llama', 'SELECT label, pl FROM x_parts', 5, options => '{"steps": 5}');
SELECT count(*) FROM ntg.synthesize('smote', 'SELECT label, pl FROM x_parts', 5, options => '{"top_k": 5}');

-- Scores by hand: a forest (the experiments' hyperparameters) trained on the rows of train_query,
-- its predictions for the test rows, and accuracy and macro F1 counted here, with F1 = 2 TP /
-- (predicted + actual) per label over the labels that are actual or predicted.  Bootstrap is off
-- in these experiments, so a forest does not depend on the order of its training rows and rows
-- rebuilt here give the experiment's forest.
CREATE FUNCTION pg_temp.scores(train_query text, OUT accuracy float8, OUT macro_f1 float8)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM ntg.rf_train('x_check', train_query, '{"n_estimators": 10, "seed": 1, "bootstrap": false}',
						 replace => true);
	WITH p AS (SELECT label AS actual, ntg.rf_predict('x_check', pl) AS predicted
				 FROM x_parts WHERE is_test),
	per_label AS (SELECT 2.0 * count(*) FILTER (WHERE actual = l AND predicted = l)
						 / (count(*) FILTER (WHERE predicted = l) + count(*) FILTER (WHERE actual = l)) AS f1
					FROM (SELECT actual FROM p UNION SELECT predicted FROM p) AS labels(l), p GROUP BY l)
	SELECT (SELECT avg((actual = predicted)::int) FROM p), avg(f1) INTO accuracy, macro_f1 FROM per_label;
END $$;
CREATE TABLE x_real AS SELECT label, pl FROM x_parts WHERE NOT is_test;

-- TSTR: one row for real data and one per generator; synthetic training sets as large as the real
-- one, each class drawn as ntg.synthesize draws it.
CREATE TABLE x_tstr_rows AS
SELECT g AS generator, s.label, s.pl
  FROM unnest('{x_llama,smote}'::text[]) AS g,
	   (SELECT label, count(*)::int AS n FROM x_real GROUP BY label) AS c,
	   LATERAL ntg.synthesize(g, format('SELECT label, pl FROM x_real WHERE label = %L', c.label), c.n, 1,
							  top_up => false) AS s;
SELECT t.generator, t.train_rows, abs(t.accuracy - h.accuracy) < 1e-12 AS accuracy_by_hand,
	   abs(t.macro_f1 - h.macro_f1) < 1e-12 AS macro_f1_by_hand
  FROM ntg.tstr('SELECT label, pl FROM x_real', 'SELECT label, pl FROM x_parts WHERE is_test',
				'{x_llama,smote}', '{"n_estimators": 10, "seed": 1, "bootstrap": false}', 1) AS t,
	   LATERAL pg_temp.scores(CASE t.generator WHEN 'real' THEN 'SELECT label, pl FROM x_real'
							  ELSE format('SELECT label, pl FROM x_tstr_rows WHERE generator = %L', t.generator)
							  END) AS h
 ORDER BY generator;
-- On the real rows the forest makes exactly the unavoidable mistakes: the test rows of up and down
-- that look like pairs are called pairs, and every other row is right.
SELECT abs(accuracy - (SELECT 1 - avg((label <> 'pair' AND pl[1] < 40)::int) FROM x_parts WHERE is_test)) < 1e-12
		   AS accuracy_known, accuracy < 1 AS some_mistakes
  FROM pg_temp.scores('SELECT label, pl FROM x_real');
SELECT generator, train_rows
  FROM ntg.tstr('SELECT label, pl FROM x_parts WHERE NOT is_test',
				'SELECT label, pl FROM x_parts WHERE is_test',
				'{x_llama}', '{"n_estimators": 10, "seed": 1}', 1, options => '{"stratified": true}')
 ORDER BY generator;

-- The sweep: every (generator, fraction) pair, topped up to the largest class of the full split.
-- The kept rows of a fraction are the test side of ntg.split at that fraction (the same ranking);
-- the synthetic rows top every class up to the largest class of the full split.
CREATE TABLE x_kept AS
SELECT f AS fraction, s.label, s.pl
  FROM unnest('{0.1,0.5,1}'::float8[]) AS f,
	   LATERAL ntg.split('SELECT label, pl FROM x_real', f, 1) AS s WHERE s.is_test;
CREATE TABLE x_aug AS
SELECT g AS generator, k.fraction, s.label, s.pl
  FROM unnest('{x_llama,fast_retransmit}'::text[]) AS g, (SELECT DISTINCT fraction FROM x_kept) AS k,
	   LATERAL ntg.synthesize(g, format('SELECT label, pl FROM x_kept WHERE fraction = %s', k.fraction),
							  (SELECT max(n)::int FROM (SELECT count(*) AS n FROM x_real GROUP BY label) c), 1,
							  top_up => true) AS s;
SELECT w.generator, w.fraction, w.real_rows, w.synthetic_rows, w.real_rows + w.synthetic_rows AS total,
	   w.synthetic_rows = (SELECT count(*) FROM x_aug a WHERE a.generator = w.generator AND a.fraction = w.fraction)
		   AS same_synthetic_rows,
	   abs(w.macro_f1 - (pg_temp.scores(format(
		   'SELECT label, pl FROM x_aug WHERE generator = %L AND fraction = %s
			UNION ALL SELECT label, pl FROM x_kept WHERE fraction = %s', w.generator, w.fraction, w.fraction))).macro_f1)
		   < 1e-12 AS macro_f1_by_hand,
	   abs(w.real_only_f1 - (pg_temp.scores(format('SELECT label, pl FROM x_kept WHERE fraction = %s',
												  w.fraction))).macro_f1) < 1e-12 AS real_only_by_hand
  FROM ntg.augment_sweep('SELECT label, pl FROM x_real', 'SELECT label, pl FROM x_parts WHERE is_test',
						 '{x_llama,fast_retransmit}', '{0.1,0.5,1}',
						 '{"n_estimators": 10, "seed": 1, "bootstrap": false}', 1) AS w
 ORDER BY generator, fraction;

-- A forest is not a generator.
SELECT model FROM ntg.rf_train('x_forest', 'SELECT label, pl FROM x_parts WHERE NOT is_test', '{"n_estimators": 2}');
SELECT count(*) FROM ntg.synthesize('x_forest', 'SELECT label, pl FROM x_parts', 5);
SELECT count(*) FROM ntg.synthesize('no_such_model', 'SELECT label, pl FROM x_parts', 5);

SELECT ntg.drop_model('x_llama');
SELECT ntg.drop_model('x_forest');
SELECT ntg.drop_model('x_check');
DROP TABLE x_rows, x_parts, x_real, x_tstr_rows, x_kept, x_aug;
