-- test/demo.sql — the main job the README's quick start runs (test/demo.sh) on a throw-away server:
-- import the bundled capture, look at its biflows, train a generator and sample from it, compare the
-- synthetic rows with real ones, and judge both with a classifier.
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
