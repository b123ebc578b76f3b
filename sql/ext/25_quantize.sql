-- ntg install script, part 25: int8 post-training quantization of a stored model
-- (src/pg/models_quantize_sql.c; docs/quantization.md).

-- What ntg.quantize() returns: the stored int8 model.
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
