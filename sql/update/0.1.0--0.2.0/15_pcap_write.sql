-- ntg 0.1.0 -> 0.2.0, part 15: writing biflows as a replayable pcapng capture (new in 0.2.0;
-- the same objects as sql/ext/15_pcap_write.sql).  Reference: docs/pcap-export.md.

-- What ntg.write_pcap_file() wrote.
CREATE TYPE ntg.write_pcap_result AS (
	biflows		bigint,		-- rows of the query
	packets		bigint,		-- packets in the capture
	bytes		bigint		-- size of the file
);

CREATE FUNCTION ntg.write_pcap(
	query text,
	seed bigint DEFAULT 0,
	protocol text DEFAULT 'tcp',
	classes jsonb DEFAULT NULL,
	start_time timestamptz DEFAULT '2025-01-01 00:00:00+00',
	flow_gap interval DEFAULT '10 ms',
	packet_gap interval DEFAULT '1 ms',
	mss integer DEFAULT 65495,
	payload text DEFAULT 'zero')
RETURNS bytea
	AS 'MODULE_PATHNAME', 'ntg_write_pcap'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.write_pcap(text, bigint, text, jsonb, timestamptz, interval, interval, integer, text) IS
	'the (label, pl) rows of a query as a pcapng capture: one TCP or UDP conversation per row, labels in packet comments; seed seeds the endpoints, ports and payload bytes not given';

CREATE FUNCTION ntg.write_pcap_file(
	path text,
	query text,
	seed bigint DEFAULT 0,
	protocol text DEFAULT 'tcp',
	classes jsonb DEFAULT NULL,
	start_time timestamptz DEFAULT '2025-01-01 00:00:00+00',
	flow_gap interval DEFAULT '10 ms',
	packet_gap interval DEFAULT '1 ms',
	mss integer DEFAULT 65495,
	payload text DEFAULT 'zero')
RETURNS ntg.write_pcap_result
	AS 'MODULE_PATHNAME', 'ntg_write_pcap_file'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.write_pcap_file(text, text, bigint, text, jsonb, timestamptz, interval, interval, integer, text) IS
	'write the capture of ntg.write_pcap() to a file on the server (superuser or pg_write_server_files); seed as in ntg.write_pcap';

-- Per class, the protocol and server port seen most often in (label, protocol, server_port) rows:
-- the classes argument of ntg.write_pcap() from imported biflows.
CREATE FUNCTION ntg.pcap_classes(query text)
RETURNS jsonb
	AS 'MODULE_PATHNAME', 'ntg_pcap_classes'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ntg.pcap_classes(text) IS
	'per class, the most frequent (protocol, server_port) of (label, protocol, server_port) rows, as the classes argument of ntg.write_pcap()';

-- The implementation, on the (label, protocol, server_port) rows the entry point read
-- (src/pg/experiments_sql.c).
CREATE FUNCTION ntg._pcap_classes_rows(tab regclass)
RETURNS jsonb
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	result jsonb;
BEGIN
	EXECUTE format(
		'SELECT coalesce(jsonb_object_agg(label, jsonb_build_object(''protocol'', protocol, ''server_port'', server_port)), ''{}'')
		   FROM (SELECT DISTINCT ON (label) label, protocol, server_port
				   FROM (SELECT q.label, q.protocol, q.server_port, count(*) AS n
						   FROM %s AS q
						  WHERE q.label IS NOT NULL AND q.protocol IS NOT NULL AND q.server_port IS NOT NULL
						  GROUP BY 1, 2, 3) AS c
				  ORDER BY label, n DESC, protocol, server_port) AS m', tab)
		INTO result;
	RETURN result;
END
$$;
COMMENT ON FUNCTION ntg._pcap_classes_rows(regclass) IS 'internal: ntg.pcap_classes on a table of rows';
