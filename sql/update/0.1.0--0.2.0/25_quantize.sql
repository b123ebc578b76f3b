-- ntg 0.1.0 -> 0.2.0, part 25: int8 post-training quantization (new in 0.2.0; the same objects as
-- sql/ext/25_quantize.sql), and list_models() shows a model's quantization (a last column, as
-- sql/ext/20_models.sql declares it).  Reference: docs/quantization.md.

CREATE TYPE ntg.quantize_result AS (
	model			text,
	kind			text,
	quantization	text,				-- weight_only or dynamic
	version			bigint,
	parameters		bigint,
	bytes			bigint,				-- stored size of the int8 model
	source_bytes	bigint				-- stored size of the model it was made from
);

CREATE FUNCTION ntg.quantize(model text, new_model text, mode text DEFAULT 'dynamic',
							 replace boolean DEFAULT false)
	RETURNS ntg.quantize_result
	AS 'MODULE_PATHNAME', 'ntg_quantize'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.quantize(text, text, text, boolean) IS
	'store a copy of a model with its weight matrices in int8 (symmetric, per output channel): mode weight_only multiplies them with float activations, dynamic with activations quantized per row at run time (int8 dot products); the copy keeps the source''s training record';

-- A function's result columns cannot change in place.
DROP FUNCTION ntg.list_models();
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
