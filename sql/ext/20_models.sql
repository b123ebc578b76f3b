-- ntg install script, part 20: training, sampling and managing models of every kind from SQL
-- (src/pg/models_*.c, model_*.c; docs/models.md).  The table ntg.models itself is part 05.
-- Conventions of every ntg function (test/pgtap/conventions.sql checks them): the argument
-- naming a stored model is `model`; a query argument is `query` or `<role>_query`; NULL for a
-- required argument is an error (22004), no function is STRICT; `pl` is integer[].

-- What ntg.train() and ntg.rf_train() return: one summary row of the stored model.
CREATE TYPE ntg.train_result AS (
	model			text,
	kind			text,
	version			bigint,
	classes			integer,
	train_rows		bigint,
	epochs			integer,			-- NULL for a kind trained in one pass (random_forest)
	final_loss		double precision,
	parameters		bigint,
	bytes			bigint,
	train_seconds	double precision,
	validation_loss	double precision,	-- of the stored weights; NULL without "validation"
	best_epoch		integer,			-- epoch of the stored weights; NULL without "validation"
	epoch_seconds	double precision,	-- mean time of one epoch
	train_peak_bytes bigint				-- most memory the training held
);

-- Rows of ntg.generate().
CREATE TYPE ntg.generated_flow AS (label text, pl integer[]);

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
				   updated_at timestamptz, quantization text)
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
		SELECT m.name, m.kind, m.owner::text, cardinality(m.classes), m.parameters, m.bytes,
			   m.epochs, m.loss_history[cardinality(m.loss_history)], m.train_seconds,
			   m.epoch_seconds, m.train_peak_bytes, m.version, m.created_at, m.updated_at,
			   m.config->>'quantization'
		FROM ntg.models AS m
		ORDER BY m.name
	$$;
COMMENT ON FUNCTION ntg.list_models() IS 'stored models the caller may use, one summary row each (quantization: weight_only or dynamic for an int8 model, NULL for float32)';

CREATE FUNCTION ntg.rename_model(model text, new_name text)
	RETURNS void
	AS 'MODULE_PATHNAME', 'ntg_rename_model'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.rename_model(text, text) IS 'rename a stored model';

CREATE FUNCTION ntg.drop_model(model text, if_exists boolean DEFAULT false)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'ntg_drop_model'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.drop_model(text, boolean) IS
	'delete a stored model; true when one was deleted';

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

-- Keep ntg.models.version honest: any change of the weights, including a hand-made UPDATE, bumps
-- it (unless the statement already did), so that per-backend caches of loaded models see it.
CREATE FUNCTION ntg.models_bump_version()
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
CREATE TRIGGER models_bump_version BEFORE UPDATE OF weights ON ntg.models
	FOR EACH ROW WHEN (OLD.weights IS DISTINCT FROM NEW.weights)
	EXECUTE FUNCTION ntg.models_bump_version();
