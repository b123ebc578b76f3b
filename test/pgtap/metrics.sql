-- pgTAP: properties of the fidelity metrics on rows made here (a deterministic formula).
BEGIN;
SELECT plan(39);
SET LOCAL client_min_messages = error;  -- the warnings about missing classes are pinned in pg_regress

-- 5 classes, 0..6 values per row, signed sizes from a few hundred distinct values; three sets with
-- different mixes, so that every metric lands strictly inside (0, 1) somewhere.
CREATE TEMP TABLE gen (set text, label text, pl int[]);
INSERT INTO gen
SELECT s.set, 'class ' || (i % 5),
       ARRAY(SELECT (CASE WHEN (i + j) % 3 = 0 THEN -1 ELSE 1 END) *
                    ((i * s.mult + j * j * 37 + i / 11) % s.modulus + 1) * 10
               FROM generate_series(1, (i * 3 + i / 7 + s.mult) % 7) j)::int[]
  FROM (VALUES ('a', 13, 29), ('b', 17, 29), ('c', 5, 61)) AS s(set, mult, modulus),
       generate_series(1, 900) i;
-- d: set a without class 4, plus a class of its own.
INSERT INTO gen SELECT 'd', label, pl FROM gen WHERE set = 'a' AND label <> 'class 4';
INSERT INTO gen VALUES ('d', 'only in d', '{1,2,3}');

CREATE FUNCTION pg_temp.q(set text) RETURNS text LANGUAGE sql IMMUTABLE
	AS $$ SELECT format('SELECT label, pl FROM gen WHERE set = %L', set) $$;
CREATE FUNCTION pg_temp.m(r text, s text) RETURNS TABLE (metric text, value float8) LANGUAGE sql
	AS $$ SELECT * FROM ntg.fidelity(pg_temp.q(r), pg_temp.q(s)) $$;

-- A set against itself.
SELECT is((SELECT array_agg(value ORDER BY metric) FROM pg_temp.m(x, x)),
          '{0,0,0,0,1,0}'::float8[],  -- jsd_1gram, 2gram, markov, num_packets, leakage, uniq_align
          format('set %s against itself: every metric 0, leakage 1', x))
  FROM unnest(ARRAY['a', 'b', 'c']) AS x;
SELECT is((SELECT count(*)::int FROM ntg.fidelity_by_class(pg_temp.q('c'), pg_temp.q('c'))
            WHERE value <> CASE WHEN metric = 'leakage' THEN 1 ELSE 0 END), 0,
          'set c against itself: the same in every class');

-- Values computed here in SQL from the definitions (docs/metrics.md), for the classes of two sets
-- that both have (all five for sets a, b, c): the JSD in bits of the sequence-length histograms and
-- of the value histograms, 1/2 sum p log2(p/m) + 1/2 sum q log2(q/m) with m = (p + q)/2, written
-- with ln(x) / ln(2); uniq_align = |distinct real sequences / real rows - distinct synthetic
-- sequences / synthetic rows|; leakage = sequences on both sides / sequences on either side.
CREATE FUNCTION pg_temp.by_hand(r text, s text) RETURNS TABLE (label text, metric text, value float8)
LANGUAGE sql AS $$
	WITH rows AS (SELECT 'r' AS side, g.label, g.pl FROM gen g WHERE g.set = r
				  UNION ALL SELECT 's', g.label, g.pl FROM gen g WHERE g.set = s),
	hist AS (SELECT 'jsd_num_packets' AS metric, x.label, x.side, cardinality(x.pl)::text AS key,
					count(*)::float8 AS n
			   FROM rows x GROUP BY 2, 3, 4
			 UNION ALL
			 SELECT 'jsd_1gram', x.label, x.side, v::text, count(*) FROM rows x, unnest(x.pl) v GROUP BY 2, 3, 4),
	pq AS (SELECT h.metric, h.label, h.key,
				  coalesce(sum(h.n / t.total) FILTER (WHERE h.side = 'r'), 0) AS p,
				  coalesce(sum(h.n / t.total) FILTER (WHERE h.side = 's'), 0) AS q
			 FROM hist h
			 JOIN (SELECT metric, label, side, sum(n) AS total FROM hist GROUP BY 1, 2, 3) t USING (metric, label, side)
			GROUP BY 1, 2, 3),
	seqs AS (SELECT x.label, bool_or(x.side = 'r') AS in_r, bool_or(x.side = 's') AS in_s
			   FROM rows x GROUP BY x.label, x.pl),
	n AS (SELECT x.label, count(*) FILTER (WHERE x.side = 'r') AS n_r, count(*) FILTER (WHERE x.side = 's') AS n_s
			FROM rows x GROUP BY 1)
	SELECT pq.label, pq.metric,
		   sum(CASE WHEN p > 0 THEN p * ln(p / ((p + q) / 2)) ELSE 0 END +
			   CASE WHEN q > 0 THEN q * ln(q / ((p + q) / 2)) ELSE 0 END) / 2 / ln(2)
	  FROM pq GROUP BY 1, 2
	UNION ALL
	SELECT n.label, 'uniq_align',
		   abs(count(*) FILTER (WHERE in_r)::float8 / n.n_r - count(*) FILTER (WHERE in_s)::float8 / n.n_s)
	  FROM seqs JOIN n USING (label) GROUP BY n.label, n.n_r, n.n_s
	UNION ALL
	SELECT seqs.label, 'leakage', count(*) FILTER (WHERE in_r AND in_s)::float8 / count(*)
	  FROM seqs GROUP BY 1
$$;
SELECT is((SELECT count(*)::int FROM pg_temp.m(r, s) f
			 JOIN (SELECT metric, avg(value) AS value FROM pg_temp.by_hand(r, s) GROUP BY 1) h USING (metric)
			WHERE abs(f.value - h.value) < 1e-9), 4,
          format('%s vs %s: jsd_num_packets, jsd_1gram, uniq_align, leakage equal the values computed in SQL', r, s))
  FROM (VALUES ('a', 'b'), ('a', 'c'), ('c', 'b')) AS p(r, s);
SELECT is((SELECT count(*)::int FROM ntg.fidelity_by_class(pg_temp.q('b'), pg_temp.q('c')) f
			 JOIN pg_temp.by_hand('b', 'c') h USING (label, metric)
			WHERE abs(f.value - h.value) < 1e-9), 20,
          'b vs c: the same per class (5 classes x 4 metrics)');
SELECT ok((SELECT bool_and(value > 0 AND value < 1) FROM pg_temp.m('a', 'b')),
          'a vs b: every metric strictly between 0 and 1 (the comparisons above are not vacuous)');

-- Symmetry: the histogram JSDs, uniq_align and leakage are symmetric; Markov is not in general
-- (its sources and weights come from the real side only).
SELECT is((SELECT count(*)::int FROM pg_temp.m(r, s) x JOIN pg_temp.m(s, r) y USING (metric)
            WHERE metric <> 'jsd_markov' AND abs(x.value - y.value) > 1e-12), 0,
          format('%s vs %s: jsd_num_packets, 1gram, 2gram, uniq_align, leakage symmetric', r, s))
  FROM (VALUES ('a', 'b'), ('a', 'c'), ('b', 'c')) AS p(r, s);
SELECT isnt((SELECT value FROM pg_temp.m('a', 'c') WHERE metric = 'jsd_markov'),
            (SELECT value FROM pg_temp.m('c', 'a') WHERE metric = 'jsd_markov'),
            'jsd_markov is not symmetric: a vs c differs from c vs a');

-- The macro average is the mean of the per-class values over the real classes.
SELECT is((SELECT count(*)::int FROM pg_temp.m('a', 'd') f
             JOIN (SELECT metric, avg(value) AS value FROM ntg.fidelity_by_class(pg_temp.q('a'), pg_temp.q('d'))
                    WHERE real_rows > 0 GROUP BY metric) c USING (metric)
            WHERE abs(f.value - c.value) > 1e-12), 0,
          'macro average = mean of the per-class rows with real rows');
-- A class missing from the synthetic side scores 1 on the JSDs and uniq_align, 0 on leakage.
SELECT is((SELECT array_agg(value ORDER BY metric) FROM ntg.fidelity_by_class(pg_temp.q('a'), pg_temp.q('d'))
            WHERE label = 'class 4'),
          '{1,1,1,1,0,1}'::float8[], 'a class missing from the synthetic set scores the worst value');
-- A synthetic-only class: null values, real_rows 0, out of the average.
SELECT is((SELECT count(*)::int FROM ntg.fidelity_by_class(pg_temp.q('a'), pg_temp.q('d'))
            WHERE label = 'only in d' AND value IS NULL AND real_rows = 0 AND synthetic_rows = 1), 6,
          'a synthetic-only class is reported with null values');

-- Row order does not matter.
SELECT is((SELECT array_agg(value ORDER BY metric) FROM
             ntg.fidelity(pg_temp.q('a') || ' ORDER BY pl DESC', pg_temp.q('b') || ' ORDER BY label, pl')),
          (SELECT array_agg(value ORDER BY metric) FROM pg_temp.m('a', 'b')),
          'row order does not change any value');

-- The radar chart is a well-formed XML document with six axes and one polygon per set.
SELECT ok(xml_is_well_formed_document(
            ntg.fidelity_radar(pg_temp.q('a'), ARRAY[pg_temp.q('b'), pg_temp.q('c'), pg_temp.q('d')],
                               ARRAY['b <&>', 'c', 'd'], 'three sets')),
          'the radar SVG is well-formed XML');
SELECT is((xpath('count(//s:line[@class="axis"])', svg::xml, '{{s,http://www.w3.org/2000/svg}}'))[1]::text
           || '/' ||
          (xpath('count(//s:polygon[@class="series"])', svg::xml, '{{s,http://www.w3.org/2000/svg}}'))[1]::text,
          '6/3', 'six axes and three polygons')
  FROM ntg.fidelity_radar(pg_temp.q('a'), ARRAY[pg_temp.q('b'), pg_temp.q('c'), pg_temp.q('d')]) AS svg;

-- Size-matched fidelity: size_matched => false is the plain comparison; with it, every class both
-- sets have is cut to the smaller side's row count (a seeded uniform sample of whole rows).
SELECT is((SELECT array_agg(value ORDER BY metric) FROM ntg.fidelity(pg_temp.q('a'), pg_temp.q('b'), false, 5)),
          (SELECT array_agg(value ORDER BY metric) FROM pg_temp.m('a', 'b')),
          'size_matched => false: the plain comparison, whatever the seed');
CREATE TEMP VIEW half_b AS SELECT label, pl FROM gen WHERE set = 'b' AND md5(label || pl::text) < '8';
SELECT is((SELECT count(*)::int FROM ntg.fidelity_by_class(pg_temp.q('a'), 'SELECT label, pl FROM half_b', true, 3)
            WHERE real_rows > 0 AND synthetic_rows > 0 AND real_rows <> synthetic_rows), 0,
          'size-matched: every shared class has as many real as synthetic rows');
SELECT ok((SELECT count(DISTINCT synthetic_rows) FROM ntg.fidelity_by_class(pg_temp.q('a'), 'SELECT label, pl FROM half_b')
            WHERE real_rows > 0 AND synthetic_rows > 0) > 1
          AND (SELECT bool_and(real_rows > synthetic_rows) FROM ntg.fidelity_by_class(pg_temp.q('a'), 'SELECT label, pl FROM half_b')
                WHERE synthetic_rows > 0),
          'the sets compared have classes of different sizes (the test above is not vacuous)');
SELECT is((SELECT array_agg(value ORDER BY metric) FROM ntg.fidelity(pg_temp.q('a') || ' ORDER BY pl DESC', 'SELECT label, pl FROM half_b ORDER BY pl', true, 3)),
          (SELECT array_agg(value ORDER BY metric) FROM ntg.fidelity(pg_temp.q('a'), 'SELECT label, pl FROM half_b', true, 3)),
          'size-matched: row order does not change any value');
SELECT isnt((SELECT array_agg(value ORDER BY metric) FROM ntg.fidelity(pg_temp.q('a'), 'SELECT label, pl FROM half_b', true, 3)),
            (SELECT array_agg(value ORDER BY metric) FROM ntg.fidelity(pg_temp.q('a'), 'SELECT label, pl FROM half_b', true, 4)),
            'size-matched: another seed, another sample');
SELECT is((SELECT array_agg(value ORDER BY metric) FROM ntg.fidelity(pg_temp.q('a'), pg_temp.q('b'), true, 9)),
          (SELECT array_agg(value ORDER BY metric) FROM pg_temp.m('a', 'b')),
          'size-matched sets of equal size per class: nothing is cut');
SELECT throws_ok($$SELECT * FROM ntg.fidelity('SELECT label, pl FROM gen', 'SELECT label, pl FROM gen', NULL)$$,
                 '22004', 'size_matched must not be null', 'size_matched null: 22004');
SELECT throws_ok($$SELECT * FROM ntg.fidelity_by_class('SELECT label, pl FROM gen', 'SELECT label, pl FROM gen', true, NULL)$$,
                 '22004', 'seed must not be null', 'seed null: 22004');

-- ntg.fidelity_gap: synthetic rows that are the training rows themselves score as the training
-- rows on the JSDs and uniq_align, and copy more than the test rows do.
CREATE TEMP VIEW tr AS SELECT label, pl FROM gen WHERE set = 'a' AND md5(label || pl::text) < 'c';
CREATE TEMP VIEW te AS SELECT label, pl FROM gen WHERE set = 'a' AND md5(label || pl::text) >= 'c';
SELECT is((SELECT count(*)::int FROM ntg.fidelity_gap('SELECT * FROM tr', 'SELECT * FROM te', 'SELECT * FROM tr')
            WHERE metric <> 'leakage' AND difference = 0 AND real_value > 0), 5,
          'fidelity_gap of the training rows themselves: every JSD and uniq_align difference 0');
SELECT ok((SELECT synthetic_value > real_value AND synthetic_value <= 1
             FROM ntg.fidelity_gap('SELECT * FROM tr', 'SELECT * FROM te', 'SELECT * FROM tr') WHERE metric = 'leakage'),
          'fidelity_gap of the training rows themselves: more leakage than the test rows');
SELECT is((SELECT real_value FROM ntg.fidelity_gap('SELECT * FROM tr', 'SELECT * FROM te', pg_temp.q('c')) WHERE metric = 'jsd_1gram'),
          (SELECT value FROM ntg.fidelity('SELECT * FROM tr', 'SELECT * FROM te') WHERE metric = 'jsd_1gram'),
          'fidelity_gap: the real side is the training rows (R, as real) against the test rows when sizes match');
SELECT is((SELECT difference FROM ntg.fidelity_gap('SELECT * FROM tr', 'SELECT * FROM te', pg_temp.q('c')) WHERE metric = 'jsd_2gram'),
          (SELECT synthetic_value - real_value FROM ntg.fidelity_gap('SELECT * FROM tr', 'SELECT * FROM te', pg_temp.q('c')) WHERE metric = 'jsd_2gram'),
          'fidelity_gap: difference = synthetic_value - real_value');
SELECT throws_ok($$SELECT * FROM ntg.fidelity_gap(NULL, 'SELECT * FROM te', 'SELECT * FROM tr')$$,
                 '22004', 'train_query must not be null', 'fidelity_gap: null train_query: 22004');
SELECT throws_ok($$SELECT * FROM ntg.fidelity_gap('SELECT * FROM tr', 'SELECT * FROM te', 'SELECT * FROM tr', NULL)$$,
                 '22004', 'seed must not be null', 'fidelity_gap: null seed: 22004');
SELECT throws_ok($$SELECT * FROM ntg.fidelity_gap('SELECT * FROM tr WHERE false', 'SELECT * FROM te', 'SELECT * FROM tr')$$,
                 '22023', 'train_query returned no rows', 'fidelity_gap: no training rows: 22023');

-- The privacy-utility frontier chart.
CREATE TEMP TABLE pts (name text, tstr_ratio float8, leakage float8);
INSERT INTO pts VALUES ('a <&>', 0.8, 0.1), ('b', 0.9, 0.14), ('c', 0.85, 0.2), ('d', 0.99, 0.3);
SELECT is((xpath('count(//s:circle[@class="point"])', svg::xml, '{{s,http://www.w3.org/2000/svg}}'))[1]::text
           || '/' || (xpath('count(//s:path[@class="reference"])', svg::xml, '{{s,http://www.w3.org/2000/svg}}'))[1]::text,
          '4/1', 'frontier_svg: well-formed, one point per row and the reference')
  FROM ntg.frontier_svg('SELECT * FROM pts', 0.15, 'frontier') AS svg;
SELECT throws_ok($$SELECT ntg.frontier_svg('SELECT * FROM pts', NULL)$$, '22004',
                 'real_leakage must not be null', 'frontier_svg: null real_leakage: 22004');
SELECT throws_ok($$SELECT ntg.frontier_svg('SELECT * FROM pts WHERE false', 0.1)$$, '22023',
                 'query returned no points', 'frontier_svg: no points: 22023');
SELECT throws_ok($$SELECT ntg.frontier_svg('SELECT name, tstr_ratio, leakage + 1 FROM pts', 0.1)$$, '22023',
                 'point "a <&>" is out of range', 'frontier_svg: leakage above 1: 22023');
SELECT throws_ok($$SELECT ntg.frontier_svg('SELECT name, NULL::float8, leakage FROM pts', 0.1)$$, '22004',
                 'query returned a null name, tstr_ratio or leakage', 'frontier_svg: a null value: 22004');

SELECT * FROM finish();
ROLLBACK;
