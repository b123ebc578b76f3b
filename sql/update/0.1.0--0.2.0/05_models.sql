-- ntg 0.1.0 -> 0.2.0, part 05: ntg.models gets an owner (row security), and the training's
-- time per epoch and peak memory.  Models of 0.1.0 belong to the role that runs the update.
-- Weights written from now on are stored uncompressed (those already there stay as they are).

ALTER TABLE ntg.models ADD COLUMN owner regrole NOT NULL DEFAULT current_user::regrole;
ALTER TABLE ntg.models ADD COLUMN epoch_seconds double precision;
ALTER TABLE ntg.models ADD COLUMN train_peak_bytes bigint;
ALTER TABLE ntg.models ENABLE ROW LEVEL SECURITY;
CREATE POLICY models_owner ON ntg.models
	USING (pg_catalog.pg_has_role(owner, 'USAGE'))
	WITH CHECK (pg_catalog.pg_has_role(owner, 'USAGE'));
ALTER TABLE ntg.models ALTER COLUMN weights SET STORAGE EXTERNAL;
