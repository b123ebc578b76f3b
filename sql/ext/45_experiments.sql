-- ntg install script, part 45: the paper's classification experiments as SQL (docs/classifier.md):
-- a stratified split, synthetic rows from a baseline or a generator model, train-on-synthetic /
-- test-on-real (TSTR), the low-data augmentation sweep, and an SVG line chart.
--
-- The public functions are C entry points (src/pg/experiments_sql.c): they refuse NULL arguments,
-- check each query the caller gives (one plain SELECT with the right columns), run it once under
-- the caller's own search_path into a temporary table with a random name (dropped at commit), and
-- call the implementation below with the table.  The implementations pin their search_path, so
-- that nothing they call can be redefined from a schema on the caller's path.

-- A scratch table of the calling function's own: a random name, dropped at commit.
CREATE FUNCTION ntg._scratch_table(purpose text) RETURNS regclass
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	t text := 'ntg_' || purpose || '_' || replace(gen_random_uuid()::text, '-', '');
BEGIN
	EXECUTE format('CREATE TEMP TABLE %I (label text, pl integer[]) ON COMMIT DROP', t);
	RETURN format('pg_temp.%I', t)::regclass;
END
$fn$;
COMMENT ON FUNCTION ntg._scratch_table(text) IS
	'internal: a new temporary (label, pl) table no caller uses, dropped at commit';

-- Stratified split: within each class, rows are ranked by a hash of (seed, label, pl, occurrence of
-- that same row); the first round(n * test_fraction) ranks are the test rows.  The ranking depends
-- only on the seed and the multiset of rows (not on their order), and copies of one sequence are
-- spread over both sides like any other rows.
CREATE FUNCTION ntg.split(query text, test_fraction float8 DEFAULT 0.2, seed bigint DEFAULT 0)
	RETURNS TABLE (label text, pl integer[], is_test boolean)
	AS 'MODULE_PATHNAME', 'ntg_split'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.split(text, float8, bigint) IS
	'stratified train/test split of (label, pl) rows; seed seeds the ranking that picks the test rows';

CREATE FUNCTION ntg._split_rows(tab regclass, test_fraction float8, seed bigint)
	RETURNS TABLE (label text, pl integer[], is_test boolean)
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	IF NOT (test_fraction >= 0 AND test_fraction <= 1) THEN
		RAISE EXCEPTION 'test_fraction must be between 0 and 1' USING ERRCODE = '22023';
	END IF;
	RETURN QUERY EXECUTE format($q$
		WITH dup AS (SELECT s.label, s.pl, row_number() OVER (PARTITION BY s.label, s.pl) AS k FROM %s s),
		ranked AS (
			SELECT d.label, d.pl,
				row_number() OVER (PARTITION BY d.label
					ORDER BY md5($1::text || '/' || d.label || '/' || d.pl::text || '/' || d.k), d.pl, d.k) AS r,
				count(*) OVER (PARTITION BY d.label) AS n
			FROM dup d)
		SELECT x.label, x.pl, x.r <= round(x.n * $2) FROM ranked x ORDER BY x.label, x.r
		$q$, tab) USING seed, test_fraction;
END
$fn$;
COMMENT ON FUNCTION ntg._split_rows(regclass, float8, bigint) IS
	'internal: ntg.split on a table of rows; seed seeds the ranking as there';

-- Synthetic rows from a generator: 'smote', 'fast_retransmit', or the name of a generator model in
-- ntg.models (through ntg.generate).  Per class of train_query: rows_per_class rows, or with top_up
-- only what is missing for the class to reach rows_per_class (a NOTICE names a class that needs
-- none).  options are passed to ntg.generate; the baselines take none.
CREATE FUNCTION ntg.synthesize(generator text, train_query text, rows_per_class integer,
							   seed bigint DEFAULT 0, top_up boolean DEFAULT false,
							   options jsonb DEFAULT '{}')
	RETURNS TABLE (label text, pl integer[])
	AS 'MODULE_PATHNAME', 'ntg_synthesize'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.synthesize(text, text, integer, bigint, boolean, jsonb) IS
	'synthetic (label, pl) rows per class from a baseline (smote, fast_retransmit) or a generator model; seed seeds the baseline or the model''s draws';

CREATE FUNCTION ntg._synthesize_rows(generator text, tab regclass, rows_per_class integer,
									 seed bigint, top_up boolean, options jsonb,
									 quiet boolean DEFAULT false)
	RETURNS TABLE (label text, pl integer[])
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	c record;
	want integer;
	q text := format('SELECT label, pl FROM %s', tab);
BEGIN
	IF rows_per_class < 0 THEN
		RAISE EXCEPTION 'rows_per_class must not be negative' USING ERRCODE = '22023';
	END IF;
	IF generator IN ('smote', 'fast_retransmit') AND options <> '{}' THEN
		RAISE EXCEPTION 'generator "%" takes no options', generator USING ERRCODE = '22023';
	END IF;
	IF generator NOT IN ('smote', 'fast_retransmit')
	   AND NOT EXISTS (SELECT 1 FROM ntg.models m WHERE m.name = generator) THEN
		RAISE EXCEPTION 'generator "%" does not exist', generator USING ERRCODE = '42704',
			HINT = 'Use ''smote'', ''fast_retransmit'' or the name of a generator model in ntg.models.';
	END IF;
	-- Class by class (a baseline's rows of a class depend only on the seed and that class's rows,
	-- so this is what one call over all classes gives), with the count each class needs.
	FOR c IN EXECUTE format('SELECT s.label, count(*)::integer AS n FROM %s s GROUP BY 1 ORDER BY 1', tab)
	LOOP
		want := CASE WHEN top_up THEN greatest(rows_per_class - c.n, 0) ELSE rows_per_class END;
		IF want = 0 AND top_up AND NOT quiet THEN
			RAISE NOTICE 'class "%" already has % rows: no synthetic rows added', c.label, c.n;
		ELSIF want > 0 AND generator = 'smote' THEN
			RETURN QUERY SELECT s.label, s.pl FROM ntg.smote(format('%s WHERE label = %L', q, c.label), want, seed, 5, false) s;
		ELSIF want > 0 AND generator = 'fast_retransmit' THEN
			RETURN QUERY SELECT s.label, s.pl
				FROM ntg.fast_retransmit(format('%s WHERE label = %L', q, c.label), want, seed, 0.5, false) s;
		ELSIF want > 0 THEN
			RETURN QUERY
				SELECT g.label, g.pl FROM ntg.generate(generator, c.label, want, seed, options) AS g;
		END IF;
	END LOOP;
END
$fn$;
COMMENT ON FUNCTION ntg._synthesize_rows(text, regclass, integer, bigint, boolean, jsonb, boolean) IS
	'internal: ntg.synthesize on a table of rows (quiet: no NOTICE for a class that needs no rows); seed as there';

-- Macro/weighted F1 and accuracy of a forest trained on train_query, evaluated on test_query.
CREATE FUNCTION ntg._fit_scores(train_query text, test_query text, hyperparams jsonb,
	OUT accuracy float8, OUT macro_f1 float8, OUT weighted_f1 float8)
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $fn$
	SELECT max(e.f1) FILTER (WHERE e.kind = 'accuracy'),
		   max(e.f1) FILTER (WHERE e.kind = 'macro avg'),
		   max(e.f1) FILTER (WHERE e.kind = 'weighted avg')
	FROM ntg.rf_fit_evaluate(train_query, test_query, hyperparams) e
$fn$;
COMMENT ON FUNCTION ntg._fit_scores(text, text, jsonb) IS
	'internal: accuracy, macro and weighted F1 of a forest trained and evaluated without storing it';

-- Refuse a NULL element of the generators of an experiment.
CREATE FUNCTION ntg._check_generators(generators text[]) RETURNS void
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	IF array_position(generators, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'generators must not contain null values' USING ERRCODE = '22004';
	END IF;
END
$fn$;
COMMENT ON FUNCTION ntg._check_generators(text[]) IS 'internal: generators must not hold NULL';

-- Train on real vs train on synthetic, test on real (the paper's Table II).  The first row is the
-- real training split itself ('real'); then each generator, trained on synthetic rows only, as many
-- per class as the real training split has.  Generator models must have been trained on the same
-- real training split.
CREATE FUNCTION ntg.tstr(train_query text, test_query text, generators text[],
						 hyperparams jsonb DEFAULT '{}', seed bigint DEFAULT 0,
						 options jsonb DEFAULT '{}')
	RETURNS TABLE (generator text, train_rows bigint, accuracy float8, macro_f1 float8, weighted_f1 float8)
	AS 'MODULE_PATHNAME', 'ntg_tstr'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.tstr(text, text, text[], jsonb, bigint, jsonb) IS
	'train on real vs train on synthetic, test on real: accuracy and F1 per generator; seed seeds the synthetic rows, hyperparams (with its "seed") the forests, options the generator models'' sampling';

CREATE FUNCTION ntg._tstr_rows(train_tab regclass, test_tab regclass, generators text[],
							   hyperparams jsonb, seed bigint, options jsonb)
	RETURNS TABLE (generator text, train_rows bigint, accuracy float8, macro_f1 float8, weighted_f1 float8)
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	real_t regclass := train_tab;
	g text;
	c record;
	s record;
	synth_t regclass := ntg._scratch_table('tstr_synth');
	test_q text := format('SELECT label, pl FROM %s', test_tab);
BEGIN
	PERFORM ntg._check_generators(generators);
	s := ntg._fit_scores(format('SELECT label, pl FROM %s', real_t), test_q, hyperparams);
	generator := 'real';
	EXECUTE format('SELECT count(*) FROM %s', real_t) INTO train_rows;
	accuracy := s.accuracy; macro_f1 := s.macro_f1; weighted_f1 := s.weighted_f1;
	RETURN NEXT;
	FOREACH g IN ARRAY generators LOOP
		EXECUTE format('TRUNCATE %s', synth_t);
		FOR c IN EXECUTE format('SELECT r.label, count(*)::integer AS n FROM %s r GROUP BY 1 ORDER BY 1', real_t) LOOP
			EXECUTE format('INSERT INTO %s SELECT x.label, x.pl FROM ntg.synthesize($1, $2, $3, $4, false, $5) x', synth_t)
				USING g, format('SELECT label, pl FROM %s WHERE label = %L', real_t, c.label), c.n, seed, options;
		END LOOP;
		s := ntg._fit_scores(format('SELECT label, pl FROM %s', synth_t), test_q, hyperparams);
		generator := g;
		EXECUTE format('SELECT count(*) FROM %s', synth_t) INTO train_rows;
		accuracy := s.accuracy; macro_f1 := s.macro_f1; weighted_f1 := s.weighted_f1;
		RETURN NEXT;
	END LOOP;
	EXECUTE format('DROP TABLE %s', synth_t);
END
$fn$;
COMMENT ON FUNCTION ntg._tstr_rows(regclass, regclass, text[], jsonb, bigint, jsonb) IS
	'internal: ntg.tstr on tables of training and test rows; seed seeds the synthetic rows as there';

-- The low-data augmentation sweep (the paper's Fig. 3): for each fraction f, keep round(n_c * f)
-- rows (at least 1) of every class of the real training split (nested subsets, ranked as in
-- ntg.split), then add synthetic rows until every class has as many rows as the largest class of
-- the full split.  Baselines see only the kept rows; generator models were trained on the full
-- split.  real_only_f1 is the forest trained on the kept rows alone.
CREATE FUNCTION ntg.augment_sweep(train_query text, test_query text, generators text[],
								  fractions float8[] DEFAULT '{0.05,0.1,0.2,0.5,1}',
								  hyperparams jsonb DEFAULT '{}', seed bigint DEFAULT 0,
								  options jsonb DEFAULT '{}')
	RETURNS TABLE (generator text, fraction float8, real_rows bigint, synthetic_rows bigint,
				   macro_f1 float8, real_only_f1 float8)
	AS 'MODULE_PATHNAME', 'ntg_augment_sweep'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.augment_sweep(text, text, text[], float8[], jsonb, bigint, jsonb) IS
	'low-data augmentation sweep: macro F1 per generator and real fraction, beside real-only F1; seed seeds the kept subsets and the synthetic rows, hyperparams (with its "seed") the forests';

CREATE FUNCTION ntg._augment_sweep_rows(train_tab regclass, test_tab regclass, generators text[],
										fractions float8[], hyperparams jsonb, seed bigint,
										options jsonb)
	RETURNS TABLE (generator text, fraction float8, real_rows bigint, synthetic_rows bigint,
				   macro_f1 float8, real_only_f1 float8)
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	f float8;
	g text;
	target integer;
	real_only float8;
	n_kept bigint;
	ranked_t text := ntg._scratch_name('sweep_ranked');
	kept_t regclass := ntg._scratch_table('sweep_kept');
	aug_t regclass := ntg._scratch_table('sweep_aug');
	test_q text := format('SELECT label, pl FROM %s', test_tab);
BEGIN
	PERFORM ntg._check_generators(generators);
	IF EXISTS (SELECT 1 FROM unnest(fractions) x WHERE x IS NULL OR NOT (x > 0 AND x <= 1)) THEN
		RAISE EXCEPTION 'fractions must be in (0, 1]' USING ERRCODE = '22023';
	END IF;
	EXECUTE format($q$
		CREATE TEMP TABLE %I ON COMMIT DROP AS
		WITH dup AS (SELECT s.label, s.pl, row_number() OVER (PARTITION BY s.label, s.pl) AS k FROM %s s)
		SELECT d.label, d.pl,
			row_number() OVER (PARTITION BY d.label
				ORDER BY md5(%L || '/' || d.label || '/' || d.pl::text || '/' || d.k), d.pl, d.k) AS r,
			count(*) OVER (PARTITION BY d.label) AS n
		FROM dup d $q$, ranked_t, train_tab, seed::text);
	EXECUTE format('SELECT max(x.n) FROM pg_temp.%I x', ranked_t) INTO target;
	IF target IS NULL THEN
		RAISE EXCEPTION 'training set is empty' USING ERRCODE = '22023';
	END IF;
	FOREACH f IN ARRAY fractions LOOP
		EXECUTE format('TRUNCATE %s', kept_t);
		EXECUTE format('INSERT INTO %s SELECT x.label, x.pl FROM pg_temp.%I x WHERE x.r <= greatest(1, round(x.n * $1))',
					   kept_t, ranked_t) USING f;
		EXECUTE format('SELECT count(*) FROM %s', kept_t) INTO n_kept;
		real_only := (ntg._fit_scores(format('SELECT label, pl FROM %s', kept_t), test_q, hyperparams)).macro_f1;
		FOREACH g IN ARRAY generators LOOP
			EXECUTE format('TRUNCATE %s', aug_t);
			EXECUTE format('INSERT INTO %s SELECT x.label, x.pl FROM ntg._synthesize_rows($1, $2, $3, $4, true, $5, true) x', aug_t)
				USING g, kept_t, target, seed,
					  CASE WHEN g IN ('smote', 'fast_retransmit') THEN '{}'::jsonb ELSE options END;
			generator := g;
			fraction := f;
			real_rows := n_kept;
			EXECUTE format('SELECT count(*) FROM %s', aug_t) INTO synthetic_rows;
			EXECUTE format('INSERT INTO %s SELECT * FROM %s', aug_t, kept_t);
			macro_f1 := (ntg._fit_scores(format('SELECT label, pl FROM %s', aug_t), test_q, hyperparams)).macro_f1;
			real_only_f1 := real_only;
			RETURN NEXT;
		END LOOP;
	END LOOP;
	EXECUTE format('DROP TABLE pg_temp.%I, %s, %s', ranked_t, kept_t, aug_t);
END
$fn$;
COMMENT ON FUNCTION ntg._augment_sweep_rows(regclass, regclass, text[], float8[], jsonb, bigint, jsonb) IS
	'internal: ntg.augment_sweep on tables of training and test rows; seed seeds the subsets and synthetic rows as there';

-- A name for a scratch table of the caller's own.
CREATE FUNCTION ntg._scratch_name(purpose text) RETURNS text
	LANGUAGE sql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT 'ntg_' || purpose || '_' || replace(gen_random_uuid()::text, '-', '') $$;
COMMENT ON FUNCTION ntg._scratch_name(text) IS 'internal: a temporary table name no caller uses';

-- An SVG line chart from the rows (series, x, y) of a query: one line per series, x values evenly
-- spaced in ascending order (as the paper's fractions), y from 0 to 1 unless the data leave that
-- range.  Returns the SVG document as text.
CREATE FUNCTION ntg.line_chart_svg(query text, title text DEFAULT '',
								   x_label text DEFAULT 'real training data (%)',
								   y_label text DEFAULT 'macro F1')
	RETURNS text
	AS 'MODULE_PATHNAME', 'ntg_line_chart_svg'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.line_chart_svg(text, text, text, text) IS
	'SVG line chart of the (series, x, y) rows of a query, e.g. macro F1 against the real fraction';

CREATE FUNCTION ntg._line_chart_points(points regclass, title text, x_label text, y_label text)
	RETURNS text
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
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
	EXECUTE format('DELETE FROM %s c WHERE c.series IS NULL OR c.x IS NULL OR c.y IS NULL OR c.y = ''NaN''', points);
	EXECUTE format('SELECT array_agg(DISTINCT c.x ORDER BY c.x), least(0, min(c.y)), greatest(1, max(c.y)) FROM %s c', points)
		INTO xs, ymin, ymax;
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
	FOR s IN EXECUTE format('SELECT DISTINCT c.series FROM %s c ORDER BY 1', points) LOOP
		pts := '';
		FOR p IN EXECUTE format('SELECT c.x, avg(c.y) AS y FROM %s c WHERE c.series = $1 GROUP BY c.x ORDER BY c.x', points)
				USING s.series LOOP
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
	RETURN svg || '</svg>';
END
$fn$;
COMMENT ON FUNCTION ntg._line_chart_points(regclass, text, text, text) IS
	'internal: ntg.line_chart_svg on a table of (series, x, y) points';

CREATE FUNCTION ntg._xml_escape(s text) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT replace(replace(replace(replace(coalesce(s, ''), '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;') $$;
COMMENT ON FUNCTION ntg._xml_escape(text) IS 'internal: text escaped for XML';
