-- ntg install script, part 05: the model table shared by every model kind (generators, forests).
-- weights holds the checked container of src/core/common/blob.h; nothing reads it unchecked.

CREATE TABLE ntg.models (
	name			text PRIMARY KEY CHECK (name <> ''),
	kind			text NOT NULL,			-- ntg.model_kinds() lists the kinds
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
	updated_at		timestamptz NOT NULL DEFAULT now(),
	owner			regrole NOT NULL DEFAULT current_user::regrole,	-- members of this role use the model
	epoch_seconds	double precision,		-- mean time of one training epoch
	train_peak_bytes bigint					-- most memory the training held
);
COMMENT ON TABLE ntg.models IS 'trained ntg models (generators and classifiers), one row per name';
-- Weights are stored out of line and uncompressed: float weights barely compress (pglz saved 3.5 %
-- of a default llama), and every backend that loads a model would pay the decompression.
ALTER TABLE ntg.models ALTER COLUMN weights SET STORAGE EXTERNAL;

-- Rows users create are theirs: include them in pg_dump.
SELECT pg_catalog.pg_extension_config_dump('ntg.models', '');

-- A model belongs to its owner role: members of that role see, use, replace, rename and drop it,
-- and nobody else does (superusers and the table's owner aside).  Sharing a model means owning it
-- by a group role.  Privileges on the table itself (GRANT SELECT, INSERT, UPDATE, DELETE ON
-- ntg.models) are granted by its owner as for any table.
ALTER TABLE ntg.models ENABLE ROW LEVEL SECURITY;
CREATE POLICY models_owner ON ntg.models
	USING (pg_catalog.pg_has_role(owner, 'USAGE'))
	WITH CHECK (pg_catalog.pg_has_role(owner, 'USAGE'));
