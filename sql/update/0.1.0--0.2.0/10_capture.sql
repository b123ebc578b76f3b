-- ntg 0.1.0 -> 0.2.0, part 10: capture import.  ntg.read_pcap returns a last column, label (the
-- class name of an "ntg-label: " packet comment, written by ntg.write_pcap); read_pcap and
-- import_pcap gain split_on_syn, client_rule and decapsulate (new arguments at the end, with
-- defaults).  A function's result type and argument list cannot change in place: the 0.1.0
-- functions are dropped and created again as sql/ext/10_capture.sql declares them.
-- import_pcaps (many files) is new.  ntg.biflows.pl becomes integer[] (below).

DROP FUNCTION ntg.read_pcap(text, integer, interval, interval, text);
DROP FUNCTION ntg.read_pcap(bytea, integer, interval, interval, text);
DROP FUNCTION ntg.import_pcap(text, text, text, integer, interval, interval, text, regclass);
DROP FUNCTION ntg.import_pcap(bytea, text, text, integer, interval, interval, text, regclass);

-- pl is integer[] everywhere, as in every other ntg row, so that imported and generated rows
-- join: the table keeps the exact values (0.1.0's pl_full) under the name pl, and pl_full,
-- which only repeated them, goes, as does import_result's count of clipped values.  The type is
-- created again rather than altered, so that it has no dropped attribute.
ALTER TABLE ntg.biflows ALTER COLUMN pl TYPE integer[] USING pl_full;
ALTER TABLE ntg.biflows DROP COLUMN pl_full;
DROP TYPE ntg.import_result;
CREATE TYPE ntg.import_result AS (
	dataset				text,
	format				text,		-- pcap, pcap-ns (nanosecond), pcapng
	packets				bigint,		-- packet records read
	bytes				bigint,		-- capture bytes read
	packets_in_biflows	bigint,
	biflows				bigint,		-- rows written
	skipped				jsonb,		-- packets not in a biflow, by reason
	damaged				boolean,	-- reading stopped early at damaged or cut data
	damage				text		-- where and why
);

CREATE FUNCTION ntg.read_pcap(
	path text,
	n integer DEFAULT 10,
	idle_timeout interval DEFAULT '120 s',
	active_timeout interval DEFAULT '1800 s',
	filter text DEFAULT NULL,
	split_on_syn boolean DEFAULT true,
	client_rule text DEFAULT 'port',
	decapsulate boolean DEFAULT false)
RETURNS TABLE (
	protocol smallint, client_ip inet, client_port integer, server_ip inet, server_port integer,
	first_seen timestamptz, last_seen timestamptz, packets_up bigint, packets_down bigint,
	bytes_up bigint, bytes_down bigint, payload_bytes_up bigint, payload_bytes_down bigint,
	payload_packets bigint, pl integer[], sni text,
	label text)	-- from an "ntg-label: " packet comment (ntg.write_pcap), else NULL
	AS 'MODULE_PATHNAME', 'ntg_read_pcap_path'
	LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION ntg.read_pcap(text, integer, interval, interval, text, boolean, text, boolean) IS
	'biflows of a pcap/pcapng file on the server (superuser or pg_read_server_files)';

CREATE FUNCTION ntg.read_pcap(
	data bytea,
	n integer DEFAULT 10,
	idle_timeout interval DEFAULT '120 s',
	active_timeout interval DEFAULT '1800 s',
	filter text DEFAULT NULL,
	split_on_syn boolean DEFAULT true,
	client_rule text DEFAULT 'port',
	decapsulate boolean DEFAULT false)
RETURNS TABLE (
	protocol smallint, client_ip inet, client_port integer, server_ip inet, server_port integer,
	first_seen timestamptz, last_seen timestamptz, packets_up bigint, packets_down bigint,
	bytes_up bigint, bytes_down bigint, payload_bytes_up bigint, payload_bytes_down bigint,
	payload_packets bigint, pl integer[], sni text,
	label text)	-- from an "ntg-label: " packet comment (ntg.write_pcap), else NULL
	AS 'MODULE_PATHNAME', 'ntg_read_pcap_bytea'
	LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION ntg.read_pcap(bytea, integer, interval, interval, text, boolean, text, boolean) IS
	'biflows of a pcap/pcapng capture given as bytes';

CREATE FUNCTION ntg.import_pcap(
	path text,
	dataset text DEFAULT NULL,
	label text DEFAULT NULL,
	n integer DEFAULT 10,
	idle_timeout interval DEFAULT '120 s',
	active_timeout interval DEFAULT '1800 s',
	filter text DEFAULT NULL,
	target regclass DEFAULT 'ntg.biflows',
	split_on_syn boolean DEFAULT true,
	client_rule text DEFAULT 'port',
	decapsulate boolean DEFAULT false)
RETURNS ntg.import_result
	AS 'MODULE_PATHNAME', 'ntg_import_pcap_path'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.import_pcap(text, text, text, integer, interval, interval, text, regclass, boolean, text, boolean) IS
	'import the biflows of a pcap/pcapng file on the server into a biflow table';

CREATE FUNCTION ntg.import_pcap(
	data bytea,
	dataset text DEFAULT NULL,
	label text DEFAULT NULL,
	n integer DEFAULT 10,
	idle_timeout interval DEFAULT '120 s',
	active_timeout interval DEFAULT '1800 s',
	filter text DEFAULT NULL,
	target regclass DEFAULT 'ntg.biflows',
	split_on_syn boolean DEFAULT true,
	client_rule text DEFAULT 'port',
	decapsulate boolean DEFAULT false)
RETURNS ntg.import_result
	AS 'MODULE_PATHNAME', 'ntg_import_pcap_bytea'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.import_pcap(bytea, text, text, integer, interval, interval, text, regclass, boolean, text, boolean) IS
	'import the biflows of a pcap/pcapng capture given as bytes into a biflow table';

-- Many files in one call: a glob pattern or a list of paths, read by background workers in
-- parallel (ntg.import_workers); one row per file.
CREATE FUNCTION ntg.import_pcaps(
	pattern text,
	dataset text DEFAULT NULL,
	label text DEFAULT NULL,
	n integer DEFAULT 10,
	idle_timeout interval DEFAULT '120 s',
	active_timeout interval DEFAULT '1800 s',
	filter text DEFAULT NULL,
	target regclass DEFAULT 'ntg.biflows',
	split_on_syn boolean DEFAULT true,
	client_rule text DEFAULT 'port',
	decapsulate boolean DEFAULT false)
RETURNS TABLE (
	path text, dataset text, format text, packets bigint, bytes bigint, packets_in_biflows bigint,
	biflows bigint, skipped jsonb, damaged boolean, damage text, error text)
	AS 'MODULE_PATHNAME', 'ntg_import_pcaps_pattern'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.import_pcaps(text, text, text, integer, interval, interval, text, regclass, boolean, text, boolean) IS
	'import the biflows of every pcap/pcapng file on the server that a glob pattern matches';

CREATE FUNCTION ntg.import_pcaps(
	paths text[],
	dataset text DEFAULT NULL,
	label text DEFAULT NULL,
	n integer DEFAULT 10,
	idle_timeout interval DEFAULT '120 s',
	active_timeout interval DEFAULT '1800 s',
	filter text DEFAULT NULL,
	target regclass DEFAULT 'ntg.biflows',
	split_on_syn boolean DEFAULT true,
	client_rule text DEFAULT 'port',
	decapsulate boolean DEFAULT false)
RETURNS TABLE (
	path text, dataset text, format text, packets bigint, bytes bigint, packets_in_biflows bigint,
	biflows bigint, skipped jsonb, damaged boolean, damage text, error text)
	AS 'MODULE_PATHNAME', 'ntg_import_pcaps_list'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.import_pcaps(text[], text, text, integer, interval, interval, text, regclass, boolean, text, boolean) IS
	'import the biflows of a list of pcap/pcapng files on the server';
