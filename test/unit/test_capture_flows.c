/*
 * test_capture_flows.c — the biflow table (client, signs, N, timeouts, order) and whole
 * captures in memory: pcap and pcapng (two interfaces with different link types, nanosecond
 * resolution, two sections), damaged captures, and every truncation and random corruption of a
 * small capture fed through the reader (must not crash; run under valgrind/ASan to see more).
 */
#include <stdlib.h>

#include "capture/capture.h"
#include "capture/flowtab.h"
#include "capture_build.h"
#include "common/rng.h"
#include "unit.h"

#define MAXF 64

typedef struct Seen
{
	int			n;
	NtgBiflow	f[MAXF];
	int32_t		pl[MAXF][16];
	char		sni[MAXF][64];
} Seen;

static int
collect(const NtgBiflow *f, void *arg)
{
	Seen	   *s = arg;

	if (s->n < MAXF)
	{
		s->f[s->n] = *f;
		memcpy(s->pl[s->n], f->pl, sizeof(int32_t) * (f->npl < 16 ? f->npl : 16));
		s->f[s->n].pl = s->pl[s->n];
		snprintf(s->sni[s->n], 64, "%s", f->sni ? f->sni : "");
	}
	s->n++;
	return 0;
}

static NtgPacket
mk(uint8_t a, uint16_t pa, uint8_t b, uint16_t pb, uint8_t flags, int32_t pl)
{
	NtgPacket	p;

	memset(&p, 0, sizeof(p));
	p.family = 4;
	p.protocol = 6;
	p.src[0] = 10;
	p.src[3] = a;
	p.dst[0] = 10;
	p.dst[3] = b;
	p.sport = pa;
	p.dport = pb;
	p.tcp_flags = flags;
	p.pl = pl;
	p.ip_bytes = 40 + pl;
	return p;
}

#define SEC 1000000000LL

static void
test_table(void)
{
	NtgCaptureOptions o;
	NtgFlowTable *t;
	static Seen s;
	NtgPacket	p;

	ntg_capture_default_options(&o);
	o.n = 3;
	memset(&s, 0, sizeof(s));
	t = ntg_flowtab_create(&o, collect, &s);
	/* flow 1: a normal handshake, client 10.0.0.1 */
	p = mk(1, 5000, 2, 80, 0x02, 0);
	ntg_flowtab_add(t, &p, 1 * SEC);
	p = mk(2, 80, 1, 5000, 0x12, 0);
	ntg_flowtab_add(t, &p, 1 * SEC + 1);
	p = mk(1, 5000, 2, 80, 0x18, 100);
	ntg_flowtab_add(t, &p, 2 * SEC);
	p = mk(2, 80, 1, 5000, 0x18, 1400);
	ntg_flowtab_add(t, &p, 3 * SEC);
	p = mk(2, 80, 1, 5000, 0x18, 40000);
	ntg_flowtab_add(t, &p, 4 * SEC);
	p = mk(1, 5000, 2, 80, 0x18, 5);	/* beyond N = 3 */
	ntg_flowtab_add(t, &p, 5 * SEC);
	/* flow 2: the capture starts with the server's SYN+ACK */
	p = mk(3, 443, 4, 6000, 0x12, 0);
	ntg_flowtab_add(t, &p, 6 * SEC);
	p = mk(3, 443, 4, 6000, 0x18, 50);
	ntg_flowtab_add(t, &p, 7 * SEC);
	is_int(ntg_flowtab_live(t), 2, "two live flows");
	ntg_flowtab_flush(t);
	is_int(s.n, 2, "flush emits both");
	is_int(s.f[0].cli_addr[3], 1, "client = sender of the first packet");
	is_int(s.f[0].srv_port, 80, "server port");
	is_int(s.f[0].npl, 3, "only the first N payload lengths");
	ok(s.pl[0][0] == 100 && s.pl[0][1] == -1400 && s.pl[0][2] == -40000, "signs: + up, - down");
	is_int(s.f[0].packets[0], 3, "packets up");
	is_int(s.f[0].packets[1], 3, "packets down");
	is_int(s.f[0].payload_packets, 4, "payload packets counts beyond N");
	is_int(s.f[0].payload_bytes[1], 41400, "payload bytes down");
	is_int(s.f[0].bytes[0], 40 + 140 + 45, "IP bytes up");
	is_int(s.f[0].first_ns, 1 * SEC, "first timestamp");
	is_int(s.f[0].last_ns, 5 * SEC, "last timestamp");
	is_int(s.f[1].cli_addr[3], 4, "first packet a SYN+ACK: client is its receiver");
	is_int(s.f[1].cli_port, 6000, "client port after SYN+ACK");
	is_int(s.pl[1][0], -50, "server payload is negative");
	is_int(ntg_flowtab_pl_over_smallint(t), 1, "one PL beyond smallint counted");
	ntg_flowtab_destroy(t);

	/* idle timeout 10 s: a gap of 10 s starts a new flow; timed-out flows emitted as they go */
	ntg_capture_default_options(&o);
	o.idle_timeout = 10;
	o.active_timeout = 25;
	memset(&s, 0, sizeof(s));
	t = ntg_flowtab_create(&o, collect, &s);
	p = mk(1, 1, 2, 2, 0, 10);
	ntg_flowtab_add(t, &p, 0);
	ntg_flowtab_add(t, &p, 9 * SEC);
	is_int(s.n, 0, "9.999 s gap: same flow");
	ntg_flowtab_add(t, &p, 19 * SEC);
	is_int(s.n, 1, "10 s gap: the old flow is emitted at once");
	is_int(s.f[0].packets[0], 2, "expired flow had two packets");
	for (int i = 1; i <= 4; i++)
		ntg_flowtab_add(t, &p, (19 + 5 * i) * SEC);	/* 24, 29, 34, 39: active 25 s from 19 */
	is_int(s.n, 1, "24 s after its start: still one flow");
	p = mk(5, 1, 6, 2, 0, 1);
	ntg_flowtab_add(t, &p, 44 * SEC);
	is_int(s.n, 2, "active timeout expires a busy flow 25 s after its first packet");
	is_int(s.f[1].packets[0], 5, "the busy flow had five packets");
	is_int(ntg_flowtab_live(t), 1, "memory: one live flow left");
	ntg_flowtab_destroy(t);

	/* timeouts off: one flow over a long time */
	o.idle_timeout = 0;
	o.active_timeout = 0;
	memset(&s, 0, sizeof(s));
	t = ntg_flowtab_create(&o, collect, &s);
	p = mk(1, 1, 2, 2, 0, 10);
	for (int i = 0; i < 5; i++)
		ntg_flowtab_add(t, &p, (int64_t) i * 100000 * SEC);
	ntg_flowtab_flush(t);
	is_int(s.n, 1, "timeouts off: one flow across days");
	ntg_flowtab_destroy(t);

	/* many flows: the table grows and keeps them all */
	memset(&s, 0, sizeof(s));
	t = ntg_flowtab_create(&o, collect, &s);
	for (int i = 0; i < 5000; i++)
	{
		p = mk(1, (uint16_t) (1000 + i), 2, 80, 0x02, 0);
		ntg_flowtab_add(t, &p, i);
		p = mk(2, 80, 1, (uint16_t) (1000 + i), 0x12, 0);
		ntg_flowtab_add(t, &p, i);
	}
	is_int(ntg_flowtab_live(t), 5000, "5000 flows after growing the table");
	ntg_flowtab_flush(t);
	is_int(s.n, 5000, "5000 flows emitted");
	is_int(s.f[0].cli_port, 1000, "emitted in the order the flows began");
	ntg_flowtab_destroy(t);
}

/* A small capture: a TCP exchange with a ClientHello and a DNS exchange over two interfaces. */
static Buf	cap;

static void
tcp_packet(Buf *b, int link, uint8_t a, uint8_t bb, uint16_t pa, uint16_t pb, uint8_t flags,
		   const uint8_t *payload, uint32_t pl)
{
	b->n = 0;
	if (link == 1)
		eth(b, 0x0800);
	else if (link == 276)
	{
		put16(b, 0x0800);
		zeros(b, 18);
	}
	ipv4(b, 6, 0x0a000000 | a, 0x0a000000 | bb, 20 + pl, 0);
	tcp(b, pa, pb, flags);
	if (payload)
		put(b, payload, pl);
	else
		zeros(b, pl);
}

static void
build_pcap(void)
{
	static Buf	p;
	static Buf	hello;

	/* TLS record + ClientHello with only a server_name extension "ntg1" */
	hello.n = 0;
	put8(&hello, 22);
	put16(&hello, 0x0301);
	put16(&hello, 60);
	put8(&hello, 1);
	put8(&hello, 0);
	put16(&hello, 56);
	put16(&hello, 0x0303);
	zeros(&hello, 32);
	put8(&hello, 0);
	put16(&hello, 2);
	put16(&hello, 0x1301);
	put8(&hello, 1);
	put8(&hello, 0);
	put16(&hello, 13);
	put16(&hello, 0);
	put16(&hello, 9);
	put16(&hello, 7);
	put8(&hello, 0);
	put16(&hello, 4);
	put(&hello, "ntg1", 4);

	cap.n = 0;
	pcap_header(&cap, 1);
	tcp_packet(&p, 1, 1, 2, 5000, 443, 0x02, NULL, 0);
	pcap_record(&cap, 100, 0, &p, 0);
	tcp_packet(&p, 1, 2, 1, 443, 5000, 0x12, NULL, 0);
	pcap_record(&cap, 100, 10, &p, 0);
	tcp_packet(&p, 1, 1, 2, 5000, 443, 0x18, hello.b, hello.n);
	pcap_record(&cap, 100, 20, &p, 0);
	tcp_packet(&p, 1, 2, 1, 443, 5000, 0x18, NULL, 1200);
	pcap_record(&cap, 100, 30, &p, 0);
	p.n = 0;
	eth(&p, 0x0800);
	ipv4(&p, 17, 0x0a000001, 0x0a000003, 8 + 30, 0);
	udp(&p, 3333, 53, 8 + 30);
	zeros(&p, 30);
	pcap_record(&cap, 101, 0, &p, 0);
	p.n = 0;
	eth(&p, 0x0806);
	zeros(&p, 28);
	pcap_record(&cap, 102, 0, &p, 0);
}

static int
run_capture(const Buf *b, const NtgCaptureOptions *o, Seen *s, NtgCaptureStats *st, NtgError *err)
{
	NtgCaptureReader *r;
	int			rc;

	memset(s, 0, sizeof(*s));
	ntg_error_clear(err);
	rc = ntg_capture_open_memory(b->b, b->n, &r, err);
	if (rc == NTG_OK)
		rc = ntg_capture_run(r, o, collect, s, st, err);
	ntg_capture_close(r);
	return rc;
}

static void
test_pcap(void)
{
	NtgCaptureOptions o;
	NtgCaptureStats st;
	NtgError	err = {0};
	static Seen s;

	ntg_capture_default_options(&o);
	build_pcap();
	is_int(run_capture(&cap, &o, &s, &st, &err), NTG_OK, "pcap in memory imports");
	is_int(st.packets, 6, "six packets read");
	is_int(st.packets_attributed, 5, "five in biflows");
	is_int(st.skipped[NTG_SKIP_NON_IP], 1, "ARP skipped as non-IP");
	is_int(s.n, 2, "two biflows");
	ok(strcmp(s.sni[0], "ntg1") == 0, "SNI from the ClientHello");
	is_int(s.pl[0][1], -1200, "downstream PL");
	is_int(s.f[0].first_ns, 100 * SEC, "microsecond timestamps become nanoseconds");
	is_int(s.f[1].protocol, 17, "UDP biflow");
	ok(!st.damaged, "not damaged");
	ok(strcmp(st.format, "pcap") == 0, "format pcap");

	o.filter = "udp";
	is_int(run_capture(&cap, &o, &s, &st, &err), NTG_OK, "filter 'udp'");
	is_int(s.n, 1, "filter keeps one biflow");
	is_int(st.skipped[NTG_SKIP_FILTERED], 5, "five packets filtered");
	o.filter = "udp and and";
	is_int(run_capture(&cap, &o, &s, &st, &err), NTG_ERR_INVALID_ARG, "bad filter is an error");
	ok(strstr(err.msg, "invalid capture filter") != NULL, "bad filter message: %s", err.msg);
	o.filter = NULL;

	/* cut inside the last record: the first five packets stay */
	cap.n -= 10;
	is_int(run_capture(&cap, &o, &s, &st, &err), NTG_OK, "cut capture imports");
	ok(st.damaged, "cut capture is reported damaged");
	is_int(st.packets, 5, "packets before the cut");
	ok(strstr(st.damage, "byte offset") != NULL, "damage says where: %s", st.damage);

	cap.n = 0;
	is_int(run_capture(&cap, &o, &s, &st, &err), NTG_ERR_BAD_FORMAT, "empty data is an error");
	memcpy(cap.b, "hello world, not a capture", 26);
	cap.n = 26;
	is_int(run_capture(&cap, &o, &s, &st, &err), NTG_ERR_BAD_FORMAT, "text is not a capture");
	cap.n = 0;
	pcap_header(&cap, 127);
	is_int(run_capture(&cap, &o, &s, &st, &err), NTG_ERR_UNSUPPORTED, "radiotap is unsupported");
	ok(strstr(err.msg, "IEEE802_11_RADIO") != NULL, "the error names the link type: %s", err.msg);
}

static void
build_pcapng(void)
{
	static Buf	p;

	cap.n = 0;
	pcapng_shb(&cap);
	pcapng_idb(&cap, 1, 9);		/* Ethernet, nanoseconds */
	pcapng_idb(&cap, 276, 6);	/* Linux SLL2, microseconds */
	tcp_packet(&p, 1, 1, 2, 7000, 80, 0x02, NULL, 0);
	pcapng_epb(&cap, 0, 5 * SEC + 123, &p);
	tcp_packet(&p, 276, 2, 1, 80, 7000, 0x12, NULL, 0);
	pcapng_epb(&cap, 1, 5000001, &p);
	tcp_packet(&p, 1, 1, 2, 7000, 80, 0x18, NULL, 77);
	pcapng_epb(&cap, 0, 6 * SEC, &p);
	/* a second section with its own interface (raw IP) */
	pcapng_shb(&cap);
	pcapng_idb(&cap, 101, 6);
	tcp_packet(&p, 0, 9, 8, 1, 2, 0x18, NULL, 3);
	pcapng_epb(&cap, 0, 7000000, &p);
}

static void
test_pcapng(void)
{
	NtgCaptureOptions o;
	NtgCaptureStats st;
	NtgError	err = {0};
	static Seen s;
	uint32_t	full;

	ntg_capture_default_options(&o);
	build_pcapng();
	full = cap.n;
	is_int(run_capture(&cap, &o, &s, &st, &err), NTG_OK, "pcapng with two interfaces and two sections");
	is_int(st.packets_attributed, 4, "every packet decoded with its interface's link type");
	is_int(s.n, 2, "two biflows");
	is_int(s.f[0].packets[1], 1, "SYN+ACK on the SLL2 interface joins the Ethernet flow");
	is_int(s.f[0].first_ns, 5 * SEC + 123, "if_tsresol 9: nanoseconds");
	is_int(s.pl[0][0], 77, "PL in pcapng");
	is_int(s.f[1].cli_addr[3], 9, "flow of the second section");
	ok(strcmp(st.format, "pcapng") == 0, "format pcapng");

	o.filter = "tcp port 80";
	is_int(run_capture(&cap, &o, &s, &st, &err), NTG_OK, "filter over three link types");
	is_int(s.n, 1, "filter per link type keeps the port-80 flow");
	o.filter = NULL;

	cap.n = full - 6;
	is_int(run_capture(&cap, &o, &s, &st, &err), NTG_OK, "cut pcapng imports");
	ok(st.damaged && st.packets == 3, "cut pcapng: damaged after three packets");
	cap.n = full;
	cap.b[full - 1] ^= 0x40;	/* trailer length differs from the header */
	is_int(run_capture(&cap, &o, &s, &st, &err), NTG_OK, "bad trailer imports what came before");
	ok(st.damaged && strstr(st.damage, "trailer") != NULL, "bad trailer reported: %s", st.damage);
	cap.b[full - 1] ^= 0x40;
	cap.b[28 + 8] = 0xE3;		/* unknown link type 227 on interface 0 */
	cap.b[28 + 9] = 0;
	is_int(run_capture(&cap, &o, &s, &st, &err), NTG_OK, "an unsupported interface is skipped");
	is_int(st.skipped[NTG_SKIP_UNSUPPORTED_LINK], 2, "its packets are counted");
}

/* Every truncation and many random corruptions of both captures: no crash, no hang. */
static void
test_fuzz(void)
{
	NtgCaptureOptions o;
	NtgCaptureStats st;
	NtgError	err = {0};
	static Seen s;
	static Buf	orig;
	NtgRng		rng;
	int			crashes = 0;

	ntg_capture_default_options(&o);
	ntg_rng_seed(&rng, 2026);
	for (int kind = 0; kind < 2; kind++)
	{
		int			runs = 0;

		if (kind == 0)
			build_pcap();
		else
			build_pcapng();
		orig = cap;
		for (uint32_t cut = 0; cut <= orig.n; cut++)
		{
			cap.n = cut;
			run_capture(&cap, &o, &s, &st, &err);
			runs++;
		}
		for (int i = 0; i < 3000; i++)
		{
			int			flips = 1 + (int) ntg_rng_below(&rng, 8);

			memcpy(cap.b, orig.b, orig.n);
			cap.n = orig.n;
			for (int k = 0; k < flips; k++)
				cap.b[ntg_rng_below(&rng, orig.n)] = (uint8_t) ntg_rng_u64(&rng);
			if (run_capture(&cap, &o, &s, &st, &err) == NTG_OK && st.packets > 100)
				crashes++;
			runs++;
		}
		ok(crashes == 0, "%s: %d truncations and corruptions read without crash", kind ? "pcapng" : "pcap", runs);
	}
}

static int	log_lines = 0;
static int	interrupt_checks = 0;

static void
count_log(int level, const char *msg)
{
	if (level == NTG_LOG_NOTICE && strstr(msg, "packets"))
		log_lines++;
}

static void
count_interrupt(void)
{
	interrupt_checks++;
}

/* A long capture (70,000 packets, 1,000 short biflows in a row): interrupt checks, progress lines. */
static void
test_long_capture(void)
{
	static Buf	p;
	static Seen s;
	NtgCaptureOptions o;
	NtgCaptureStats st;
	NtgError	err = {0};
	NtgCaptureReader *r;
	uint8_t    *mem = malloc(6 * 1024 * 1024);
	uint32_t	n;

	p.n = 0;
	pcap_header(&p, 1);
	memcpy(mem, p.b, p.n);
	n = p.n;
	for (uint32_t i = 0; i < 70000; i++)
	{
		/* 70 packets per biflow, 1 ms apart: a new client port every 70 ms */
		uint32_t	hdr[4] = {i / 1000, (i % 1000) * 1000, 0, 0};

		tcp_packet(&p, 1, 1, 2, (uint16_t) (1000 + i / 70), 80, 0x18, NULL, 10);
		hdr[2] = hdr[3] = p.n;
		memcpy(mem + n, hdr, 16);
		memcpy(mem + n + 16, p.b, p.n);
		n += 16 + p.n;
	}
	ntg_capture_default_options(&o);
	o.idle_timeout = 0.5;
	o.progress_seconds = 1e-9;
	ntg_set_log_hook(count_log);
	ntg_set_interrupt_hook(count_interrupt);
	memset(&s, 0, sizeof(s));
	ntg_error_clear(&err);
	ok(ntg_capture_open_memory(mem, n, &r, &err) == NTG_OK &&
	   ntg_capture_run(r, &o, collect, &s, &st, &err) == NTG_OK, "70,000-packet capture imports");
	ntg_capture_close(r);
	ntg_set_log_hook(NULL);
	ntg_set_interrupt_hook(NULL);
	is_int(st.packets, 70000, "all packets read");
	is_int(s.n, 1000, "1,000 biflows");
	ok(interrupt_checks >= 68, "interrupts checked every 1024 packets (%d checks)", interrupt_checks);
	is_int(log_lines, 1, "a progress line every 65,536 packets once the interval has passed");
	free(mem);
}

int
main(void)
{
	test_long_capture();
	test_table();
	test_pcap();
	test_pcapng();
	test_fuzz();
	return done_testing();
}
