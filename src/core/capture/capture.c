/*
 * capture.c — opening a capture (file or memory), the packet loop, filtering, and the classic
 * pcap path through libpcap (pcap_fopen_offline with nanosecond precision, pcap_next_ex).
 * pcapng goes through pcapng.c (see why there).  Damage after the header stops the loop with a
 * message saying where; everything read before it stays imported.
 */
#include "capture/capture_int.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "capture/decode.h"
#include "capture/flowtab.h"

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

/* Classic pcap: let libpcap read the header (byte order, versions, snaplen, precision). */
static int
open_pcap(NtgCaptureReader *r, uint32_t magic, NtgError *err)
{
	char		errbuf[PCAP_ERRBUF_SIZE] = "";

	r->pcap = pcap_fopen_offline_with_tstamp_precision(r->f, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!r->pcap)
	{
		ntg_error(err, NTG_ERR_BAD_FORMAT, "invalid pcap file header");
		ntg_error_detail(err, "libpcap: %s.", errbuf);
		return NTG_ERR_BAD_FORMAT;
	}
	r->first_linktype = pcap_datalink(r->pcap);
	r->offset = 24;
	strcpy(r->format, (magic == 0xa1b23c4dU || magic == 0x4d3cb2a1U) ? "pcap-ns" : "pcap");
	if (!ntg_linktype_supported(r->first_linktype))
	{
		linktype_error(err, r->first_linktype);
		return NTG_ERR_UNSUPPORTED;
	}
	return NTG_OK;
}

/* Look at the magic number, then hand the FILE to libpcap (pcap) or pcapng.c. */
static int
open_stream(FILE *f, uint64_t size, const char *what, NtgCaptureReader **out, NtgError *err)
{
	NtgCaptureReader *r;
	uint8_t		m[4];
	size_t		got = fread(m, 1, 4, f);
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
	rewind(f);
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
		r->pcapng = true;
		return ntg_pcapng_open(r, err);
	}
	return open_pcap(r, magic, err);
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
		return open_stream(f, S_ISREG(st.st_mode) ? (uint64_t) st.st_size : 0, what, out, err);
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
	return open_stream(f, len, "capture data", out, err);
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
	if (r->pcap)
		pcap_close(r->pcap);	/* closes r->f too */
	else if (r->f)
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
	struct pcap_pkthdr *h;
	const u_char *data;
	int			rc;

	if (r->pcapng)
	{
		char		msg[NTG_ERRMSG_LEN];

		rc = ntg_pcapng_next(r, pk, msg, sizeof(msg));
		if (rc < 0)
			snprintf(st->damage, sizeof(st->damage), "%s", msg);
		return rc;
	}
	rc = pcap_next_ex(r->pcap, &h, &data);
	if (rc == 1)
	{
		pk->linktype = r->first_linktype;
		pk->ts_ns = (int64_t) h->ts.tv_sec * 1000000000LL + h->ts.tv_usec;
		pk->caplen = h->caplen;
		pk->wirelen = h->len;
		pk->data = data;
		pk->label = NULL;		/* classic pcap has no comments */
		r->offset += 16 + (uint64_t) h->caplen;
		return 1;
	}
	if (rc == PCAP_ERROR_BREAK)
		return 0;
	snprintf(st->damage, sizeof(st->damage), "the record at byte offset %llu is damaged or cut short (libpcap: %s)",
			 (unsigned long long) r->offset, pcap_geterr(r->pcap));
	return -1;
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
	return NTG_OK;
}

int
ntg_capture_run(NtgCaptureReader *r, const NtgCaptureOptions *opt, NtgBiflowEmit emit, void *arg,
				NtgCaptureStats *st, NtgError *err)
{
	NtgFlowTable *t;
	NtgRawPacket pk;
	NtgPacket	p;
	NtgFilter  *fl = NULL;
	int			fl_lt = -1,
				rc,
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
	if (!(t = ntg_flowtab_create(opt, emit, arg)))
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	while ((rc = next_packet(r, &pk, st)) == 1)
	{
		int			d;

		st->packets++;
		/* keep timestamp differences inside int64 whatever a damaged file says */
		if (pk.ts_ns > ((int64_t) 1 << 62))
			pk.ts_ns = (int64_t) 1 << 62;
		else if (pk.ts_ns < -((int64_t) 1 << 62))
			pk.ts_ns = -((int64_t) 1 << 62);
		if ((st->packets & 1023) == 0)
		{
			ntg_check_interrupts();
			if (opt->progress_seconds > 0 && (st->packets & 65535) == 0 &&
				monotonic_seconds() - last_log >= opt->progress_seconds)
			{
				last_log = monotonic_seconds();
				ntg_log(NTG_LOG_NOTICE, "read %llu packets (%.1f MB), %llu biflows so far",
						(unsigned long long) st->packets, r->offset / 1e6,
						(unsigned long long) (ntg_flowtab_emitted(t) + ntg_flowtab_live(t)));
			}
		}
		if (!ntg_linktype_supported(pk.linktype))
		{
			st->skipped[NTG_SKIP_UNSUPPORTED_LINK]++;
			if (unsupported_lt < 0)
				unsupported_lt = pk.linktype;
			continue;
		}
		if (opt->filter)
		{
			struct pcap_pkthdr ph;

			if (pk.linktype != fl_lt)
			{
				if (!(fl = filter_for(r, opt->filter, pk.linktype, err)))
					goto fail;
				fl_lt = pk.linktype;
			}
			ph.caplen = pk.caplen;
			ph.len = pk.wirelen;
			ph.ts.tv_sec = pk.ts_ns / 1000000000LL;
			ph.ts.tv_usec = 0;
			if (pcap_offline_filter(&fl->prog, &ph, pk.data) == 0)
			{
				st->skipped[NTG_SKIP_FILTERED]++;
				continue;
			}
		}
		d = ntg_decode_packet(pk.linktype, pk.data, pk.caplen, pk.wirelen, &p);
		if (d >= 0)
		{
			st->skipped[d]++;
			continue;
		}
		st->packets_attributed++;
		if ((rc = ntg_flowtab_add(t, &p, pk.ts_ns)) != 0)
			goto emit_failed;
		if (pk.label && (rc = ntg_flowtab_label(t, pk.label, pk.label_len)) != 0)
			goto emit_failed;
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
	if ((rc = ntg_flowtab_flush(t)) != 0)
		goto emit_failed;
	st->biflows = ntg_flowtab_emitted(t);
	st->pl_over_smallint = ntg_flowtab_pl_over_smallint(t);
	ntg_flowtab_destroy(t);
	return NTG_OK;

emit_failed:
	if (rc == NTG_ERR_NOMEM)
		ntg_error(err, NTG_ERR_NOMEM, "out of memory in the biflow table");
	else if (err->code == NTG_OK)
		ntg_error(err, rc < 0 ? rc : NTG_ERR_INTERNAL, "biflow consumer failed");
fail:
	ntg_flowtab_destroy(t);
	return err->code;
}
