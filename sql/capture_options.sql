-- read_pcap / import_pcap options added in 0.2.0 on a capture built here: split_on_syn (a reused
-- TCP port pair), client_rule (a connection seen without its SYN), decapsulate (IPv4 in IPv4),
-- IP fragments, both insert paths passing the options on, the GUCs, and the argument errors.
SET timezone = 'UTC';

-- A big-endian raw-IP pcap (DLT 101).  rec: a record at 1700000000 s + us; ip4: an IPv4 header
-- and its payload; tcp: a TCP header (flags) and n zero bytes; udp: a UDP header and n bytes.
CREATE FUNCTION pg_temp.rec(us int, pkt bytea) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
	SELECT int4send(1700000000 + us / 1000000) || int4send(us % 1000000)
		|| int4send(length(pkt)) || int4send(length(pkt)) || pkt
$$;
CREATE FUNCTION pg_temp.ip4(proto int, src bytea, dst bytea, id int, frag int, payload bytea)
RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
	SELECT '\x4500'::bytea || int2send((20 + length(payload))::int2) || int2send(id::int2)
		|| int2send(frag::int2) || set_byte('\x4000'::bytea, 1, proto) || '\x0000'::bytea
		|| src || dst || payload
$$;
CREATE FUNCTION pg_temp.tcp(sport int, dport int, flags int, n int) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
	SELECT substring(int4send(sport) FROM 3) || substring(int4send(dport) FROM 3)
		|| '\x000000010000000050'::bytea || set_byte('\x00'::bytea, 0, flags)
		|| '\xffff00000000'::bytea || decode(repeat('00', n), 'hex')
$$;
CREATE FUNCTION pg_temp.udp(sport int, dport int, udplen int, n int) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
	SELECT substring(int4send(sport) FROM 3) || substring(int4send(dport) FROM 3)
		|| int2send(udplen::int2) || '\x0000'::bytea || decode(repeat('00', n), 'hex')
$$;

CREATE TABLE cap AS
SELECT '\xa1b2c3d40002000400000000000000000000ffff00000065'::bytea || string_agg(r, ''::bytea ORDER BY t) AS data
  FROM (VALUES
	-- 10.0.0.1:50000 -> 10.0.0.2:80, the capture begins mid-connection: the server speaks first
	(1, pg_temp.rec(1, pg_temp.ip4(6, '\x0a000002', '\x0a000001', 1, 0, pg_temp.tcp(80, 50000, 24, 300)))),
	(2, pg_temp.rec(2, pg_temp.ip4(6, '\x0a000001', '\x0a000002', 2, 0, pg_temp.tcp(50000, 80, 24, 10)))),
	-- 10.0.0.3:40000 -> 10.0.0.4:443: a connection, closed, then a new one on the same ports
	(3, pg_temp.rec(10, pg_temp.ip4(6, '\x0a000003', '\x0a000004', 3, 0, pg_temp.tcp(40000, 443, 2, 0)))),
	(4, pg_temp.rec(11, pg_temp.ip4(6, '\x0a000004', '\x0a000003', 4, 0, pg_temp.tcp(443, 40000, 18, 0)))),
	(5, pg_temp.rec(12, pg_temp.ip4(6, '\x0a000003', '\x0a000004', 5, 0, pg_temp.tcp(40000, 443, 24, 11)))),
	(6, pg_temp.rec(13, pg_temp.ip4(6, '\x0a000003', '\x0a000004', 6, 0, pg_temp.tcp(40000, 443, 17, 0)))),
	(7, pg_temp.rec(14, pg_temp.ip4(6, '\x0a000004', '\x0a000003', 7, 0, pg_temp.tcp(443, 40000, 17, 0)))),
	(8, pg_temp.rec(2000000, pg_temp.ip4(6, '\x0a000003', '\x0a000004', 8, 0, pg_temp.tcp(40000, 443, 2, 0)))),
	(9, pg_temp.rec(2000001, pg_temp.ip4(6, '\x0a000003', '\x0a000004', 9, 0, pg_temp.tcp(40000, 443, 24, 22)))),
	-- 10.0.0.5:5000 -> 10.0.0.6:53, a UDP datagram of 2000 bytes in two IPv4 fragments
	(10, pg_temp.rec(3000000, pg_temp.ip4(17, '\x0a000005', '\x0a000006', 77, 8192 + 0, pg_temp.udp(5000, 53, 2008, 1472)))),
	(11, pg_temp.rec(3000001, pg_temp.ip4(17, '\x0a000005', '\x0a000006', 77, 185, decode(repeat('00', 528), 'hex')))),
	-- 192.168.0.1 -> 192.168.0.2 carrying 10.1.1.1:40000 -> 10.1.1.2:22 (IPv4 in IPv4)
	(12, pg_temp.rec(4000000, pg_temp.ip4(4, '\xc0a80001', '\xc0a80002', 12, 0,
			pg_temp.ip4(6, '\x0a010101', '\x0a010102', 13, 0, pg_temp.tcp(40000, 22, 24, 33)))))
  ) v(t, r);

-- Defaults: the port rule makes port 80 the server, the reused port pair makes two biflows, the
-- fragments make one datagram (packets 2, one PL of 2000), the tunnel is not entered.
SELECT protocol, client_ip, client_port, server_ip, server_port, packets_up, packets_down,
	   bytes_up, bytes_down, payload_bytes_up, pl
  FROM cap, ntg.read_pcap(data) ORDER BY first_seen;
SELECT r.skipped FROM cap, ntg.import_pcap(data, dataset => 'defaults', target => 'ntg.biflows') r;

-- 0.1.0's rules: the first sender is the client, the reused port pair one biflow.
SELECT protocol, client_port, server_port, packets_up, packets_down, pl
  FROM cap, ntg.read_pcap(data, client_rule => 'first', split_on_syn => false) ORDER BY first_seen;

-- decapsulate: the inner TCP biflow instead of a non-TCP/UDP packet.
SELECT protocol, client_ip, client_port, server_ip, server_port, bytes_up, pl
  FROM cap, ntg.read_pcap(data, decapsulate => true) WHERE server_port = 22;

-- Both insert paths pass the options on: batched, and generic (a row trigger).
CREATE TABLE opt_flows (LIKE ntg.biflows INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE opt_flows_trg (LIKE ntg.biflows INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE FUNCTION pg_temp.noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER noop BEFORE INSERT ON opt_flows_trg FOR EACH ROW EXECUTE FUNCTION pg_temp.noop();
SELECT biflows, skipped->>'non_tcp_udp' AS non_tcp_udp
  FROM cap, ntg.import_pcap(data, dataset => 'b', target => 'opt_flows', client_rule => 'first',
							split_on_syn => false, decapsulate => true);
SELECT biflows, skipped->>'non_tcp_udp' AS non_tcp_udp
  FROM cap, ntg.import_pcap(data, dataset => 'g', target => 'opt_flows_trg', client_rule => 'first',
							split_on_syn => false, decapsulate => true);
SELECT (SELECT array_agg(client_port ORDER BY first_seen) FROM opt_flows) AS batched,
	   (SELECT array_agg(client_port ORDER BY first_seen) FROM opt_flows_trg) AS generic;

-- GUCs: ntg.import_memory (-1 = maintenance_work_mem; below 1 MB means 1 MB), ntg.import_workers.
SHOW ntg.import_memory;
SET ntg.import_memory = '100kB';
SHOW ntg.import_memory;
SET ntg.import_memory = '2GB';
SHOW ntg.import_memory;
RESET ntg.import_memory;
SHOW ntg.import_workers;
SET ntg.import_workers = 65;

-- Errors.
SELECT * FROM cap, ntg.read_pcap(data, client_rule => 'server');
SELECT * FROM cap, ntg.read_pcap(data, client_rule => NULL);
SELECT * FROM cap, ntg.read_pcap(data, split_on_syn => NULL);
SELECT * FROM cap, ntg.read_pcap(data, decapsulate => NULL);
SELECT * FROM cap, ntg.import_pcap(data, dataset => 'x', client_rule => 'server');
SELECT * FROM cap, ntg.read_pcap(data, filter => 'host example.com');
SELECT * FROM cap, ntg.read_pcap(data, filter => 'tcp port http');
SELECT * FROM cap, ntg.read_pcap(data, filter => 'tcp and (' || (SELECT string_agg('port ' || i, ' or ') FROM generate_series(1, 64) i) || ')');
SELECT * FROM cap, ntg.read_pcap(data, filter => repeat(' ', 5000) || 'tcp');
SELECT count(*) AS numeric_filter_ok FROM cap, ntg.read_pcap(data, filter => 'host 10.0.0.3 and tcp portrange 400-500');
DROP TABLE cap, opt_flows, opt_flows_trg;
DELETE FROM ntg.biflows WHERE dataset = 'defaults';
