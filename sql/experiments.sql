-- The experiment functions with a real generator model beside the baselines: TSTR (Table II) and
-- the augmentation sweep (Fig. 3).  Row counts are pinned exactly; F1 values only by their range,
-- since they depend on the trees and the generator, which other tests pin.
SET ntg.progress = off;
-- Three classes with distinct shapes: upload-heavy, download-heavy, request/response pairs.
CREATE TABLE x_rows AS
SELECT CASE i % 3 WHEN 0 THEN 'up' WHEN 1 THEN 'down' ELSE 'pair' END AS label,
	   CASE i % 3
		   WHEN 0 THEN ARRAY[100 + (i % 7) * 10, 1400, 1400, -40]
		   WHEN 1 THEN ARRAY[60, -1400, -1400, -(200 + (i % 5) * 20)]
		   ELSE ARRAY[30 + i % 4, -(30 + i % 4), 30 + i % 4, -(30 + i % 4)]
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
													  20, 1, top_up => false) AS s) AS differs_from_independent;
SELECT count(*) FROM ntg.synthesize('x_llama', 'SELECT label, pl FROM x_parts', 5, options => NULL);
SELECT count(*) FROM ntg.synthesize('x_llama', 'SELECT label, pl FROM x_parts', 5, options => '{"steps": 5}');
SELECT count(*) FROM ntg.synthesize('smote', 'SELECT label, pl FROM x_parts', 5, options => '{"top_k": 5}');

-- TSTR: one row for real data and one per generator; synthetic training sets as large as the real one.
SELECT generator, train_rows, macro_f1 BETWEEN 0 AND 1 AS f1_in_range,
	   accuracy BETWEEN 0 AND 1 AS accuracy_in_range
  FROM ntg.tstr('SELECT label, pl FROM x_parts WHERE NOT is_test',
				'SELECT label, pl FROM x_parts WHERE is_test',
				'{x_llama,smote}', '{"n_estimators": 10, "seed": 1}', 1)
 ORDER BY generator;
SELECT generator, train_rows
  FROM ntg.tstr('SELECT label, pl FROM x_parts WHERE NOT is_test',
				'SELECT label, pl FROM x_parts WHERE is_test',
				'{x_llama}', '{"n_estimators": 10, "seed": 1}', 1, options => '{"stratified": true}')
 ORDER BY generator;

-- The sweep: every (generator, fraction) pair, topped up to the largest class of the full split.
SELECT generator, fraction, real_rows, synthetic_rows, real_rows + synthetic_rows AS total,
	   macro_f1 BETWEEN 0 AND 1 AND real_only_f1 BETWEEN 0 AND 1 AS f1_in_range
  FROM ntg.augment_sweep('SELECT label, pl FROM x_parts WHERE NOT is_test',
						 'SELECT label, pl FROM x_parts WHERE is_test',
						 '{x_llama,fast_retransmit}', '{0.1,0.5,1}', '{"n_estimators": 10, "seed": 1}', 1)
 ORDER BY generator, fraction;

-- A forest is not a generator.
SELECT model FROM ntg.rf_train('x_forest', 'SELECT label, pl FROM x_parts WHERE NOT is_test', '{"n_estimators": 2}');
SELECT count(*) FROM ntg.synthesize('x_forest', 'SELECT label, pl FROM x_parts', 5);
SELECT count(*) FROM ntg.synthesize('no_such_model', 'SELECT label, pl FROM x_parts', 5);

SELECT ntg.drop_model('x_llama');
SELECT ntg.drop_model('x_forest');
DROP TABLE x_rows, x_parts;
