-- ntg install script, part 10: capture import (pcap/pcapng -> biflows).  Reference: docs/capture.md.

-- Biflows imported by ntg.import_pcap (the default target; any table with these columns will do).
CREATE TABLE ntg.biflows (
	biflow_id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	dataset				text NOT NULL,
	label				text,
	source				text,				-- capture file path; NULL for capture data (bytea)
	protocol			smallint NOT NULL,	-- 6 TCP, 17 UDP
	client_ip			inet NOT NULL,
	client_port			integer NOT NULL,
	server_ip			inet NOT NULL,
	server_port			integer NOT NULL,
	first_seen			timestamptz NOT NULL,
	last_seen			timestamptz NOT NULL,
	packets_up			bigint NOT NULL,	-- client -> server
	packets_down		bigint NOT NULL,
	bytes_up			bigint NOT NULL,	-- IP bytes (from the IP length fields)
	bytes_down			bigint NOT NULL,
	payload_bytes_up	bigint NOT NULL,
	payload_bytes_down	bigint NOT NULL,
	payload_packets		bigint NOT NULL,
	pl					integer[] NOT NULL,	-- signed PLs of the first n payload packets (+ up, - down)
	sni					text,				-- TLS server_name of a ClientHello
	imported_at			timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX biflows_dataset_label_idx ON ntg.biflows (dataset, label);
COMMENT ON TABLE ntg.biflows IS 'biflows imported from captures by ntg.import_pcap';
SELECT pg_catalog.pg_extension_config_dump('ntg.biflows', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('ntg.biflows', 'biflow_id'), '');

-- What ntg.import_pcap did.
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
