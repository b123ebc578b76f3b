-- ntg 0.1.0 install script, as released: frozen.  Newer versions are built from sql/ext/*.sql.
\echo Use "CREATE EXTENSION ntg" to load this file. \quit

-- ==== sql/ext/00_core.sql ====
-- ntg install script, part 00: the schema and informational functions.
-- The script creates schema ntg itself (rather than ntg.control's `schema`), which makes the schema a
-- member of the extension: DROP EXTENSION removes it with everything in it.

CREATE SCHEMA ntg;
COMMENT ON SCHEMA ntg IS 'network-traffic synthesis (ntg extension)';
-- Everyone may look up ntg's functions, as in the public schema; what a call may then read or write
-- is decided by the caller's own privileges (functions are SECURITY INVOKER; reading server files
-- needs pg_read_server_files; ntg.models and ntg.biflows need grants from their owner).
GRANT USAGE ON SCHEMA ntg TO PUBLIC;

CREATE FUNCTION ntg.version() RETURNS text
	AS $$ SELECT extversion::text FROM pg_catalog.pg_extension WHERE extname = 'ntg' $$
	LANGUAGE sql STABLE PARALLEL SAFE;
COMMENT ON FUNCTION ntg.version() IS 'installed version of the ntg extension';

CREATE FUNCTION ntg.library_versions() RETURNS text
	AS 'MODULE_PATHNAME', 'ntg_library_versions'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ntg.library_versions() IS 'versions of the libraries ntg was built with';

-- ==== sql/ext/05_models.sql ====
-- ntg install script, part 05: the model table shared by every model kind (generators, forests).
-- weights holds the checked container of src/core/common/blob.h; nothing reads it unchecked.

CREATE TABLE ntg.models (
	name			text PRIMARY KEY CHECK (name <> ''),
	kind			text NOT NULL,			-- llama, mamba, netdiffus, cvae, random_forest
	config			jsonb NOT NULL,			-- hyperparameters and sizes, as trained
	classes			text[] NOT NULL,		-- class labels, in the model's own order
	weights			bytea NOT NULL,
	train_rows		bigint,
	epochs			integer,
	loss_history	double precision[],		-- training loss per epoch run
	validation_loss	double precision[],		-- held-out loss per epoch run ("validation" hyperparameter)
	best_epoch		integer,				-- epoch whose weights are stored, when validation chose it
	train_seconds	double precision,
	parameters		bigint,
	bytes			bigint GENERATED ALWAYS AS (octet_length(weights)) STORED,
	version			bigint NOT NULL DEFAULT 1,	-- bumped whenever weights change
	created_at		timestamptz NOT NULL DEFAULT now(),
	updated_at		timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ntg.models IS 'trained ntg models (generators and classifiers), one row per name';

-- Rows users create are theirs: include them in pg_dump.
SELECT pg_catalog.pg_extension_config_dump('ntg.models', '');

-- ==== sql/ext/10_capture.sql ====
-- ntg install script, part 10: capture import (pcap/pcapng -> biflows).  Reference: docs/capture.md.

-- Biflows imported by ntg.import_pcap (the default target; any table with these columns will do).
CREATE TABLE ntg.biflows (
	biflow_id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	dataset				text NOT NULL,
	label				text,
	source				text,				-- capture file path; NULL for capture data (bytea)
	protocol			smallint NOT NULL,	-- 6 TCP, 17 UDP
	client_ip			inet NOT NULL,
	client_port			integer NOT NULL,
	server_ip			inet NOT NULL,
	server_port			integer NOT NULL,
	first_seen			timestamptz NOT NULL,
	last_seen			timestamptz NOT NULL,
	packets_up			bigint NOT NULL,	-- client -> server
	packets_down		bigint NOT NULL,
	bytes_up			bigint NOT NULL,	-- IP bytes (from the IP length fields)
	bytes_down			bigint NOT NULL,
	payload_bytes_up	bigint NOT NULL,
	payload_bytes_down	bigint NOT NULL,
	payload_packets		bigint NOT NULL,
	pl					smallint[] NOT NULL, -- signed PLs of the first n payload packets, clipped to +-32767
	pl_full				integer[] NOT NULL,	-- the same, exact
	sni					text,				-- TLS server_name of a ClientHello
	imported_at			timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX biflows_dataset_label_idx ON ntg.biflows (dataset, label);
COMMENT ON TABLE ntg.biflows IS 'biflows imported from captures by ntg.import_pcap';
SELECT pg_catalog.pg_extension_config_dump('ntg.biflows', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('ntg.biflows', 'biflow_id'), '');

-- What ntg.import_pcap did.
CREATE TYPE ntg.import_result AS (
	dataset				text,
	format				text,		-- pcap, pcap-ns (nanosecond), pcapng
	packets				bigint,		-- packet records read
	bytes				bigint,		-- capture bytes read
	packets_in_biflows	bigint,
	biflows				bigint,		-- rows written
	skipped				jsonb,		-- packets not in a biflow, by reason
	pl_clipped			bigint,		-- PL values beyond smallint (exact in pl_full)
	damaged				boolean,	-- reading stopped early at damaged or cut data
	damage				text		-- where and why
);

CREATE FUNCTION ntg.read_pcap(
	path text,
	n integer DEFAULT 10,
	idle_timeout interval DEFAULT '120 s',
	active_timeout interval DEFAULT '1800 s',
	filter text DEFAULT NULL)
RETURNS TABLE (
	protocol smallint, client_ip inet, client_port integer, server_ip inet, server_port integer,
	first_seen timestamptz, last_seen timestamptz, packets_up bigint, packets_down bigint,
	bytes_up bigint, bytes_down bigint, payload_bytes_up bigint, payload_bytes_down bigint,
	payload_packets bigint, pl smallint[], pl_full integer[], sni text)
	AS 'MODULE_PATHNAME', 'ntg_read_pcap_path'
	LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION ntg.read_pcap(text, integer, interval, interval, text) IS
	'biflows of a pcap/pcapng file on the server (superuser or pg_read_server_files)';

CREATE FUNCTION ntg.read_pcap(
	data bytea,
	n integer DEFAULT 10,
	idle_timeout interval DEFAULT '120 s',
	active_timeout interval DEFAULT '1800 s',
	filter text DEFAULT NULL)
RETURNS TABLE (
	protocol smallint, client_ip inet, client_port integer, server_ip inet, server_port integer,
	first_seen timestamptz, last_seen timestamptz, packets_up bigint, packets_down bigint,
	bytes_up bigint, bytes_down bigint, payload_bytes_up bigint, payload_bytes_down bigint,
	payload_packets bigint, pl smallint[], pl_full integer[], sni text)
	AS 'MODULE_PATHNAME', 'ntg_read_pcap_bytea'
	LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION ntg.read_pcap(bytea, integer, interval, interval, text) IS
	'biflows of a pcap/pcapng capture given as bytes';

CREATE FUNCTION ntg.import_pcap(
	path text,
	dataset text DEFAULT NULL,
	label text DEFAULT NULL,
	n integer DEFAULT 10,
	idle_timeout interval DEFAULT '120 s',
	active_timeout interval DEFAULT '1800 s',
	filter text DEFAULT NULL,
	target regclass DEFAULT 'ntg.biflows')
RETURNS ntg.import_result
	AS 'MODULE_PATHNAME', 'ntg_import_pcap_path'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.import_pcap(text, text, text, integer, interval, interval, text, regclass) IS
	'import the biflows of a pcap/pcapng file on the server into a biflow table';

CREATE FUNCTION ntg.import_pcap(
	data bytea,
	dataset text DEFAULT NULL,
	label text DEFAULT NULL,
	n integer DEFAULT 10,
	idle_timeout interval DEFAULT '120 s',
	active_timeout interval DEFAULT '1800 s',
	filter text DEFAULT NULL,
	target regclass DEFAULT 'ntg.biflows')
RETURNS ntg.import_result
	AS 'MODULE_PATHNAME', 'ntg_import_pcap_bytea'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.import_pcap(bytea, text, text, integer, interval, interval, text, regclass) IS
	'import the biflows of a pcap/pcapng capture given as bytes into a biflow table';

-- ==== sql/ext/20_models.sql ====
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

-- ==== sql/ext/30_metrics.sql ====
-- ntg install script, part 30: fidelity metrics of a synthetic set against a real one, and the
-- radar chart (docs/metrics.md).  The query functions run the caller's queries through SPI:
-- VOLATILE (what the queries read may change between calls, and they may call volatile functions)
-- and PARALLEL UNSAFE.  None is STRICT: a null argument gets a clear error, not an empty result.

CREATE FUNCTION ntg.fidelity(real_query text, synthetic_query text,
                             OUT metric text, OUT value float8)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'ntg_fidelity'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.fidelity(text, text) IS
	'six fidelity metrics of synthetic against real rows (label, pl), macro-averaged over the real classes';

CREATE FUNCTION ntg.fidelity_by_class(real_query text, synthetic_query text,
                                      OUT label text, OUT metric text, OUT value float8,
                                      OUT real_rows integer, OUT synthetic_rows integer)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'ntg_fidelity_by_class'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.fidelity_by_class(text, text) IS
	'six fidelity metrics per class of either set (value null for a class without real rows)';

CREATE FUNCTION ntg.fidelity_radar(real_query text, synthetic_queries text[],
                                   names text[] DEFAULT NULL, title text DEFAULT NULL,
                                   scale float8 DEFAULT NULL)
	RETURNS text
	AS 'MODULE_PATHNAME', 'ntg_fidelity_radar'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.fidelity_radar(text, text[], text[], text, float8) IS
	'SVG radar chart of the macro-averaged fidelity of one or more synthetic sets against one real set';

CREATE FUNCTION ntg.fidelity_radar_svg(names text[], metric_values float8[],
                                       title text DEFAULT NULL, scale float8 DEFAULT NULL)
	RETURNS text
	AS 'MODULE_PATHNAME', 'ntg_fidelity_radar_svg'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ntg.fidelity_radar_svg(text[], float8[], text, float8) IS
	'SVG radar chart from metric values already computed (one row of six per set, in ntg.fidelity order)';

-- ==== sql/ext/40_forest.sql ====
-- ntg install script, part 40: the Random Forest classifier and the augmentation baselines
-- (docs/classifier.md).  Forests are stored in ntg.models (kind 'random_forest').

CREATE FUNCTION ntg.rf_train(name text, source text, hyperparams jsonb DEFAULT '{}',
							 replace boolean DEFAULT false)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'ntg_rf_train'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.rf_train(text, text, jsonb, boolean) IS
	'train a random forest on the (label, pl) rows of source and store it in ntg.models; returns its node count';

-- STABLE, not IMMUTABLE: the result depends on the row in ntg.models, which can change between
-- statements.  Within a statement the model is read once (and cached per backend and version).
CREATE FUNCTION ntg.rf_predict(name text, pl smallint[]) RETURNS text
	AS 'MODULE_PATHNAME', 'ntg_rf_predict'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ntg.rf_predict(name text, pl integer[]) RETURNS text
	AS 'MODULE_PATHNAME', 'ntg_rf_predict'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ntg.rf_predict(text, smallint[]) IS 'most probable class of a PL sequence';
COMMENT ON FUNCTION ntg.rf_predict(text, integer[]) IS 'most probable class of a PL sequence';

CREATE FUNCTION ntg.rf_predict_proba(name text, pl smallint[]) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'ntg_rf_predict_proba'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ntg.rf_predict_proba(name text, pl integer[]) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'ntg_rf_predict_proba'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ntg.rf_predict_proba(text, integer[]) IS 'class probabilities of a PL sequence, as {"class": p}';

-- The same on the model value itself: a pure function of its arguments, hence IMMUTABLE.
CREATE FUNCTION ntg.rf_predict_model(model bytea, pl smallint[]) RETURNS text
	AS 'MODULE_PATHNAME', 'ntg_rf_predict_model'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ntg.rf_predict_model(model bytea, pl integer[]) RETURNS text
	AS 'MODULE_PATHNAME', 'ntg_rf_predict_model'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ntg.rf_predict_model(bytea, integer[]) IS 'most probable class under a forest given as its stored value';
CREATE FUNCTION ntg.rf_predict_proba_model(model bytea, pl smallint[]) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'ntg_rf_predict_proba_model'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ntg.rf_predict_proba_model(model bytea, pl integer[]) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'ntg_rf_predict_proba_model'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ntg.rf_predict_proba_model(bytea, integer[]) IS 'class probabilities under a forest given as its stored value';

CREATE FUNCTION ntg.rf_evaluate(name text, test_query text,
	OUT kind text, OUT label text, OUT "precision" float8, OUT recall float8, OUT f1 float8,
	OUT support bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'ntg_rf_evaluate'
	LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ntg.rf_evaluate(text, text) IS
	'per-class precision, recall, F1 and support of a forest on test rows, then accuracy, macro avg and weighted avg rows';

CREATE FUNCTION ntg.rf_confusion(name text, test_query text,
	OUT actual text, OUT predicted text, OUT count bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'ntg_rf_confusion'
	LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ntg.rf_confusion(text, text) IS 'confusion matrix of a forest on test rows (non-zero cells)';

CREATE FUNCTION ntg.rf_fit_evaluate(source text, test_query text, hyperparams jsonb DEFAULT '{}',
	OUT kind text, OUT label text, OUT "precision" float8, OUT recall float8, OUT f1 float8,
	OUT support bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'ntg_rf_fit_evaluate'
	LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ntg.rf_fit_evaluate(text, text, jsonb) IS
	'train a forest on source without storing it and evaluate it on test rows (rf_evaluate rows)';

CREATE FUNCTION ntg.smote(source text, rows_per_class integer, seed bigint DEFAULT 0,
	k integer DEFAULT 5, top_up boolean DEFAULT true,
	OUT label text, OUT pl integer[])
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'ntg_smote_sql'
	LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION ntg.smote(text, integer, bigint, integer, boolean) IS
	'SMOTE rows per class (top_up: only what is missing to reach rows_per_class)';

CREATE FUNCTION ntg.fast_retransmit(source text, rows_per_class integer, seed bigint DEFAULT 0,
	p float8 DEFAULT 0.5, top_up boolean DEFAULT true,
	OUT label text, OUT pl integer[])
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'ntg_fast_retransmit_sql'
	LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION ntg.fast_retransmit(text, integer, bigint, double precision, boolean) IS
	'Fast Retransmit rows per class: copies with one packet delayed with probability p';

-- ==== sql/ext/45_experiments.sql ====
-- ntg install script, part 45: the paper's classification experiments as SQL (docs/classifier.md):
-- a stratified split, synthetic rows from a baseline or a generator model, train-on-synthetic /
-- test-on-real (TSTR), the low-data augmentation sweep, and an SVG line chart.
-- Generator models are sampled through ntg.generate_int (integer[] rows, so PLs beyond smallint
-- from segmentation offload pass through).

-- Stratified split: within each class, rows are ranked by a hash of (seed, label, pl, occurrence of
-- that same row); the first round(n * test_fraction) ranks are the test rows.  The ranking depends
-- only on the seed and the multiset of rows (not on their order), and copies of one sequence are
-- spread over both sides like any other rows.
CREATE FUNCTION ntg.split(source text, test_fraction float8 DEFAULT 0.2, seed bigint DEFAULT 0)
	RETURNS TABLE (label text, pl integer[], is_test boolean)
	LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
	IF source IS NULL OR seed IS NULL THEN
		RAISE EXCEPTION 'source and seed must not be null' USING ERRCODE = '22004';
	END IF;
	IF test_fraction IS NULL OR NOT (test_fraction >= 0 AND test_fraction <= 1) THEN
		RAISE EXCEPTION 'test_fraction must be between 0 and 1' USING ERRCODE = '22023';
	END IF;
	RETURN QUERY EXECUTE format($q$
		WITH src AS (SELECT s.label::text AS label, s.pl::integer[] AS pl FROM (%s) AS s(label, pl)),
		dup AS (SELECT s.label, s.pl, row_number() OVER (PARTITION BY s.label, s.pl) AS k FROM src s),
		ranked AS (
			SELECT d.label, d.pl,
				row_number() OVER (PARTITION BY d.label
					ORDER BY md5($1::text || '/' || d.label || '/' || d.pl::text || '/' || d.k), d.pl, d.k) AS r,
				count(*) OVER (PARTITION BY d.label) AS n
			FROM dup d)
		SELECT x.label, x.pl, x.r <= round(x.n * $2) FROM ranked x ORDER BY x.label, x.r
		$q$, source) USING seed, test_fraction;
END
$fn$;
COMMENT ON FUNCTION ntg.split(text, float8, bigint) IS
	'stratified train/test split of (label, pl) rows, reproducible for a seed';

-- Synthetic rows from a generator: 'smote', 'fast_retransmit', or the name of a generator model in
-- ntg.models (through ntg.generate_int).  Per class of source: rows_per_class rows, or with top_up only
-- what is missing for the class to reach rows_per_class.  stratified is passed to ntg.generate_int
-- (one stratified sample per class); the baselines draw no model samples and ignore it.
CREATE FUNCTION ntg.synthesize(generator text, source text, rows_per_class integer,
							   seed bigint DEFAULT 0, top_up boolean DEFAULT true,
							   stratified boolean DEFAULT false)
	RETURNS TABLE (label text, pl integer[])
	LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
	model_kind text;
	c record;
BEGIN
	IF generator IS NULL OR source IS NULL OR rows_per_class IS NULL OR seed IS NULL OR top_up IS NULL
	   OR stratified IS NULL THEN
		RAISE EXCEPTION 'arguments of ntg.synthesize must not be null' USING ERRCODE = '22004';
	END IF;
	IF generator = 'smote' THEN
		RETURN QUERY SELECT s.label, s.pl FROM ntg.smote(source, rows_per_class, seed, 5, top_up) s;
		RETURN;
	ELSIF generator = 'fast_retransmit' THEN
		RETURN QUERY SELECT s.label, s.pl FROM ntg.fast_retransmit(source, rows_per_class, seed, 0.5, top_up) s;
		RETURN;
	END IF;
	SELECT m.kind INTO model_kind FROM ntg.models m WHERE m.name = generator;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'generator "%" does not exist', generator USING ERRCODE = '42704',
			HINT = 'Use ''smote'', ''fast_retransmit'' or the name of a generator model in ntg.models.';
	ELSIF model_kind = 'random_forest' THEN
		RAISE EXCEPTION 'model "%" is a random forest, not a generator', generator USING ERRCODE = '42809';
	END IF;
	FOR c IN EXECUTE format('SELECT s.label::text AS label, count(*)::integer AS n FROM (%s) AS s(label, pl) GROUP BY 1 ORDER BY 1', source)
	LOOP
		IF (CASE WHEN top_up THEN rows_per_class - c.n ELSE rows_per_class END) > 0 THEN
			RETURN QUERY
				SELECT g.label, g.pl
				  FROM ntg.generate_int(generator, c.label,
										CASE WHEN top_up THEN rows_per_class - c.n ELSE rows_per_class END,
										seed, stratified => stratified) AS g;
		END IF;
	END LOOP;
END
$fn$;
COMMENT ON FUNCTION ntg.synthesize(text, text, integer, bigint, boolean, boolean) IS
	'synthetic (label, pl) rows per class from a baseline (smote, fast_retransmit) or a generator model';

-- Macro/weighted F1 and accuracy of a forest trained on train_query, evaluated on test_query.
CREATE FUNCTION ntg._fit_scores(train_query text, test_query text, hyperparams jsonb,
	OUT accuracy float8, OUT macro_f1 float8, OUT weighted_f1 float8)
	LANGUAGE sql VOLATILE
AS $fn$
	SELECT max(e.f1) FILTER (WHERE e.kind = 'accuracy'),
		   max(e.f1) FILTER (WHERE e.kind = 'macro avg'),
		   max(e.f1) FILTER (WHERE e.kind = 'weighted avg')
	FROM ntg.rf_fit_evaluate(train_query, test_query, hyperparams) e
$fn$;

-- Train on real vs train on synthetic, test on real (the paper's Table II).  The first row is the
-- real training split itself ('real'); then each generator, trained on synthetic rows only, as many
-- per class as the real training split has.  Generator models must have been trained on the same
-- real training split.
CREATE FUNCTION ntg.tstr(train_query text, test_query text, generators text[],
						 hyperparams jsonb DEFAULT '{}', seed bigint DEFAULT 0,
						 stratified boolean DEFAULT false)
	RETURNS TABLE (generator text, train_rows bigint, accuracy float8, macro_f1 float8, weighted_f1 float8)
	LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
	g text;
	c record;
	s record;
BEGIN
	IF train_query IS NULL OR test_query IS NULL OR generators IS NULL OR seed IS NULL OR stratified IS NULL THEN
		RAISE EXCEPTION 'arguments of ntg.tstr must not be null' USING ERRCODE = '22004';
	END IF;
	IF to_regclass('pg_temp.ntg_tstr_real') IS NOT NULL THEN DROP TABLE pg_temp.ntg_tstr_real; END IF;
	IF to_regclass('pg_temp.ntg_tstr_synth') IS NOT NULL THEN DROP TABLE pg_temp.ntg_tstr_synth; END IF;
	EXECUTE format('CREATE TEMP TABLE ntg_tstr_real AS SELECT s.label::text AS label, s.pl::integer[] AS pl FROM (%s) AS s(label, pl)',
				   train_query);
	CREATE TEMP TABLE ntg_tstr_synth (label text, pl integer[]);
	s := ntg._fit_scores('SELECT label, pl FROM pg_temp.ntg_tstr_real', test_query, hyperparams);
	generator := 'real';
	train_rows := (SELECT count(*) FROM pg_temp.ntg_tstr_real);
	accuracy := s.accuracy; macro_f1 := s.macro_f1; weighted_f1 := s.weighted_f1;
	RETURN NEXT;
	FOREACH g IN ARRAY generators LOOP
		TRUNCATE pg_temp.ntg_tstr_synth;
		FOR c IN SELECT r.label, count(*)::integer AS n FROM pg_temp.ntg_tstr_real r GROUP BY 1 ORDER BY 1 LOOP
			INSERT INTO pg_temp.ntg_tstr_synth
				SELECT x.label, x.pl FROM ntg.synthesize(g,
					format('SELECT label, pl FROM pg_temp.ntg_tstr_real WHERE label = %L', c.label),
					c.n, seed, false, stratified) x;
		END LOOP;
		s := ntg._fit_scores('SELECT label, pl FROM pg_temp.ntg_tstr_synth', test_query, hyperparams);
		generator := g;
		train_rows := (SELECT count(*) FROM pg_temp.ntg_tstr_synth);
		accuracy := s.accuracy; macro_f1 := s.macro_f1; weighted_f1 := s.weighted_f1;
		RETURN NEXT;
	END LOOP;
	DROP TABLE pg_temp.ntg_tstr_real, pg_temp.ntg_tstr_synth;
END
$fn$;
COMMENT ON FUNCTION ntg.tstr(text, text, text[], jsonb, bigint, boolean) IS
	'train on real vs train on synthetic, test on real: accuracy and F1 per generator';

-- The low-data augmentation sweep (the paper's Fig. 3): for each fraction f, keep round(n_c * f)
-- rows (at least 1) of every class of the real training split (nested subsets, ranked as in
-- ntg.split), then add synthetic rows until every class has as many rows as the largest class of
-- the full split.  Baselines see only the kept rows; generator models were trained on the full
-- split.  real_only_f1 is the forest trained on the kept rows alone.
CREATE FUNCTION ntg.augment_sweep(train_query text, test_query text, generators text[],
								  fractions float8[] DEFAULT '{0.05,0.1,0.2,0.5,1}',
								  hyperparams jsonb DEFAULT '{}', seed bigint DEFAULT 0,
								  stratified boolean DEFAULT false)
	RETURNS TABLE (generator text, fraction float8, real_rows bigint, synthetic_rows bigint,
				   macro_f1 float8, real_only_f1 float8)
	LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
	f float8;
	g text;
	target integer;
	real_only float8;
	n_kept bigint;
BEGIN
	IF train_query IS NULL OR test_query IS NULL OR generators IS NULL OR fractions IS NULL OR seed IS NULL
	   OR stratified IS NULL THEN
		RAISE EXCEPTION 'arguments of ntg.augment_sweep must not be null' USING ERRCODE = '22004';
	END IF;
	IF EXISTS (SELECT 1 FROM unnest(fractions) x WHERE x IS NULL OR NOT (x > 0 AND x <= 1)) THEN
		RAISE EXCEPTION 'fractions must be in (0, 1]' USING ERRCODE = '22023';
	END IF;
	IF to_regclass('pg_temp.ntg_sweep_real') IS NOT NULL THEN DROP TABLE pg_temp.ntg_sweep_real; END IF;
	IF to_regclass('pg_temp.ntg_sweep_kept') IS NOT NULL THEN DROP TABLE pg_temp.ntg_sweep_kept; END IF;
	IF to_regclass('pg_temp.ntg_sweep_aug') IS NOT NULL THEN DROP TABLE pg_temp.ntg_sweep_aug; END IF;
	EXECUTE format($q$
		CREATE TEMP TABLE ntg_sweep_real AS
		WITH src AS (SELECT s.label::text AS label, s.pl::integer[] AS pl FROM (%s) AS s(label, pl)),
		dup AS (SELECT s.label, s.pl, row_number() OVER (PARTITION BY s.label, s.pl) AS k FROM src s)
		SELECT d.label, d.pl,
			row_number() OVER (PARTITION BY d.label
				ORDER BY md5(%L || '/' || d.label || '/' || d.pl::text || '/' || d.k), d.pl, d.k) AS r,
			count(*) OVER (PARTITION BY d.label) AS n
		FROM dup d $q$, train_query, seed::text);
	SELECT max(x.n) INTO target FROM pg_temp.ntg_sweep_real x;
	IF target IS NULL THEN
		RAISE EXCEPTION 'training set is empty' USING ERRCODE = '22023';
	END IF;
	CREATE TEMP TABLE ntg_sweep_kept (label text, pl integer[]);
	CREATE TEMP TABLE ntg_sweep_aug (label text, pl integer[]);
	FOREACH f IN ARRAY fractions LOOP
		TRUNCATE pg_temp.ntg_sweep_kept;
		INSERT INTO pg_temp.ntg_sweep_kept
			SELECT x.label, x.pl FROM pg_temp.ntg_sweep_real x WHERE x.r <= greatest(1, round(x.n * f));
		n_kept := (SELECT count(*) FROM pg_temp.ntg_sweep_kept);
		real_only := (ntg._fit_scores('SELECT label, pl FROM pg_temp.ntg_sweep_kept', test_query, hyperparams)).macro_f1;
		FOREACH g IN ARRAY generators LOOP
			TRUNCATE pg_temp.ntg_sweep_aug;
			INSERT INTO pg_temp.ntg_sweep_aug
				SELECT x.label, x.pl FROM ntg.synthesize(g, 'SELECT label, pl FROM pg_temp.ntg_sweep_kept',
														 target, seed, true, stratified) x;
			generator := g;
			fraction := f;
			real_rows := n_kept;
			synthetic_rows := (SELECT count(*) FROM pg_temp.ntg_sweep_aug);
			INSERT INTO pg_temp.ntg_sweep_aug SELECT * FROM pg_temp.ntg_sweep_kept;
			macro_f1 := (ntg._fit_scores('SELECT label, pl FROM pg_temp.ntg_sweep_aug', test_query, hyperparams)).macro_f1;
			real_only_f1 := real_only;
			RETURN NEXT;
		END LOOP;
	END LOOP;
	DROP TABLE pg_temp.ntg_sweep_real, pg_temp.ntg_sweep_kept, pg_temp.ntg_sweep_aug;
END
$fn$;
COMMENT ON FUNCTION ntg.augment_sweep(text, text, text[], float8[], jsonb, bigint, boolean) IS
	'low-data augmentation sweep: macro F1 per generator and real fraction, beside real-only F1';

-- An SVG line chart from the rows (series text, x float8, y float8) of a query: one line per series,
-- x values evenly spaced in ascending order (as the paper's fractions), y from 0 to 1 unless the
-- data leave that range.  Returns the SVG document as text.
CREATE FUNCTION ntg.line_chart_svg(query text, title text DEFAULT '',
								   x_label text DEFAULT 'real training data (%)',
								   y_label text DEFAULT 'macro F1')
	RETURNS text
	LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
	w constant integer := 700;
	h constant integer := 400;
	ml constant integer := 60;
	mr constant integer := 200;
	mt constant integer := 40;
	mb constant integer := 50;
	colors constant text[] := '{#1f77b4,#d62728,#2ca02c,#ff7f0e,#9467bd,#8c564b,#e377c2,#7f7f7f}';
	xs float8[];
	ymin float8;
	ymax float8;
	svg text;
	s record;
	p record;
	i integer := 0;
	pts text;
	px float8;
	py float8;
BEGIN
	IF query IS NULL THEN
		RAISE EXCEPTION 'query must not be null' USING ERRCODE = '22004';
	END IF;
	IF to_regclass('pg_temp.ntg_chart') IS NOT NULL THEN DROP TABLE pg_temp.ntg_chart; END IF;
	EXECUTE format('CREATE TEMP TABLE ntg_chart AS SELECT c.series::text AS series, c.x::float8 AS x, c.y::float8 AS y FROM (%s) AS c(series, x, y)', query);
	DELETE FROM pg_temp.ntg_chart c WHERE c.series IS NULL OR c.x IS NULL OR c.y IS NULL OR c.y = 'NaN';
	SELECT array_agg(DISTINCT c.x ORDER BY c.x), least(0, min(c.y)), greatest(1, max(c.y))
		INTO xs, ymin, ymax FROM pg_temp.ntg_chart c;
	IF xs IS NULL THEN
		RAISE EXCEPTION 'query returned no points' USING ERRCODE = '22023';
	END IF;
	svg := format('<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="sans-serif" font-size="12">',
				  w, h, w, h)
		|| format('<rect width="%s" height="%s" fill="white"/>', w, h)
		|| format('<text x="%s" y="22" text-anchor="middle" font-size="14">%s</text>', (ml + w - mr) / 2, ntg._xml_escape(title))
		|| format('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="black"/>', ml, h - mb, w - mr, h - mb)
		|| format('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="black"/>', ml, mt, ml, h - mb);
	FOR k IN 0..5 LOOP
		py := h - mb - k / 5.0 * (h - mt - mb);
		svg := svg || format('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#dddddd"/><text x="%s" y="%s" text-anchor="end">%s</text>',
							 ml, round(py::numeric, 1), w - mr, round(py::numeric, 1), ml - 6, round(py::numeric, 1) + 4,
							 to_char(ymin + k / 5.0 * (ymax - ymin), 'FM0.0'));
	END LOOP;
	FOR k IN 1..array_length(xs, 1) LOOP
		px := ml + (k - 0.5) / array_length(xs, 1) * (w - ml - mr);
		svg := svg || format('<text x="%s" y="%s" text-anchor="middle">%s</text>', round(px::numeric, 1), h - mb + 16,
							 trim_scale(round(xs[k]::numeric, 6)));
	END LOOP;
	svg := svg || format('<text x="%s" y="%s" text-anchor="middle">%s</text>', (ml + w - mr) / 2, h - 12, ntg._xml_escape(x_label))
		|| format('<text x="16" y="%s" text-anchor="middle" transform="rotate(-90 16 %s)">%s</text>',
				  (mt + h - mb) / 2, (mt + h - mb) / 2, ntg._xml_escape(y_label));
	FOR s IN SELECT DISTINCT c.series FROM pg_temp.ntg_chart c ORDER BY 1 LOOP
		pts := '';
		FOR p IN SELECT c.x, avg(c.y) AS y FROM pg_temp.ntg_chart c WHERE c.series = s.series GROUP BY c.x ORDER BY c.x LOOP
			px := ml + (array_position(xs, p.x) - 0.5) / array_length(xs, 1) * (w - ml - mr);
			py := h - mb - (p.y - ymin) / (ymax - ymin) * (h - mt - mb);
			pts := pts || round(px::numeric, 1) || ',' || round(py::numeric, 1) || ' ';
			svg := svg || format('<circle cx="%s" cy="%s" r="3" fill="%s"/>', round(px::numeric, 1), round(py::numeric, 1),
								 colors[i % 8 + 1]);
		END LOOP;
		svg := svg || format('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>', colors[i % 8 + 1], rtrim(pts))
			|| format('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"/><text x="%s" y="%s">%s</text>',
					  w - mr + 10, mt + 10 + 18 * i, w - mr + 30, mt + 10 + 18 * i, colors[i % 8 + 1],
					  w - mr + 35, mt + 14 + 18 * i, ntg._xml_escape(s.series));
		i := i + 1;
	END LOOP;
	DROP TABLE pg_temp.ntg_chart;
	RETURN svg || '</svg>';
END
$fn$;
COMMENT ON FUNCTION ntg.line_chart_svg(text, text, text, text) IS
	'SVG line chart of (series, x, y) rows, e.g. macro F1 against the real fraction';

CREATE FUNCTION ntg._xml_escape(s text) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT replace(replace(replace(replace(coalesce(s, ''), '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;') $$;
