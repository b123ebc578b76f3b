-- ntg.device (docs/gpu.md): where training and generation run.  This file checks a server without
-- a usable CUDA device (CI's, and most): 'auto' is the CPU, bit for bit, and 'cuda' is refused
-- before any work.  A server that has a device takes expected/device_1.out, which skips:
-- test/unit/test_cuda and test/tap/device.t check that machine.
SET ntg.progress = off;
SELECT device IS DISTINCT FROM 'cpu' AS gpu FROM ntg.device_status() \gset
\if :gpu
\echo skipped: a CUDA device is visible
\else
CREATE FUNCTION pg_temp.fails(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN others THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- The setting: auto by default, one of auto, cpu and cuda (any case).
SHOW ntg.device;
SELECT setting, device FROM ntg.device_status();
SET ntg.device = 'gpu';
SET ntg.device = 'CPU';
SHOW ntg.device;
SELECT setting, device FROM ntg.device_status();
RESET ntg.device;

-- Without a device, auto trains and generates exactly what cpu does: the same stored bytes, the
-- same losses, the same rows.
CREATE TABLE dev_rows (label text, pl integer[]);
INSERT INTO dev_rows SELECT 'web', '{100,-200,300}' FROM generate_series(1, 8);
INSERT INTO dev_rows SELECT 'dns', '{52,-52}' FROM generate_series(1, 8);
INSERT INTO dev_rows SELECT 'video', '{-1448,1448,-1448}' FROM generate_series(1, 8);
\set tiny '{"dim": 16, "hidden_dim": 32, "n_layers": 1, "n_heads": 2, "epochs": 5, "batch_size": 4, "seed": 3, "dropout": 0.1}'
SET ntg.device = cpu;
SELECT model, epochs FROM ntg.train('dev_cpu', 'llama', 'SELECT label, pl FROM dev_rows', :'tiny');
CREATE TEMP TABLE rows_cpu AS SELECT * FROM ntg.generate('dev_cpu', n => 40, seed => 9);
SET ntg.device = auto;
SELECT model, epochs FROM ntg.train('dev_auto', 'llama', 'SELECT label, pl FROM dev_rows', :'tiny');
SELECT a.weights = c.weights AS same_bytes, a.loss_history = c.loss_history AS same_losses
FROM ntg.models AS a, ntg.models AS c WHERE a.name = 'dev_auto' AND c.name = 'dev_cpu';
SELECT (SELECT array_agg(g::text) FROM ntg.generate('dev_cpu', n => 40, seed => 9) AS g)
	 = (SELECT array_agg(g::text) FROM rows_cpu AS g) AS same_rows;

-- cuda without a device: 55000 before the rows are read (the missing table would fail later),
-- for training and for generation; the stored model is untouched and generates again under auto.
SET ntg.device = cuda;
SELECT setting, device IS NULL AS no_device FROM ntg.device_status();
SELECT pg_temp.fails($$SELECT ntg.train('dev_cuda', 'llama', 'SELECT label, pl FROM no_such_table')$$);
SELECT pg_temp.fails($$SELECT count(*) FROM ntg.generate('dev_cpu', n => 5)$$);
\set VERBOSITY terse
SELECT count(*) FROM ntg.generate('dev_cpu', n => 5);
\set VERBOSITY default
-- A kind without a device path (the Random Forest) runs on the CPU under every setting.
SELECT model FROM ntg.rf_train('dev_rf', 'SELECT label, pl FROM dev_rows', '{"n_estimators": 3, "seed": 1}');
RESET ntg.device;
SELECT (SELECT array_agg(g::text) FROM ntg.generate('dev_cpu', n => 40, seed => 9) AS g)
	 = (SELECT array_agg(g::text) FROM rows_cpu AS g) AS same_rows_again;
SELECT ntg.drop_model(m) FROM unnest(ARRAY['dev_cpu', 'dev_auto', 'dev_rf']) AS m;
DROP TABLE dev_rows;
\endif
