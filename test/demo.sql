-- test/demo.sql — the main job the README's quick start runs (test/demo.sh) on a throw-away server:
-- import the bundled capture, look at its biflows, train a generator and sample from it, compare the
-- synthetic rows with real ones, judge both with a classifier, and retrain in a background job.
\set ON_ERROR_STOP on
\pset pager off
CREATE EXTENSION ntg;
SELECT ntg.version() AS ntg_version, ntg.library_versions() AS libraries;

\echo '== 1. import the bundled capture: real HTTP, DNS, TLS and PostgreSQL sessions on loopback'
\echo '      (recorded by test/captures/make_demo_capture.sh)'
SELECT dataset, format, packets, biflows, skipped
  FROM ntg.import_pcap(:'repo' || '/test/captures/demo_services.pcapng', dataset => 'demo');
SELECT biflow_id, CASE protocol WHEN 6 THEN 'tcp' ELSE 'udp' END AS proto, server_port,
       packets_up, packets_down, payload_packets, pl, sni
  FROM ntg.biflows WHERE dataset = 'demo' ORDER BY first_seen LIMIT 8;

\echo '== 2. label the biflows by service (their server port) and split them 80/20, stratified'
UPDATE ntg.biflows
   SET label = CASE server_port WHEN 28080 THEN 'http' WHEN 28053 THEN 'dns'
                                WHEN 28443 THEN 'tls' WHEN 28432 THEN 'postgres' END
 WHERE dataset = 'demo';
CREATE TABLE demo_parts AS
  SELECT * FROM ntg.split('SELECT label, pl FROM ntg.biflows WHERE dataset = ''demo'' AND cardinality(pl) > 0',
                          0.2, 1);
SELECT label, count(*) FILTER (WHERE NOT is_test) AS train_rows, count(*) FILTER (WHERE is_test) AS test_rows
  FROM demo_parts GROUP BY label ORDER BY label;

\echo '== 3. train a small llama generator on the training split (a few seconds) and sample from it'
SET ntg.progress = off;
SELECT model, classes, train_rows, epochs, round(final_loss::numeric, 2) AS final_loss, parameters, bytes
  FROM ntg.train('demo_llama', 'llama', 'SELECT label, pl FROM demo_parts WHERE NOT is_test',
                 '{"dim": 32, "hidden_dim": 64, "n_layers": 2, "n_heads": 4, "epochs": 15,
                   "batch_size": 8, "lr": 0.003, "seed": 1}');
SELECT * FROM ntg.generate('demo_llama', n => 2, seed => 7);

\echo '== 4. as many synthetic rows per class as the training split has, joined with the real rows'
CREATE TABLE demo_synth AS
  SELECT g.label, g.pl
    FROM (SELECT label, count(*)::integer AS n FROM demo_parts WHERE NOT is_test GROUP BY label) AS c,
         LATERAL ntg.generate('demo_llama', c.label, c.n, seed => 7) AS g;
SELECT s.label, count(*) AS synthetic_rows,
       round(avg(cardinality(s.pl)), 1) AS synthetic_avg_packets,
       (SELECT round(avg(cardinality(t.pl)), 1) FROM demo_parts AS t
         WHERE t.label = s.label AND t.is_test) AS real_test_avg_packets,
       round(avg((EXISTS (SELECT 1 FROM demo_parts AS t
                           WHERE t.label = s.label AND t.pl = s.pl AND NOT t.is_test))::int), 2) AS share_seen_in_train
  FROM demo_synth AS s GROUP BY s.label ORDER BY s.label;

\echo '== 5. fidelity: real training rows vs real test rows, and synthetic rows vs real test rows'
SELECT r.metric, round(r.value::numeric, 3) AS train_vs_test, round(s.value::numeric, 3) AS synthetic_vs_test
  FROM ntg.fidelity('SELECT label, pl FROM demo_parts WHERE is_test',
                    'SELECT label, pl FROM demo_parts WHERE NOT is_test') AS r
  JOIN ntg.fidelity('SELECT label, pl FROM demo_parts WHERE is_test',
                    'SELECT label, pl FROM demo_synth') AS s USING (metric)
 ORDER BY r.metric;
\set QUIET on
\o :repo/tmp_demo/radar.svg
\pset format unaligned
\pset tuples_only on
SELECT ntg.fidelity_radar('SELECT label, pl FROM demo_parts WHERE is_test',
                          ARRAY['SELECT label, pl FROM demo_parts WHERE NOT is_test',
                                'SELECT label, pl FROM demo_synth'],
                          ARRAY['real training rows', 'llama (synthetic)'],
                          'demo: fidelity against the real test rows');
\o
\pset format aligned
\pset tuples_only off
\set QUIET off
\echo 'radar chart (open it in a browser):' :repo/tmp_demo/radar.svg

\echo '== 6. a Random Forest classifier: trained on real rows, and on synthetic rows only (TSTR)'
SELECT ntg.rf_train('demo_rf', 'SELECT label, pl FROM demo_parts WHERE NOT is_test', '{"seed": 1}') AS forest_nodes;
SELECT kind, label, round(precision::numeric, 3) AS precision, round(recall::numeric, 3) AS recall,
       round(f1::numeric, 3) AS f1, support
  FROM ntg.rf_evaluate('demo_rf', 'SELECT label, pl FROM demo_parts WHERE is_test');
SELECT b.label AS real_label, ntg.rf_predict('demo_rf', b.pl) AS predicted, count(*)
  FROM demo_parts AS b WHERE b.is_test GROUP BY 1, 2 ORDER BY 1, 2;
SELECT generator, train_rows, round(macro_f1::numeric, 3) AS macro_f1, round(accuracy::numeric, 3) AS accuracy
  FROM ntg.tstr('SELECT label, pl FROM demo_parts WHERE NOT is_test',
                'SELECT label, pl FROM demo_parts WHERE is_test',
                '{demo_llama,smote,fast_retransmit}', '{"seed": 1}', 1);

\echo '== 7. the models ntg stored'
SELECT name, kind, classes, parameters, bytes, epochs, round(final_loss::numeric, 2) AS final_loss
  FROM ntg.list_models();

\echo '== 8. background jobs: retrain without holding a session open, watch it from any session'
\echo '      (the server preloads ntg and pg_cron; docs/jobs.md)'
SELECT ntg.submit($$SELECT model, epochs, round(final_loss::numeric, 3) AS final_loss
                      FROM ntg.train('demo_llama_nightly', 'llama',
                                     'SELECT label, pl FROM demo_parts WHERE NOT is_test',
                                     '{"epochs": 3, "seed": 1}', replace => true)$$,
                  job_name => 'demo retrain') AS job_id \gset
SELECT set_config('demo.job_id', :'job_id', false) IS NOT NULL AS submitted;
-- this session waits here; any other session may look at ntg.job_status meanwhile
DO $$
BEGIN
	FOR i IN 1..3000 LOOP
		EXIT WHEN (SELECT state NOT IN ('queued', 'running') FROM ntg.jobs
					WHERE job_id = current_setting('demo.job_id')::bigint);
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
SELECT job_id, job_name, state, attempts, phase, epoch, epochs, round(loss::numeric, 3) AS loss, rows, result
  FROM ntg.job_status WHERE job_id = :job_id;
-- the same every night at 03:00, through pg_cron (then removed: the demo server is thrown away)
CREATE EXTENSION pg_cron;
SELECT ntg.schedule('demo-nightly', '0 3 * * *',
                    $$SELECT ntg.train('demo_llama_nightly', 'llama', 'SELECT label, pl FROM demo_parts WHERE NOT is_test',
                                       '{"epochs": 3, "seed": 1}', replace => true)$$) AS cron_job_id;
SELECT job_name, schedule, active FROM ntg.schedules();
SELECT ntg.unschedule('demo-nightly') AS unscheduled;
