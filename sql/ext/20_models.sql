-- ntg install script, part 20: training, sampling and managing generative models from SQL
-- (src/pg/models_*.c; docs/models.md).  The table ntg.models itself is part 05.

-- What ntg.train() returns: one summary row of the stored model.
CREATE TYPE ntg.train_result AS (
	model			text,
	kind			text,
	version			bigint,
	classes			integer,
	train_rows		bigint,
	epochs			integer,
	final_loss		double precision,
	parameters		bigint,
	bytes			bigint,
	train_seconds	double precision,
	validation_loss	double precision,	-- of the stored weights; NULL without "validation"
	best_epoch		integer				-- epoch of the stored weights; NULL without "validation"
);

-- Rows of ntg.generate() (smallint, like the biflow tables) and ntg.generate_int() (integer, for
-- models trained on values beyond the smallint range).
CREATE TYPE ntg.generated_flow AS (label text, pl smallint[]);
CREATE TYPE ntg.generated_flow_int AS (label text, pl integer[]);

CREATE FUNCTION ntg.train(name text, kind text, source text, hyperparams jsonb DEFAULT '{}',
						  replace boolean DEFAULT false)
	RETURNS ntg.train_result
	AS 'MODULE_PATHNAME', 'ntg_train'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.train(text, text, text, jsonb, boolean) IS
	'train a generative model on the (label, pl) rows of a query and store it in ntg.models';

CREATE FUNCTION ntg.generate(model text, label text DEFAULT NULL, n integer DEFAULT 100,
							 seed bigint DEFAULT 0, temperature double precision DEFAULT 1.0,
							 top_k integer DEFAULT 0, top_p double precision DEFAULT 1.0,
							 stratified boolean DEFAULT false)
	RETURNS SETOF ntg.generated_flow
	AS 'MODULE_PATHNAME', 'ntg_generate'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION ntg.generate(text, text, integer, bigint, double precision, integer, double precision, boolean) IS
	'sample n synthetic (label, pl) rows per class (or of one class) from a stored model';

CREATE FUNCTION ntg.generate_int(model text, label text DEFAULT NULL, n integer DEFAULT 100,
								 seed bigint DEFAULT 0, temperature double precision DEFAULT 1.0,
								 top_k integer DEFAULT 0, top_p double precision DEFAULT 1.0,
								 stratified boolean DEFAULT false)
	RETURNS SETOF ntg.generated_flow_int
	AS 'MODULE_PATHNAME', 'ntg_generate'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION ntg.generate_int(text, text, integer, bigint, double precision, integer, double precision, boolean) IS
	'as ntg.generate(), with integer arrays for values beyond the smallint range';

CREATE FUNCTION ntg.describe_model(model text,
								   OUT name text, OUT kind text, OUT version bigint,
								   OUT format_version integer, OUT config jsonb, OUT classes text[],
								   OUT train_rows bigint, OUT epochs integer,
								   OUT loss_history double precision[],
								   OUT validation_loss double precision[], OUT best_epoch integer,
								   OUT train_seconds double precision, OUT parameters bigint,
								   OUT bytes bigint, OUT valid boolean, OUT problem text,
								   OUT created_at timestamptz, OUT updated_at timestamptz)
	AS 'MODULE_PATHNAME', 'ntg_describe_model'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION ntg.describe_model(text) IS
	'one stored model in full, with a check of its weights (valid, problem)';

CREATE FUNCTION ntg.list_models()
	RETURNS TABLE (name text, kind text, classes integer, parameters bigint, bytes bigint,
				   epochs integer, final_loss double precision, train_seconds double precision,
				   version bigint, created_at timestamptz, updated_at timestamptz)
	AS $$
		SELECT m.name, m.kind, cardinality(m.classes), m.parameters, m.bytes, m.epochs,
			   m.loss_history[cardinality(m.loss_history)], m.train_seconds, m.version,
			   m.created_at, m.updated_at
		FROM ntg.models AS m
		ORDER BY m.name
	$$ LANGUAGE sql STABLE PARALLEL SAFE;
COMMENT ON FUNCTION ntg.list_models() IS 'stored models, one summary row each';

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

-- Keep ntg.models.version honest: any change of the weights, including a hand-made UPDATE, bumps
-- it (unless the statement already did), so that per-backend caches of loaded models see it.
CREATE FUNCTION ntg.models_bump_version()
	RETURNS trigger
	AS $$
	BEGIN
		IF NEW.version = OLD.version THEN
			NEW.version := OLD.version + 1;
		END IF;
		NEW.updated_at := now();
		RETURN NEW;
	END
	$$ LANGUAGE plpgsql;
CREATE TRIGGER models_bump_version BEFORE UPDATE OF weights ON ntg.models
	FOR EACH ROW WHEN (OLD.weights IS DISTINCT FROM NEW.weights)
	EXECUTE FUNCTION ntg.models_bump_version();
