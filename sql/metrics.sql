-- Fidelity metrics: hand-computed values on tiny inputs, the edge-case conventions, and every error.
-- Values are rounded to 12 digits so that the last bit of log2 cannot change the output.
CREATE TEMP TABLE r (label text, pl int[]);
CREATE TEMP TABLE s (label text, pl smallint[]);
CREATE FUNCTION pg_temp.fid(rq text, sq text) RETURNS TABLE (metric text, value numeric)
	LANGUAGE sql AS $$ SELECT metric, round(value::numeric, 12) FROM ntg.fidelity(rq, sq) $$;
CREATE FUNCTION pg_temp.by_class(rq text, sq text)
	RETURNS TABLE (label text, metric text, value numeric, real_rows int, synthetic_rows int)
	LANGUAGE sql AS $$ SELECT label, metric, round(value::numeric, 12), real_rows, synthetic_rows
	                   FROM ntg.fidelity_by_class(rq, sq) $$;

-- 1. The worked example: real a = {1,2}, {1}; synthetic a = {1,2}, {2}.
--   lengths   real {2:1, 1:1}, synthetic {2:1, 1:1}                       -> 0
--   1-grams   real (1: 2/3, 2: 1/3), synthetic (1: 1/3, 2: 2/3); m = (1/2, 1/2)
--             KL(p||m) = 2/3 log2(4/3) + 1/3 log2(2/3) = 5/3 - log2 3 = KL(q||m)
--             JSD = 5/3 - log2 3 = 0.081704165946
--   2-grams   real {(1,2)}, synthetic {(1,2)}                             -> 0
--   Markov    s=1: real next (2: 1/2, END: 1/2), synthetic next (2: 1); m = (3/4, 1/4)
--                  JSD = 1/2 [1/2 log2(2/3) + 1/2 log2 2] + 1/2 log2(4/3) = 0.311278124459
--             s=2: END only on both sides -> 0
--             weights = real counts of s: 2 and 1 -> (2 * 0.311278124459 + 0) / 3 = 0.207518749639
--   uniq      real 2/2, synthetic 2/2                                     -> 0
--   leakage   {12, 1} vs {12, 2}: 1 shared of 3 distinct                  -> 0.333333333333
INSERT INTO r VALUES ('a', '{1,2}'), ('a', '{1}');
INSERT INTO s VALUES ('a', '{1,2}'), ('a', '{2}');
SELECT * FROM pg_temp.fid('SELECT label, pl FROM r', 'SELECT label, pl FROM s');

-- 2. A set against itself: every JSD and uniq_align 0, leakage 1.
SELECT * FROM pg_temp.fid('SELECT label, pl FROM r', 'SELECT label, pl FROM r');

-- 3. Empty sequences.  Real e = {}, {}; synthetic e = {}, {3}.
--   lengths   real (0: 1), synthetic (0: 1/2, 1: 1/2): the same JSD as in 1. -> 0.311278124459
--   1-grams   real has no values, synthetic has one: empty vs non-empty -> 1
--   2-grams   no pairs on either side: empty vs empty                    -> 0
--   Markov    no real source value, synthetic has one                    -> 1
--   uniq      real 1 distinct / 2 = 1/2, synthetic 2/2                   -> 0.5
--   leakage   {()} vs {(), (3)}: 1 of 2                                  -> 0.5
TRUNCATE r, s;
INSERT INTO r VALUES ('e', '{}'), ('e', '{}');
INSERT INTO s VALUES ('e', '{}'), ('e', '{3}');
SELECT * FROM pg_temp.by_class('SELECT label, pl FROM r', 'SELECT label, pl FROM s');

-- 4. Markov with a source value the synthetic rows never produce.
--   real m = {1,2,3}, {9,1}; synthetic m = {1,2}, {2,3}
--   s=1 (real count 2): (2: 1/2, END: 1/2) vs (2: 1)           -> 0.311278124459
--   s=2 (1): (3: 1) vs (END: 1/2, 3: 1/2)                      -> 0.311278124459
--   s=3 (1): (END: 1) vs (END: 1)                              -> 0
--   s=9 (1): absent from the synthetic rows                    -> 1
--   (2 * 0.311278124459 + 0.311278124459 + 0 + 1) / 5           = 0.386766874675
--   2-grams: real (12, 23, 91) vs synthetic (12, 23): p = 1/3 each, q = 1/2 on two; m = (5/12, 5/12, 1/6)
--     KL(p||m) = 2/3 log2(4/5) + 1/3 log2 2 = 0.118714, KL(q||m) = log2(6/5) = 0.263034
--     JSD = (0.118714 + 0.263034) / 2 = 0.190874504621
TRUNCATE r, s;
INSERT INTO r VALUES ('m', '{1,2,3}'), ('m', '{9,1}');
INSERT INTO s VALUES ('m', '{1,2}'), ('m', '{2,3}');
SELECT * FROM pg_temp.fid('SELECT label, pl FROM r', 'SELECT label, pl FROM s')
	WHERE metric IN ('jsd_markov', 'jsd_2gram');

-- 5. Classes on one side only.  b is real only: worst score 1 (leakage 0), in the average with a
--    WARNING; z is synthetic only: null values, out of the average, with a NOTICE.
--    c = {7} vs {-7}: disjoint one-row class: 1-gram and Markov 1; lengths 0; 2-grams 0 (no pair
--    on either side); uniq 1/1 vs 1/1 = 0; leakage 0.
--    Macro over b and c: num_packets and 2-gram (1 + 0) / 2 = 0.5, 1-gram and Markov 1,
--    uniq_align (1 + 0) / 2 = 0.5, leakage 0.
TRUNCATE r, s;
INSERT INTO r VALUES ('b', '{5}'), ('c', '{7}');
INSERT INTO s VALUES ('z', '{1}'), ('c', '{-7}');
SELECT * FROM pg_temp.by_class('SELECT label, pl FROM r', 'SELECT label, pl FROM s');
SELECT * FROM pg_temp.fid('SELECT label, pl FROM r', 'SELECT label, pl FROM s');
-- An empty synthetic set: every real class missing (a warning, not an error).
SELECT * FROM pg_temp.fid('SELECT label, pl FROM r', 'SELECT label, pl FROM s WHERE false');

-- Label types: varchar, name and character(n) (padding is not part of the label) all match text.
SELECT * FROM pg_temp.fid('SELECT label::char(5), pl FROM r', 'SELECT label::name, pl::int[] FROM r');

-- 6. The radar chart: a whole SVG document, six axes, one polygon per set, names escaped.
SELECT left(svg, 38) AS head, right(svg, 7) AS tail,
       regexp_count(svg, 'class="axis"') AS axes,
       regexp_count(svg, 'class="series"') AS polygons,
       strpos(svg, 'a &lt;b&gt; &amp; &quot;c&quot;') > 0 AS escaped,
       strpos(svg, '<b>') = 0 AS no_raw_markup
  FROM ntg.fidelity_radar('SELECT label, pl FROM r',
                          ARRAY['SELECT label, pl FROM s', 'SELECT label, pl FROM r'],
                          ARRAY['a <b> & "c"', 'self']) AS svg;
-- From numbers already computed: points of the automatic scale (max 0.4 -> centre 0.5).
SELECT regexp_count(svg, 'class="series"') AS polygons, strpos(svg, 'centre = 0.5,') > 0 AS scale
  FROM ntg.fidelity_radar_svg(ARRAY['m1', 'm2'],
                              ARRAY[[0.01, 0.02, 0.03, 0.04, 0.05, 0.06], [0.1, 0.2, 0.3, 0.4, 0.1, 0.0]],
                              'two models') AS svg;
-- A fixed scale puts 0.1 (scale 0.2) half-way: ring labels are 0.2 0.16 ... 0.
SELECT strpos(svg, '>0.16<') > 0 AS ring_label
  FROM ntg.fidelity_radar_svg(ARRAY['m'], ARRAY[0.1, 0.1, 0.1, 0.1, 0.1, 0.1], NULL, 0.2) AS svg;

-- 7. Errors: the queries.
SELECT * FROM ntg.fidelity(NULL, 'SELECT label, pl FROM s');
SELECT * FROM ntg.fidelity('SELECT label, pl FROM r', NULL);
SELECT * FROM ntg.fidelity('SELECT label, pl FROM r WHERE false', 'SELECT label, pl FROM s');
SELECT * FROM ntg.fidelity('SELECT label FROM r', 'SELECT label, pl FROM s');
SELECT * FROM ntg.fidelity('SELECT label, pl FROM r', 'SELECT label, pl, 1 FROM s');
SELECT * FROM ntg.fidelity('SELECT 1, pl FROM r', 'SELECT label, pl FROM s');
SELECT * FROM ntg.fidelity('SELECT label, pl FROM r', 'SELECT label, pl::bigint[] FROM s');
SELECT * FROM ntg.fidelity('SELECT label, pl FROM r', 'SELECT label, pl::text FROM s');
SELECT * FROM ntg.fidelity('SELECT label, pl FROM r', 'SELECT NULL::text, pl FROM s');
SELECT * FROM ntg.fidelity('SELECT label, pl FROM r', 'SELECT label, NULL::int[] FROM s');
SELECT * FROM ntg.fidelity('SELECT label, pl FROM r', 'SELECT label, ''{1,NULL}''::int[] FROM s');
SELECT * FROM ntg.fidelity('SELECT label, pl FROM r', 'SELECT label, ''{{1,2},{3,4}}''::int[] FROM s');
SELECT * FROM ntg.fidelity('SELECT label, pl FROM r', 'INSERT INTO s VALUES (''x'', ''{}'')');
SELECT * FROM ntg.fidelity('SELECT label, pl FROM r', 'SELECT 1; SELECT 2');
SELECT * FROM ntg.fidelity('SELECT label, pl FROM r', 'SELEC label');
SELECT * FROM ntg.fidelity('SELECT label, pl FROM r', 'SELECT label, pl FROM no_such_table');
SELECT * FROM ntg.fidelity_by_class('SELECT label, pl FROM r WHERE false', 'SELECT label, pl FROM s');

-- Errors: the chart.
SELECT ntg.fidelity_radar('SELECT label, pl FROM r', NULL);
SELECT ntg.fidelity_radar('SELECT label, pl FROM r', '{}');
SELECT ntg.fidelity_radar('SELECT label, pl FROM r', ARRAY[NULL]);
SELECT ntg.fidelity_radar('SELECT label, pl FROM r', ARRAY[['SELECT label, pl FROM r']]);
SELECT ntg.fidelity_radar('SELECT label, pl FROM r', ARRAY['SELECT label, pl FROM r'], ARRAY['a', 'b']);
SELECT ntg.fidelity_radar('SELECT label, pl FROM r', ARRAY['SELECT label, pl FROM r'], ARRAY[NULL]);
SELECT ntg.fidelity_radar('SELECT label, pl FROM r', ARRAY['SELECT label, pl FROM r'], scale => 0);
SELECT ntg.fidelity_radar('SELECT label, pl FROM r', ARRAY['SELECT label, pl FROM r'], scale => 1.5);
SELECT ntg.fidelity_radar(NULL, ARRAY['SELECT label, pl FROM r']);
SELECT ntg.fidelity_radar_svg(NULL, ARRAY[0, 0, 0, 0, 0, 0]);
SELECT ntg.fidelity_radar_svg(ARRAY['a'], ARRAY[0, 0, 0]);
SELECT ntg.fidelity_radar_svg(ARRAY['a'], ARRAY[[0, 0, 0], [0, 0, 0]]);
SELECT ntg.fidelity_radar_svg(ARRAY['a'], ARRAY[0, 0, 0, 0, 0, NULL]);
SELECT ntg.fidelity_radar_svg(ARRAY['a'], ARRAY[0, 0, 0, 0, 0, 1.5]);
SELECT ntg.fidelity_radar_svg(ARRAY['a'], ARRAY[0, 0, 0, 0, 0, 'NaN'::float8]);
SELECT ntg.fidelity_radar_svg('{}', '{}');
SELECT ntg.fidelity_radar_svg(ARRAY[NULL], ARRAY[0, 0, 0, 0, 0, 0]);

-- Declared properties: the query functions run user SQL (volatile, parallel unsafe), none strict.
SELECT proname, provolatile, proparallel, proisstrict FROM pg_proc
 WHERE pronamespace = 'ntg'::regnamespace AND proname LIKE 'fidelity%' ORDER BY proname;

-- Size-matched: the worked example's real rows cut to the one synthetic row of class a.
SELECT metric, round(value::numeric, 6) FROM ntg.fidelity(
	$$SELECT 'a'::text, '{1,2}'::int[] UNION ALL SELECT 'a', '{1}'$$, $$SELECT 'a'::text, '{1,2}'::int[]$$,
	size_matched => true, seed => 1);
-- fidelity_gap: classes without synthetic or without test rows are named in warnings.
SELECT metric, round(real_value::numeric, 6) AS real_value, round(synthetic_value::numeric, 6) AS synthetic_value
  FROM ntg.fidelity_gap($$SELECT 'a'::text, '{1,2}'::int[] UNION ALL SELECT 'b', '{3}'$$,
						$$SELECT 'a'::text, '{1,2}'::int[]$$, $$SELECT 'a'::text, '{1}'::int[]$$);
SELECT * FROM ntg.fidelity_gap('SELECT label, pl FROM r', NULL, 'SELECT label, pl FROM r');
