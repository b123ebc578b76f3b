-- int8 post-training quantization from SQL (docs/quantization.md): ntg.quantize in both
-- modes, what list_models() and describe_model() show, generation from int8 models, damaged int8
-- values, and every error ntg.quantize raises.  Sampled values depend on floating point and on the
-- CPU's vector instructions, so they are compared, never printed.
SET ntg.progress = off;
CREATE FUNCTION pg_temp.fails(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN others THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

CREATE TABLE q_toy (label text, pl integer[]);
INSERT INTO q_toy SELECT 'web', '{100,-200,300}' FROM generate_series(1, 8);
INSERT INTO q_toy SELECT 'web', '{100,-200}' FROM generate_series(1, 4);
INSERT INTO q_toy SELECT 'dns', '{52,-52}' FROM generate_series(1, 8);
INSERT INTO q_toy SELECT 'video', '{-1448,1448,-1448,1448}' FROM generate_series(1, 8);
SELECT model, parameters FROM ntg.train('q_float', 'llama', 'SELECT label, pl FROM q_toy',
	'{"dim": 32, "hidden_dim": 64, "n_layers": 2, "n_heads": 2, "epochs": 40, "batch_size": 8,
	  "dropout": 0, "token_noise": 0, "seed": 7}');

-- Both modes: int8 weights (1 byte each) and a float scale per row, about a third of the float
-- model even at this tiny size (the paper's size: a quarter).
SELECT model, kind, quantization, version, parameters, bytes < source_bytes * 0.4 AS smaller,
	   source_bytes = (SELECT bytes FROM ntg.models WHERE name = 'q_float') AS source_bytes_ok
FROM ntg.quantize('q_float', 'q_dyn');
SELECT model, quantization, bytes < source_bytes * 0.4 AS smaller
FROM ntg.quantize('q_float', 'q_wo', mode => 'weight_only');
SELECT name, kind, parameters, quantization, epochs, bytes < 40000 AS small
FROM ntg.list_models() WHERE name LIKE 'q\_%' ORDER BY name;
-- The quantized rows keep the source's training record; the config says the mode.
SELECT d.name, d.valid, d.problem, d.config->>'quantization' AS quantization, d.config->>'dim' AS dim,
	   d.loss_history = f.loss_history AS same_losses, d.train_rows = f.train_rows AS same_rows,
	   d.classes = f.classes AS same_classes
FROM ntg.describe_model('q_dyn') AS d, ntg.models AS f WHERE f.name = 'q_float'
UNION ALL
SELECT d.name, d.valid, d.problem, d.config->>'quantization', d.config->>'dim',
	   d.loss_history = f.loss_history, d.train_rows = f.train_rows, d.classes = f.classes
FROM ntg.describe_model('q_wo') AS d, ntg.models AS f WHERE f.name = 'q_float';
SELECT kind, quantizable FROM ntg.model_kinds() ORDER BY kind;

-- Generation: rows of every class, values of the training rows, the same seed the same rows, and
-- (this toy model is nearly sure of its rows) the float model's rows almost everywhere, row for row
-- when rows are drawn independently (a stratified batch maps its draws to rows as a whole).
SELECT label, count(*) FROM ntg.generate('q_dyn', n => 50, seed => 1) GROUP BY label ORDER BY label;
SELECT count(*) AS unknown_values FROM ntg.generate('q_wo', n => 50, seed => 1) AS g, unnest(g.pl) AS v
WHERE v NOT IN (SELECT unnest(pl) FROM q_toy);
SELECT (SELECT array_agg(pl::text) FROM ntg.generate('q_dyn', n => 20, seed => 5)) =
	   (SELECT array_agg(pl::text) FROM ntg.generate('q_dyn', n => 20, seed => 5)) AS same_seed_same_rows;
SELECT m.name, avg((f.pl = g.pl)::int) >= 0.9 AS mostly_the_float_rows
FROM (VALUES ('q_dyn'), ('q_wo')) AS m(name),
	 LATERAL (SELECT row_number() OVER () AS i, pl
			  FROM ntg.generate('q_float', n => 100, seed => 3, options => '{"stratified": false}')) AS f,
	 LATERAL (SELECT row_number() OVER () AS i, pl
			  FROM ntg.generate(m.name, n => 100, seed => 3, options => '{"stratified": false}')) AS g
WHERE f.i = g.i GROUP BY m.name ORDER BY m.name;
SELECT name, kind, one_row_ms > 0 AS timed FROM ntg.profile_model('q_dyn', n => 10);

-- A mamba quantizes the same way (the mixers' projections, the embedding and the head in int8):
-- listed and described with its mode, generates rows of the training values (mostly the float
-- model's rows under the same seeds), and damage is refused.  No SQL function trains a stored
-- model further (the C core refuses it for an int8 one): ntg.train with replace stores a fresh
-- float model under the int8 one's name, the documented way to train again.
SELECT model, parameters FROM ntg.train('q_mamba', 'mamba', 'SELECT label, pl FROM q_toy',
	'{"dim": 16, "inner_dim": 32, "n_layers": 2, "state_dim": 4, "epochs": 40, "batch_size": 8,
	  "lr": 0.02, "dropout": 0, "token_noise": 0, "seed": 7}');
SELECT model, kind, quantization, parameters, bytes < source_bytes * 0.6 AS smaller
FROM ntg.quantize('q_mamba', 'q_mamba_dyn');
SELECT model, kind, quantization, bytes < source_bytes * 0.6 AS smaller
FROM ntg.quantize('q_mamba', 'q_mamba_wo', mode => 'weight_only');
SELECT name, kind, parameters, quantization FROM ntg.list_models() WHERE name LIKE 'q\_mamba%' ORDER BY name;
SELECT d.name, d.valid, d.config->>'quantization' AS quantization, d.config->>'dim' AS dim,
	   d.loss_history = f.loss_history AS same_losses
FROM ntg.describe_model('q_mamba_dyn') AS d, ntg.models AS f WHERE f.name = 'q_mamba';
SELECT label, count(*) FROM ntg.generate('q_mamba_dyn', n => 30, seed => 1) GROUP BY label ORDER BY label;
SELECT count(*) AS unknown_values FROM ntg.generate('q_mamba_wo', n => 50, seed => 1) AS g, unnest(g.pl) AS v
WHERE v NOT IN (SELECT unnest(pl) FROM q_toy);
SELECT m.name, avg((f.pl = g.pl)::int) >= 0.9 AS mostly_the_float_rows
FROM (VALUES ('q_mamba_dyn'), ('q_mamba_wo')) AS m(name),
	 LATERAL (SELECT row_number() OVER () AS i, pl
			  FROM ntg.generate('q_mamba', n => 100, seed => 3, options => '{"stratified": false}')) AS f,
	 LATERAL (SELECT row_number() OVER () AS i, pl
			  FROM ntg.generate(m.name, n => 100, seed => 3, options => '{"stratified": false}')) AS g
WHERE f.i = g.i GROUP BY m.name ORDER BY m.name;
UPDATE ntg.models SET weights = substring(weights FROM 1 FOR octet_length(weights) - 9)
WHERE name = 'q_mamba_wo';
SELECT pg_temp.fails($$SELECT * FROM ntg.generate('q_mamba_wo')$$);
SELECT model, kind, version FROM ntg.train('q_mamba_wo', 'mamba', 'SELECT label, pl FROM q_toy',
	'{"dim": 16, "inner_dim": 32, "n_layers": 1, "state_dim": 4, "epochs": 2, "batch_size": 8}',
	replace => true);
SELECT name, quantization FROM ntg.list_models() WHERE name = 'q_mamba_wo';
SELECT ntg.drop_model(name) FROM ntg.list_models() WHERE name LIKE 'q\_mamba%' ORDER BY name;

-- A cvae quantizes too (every layer's weight and the input embedding in int8, the biases float):
-- listed with its mode, generates rows of the training values, mostly the float model's rows
-- under the same seeds.
SELECT model, parameters FROM ntg.train('q_cvae', 'cvae', 'SELECT label, pl FROM q_toy',
	'{"hidden1": 48, "hidden2": 32, "latent_dim": 4, "embed_dim": 8, "epochs": 60, "batch_size": 8,
	  "seed": 7}');
SELECT model, kind, quantization, parameters, bytes < source_bytes * 0.6 AS smaller
FROM ntg.quantize('q_cvae', 'q_cvae_dyn');
SELECT model, kind, quantization, bytes < source_bytes * 0.6 AS smaller
FROM ntg.quantize('q_cvae', 'q_cvae_wo', mode => 'weight_only');
SELECT name, kind, parameters, quantization FROM ntg.list_models() WHERE name LIKE 'q\_cvae%' ORDER BY name;
SELECT label, count(*) FROM ntg.generate('q_cvae_dyn', n => 30, seed => 1) GROUP BY label ORDER BY label;
SELECT count(*) AS unknown_values FROM ntg.generate('q_cvae_wo', n => 50, seed => 1) AS g, unnest(g.pl) AS v
WHERE v NOT IN (SELECT unnest(pl) FROM q_toy);
SELECT m.name, avg((f.pl = g.pl)::int) >= 0.9 AS mostly_the_float_rows
FROM (VALUES ('q_cvae_dyn'), ('q_cvae_wo')) AS m(name),
	 LATERAL (SELECT row_number() OVER () AS i, pl FROM ntg.generate('q_cvae', n => 100, seed => 3)) AS f,
	 LATERAL (SELECT row_number() OVER () AS i, pl FROM ntg.generate(m.name, n => 100, seed => 3)) AS g
WHERE f.i = g.i GROUP BY m.name ORDER BY m.name;
SELECT ntg.drop_model(name) FROM ntg.list_models() WHERE name LIKE 'q\_cvae%' ORDER BY name;

-- So does a netdiffus (the convolutions, attention and embedding layers in int8): listed with its
-- mode, its rows of the training values in every class.
SELECT model, parameters > 0 AS has_parameters FROM ntg.train('q_nd', 'netdiffus', 'SELECT label, pl FROM q_toy',
	(SELECT tiny_hyperparams FROM ntg.model_kinds() WHERE kind = 'netdiffus'));
SELECT model, kind, quantization, bytes < source_bytes * 0.6 AS smaller
FROM ntg.quantize('q_nd', 'q_nd_dyn');
SELECT model, kind, quantization, bytes < source_bytes * 0.6 AS smaller
FROM ntg.quantize('q_nd', 'q_nd_wo', mode => 'weight_only');
SELECT label, count(*) FROM ntg.generate('q_nd_dyn', n => 10, seed => 1) GROUP BY label ORDER BY label;
SELECT count(*) AS unknown_values FROM ntg.generate('q_nd_wo', n => 10, seed => 1) AS g, unnest(g.pl) AS v
WHERE v NOT IN (SELECT unnest(pl) FROM q_toy);
SELECT ntg.drop_model(name) FROM ntg.list_models() WHERE name LIKE 'q\_nd%' ORDER BY name;

-- Quantizing again changes the mode only: the weight-only model made dynamic is q_dyn, byte for
-- byte; quantizing in place (replace) works too.
SELECT model, quantization FROM ntg.quantize('q_wo', 'q_wo_dyn', 'dynamic');
SELECT (SELECT weights FROM ntg.models WHERE name = 'q_wo_dyn') =
	   (SELECT weights FROM ntg.models WHERE name = 'q_dyn') AS same_int8_weights;
SELECT model, quantization, version FROM ntg.quantize('q_wo_dyn', 'q_wo_dyn', 'weight_only', replace => true);
SELECT name, quantization, version FROM ntg.list_models() WHERE name = 'q_wo_dyn';

-- Damaged int8 values are refused like any model: a flipped byte (the checksum), and a cut.
CREATE TABLE q_keep AS SELECT weights FROM ntg.models WHERE name = 'q_dyn';
UPDATE ntg.models SET weights = overlay(weights PLACING '\x7f'::bytea FROM octet_length(weights) / 2)
WHERE name = 'q_dyn';
SELECT pg_temp.fails($$SELECT * FROM ntg.generate('q_dyn')$$);
SELECT valid, problem FROM ntg.describe_model('q_dyn');
SELECT pg_temp.fails($$SELECT * FROM ntg.quantize('q_dyn', 'q_again')$$);
UPDATE ntg.models SET weights = substring((SELECT weights FROM q_keep) FROM 1 FOR 3000) WHERE name = 'q_dyn';
SELECT pg_temp.fails($$SELECT * FROM ntg.generate('q_dyn')$$);
UPDATE ntg.models SET weights = (SELECT weights FROM q_keep) WHERE name = 'q_dyn';
SELECT count(*) FROM ntg.generate('q_dyn', n => 2);

-- Errors of ntg.quantize.
SELECT model, kind FROM ntg.rf_train('q_forest', 'SELECT label, pl FROM q_toy', '{"n_estimators": 3}');
SELECT * FROM ntg.quantize('q_forest', 'q_forest8');
SELECT * FROM ntg.quantize('q_float', 'q_x', 'int4');
SELECT * FROM ntg.quantize('q_float', 'q_x', 'Dynamic');
SELECT * FROM ntg.quantize('nope', 'q_x');
SELECT * FROM ntg.quantize('q_float', 'q_dyn');
SELECT * FROM ntg.quantize('q_float', '');
SELECT * FROM ntg.quantize(NULL, 'q_x');
SELECT * FROM ntg.quantize('q_float', NULL);
SELECT * FROM ntg.quantize('q_float', 'q_x', NULL);
SELECT * FROM ntg.quantize('q_float', 'q_x', replace => NULL);
BEGIN READ ONLY;
SELECT * FROM ntg.quantize('q_float', 'q_x');
ROLLBACK;
SELECT pg_temp.fails($$SELECT * FROM ntg.quantize('q_float', 'q_x', 'weight-only')$$);
SELECT count(*) AS no_q_x FROM ntg.models WHERE name IN ('q_x', 'q_forest8', 'q_again');
SELECT count(*) AS quantize_contexts FROM pg_backend_memory_contexts WHERE name = 'ntg quantize';

-- Owners: quantizing stores a model, under the owner rules of ntg.train.  Alice's int8 copy is
-- hers; Bob neither sees her model nor replaces her copy; a role without INSERT stores nothing.
CREATE ROLE regress_ntg_q_alice;
CREATE ROLE regress_ntg_q_bob;
CREATE ROLE regress_ntg_q_nobody;
GRANT SELECT, INSERT, UPDATE, DELETE ON ntg.models TO regress_ntg_q_alice, regress_ntg_q_bob;
GRANT SELECT ON ntg.models TO regress_ntg_q_nobody;
UPDATE ntg.models SET owner = 'regress_ntg_q_alice' WHERE name = 'q_float';
UPDATE ntg.models SET owner = 'regress_ntg_q_bob' WHERE name = 'q_wo';
UPDATE ntg.models SET owner = 'regress_ntg_q_nobody' WHERE name = 'q_dyn';
SET ROLE regress_ntg_q_alice;
SELECT model, quantization FROM ntg.quantize('q_float', 'q_alice8');
SELECT name, owner, quantization FROM ntg.list_models() WHERE name LIKE 'q\_%' ORDER BY name;
SET ROLE regress_ntg_q_bob;
SELECT pg_temp.fails($$SELECT * FROM ntg.quantize('q_float', 'q_bob8')$$);
SELECT pg_temp.fails($$SELECT * FROM ntg.quantize('q_wo', 'q_alice8', replace => true)$$);
SELECT pg_temp.fails($$SELECT * FROM ntg.quantize('q_wo', 'q_alice8')$$);
SET ROLE regress_ntg_q_nobody;
SELECT pg_temp.fails($$SELECT * FROM ntg.quantize('q_dyn', 'q_nobody8')$$);
RESET ROLE;
SELECT name, owner::text LIKE 'regress\_ntg\_q\_%' AS test_role, quantization
FROM ntg.list_models() WHERE name LIKE 'q\_%' ORDER BY name;

SELECT ntg.drop_model(name) FROM ntg.list_models() WHERE name LIKE 'q\_%' ORDER BY name;
DROP TABLE q_toy, q_keep;
REVOKE ALL ON ntg.models FROM regress_ntg_q_alice, regress_ntg_q_bob, regress_ntg_q_nobody;
DROP ROLE regress_ntg_q_alice, regress_ntg_q_bob, regress_ntg_q_nobody;
