-- The experiment functions' path for generator models (dynamic SQL on ntg.generate), exercised
-- with a stand-in ntg.generate inside a rolled-back transaction while no generator is installed.
-- With the real ntg.generate installed this file skips (expected/forest_generator_path_1.out).
SET ntg.progress = off;
SELECT to_regprocedure('ntg.generate(text,text,integer,bigint,double precision,integer,double precision)') IS NULL
	AS no_generate \gset
\if :no_generate
BEGIN;
-- stand-in: n rows of the asked label, shaped by the seed
CREATE FUNCTION ntg.generate(model text, label text DEFAULT NULL, n integer DEFAULT 100,
	seed bigint DEFAULT 0, temperature float8 DEFAULT 1, top_k integer DEFAULT 0, top_p float8 DEFAULT 1)
	RETURNS TABLE (label text, pl smallint[])
	LANGUAGE sql AS $$
	SELECT $2, CASE $2 WHEN 'dns' THEN ARRAY[40 + i % 9, -90] ELSE ARRAY[-30, 400 + i % 50, -1400] END::smallint[]
	FROM generate_series(1, n) i $$;
INSERT INTO ntg.models (name, kind, config, classes, weights) VALUES ('stubgen', 'llama', '{}', '{dns,web}', '\x00');
CREATE TEMP TABLE real_rows AS
SELECT i AS id, CASE WHEN i % 3 = 0 THEN 'dns' ELSE 'web' END AS label,
	   CASE WHEN i % 3 = 0 THEN ARRAY[40 + i % 7, -90] ELSE ARRAY[-30, 410 + i % 30, -1400] END AS pl
FROM generate_series(1, 60) i;
SELECT label, count(*) FROM ntg.synthesize('stubgen', 'SELECT label, pl FROM real_rows', 25) GROUP BY 1 ORDER BY 1;
SELECT label, count(*) FROM ntg.synthesize('stubgen', 'SELECT label, pl FROM real_rows', 5, top_up => false) GROUP BY 1 ORDER BY 1;
SELECT generator, train_rows, round(macro_f1::numeric, 3) AS macro_f1
FROM ntg.tstr('SELECT label, pl FROM real_rows WHERE id % 4 <> 0', 'SELECT label, pl FROM real_rows WHERE id % 4 = 0',
			  '{stubgen}', '{"n_estimators": 5}');
SELECT generator, fraction, real_rows, synthetic_rows
FROM ntg.augment_sweep('SELECT label, pl FROM real_rows', 'SELECT label, pl FROM real_rows', '{stubgen,smote}',
					   '{0.1,1}', '{"n_estimators": 5}')
ORDER BY fraction, generator;
ROLLBACK;
\else
\echo 'skipped: ntg.generate is installed; generator models are tested with it'
\endif
