-- ntg 0.1.0 -> 0.2.0, part 10 (capture): ntg.read_pcap returns a last column, label, the class
-- name of an "ntg-label: " packet comment (written by ntg.write_pcap).  A function's result type
-- cannot change in place: drop and create both forms again, as sql/ext/10_capture.sql declares them.
DROP FUNCTION ntg.read_pcap(text, integer, interval, interval, text);
DROP FUNCTION ntg.read_pcap(bytea, integer, interval, interval, text);

CREATE FUNCTION ntg.read_pcap(
	path text,
	n integer DEFAULT 10,
	idle_timeout interval DEFAULT '120 s',
	active_timeout interval DEFAULT '1800 s',
	filter text DEFAULT NULL)
RETURNS TABLE (
	protocol smallint, client_ip inet, client_port integer, server_ip inet, server_port integer,
	first_seen timestamptz, last_seen timestamptz, packets_up bigint, packets_down bigint,
	bytes_up bigint, bytes_down bigint, payload_bytes_up bigint, payload_bytes_down bigint,
	payload_packets bigint, pl smallint[], pl_full integer[], sni text,
	label text)
	AS 'MODULE_PATHNAME', 'ntg_read_pcap_path'
	LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION ntg.read_pcap(text, integer, interval, interval, text) IS
	'biflows of a pcap/pcapng file on the server (superuser or pg_read_server_files)';

CREATE FUNCTION ntg.read_pcap(
	data bytea,
	n integer DEFAULT 10,
	idle_timeout interval DEFAULT '120 s',
	active_timeout interval DEFAULT '1800 s',
	filter text DEFAULT NULL)
RETURNS TABLE (
	protocol smallint, client_ip inet, client_port integer, server_ip inet, server_port integer,
	first_seen timestamptz, last_seen timestamptz, packets_up bigint, packets_down bigint,
	bytes_up bigint, bytes_down bigint, payload_bytes_up bigint, payload_bytes_down bigint,
	payload_packets bigint, pl smallint[], pl_full integer[], sni text,
	label text)
	AS 'MODULE_PATHNAME', 'ntg_read_pcap_bytea'
	LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION ntg.read_pcap(bytea, integer, interval, interval, text) IS
	'biflows of a pcap/pcapng capture given as bytes';
