-- ntg 0.1.0 -> 0.2.0, part 20: one model framework.  train() and every model function name the
-- model `model` and the training rows `train_query`; generate() takes the kind's sampling options
-- as jsonb and returns integer[] (generate_int goes); describe_model() and list_models() show the
-- owner and the training's efficiency figures; model_kinds() and profile_model() are new.

DROP FUNCTION ntg.generate(text, text, integer, bigint, double precision, integer, double precision, boolean);
DROP FUNCTION ntg.generate_int(text, text, integer, bigint, double precision, integer, double precision, boolean);
DROP TYPE ntg.generated_flow_int;
ALTER TYPE ntg.generated_flow ALTER ATTRIBUTE pl TYPE integer[];
ALTER TYPE ntg.train_result ADD ATTRIBUTE epoch_seconds double precision,
	ADD ATTRIBUTE train_peak_bytes bigint;
DROP FUNCTION ntg.train(text, text, text, jsonb, boolean);
DROP FUNCTION ntg.describe_model(text);
DROP FUNCTION ntg.list_models();

CREATE FUNCTION ntg.train(model text, kind text, train_query text, hyperparams jsonb DEFAULT '{}',
						  replace boolean DEFAULT false)
	RETURNS ntg.train_result
	AS 'MODULE_PATHNAME', 'ntg_train'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.train(text, text, text, jsonb, boolean) IS
	'train a model of any kind on the (label, pl) rows of train_query and store it in ntg.models; the "seed" hyperparameter seeds initialisation, shuffling and the validation split';

-- the planner's row estimate for ntg.generate (n rows per class when n and label are constants)
CREATE FUNCTION ntg._generate_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'ntg_generate_support'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION ntg._generate_support(internal) IS
	'planner support for ntg.generate: estimates its rows from n and label when they are constants';

CREATE FUNCTION ntg.generate(model text, label text DEFAULT NULL, n integer DEFAULT 100,
							 seed bigint DEFAULT 0, options jsonb DEFAULT '{}')
	RETURNS SETOF ntg.generated_flow
	AS 'MODULE_PATHNAME', 'ntg_generate_v2'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 1000 SUPPORT ntg._generate_support;
COMMENT ON FUNCTION ntg.generate(text, text, integer, bigint, jsonb) IS
	'sample n synthetic (label, pl) rows per class (or of one class) from a stored generator; seed seeds the draws (each class its own stream); options override the model''s sampling defaults';

CREATE FUNCTION ntg.describe_model(model text,
								   OUT name text, OUT kind text, OUT owner text, OUT version bigint,
								   OUT format_version integer, OUT config jsonb, OUT classes text[],
								   OUT train_rows bigint, OUT epochs integer,
								   OUT loss_history double precision[],
								   OUT validation_loss double precision[], OUT best_epoch integer,
								   OUT train_seconds double precision,
								   OUT epoch_seconds double precision, OUT train_peak_bytes bigint,
								   OUT parameters bigint, OUT bytes bigint, OUT valid boolean,
								   OUT problem text, OUT created_at timestamptz,
								   OUT updated_at timestamptz)
	AS 'MODULE_PATHNAME', 'ntg_describe_model_v2'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION ntg.describe_model(text) IS
	'one stored model in full, with the checks of loading it run on its weights (valid, problem)';

CREATE FUNCTION ntg.list_models()
	RETURNS TABLE (name text, kind text, owner text, classes integer, parameters bigint,
				   bytes bigint, epochs integer, final_loss double precision,
				   train_seconds double precision, epoch_seconds double precision,
				   train_peak_bytes bigint, version bigint, created_at timestamptz,
				   updated_at timestamptz)
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
		SELECT m.name, m.kind, m.owner::text, cardinality(m.classes), m.parameters, m.bytes,
			   m.epochs, m.loss_history[cardinality(m.loss_history)], m.train_seconds,
			   m.epoch_seconds, m.train_peak_bytes, m.version, m.created_at, m.updated_at
		FROM ntg.models AS m
		ORDER BY m.name
	$$;
COMMENT ON FUNCTION ntg.list_models() IS 'stored models the caller may use, one summary row each';

CREATE FUNCTION ntg.model_kinds()
	RETURNS TABLE (kind text, family text, summary text, generates boolean, classifies boolean,
				   validation boolean, quantizable boolean, sampling_options jsonb,
				   tiny_hyperparams jsonb)
	AS 'MODULE_PATHNAME', 'ntg_model_kinds'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ntg.model_kinds() IS
	'the model kinds this build of ntg has: what each can do, its sampling options with defaults and ranges, and the hyperparameters of its smallest sensible model';

CREATE FUNCTION ntg.profile_model(model text, n integer DEFAULT 256, seed bigint DEFAULT 0)
	RETURNS TABLE (name text, kind text, parameters bigint, bytes bigint,
				   epoch_seconds double precision, train_peak_bytes bigint,
				   one_row_ms double precision, batched_ms double precision)
	AS 'MODULE_PATHNAME', 'ntg_profile_model'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.profile_model(text, integer, bigint) IS
	'a model''s efficiency row: size, training time per epoch and memory as recorded, and the milliseconds per row of n rows generated (or classified) one at a time and in one batch; seed seeds the rows drawn';

CREATE OR REPLACE FUNCTION ntg.models_bump_version()
	RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
	BEGIN
		IF NEW.version OPERATOR(pg_catalog.=) OLD.version THEN
			NEW.version := OLD.version OPERATOR(pg_catalog.+) 1;
		END IF;
		NEW.updated_at := pg_catalog.now();
		RETURN NEW;
	END
	$$;
COMMENT ON FUNCTION ntg.models_bump_version() IS
	'trigger of ntg.models: bumps version when weights change';
