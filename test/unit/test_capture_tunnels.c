/*
 * test_capture_tunnels.c — decapsulation (NTG_DECODE_TUNNELS, read_pcap's decapsulate): VXLAN,
 * GTP-U with and without extension headers, GRE (plain, with checksum/key/sequence, Ethernet
 * bridging, PPTP's enhanced GRE), IPv4 and IPv6 in IPv4 and IPv6; the nesting limit; bytes that
 * only look like a tunnel; and the default (outer packets, as before).
 */
#include "capture/decode.h"
#include "capture_run.h"
#include "unit.h"

static Buf	pk,
			inner,
			cap;

/* The inner packet: IPv4 TCP 10.1.1.1:40000 -> 10.1.1.2:80 with 50 payload bytes (90 bytes). */
static void
make_inner(void)
{
	inner.n = 0;
	ipv4(&inner, 6, 0x0a010101, 0x0a010102, 20 + 50, 0);
	tcp(&inner, 40000, 80, 0x18);
	zeros(&inner, 50);
}

/* Inner IPv6 TCP [2001:db8::1]:40000 -> [2001:db8::2]:443, 30 payload bytes (90 bytes). */
static void
make_inner6(void)
{
	inner.n = 0;
	ipv6(&inner, 6, 1, 2, 20 + 30);
	tcp(&inner, 40000, 443, 0x18);
	zeros(&inner, 30);
}

/* Outer Ethernet + IPv4 192.168.0.1 -> 192.168.0.2 with protocol proto and l4len bytes. */
static void
outer4(uint8_t proto, uint32_t l4len)
{
	pk.n = 0;
	eth(&pk, 0x0800);
	ipv4(&pk, proto, 0xc0a80001, 0xc0a80002, l4len, 0);
}

static void
vxlan(uint8_t flags)
{
	outer4(17, 8 + 8 + 14 + inner.n);
	udp(&pk, 55555, 4789, (uint16_t) (8 + 8 + 14 + inner.n));
	put8(&pk, flags);
	zeros(&pk, 3);
	put32(&pk, 123 << 8);
	eth(&pk, 0x0800);
	put(&pk, inner.b, inner.n);
}

static void
gtpu(uint8_t type, int ext)
{
	uint32_t	hl = 8 + (ext ? 4 + 4 : 0);

	outer4(17, 8 + hl + inner.n);
	udp(&pk, 2152, 2152, (uint16_t) (8 + hl + inner.n));
	put8(&pk, ext ? 0x34 : 0x30);
	put8(&pk, type);
	put16(&pk, (uint16_t) (hl - 8 + inner.n));
	put32(&pk, 0xdeadbeef);
	if (ext)
	{
		put16(&pk, 0);			/* sequence */
		put8(&pk, 0);			/* N-PDU */
		put8(&pk, 0x85);		/* next: PDU session container */
		put8(&pk, 1);			/* 4 bytes */
		put8(&pk, 0);
		put8(&pk, 9);
		put8(&pk, 0);			/* no more extension headers */
	}
	put(&pk, inner.b, inner.n);
}

/* GRE version 0 with the given flags (C, K, S) and protocol type. */
static void
gre(uint16_t flags, uint16_t ptype, int ethernet)
{
	uint32_t	opt = ((flags & 0x8000) ? 4 : 0) + ((flags & 0x2000) ? 4 : 0) + ((flags & 0x1000) ? 4 : 0);

	outer4(47, 4 + opt + (ethernet ? 14 : 0) + inner.n);
	put16(&pk, flags);
	put16(&pk, ptype);
	zeros(&pk, opt);
	if (ethernet)
		eth(&pk, 0x0800);
	put(&pk, inner.b, inner.n);
}

/* PPTP: enhanced GRE (version 1, key and sequence) carrying PPP. */
static void
pptp(void)
{
	outer4(47, 12 + 4 + inner.n);
	put16(&pk, 0x3001);
	put16(&pk, 0x880B);
	put16(&pk, (uint16_t) (4 + inner.n));
	put16(&pk, 7);				/* call id */
	put32(&pk, 1);				/* sequence */
	put8(&pk, 0xFF);
	put8(&pk, 0x03);
	put16(&pk, 0x0021);
	put(&pk, inner.b, inner.n);
}

static int
dec(int flags, NtgPacket *p)
{
	memset(p, 0, sizeof(*p));
	return ntg_decode_packet_ex(1, pk.b, pk.n, pk.n, flags, p);
}

static void
expect_inner(const char *what, int tunnels, uint16_t dport)
{
	NtgPacket	p;

	is_int(dec(NTG_DECODE_TUNNELS, &p), -1, "%s decapsulated", what);
	ok(p.sport == 40000 && p.dport == dport && p.protocol == 6, "%s: inner ports", what);
	ok(p.family == 4 ? (p.src[0] == 10 && p.src[3] == 1 && p.dst[3] == 2) :
	   (p.src[15] == 1 && p.dst[15] == 2), "%s: inner addresses", what);
	ok(p.ip_bytes == 90 && p.pl == (p.family == 4 ? 50 : 30), "%s: inner IP bytes and PL", what);
	is_int(p.tunnels, tunnels, "%s: tunnels entered", what);
}

static void
test_each(void)
{
	NtgPacket	p;

	make_inner();
	vxlan(0x08);
	expect_inner("VXLAN", 1, 80);
	is_int(dec(0, &p), -1, "VXLAN without decapsulation decodes");
	ok(p.dport == 4789 && p.protocol == 17 && p.tunnels == 0, "VXLAN without decapsulation: the outer UDP");
	vxlan(0x00);
	is_int(dec(NTG_DECODE_TUNNELS, &p), -1, "UDP to 4789 without the VXLAN I flag decodes");
	is_int(p.dport, 4789, "UDP to 4789 without the VXLAN I flag stays outer");

	gtpu(0xFF, 0);
	expect_inner("GTP-U", 1, 80);
	gtpu(0xFF, 1);
	expect_inner("GTP-U with an extension header", 1, 80);
	gtpu(0x01, 0);
	is_int(dec(NTG_DECODE_TUNNELS, &p), -1, "GTP-U echo request decodes");
	is_int(p.dport, 2152, "GTP-U other than a G-PDU stays outer");
	gtpu(0xFF, 1);
	pk.b[14 + 20 + 8 + 12] = 0;	/* extension header length 0 */
	is_int(dec(NTG_DECODE_TUNNELS, &p), NTG_SKIP_BAD_HEADER, "GTP-U extension of length 0 is a bad header");
	gtpu(0xFF, 1);
	is_int(ntg_decode_packet_ex(1, pk.b, 14 + 20 + 8 + 13, pk.n, NTG_DECODE_TUNNELS, &p),
		   NTG_SKIP_TRUNCATED, "GTP-U cut in its extension header is truncated");

	gre(0x0000, 0x0800, 0);
	expect_inner("GRE", 1, 80);
	is_int(dec(0, &p), NTG_SKIP_NON_TCP_UDP, "GRE without decapsulation is non-TCP/UDP");
	gre(0xB000, 0x0800, 0);
	expect_inner("GRE with checksum, key and sequence", 1, 80);
	gre(0x2000, 0x6558, 1);
	expect_inner("GRE with Ethernet bridging", 1, 80);
	gre(0x4000, 0x0800, 0);
	is_int(dec(NTG_DECODE_TUNNELS, &p), NTG_SKIP_NON_TCP_UDP, "GRE with source routing is not entered");
	gre(0x0000, 0x0806, 0);
	is_int(dec(NTG_DECODE_TUNNELS, &p), NTG_SKIP_NON_IP, "GRE carrying ARP is non-IP");
	pptp();
	expect_inner("PPTP (enhanced GRE, PPP)", 1, 80);

	outer4(4, inner.n);
	put(&pk, inner.b, inner.n);
	expect_inner("IPv4 in IPv4", 1, 80);
	is_int(dec(0, &p), NTG_SKIP_NON_TCP_UDP, "IPv4 in IPv4 without decapsulation");

	make_inner6();
	outer4(41, inner.n);
	put(&pk, inner.b, inner.n);
	expect_inner("IPv6 in IPv4", 1, 443);
	pk.n = 0;
	eth(&pk, 0x86DD);
	ipv6(&pk, 41, 7, 8, inner.n);
	put(&pk, inner.b, inner.n);
	expect_inner("IPv6 in IPv6", 1, 443);
	make_inner();
	pk.n = 0;
	eth(&pk, 0x86DD);
	ipv6(&pk, 4, 7, 8, inner.n);
	put(&pk, inner.b, inner.n);
	expect_inner("IPv4 in IPv6", 1, 80);
	make_inner6();
	gre(0x0000, 0x86DD, 0);
	expect_inner("IPv6 in GRE", 1, 443);

	/* inner ICMP is what the packet is: non-TCP/UDP */
	inner.n = 0;
	ipv4(&inner, 1, 0x0a010101, 0x0a010102, 64, 0);
	zeros(&inner, 64);
	vxlan(0x08);
	is_int(dec(NTG_DECODE_TUNNELS, &p), NTG_SKIP_NON_TCP_UDP, "ICMP inside VXLAN is non-TCP/UDP");
}

/* IP-in-IP nested `depth` times around the inner packet. */
static void
nested(int depth)
{
	Buf			tmp;

	make_inner();
	for (int i = 0; i < depth; i++)
	{
		tmp.n = 0;
		ipv4(&tmp, 4, 0xc0a80001 + i, 0xc0a80101 + i, inner.n, 0);
		put(&tmp, inner.b, inner.n);
		inner = tmp;
	}
	pk.n = 0;
	eth(&pk, 0x0800);
	put(&pk, inner.b, inner.n);
}

static void
test_depth(void)
{
	NtgPacket	p;

	nested(NTG_TUNNEL_MAX_DEPTH);
	is_int(dec(NTG_DECODE_TUNNELS, &p), -1, "%d nested tunnels entered", NTG_TUNNEL_MAX_DEPTH);
	is_int(p.tunnels, NTG_TUNNEL_MAX_DEPTH, "all of them");
	nested(NTG_TUNNEL_MAX_DEPTH + 1);
	is_int(dec(NTG_DECODE_TUNNELS, &p), NTG_SKIP_NON_TCP_UDP, "one more is not entered");
}

/* A capture of VXLAN both ways: two one-way outer biflows, or one inner biflow. */
static void
test_capture(void)
{
	NtgCaptureOptions o;
	NtgCaptureStats st;
	NtgError	err = {0};
	static Seen s;

	cap.n = 0;
	pcap_header(&cap, 1);
	make_inner();
	vxlan(0x08);
	rec(&cap, 100, 0, &pk);
	/* the answer, in a VXLAN packet with another outer source port */
	inner.n = 0;
	ipv4(&inner, 6, 0x0a010102, 0x0a010101, 20 + 10, 0);
	tcp(&inner, 80, 40000, 0x18);
	zeros(&inner, 10);
	vxlan(0x08);
	pk.b[14 + 12 + 3] = 2;		/* outer source 192.168.0.2 */
	pk.b[14 + 16 + 3] = 1;
	pk.b[14 + 20 + 1] = 0x77;	/* outer source port */
	rec(&cap, 100, 1, &pk);
	ntg_capture_default_options(&o);
	is_int(run_buf(&cap, &o, &s, &st, &err), NTG_OK, "VXLAN capture");
	ok(s.n == 2 && s.f[0].srv_port == 4789 && s.f[1].srv_port == 4789,
	   "default: two one-way outer UDP biflows");
	o.decapsulate = true;
	is_int(run_buf(&cap, &o, &s, &st, &err), NTG_OK, "VXLAN capture, decapsulated");
	ok(s.n == 1 && s.f[0].protocol == 6 && s.f[0].cli_port == 40000 && s.f[0].srv_port == 80,
	   "decapsulated: one inner TCP biflow");
	ok(s.f[0].packets[0] == 1 && s.f[0].packets[1] == 1 && s.f[0].bytes[0] == 90 &&
	   s.f[0].bytes[1] == 50, "decapsulated: inner packets and IP bytes per direction");
	ok(s.f[0].npl == 2 && s.pl[0][0] == 50 && s.pl[0][1] == -10, "decapsulated: inner PLs");
}

int
main(void)
{
	test_each();
	test_depth();
	test_capture();
	return done_testing();
}
