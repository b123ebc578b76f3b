/*
 * test_capture_decode.c — link-layer, IP and TCP/UDP decoding, and the TLS SNI parser, on
 * packets crafted in memory.
 */
#include "capture/decode.h"
#include "capture_build.h"
#include "unit.h"

static Buf	pkt;

static int
dec(int lt, NtgPacket *p)
{
	memset(p, 0, sizeof(*p));
	return ntg_decode_packet(lt, pkt.b, pkt.n, pkt.n, p);
}

/* IPv4/TCP with `pl` payload bytes after whatever link header is already in pkt. */
static void
v4tcp(uint32_t pl, uint8_t flags)
{
	ipv4(&pkt, 6, 0x0a000001, 0x0a000002, 20 + pl, 0);
	tcp(&pkt, 40000, 443, flags);
	zeros(&pkt, pl);
}

static void
test_ethernet_family(void)
{
	NtgPacket	p;

	pkt.n = 0;
	eth(&pkt, 0x0800);
	v4tcp(100, 0x18);
	is_int(dec(1, &p), -1, "Ethernet IPv4 TCP decodes");
	is_int(p.pl, 100, "TCP PL = total length - IP header - TCP header");
	is_int(p.ip_bytes, 140, "IP bytes from the total length");
	is_int(p.sport, 40000, "source port");
	is_int(p.dport, 443, "destination port");
	is_int(p.tcp_flags, 0x18, "TCP flags");
	ok(p.src[0] == 10 && p.src[3] == 1 && p.dst[3] == 2, "IPv4 addresses");

	/* snaplen cut: only 54 bytes captured of a 1514-byte frame */
	pkt.n = 0;
	eth(&pkt, 0x0800);
	v4tcp(1460, 0x10);
	memset(&p, 0, sizeof(p));
	is_int(ntg_decode_packet(1, pkt.b, 54, 1514, &p), -1, "snaplen-cut packet decodes");
	is_int(p.pl, 1460, "PL comes from the header, not the captured length");
	is_int(p.payload_caplen, 0, "no captured payload");

	pkt.n = 0;
	eth(&pkt, 0x8100);
	put16(&pkt, 100);
	put16(&pkt, 0x0800);
	v4tcp(7, 0);
	is_int(dec(1, &p), -1, "802.1Q VLAN");
	is_int(p.pl, 7, "802.1Q PL");

	pkt.n = 0;
	eth(&pkt, 0x88A8);
	put16(&pkt, 10);
	put16(&pkt, 0x8100);
	put16(&pkt, 20);
	put16(&pkt, 0x0800);
	v4tcp(9, 0);
	is_int(dec(1, &p), -1, "QinQ (802.1ad + 802.1Q)");
	is_int(p.pl, 9, "QinQ PL");

	pkt.n = 0;
	eth(&pkt, 0x8847);
	put32(&pkt, (16 << 12) | 0x40);		/* label 16, not bottom */
	put32(&pkt, (17 << 12) | 0x140);	/* label 17, bottom of stack */
	v4tcp(11, 0);
	is_int(dec(1, &p), -1, "MPLS label stack");
	is_int(p.pl, 11, "MPLS PL");

	pkt.n = 0;
	eth(&pkt, 0x8864);
	put16(&pkt, 0x1100);
	put16(&pkt, 1);
	put16(&pkt, 20 + 20 + 13 + 2);
	put16(&pkt, 0x0021);
	v4tcp(13, 0);
	is_int(dec(1, &p), -1, "PPPoE session");
	is_int(p.pl, 13, "PPPoE PL");

	pkt.n = 0;
	eth(&pkt, 0x0806);
	zeros(&pkt, 28);
	is_int(dec(1, &p), NTG_SKIP_NON_IP, "ARP is non-IP");

	pkt.n = 0;
	eth(&pkt, 0x0800);
	ipv4(&pkt, 1, 1, 2, 8, 0);
	zeros(&pkt, 8);
	is_int(dec(1, &p), NTG_SKIP_NON_TCP_UDP, "ICMP is non-TCP/UDP");

	pkt.n = 0;
	eth(&pkt, 0x86DD);
	v4tcp(1, 0);
	is_int(dec(1, &p), NTG_SKIP_BAD_HEADER, "EtherType IPv6 carrying IPv4 is a bad header");
}

static void
test_other_links(void)
{
	NtgPacket	p;

	pkt.n = 0;
	put16(&pkt, 0);
	put16(&pkt, 1);
	put16(&pkt, 6);
	zeros(&pkt, 8);
	put16(&pkt, 0x0800);
	v4tcp(21, 0);
	is_int(dec(113, &p), -1, "Linux SLL");
	is_int(p.pl, 21, "SLL PL");

	pkt.n = 0;
	put16(&pkt, 0x86DD);
	zeros(&pkt, 18);
	ipv6(&pkt, 17, 1, 2, 8 + 30);
	udp(&pkt, 5353, 53, 8 + 30);
	zeros(&pkt, 30);
	is_int(dec(276, &p), -1, "Linux SLL2 IPv6 UDP");
	is_int(p.pl, 30, "SLL2 UDP PL");
	is_int(p.family, 6, "IPv6 family");
	is_int(p.ip_bytes, 40 + 38, "IPv6 bytes = 40 + payload length");

	pkt.n = 0;
	v4tcp(5, 0);
	is_int(dec(101, &p), -1, "LINKTYPE_RAW IPv4");
	is_int(dec(12, &p), -1, "DLT_RAW (12) IPv4");
	is_int(dec(228, &p), -1, "LINKTYPE_IPV4");
	is_int(dec(229, &p), NTG_SKIP_BAD_HEADER, "LINKTYPE_IPV6 with an IPv4 packet is a bad header");

	pkt.n = 0;
	ipv6(&pkt, 6, 1, 2, 20 + 3);
	tcp(&pkt, 1, 2, 0x02);
	zeros(&pkt, 3);
	is_int(dec(229, &p), -1, "LINKTYPE_IPV6");
	is_int(p.pl, 3, "IPv6 TCP PL");

	pkt.n = 0;
	put32le(&pkt, 2);
	v4tcp(4, 0);
	is_int(dec(0, &p), -1, "NULL, AF_INET little-endian");
	pkt.n = 0;
	put32(&pkt, 2);
	v4tcp(4, 0);
	is_int(dec(0, &p), -1, "NULL, AF_INET written big-endian");
	is_int(dec(108, &p), -1, "LOOP (big-endian family)");
	pkt.n = 0;
	put32le(&pkt, 30);
	ipv6(&pkt, 17, 1, 2, 8);
	udp(&pkt, 1, 2, 8);
	is_int(dec(0, &p), -1, "NULL, AF_INET6 as on macOS (30)");
	is_int(p.pl, 0, "empty UDP datagram has PL 0");
	pkt.n = 0;
	put32le(&pkt, 7);
	v4tcp(4, 0);
	is_int(dec(0, &p), NTG_SKIP_NON_IP, "NULL with an unknown family is non-IP");

	pkt.n = 0;
	put8(&pkt, 0xFF);
	put8(&pkt, 0x03);
	put16(&pkt, 0x0021);
	v4tcp(6, 0);
	is_int(dec(9, &p), -1, "PPP with HDLC address/control");
	pkt.n = 0;
	put16(&pkt, 0x0057);
	ipv6(&pkt, 6, 1, 2, 20);
	tcp(&pkt, 1, 2, 0);
	is_int(dec(9, &p), -1, "PPP IPv6 without address/control");
	pkt.n = 0;
	put8(&pkt, 0x21);			/* protocol-field compression */
	v4tcp(6, 0);
	is_int(dec(9, &p), -1, "PPP with a compressed protocol field");

	pkt.n = 0;
	put8(&pkt, 0x0F);
	put8(&pkt, 0);
	put16(&pkt, 0x0800);
	v4tcp(2, 0);
	is_int(dec(104, &p), -1, "Cisco HDLC");

	is_int(dec(127, &p), NTG_SKIP_UNSUPPORTED_LINK, "radiotap is not decoded");
	ok(!ntg_linktype_supported(127) && ntg_linktype_supported(276), "supported link types");
}

static void
test_ip_details(void)
{
	NtgPacket	p;

	/* IPv4 fragments: the first has ports (UDP length gives the datagram's PL), others none */
	pkt.n = 0;
	ipv4(&pkt, 17, 1, 2, 8 + 1472, 0x2000);
	udp(&pkt, 1000, 2000, 8 + 3000);
	zeros(&pkt, 1472);
	is_int(dec(101, &p), -1, "first IPv4 fragment decodes");
	is_int(p.pl, 3000, "first fragment: PL of the whole datagram from the UDP length");
	pkt.n = 0;
	ipv4(&pkt, 17, 1, 2, 1480, 185);
	zeros(&pkt, 1480);
	is_int(dec(101, &p), NTG_SKIP_FRAGMENT, "non-first IPv4 fragment is not attributed");

	/* IPv6: hop-by-hop, destination options, fragment header (first fragment), then TCP */
	pkt.n = 0;
	ipv6(&pkt, 0, 1, 2, 8 + 16 + 8 + 20 + 50);
	put8(&pkt, 60);
	put8(&pkt, 0);
	put8(&pkt, 1);
	put8(&pkt, 4);
	zeros(&pkt, 4);				/* HBH: PadN */
	put8(&pkt, 44);
	put8(&pkt, 1);
	put8(&pkt, 1);
	put8(&pkt, 12);
	zeros(&pkt, 12);			/* destination options, 16 bytes */
	put8(&pkt, 6);
	put8(&pkt, 0);
	put16(&pkt, 0x0001);		/* offset 0, more fragments */
	put32(&pkt, 99);
	tcp(&pkt, 5, 6, 0x10);
	zeros(&pkt, 50);
	is_int(dec(101, &p), -1, "IPv6 with HBH, destination options and fragment headers");
	is_int(p.pl, 50, "PL = payload length - extension headers - TCP header");
	is_int(p.sport, 5, "ports after extension headers");

	pkt.n = 0;
	ipv6(&pkt, 44, 1, 2, 8 + 100);
	put8(&pkt, 17);
	put8(&pkt, 0);
	put16(&pkt, 0x0100);		/* offset 32 */
	put32(&pkt, 99);
	zeros(&pkt, 100);
	is_int(dec(101, &p), NTG_SKIP_FRAGMENT, "non-first IPv6 fragment is not attributed");

	/* jumbogram: payload length 0 and a jumbo option */
	pkt.n = 0;
	ipv6(&pkt, 0, 1, 2, 0);
	put8(&pkt, 6);
	put8(&pkt, 0);
	put8(&pkt, 0xC2);
	put8(&pkt, 4);
	put32(&pkt, 8 + 20 + 70000);
	tcp(&pkt, 1, 2, 0x10);
	memset(&p, 0, sizeof(p));
	is_int(ntg_decode_packet(101, pkt.b, pkt.n, 40 + 8 + 20 + 70000, &p), -1, "IPv6 jumbogram");
	is_int(p.pl, 70000, "jumbo payload length gives PL beyond 65535");

	/* BIG TCP as Linux captures it: payload length 0 without a jumbo option: wire length */
	pkt.n = 0;
	ipv6(&pkt, 6, 1, 2, 0);
	tcp(&pkt, 1, 2, 0x10);
	memset(&p, 0, sizeof(p));
	is_int(ntg_decode_packet(101, pkt.b, pkt.n, 40 + 20 + 80000, &p), -1, "BIG TCP without jumbo option");
	is_int(p.pl, 80000, "payload length 0: PL from the wire length");

	/* truncated and impossible headers */
	pkt.n = 0;
	eth(&pkt, 0x0800);
	v4tcp(0, 0);
	{
		int			bad = 0;

		for (uint32_t cut = 0; cut < 14 + 20 + 14; cut++)
		{
			memset(&p, 0, sizeof(p));
			bad += ntg_decode_packet(1, pkt.b, cut, 54, &p) != NTG_SKIP_TRUNCATED;
		}
		is_int(bad, 0, "every cut inside the Ethernet/IPv4/TCP headers is 'truncated'");
	}
	pkt.n = 0;
	v4tcp(0, 0);
	pkt.b[0] = 0x44;
	is_int(dec(101, &p), NTG_SKIP_BAD_HEADER, "IHL below 5 is a bad header");
	pkt.b[0] = 0x45;
	pkt.b[20 + 12] = 0x30;
	is_int(dec(101, &p), NTG_SKIP_BAD_HEADER, "TCP data offset below 5 is a bad header");
	pkt.b[20 + 12] = 0x50;
	pkt.b[2] = 0;
	pkt.b[3] = 30;
	is_int(dec(101, &p), NTG_SKIP_BAD_HEADER, "total length shorter than the headers is a bad header");
	pkt.b[0] = 0x75;
	is_int(dec(101, &p), NTG_SKIP_BAD_HEADER, "IP version 7 is a bad header");

	/* UDP length inconsistent with IP: the IP length decides */
	pkt.n = 0;
	ipv4(&pkt, 17, 1, 2, 8 + 40, 0);
	udp(&pkt, 1, 2, 9000);
	zeros(&pkt, 40);
	is_int(dec(101, &p), -1, "UDP with a UDP length beyond the IP packet");
	is_int(p.pl, 40, "IP length decides when the UDP length is impossible");
}

/* A ClientHello with server_name `name` (and a few other extensions around it). */
static void
client_hello(Buf *b, const char *name)
{
	Buf			ext,
				hs;
	uint16_t	nl = (uint16_t) strlen(name);

	ext.n = 0;
	put16(&ext, 0x000b);		/* ec_point_formats */
	put16(&ext, 2);
	put8(&ext, 1);
	put8(&ext, 0);
	put16(&ext, 0x0000);		/* server_name */
	put16(&ext, nl + 5);
	put16(&ext, nl + 3);
	put8(&ext, 0);
	put16(&ext, nl);
	put(&ext, name, nl);
	put16(&ext, 0x002b);		/* supported_versions */
	put16(&ext, 3);
	put8(&ext, 2);
	put16(&ext, 0x0304);

	hs.n = 0;
	put16(&hs, 0x0303);
	zeros(&hs, 32);
	put8(&hs, 32);
	zeros(&hs, 32);				/* session id */
	put16(&hs, 4);
	put16(&hs, 0x1301);
	put16(&hs, 0x1302);
	put8(&hs, 1);
	put8(&hs, 0);
	put16(&hs, (uint16_t) ext.n);
	put(&hs, ext.b, ext.n);

	b->n = 0;
	put8(b, 22);
	put16(b, 0x0301);
	put16(b, (uint16_t) (hs.n + 4));
	put8(b, 1);
	put8(b, 0);
	put16(b, (uint16_t) hs.n);
	put(b, hs.b, hs.n);
}

static void
test_sni(void)
{
	static Buf	b;
	char		name[256];
	int			wrong = 0;
	uint32_t	end;

	client_hello(&b, "www.example.org");
	is_int(ntg_tls_sni(b.b, b.n, name, sizeof(name)), 15, "SNI length");
	ok(strcmp(name, "www.example.org") == 0, "SNI value");
	/* the name ends 7 bytes before the end (supported_versions follows) */
	end = b.n - 7;
	for (uint32_t cut = 0; cut < b.n; cut++)
	{
		int			got = ntg_tls_sni(b.b, cut, name, sizeof(name));

		wrong += (cut < end) ? got != 0 : got != 15;
	}
	is_int(wrong, 0, "every cut of the ClientHello: no SNI before the name is complete, the name after");
	b.b[b.n - 10] = '\n';
	is_int(ntg_tls_sni(b.b, b.n, name, sizeof(name)), 0, "a name with a control character is refused");
	client_hello(&b, "x");
	b.b[5] = 2;					/* ServerHello */
	is_int(ntg_tls_sni(b.b, b.n, name, sizeof(name)), 0, "not a ClientHello: no SNI");
	client_hello(&b, "abcdefghij.example");
	is_int(ntg_tls_sni(b.b, b.n, name, 10), 0, "a name longer than the buffer is refused");
	b.b[0] = 23;
	is_int(ntg_tls_sni(b.b, b.n, name, sizeof(name)), 0, "application data: no SNI");
}

int
main(void)
{
	test_ethernet_family();
	test_other_links();
	test_ip_details();
	test_sni();
	return done_testing();
}
