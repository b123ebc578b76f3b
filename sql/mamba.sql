-- The mamba generator from SQL (docs/mamba.md): ntg.train with its hyperparameters, ntg.generate
-- with the token sampling options, the stored configuration, the checked loading of its weights,
-- and its errors.  Losses, timings and sampled values depend on floating point, so they are
-- compared, never printed.  Objects here have their own names (the database is shared).
SET ntg.progress = off;
CREATE FUNCTION pg_temp.fails(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN others THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

CREATE TABLE mb_toy (label text, pl integer[]);
INSERT INTO mb_toy SELECT 'web', '{100,-200,300}' FROM generate_series(1, 8);
INSERT INTO mb_toy SELECT 'web', '{100,-200}' FROM generate_series(1, 4);
INSERT INTO mb_toy SELECT 'dns', '{52,-52}' FROM generate_series(1, 8);
INSERT INTO mb_toy SELECT 'video', '{-1448,1448,-1448,1448}' FROM generate_series(1, 8);
INSERT INTO mb_toy SELECT 'gso', '{40000,-40000}' FROM generate_series(1, 4);
-- trained to the end: without the defaults' dropout and token noise
\set tiny '{"dim": 16, "inner_dim": 32, "n_layers": 2, "state_dim": 8, "epochs": 40, "batch_size": 8, "lr": 0.01, "seed": 7, "dropout": 0, "token_noise": 0}'

-- The kind is registered, with llama's sampling options (stratified draws by default).
SELECT kind, family, generates, classifies, validation, quantizable,
	   sampling_options->'temperature'->>'default' AS temperature,
	   sampling_options->'stratified'->>'default' AS stratified, tiny_hyperparams ? 'state_dim' AS tiny_has_state
FROM ntg.model_kinds() WHERE kind = 'mamba';
-- The validated defaults reach the stored configuration.
SELECT model, epochs FROM ntg.train('mb_dflt', 'mamba', 'SELECT label, pl FROM mb_toy',
	'{"dim": 8, "inner_dim": 16, "n_layers": 1, "state_dim": 4}');
SELECT config->>'epochs' AS epochs, (config->>'dropout')::float8 AS dropout, (config->>'token_noise')::float8 AS token_noise,
	   config->>'lr' AS lr, config->'sampling' AS sampling
FROM ntg.models WHERE name = 'mb_dflt';
SELECT ntg.drop_model('mb_dflt');

-- Training returns a summary row and stores the model with its full configuration.
SELECT model, kind, classes, train_rows, epochs, parameters > 0 AS has_parameters, bytes > 0 AS has_bytes
FROM ntg.train('mb', 'mamba', 'SELECT label, pl FROM mb_toy', :'tiny');
SELECT name, kind, epochs, loss_history[40] < loss_history[1] / 2 AS loss_fell,
	   config->>'dim' AS dim, config->>'inner_dim' AS inner_dim, config->>'n_layers' AS n_layers,
	   config->>'state_dim' AS state_dim, config->>'conv_width' AS conv_width,
	   config->>'dt_rank' AS dt_rank, config->>'max_len' AS max_len, config->>'n_values' AS n_values,
	   (config->>'params')::bigint = parameters AS params_agree
FROM ntg.models WHERE name = 'mb';
SELECT name, kind, format_version, classes, valid, problem, parameters = (config->>'params')::bigint AS params_agree
FROM ntg.describe_model('mb');

-- Sampling: every class, the training vocabulary, at most N values; the same seed, the same rows.
SELECT label, count(*) FROM ntg.generate('mb', n => 5, seed => 1) GROUP BY label ORDER BY label;
SELECT bool_and(v IN (SELECT DISTINCT unnest(pl) FROM mb_toy)) AS values_from_vocabulary,
	   max(cardinality(pl)) <= 4 AS lengths_ok
FROM ntg.generate('mb', n => 50, seed => 3) AS g, unnest(g.pl) AS v;
SELECT (SELECT array_agg(g::text) FROM ntg.generate('mb', n => 30, seed => 11) AS g)
	 = (SELECT array_agg(g::text) FROM ntg.generate('mb', n => 30, seed => 11) AS g) AS same_seed_same_rows;
SELECT (SELECT array_agg(g::text) FROM ntg.generate('mb', n => 30, seed => 11, options => '{"temperature": 3}') AS g)
	<> (SELECT array_agg(g::text) FROM ntg.generate('mb', n => 30, seed => 12, options => '{"temperature": 3}') AS g) AS other_seed_other_rows;
-- Greedy draws (top_k 1) give each class its most common training row, whatever the seed.
SELECT label, pl FROM ntg.generate('mb', n => 1, seed => 5, options => '{"top_k": 1}') ORDER BY label;
SELECT (SELECT array_agg(g::text) FROM ntg.generate('mb', n => 10, seed => 1, options => '{"top_k": 1}') AS g)
	 = (SELECT array_agg(g::text) FROM ntg.generate('mb', n => 10, seed => 2, options => '{"top_k": 1}') AS g) AS greedy_ignores_seed;
SELECT count(*) FROM ntg.generate('mb', n => 10, options => '{"top_p": 0.5, "temperature": 0.7}');
-- Stratified draws: a first value of probability q goes to floor(30 q) or ceil(30 q) of 30 rows,
-- so how many 'web' rows start with 100 (at a temperature that makes others likely) varies from
-- seed to seed by one row at most; with independent draws, by more.
WITH runs AS (
	SELECT s, strat, count(*) FILTER (WHERE g.pl[1] = 100) AS starts_100
	FROM generate_series(1, 20) AS s, (VALUES (false), (true)) AS v(strat),
		 LATERAL ntg.generate('mb', 'web', 30, s, jsonb_build_object('temperature', 3, 'stratified', strat)) AS g
	GROUP BY s, strat)
SELECT max(starts_100) FILTER (WHERE strat) - min(starts_100) FILTER (WHERE strat) <= 1 AS stratified_spread_one,
	   max(starts_100) FILTER (WHERE NOT strat) - min(starts_100) FILTER (WHERE NOT strat) > 1 AS independent_spread_more,
	   min(starts_100) FILTER (WHERE strat) < 30 AS not_all_100
FROM runs;
-- One row at a time through SQL follows the same model.
SELECT bool_and(g.pl IN (SELECT t.pl FROM mb_toy AS t WHERE t.label = 'dns')) AS single_rows_are_dns_rows
FROM generate_series(1, 20) AS s, LATERAL ntg.generate('mb', 'dns', 1, s, '{"temperature": 0.5}') AS g;
-- Sampling defaults stored at training time are used, and options override them.
SELECT model FROM ntg.train('mb_cold', 'mamba', 'SELECT label, pl FROM mb_toy',
	'{"dim": 8, "inner_dim": 16, "n_layers": 1, "state_dim": 4, "epochs": 2, "sampling": {"top_k": 1}}');
SELECT config->'sampling' AS stored_sampling FROM ntg.models WHERE name = 'mb_cold';
SELECT (SELECT array_agg(g::text) FROM ntg.generate('mb_cold', n => 5, seed => 1) AS g)
	 = (SELECT array_agg(g::text) FROM ntg.generate('mb_cold', n => 5, seed => 2) AS g) AS stored_greedy,
	   (SELECT array_agg(g::text) FROM ntg.generate('mb_cold', n => 20, seed => 1, options => '{"top_k": 0, "temperature": 5}') AS g)
	<> (SELECT array_agg(g::text) FROM ntg.generate('mb_cold', n => 20, seed => 2, options => '{"top_k": 0, "temperature": 5}') AS g) AS overridden;
SELECT ntg.drop_model('mb_cold');
-- Validation and early stopping come from the driver.
SELECT model, epochs <= 30 AS stopped, best_epoch > 0 AS has_best
FROM ntg.train('mb_val', 'mamba', 'SELECT label, pl FROM mb_toy',
	'{"dim": 8, "inner_dim": 16, "n_layers": 1, "state_dim": 4, "epochs": 30, "validation": 0.25, "patience": 3, "seed": 2}');
SELECT ntg.drop_model('mb_val');
-- Token noise and dropout train, and change the weights.
SELECT model FROM ntg.train('mb_noisy', 'mamba', 'SELECT label, pl FROM mb_toy',
	'{"dim": 16, "inner_dim": 32, "n_layers": 2, "state_dim": 8, "epochs": 40, "batch_size": 8, "lr": 0.01, "seed": 7, "token_noise": 0.5, "dropout": 0.2}');
SELECT (SELECT weights FROM ntg.models WHERE name = 'mb_noisy') <> (SELECT weights FROM ntg.models WHERE name = 'mb') AS noise_changes_training;
SELECT ntg.drop_model('mb_noisy');

-- Errors of the hyperparameters and the sampling options.
SELECT ntg.train('mb_bad', 'mamba', 'SELECT label, pl FROM mb_toy', '{"n_heads": 2}');
SELECT ntg.train('mb_bad', 'mamba', 'SELECT label, pl FROM mb_toy', '{"state_dim": 0}');
SELECT ntg.train('mb_bad', 'mamba', 'SELECT label, pl FROM mb_toy', '{"conv_width": 17}');
SELECT ntg.train('mb_bad', 'mamba', 'SELECT label, pl FROM mb_toy', '{"dt_rank": -1}');
SELECT ntg.train('mb_bad', 'mamba', 'SELECT label, pl FROM mb_toy', '{"inner_dim": 1.5}');
SELECT ntg.train('mb_bad', 'mamba', 'SELECT label, pl FROM mb_toy', '{"dropout": 0.95}');
SELECT ntg.train('mb_bad', 'mamba', 'SELECT label, pl FROM mb_toy', '{"lr_schedule": "linear"}');
SELECT ntg.train('mb_bad', 'mamba', 'SELECT label, pl FROM mb_toy', '{"sampling": {"steps": 10}}');
SELECT * FROM ntg.generate('mb', options => '{"temperature": 0}');
SELECT * FROM ntg.generate('mb', options => '{"top_k": -1}');
SELECT * FROM ntg.generate('mb', options => '{"guidance": 2}');
SELECT array_agg(name) AS no_bad_model FROM ntg.models WHERE name LIKE 'mb%';

-- Damaged weights are refused with data_corrupted (XX001).
INSERT INTO ntg.models (name, kind, config, classes, weights)
	SELECT 'mb_copy', kind, config, classes, weights FROM ntg.models WHERE name = 'mb';
SELECT count(*) FROM ntg.generate('mb_copy', n => 2);
UPDATE ntg.models SET weights = overlay(weights PLACING '\x00'::bytea FROM 200) WHERE name = 'mb_copy';
SELECT pg_temp.fails($$SELECT * FROM ntg.generate('mb_copy')$$);
SELECT valid, problem FROM ntg.describe_model('mb_copy');
UPDATE ntg.models SET weights = (SELECT substring(weights FROM 1 FOR octet_length(weights) - 7) FROM ntg.models WHERE name = 'mb') WHERE name = 'mb_copy';
SELECT pg_temp.fails($$SELECT * FROM ntg.generate('mb_copy')$$);
-- The kind column must agree with the weights.
UPDATE ntg.models SET weights = (SELECT weights FROM ntg.models WHERE name = 'mb'), kind = 'llama' WHERE name = 'mb_copy';
SELECT pg_temp.fails($$SELECT * FROM ntg.generate('mb_copy')$$);
UPDATE ntg.models SET kind = 'mamba' WHERE name = 'mb_copy';
SELECT count(*) FROM ntg.generate('mb_copy', n => 2);
SELECT ntg.drop_model('mb_copy');
SELECT ntg.drop_model('mb');
DROP TABLE mb_toy;
