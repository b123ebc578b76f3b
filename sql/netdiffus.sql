-- The netdiffus generator from SQL (docs/netdiffus.md): ntg.train with kind 'netdiffus',
-- ntg.generate with its sampling options (steps, ddim, eta, guidance, refine, clip, spacing), the validation
-- loss, describe_model, and the errors of bad hyperparameters and options.  Losses and sampled
-- images depend on floating point, so they are compared, never printed.
SET ntg.progress = off;
CREATE TABLE nd_toy (label text, pl integer[]);
INSERT INTO nd_toy SELECT 'web', '{100,-200,300}' FROM generate_series(1, 8);
INSERT INTO nd_toy SELECT 'web', '{100,-250}' FROM generate_series(1, 4);
INSERT INTO nd_toy SELECT 'dns', '{52,-52}' FROM generate_series(1, 8);
INSERT INTO nd_toy SELECT 'video', '{-1448,1448,-1448,1448}' FROM generate_series(1, 8);
INSERT INTO nd_toy SELECT 'gso', '{40000,-60}' FROM generate_series(1, 4);
\set tiny '{"base_channels": 8, "levels": 2, "n_heads": 2, "norm_groups": 4, "attn_from": 1, "timesteps": 50, "epochs": 40, "batch_size": 8, "lr": 0.003, "seed": 7, "sampling": {"steps": 20}}'

-- Training returns a summary row and stores the model with its configuration.
SELECT model, kind, classes, train_rows, epochs, parameters > 0 AS has_parameters,
	   final_loss < 1 AS loss_below_noise
FROM ntg.train('nd_toy', 'netdiffus', 'SELECT label, pl FROM nd_toy', :'tiny');
SELECT kind, format_version, classes, cardinality(loss_history) AS losses,
	   loss_history[40] < loss_history[1] AS loss_fell, valid,
	   config->>'base_channels' AS base_channels, config->>'levels' AS levels,
	   config->>'image_size' AS image_size, config->>'max_len' AS max_len,
	   config->>'timesteps' AS timesteps, config->>'beta_schedule' AS beta_schedule,
	   config->>'scale_min' AS scale_min, config->>'scale_max' AS scale_max,
	   config->'sampling' AS sampling
FROM ntg.describe_model('nd_toy');
SELECT kind, family, generates, classifies, validation, sampling_options->'steps'->>'default' AS steps,
	   sampling_options->'refine'->>'max' AS refine_max, tiny_hyperparams->>'timesteps' AS tiny_timesteps
FROM ntg.model_kinds() WHERE kind = 'netdiffus';

-- Sampling: n rows per class, values refined to training values, lengths within N.
SELECT label, count(*) FROM ntg.generate('nd_toy', n => 6, seed => 1) GROUP BY label ORDER BY label;
SELECT bool_and(v IN (SELECT DISTINCT unnest(pl) FROM nd_toy)) AS values_from_training,
	   max(cardinality(pl)) <= 4 AS lengths_ok
FROM ntg.generate('nd_toy', n => 20, seed => 2) AS g, unnest(g.pl) AS v;
-- refine 2 (the default): a value at position i occurs at position i in a training row of the
-- class; refine 1: in a training row of the class.
SELECT bool_and(EXISTS (SELECT 1 FROM nd_toy AS t WHERE t.label = g.label AND t.pl[u.i] = u.v))
	   AS refined_per_position
FROM ntg.generate('nd_toy', n => 20, seed => 3) AS g, unnest(g.pl) WITH ORDINALITY AS u(v, i);
SELECT bool_and(EXISTS (SELECT 1 FROM nd_toy AS t WHERE t.label = g.label AND u.v = ANY (t.pl)))
	   AS refined_per_class
FROM ntg.generate('nd_toy', n => 20, seed => 3, options => '{"refine": 1}') AS g, unnest(g.pl) AS u(v);
-- The toy model has learnt its classes: at least half of its rows are rows of their class (web
-- mixes its two rows' values, which refine 2 allows: {100,-250,300} is no training row).
SELECT label, count(*) FILTER (WHERE pl IN (SELECT t.pl FROM nd_toy AS t WHERE t.label = g.label)) >= 10
	   AS half_class_rows
FROM ntg.generate('nd_toy', n => 20, seed => 4) AS g GROUP BY label ORDER BY label;
-- The same seed gives the same rows, whatever the options; DDPM (against deterministic DDIM),
-- eta (the default 1 against 0), guidance, clip and spacing change them.
SELECT (SELECT array_agg(g::text) FROM ntg.generate('nd_toy', n => 10, seed => 11) AS g)
	 = (SELECT array_agg(g::text) FROM ntg.generate('nd_toy', n => 10, seed => 11) AS g) AS same_seed_same_rows;
SELECT (SELECT array_agg(g::text) FROM ntg.generate('nd_toy', n => 10, seed => 11, options => '{"ddim": false, "steps": 50}') AS g)
	 = (SELECT array_agg(g::text) FROM ntg.generate('nd_toy', n => 10, seed => 11, options => '{"ddim": false, "steps": 50}') AS g) AS ddpm_same_seed;
-- (The toy model has learnt most classes by heart, so the changes show in 50 rows per class.)
SELECT (SELECT array_agg(g::text) FROM ntg.generate('nd_toy', n => 50, seed => 11, options => '{"eta": 0}') AS g)
	<> (SELECT array_agg(g::text) FROM ntg.generate('nd_toy', n => 50, seed => 11, options => '{"ddim": false, "steps": 50}') AS g) AS ddpm_differs,
	   (SELECT array_agg(g::text) FROM ntg.generate('nd_toy', n => 50, seed => 11, options => '{"eta": 0}') AS g)
	<> (SELECT array_agg(g::text) FROM ntg.generate('nd_toy', n => 50, seed => 11) AS g) AS eta_differs,
	   (SELECT array_agg(g::text) FROM ntg.generate('nd_toy', n => 50, seed => 11) AS g)
	<> (SELECT array_agg(g::text) FROM ntg.generate('nd_toy', n => 50, seed => 11, options => '{"guidance": 4}') AS g) AS guidance_differs,
	   (SELECT array_agg(g::text) FROM ntg.generate('nd_toy', n => 50, seed => 11) AS g)
	<> (SELECT array_agg(g::text) FROM ntg.generate('nd_toy', n => 50, seed => 11, options => '{"clip": false}') AS g) AS clip_differs,
	   (SELECT array_agg(g::text) FROM ntg.generate('nd_toy', n => 50, seed => 11, options => '{"fit": false}') AS g)
	<> (SELECT array_agg(g::text) FROM ntg.generate('nd_toy', n => 50, seed => 11, options => '{"spacing": 2, "fit": false}') AS g) AS spacing_differs;
-- (spacing moves this toy model's images too little for the least-squares read-back to change a
-- row, so it is compared with the diagonal read-back.)  The read-back is stored and reported:
SELECT config->>'value_scale' AS value_scale, config->'sampling'->'fit' AS fit
FROM ntg.describe_model('nd_toy');
SELECT count(*) FROM ntg.generate('nd_toy', n => 5, seed => 1, options => '{"ddim": true, "eta": 0.5, "guidance": 2, "steps": 5, "refine": 0}');
-- A row does not depend on the other rows asked for.
SELECT (SELECT array_agg(pl::text) FROM ntg.generate('nd_toy', 'web', 7, 5))
	 = (SELECT array_agg(pl::text) FROM ntg.generate('nd_toy', NULL, 7, 5) WHERE label = 'web') AS class_rows_independent;

-- Held-out validation: the noise-prediction loss at fixed steps, and the best epoch kept.
SELECT model, best_epoch BETWEEN 1 AND 10 AS has_best_epoch, validation_loss > 0 AS has_validation_loss
FROM ntg.train('nd_val', 'netdiffus', 'SELECT label, pl FROM nd_toy',
			   :'tiny'::jsonb || '{"epochs": 10, "validation": 0.25}');
SELECT cardinality(validation_loss) = epochs AS validation_losses,
	   validation_loss[best_epoch] = (SELECT min(v) FROM unnest(validation_loss) AS v) AS best_is_lowest
FROM ntg.models WHERE name = 'nd_val';

-- Errors of bad hyperparameters.
SELECT ntg.train('bad', 'netdiffus', 'SELECT label, pl FROM nd_toy', '{"base_channels": 0}');
SELECT ntg.train('bad', 'netdiffus', 'SELECT label, pl FROM nd_toy', '{"base_channels": 12, "norm_groups": 8}');
SELECT ntg.train('bad', 'netdiffus', 'SELECT label, pl FROM nd_toy', '{"base_channels": 8, "norm_groups": 4, "n_heads": 3}');
SELECT ntg.train('bad', 'netdiffus', 'SELECT label, pl FROM nd_toy', '{"beta_schedule": "quadratic"}');
SELECT ntg.train('bad', 'netdiffus', 'SELECT label, pl FROM nd_toy', '{"timesteps": 1}');
SELECT ntg.train('bad', 'netdiffus', 'SELECT label, pl FROM nd_toy', '{"cond_drop": 1.5}');
SELECT ntg.train('bad', 'netdiffus', 'SELECT label, pl FROM nd_toy', '{"levels": 7}');
SELECT ntg.train('bad', 'netdiffus', 'SELECT label, pl FROM nd_toy', '{"image_scale": "row"}');
SELECT ntg.train('bad', 'netdiffus', 'SELECT label, pl FROM nd_toy', '{"value_scale": "sqrt"}');
SELECT ntg.train('bad', 'netdiffus', 'SELECT label, pl FROM nd_toy', '{"ema": 1}');
SELECT ntg.train('bad', 'netdiffus', 'SELECT label, pl FROM nd_toy', '{"dim": 8}');
SELECT ntg.train('bad', 'netdiffus', 'SELECT label, pl FROM nd_toy', '{"sampling": {"steps": 0}}');
-- Guidance (on by default) needs the no-class input that cond_drop trains.
SELECT ntg.train('bad', 'netdiffus', 'SELECT label, pl FROM nd_toy', :'tiny'::jsonb || '{"cond_drop": 0}');
SELECT model FROM ntg.train('nd_nodrop', 'netdiffus', 'SELECT label, pl FROM nd_toy',
	:'tiny'::jsonb || '{"epochs": 2, "cond_drop": 0, "sampling": {"steps": 20, "guidance": 0}}');
SELECT config->'sampling'->>'guidance' AS guidance FROM ntg.describe_model('nd_nodrop');
SELECT count(*) FROM ntg.generate('nd_nodrop', n => 2, seed => 1);
SELECT count(*) FROM ntg.generate('nd_nodrop', n => 1, options => '{"guidance": 1}');
SELECT ntg.drop_model('nd_nodrop');
-- Errors of bad sampling options.
SELECT count(*) FROM ntg.generate('nd_toy', n => 1, options => '{"steps": 0}');
SELECT count(*) FROM ntg.generate('nd_toy', n => 1, options => '{"steps": 2.5}');
SELECT count(*) FROM ntg.generate('nd_toy', n => 1, options => '{"guidance": -1}');
SELECT count(*) FROM ntg.generate('nd_toy', n => 1, options => '{"refine": 3}');
SELECT count(*) FROM ntg.generate('nd_toy', n => 1, options => '{"eta": 2}');
SELECT count(*) FROM ntg.generate('nd_toy', n => 1, options => '{"ddim": 1}');
SELECT count(*) FROM ntg.generate('nd_toy', n => 1, options => '{"clip": "no"}');
SELECT count(*) FROM ntg.generate('nd_toy', n => 1, options => '{"spacing": 0.5}');
SELECT count(*) FROM ntg.generate('nd_toy', n => 1, options => '{"temperature": 1}');

SELECT ntg.drop_model('nd_toy');
SELECT ntg.drop_model('nd_val');
DROP TABLE nd_toy;
