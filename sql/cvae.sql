-- The cvae generator (docs/cvae.md) through SQL: training with small hyperparameters, its
-- sampling options, validation, the stored description, and its errors.  Losses and sampled
-- values depend on floating point, so they are compared, never printed.  Objects here are named
-- cv_* (the database is shared with the other test files).
SET ntg.progress = off;
CREATE FUNCTION pg_temp.fails(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN others THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

CREATE TABLE cv_toy (label text, pl integer[]);
INSERT INTO cv_toy SELECT 'web', '{100,-200,300}' FROM generate_series(1, 8);
INSERT INTO cv_toy SELECT 'web', '{100,-200}' FROM generate_series(1, 4);
INSERT INTO cv_toy SELECT 'dns', '{52,-52}' FROM generate_series(1, 8);
INSERT INTO cv_toy SELECT 'video', '{-1448,40000,-1448,1448}' FROM generate_series(1, 8);
\set tiny '{"hidden1": 32, "hidden2": 16, "latent_dim": 4, "embed_dim": 8, "epochs": 60, "batch_size": 8, "lr": 0.01, "seed": 7}'

-- Training stores the model; its parameter count follows the shapes (docs/cvae.md):
-- values -1448 -200 -52 52 100 300 1448 40000 (V = 8), N = 4, C = 3, E = 8, H1 = 32, H2 = 16, Z = 4.
SELECT model, kind, version, classes, train_rows, epochs, parameters, bytes > 0 AS has_bytes
FROM ntg.train('cv', 'cvae', 'SELECT label, pl FROM cv_toy', :'tiny');
SELECT 9 * 8 + 32 * (4 * 8 + 3) + 32 + 16 * 32 + 16 + 8 * 16 + 8 + 16 * (4 + 3) + 16 + 32 * 16 + 32
	   + 5 * 32 + 5 + 32 * 32 + 32 + 8 * 8 + 8 AS expected_parameters;
SELECT config->>'hidden1' AS hidden1, config->>'latent_dim' AS latent_dim,
	   config->>'n_values' AS n_values, config->>'max_len' AS max_len, config->>'beta' AS beta,
	   config->'sampling' AS sampling,
	   loss_history[60] < loss_history[1] / 2 AS loss_fell
FROM ntg.models WHERE name = 'cv';

-- Sampling: n rows per class, every value one of the training rows', lengths within max_len.
SELECT label, count(*) FROM ntg.generate('cv', n => 5, seed => 1) GROUP BY label ORDER BY label;
SELECT bool_and(v IN (SELECT DISTINCT unnest(pl) FROM cv_toy)) AS values_from_training_rows,
	   max(cardinality(g.pl)) <= 4 AS lengths_ok
FROM ntg.generate('cv', n => 50, seed => 3) AS g, unnest(g.pl) AS v;
SELECT (SELECT array_agg(g::text) FROM ntg.generate('cv', n => 30, seed => 11) AS g)
	 = (SELECT array_agg(g::text) FROM ntg.generate('cv', n => 30, seed => 11) AS g) AS same_seed_same_rows,
	   (SELECT array_agg(g::text) FROM ntg.generate('cv', n => 30, seed => 11, options => '{"temperature": 3}') AS g)
	<> (SELECT array_agg(g::text) FROM ntg.generate('cv', n => 30, seed => 12, options => '{"temperature": 3}') AS g) AS other_seed_other_rows;
-- latent_temperature 0 (z = 0) and a low temperature: the decoder's most probable row of each
-- class, whatever the seed; the model has learnt its classes, so it is a training row of the class.
SELECT label, count(DISTINCT pl) AS distinct_rows,
	   bool_and(pl IN (SELECT t.pl FROM cv_toy AS t WHERE t.label = g.label)) AS training_rows
FROM ntg.generate('cv', n => 20, seed => 5, options => '{"latent_temperature": 0, "temperature": 0.01}') AS g
GROUP BY label ORDER BY label;
-- Values beyond smallint come back exactly.
SELECT count(*) > 0 AS has_40000 FROM ntg.generate('cv', 'video', 50, 2) AS g WHERE 40000 = ANY (g.pl);

-- The kind's sampling options, and the errors of options it does not have.
SELECT k.kind, k.family, k.generates, k.validation, o.key AS option,
	   round((o.value->>'default')::numeric, 6) AS "default",
	   o.value->>'min' AS min, o.value->>'max' AS max, o.value->>'min_excluded' AS min_excluded
FROM ntg.model_kinds() AS k, jsonb_each(k.sampling_options) AS o WHERE k.kind = 'cvae' ORDER BY o.key;
SELECT pg_temp.fails($$SELECT * FROM ntg.generate('cv', options => '{"top_k": 1}')$$);
SELECT pg_temp.fails($$SELECT * FROM ntg.generate('cv', options => '{"latent_temperature": -1}')$$);
SELECT pg_temp.fails($$SELECT * FROM ntg.generate('cv', options => '{"temperature": 0}')$$);
-- Stored sampling defaults, given at training time.
SELECT model FROM ntg.train('cv_cool', 'cvae', 'SELECT label, pl FROM cv_toy',
	'{"hidden1": 16, "hidden2": 8, "latent_dim": 2, "embed_dim": 4, "epochs": 2, "sampling": {"latent_temperature": 0.5}}');
SELECT config->'sampling' AS sampling FROM ntg.models WHERE name = 'cv_cool';
-- A call's options override the stored default: at latent_temperature 0 every row decodes z = 0,
-- so at a low temperature each of the three classes gets a single row.
SELECT count(DISTINCT (g.label, g.pl)) = 3 AS one_row_per_class
FROM ntg.generate('cv_cool', n => 20, options => '{"latent_temperature": 0, "temperature": 0.001}') AS g;

-- Bad hyperparameters.
SELECT pg_temp.fails($$SELECT ntg.train('cv_bad', 'cvae', 'SELECT label, pl FROM cv_toy', '{"hidden1": 0}')$$);
SELECT pg_temp.fails($$SELECT ntg.train('cv_bad', 'cvae', 'SELECT label, pl FROM cv_toy', '{"beta": -1}')$$);
SELECT pg_temp.fails($$SELECT ntg.train('cv_bad', 'cvae', 'SELECT label, pl FROM cv_toy', '{"kl_anneal": "slow"}')$$);
SELECT pg_temp.fails($$SELECT ntg.train('cv_bad', 'cvae', 'SELECT label, pl FROM cv_toy', '{"lr_schedule": "linear"}')$$);
SELECT pg_temp.fails($$SELECT ntg.train('cv_bad', 'cvae', 'SELECT label, pl FROM cv_toy', '{"latent": 8}')$$);
SELECT pg_temp.fails($$SELECT ntg.train('cv_bad', 'cvae', 'SELECT label, pl FROM cv_toy', '{"sampling": {"top_p": 0.5}}')$$);
SELECT count(*) AS stored_bad FROM ntg.models WHERE name = 'cv_bad';

-- Validation: the held-out loss is the negative ELBO per target, and the stored weights are
-- those of its best epoch.
SELECT epochs, validation_loss IS NOT NULL AS has_validation_loss, best_epoch BETWEEN 1 AND epochs AS best_ok,
	   train_rows
FROM ntg.train('cv_val', 'cvae', 'SELECT label, pl FROM cv_toy',
			   '{"hidden1": 32, "hidden2": 16, "latent_dim": 4, "embed_dim": 8, "epochs": 12, "batch_size": 8, "seed": 3, "validation": 0.25}');
SELECT cardinality(validation_loss) AS validation_losses,
	   validation_loss[best_epoch] = (SELECT min(v) FROM unnest(validation_loss) AS v) AS best_is_lowest
FROM ntg.models WHERE name = 'cv_val';

-- describe_model checks the stored weights.
SELECT name, kind, format_version, valid, problem, classes, config->>'embed_dim' AS embed_dim
FROM ntg.describe_model('cv');

SELECT ntg.drop_model('cv'), ntg.drop_model('cv_cool'), ntg.drop_model('cv_val');
DROP TABLE cv_toy;
