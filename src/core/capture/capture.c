/*
 * capture.c — opening a capture (file or memory), the packet loop and filtering.  Classic pcap
 * records are read by pcapfile.c (libpcap checks the file header), pcapng by pcapng.c (see why
 * there).  Damage after the header stops the loop with a message saying where; everything read
 * before it stays imported.
 */
#include "capture/capture_int.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "capture/decode.h"
#include "capture/filter.h"
#include "capture/flowtab.h"
#include "capture/fragtab.h"

const char *const ntg_skip_reason_names[NTG_SKIP_NREASONS] = {
	"non_ip", "non_tcp_udp", "truncated", "bad_header", "fragment", "unsupported_link", "filtered"
};

void
ntg_capture_default_options(NtgCaptureOptions *o)
{
	o->n = NTG_CAP_DEFAULT_N;
	o->idle_timeout = 120;
	o->active_timeout = 1800;
	o->filter = NULL;
	o->progress_seconds = 5;
	o->split_on_syn = true;
	o->client_rule = NTG_CLIENT_PORT;
	o->decapsulate = false;
	o->memory_limit = 0;
}

static void
linktype_error(NtgError *err, int lt)
{
	const char *name = pcap_datalink_val_to_name(lt);
	const char *desc = pcap_datalink_val_to_description(lt);

	ntg_error(err, NTG_ERR_UNSUPPORTED, "capture link type %s (%d) is not supported",
			  name ? name : "unknown", lt);
	ntg_error_detail(err, "%s%sntg decodes Ethernet (with 802.1Q/QinQ, MPLS and PPPoE), Linux "
					 "cooked (SLL, SLL2), raw IP, BSD loopback (NULL, LOOP), PPP and Cisco HDLC.",
					 desc ? desc : "", desc ? " captures cannot be read: " : "");
}

/* Look at the magic number, then hand the capture to pcapfile.c (pcap) or pcapng.c.  f reads
 * the capture; mem holds it when it is in memory (then pcap records are read from there). */
static int
open_stream(FILE *f, const uint8_t *mem, size_t memlen, uint64_t size, const char *what,
			NtgCaptureReader **out, NtgError *err)
{
	NtgCaptureReader *r;
	uint8_t		m[24];
	size_t		got = fread(m, 1, sizeof(m), f);
	uint32_t	magic;

	if (got == 0)
	{
		fclose(f);
		return ntg_error(err, NTG_ERR_BAD_FORMAT, "%s is empty", what);
	}
	if (got < 4)
	{
		fclose(f);
		ntg_error(err, NTG_ERR_BAD_FORMAT, "%s is not a pcap or pcapng capture", what);
		ntg_error_detail(err, "It is only %zu byte%s long.", got, got == 1 ? "" : "s");
		return NTG_ERR_BAD_FORMAT;
	}
	magic = ((uint32_t) m[0] << 24) | ((uint32_t) m[1] << 16) | ((uint32_t) m[2] << 8) | m[3];
	if (magic != 0xa1b2c3d4U && magic != 0xd4c3b2a1U && magic != 0xa1b23c4dU &&
		magic != 0x4d3cb2a1U && magic != 0xa1b2cd34U && magic != 0x34cdb2a1U &&
		magic != 0x0a0d0d0aU)
	{
		fclose(f);
		ntg_error(err, NTG_ERR_BAD_FORMAT, "%s is not a pcap or pcapng capture", what);
		ntg_error_detail(err, "It starts with the bytes %02x %02x %02x %02x, which are no pcap or pcapng magic number.",
						 m[0], m[1], m[2], m[3]);
		return NTG_ERR_BAD_FORMAT;
	}
	r = ntg_calloc(1, sizeof(NtgCaptureReader));
	if (!r)
	{
		fclose(f);
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	r->f = f;
	r->size = size;
	*out = r;
	if (magic == 0x0a0d0d0aU)
	{
		rewind(f);
		r->pcapng = true;
		return ntg_pcapng_open(r, err);
	}
	if (mem)
	{
		/* records come from the bytes themselves: the stream is not needed */
		fclose(f);
		r->f = NULL;
		r->mem = mem;
		r->memlen = memlen;
	}
	if (ntg_pcapfile_open(r, m, got, err) != NTG_OK)
		return err->code;
	if (!ntg_linktype_supported(r->first_linktype))
	{
		linktype_error(err, r->first_linktype);
		return NTG_ERR_UNSUPPORTED;
	}
	return NTG_OK;
}

int
ntg_capture_open_file(const char *path, NtgCaptureReader **out, NtgError *err)
{
	FILE	   *f;
	struct stat st = {0};

	*out = NULL;
	f = fopen(path, "rb");
	if (!f)
		return ntg_error(err, NTG_ERR_IO, "could not open capture file \"%s\": %s", path, strerror(errno));
	if (fstat(fileno(f), &st) != 0)
		memset(&st, 0, sizeof(st));
	if (S_ISDIR(st.st_mode))
	{
		fclose(f);
		return ntg_error(err, NTG_ERR_IO, "could not open capture file \"%s\": %s", path, strerror(EISDIR));
	}
	setvbuf(f, NULL, _IOFBF, 1 << 18);
	{
		char		what[NTG_ERRMSG_LEN];

		snprintf(what, sizeof(what), "capture file \"%s\"", path);
		return open_stream(f, NULL, 0, S_ISREG(st.st_mode) ? (uint64_t) st.st_size : 0, what, out, err);
	}
}

int
ntg_capture_open_memory(const uint8_t *data, size_t len, NtgCaptureReader **out, NtgError *err)
{
	FILE	   *f;

	*out = NULL;
	if (len == 0)
		return ntg_error(err, NTG_ERR_BAD_FORMAT, "capture data is empty");
	f = fmemopen((void *) data, len, "rb");
	if (!f)
		return ntg_error(err, NTG_ERR_IO, "could not read capture data: %s", strerror(errno));
	return open_stream(f, data, len, len, "capture data", out, err);
}

void
ntg_capture_close(NtgCaptureReader *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->nfilters; i++)
	{
		if (r->filters[i].compiled)
			pcap_freecode(&r->filters[i].prog);
		if (r->filters[i].dead)
			pcap_close(r->filters[i].dead);
	}
	if (r->f)
		fclose(r->f);
	ntg_free(r->buf);
	ntg_free(r->ifs);
	ntg_free(r);
}

/* The compiled filter for a link type (compiled on first use). */
static NtgFilter *
filter_for(NtgCaptureReader *r, const char *expr, int lt, NtgError *err)
{
	NtgFilter  *fl;
	int			dlt = (lt == NTG_LT_RAW) ? DLT_RAW : lt;	/* LINKTYPE_RAW is DLT_RAW to libpcap */

	for (int i = 0; i < r->nfilters; i++)
		if (r->filters[i].linktype == lt)
			return &r->filters[i];
	if (r->nfilters == NTG_MAX_FILTERS)
	{
		ntg_error(err, NTG_ERR_UNSUPPORTED, "capture filter cannot be applied to more than %d link types",
				  NTG_MAX_FILTERS);
		return NULL;
	}
	fl = &r->filters[r->nfilters++];
	fl->linktype = lt;
	fl->dead = pcap_open_dead(dlt, 262144);
	if (!fl->dead)
	{
		ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (pcap_compile(fl->dead, &fl->prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0)
	{
		const char *name = pcap_datalink_val_to_name(dlt);

		ntg_error(err, NTG_ERR_INVALID_ARG, "invalid capture filter \"%s\"", expr);
		ntg_error_detail(err, "libpcap (link type %s): %s.", name ? name : "unknown", pcap_geterr(fl->dead));
		return NULL;
	}
	fl->compiled = true;
	return fl;
}

/* Next packet from either path: 1 packet, 0 end, -1 damage (stats->damage set). */
static int
next_packet(NtgCaptureReader *r, NtgRawPacket *pk, NtgCaptureStats *st)
{
	char		msg[NTG_ERRMSG_LEN];
	int			rc;

	rc = r->pcapng ? ntg_pcapng_next(r, pk, msg, sizeof(msg)) :
		ntg_pcapfile_next(r, pk, msg, sizeof(msg));
	if (rc < 0)
		snprintf(st->damage, sizeof(st->damage), "%s", msg);
	return rc;
}

static double
monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
check_options(const NtgCaptureOptions *o, NtgError *err)
{
	if (o->n < 0 || o->n > NTG_CAP_MAX_N)
	{
		ntg_error(err, NTG_ERR_INVALID_ARG, "n must be between 0 and %d", NTG_CAP_MAX_N);
		return NTG_ERR_INVALID_ARG;
	}
	if (o->filter)
		return ntg_filter_check(o->filter, err);
	return NTG_OK;
}

/* The libpcap filter: 1 the packet passes, 0 it does not, -1 error (err set). */
static int
filter_packet(NtgCaptureReader *r, const NtgCaptureOptions *opt, const NtgRawPacket *pk,
			  NtgFilter **fl, int *fl_lt, NtgError *err)
{
	struct pcap_pkthdr ph;

	if (pk->linktype != *fl_lt)
	{
		if (!(*fl = filter_for(r, opt->filter, pk->linktype, err)))
			return -1;
		*fl_lt = pk->linktype;
	}
	ph.caplen = pk->caplen;
	ph.len = pk->wirelen;
	ph.ts.tv_sec = pk->ts_ns / 1000000000LL;
	ph.ts.tv_usec = 0;
	return pcap_offline_filter(&(*fl)->prog, &ph, pk->data) != 0;
}

/* One decoded packet into the tables: a whole datagram or a first fragment into the biflow
 * table, a later fragment to the fragment table.  0, or a non-zero status. */
static int
attribute(NtgFlowTable *t, NtgFragTable *ft, const NtgPacket *p, int d, int64_t ts,
		  NtgCaptureStats *st)
{
	NtgFlowRef	ref;
	int			rc;

	if (d == NTG_SKIP_FRAGMENT && p->frag == NTG_FRAG_LATER)
		return ntg_fragtab_later(ft, p, ts);
	if (d >= 0)
	{
		st->skipped[d]++;
		return 0;
	}
	st->packets_attributed++;
	if (p->frag != NTG_FRAG_FIRST)
		return ntg_flowtab_add(t, p, ts);
	if ((rc = ntg_flowtab_add_ref(t, p, ts, &ref)) != 0)
		return rc;
	return ntg_fragtab_first(ft, p, ts, &ref);
}

static void
progress(NtgCaptureReader *r, const NtgCaptureOptions *opt, NtgFlowTable *t,
		 const NtgCaptureStats *st, double *last_log)
{
	ntg_check_interrupts();
	if (opt->progress_seconds > 0 && (st->packets & 65535) == 0 &&
		monotonic_seconds() - *last_log >= opt->progress_seconds)
	{
		*last_log = monotonic_seconds();
		ntg_log(NTG_LOG_NOTICE, "read %llu packets (%.1f MB), %llu biflows so far",
				(unsigned long long) st->packets, r->offset / 1e6,
				(unsigned long long) (ntg_flowtab_emitted(t) + ntg_flowtab_live(t)));
	}
}

/* A packet read ahead of the flow table: its record, its decoding, the decoder's verdict. */
typedef struct Ahead
{
	NtgRawPacket pk;
	NtgPacket	p;
	int			d;
} Ahead;

#define AHEAD_MAX		16		/* packets decoded before the first of them is accounted */
#define AHEAD_PREFETCH	4		/* the flow of packet i + 4 is fetched while i is accounted */

/*
 * Read, filter and decode one packet into a: 1 to account it, 0 when it was skipped here
 * (unsupported link type, filtered), -1 on a filter error (err set).
 */
static int
prepare(NtgCaptureReader *r, const NtgCaptureOptions *opt, NtgFlowTable *t, Ahead *a,
		NtgCaptureStats *st, NtgFilter **fl, int *fl_lt, int *unsupported_lt, double *last_log,
		NtgError *err)
{
	st->packets++;
	/* keep timestamp differences inside int64 whatever a damaged file says */
	if (a->pk.ts_ns > ((int64_t) 1 << 62))
		a->pk.ts_ns = (int64_t) 1 << 62;
	else if (a->pk.ts_ns < -((int64_t) 1 << 62))
		a->pk.ts_ns = -((int64_t) 1 << 62);
	if ((st->packets & 1023) == 0)
		progress(r, opt, t, st, last_log);
	if (!ntg_linktype_supported(a->pk.linktype))
	{
		st->skipped[NTG_SKIP_UNSUPPORTED_LINK]++;
		if (*unsupported_lt < 0)
			*unsupported_lt = a->pk.linktype;
		return 0;
	}
	if (opt->filter)
	{
		int			pass = filter_packet(r, opt, &a->pk, fl, fl_lt, err);

		if (pass < 0)
			return -1;
		if (!pass)
		{
			st->skipped[NTG_SKIP_FILTERED]++;
			return 0;
		}
	}
	a->d = ntg_decode_packet_ex(a->pk.linktype, a->pk.data, a->pk.caplen, a->pk.wirelen,
								opt->decapsulate ? NTG_DECODE_TUNNELS : 0, &a->p);
	if (a->d < 0)
		ntg_flowtab_prefetch(t, &a->p, 0);
	return 1;
}

/*
 * The packet loop.  Packets are read and decoded up to AHEAD_MAX ahead of the flow table, as
 * long as the reader keeps their bytes in place (classic pcap: the next record lies whole in the
 * window; pcapng reuses its block buffer, so one at a time), so that the hash buckets and flows
 * they need are fetched into the cache while earlier packets are accounted: with 100,000 live
 * biflows those two cache misses per packet were the flow table's largest cost.
 */
int
ntg_capture_run(NtgCaptureReader *r, const NtgCaptureOptions *opt, NtgBiflowEmit emit, void *arg,
				NtgCaptureStats *st, NtgError *err)
{
	NtgFlowTable *t;
	NtgFragTable *ft;
	Ahead	   *ahead;
	NtgFilter  *fl = NULL;
	int			fl_lt = -1,
				rc = 1,
				unsupported_lt = -1;
	double		last_log = monotonic_seconds();

	memset(st, 0, sizeof(*st));
	strcpy(st->format, r->format);
	st->linktype = r->first_linktype;
	if ((rc = check_options(opt, err)) != NTG_OK)
		return rc;
	/* Compile the filter up front so that a bad expression fails before any work. */
	if (opt->filter && r->first_linktype >= 0 && ntg_linktype_supported(r->first_linktype) &&
		!filter_for(r, opt->filter, r->first_linktype, err))
		return err->code;
	t = ntg_flowtab_create(opt, emit, arg);
	ft = t ? ntg_fragtab_create(t, st) : NULL;
	ahead = ntg_malloc(sizeof(Ahead) * AHEAD_MAX);
	if (!t || !ft || !ahead)
	{
		ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		goto fail;
	}
	rc = 1;
	while (rc == 1)
	{
		int			n = 0;

		while (n < AHEAD_MAX)
		{
			int			keep;

			if (n > 0 && (r->pcapng || !ntg_pcapfile_next_in_window(r)))
				break;
			if ((rc = next_packet(r, &ahead[n].pk, st)) != 1)
				break;
			keep = prepare(r, opt, t, &ahead[n], st, &fl, &fl_lt, &unsupported_lt, &last_log, err);
			if (keep < 0)
				goto fail;
			n += keep;
		}
		for (int i = 0; i < n && i < AHEAD_PREFETCH; i++)
			if (ahead[i].d < 0)
				ntg_flowtab_prefetch(t, &ahead[i].p, 1);
		for (int i = 0; i < n; i++)
		{
			int			arc;

			if (i + AHEAD_PREFETCH < n && ahead[i + AHEAD_PREFETCH].d < 0)
				ntg_flowtab_prefetch(t, &ahead[i + AHEAD_PREFETCH].p, 1);
			if ((arc = attribute(t, ft, &ahead[i].p, ahead[i].d, ahead[i].pk.ts_ns, st)) != 0 ||
				(ahead[i].d < 0 && ahead[i].pk.label &&
				 (arc = ntg_flowtab_label(t, ahead[i].pk.label, ahead[i].pk.label_len)) != 0))
			{
				rc = arc;
				goto emit_failed;
			}
		}
	}
	if (rc < 0)
		st->damaged = true;
	st->bytes_read = r->offset;
	/* Every packet on an interface we cannot decode: that is the capture's link type. */
	if (unsupported_lt >= 0 && st->skipped[NTG_SKIP_UNSUPPORTED_LINK] == st->packets)
	{
		linktype_error(err, unsupported_lt);
		goto fail;
	}
	ntg_fragtab_finish(ft);
	if ((rc = ntg_flowtab_flush(t)) != 0)
		goto emit_failed;
	st->biflows = ntg_flowtab_emitted(t);
	st->pl_over_smallint = ntg_flowtab_pl_over_smallint(t);
	st->ended_early = ntg_flowtab_ended_early(t);
	st->peak_memory = ntg_flowtab_peak_memory(t);
	ntg_free(ahead);
	ntg_fragtab_destroy(ft);
	ntg_flowtab_destroy(t);
	return NTG_OK;

emit_failed:
	if (rc == NTG_ERR_NOMEM)
		ntg_error(err, NTG_ERR_NOMEM, "out of memory in the biflow table");
	else if (err->code == NTG_OK)
		ntg_error(err, rc < 0 ? rc : NTG_ERR_INTERNAL, "biflow consumer failed");
fail:
	ntg_free(ahead);
	ntg_fragtab_destroy(ft);
	ntg_flowtab_destroy(t);
	return err->code;
}
