-- Held-out validation and early stopping in ntg.train (docs/models.md, "Validation and early
-- stopping").  Losses depend on floating point, so they are compared, never printed.
SET ntg.progress = off;

-- 60 rows of one class whose values follow no pattern a tiny model could generalise: it learns
-- the training rows by heart, and its loss on the held-out rows falls, then rises.
CREATE TABLE v_rows (label text, pl smallint[]);
INSERT INTO v_rows
SELECT 'a', ARRAY[(i * 37) % 11 * 10 + 10, -((i * 53) % 7 * 10 + 10), (i * 29) % 5 * 10 + 10]::smallint[]
FROM generate_series(1, 60) AS i;
INSERT INTO v_rows SELECT 'b', '{52,-52}' FROM generate_series(1, 8);
\set hp '{"dim": 16, "hidden_dim": 32, "n_layers": 1, "n_heads": 2, "lr": 0.02, "lr_schedule": "constant", "warmup": 0, "epochs": 80, "batch_size": 8, "seed": 3}'

-- validation 0.25 holds out round(0.25 * rows) of each class: 15 of 'a', 2 of 'b'.
SELECT model, train_rows, epochs < 80 AS stopped_early, best_epoch = epochs - 3 AS best_three_back,
	   validation_loss IS NOT NULL AS has_validation_loss
FROM ntg.train('v_early', 'llama', 'SELECT label, pl FROM v_rows',
			   :'hp'::jsonb || '{"validation": 0.25, "patience": 3}');
-- The table keeps the per-epoch losses; the stored weights are those of the lowest validation loss,
-- rounded to float16 values once they were put back (half_weights, the default).
SELECT cardinality(loss_history) = epochs AS losses, cardinality(validation_loss) = epochs AS validation_losses,
	   validation_loss[best_epoch] = (SELECT min(v) FROM unnest(validation_loss) AS v) AS best_is_lowest,
	   validation_loss[best_epoch] < validation_loss[1] AS improved,
	   validation_loss[epochs] > validation_loss[best_epoch] AS then_rose,
	   config->'validation' AS validation, config->'patience' AS patience,
	   config->'half_weights' AS half_weights
FROM ntg.models WHERE name = 'v_early';
SELECT best_epoch = (SELECT best_epoch FROM ntg.models WHERE name = 'v_early') AS same_best,
	   validation_loss IS NOT NULL AS listed
FROM ntg.describe_model('v_early');
-- Training again for exactly best_epoch epochs (same seed: same split, same start, same batches)
-- gives the same weights, so the same rows: the stored model is the best epoch's, not the last.
SELECT t.model, t.epochs = m.best_epoch AS ran_best_epoch
FROM ntg.models AS m,
	 LATERAL ntg.train('v_best', 'llama', 'SELECT label, pl FROM v_rows',
					   :'hp'::jsonb || jsonb_build_object('validation', 0.25, 'epochs', m.best_epoch)) AS t
WHERE m.name = 'v_early';
SELECT (SELECT array_agg(g::text) FROM ntg.generate('v_early', n => 40, seed => 5) AS g)
	 = (SELECT array_agg(g::text) FROM ntg.generate('v_best', n => 40, seed => 5) AS g) AS best_weights_stored;
-- Without patience every epoch runs, and the best one is still what is kept.
SELECT epochs, best_epoch < epochs AS best_before_last
FROM ntg.train('v_all', 'llama', 'SELECT label, pl FROM v_rows',
			   :'hp'::jsonb || '{"validation": 0.25, "epochs": 25}');
-- Without validation nothing is held out and nothing is recorded.
SELECT train_rows, epochs, validation_loss IS NULL AS no_validation_loss, best_epoch IS NULL AS no_best_epoch
FROM ntg.train('v_plain', 'llama', 'SELECT label, pl FROM v_rows', :'hp'::jsonb || '{"epochs": 2}');
SELECT validation_loss IS NULL AS no_validation_loss, config ? 'validation' AS has_validation
FROM ntg.models WHERE name = 'v_plain';

-- Held-out values the model never saw end the scoring of their row; they are not an error.
CREATE TABLE v_unseen (label text, pl smallint[]);
INSERT INTO v_unseen SELECT 'a', ARRAY[5, -i]::smallint[] FROM generate_series(1, 20) AS i;
INSERT INTO v_unseen SELECT 'a', '{5,-5}' FROM generate_series(1, 20);
SELECT epochs, validation_loss > 0 AS scored
FROM ntg.train('v_unseen', 'llama', 'SELECT label, pl FROM v_unseen',
			   :'hp'::jsonb || '{"validation": 0.2, "epochs": 2}');

-- Errors.
SELECT ntg.train('v_bad', 'llama', 'SELECT label, pl FROM v_rows', '{"patience": 3}');
SELECT ntg.train('v_bad', 'llama', 'SELECT label, pl FROM v_rows', '{"validation": 0.6}');
SELECT ntg.train('v_bad', 'llama', 'SELECT label, pl FROM v_rows', '{"validation": "some"}');
SELECT ntg.train('v_bad', 'llama', 'SELECT label, pl FROM v_rows', '{"validation": 0.2, "patience": -1}');
-- 0.005 of 60 rows rounds to none.
SELECT ntg.train('v_bad', 'llama', 'SELECT label, pl FROM v_rows', '{"validation": 0.005}');
-- A class of one row keeps it: nothing to hold out.
SELECT ntg.train('v_bad', 'llama', $$SELECT 'x', '{1,2}'::smallint[]$$, '{"validation": 0.5}');
-- Every row starts with its own value: the held-out rows have nothing the model could emit.
-- Refused before training starts: with progress on, no NOTICE comes before the error.
SET ntg.progress = on;
SELECT ntg.train('v_bad', 'llama', $$SELECT 'x', ARRAY[i, -1]::smallint[] FROM generate_series(1, 10) AS i$$,
				 '{"dim": 8, "hidden_dim": 16, "n_layers": 1, "n_heads": 1, "epochs": 3, "validation": 0.2}');
SET ntg.progress = off;
SELECT count(*) AS no_bad_model FROM ntg.models WHERE name = 'v_bad';

SELECT ntg.drop_model(name) FROM ntg.models WHERE name LIKE 'v\_%' ORDER BY name;
DROP TABLE v_rows, v_unseen;
