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
