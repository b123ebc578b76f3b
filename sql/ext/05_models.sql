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
