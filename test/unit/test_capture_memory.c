/*
 * test_capture_memory.c — the biflow table's memory: a flow costs what it holds (no n x 4 bytes
 * up front), long sequences grow, and memory_limit bounds the table by ending the flows idle the
 * longest early — counted, and with every packet still in exactly one biflow.
 */
#include "capture/flowtab.h"
#include "capture_run.h"
#include "unit.h"

typedef struct Totals
{
	uint64_t	flows;
	uint64_t	packets;
	uint64_t	payload;
	uint64_t	port7_flows;	/* biflows of the flow touched again and again */
	int			bad_pl;
} Totals;

static int
total(const NtgBiflow *f, void *arg)
{
	Totals	   *t = arg;

	t->flows++;
	t->packets += f->packets[0] + f->packets[1];
	t->payload += f->payload_bytes[0];
	if (f->cli_port == 7)
		t->port7_flows++;
	for (int i = 0; i < f->npl; i++)
		if (f->pl[i] != 1 + i % 100)
			t->bad_pl++;
	return 0;
}

static NtgPacket
one(uint32_t i, int32_t pl)
{
	NtgPacket	p;

	memset(&p, 0, sizeof(p));
	p.family = 4;
	p.protocol = 17;
	p.src[0] = 10;
	p.src[1] = (uint8_t) (i >> 16);
	p.src[2] = (uint8_t) (i >> 8);
	p.src[3] = (uint8_t) i;
	p.dst[0] = 192;
	p.sport = (uint16_t) (i & 0xffff) | 1024;
	p.dport = 53;
	p.pl = pl;
	p.ip_bytes = 28 + pl;
	return p;
}

static void
diag_peak(const char *what, size_t peak)
{
	printf("# %s: peak %.1f MB\n", what, peak / 1048576.0);
}

/* 100,000 one-packet flows, all alive at once (timeouts off), n = 1000. */
static size_t
many_flows(size_t limit, Totals *tot, uint64_t *early)
{
	NtgCaptureOptions o;
	NtgFlowTable *t;
	size_t		peak;

	ntg_capture_default_options(&o);
	o.n = 1000;
	o.idle_timeout = 0;
	o.active_timeout = 0;
	o.memory_limit = limit;
	memset(tot, 0, sizeof(*tot));
	t = ntg_flowtab_create(&o, total, tot);
	for (uint32_t i = 0; i < 100000; i++)
	{
		NtgPacket	p = one(i, 1);

		ntg_flowtab_add(t, &p, (int64_t) i * 1000);
	}
	ntg_flowtab_flush(t);
	peak = ntg_flowtab_peak_memory(t);
	*early = ntg_flowtab_ended_early(t);
	ntg_flowtab_destroy(t);
	return peak;
}

static void
test_limit(void)
{
	Totals		tot;
	uint64_t	early;
	size_t		peak;

	peak = many_flows(0, &tot, &early);
	diag_peak("no limit", peak);
	ok(peak < (size_t) 100000 * 300, "no limit: 100,000 flows with n = 1000 take < 300 bytes each (%zu bytes)", peak);
	is_int(early, 0, "no limit: no biflow ends early");
	is_int(tot.flows, 100000, "no limit: 100,000 biflows");

	peak = many_flows(2 * 1024 * 1024, &tot, &early);
	diag_peak("2 MB limit", peak);
	ok(peak <= 2 * 1024 * 1024, "2 MB limit: the table stays within it (%zu bytes)", peak);
	ok(early > 90000, "2 MB limit: most biflows end early (%llu)", (unsigned long long) early);
	is_int(tot.flows, 100000, "2 MB limit: still one biflow per flow (they had one packet)");
	is_int(tot.packets, 100000, "2 MB limit: every packet in a biflow");

	peak = many_flows(1000, &tot, &early);
	ok(peak <= NTG_FLOWTAB_MIN_MEMORY, "a limit below 1 MB means 1 MB (%zu bytes)", peak);
}

/* Sequences longer than the inline part grow as payload packets come. */
static void
test_long_sequences(void)
{
	NtgCaptureOptions o;
	NtgFlowTable *t;
	Totals		tot;
	static Seen s;

	ntg_capture_default_options(&o);
	o.n = 1000;
	memset(&tot, 0, sizeof(tot));
	t = ntg_flowtab_create(&o, total, &tot);
	for (int i = 0; i < 1500; i++)
	{
		NtgPacket	p = one(1, 1 + i % 100);

		ntg_flowtab_add(t, &p, (int64_t) i * 1000);
	}
	ok(ntg_flowtab_memory(t) < 64 * 1024 + 300 * 1024, "one 1000-value sequence: memory grows by what it holds");
	ntg_flowtab_flush(t);
	ntg_flowtab_destroy(t);
	is_int(tot.flows, 1, "one biflow");
	is_int(tot.bad_pl, 0, "its 1000 PL values are right");

	/* n = 3: fewer than the inline values */
	o.n = 3;
	memset(&s, 0, sizeof(s));
	t = ntg_flowtab_create(&o, seen_collect, &s);
	for (int i = 0; i < 5; i++)
	{
		NtgPacket	p = one(1, 10 + i);

		ntg_flowtab_add(t, &p, (int64_t) i * 1000);
	}
	ntg_flowtab_flush(t);
	ntg_flowtab_destroy(t);
	ok(s.n == 1 && s.f[0].npl == 3 && s.pl[0][2] == 12 && s.f[0].payload_packets == 5,
	   "n = 3 keeps three values, counts all");
}

/* At the limit, the flow idle the longest ends first: a flow seen again and again survives. */
static void
test_idlest_first(void)
{
	NtgCaptureOptions o;
	NtgFlowTable *t;
	Totals		tot;

	ntg_capture_default_options(&o);
	o.n = 1000;
	o.idle_timeout = 0;
	o.active_timeout = 0;
	o.memory_limit = NTG_FLOWTAB_MIN_MEMORY;
	memset(&tot, 0, sizeof(tot));
	t = ntg_flowtab_create(&o, total, &tot);
	for (uint32_t i = 0; i < 50000; i++)
	{
		NtgPacket	p = one(i + 100, 1 + i % 100);
		NtgPacket	q = one(7, 1);

		ntg_flowtab_add(t, &p, (int64_t) i * 1000);
		if (i % 100 == 0)
		{
			q.sport = 7;
			ntg_flowtab_add(t, &q, (int64_t) i * 1000 + 1);
		}
	}
	ok(ntg_flowtab_ended_early(t) > 40000, "flows ended early at the limit");
	ntg_flowtab_flush(t);
	ntg_flowtab_destroy(t);
	is_int(tot.port7_flows, 1, "the flow seen every 100 packets was never ended early");
	is_int(tot.packets, 50000 + 500, "every packet in a biflow");
}

int
main(void)
{
	test_limit();
	test_long_sequences();
	test_idlest_first();
	return done_testing();
}
