/*
 * test_capture_tcp.c — TCP connection reuse (a SYN after FIN both ways or a RST starts a new
 * biflow; split_on_syn off merges as 0.1.0 did) and the client of a biflow (a SYN or SYN+ACK when
 * seen; the port rule for TCP seen mid-connection; the first sender for UDP and for ports of one
 * class; a SYN seen later turns the biflow round; client_rule 'first' as in 0.1.0).
 */
#include "capture/flowtab.h"
#include "capture_run.h"
#include "unit.h"

/* A packet from 10.0.0.a:pa to 10.0.0.b:pb. */
static NtgPacket
mk(uint8_t proto, uint8_t a, uint16_t pa, uint8_t b, uint16_t pb, uint8_t flags, int32_t pl)
{
	NtgPacket	p;

	memset(&p, 0, sizeof(p));
	p.family = 4;
	p.protocol = proto;
	p.src[0] = 10;
	p.src[3] = a;
	p.dst[0] = 10;
	p.dst[3] = b;
	p.sport = pa;
	p.dport = pb;
	p.tcp_flags = proto == 6 ? flags : 0;
	p.pl = pl;
	p.ip_bytes = 40 + pl;
	return p;
}

typedef struct Step
{
	uint8_t		from_client;	/* 1: 10.0.0.1:50000 -> 10.0.0.2:80, 0: the other way */
	uint8_t		flags;
	int32_t		pl;
} Step;

#define SYN 0x02
#define SYNACK 0x12
#define ACK 0x10
#define PSH 0x18
#define FINACK 0x11
#define RST 0x04

/* Feed the steps 1 ms apart (t0 in seconds) into a table; collect what it emits. */
static void
feed(NtgFlowTable *t, const Step *steps, int n, int64_t t0)
{
	for (int i = 0; i < n; i++)
	{
		NtgPacket	p = steps[i].from_client ?
			mk(6, 1, 50000, 2, 80, steps[i].flags, steps[i].pl) :
			mk(6, 2, 80, 1, 50000, steps[i].flags, steps[i].pl);

		ntg_flowtab_add(t, &p, t0 * SEC + i * 1000000LL);
	}
}

static const Step conn[] = {
	{1, SYN, 0}, {0, SYNACK, 0}, {1, ACK, 0}, {1, PSH, 100}, {0, PSH, 200},
	{1, FINACK, 0}, {0, FINACK, 0}, {1, ACK, 0}
};

static void
test_reuse(void)
{
	NtgCaptureOptions o;
	NtgFlowTable *t;
	static Seen s;
	Step		reset[] = {{1, SYN, 0}, {0, SYNACK, 0}, {1, PSH, 10}, {0, RST, 0}};
	Step		halfclosed[] = {{1, SYN, 0}, {0, SYNACK, 0}, {1, PSH, 10}, {1, FINACK, 0}};

	ntg_capture_default_options(&o);
	memset(&s, 0, sizeof(s));
	t = ntg_flowtab_create(&o, seen_collect, &s);
	feed(t, conn, 8, 1);
	feed(t, conn, 8, 2);		/* the same port pair 1 s later, well within the idle timeout */
	ntg_flowtab_flush(t);
	ntg_flowtab_destroy(t);
	is_int(s.n, 2, "a SYN after FIN both ways starts a new biflow");
	ok(s.f[0].packets[0] == 5 && s.f[0].packets[1] == 3 && s.f[1].packets[0] == 5,
	   "each connection keeps its own packets");
	ok(s.f[0].npl == 2 && s.f[1].npl == 2 && s.pl[1][0] == 100 && s.pl[1][1] == -200,
	   "the sequences do not interleave");
	is_int(s.f[1].first_ns, 2 * SEC, "the second biflow begins at its SYN");

	memset(&s, 0, sizeof(s));
	t = ntg_flowtab_create(&o, seen_collect, &s);
	feed(t, reset, 4, 1);
	feed(t, conn, 8, 2);
	ntg_flowtab_flush(t);
	ntg_flowtab_destroy(t);
	is_int(s.n, 2, "a SYN after a RST starts a new biflow");

	memset(&s, 0, sizeof(s));
	t = ntg_flowtab_create(&o, seen_collect, &s);
	feed(t, halfclosed, 4, 1);
	feed(t, conn, 8, 2);
	ntg_flowtab_flush(t);
	ntg_flowtab_destroy(t);
	is_int(s.n, 1, "a SYN after a FIN one way only stays in the biflow");

	/* a retransmitted SYN of a connection that is not closed stays too */
	memset(&s, 0, sizeof(s));
	t = ntg_flowtab_create(&o, seen_collect, &s);
	feed(t, conn, 1, 1);
	feed(t, conn, 8, 2);
	ntg_flowtab_flush(t);
	ntg_flowtab_destroy(t);
	is_int(s.n, 1, "a repeated SYN of an open connection stays in the biflow");

	o.split_on_syn = false;
	memset(&s, 0, sizeof(s));
	t = ntg_flowtab_create(&o, seen_collect, &s);
	feed(t, conn, 8, 1);
	feed(t, conn, 8, 2);
	ntg_flowtab_flush(t);
	ntg_flowtab_destroy(t);
	is_int(s.n, 1, "split_on_syn off: the two connections merge, as in 0.1.0");
	ok(s.f[0].packets[0] == 10 && s.f[0].npl == 4 && s.pl[0][2] == 100,
	   "split_on_syn off: their sequences interleave");
}

/* The client of a biflow whose first packet is p (then q, if given), with client rule r. */
static int
client_port(NtgClientRule r, NtgPacket p, const NtgPacket *q)
{
	NtgCaptureOptions o;
	NtgFlowTable *t;
	static Seen s;

	ntg_capture_default_options(&o);
	o.client_rule = r;
	memset(&s, 0, sizeof(s));
	t = ntg_flowtab_create(&o, seen_collect, &s);
	ntg_flowtab_add(t, &p, SEC);
	if (q)
		ntg_flowtab_add(t, q, SEC + 1000);
	ntg_flowtab_flush(t);
	ntg_flowtab_destroy(t);
	return s.n == 1 ? s.f[0].cli_port : -1;
}

static void
test_client(void)
{
	NtgCaptureOptions o;
	NtgFlowTable *t;
	static Seen s;
	NtgPacket	p;

	is_int(client_port(NTG_CLIENT_PORT, mk(6, 1, 50000, 2, 80, SYN, 0), NULL), 50000,
		   "a SYN's sender is the client");
	is_int(client_port(NTG_CLIENT_PORT, mk(6, 2, 80, 1, 50000, SYNACK, 0), NULL), 50000,
		   "a SYN+ACK's receiver is the client");
	is_int(client_port(NTG_CLIENT_PORT, mk(6, 1, 2000, 2, 40000, SYN, 0), NULL), 2000,
		   "a SYN decides even against the port rule");
	is_int(client_port(NTG_CLIENT_PORT, mk(6, 2, 80, 1, 50000, PSH, 10), NULL), 50000,
		   "mid-connection, first packet from port 80: port 80 is the server");
	is_int(client_port(NTG_CLIENT_PORT, mk(6, 2, 5432, 1, 41000, ACK, 0), NULL), 41000,
		   "a registered port (5432) is the server against an ephemeral one");
	is_int(client_port(NTG_CLIENT_PORT, mk(6, 2, 443, 1, 8443, ACK, 0), NULL), 8443,
		   "a well-known port is the server against a registered one");
	is_int(client_port(NTG_CLIENT_PORT, mk(6, 2, 40000, 1, 50000, PSH, 5), NULL), 40000,
		   "two ephemeral ports: the first sender is the client");
	is_int(client_port(NTG_CLIENT_PORT, mk(6, 2, 25, 1, 80, PSH, 5), NULL), 25,
		   "two well-known ports: the first sender is the client");
	is_int(client_port(NTG_CLIENT_PORT, mk(17, 2, 53, 1, 50000, 0, 40), NULL), 53,
		   "UDP: the first sender is the client, whatever the ports");
	is_int(client_port(NTG_CLIENT_FIRST, mk(6, 2, 80, 1, 50000, PSH, 10), NULL), 80,
		   "client_rule first: the first sender, even from port 80 (0.1.0)");
	is_int(client_port(NTG_CLIENT_FIRST, mk(6, 2, 80, 1, 50000, SYNACK, 0), NULL), 50000,
		   "client_rule first: a first SYN+ACK's receiver (0.1.0)");

	/* A SYN seen after the first packet (out of order in a merged capture) still decides. */
	p = mk(6, 1, 50000, 2, 40000, SYN, 0);
	is_int(client_port(NTG_CLIENT_PORT, mk(6, 2, 40000, 1, 50000, PSH, 7), &p), 50000,
		   "a SYN after the first packet names the client");
	ntg_capture_default_options(&o);
	memset(&s, 0, sizeof(s));
	t = ntg_flowtab_create(&o, seen_collect, &s);
	p = mk(6, 2, 40000, 1, 50000, PSH, 7);
	ntg_flowtab_add(t, &p, SEC);
	p = mk(6, 2, 40000, 1, 50000, PSH, 9);
	ntg_flowtab_add(t, &p, SEC + 1);
	p = mk(6, 1, 50000, 2, 40000, SYN, 0);
	ntg_flowtab_add(t, &p, SEC + 2);
	p = mk(6, 1, 50000, 2, 40000, PSH, 3);
	ntg_flowtab_add(t, &p, SEC + 3);
	ntg_flowtab_flush(t);
	ntg_flowtab_destroy(t);
	ok(s.n == 1 && s.f[0].packets[0] == 2 && s.f[0].packets[1] == 2 &&
	   s.f[0].payload_bytes[1] == 16 && s.f[0].payload_bytes[0] == 3,
	   "turned round: counters follow the new client");
	ok(s.f[0].npl == 3 && s.pl[0][0] == -7 && s.pl[0][1] == -9 && s.pl[0][2] == 3,
	   "turned round: signs follow the new client");
}

int
main(void)
{
	test_reuse();
	test_client();
	return done_testing();
}
