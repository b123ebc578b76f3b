-- ntg 0.1.0 -> 0.2.0, part 40: rf_train() returns ntg.train_result like train(); the model
-- argument is `model`, training rows `train_query`; no function is STRICT (a null argument is an
-- error); smote() and fast_retransmit() return rows_per_class rows per class unless top_up.

DROP FUNCTION ntg.rf_train(text, text, jsonb, boolean);
DROP FUNCTION ntg.rf_predict(text, smallint[]);
DROP FUNCTION ntg.rf_predict(text, integer[]);
DROP FUNCTION ntg.rf_predict_proba(text, smallint[]);
DROP FUNCTION ntg.rf_predict_proba(text, integer[]);
DROP FUNCTION ntg.rf_predict_model(bytea, smallint[]);
DROP FUNCTION ntg.rf_predict_model(bytea, integer[]);
DROP FUNCTION ntg.rf_predict_proba_model(bytea, smallint[]);
DROP FUNCTION ntg.rf_predict_proba_model(bytea, integer[]);
DROP FUNCTION ntg.rf_evaluate(text, text);
DROP FUNCTION ntg.rf_confusion(text, text);
DROP FUNCTION ntg.rf_fit_evaluate(text, text, jsonb);
DROP FUNCTION ntg.smote(text, integer, bigint, integer, boolean);
DROP FUNCTION ntg.fast_retransmit(text, integer, bigint, double precision, boolean);

CREATE FUNCTION ntg.rf_train(model text, train_query text, hyperparams jsonb DEFAULT '{}',
							 replace boolean DEFAULT false)
	RETURNS ntg.train_result
	AS 'MODULE_PATHNAME', 'ntg_rf_train_v2'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.rf_train(text, text, jsonb, boolean) IS
	'train a random forest on the (label, pl) rows of train_query and store it in ntg.models (ntg.train with kind random_forest); the "seed" hyperparameter seeds the bootstrap draws and feature choices';

-- STABLE, not IMMUTABLE: the result depends on the row in ntg.models, which can change between
-- statements.  Within a statement the model is read once (and cached per backend and version).
CREATE FUNCTION ntg.rf_predict(model text, pl smallint[]) RETURNS text
	AS 'MODULE_PATHNAME', 'ntg_rf_predict'
	LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION ntg.rf_predict(model text, pl integer[]) RETURNS text
	AS 'MODULE_PATHNAME', 'ntg_rf_predict'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION ntg.rf_predict(text, smallint[]) IS 'most probable class of a PL sequence';
COMMENT ON FUNCTION ntg.rf_predict(text, integer[]) IS 'most probable class of a PL sequence';

CREATE FUNCTION ntg.rf_predict_proba(model text, pl smallint[]) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'ntg_rf_predict_proba'
	LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION ntg.rf_predict_proba(model text, pl integer[]) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'ntg_rf_predict_proba'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION ntg.rf_predict_proba(text, smallint[]) IS 'class probabilities of a PL sequence, as {"class": p}';
COMMENT ON FUNCTION ntg.rf_predict_proba(text, integer[]) IS 'class probabilities of a PL sequence, as {"class": p}';

-- The same on the model value itself: a pure function of its arguments, hence IMMUTABLE.
CREATE FUNCTION ntg.rf_predict_model(model bytea, pl smallint[]) RETURNS text
	AS 'MODULE_PATHNAME', 'ntg_rf_predict_model'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION ntg.rf_predict_model(model bytea, pl integer[]) RETURNS text
	AS 'MODULE_PATHNAME', 'ntg_rf_predict_model'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ntg.rf_predict_model(bytea, smallint[]) IS 'most probable class under a forest given as its stored value';
COMMENT ON FUNCTION ntg.rf_predict_model(bytea, integer[]) IS 'most probable class under a forest given as its stored value';
CREATE FUNCTION ntg.rf_predict_proba_model(model bytea, pl smallint[]) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'ntg_rf_predict_proba_model'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION ntg.rf_predict_proba_model(model bytea, pl integer[]) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'ntg_rf_predict_proba_model'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ntg.rf_predict_proba_model(bytea, smallint[]) IS 'class probabilities under a forest given as its stored value';
COMMENT ON FUNCTION ntg.rf_predict_proba_model(bytea, integer[]) IS 'class probabilities under a forest given as its stored value';

CREATE FUNCTION ntg.rf_evaluate(model text, test_query text,
	OUT kind text, OUT label text, OUT "precision" float8, OUT recall float8, OUT f1 float8,
	OUT support bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'ntg_rf_evaluate'
	LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ntg.rf_evaluate(text, text) IS
	'per-class precision, recall, F1 and support of a classifier on test rows, then accuracy, macro avg and weighted avg rows';

CREATE FUNCTION ntg.rf_confusion(model text, test_query text,
	OUT actual text, OUT predicted text, OUT count bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'ntg_rf_confusion'
	LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ntg.rf_confusion(text, text) IS 'confusion matrix of a classifier on test rows (non-zero cells)';

CREATE FUNCTION ntg.rf_fit_evaluate(train_query text, test_query text, hyperparams jsonb DEFAULT '{}',
	OUT kind text, OUT label text, OUT "precision" float8, OUT recall float8, OUT f1 float8,
	OUT support bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'ntg_rf_fit_evaluate'
	LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ntg.rf_fit_evaluate(text, text, jsonb) IS
	'train a forest on train_query without storing it and evaluate it on test rows (rf_evaluate rows); the "seed" hyperparameter seeds the forest';

CREATE FUNCTION ntg.smote(train_query text, rows_per_class integer, seed bigint DEFAULT 0,
	k integer DEFAULT 5, top_up boolean DEFAULT false,
	OUT label text, OUT pl integer[])
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'ntg_smote_sql'
	LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ntg.smote(text, integer, bigint, integer, boolean) IS
	'SMOTE rows per class: rows_per_class of each, or with top_up what is missing to reach it; seed seeds the rows and neighbours drawn';

CREATE FUNCTION ntg.fast_retransmit(train_query text, rows_per_class integer, seed bigint DEFAULT 0,
	p float8 DEFAULT 0.5, top_up boolean DEFAULT false,
	OUT label text, OUT pl integer[])
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'ntg_fast_retransmit_sql'
	LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ntg.fast_retransmit(text, integer, bigint, double precision, boolean) IS
	'Fast Retransmit rows per class: copies with one packet delayed with probability p; rows_per_class of each, or with top_up what is missing; seed seeds the copies and delays drawn';
