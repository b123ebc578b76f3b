-- Writing biflows as a pcapng capture: ntg.write_pcap / ntg.write_pcap_file / ntg.pcap_classes,
-- the round trip through ntg.read_pcap and ntg.import_pcap, and every error message.
\getenv abs_builddir PG_ABS_BUILDDIR
\set capfile :abs_builddir '/results/pcap_write.pcapng'
SET timezone = 'UTC';

CREATE TABLE pw_synth (label text, pl integer[]);
INSERT INTO pw_synth VALUES
	('web', '{100,-1500,20,-3000}'), ('dns', '{40,-120}'), ('bulk', '{5000,5000,5000,-100}'),
	('empty', '{}'), ('big', '{65495,-65495,30000}'), ('web', '{1,-1,2,-2,3,-3,4,-4,5,-5,6,-6}'),
	('ünïcode ☃', '{-7,8}'), ('', '{9}');
CREATE TABLE pw_cap AS
	SELECT ntg.write_pcap('SELECT label, pl FROM pw_synth',
						  classes => '{"dns": {"protocol": "udp", "server_port": 53}, "web": 8080}') AS c;

-- The round trip: the same (label, pl) rows, both ways (pl is exact beyond smallint).
SELECT count(*) AS missing FROM (SELECT label, pl FROM pw_synth EXCEPT ALL
	SELECT label, pl FROM ntg.read_pcap((SELECT c FROM pw_cap), n => 100)) x;
SELECT count(*) AS extra FROM (SELECT label, pl FROM ntg.read_pcap((SELECT c FROM pw_cap), n => 100)
	EXCEPT ALL SELECT label, pl FROM pw_synth) x;
-- in the order of the rows, with what the classes and the drawing gave them
SELECT label, pl, protocol, server_port, client_ip << '198.18.0.0/16' AS client_range,
	   server_ip << '198.19.0.0/16' AS server_range, client_port BETWEEN 49152 AND 65535 AS client_port_range,
	   packets_up, packets_down, first_seen
  FROM ntg.read_pcap((SELECT c FROM pw_cap), n => 100) ORDER BY first_seen;
-- one server address and port per class
SELECT label, count(DISTINCT (server_ip, server_port)) AS servers, count(DISTINCT (client_ip, client_port)) AS clients
  FROM ntg.read_pcap((SELECT c FROM pw_cap), n => 100) GROUP BY label ORDER BY label;

-- Reproducible: the same arguments give the same bytes; another seed, other endpoints.
SELECT md5(ntg.write_pcap('SELECT label, pl FROM pw_synth')) = md5(ntg.write_pcap('SELECT label, pl FROM pw_synth')) AS same,
	   md5(ntg.write_pcap('SELECT label, pl FROM pw_synth')) = md5(ntg.write_pcap('SELECT label, pl FROM pw_synth', seed => 1)) AS same_other_seed;
-- the random fill changes payload bytes only: same size, same biflows
SELECT length(ntg.write_pcap('SELECT label, pl FROM pw_synth', payload => 'random')) =
	   length(ntg.write_pcap('SELECT label, pl FROM pw_synth')) AS same_length,
	   (SELECT string_agg(label || pl::text, ';' ORDER BY first_seen) FROM ntg.read_pcap(ntg.write_pcap('SELECT label, pl FROM pw_synth', payload => 'random'), n => 100)) =
	   (SELECT string_agg(label || pl::text, ';' ORDER BY n) FROM (SELECT label, pl, row_number() OVER () AS n FROM pw_synth) s) AS same_values;

-- smallint arrays too, and the values of ntg.generate's row type
SELECT label, pl FROM ntg.read_pcap(ntg.write_pcap($$SELECT 'x'::varchar AS label, '{1200,-32768,32767}'::smallint[] AS pl$$));

-- A value larger than the MSS becomes several segments, as a TCP stack sends it; the reader sees them.
SELECT pl, packets_up, packets_down
  FROM ntg.read_pcap(ntg.write_pcap($$SELECT 'x' AS label, '{3000,-1460,1461}'::int[] AS pl$$, mss => 1460), n => 100);

-- Optional columns, recognised by name, in any order; NULL means "not given".
SELECT protocol, client_ip, client_port, server_ip, server_port, first_seen, label, pl
  FROM ntg.read_pcap(ntg.write_pcap($$
	SELECT * FROM (VALUES
		('2001:db8::1'::inet, 6, '{10,-20}'::int[], 'v6', 40000, '2001:db8::2'::inet, 443, '2024-05-01 12:00:00+00'::timestamptz),
		('10.0.0.1', 17, '{30}', 'v4', 5353, '10.0.0.2', 5353, '2024-05-01 12:00:01+00'),
		(NULL, NULL, '{50}', 'drawn', NULL, '2001:db8::9', NULL, NULL),
		('10.0.0.1', NULL, '{60}', 'text proto', 40001, NULL, 9000, '2024-05-01 12:00:03+00')
	) v(client_ip, protocol, pl, label, client_port, server_ip, server_port, start_time)
	$$)) ORDER BY first_seen;
SELECT protocol, pl FROM ntg.read_pcap(ntg.write_pcap($$SELECT 'a' AS label, '{5,-5}'::int[] AS pl, 'UDP' AS protocol$$));
-- the protocol argument is the default for rows and classes that name none
SELECT protocol FROM ntg.read_pcap(ntg.write_pcap($$SELECT 'a' AS label, '{5}'::int[] AS pl$$, protocol => 'udp'));
-- start_time and the gaps: the first biflow starts at start_time; flow_gap 0 starts all together
SELECT first_seen, last_seen - first_seen >= interval '6 us' AS spread
  FROM ntg.read_pcap(ntg.write_pcap('SELECT label, pl FROM pw_synth LIMIT 2', start_time => '2030-01-01 00:00:00+00',
								   flow_gap => '0', packet_gap => '0')) ORDER BY first_seen;

-- ntg.import_pcap takes each biflow's label from the capture when its label argument is NULL.
SELECT biflows, packets FROM ntg.import_pcap((SELECT c FROM pw_cap), dataset => 'synthetic', n => 100);
SELECT biflows FROM ntg.import_pcap((SELECT c FROM pw_cap), dataset => 'relabelled', label => 'mine');
SELECT dataset, label, pl FROM ntg.biflows WHERE dataset IN ('synthetic', 'relabelled') ORDER BY biflow_id;
-- the generic INSERT path (a target with a trigger) does the same
CREATE TABLE pw_flows (LIKE ntg.biflows INCLUDING ALL);
CREATE FUNCTION pw_flows_trg() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER t BEFORE INSERT ON pw_flows FOR EACH ROW EXECUTE FUNCTION pw_flows_trg();
SELECT biflows FROM ntg.import_pcap((SELECT c FROM pw_cap), dataset => 'generic', n => 100, target => 'pw_flows');
SELECT count(*) AS missing FROM (SELECT label, pl FROM pw_synth EXCEPT ALL SELECT label, pl FROM pw_flows) x;

-- Per-class protocol and server port from imported biflows, and its use.
SELECT ntg.pcap_classes('SELECT label, protocol, server_port FROM ntg.biflows WHERE dataset = ''synthetic''');
SELECT label, protocol, server_port FROM ntg.read_pcap(ntg.write_pcap('SELECT label, pl FROM pw_synth',
	classes => ntg.pcap_classes('SELECT label, protocol, server_port FROM ntg.biflows WHERE dataset = ''synthetic'''))) ORDER BY first_seen;
SELECT ntg.pcap_classes('SELECT ''a'', 6, 80 UNION ALL SELECT ''a'', 6, 443 UNION ALL SELECT ''a'', 6, 443 UNION ALL SELECT NULL, 6, 1');
SELECT ntg.pcap_classes('SELECT label, protocol, server_port FROM ntg.biflows WHERE false') AS no_rows;

-- The file form, as COPY TO a file.
SELECT * FROM ntg.write_pcap_file(:'capfile', $$SELECT label, pl FROM pw_synth WHERE label <> 'big'$$);
SELECT count(*) AS missing FROM (SELECT label, pl FROM pw_synth WHERE label <> 'big' EXCEPT ALL
	SELECT label, pl FROM ntg.read_pcap(:'capfile', n => 100)) x;
SELECT md5(pg_read_binary_file(:'capfile')) = md5(ntg.write_pcap($$SELECT label, pl FROM pw_synth WHERE label <> 'big'$$)) AS same_bytes;
-- an empty query gives a capture without packets
SELECT length(ntg.write_pcap('SELECT label, pl FROM pw_synth WHERE false')) AS header_bytes,
	   (SELECT count(*) FROM ntg.read_pcap(ntg.write_pcap('SELECT label, pl FROM pw_synth WHERE false'))) AS biflows;

-- Errors: arguments.
SELECT ntg.write_pcap(NULL);
SELECT ntg.write_pcap('SELECT label, pl FROM pw_synth', seed => NULL);
SELECT ntg.write_pcap('SELECT label, pl FROM pw_synth', protocol => 'icmp');
SELECT ntg.write_pcap('SELECT label, pl FROM pw_synth', start_time => '1969-12-31 23:59:59+00');
SELECT ntg.write_pcap('SELECT label, pl FROM pw_synth', start_time => 'infinity');
SELECT ntg.write_pcap('SELECT label, pl FROM pw_synth', flow_gap => '-1 s');
SELECT ntg.write_pcap('SELECT label, pl FROM pw_synth', packet_gap => NULL);
SELECT ntg.write_pcap('SELECT label, pl FROM pw_synth', mss => 0);
SELECT ntg.write_pcap('SELECT label, pl FROM pw_synth', mss => 65496);
SELECT ntg.write_pcap('SELECT label, pl FROM pw_synth', payload => 'ones');
SELECT ntg.write_pcap('SELECT label, pl FROM pw_synth', classes => '[1, 2]');
SELECT ntg.write_pcap('SELECT label, pl FROM pw_synth', classes => '{"web": "http"}');
SELECT ntg.write_pcap('SELECT label, pl FROM pw_synth', classes => '{"web": 0}');
SELECT ntg.write_pcap('SELECT label, pl FROM pw_synth', classes => '{"web": 80.5}');
SELECT ntg.write_pcap('SELECT label, pl FROM pw_synth', classes => '{"web": {"port": 80}}');
SELECT ntg.write_pcap('SELECT label, pl FROM pw_synth', classes => '{"web": {"protocol": 1}}');
SELECT ntg.write_pcap('SELECT label, pl FROM pw_synth', classes => '{"web": {"protocol": "sctp"}}');
SELECT ntg.pcap_classes(NULL);

-- Errors: the query's shape.
SELECT ntg.write_pcap('SELEC 1');
SELECT ntg.write_pcap('INSERT INTO pw_synth VALUES (''a'', ''{1}'')');
SELECT ntg.write_pcap($$SELECT 'a' AS label$$);
SELECT ntg.write_pcap($$SELECT '{1}'::int[] AS pl$$);
SELECT ntg.write_pcap($$SELECT 'a' AS label, '{1}'::int[] AS pl, 1 AS dataset$$);
SELECT ntg.write_pcap($$SELECT 'a' AS label, '{1}'::int[] AS pl, 'b' AS label$$);
SELECT ntg.write_pcap($$SELECT 1 AS label, '{1}'::int[] AS pl$$);
SELECT ntg.write_pcap($$SELECT 'a' AS label, '{1}'::bigint[] AS pl$$);
SELECT ntg.write_pcap($$SELECT 'a' AS label, '{1}'::int[] AS pl, 6.0 AS protocol$$);
SELECT ntg.write_pcap($$SELECT 'a' AS label, '{1}'::int[] AS pl, '10.0.0.0/8'::cidr AS client_ip$$);
SELECT ntg.write_pcap($$SELECT 'a' AS label, '{1}'::int[] AS pl, '80' AS server_port$$);
SELECT ntg.write_pcap($$SELECT 'a' AS label, '{1}'::int[] AS pl, now()::timestamp AS start_time$$);

-- Errors: values (with the row they are in).
SELECT ntg.write_pcap($$SELECT * FROM (VALUES ('a', '{1}'::int[]), (NULL, '{2}')) v(label, pl)$$);
SELECT ntg.write_pcap($$SELECT 'a' AS label, NULL::int[] AS pl$$);
SELECT ntg.write_pcap($$SELECT 'a' AS label, '{1,NULL}'::int[] AS pl$$);
SELECT ntg.write_pcap($$SELECT 'a' AS label, '{{1,2},{3,4}}'::int[] AS pl$$);
SELECT ntg.write_pcap($$SELECT 'a' AS label, '{5,0,-5}'::int[] AS pl$$);
SELECT ntg.write_pcap($$SELECT 'a' AS label, '{65508}'::int[] AS pl, 17 AS protocol$$);
SELECT ntg.write_pcap($$SELECT 'a' AS label, '{1}'::int[] AS pl, 1 AS protocol$$);
SELECT ntg.write_pcap($$SELECT 'a' AS label, '{1}'::int[] AS pl, 'sctp' AS protocol$$);
SELECT ntg.write_pcap($$SELECT 'a' AS label, '{1}'::int[] AS pl, 0 AS client_port$$);
SELECT ntg.write_pcap($$SELECT 'a' AS label, '{1}'::int[] AS pl, 65536 AS server_port$$);
SELECT ntg.write_pcap($$SELECT 'a' AS label, '{1}'::int[] AS pl, '::1'::inet AS client_ip, '10.0.0.1'::inet AS server_ip$$);
SELECT ntg.write_pcap($$SELECT 'a' AS label, '{1}'::int[] AS pl, 'infinity'::timestamptz AS start_time$$);
SELECT ntg.write_pcap($$SELECT * FROM (VALUES ('a', '{1}'::int[], '2024-01-02'::timestamptz), ('b', '{1}', '2024-01-01')) v(label, pl, start_time)$$);
SELECT ntg.write_pcap($$SELECT repeat('x', 65525) AS label, '{1}'::int[] AS pl$$);

-- Errors: memory.  Biflows in progress at the same time are held within work_mem.
SET work_mem = '64kB';
SELECT ntg.write_pcap($$SELECT 'a' AS label, '{1,-1}'::int[] AS pl, '2024-01-01'::timestamptz AS start_time FROM generate_series(1, 5000)$$);
SELECT length(ntg.write_pcap($$SELECT 'a' AS label, '{1,-1}'::int[] AS pl FROM generate_series(1, 5000)$$)) > 0 AS apart_fits;
RESET work_mem;

-- A long write can be cancelled, also inside one biflow (two thousand million one-byte segments).
SET statement_timeout = '300ms';
SELECT length(ntg.write_pcap($$SELECT 'a' AS label, '{2000000000}'::int[] AS pl$$, mss => 1));
RESET statement_timeout;

-- Errors: the file form.
SELECT * FROM ntg.write_pcap_file(NULL, 'SELECT label, pl FROM pw_synth');
SELECT * FROM ntg.write_pcap_file('relative.pcapng', 'SELECT label, pl FROM pw_synth');
SELECT * FROM ntg.write_pcap_file('/nonexistent-dir/x.pcapng', 'SELECT label, pl FROM pw_synth');
CREATE ROLE ntg_pcap_writer;
GRANT SELECT ON pw_synth TO ntg_pcap_writer;
SET ROLE ntg_pcap_writer;
SELECT * FROM ntg.write_pcap_file('/tmp/ntg-regress-denied.pcapng', 'SELECT label, pl FROM pw_synth');
SELECT length(ntg.write_pcap('SELECT label, pl FROM pw_synth')) > 0 AS bytea_form_open_to_all;
RESET ROLE;
DROP OWNED BY ntg_pcap_writer;
DROP ROLE ntg_pcap_writer;

DROP TABLE pw_synth, pw_cap, pw_flows;
DROP FUNCTION pw_flows_trg();
DELETE FROM ntg.biflows;
