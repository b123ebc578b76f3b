-- ntg install script, part 30: fidelity metrics of a synthetic set against a real one, and the
-- radar chart (docs/metrics.md).  The query functions run the caller's queries through SPI:
-- VOLATILE (what the queries read may change between calls, and they may call volatile functions)
-- and PARALLEL UNSAFE.  None is STRICT: a null argument gets a clear error, not an empty result.

CREATE FUNCTION ntg.fidelity(real_query text, synthetic_query text,
                             size_matched boolean DEFAULT false, seed bigint DEFAULT 0,
                             OUT metric text, OUT value float8)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'ntg_fidelity_v2'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.fidelity(text, text, boolean, bigint) IS
	'six fidelity metrics of synthetic against real rows (label, pl), macro-averaged over the real classes; size_matched cuts each class of both sets to the smaller side''s row count first, by a uniform sample that seed seeds';

CREATE FUNCTION ntg.fidelity_by_class(real_query text, synthetic_query text,
                                      size_matched boolean DEFAULT false, seed bigint DEFAULT 0,
                                      OUT label text, OUT metric text, OUT value float8,
                                      OUT real_rows integer, OUT synthetic_rows integer)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'ntg_fidelity_by_class_v2'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.fidelity_by_class(text, text, boolean, bigint) IS
	'six fidelity metrics per class of either set (value null for a class without real rows); size_matched and seed as for ntg.fidelity';

-- Synthetic rows against fresh real rows: per metric, what the real training rows score against
-- the real test rows and what the synthetic rows score in their place, both size-matched
-- (src/core/metrics/size_match.h; docs/metrics.md, "Synthetic against fresh real rows").
CREATE FUNCTION ntg.fidelity_gap(train_query text, test_query text, synthetic_query text,
                                 seed bigint DEFAULT 0)
	RETURNS TABLE (metric text, real_value float8, synthetic_value float8, difference float8)
	AS 'MODULE_PATHNAME', 'ntg_fidelity_gap'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.fidelity_gap(text, text, text, bigint) IS
	'synthetic rows against the real training rows they were made from, both compared with real test rows at equal sizes: JSDs and uniq_align to the test rows, leakage against the training rows; seed seeds the size-matching samples';

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

-- The privacy-utility frontier as an SVG chart: one point per (name, tstr_ratio, leakage) row of
-- a query — usefulness (the TSTR ratio, macro F1 of a classifier trained on synthetic rows over
-- one trained on real rows) against copying (the size-matched leakage, as ntg.fidelity_gap gives
-- it) — the points no other point beats on both drawn as the frontier, and the real test rows as
-- the reference: at real_leakage and TSTR ratio 1, with the bars a generator should meet (leakage
-- at most the real rows', TSTR ratio at least 0.95).  The C entry point reads the query with the
-- caller's search_path into a temporary table (src/pg/experiments_sql.c).
CREATE FUNCTION ntg.frontier_svg(query text, real_leakage float8,
								 title text DEFAULT 'Privacy-utility frontier')
	RETURNS text
	AS 'MODULE_PATHNAME', 'ntg_frontier_svg'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.frontier_svg(text, float8, text) IS
	'SVG chart of the TSTR ratio against the size-matched leakage of the (name, tstr_ratio, leakage) rows of a query, with the frontier and the real rows (real_leakage, TSTR ratio 1) as the reference';

CREATE FUNCTION ntg._frontier_points(points regclass, real_leakage float8, title text)
	RETURNS text
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	w constant integer := 860;
	h constant integer := 460;
	ml constant integer := 70;
	mr constant integer := 330;
	mt constant integer := 45;
	mb constant integer := 55;
	goal constant float8 := 0.95;
	colors constant text[] := '{#1f77b4,#d62728,#2ca02c,#ff7f0e,#9467bd,#8c564b,#e377c2,#7f7f7f,#bcbd22,#17becf}';
	xmax float8;
	ymin float8;
	ymax float8;
	ystep float8;
	svg text;
	p record;
	i integer := 0;
	n integer;
	px float8;
	py float8;
	pts text := '';
	bad text;
BEGIN
	EXECUTE format('SELECT count(*) FROM %s', points) INTO n;
	IF n = 0 THEN
		RAISE EXCEPTION 'query returned no points' USING ERRCODE = '22023';
	END IF;
	EXECUTE format('SELECT count(*) FROM %s c WHERE c.name IS NULL OR c.tstr_ratio IS NULL OR c.leakage IS NULL', points)
		INTO n;
	IF n > 0 THEN
		RAISE EXCEPTION 'query returned a null name, tstr_ratio or leakage' USING ERRCODE = '22004';
	END IF;
	EXECUTE format($q$SELECT min(c.name) FROM %s c
		WHERE NOT (c.leakage >= 0 AND c.leakage <= 1) OR NOT (c.tstr_ratio >= 0 AND c.tstr_ratio < 'Infinity')$q$, points)
		INTO bad;
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'point "%" is out of range', bad USING ERRCODE = '22023',
			DETAIL = 'leakage must be between 0 and 1 and tstr_ratio a finite number of at least 0.';
	END IF;
	IF NOT (real_leakage >= 0 AND real_leakage <= 1) THEN
		RAISE EXCEPTION 'real_leakage must be between 0 and 1' USING ERRCODE = '22023';
	END IF;
	-- axes: leakage from 0 to a multiple of 0.05 above every point and the reference;
	-- TSTR ratio over a range of multiples of 0.05 that holds the points, 0.9 and 1.05
	EXECUTE format('SELECT greatest(0.1, ceil(greatest(max(c.leakage), $1) * 1.1 * 20) / 20),'
				   ' floor(least(min(c.tstr_ratio), 0.9) * 20) / 20, greatest(1.05, ceil(max(c.tstr_ratio) * 20) / 20)'
				   ' FROM %s c', points) USING real_leakage INTO xmax, ymin, ymax;
	ystep := CASE WHEN ymax - ymin > 0.5 THEN 0.1 ELSE 0.05 END;
	svg := format('<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="sans-serif" font-size="12">',
				  w, h, w, h)
		|| format('<rect width="%s" height="%s" fill="white"/>', w, h)
		|| format('<text x="%s" y="24" text-anchor="middle" font-size="15">%s</text>', (ml + w - mr) / 2, ntg._xml_escape(title));
	-- where a generator is as good as real rows: leakage at most theirs, TSTR ratio at least the goal
	svg := svg || format('<rect class="goal" x="%s" y="%s" width="%s" height="%s" fill="#2ca02c" fill-opacity="0.12"/>',
						 ml, round((h - mb - (ymax - ymin) / (ymax - ymin) * (h - mt - mb))::numeric, 1),
						 round((real_leakage / xmax * (w - ml - mr))::numeric, 1),
						 round(((ymax - goal) / (ymax - ymin) * (h - mt - mb))::numeric, 1));
	FOR k IN 0..round((ymax - ymin) / ystep)::integer LOOP
		py := h - mb - k * ystep / (ymax - ymin) * (h - mt - mb);
		svg := svg || format('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#e0e0e0"/><text x="%s" y="%s" text-anchor="end">%s</text>',
							 ml, round(py::numeric, 1), w - mr, round(py::numeric, 1), ml - 6, round(py::numeric, 1) + 4,
							 to_char(ymin + k * ystep, 'FM0.00'));
	END LOOP;
	FOR k IN 0..round(xmax / 0.05)::integer LOOP
		px := ml + k * 0.05 / xmax * (w - ml - mr);
		svg := svg || format('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#e0e0e0"/><text x="%s" y="%s" text-anchor="middle">%s</text>',
							 round(px::numeric, 1), mt, round(px::numeric, 1), h - mb, round(px::numeric, 1), h - mb + 16,
							 to_char(k * 0.05, 'FM0.00'));
	END LOOP;
	svg := svg
		|| format('<line class="axis" x1="%s" y1="%s" x2="%s" y2="%s" stroke="black"/>', ml, h - mb, w - mr, h - mb)
		|| format('<line class="axis" x1="%s" y1="%s" x2="%s" y2="%s" stroke="black"/>', ml, mt, ml, h - mb)
		|| format('<text x="%s" y="%s" text-anchor="middle">size-matched leakage against the training rows (lower: fewer copies)</text>',
				  (ml + w - mr) / 2, h - 14)
		|| format('<text x="18" y="%s" text-anchor="middle" transform="rotate(-90 18 %s)">TSTR ratio (synthetic / real macro F1)</text>',
				  (mt + h - mb) / 2, (mt + h - mb) / 2);
	px := ml + real_leakage / xmax * (w - ml - mr);
	py := h - mb - (goal - ymin) / (ymax - ymin) * (h - mt - mb);
	svg := svg
		|| format('<line class="privacy-bar" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#2ca02c" stroke-dasharray="5,4"/>',
				  round(px::numeric, 1), mt, round(px::numeric, 1), h - mb)
		|| format('<line class="utility-bar" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#2ca02c" stroke-dasharray="5,4"/>',
				  ml, round(py::numeric, 1), w - mr, round(py::numeric, 1))
		|| format('<text x="%s" y="%s" fill="#2ca02c">TSTR %s</text>', w - mr - 60, round(py::numeric, 1) - 4, goal);
	-- the frontier: the points that no other point beats on both leakage and TSTR ratio
	FOR p IN EXECUTE format($q$SELECT c.leakage, c.tstr_ratio FROM %1$s c
			WHERE NOT EXISTS (SELECT 1 FROM %1$s d WHERE d.leakage <= c.leakage AND d.tstr_ratio >= c.tstr_ratio
							  AND (d.leakage < c.leakage OR d.tstr_ratio > c.tstr_ratio))
			GROUP BY c.leakage, c.tstr_ratio ORDER BY c.leakage, c.tstr_ratio$q$, points) LOOP
		pts := pts || round((ml + p.leakage / xmax * (w - ml - mr))::numeric, 1) || ','
			|| round((h - mb - (p.tstr_ratio - ymin) / (ymax - ymin) * (h - mt - mb))::numeric, 1) || ' ';
	END LOOP;
	svg := svg || format('<polyline class="frontier" fill="none" stroke="#555555" stroke-width="1.5" points="%s"/>', rtrim(pts));
	-- the reference: the real test rows, a fresh real sample
	px := ml + real_leakage / xmax * (w - ml - mr);
	py := h - mb - (1.0 - ymin) / (ymax - ymin) * (h - mt - mb);
	svg := svg || format('<path class="reference" d="M %s %s l 7 7 l -7 7 l -7 -7 z" fill="black"><title>real test rows: TSTR ratio 1, leakage %s</title></path>',
						 round(px::numeric, 1), round(py::numeric, 1) - 7, round(real_leakage::numeric, 3))
		|| format('<text x="%s" y="%s">real</text>', round(px::numeric, 1) + 9, round(py::numeric, 1) - 6);
	svg := svg || '<g id="legend">'
		|| format('<text x="%s" y="%s" font-weight="bold">(TSTR ratio, leakage)</text>', w - mr + 16, mt - 10)
		|| format('<path d="M %s %s l 6 6 l -6 6 l -6 -6 z" fill="black"/><text x="%s" y="%s">real test rows (1, %s)</text>',
				  w - mr + 22, mt - 2, w - mr + 34, mt + 8, to_char(real_leakage, 'FM0.000'));
	FOR p IN EXECUTE format('SELECT c.name, c.tstr_ratio, c.leakage FROM %s c ORDER BY c.leakage, c.tstr_ratio DESC, c.name', points) LOOP
		i := i + 1;
		px := ml + p.leakage / xmax * (w - ml - mr);
		py := h - mb - (p.tstr_ratio - ymin) / (ymax - ymin) * (h - mt - mb);
		svg := svg || format('<text class="entry" x="%s" y="%s" fill="%s">%s  <tspan class="name">%s</tspan> (%s, %s)</text>', w - mr + 16, mt + 8 + 18 * i, colors[(i - 1) % 10 + 1],
							 i, ntg._xml_escape(p.name), to_char(p.tstr_ratio, 'FM0.000'), to_char(p.leakage, 'FM0.000'));
	END LOOP;
	svg := svg || '</g>';
	i := 0;
	FOR p IN EXECUTE format('SELECT c.name, c.tstr_ratio, c.leakage FROM %s c ORDER BY c.leakage, c.tstr_ratio DESC, c.name', points) LOOP
		i := i + 1;
		px := ml + p.leakage / xmax * (w - ml - mr);
		py := h - mb - (p.tstr_ratio - ymin) / (ymax - ymin) * (h - mt - mb);
		svg := svg || format('<circle class="point" cx="%s" cy="%s" r="5" fill="%s"><title>%s: TSTR ratio %s, leakage %s</title></circle>',
							 round(px::numeric, 1), round(py::numeric, 1), colors[(i - 1) % 10 + 1], ntg._xml_escape(p.name),
							 to_char(p.tstr_ratio, 'FM0.000'), to_char(p.leakage, 'FM0.000'))
			|| format('<text class="point-label" x="%s" y="%s" font-size="11">%s</text>', round(px::numeric, 1) + 7,
					  round(py::numeric, 1) + 4, i);
	END LOOP;
	RETURN svg || '</svg>';
END
$fn$;
COMMENT ON FUNCTION ntg._frontier_points(regclass, float8, text) IS
	'internal: ntg.frontier_svg on a table of (name, tstr_ratio, leakage) points';
