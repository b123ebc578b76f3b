-- Capture import: ntg.read_pcap / ntg.import_pcap on the project's own captures (test/captures,
-- made by test/captures/make_captures.sh), options, and every error message.
\getenv abs_srcdir PG_ABS_SRCDIR
\set caps :abs_srcdir '/test/captures/'
\set http :caps 'http.pcap'
\set dns :caps 'dns_ns.pcap'
\set tls :caps 'tls.pcapng'
\set pg :caps 'postgres.pcap'
\set demo :caps 'demo.pcapng'
SET timezone = 'UTC';

-- HTTP over loopback (pcap, microseconds, Ethernet): four requests, four biflows.
SELECT protocol, client_ip, server_ip, server_port, first_seen, last_seen,
       packets_up, packets_down, bytes_up, bytes_down, payload_bytes_up, payload_bytes_down,
       payload_packets, pl, sni
  FROM ntg.read_pcap(:'http') ORDER BY first_seen;

-- DNS (pcap with nanosecond timestamps): five query/answer biflows.
SELECT protocol, server_port, first_seen, last_seen, packets_up, packets_down, pl
  FROM ntg.read_pcap(:'dns') ORDER BY first_seen;

-- TLS (pcapng): the SNI of each ClientHello.
SELECT server_port, sni, pl FROM ntg.read_pcap(:'tls') ORDER BY first_seen;

-- PostgreSQL captured on "any" (Linux SLL2).
SELECT server_port, packets_up + packets_down AS packets, payload_packets, pl
  FROM ntg.read_pcap(:'pg');

-- demo.pcapng: one pcapng, two interfaces with different link types (EN10MB, LINUX_SLL2).
SELECT server_port, count(*) AS biflows, sum(packets_up + packets_down) AS packets,
       string_agg(DISTINCT sni, ',') AS sni
  FROM ntg.read_pcap(:'demo') GROUP BY server_port ORDER BY server_port;

-- The bytea form gives the same rows.
SELECT (SELECT array_agg(r ORDER BY first_seen) FROM ntg.read_pcap(pg_read_binary_file(:'demo')) r) =
       (SELECT array_agg(r ORDER BY first_seen) FROM ntg.read_pcap(:'demo') r) AS bytea_same_as_path;

-- Options: n, timeouts (NULL or 0 = off), filter.
SELECT pl FROM ntg.read_pcap(:'tls', n => 3) ORDER BY first_seen;
SELECT pl FROM ntg.read_pcap(:'tls', n => 0) ORDER BY first_seen;
SELECT count(*) AS biflows_idle_1ms FROM ntg.read_pcap(:'http', idle_timeout => '1 ms');
SELECT count(*) AS biflows_active_1ms FROM ntg.read_pcap(:'http', active_timeout => '1 ms');
SELECT count(*) AS biflows_no_timeouts FROM ntg.read_pcap(:'demo', idle_timeout => NULL, active_timeout => '0');
SELECT server_port, count(*) FROM ntg.read_pcap(:'demo', filter => 'udp or port 18443')
 GROUP BY 1 ORDER BY 1;

-- import_pcap: into ntg.biflows (dataset defaults to the file name), and what it did.
SELECT * FROM ntg.import_pcap(:'demo', label => 'loopback');
SELECT * FROM ntg.import_pcap(pg_read_binary_file(:'dns'), dataset => 'dns-bytes', label => 'dns');
SELECT dataset, label, count(*), count(sni) AS with_sni, sum(packets_up + packets_down) AS packets,
       bool_and(source IS NULL) AS no_source, min(biflow_id) > 0 AS has_ids
  FROM ntg.biflows GROUP BY 1, 2 ORDER BY 1;
SELECT count(*) AS rows_with_file_source FROM ntg.biflows WHERE source LIKE '%/demo.pcapng';

-- ... into another table with the same columns.
CREATE TABLE my_flows (LIKE ntg.biflows INCLUDING DEFAULTS INCLUDING IDENTITY);
SELECT biflows, packets, skipped FROM ntg.import_pcap(:'http', dataset => 'web', filter => 'tcp', target => 'my_flows');
SELECT dataset, count(*) FROM my_flows GROUP BY 1;

-- A capture cut short: the packets before the cut are imported, with a WARNING saying where.
SELECT count(*) AS biflows_before_cut
  FROM ntg.read_pcap(substring(pg_read_binary_file(:'http') FROM 1 FOR 10000));
SELECT packets, biflows, damaged, damage
  FROM ntg.import_pcap(substring(pg_read_binary_file(:'tls') FROM 1 FOR 6000), dataset => 'cut');

-- Errors.
SELECT * FROM ntg.read_pcap('/nonexistent/capture.pcap');
SELECT * FROM ntg.read_pcap('/');
SELECT * FROM ntg.read_pcap(''::bytea);
SELECT * FROM ntg.read_pcap('\x0a0b'::bytea);
SELECT * FROM ntg.read_pcap(convert_to('this is a text file, not a capture', 'UTF8'));
SELECT * FROM ntg.read_pcap('\xd4c3b2a1020004000000000000000000ffff00007f000000'::bytea);  -- radiotap
SELECT * FROM ntg.read_pcap('\xd4c3b2a10200'::bytea);                                      -- header cut
SELECT * FROM ntg.read_pcap('\x0a0d0d0a1c0000004d3c2b1a01000000'::bytea);                  -- pcapng header cut
SELECT * FROM ntg.read_pcap(:'http', filter => 'tcp port');
SELECT * FROM ntg.read_pcap(:'http', n => -1);
SELECT * FROM ntg.read_pcap(:'http', n => 1001);
SELECT * FROM ntg.read_pcap(:'http', n => NULL);
SELECT * FROM ntg.read_pcap(:'http', idle_timeout => '-1 s');
SELECT * FROM ntg.read_pcap(NULL::text);
SELECT * FROM ntg.read_pcap(NULL::bytea);
SELECT * FROM ntg.import_pcap(pg_read_binary_file(:'dns'));
SELECT * FROM ntg.import_pcap('\x00'::bytea, dataset => 'x', target => 'no_such_table');
SELECT * FROM ntg.import_pcap(:'dns', target => NULL);

-- Privileges: the path form needs pg_read_server_files, the bytea form is open to everyone.
-- (USAGE on schema ntg is the administrator's to grant.)
CREATE ROLE ntg_capture_user;
GRANT USAGE ON SCHEMA ntg TO ntg_capture_user;
CREATE TABLE capture_bytes AS SELECT pg_read_binary_file(:'tls') AS data;
GRANT SELECT ON capture_bytes TO ntg_capture_user;
GRANT SELECT, INSERT ON ntg.biflows TO ntg_capture_user;
SET ROLE ntg_capture_user;
SELECT * FROM ntg.read_pcap('/nonexistent/capture.pcap');
SELECT * FROM ntg.import_pcap('/nonexistent/capture.pcap');
SELECT count(*) AS biflows, max(sni) AS sni FROM capture_bytes, ntg.read_pcap(data);
SELECT i.biflows FROM capture_bytes, ntg.import_pcap(data, dataset => 'by-user') i;
RESET ROLE;
GRANT pg_read_server_files TO ntg_capture_user;
SET ROLE ntg_capture_user;
SELECT count(*) AS biflows_with_role FROM ntg.read_pcap(:'tls');
RESET ROLE;
DROP TABLE capture_bytes;
REVOKE ALL ON ntg.biflows FROM ntg_capture_user;
REVOKE USAGE ON SCHEMA ntg FROM ntg_capture_user;
DROP ROLE ntg_capture_user;
DROP TABLE my_flows;
