-- pgTAP: the forest functions' declared properties (volatility, strictness, parallel safety, security)
-- and a train / predict / evaluate round trip.
BEGIN;
SELECT plan(14);

SELECT volatility_is('ntg', 'rf_predict', ARRAY['text', 'integer[]'], 'stable',
	'rf_predict reads ntg.models: STABLE');
SELECT volatility_is('ntg', 'rf_predict', ARRAY['text', 'smallint[]'], 'stable', 'rf_predict(smallint[]) STABLE');
SELECT volatility_is('ntg', 'rf_predict_model', ARRAY['bytea', 'integer[]'], 'immutable',
	'rf_predict_model depends on its arguments only: IMMUTABLE');
SELECT isnt_strict('ntg', 'rf_predict', ARRAY['text', 'integer[]'], 'rf_predict is not STRICT (a NULL pl is an error)');
SELECT isnt_strict('ntg', 'rf_train', ARRAY['text', 'text', 'jsonb', 'boolean'],
	'rf_train is not STRICT (NULL arguments get a clear error)');
SELECT is((SELECT array_agg(DISTINCT proparallel) FROM pg_proc
		   WHERE pronamespace = 'ntg'::regnamespace AND proname LIKE 'rf_predict%'), ARRAY['s']::"char"[],
	'every prediction function is PARALLEL SAFE');
SELECT is((SELECT count(*)::int FROM pg_proc WHERE pronamespace = 'ntg'::regnamespace AND prosecdef), 0,
	'no ntg function is SECURITY DEFINER');
SELECT volatility_is('ntg', 'rf_train', ARRAY['text', 'text', 'jsonb', 'boolean'], 'volatile', 'rf_train VOLATILE');

CREATE TEMP TABLE t (label text, pl integer[]);
INSERT INTO t SELECT CASE WHEN i % 2 = 0 THEN 'even' ELSE 'odd' END,
	CASE WHEN i % 2 = 0 THEN ARRAY[100 + i, -50] ELSE ARRAY[-100 - i, 50, 7] END
FROM generate_series(1, 40) i;
SELECT lives_ok($$SELECT ntg.rf_train('tap_rf', 'SELECT label, pl FROM t', '{"n_estimators": 8}')$$, 'train');
SELECT is(ntg.rf_predict('tap_rf', '{140,-50}'::int[]), 'even', 'predict');
SELECT is((SELECT f1 FROM ntg.rf_evaluate('tap_rf', 'SELECT label, pl FROM t') WHERE kind = 'macro avg'), 1.0::float8,
	'separable rows are evaluated perfectly');
SELECT is((ntg.rf_predict_proba('tap_rf', '{-141,50,7}'::int[])->>'odd')::float8, 1.0::float8, 'probability form');
SELECT throws_ok($$SELECT ntg.rf_train('tap_rf', 'SELECT label, pl FROM t')$$, '42710',
	'model "tap_rf" already exists', 'an existing name is refused without replace');
SELECT throws_ok($$SELECT ntg.rf_predict('no_such_model', '{1}'::int[])$$, '42704',
	'model "no_such_model" does not exist', 'unknown model name');

SELECT * FROM finish();
ROLLBACK;
