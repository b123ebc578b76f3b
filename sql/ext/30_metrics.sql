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
