/*
 * test_capture_fragments.c — IP fragments attributed to their datagram's biflow: IPv4 and IPv6,
 * UDP (the UDP length gives the datagram's PL) and TCP (the fragments' bytes add up to one PL),
 * in order and out of order, a lost first fragment, the fragment timeout, a biflow that ended
 * before its datagram's last fragment, and the bound on remembered datagrams.
 */
#include "capture/decode.h"
#include "capture/fragtab.h"
#include "capture_run.h"
#include "unit.h"

static Buf	cap,
			pk;

/* IPv4 fragment [off, off + len) of a UDP datagram 10.0.0.1:5000 -> 10.0.0.2:53 carrying
 * `payload` bytes (8 + payload fragmentable bytes). */
static void
udp4_frag(uint16_t id, uint32_t payload, uint32_t off, uint32_t len, int more)
{
	pk.n = 0;
	eth(&pk, 0x0800);
	ipv4_id(&pk, 17, 0x0a000001, 0x0a000002, len, id, frag4(off, more));
	if (off == 0)
	{
		udp(&pk, 5000, 53, (uint16_t) (8 + payload));
		zeros(&pk, len - 8);
	}
	else
		zeros(&pk, len);
}

/* The server's answer: one unfragmented datagram of `payload` bytes. */
static void
udp4_reply(uint32_t payload)
{
	pk.n = 0;
	eth(&pk, 0x0800);
	ipv4(&pk, 17, 0x0a000002, 0x0a000001, 8 + payload, 0);
	udp(&pk, 53, 5000, (uint16_t) (8 + payload));
	zeros(&pk, payload);
}

/* IPv4 fragment of a TCP segment 10.0.0.1:40000 -> 10.0.0.2:80 (20-byte header + payload). */
static void
tcp4_frag(uint16_t id, uint32_t off, uint32_t len, int more)
{
	pk.n = 0;
	eth(&pk, 0x0800);
	ipv4_id(&pk, 6, 0x0a000001, 0x0a000002, len, id, frag4(off, more));
	if (off == 0)
	{
		tcp(&pk, 40000, 80, 0x18);
		zeros(&pk, len - 20);
	}
	else
		zeros(&pk, len);
}

/* IPv6 fragment of a UDP datagram ::1:5000 -> ::2:53 with `payload` bytes. */
static void
udp6_frag(uint32_t id, uint32_t payload, uint32_t off, uint32_t len, int more)
{
	pk.n = 0;
	eth(&pk, 0x86DD);
	ipv6(&pk, 44, 1, 2, 8 + len);
	frag6(&pk, 17, off, more, id);
	if (off == 0)
	{
		udp(&pk, 5000, 53, (uint16_t) (8 + payload));
		zeros(&pk, len - 8);
	}
	else
		zeros(&pk, len);
}

static void
test_decode(void)
{
	NtgPacket	p;

	udp4_frag(77, 3000, 1480, 1480, 1);
	memset(&p, 0, sizeof(p));
	is_int(ntg_decode_packet(1, pk.b, pk.n, pk.n, &p), NTG_SKIP_FRAGMENT, "IPv4 later fragment");
	ok(p.frag == NTG_FRAG_LATER && p.frag_id == 77 && p.frag_offset == 1480 && p.frag_more &&
	   p.frag_len == 1480, "its identification, offset, length and more flag");
	ok(p.family == 4 && p.protocol == 17 && p.src[3] == 1 && p.dst[3] == 2 && p.ip_bytes == 1500,
	   "its addresses, protocol and IP bytes");
	udp4_frag(77, 3000, 0, 1480, 1);
	is_int(ntg_decode_packet(1, pk.b, pk.n, pk.n, &p), -1, "IPv4 first fragment decodes");
	ok(p.frag == NTG_FRAG_FIRST && p.pl == 3000 && p.frag_len == 1480,
	   "first fragment: the UDP length gives the datagram's PL");
	udp6_frag(0xabcdef01, 2000, 1232, 776, 0);
	is_int(ntg_decode_packet(1, pk.b, pk.n, pk.n, &p), NTG_SKIP_FRAGMENT, "IPv6 later fragment");
	ok(p.frag == NTG_FRAG_LATER && p.frag_id == 0xabcdef01 && p.frag_offset == 1232 &&
	   !p.frag_more && p.frag_len == 776 && p.protocol == 17 && p.ip_bytes == 824,
	   "IPv6 fragment header read");
	/* offset 0 without more fragments: an atomic fragment is a whole datagram */
	udp6_frag(5, 100, 0, 108, 0);
	is_int(ntg_decode_packet(1, pk.b, pk.n, pk.n, &p), -1, "IPv6 atomic fragment decodes");
	is_int(p.frag, NTG_FRAG_NONE, "an atomic fragment is no fragment");
}

static void
check_udp_flow(const Seen *s, const NtgCaptureStats *st, const char *what)
{
	is_int(s->n, 1, "%s: one biflow", what);
	is_int(s->f[0].packets[0], 3, "%s: all three fragments counted", what);
	is_int(s->f[0].bytes[0], 1500 + 1500 + 68, "%s: IP bytes of all fragments", what);
	is_int(s->f[0].payload_bytes[0], 3000, "%s: payload bytes once", what);
	is_int(s->f[0].npl, 2, "%s: the datagram is one PL value", what);
	is_int(s->pl[0][0], 3000, "%s: PL of the whole datagram", what);
	is_int(s->pl[0][1], -20, "%s: then the reply", what);
	is_int(s->f[0].payload_packets, 2, "%s: two payload packets", what);
	is_int(st->fragments, 2, "%s: two later fragments attributed", what);
	is_int(st->skipped[NTG_SKIP_FRAGMENT], 0, "%s: none skipped", what);
	ok(accounted(st), "%s: every packet accounted for", what);
}

static void
test_udp(void)
{
	NtgCaptureOptions o;
	NtgCaptureStats st;
	NtgError	err = {0};
	static Seen s;

	ntg_capture_default_options(&o);
	cap.n = 0;
	pcap_header(&cap, 1);
	udp4_frag(9, 3000, 0, 1480, 1);
	rec(&cap, 100, 0, &pk);
	udp4_frag(9, 3000, 1480, 1480, 1);
	rec(&cap, 100, 1, &pk);
	udp4_frag(9, 3000, 2960, 48, 0);
	rec(&cap, 100, 2, &pk);
	udp4_reply(20);
	rec(&cap, 100, 3, &pk);
	is_int(run_buf(&cap, &o, &s, &st, &err), NTG_OK, "fragmented UDP in order");
	check_udp_flow(&s, &st, "in order");

	/* the last fragment first, the first fragment last */
	cap.n = 0;
	pcap_header(&cap, 1);
	udp4_frag(9, 3000, 2960, 48, 0);
	rec(&cap, 100, 0, &pk);
	udp4_frag(9, 3000, 1480, 1480, 1);
	rec(&cap, 100, 1, &pk);
	udp4_frag(9, 3000, 0, 1480, 1);
	rec(&cap, 100, 2, &pk);
	udp4_reply(20);
	rec(&cap, 100, 3, &pk);
	is_int(run_buf(&cap, &o, &s, &st, &err), NTG_OK, "fragmented UDP out of order");
	check_udp_flow(&s, &st, "out of order");
	is_int(s.f[0].first_ns, 100 * SEC, "out of order: first_seen is the earliest fragment");

	/* the first fragment lost: the later ones cannot be attributed */
	cap.n = 0;
	pcap_header(&cap, 1);
	udp4_frag(9, 3000, 1480, 1480, 1);
	rec(&cap, 100, 1, &pk);
	udp4_frag(9, 3000, 2960, 48, 0);
	rec(&cap, 100, 2, &pk);
	is_int(run_buf(&cap, &o, &s, &st, &err), NTG_OK, "fragments without their first one");
	is_int(s.n, 0, "no biflow");
	is_int(st.skipped[NTG_SKIP_FRAGMENT], 2, "both skipped as fragments");
	ok(accounted(&st), "every packet accounted for");

	/* the datagram is forgotten after the fragment timeout (30 s) */
	cap.n = 0;
	pcap_header(&cap, 1);
	udp4_frag(9, 3000, 0, 1480, 1);
	rec(&cap, 100, 0, &pk);
	udp4_frag(9, 3000, 1480, 1480, 1);
	rec(&cap, 140, 0, &pk);
	o.idle_timeout = 0;
	is_int(run_buf(&cap, &o, &s, &st, &err), NTG_OK, "a fragment after the fragment timeout");
	is_int(s.f[0].packets[0], 1, "it is not attributed");
	is_int(st.skipped[NTG_SKIP_FRAGMENT], 1, "it is skipped");

	/* the biflow ends (idle timeout) before the datagram's last fragment comes */
	cap.n = 0;
	pcap_header(&cap, 1);
	udp4_frag(9, 3000, 0, 1480, 1);
	rec(&cap, 100, 0, &pk);
	udp4_frag(9, 3000, 1480, 1480, 1);
	rec(&cap, 105, 0, &pk);
	o.idle_timeout = 1;
	is_int(run_buf(&cap, &o, &s, &st, &err), NTG_OK, "a fragment after its biflow ended");
	ok(s.n == 1 && s.f[0].packets[0] == 1, "the ended biflow keeps its first fragment only");
	is_int(st.skipped[NTG_SKIP_FRAGMENT], 1, "the late fragment is skipped");
	ok(accounted(&st), "every packet accounted for");
}

static void
test_tcp(void)
{
	NtgCaptureOptions o;
	NtgCaptureStats st;
	NtgError	err = {0};
	static Seen s;

	ntg_capture_default_options(&o);
	for (int order = 0; order < 2; order++)
	{
		const char *what = order ? "TCP, last fragment first" : "TCP, in order";

		cap.n = 0;
		pcap_header(&cap, 1);
		if (order)
		{
			tcp4_frag(3, 1480, 540, 0);
			rec(&cap, 100, 0, &pk);
		}
		tcp4_frag(3, 0, 1480, 1);
		rec(&cap, 100, 1, &pk);
		if (!order)
		{
			tcp4_frag(3, 1480, 540, 0);
			rec(&cap, 100, 2, &pk);
		}
		is_int(run_buf(&cap, &o, &s, &st, &err), NTG_OK, "%s imports", what);
		is_int(s.n, 1, "%s: one biflow", what);
		is_int(s.f[0].packets[0], 2, "%s: both fragments counted", what);
		is_int(s.f[0].bytes[0], 1500 + 560, "%s: IP bytes", what);
		is_int(s.f[0].npl, 1, "%s: one PL value", what);
		is_int(s.pl[0][0], 2000, "%s: the segment's whole payload", what);
		is_int(s.f[0].payload_bytes[0], 2000, "%s: payload bytes", what);
		is_int(s.f[0].cli_port, 40000, "%s: client from the first fragment's ports", what);
	}
}

static void
test_ipv6(void)
{
	NtgCaptureOptions o;
	NtgCaptureStats st;
	NtgError	err = {0};
	static Seen s;

	ntg_capture_default_options(&o);
	cap.n = 0;
	pcap_header(&cap, 1);
	udp6_frag(0x10203, 2000, 0, 1232, 1);
	rec(&cap, 100, 0, &pk);
	udp6_frag(0x10203, 2000, 1232, 776, 0);
	rec(&cap, 100, 1, &pk);
	/* another datagram with another identification: its first fragment is missing */
	udp6_frag(0x10204, 2000, 1232, 776, 0);
	rec(&cap, 100, 2, &pk);
	is_int(run_buf(&cap, &o, &s, &st, &err), NTG_OK, "fragmented IPv6 UDP");
	is_int(s.n, 1, "IPv6: one biflow");
	is_int(s.f[0].family, 6, "IPv6: family");
	is_int(s.f[0].packets[0], 2, "IPv6: both fragments of the datagram");
	is_int(s.f[0].bytes[0], 1280 + 824, "IPv6: IP bytes");
	ok(s.f[0].npl == 1 && s.pl[0][0] == 2000, "IPv6: one PL of the whole datagram");
	is_int(st.skipped[NTG_SKIP_FRAGMENT], 1, "IPv6: the other datagram's fragment skipped");
	ok(accounted(&st), "IPv6: every packet accounted for");
}

/* More datagrams waiting for their first fragment than the table remembers. */
static void
test_bound(void)
{
	NtgCaptureOptions o;
	NtgCaptureStats st;
	NtgFlowTable *t;
	NtgFragTable *ft;
	NtgPacket	p;
	int			n = NTG_FRAG_MAX + 3616;

	ntg_capture_default_options(&o);
	memset(&st, 0, sizeof(st));
	t = ntg_flowtab_create(&o, NULL, NULL);
	ft = ntg_fragtab_create(t, &st);
	for (int i = 0; i < n; i++)
	{
		udp4_frag((uint16_t) i, 3000, 1480, 1480, 1);
		pk.b[14 + 15] = (uint8_t) (i >> 16);	/* another source address past 65,536 ids */
		memset(&p, 0, sizeof(p));
		ntg_decode_packet(1, pk.b, pk.n, pk.n, &p);
		ntg_fragtab_later(ft, &p, 100 * SEC + i);
	}
	is_int(ntg_fragtab_pending(ft), NTG_FRAG_MAX, "at most NTG_FRAG_MAX datagrams remembered");
	is_int(st.skipped[NTG_SKIP_FRAGMENT], n - NTG_FRAG_MAX, "the oldest forgotten, skipped");
	ntg_fragtab_finish(ft);
	is_int(st.skipped[NTG_SKIP_FRAGMENT], n, "at the end every waiting fragment is skipped");
	ntg_fragtab_destroy(ft);
	ntg_flowtab_destroy(t);
}

int
main(void)
{
	test_decode();
	test_udp();
	test_tcp();
	test_ipv6();
	test_bound();
	return done_testing();
}
