-- ntg.import_pcap's two insert paths: batched like COPY (plain tables) and a generic INSERT
-- (triggers, partitions, type conversions, volatile defaults, ...).  Both must store exactly what
-- ntg.read_pcap returns, honour defaults, generated columns, constraints, indexes and privileges.
-- The synthetic capture has 2500 biflows, more than one batch (1000 rows or 64 kB).
SET timezone = 'UTC';

-- A raw-IP pcap (big-endian, DLT 101): per biflow i, a UDP request from 10.x.y.z:(40000 + i % 20000)
-- to 192.168.0.1:9999 and its reply, four payload bytes each.
CREATE FUNCTION pg_temp.udp_packet(i int, reply bool) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
	SELECT int4send(1700000000) || int4send(2 * i + reply::int) || int4send(32) || int4send(32)
		|| '\x450000200000400040110000'::bytea
		|| CASE WHEN reply THEN '\xc0a80001'::bytea ELSE '\x0a'::bytea || substring(int4send(i) FROM 2) END
		|| CASE WHEN reply THEN '\x0a'::bytea || substring(int4send(i) FROM 2) ELSE '\xc0a80001'::bytea END
		|| CASE WHEN reply THEN '\x270f'::bytea ELSE substring(int4send(40000 + i % 20000) FROM 3) END
		|| CASE WHEN reply THEN substring(int4send(40000 + i % 20000) FROM 3) ELSE '\x270f'::bytea END
		|| '\x000c0000'::bytea || int4send(i)
$$;
CREATE TABLE synthetic AS
SELECT '\xa1b2c3d40002000400000000000000000000ffff00000065'::bytea
	   || string_agg(pg_temp.udp_packet(i, r), ''::bytea ORDER BY i, r) AS data
  FROM generate_series(1, 2500) i, (VALUES (false), (true)) v(r);
CREATE VIEW synthetic_flows AS
	SELECT r.protocol, r.client_ip, r.client_port, r.server_ip, r.server_port, r.first_seen,
		   r.last_seen, r.packets_up, r.packets_down, r.bytes_up, r.bytes_down, r.payload_bytes_up,
		   r.payload_bytes_down, r.payload_packets, r.pl, r.sni
	  FROM synthetic, ntg.read_pcap(data) r;
SELECT count(*) AS biflows, sum(packets_up + packets_down) AS packets FROM synthetic_flows;

-- Batched path: an index (unique), a CHECK constraint, a default, a stored generated column and
-- an identity column, in a column order other than ntg.biflows'.
CREATE TABLE flows_bulk (
	note text DEFAULT 'imported',
	LIKE ntg.biflows INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING INDEXES,
	packets bigint GENERATED ALWAYS AS (packets_up + packets_down) STORED,
	gone integer,
	CHECK (packets_up > 0)
);
ALTER TABLE flows_bulk DROP COLUMN gone;
CREATE UNIQUE INDEX flows_bulk_key ON flows_bulk (dataset, client_ip, client_port);
SET client_min_messages = debug1;
SELECT dataset, packets, biflows, packets_in_biflows
  FROM synthetic, ntg.import_pcap(data, dataset => 'syn', label => 'bulk', target => 'flows_bulk');
RESET client_min_messages;
SELECT count(*) AS rows, count(DISTINCT biflow_id) AS ids, max(biflow_id) - min(biflow_id) + 1 AS id_span,
	   bool_and(note = 'imported') AS default_ok, bool_and(packets = 2) AS generated_ok,
	   count(DISTINCT imported_at) = 1 AS one_imported_at, bool_and(source IS NULL) AS no_source
  FROM flows_bulk;
-- exactly read_pcap's rows, both ways
SELECT count(*) AS missing FROM (
	SELECT * FROM synthetic_flows
	EXCEPT ALL
	SELECT protocol, client_ip, client_port, server_ip, server_port, first_seen, last_seen,
		   packets_up, packets_down, bytes_up, bytes_down, payload_bytes_up, payload_bytes_down,
		   payload_packets, pl, sni FROM flows_bulk) d;
SELECT count(*) AS extra FROM (
	SELECT protocol, client_ip, client_port, server_ip, server_port, first_seen, last_seen,
		   packets_up, packets_down, bytes_up, bytes_down, payload_bytes_up, payload_bytes_down,
		   payload_packets, pl, sni FROM flows_bulk
	EXCEPT ALL
	SELECT * FROM synthetic_flows) d;
-- the indexes hold every row (index scans, not the heap)
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT count(*) AS via_unique_index FROM flows_bulk WHERE dataset = 'syn' AND client_ip >= '0.0.0.0';
SELECT count(*) AS via_pkey FROM flows_bulk WHERE biflow_id > 0;
RESET enable_seqscan;
RESET enable_bitmapscan;
-- the same import again violates the unique index: nothing of it stays
SELECT biflows FROM synthetic, ntg.import_pcap(data, dataset => 'syn', target => 'flows_bulk');
SELECT count(*) AS rows_after_duplicate FROM flows_bulk;
-- NOT NULL and CHECK constraints are checked on each row
-- (terse: the failing row's detail holds imported_at, which is now())
\set VERBOSITY terse
ALTER TABLE flows_bulk ALTER COLUMN label SET NOT NULL;
SELECT biflows FROM synthetic, ntg.import_pcap(data, dataset => 'syn2', target => 'flows_bulk');
ALTER TABLE flows_bulk ALTER COLUMN label DROP NOT NULL;
ALTER TABLE flows_bulk ADD CONSTRAINT few_pl CHECK (cardinality(pl) < 2) NOT VALID;
SELECT biflows FROM synthetic, ntg.import_pcap(data, dataset => 'syn3', target => 'flows_bulk');
\set VERBOSITY default
ALTER TABLE flows_bulk DROP CONSTRAINT few_pl;
SELECT count(*) AS rows_after_violations FROM flows_bulk;
-- a read-only transaction refuses, as INSERT does
BEGIN READ ONLY;
SELECT biflows FROM synthetic, ntg.import_pcap(data, dataset => 'ro', target => 'flows_bulk');
ROLLBACK;

-- Generic path: a row trigger fires once per biflow, and the rows are the same.
CREATE TABLE flows_trig (LIKE ntg.biflows INCLUDING ALL, CHECK (packets_up > 0));
CREATE TABLE trigger_calls (n bigint);
INSERT INTO trigger_calls VALUES (0);
CREATE FUNCTION pg_temp.count_call() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE trigger_calls SET n = n + 1;
	RETURN NEW;
END $$;
CREATE TRIGGER count_call BEFORE INSERT ON flows_trig FOR EACH ROW EXECUTE FUNCTION pg_temp.count_call();
SET client_min_messages = debug1;
SELECT biflows FROM synthetic, ntg.import_pcap(data, dataset => 'syn', target => 'flows_trig');
RESET client_min_messages;
SELECT n AS trigger_calls, (SELECT count(*) FROM flows_trig) AS rows FROM trigger_calls;
SELECT count(*) AS differences FROM (
	(SELECT protocol, client_ip, client_port, server_ip, server_port, first_seen, last_seen,
		   packets_up, packets_down, bytes_up, bytes_down, pl, sni FROM flows_trig
	 EXCEPT ALL
	 SELECT protocol, client_ip, client_port, server_ip, server_port, first_seen, last_seen,
		   packets_up, packets_down, bytes_up, bytes_down, pl, sni FROM flows_bulk
	 WHERE dataset = 'syn')
	UNION ALL
	(SELECT protocol, client_ip, client_port, server_ip, server_port, first_seen, last_seen,
		   packets_up, packets_down, bytes_up, bytes_down, pl, sni FROM flows_bulk
	 WHERE dataset = 'syn'
	 EXCEPT ALL
	 SELECT protocol, client_ip, client_port, server_ip, server_port, first_seen, last_seen,
		   packets_up, packets_down, bytes_up, bytes_down, pl, sni FROM flows_trig)) d;

-- Other targets the generic path takes: a partitioned table, a column needing a conversion, a
-- volatile default.
CREATE TABLE flows_part (LIKE ntg.biflows INCLUDING DEFAULTS) PARTITION BY LIST (protocol);
ALTER TABLE flows_part DROP COLUMN biflow_id;
CREATE TABLE flows_part_udp PARTITION OF flows_part FOR VALUES IN (17);
CREATE TABLE flows_conv (LIKE ntg.biflows INCLUDING DEFAULTS INCLUDING IDENTITY);
ALTER TABLE flows_conv ALTER COLUMN client_port TYPE numeric, ALTER COLUMN pl TYPE text;
CREATE TABLE flows_volatile (LIKE ntg.biflows INCLUDING DEFAULTS INCLUDING IDENTITY,
							 drawn float8 DEFAULT random());
SET client_min_messages = debug1;
SELECT biflows FROM synthetic, ntg.import_pcap(data, dataset => 'syn', target => 'flows_part');
SELECT biflows FROM synthetic, ntg.import_pcap(data, dataset => 'syn', target => 'flows_conv');
SELECT biflows FROM synthetic, ntg.import_pcap(data, dataset => 'syn', target => 'flows_volatile');
RESET client_min_messages;
SELECT (SELECT count(*) FROM flows_part_udp) AS partition_rows,
	   (SELECT count(*) FROM flows_conv WHERE pl = '{4,-4}') AS converted_rows,
	   (SELECT count(DISTINCT drawn) FROM flows_volatile) AS distinct_draws;

-- Privileges: INSERT on the target, checked as the caller, and USAGE on its schema.
CREATE ROLE ntg_bulk_user;
GRANT SELECT ON synthetic TO ntg_bulk_user;
CREATE SCHEMA private_flows;
CREATE TABLE private_flows.t (LIKE ntg.biflows INCLUDING ALL);
GRANT INSERT ON private_flows.t TO ntg_bulk_user;
SET ROLE ntg_bulk_user;
SELECT biflows FROM synthetic, ntg.import_pcap(data, dataset => 'denied', target => 'flows_bulk');
RESET ROLE;
SELECT 'private_flows.t'::regclass::oid AS private_oid \gset
SET ROLE ntg_bulk_user;
SELECT biflows FROM synthetic, ntg.import_pcap(data, dataset => 'denied', target => :private_oid::oid);
RESET ROLE;
GRANT USAGE ON SCHEMA private_flows TO ntg_bulk_user;
GRANT INSERT (dataset, label, source, protocol, client_ip, client_port, server_ip, server_port,
			  first_seen, last_seen, packets_up, packets_down, bytes_up, bytes_down,
			  payload_bytes_up, payload_bytes_down, payload_packets, pl, sni)
	ON flows_bulk TO ntg_bulk_user;
SET ROLE ntg_bulk_user;
SELECT biflows FROM synthetic, ntg.import_pcap(data, dataset => 'granted', target => :private_oid::oid);
SELECT biflows FROM synthetic, ntg.import_pcap(data, dataset => 'by-columns', target => 'flows_bulk');
RESET ROLE;
-- import_pcap reads through ntg.read_pcap, whichever path it takes: it needs EXECUTE on it
REVOKE EXECUTE ON FUNCTION ntg.read_pcap(bytea, integer, interval, interval, text, boolean, text, boolean) FROM PUBLIC;
SET ROLE ntg_bulk_user;
SELECT biflows FROM synthetic, ntg.import_pcap(data, dataset => 'no-execute', target => 'flows_bulk');
RESET ROLE;
GRANT EXECUTE ON FUNCTION ntg.read_pcap(bytea, integer, interval, interval, text, boolean, text, boolean) TO PUBLIC;
SELECT dataset, count(*) FROM flows_bulk GROUP BY 1 ORDER BY 1;
SELECT count(*) AS private_rows FROM private_flows.t;
DROP SCHEMA private_flows CASCADE;
REVOKE ALL ON flows_bulk, synthetic FROM ntg_bulk_user;
DROP ROLE ntg_bulk_user;
-- Leave nothing behind that depends on the extension (later tests drop and re-create it).
DROP VIEW synthetic_flows;
DROP TABLE synthetic, flows_bulk, flows_trig, trigger_calls, flows_part, flows_conv, flows_volatile;
