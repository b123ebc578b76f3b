-- Generative models from SQL (docs/models.md): ntg.train, ntg.generate, model management, the
-- checked loading of stored weights, and every error they raise.  Losses, timings and sampled
-- values depend on floating point, so they are compared, never printed.  The database is shared
-- with the other test files: every object here has its own name, and queries look at these only.
SET ntg.progress = off;
-- The SQLSTATE and message of a statement that fails (for the codes docs/README.md lists).
CREATE FUNCTION pg_temp.fails(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN others THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

CREATE TABLE m_toy (label text, pl smallint[]);
INSERT INTO m_toy SELECT 'web', '{100,-200,300}' FROM generate_series(1, 8);
INSERT INTO m_toy SELECT 'web', '{100,-200}' FROM generate_series(1, 4);
INSERT INTO m_toy SELECT 'dns', '{52,-52}' FROM generate_series(1, 8);
INSERT INTO m_toy SELECT 'video', '{-1448,1448,-1448,1448}' FROM generate_series(1, 8);
-- No dropout or token noise (llama's defaults have both): this toy must learn its rows exactly.
\set tiny '{"dim": 16, "hidden_dim": 32, "n_layers": 1, "n_heads": 2, "epochs": 40, "batch_size": 8, "dropout": 0, "token_noise": 0, "seed": 7}'

-- Training returns a summary row and stores the model.  Parameters: vocabulary V = 7 values +
-- <EOS> + <PAD> + 3 classes = 12, dim C = 16, hidden H = 32, one layer: 2 V C + C + (2 C + 4 C^2 +
-- 3 C H) = 2992; the stored model holds them as float32.  The training time lies within the
-- statement's own.
SELECT model, kind, version, classes, train_rows, epochs, parameters, bytes > 4 * parameters AS bytes_hold_weights,
	   train_seconds > 0 AND train_seconds < extract(epoch FROM clock_timestamp() - statement_timestamp()) AS timed
FROM ntg.train('toy', 'llama', 'SELECT label, pl FROM m_toy', :'tiny');
SELECT name, kind, classes, train_rows, epochs, cardinality(loss_history) AS losses,
	   loss_history[40] < loss_history[1] / 2 AS loss_fell,
	   train_seconds > 0 AND train_seconds < extract(epoch FROM clock_timestamp() - created_at) AS timed,
	   parameters, bytes = octet_length(weights) AS bytes_ok, version,
	   created_at = updated_at AS fresh, config->>'dim' AS dim, config->>'n_layers' AS n_layers
FROM ntg.models WHERE name = 'toy';

-- Sampling: n rows per class, every class in order, or one class.
SELECT label, count(*) FROM ntg.generate('toy', n => 5, seed => 1) GROUP BY label ORDER BY label;
SELECT label, count(*) FROM ntg.generate('toy', 'dns', 3) GROUP BY label;
SELECT count(*) FROM ntg.generate('toy');	-- 100 per class by default
-- Rows of a class do not depend on the other classes being asked for.
SELECT (SELECT array_agg(pl::text) FROM ntg.generate('toy', 'web', 20, 5))
	 = (SELECT array_agg(pl::text) FROM ntg.generate('toy', NULL, 20, 5) WHERE label = 'web')
	AS class_rows_independent;
-- The same seed gives the same rows; another seed (at a high temperature) others.
SELECT (SELECT array_agg(g::text) FROM ntg.generate('toy', n => 30, seed => 11) AS g)
	 = (SELECT array_agg(g::text) FROM ntg.generate('toy', n => 30, seed => 11) AS g) AS same_seed_same_rows;
SELECT (SELECT array_agg(g::text) FROM ntg.generate('toy', n => 30, seed => 11, options => '{"temperature": 3}') AS g)
	<> (SELECT array_agg(g::text) FROM ntg.generate('toy', n => 30, seed => 12, options => '{"temperature": 3}') AS g) AS other_seed_other_rows;
-- Greedy decoding (top_k = 1) ignores the seed.
SELECT (SELECT array_agg(g::text) FROM ntg.generate('toy', n => 10, seed => 1, options => '{"top_k": 1}') AS g)
	 = (SELECT array_agg(g::text) FROM ntg.generate('toy', n => 10, seed => 2, options => '{"top_k": 1}') AS g) AS greedy_ignores_seed;
SELECT count(*) FROM ntg.generate('toy', n => 10, options => '{"top_p": 0.5, "temperature": 0.7}');
-- Many calls of one statement (a LATERAL call per row) look the model's row up once: ntg.models
-- is read once for the statement's 40 calls, not 40 times (its scan counters, flushed before and
-- after); the next statement looks it up again.
SELECT pg_stat_force_next_flush();
CREATE TEMP TABLE m_scans AS
	SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) AS n FROM pg_stat_user_tables
	WHERE relid = 'ntg.models'::regclass;
SELECT count(*) FROM generate_series(1, 40) AS s, LATERAL ntg.generate('toy', 'dns', 1, s);
SELECT count(*) FROM generate_series(1, 40) AS s, LATERAL ntg.generate('toy', 'web', 1, s);
SELECT pg_stat_force_next_flush();
SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) - (SELECT n FROM m_scans) AS lookups
FROM pg_stat_user_tables WHERE relid = 'ntg.models'::regclass;
-- The planner estimates n rows for a class, n per class for 10 classes without a label, and the
-- declared 1000 when n is not a constant; a statement of 5,000 one-row calls is then cheap enough
-- to run without JIT compilation.
CREATE FUNCTION pg_temp.plan_rows(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	j json;
BEGIN
	EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO j;
	RETURN (j -> 0 -> 'Plan' ->> 'Plan Rows') || coalesce(' ' || (j -> 0 -> 'Plan' ->> 'Node Type'), '');
END $$;
SELECT pg_temp.plan_rows($q$SELECT * FROM ntg.generate('toy', 'dns', 7)$q$) AS one_class,
	pg_temp.plan_rows($q$SELECT * FROM ntg.generate('toy', n => 3)$q$) AS every_class,
	pg_temp.plan_rows($q$SELECT * FROM ntg.generate('toy', 'dns')$q$) AS default_n,
	pg_temp.plan_rows($q$SELECT * FROM generate_series(1, 3) s, ntg.generate('toy', 'dns', s)$q$) AS n_not_constant;
CREATE FUNCTION pg_temp.jit_planned(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	l text;
BEGIN
	FOR l IN EXECUTE 'EXPLAIN ' || q LOOP
		IF l LIKE 'JIT:%' THEN
			RETURN true;
		END IF;
	END LOOP;
	RETURN false;
END $$;
SET jit = on;
SET jit_above_cost = 100000;
SELECT pg_temp.jit_planned($q$SELECT count(*) FROM generate_series(1, 5000) AS s,
	LATERAL ntg.generate('toy', 'dns', 1, s)$q$) AS jit_for_5000_one_row_calls;
RESET jit;
RESET jit_above_cost;
-- "stratified": the n rows of a class are one stratified sample of the model (docs/models.md).
-- A first token of probability q goes to floor(30 q) or ceil(30 q) of 30 rows, so how many 'web'
-- rows start with 100 varies from seed to seed by one row at most (independent draws: by more).
WITH runs AS (
	SELECT s, strat, count(*) FILTER (WHERE g.pl[1] = 100) AS starts_100
	FROM generate_series(1, 20) AS s, (VALUES (false), (true)) AS v(strat),
		 LATERAL ntg.generate('toy', 'web', 30, s, jsonb_build_object('temperature', 1.5, 'stratified', strat)) AS g
	GROUP BY s, strat)
SELECT max(starts_100) FILTER (WHERE strat) - min(starts_100) FILTER (WHERE strat) <= 1 AS stratified_spread_one,
	   max(starts_100) FILTER (WHERE NOT strat) - min(starts_100) FILTER (WHERE NOT strat) > 1 AS independent_spread_more,
	   min(starts_100) FILTER (WHERE strat) < 30 AS not_all_100
FROM runs;
SELECT (SELECT array_agg(g::text) FROM ntg.generate('toy', n => 30, seed => 11, options => '{"stratified": true}') AS g)
	 = (SELECT array_agg(g::text) FROM ntg.generate('toy', n => 30, seed => 11, options => '{"stratified": true}') AS g) AS stratified_same_seed,
	   (SELECT array_agg(g::text) FROM ntg.generate('toy', n => 30, seed => 11, options => '{"stratified": true}') AS g)
	<> (SELECT array_agg(g::text) FROM ntg.generate('toy', n => 30, seed => 11, options => '{"stratified": false}') AS g) AS stratified_differs;
-- Generated values come from the training vocabulary; lengths stay within the first N packets.
SELECT bool_and(v IN (SELECT DISTINCT unnest(pl) FROM m_toy)) AS values_from_vocabulary
FROM ntg.generate('toy', n => 50, seed => 3) AS g, unnest(g.pl) AS v;
SELECT max(cardinality(pl)) <= 10 AS lengths_ok FROM ntg.generate('toy', n => 50, seed => 3);
-- The tiny model has learnt its classes: most greedy rows are training rows of their class.
SELECT label, (pl::integer[] IN (SELECT t.pl::integer[] FROM m_toy AS t WHERE t.label = g.label)) AS is_training_row
FROM ntg.generate('toy', n => 1, options => '{"top_k": 1}') AS g ORDER BY label;
-- In a select list rows are made on demand: a LIMIT stops the sampling of two billion rows.
SELECT count(*) FROM (SELECT (ntg.generate('toy', n => 2000000000)).label LIMIT 5) AS s;
-- integer[] rows, as in ntg.biflows and every other function's pl.
SELECT pg_typeof(pl), count(*) FROM ntg.generate('toy', 'video', 4) GROUP BY 1;
-- Values beyond smallint come back exactly.
SELECT model, classes FROM ntg.train('big', 'llama', 'SELECT ''gso''::text, ARRAY[40000, -40000] FROM generate_series(1, 8)',
	'{"dim": 8, "hidden_dim": 16, "n_layers": 1, "n_heads": 1, "epochs": 30, "seed": 1}');
SELECT * FROM ntg.generate('big', n => 1, options => '{"top_k": 1}');
SELECT ntg.drop_model('big');
-- Usable in joins and INSERTs like any table.
CREATE TABLE m_synth AS SELECT * FROM ntg.generate('toy', n => 4, seed => 9);
SELECT s.label, count(*) FROM m_synth AS s JOIN (SELECT DISTINCT label FROM m_toy) AS r USING (label)
GROUP BY 1 ORDER BY 1;

-- The classifier's experiment functions reach generators through ntg.generate (sql/ext/45_experiments.sql).
SELECT label, count(*) FROM ntg.synthesize('toy', 'SELECT label, pl FROM m_toy', 10, top_up => false)
GROUP BY 1 ORDER BY 1;
-- Determinism: training again with the same seed gives the same weights and the same rows.
SELECT model, version FROM ntg.train('toy_again', 'llama', 'SELECT label, pl FROM m_toy', :'tiny');
SELECT a.weights = b.weights AS same_weights, a.loss_history = b.loss_history AS same_losses
FROM ntg.models AS a, ntg.models AS b WHERE a.name = 'toy' AND b.name = 'toy_again';
SELECT (SELECT array_agg(g::text) FROM ntg.generate('toy', n => 30, seed => 4) AS g)
	 = (SELECT array_agg(g::text) FROM ntg.generate('toy_again', n => 30, seed => 4) AS g) AS same_rows;
-- token_noise (blanking history inputs while training) is stored in the config and changes training.
SELECT model FROM ntg.train('toy_noisy', 'llama', 'SELECT label, pl FROM m_toy',
							jsonb_set(:'tiny'::jsonb, '{token_noise}', '0.5'));
SELECT b.config->'token_noise' AS noisy, a.config->'token_noise' AS plain, a.weights <> b.weights AS other_weights
FROM ntg.models AS a, ntg.models AS b WHERE a.name = 'toy' AND b.name = 'toy_noisy';
SELECT ntg.drop_model('toy_noisy');
-- half_weights (default true: matrices rounded to float16 values) is stored in the config; false
-- keeps the float32 weights training reached, which differ.
SELECT model FROM ntg.train('toy_f32', 'llama', 'SELECT label, pl FROM m_toy',
							jsonb_set(:'tiny'::jsonb, '{half_weights}', 'false'));
SELECT a.config->'half_weights' AS rounded, b.config->'half_weights' AS float32, a.weights <> b.weights AS other_weights
FROM ntg.models AS a, ntg.models AS b WHERE a.name = 'toy' AND b.name = 'toy_f32';
SELECT ntg.drop_model('toy_f32');
-- int[] sources work too, and replace => true overwrites and bumps the version.
SELECT model, version, classes, train_rows
FROM ntg.train('toy_again', 'llama', 'SELECT label, pl::integer[] FROM m_toy WHERE label <> ''dns''',
			   '{"dim": 8, "hidden_dim": 16, "n_layers": 1, "n_heads": 1, "epochs": 2}', replace => true);
SELECT name, classes, version, created_at < updated_at AS updated FROM ntg.models WHERE name LIKE 'toy%' ORDER BY name;

-- Management.
-- toy_again: V = 5 values + 2 + 2 classes = 9, C = 8, H = 16: 2 V C + C + (2 C + 4 C^2 + 3 C H) = 808.
SELECT l.name, l.kind, l.classes, l.parameters, l.bytes = octet_length(m.weights) AS bytes_ok, l.epochs,
	   l.final_loss = m.loss_history[m.epochs] AS final_loss_is_last, l.version
FROM ntg.list_models() AS l JOIN ntg.models AS m USING (name) WHERE name LIKE 'toy%' ORDER BY l.name;
SELECT name, kind, version, format_version, classes, epochs, cardinality(loss_history) AS losses,
	   valid, problem, config ? 'dim' AS has_config
FROM ntg.describe_model('toy');
SELECT ntg.rename_model('toy_again', 'toy2');
SELECT name FROM ntg.list_models() WHERE name LIKE 'toy%';
SELECT ntg.drop_model('toy2');
SELECT ntg.drop_model('toy2', if_exists => true);
SELECT name FROM ntg.list_models() WHERE name LIKE 'toy%';

-- Errors of ntg.train.
SELECT ntg.train('bad', 'gpt', 'SELECT label, pl FROM m_toy');
SELECT ntg.train('toy', 'llama', 'SELECT label, pl FROM m_toy', :'tiny');
SELECT ntg.train('bad', 'llama', 'SELECT label, pl FROM m_toy', '{"dimm": 8}');
SELECT ntg.train('bad', 'llama', 'SELECT label, pl FROM m_toy', '{"dim": 1}');
SELECT ntg.train('bad', 'llama', 'SELECT label, pl FROM m_toy', '{"epochs": -1}');
SELECT ntg.train('bad', 'llama', 'SELECT label, pl FROM m_toy', '{"token_noise": 1}');
SELECT ntg.train('bad', 'llama', 'SELECT label, pl FROM m_toy', '{"half_weights": 1}');
SELECT ntg.train('bad', 'llama', 'SELECT label, pl FROM m_toy', '{"dim": 12, "n_heads": 4}');
SELECT ntg.train('bad', 'llama', 'SELECT label, pl FROM m_toy', '{"dim": "large"}');
SELECT ntg.train('bad', 'llama', 'SELECT label, pl FROM m_toy', '[1, 2]');
SELECT ntg.train('bad', 'llama', 'SELECT label, pl FROM m_toy', '{"dim": [8]}');
SELECT pg_temp.fails($$SELECT ntg.train('bad', 'llama', 'SELECT label FROM m_toy')$$);
SELECT ntg.train('bad', 'llama', 'SELECT pl, label FROM m_toy');
SELECT ntg.train('bad', 'llama', 'SELECT label, pl::text FROM m_toy');
SELECT ntg.train('bad', 'llama', 'SELEC label, pl FROM m_toy');
SELECT ntg.train('bad', 'llama', 'SELECT label, pl FROM m_toy WHERE false');
SELECT ntg.train('bad', 'llama', 'SELECT ''a'', ''{}''::smallint[] FROM generate_series(1, 3)');
SELECT ntg.train('bad', 'llama', 'SELECT NULL::text, pl FROM m_toy');
SELECT ntg.train('bad', 'llama', 'SELECT label, ''{1,NULL}''::smallint[] FROM m_toy');
SELECT ntg.train('bad', 'llama', 'SELECT label, ''{{1,2},{3,4}}''::smallint[] FROM m_toy');
SELECT ntg.train('bad', 'llama', 'SELECT label, pl FROM no_such_table');
SELECT ntg.train('bad', 'llama', 'INSERT INTO m_toy VALUES (''x'', ''{1}'')');
SELECT ntg.train(NULL, 'llama', 'SELECT label, pl FROM m_toy');
SELECT ntg.train('', 'llama', 'SELECT label, pl FROM m_toy');
SELECT ntg.train('bad', 'llama', NULL);
BEGIN READ ONLY;
SELECT ntg.train('bad', 'llama', 'SELECT label, pl FROM m_toy');
ROLLBACK;
SELECT array_agg(name) AS no_bad_model FROM ntg.models WHERE name IN ('toy', 'toy_again', 'toy2', 'bad');

-- Errors of ntg.generate and the management functions.
SELECT * FROM ntg.generate('nope');
SELECT * FROM ntg.generate('toy', 'nope');
SELECT * FROM ntg.generate('toy', n => 0);
SELECT * FROM ntg.generate('toy', options => '{"temperature": 0}');
SELECT * FROM ntg.generate('toy', options => '{"temperature": "hot"}');
SELECT * FROM ntg.generate('toy', options => '{"top_k": -1}');
SELECT * FROM ntg.generate('toy', options => '{"top_k": 1.5}');
SELECT * FROM ntg.generate('toy', options => '{"top_p": 0}');
SELECT * FROM ntg.generate('toy', options => '{"top_p": 1.5}');
SELECT * FROM ntg.generate('toy', options => '{"stratified": 1}');
SELECT * FROM ntg.generate('toy', options => '{"steps": 50}');
SELECT * FROM ntg.generate('toy', options => '{"sampling": {"top_k": 1}}');
SELECT * FROM ntg.generate('toy', options => '[1]');
SELECT * FROM ntg.generate('toy', n => NULL);
SELECT * FROM ntg.generate('toy', seed => NULL);
SELECT * FROM ntg.generate('toy', options => NULL);
SELECT * FROM ntg.generate(NULL);
SELECT * FROM ntg.describe_model('nope');
SELECT ntg.rename_model('nope', 'x');
SELECT ntg.rename_model('toy', '');
INSERT INTO ntg.models (name, kind, config, classes, weights) SELECT 'copy', kind, config, classes, weights FROM ntg.models WHERE name = 'toy';
SELECT ntg.rename_model('toy', 'copy');
SELECT ntg.drop_model('nope');

-- Damaged weights are refused with data_corrupted (XX001), also after the model was cached.
SELECT count(*) FROM ntg.generate('copy', n => 2);
UPDATE ntg.models SET weights = overlay(weights PLACING '\xff'::bytea FROM 100) WHERE name = 'copy';
SELECT version FROM ntg.models WHERE name = 'copy';	-- bumped by the trigger
SELECT pg_temp.fails($$SELECT * FROM ntg.generate('copy')$$);
SELECT * FROM ntg.generate('copy');
SELECT valid, problem FROM ntg.describe_model('copy');
-- Truncated.
UPDATE ntg.models SET weights = (SELECT substring(weights FROM 1 FOR 1000) FROM ntg.models WHERE name = 'toy') WHERE name = 'copy';
SELECT pg_temp.fails($$SELECT * FROM ntg.generate('copy')$$);
-- Not a model at all (a PNG header), and empty.
UPDATE ntg.models SET weights = '\x89504e470d0a1a0a0000000d49484452'::bytea WHERE name = 'copy';
SELECT pg_temp.fails($$SELECT * FROM ntg.generate('copy')$$);
SELECT valid, problem, format_version FROM ntg.describe_model('copy');
UPDATE ntg.models SET weights = '' WHERE name = 'copy';
SELECT pg_temp.fails($$SELECT * FROM ntg.generate('copy')$$);
-- A kind column that disagrees with the weights.
UPDATE ntg.models SET weights = (SELECT weights FROM ntg.models WHERE name = 'toy'), kind = 'random_forest' WHERE name = 'copy';
SELECT pg_temp.fails($$SELECT * FROM ntg.generate('copy')$$);
SELECT * FROM ntg.generate('copy');
SELECT valid, problem FROM ntg.describe_model('copy');
-- Restored, it works again.
UPDATE ntg.models SET kind = 'llama' WHERE name = 'copy';
SELECT count(*) FROM ntg.generate('copy', n => 2);
SELECT ntg.drop_model('copy');

-- Training rolls back with its transaction; no memory context is left behind.
BEGIN;
SELECT model FROM ntg.train('in_tx', 'llama', 'SELECT label, pl FROM m_toy', '{"dim": 8, "hidden_dim": 16, "n_layers": 1, "n_heads": 1, "epochs": 1}');
ROLLBACK;
SELECT count(*) AS no_in_tx FROM ntg.models WHERE name = 'in_tx';
SELECT count(*) AS train_contexts FROM pg_backend_memory_contexts WHERE name = 'ntg train';
SELECT ntg.drop_model('toy');

-- The extension dropped and created again in the same session: saved lookups and cached models
-- follow the new table.
SELECT model FROM ntg.train('again', 'llama', 'SELECT label, pl FROM m_toy', '{"dim": 8, "hidden_dim": 16, "n_layers": 1, "n_heads": 1, "epochs": 1}');
SELECT count(*) FROM ntg.generate('again', n => 2);
DROP EXTENSION ntg;
CREATE EXTENSION ntg;
SET ntg.progress = off;
SELECT * FROM ntg.generate('again');
SELECT model FROM ntg.train('again', 'llama', 'SELECT label, pl FROM m_toy WHERE label = ''dns''', '{"dim": 8, "hidden_dim": 16, "n_layers": 1, "n_heads": 1, "epochs": 1}');
SELECT label, count(*) FROM ntg.generate('again', n => 2) GROUP BY label;
SELECT ntg.drop_model('again');
