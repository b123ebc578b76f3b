/*
 * pcapout.c — the capture writer (see pcapout.h): checks each biflow, fills in what its row does
 * not give (protocol and server port from its class, else drawn; addresses, client port, start
 * time, initial sequence numbers, packet gaps drawn from the seed), and merges the packets of the
 * biflows in progress in timestamp order through a binary heap, so that memory holds only the
 * biflows that overlap the current time.  Output goes into one growing buffer (kept whole, or
 * handed to a flush callback a megabyte at a time).
 *
 * Reproducibility: everything drawn for the biflow of row i comes from generators seeded with
 * (seed, i) alone, and start times from one stream of the seed; so the same rows and arguments
 * give the same bytes, and changing one row changes only that biflow's packets (and, through the
 * start-time stream, nothing else unless its start time was given).
 */
#include "pcapout/pcapout.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "capture/capture.h"
#include "common/rng.h"
#include "pcapout/pcapout_int.h"

#define FLUSH_CHUNK		((size_t) 1 << 20)
#define WINDOW_SHIFT	7			/* window scale of both SYNs */
#define WINDOW			2048		/* scaled: 256 KiB, two maximum segments and more */

typedef struct ClassEntry
{
	uint64_t	hash;
	char	   *label;				/* NULL: empty slot */
	size_t		len;
	int			protocol;
	int			srv_port;
} ClassEntry;

/* A biflow in progress: its conversation and the packet that comes next. */
typedef struct Live
{
	int64_t		t_us;				/* time of the pending packet */
	uint64_t	order;				/* row number: ties go to the earlier biflow */
	NtgConv		conv;
	NtgPktSpec	next;
	NtgRng		gap_rng;
	NtgRng		fill_rng;
	uint8_t		family;
	bool		comment_due;
	uint16_t	port[2];			/* client, server */
	uint16_t	ipid[2];
	uint8_t		addr[2][16];
	uint8_t		mac[2][6];
	size_t		mem;
	size_t		label_len;
	const char *label;				/* NULL: no comment */
	int32_t		pl[];				/* the values, then the label's bytes */
} Live;

struct NtgPcapWriter
{
	NtgPcapOutOptions opt;
	uint8_t    *buf;
	size_t		len;				/* bytes in buf, head_room included */
	size_t		cap;
	size_t		populated;			/* bytes of buf faulted in (populate) */
	uint64_t	flushed;			/* capture bytes already handed to flush */
	NtgPcapOutStats stats;
	NtgPcapOutLimit limit;
	uint32_t	perm_key[3];
	NtgRng		start_rng;
	bool		any_start;
	int64_t		last_start;
	Live	  **heap;
	size_t		nheap;
	size_t		heapcap;
	uint64_t	state_bytes;
	ClassEntry *classes;
	size_t		class_slots;		/* power of two, or 0 */
	size_t		nclasses;
	double		last_log;
};

void
ntg_pcapout_default_options(NtgPcapOutOptions *o)
{
	memset(o, 0, sizeof(*o));
	o->protocol = 6;
	o->mss = NTG_PCAPOUT_DEFAULT_MSS;
	o->start_us = INT64_C(1735689600000000);	/* 2025-01-01 00:00:00 UTC */
	o->flow_gap_us = 10000;
	o->packet_gap_us = 1000;
	o->payload = NTG_FILL_ZERO;
	o->progress_seconds = 5;
}

static double
monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
label_hash(const char *s, size_t n)
{
	uint64_t	h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t) s[i]) * 0x100000001b3ULL;
	return h;
}

/* ---- output ------------------------------------------------------------------------------- */

static int
limit_error(NtgPcapWriter *w, NtgPcapOutLimit which, NtgError *err)
{
	w->limit = which;
	if (which == NTG_PCAPOUT_LIMIT_BYTES)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "capture would exceed %llu bytes",
						 (unsigned long long) w->opt.max_bytes);
	return ntg_error(err, NTG_ERR_NOMEM,
					 "biflows in progress would need more than %llu bytes of memory",
					 (unsigned long long) w->opt.max_state_bytes);
}

static int
flush_buffer(NtgPcapWriter *w, NtgError *err)
{
	size_t		n = w->len - w->opt.head_room;
	int			rc;

	if (n == 0)
		return NTG_OK;
	if ((rc = w->opt.flush(w->buf + w->opt.head_room, n, w->opt.flush_arg, err)) != NTG_OK)
		return rc;
	w->flushed += n;
	w->len = w->opt.head_room;
	return NTG_OK;
}

/*
 * Fault in the next stretch of a large buffer with one system call (Linux 5.14+; elsewhere, or
 * when refused, the pages fault in one by one as they are written).  A capture kept whole is
 * written once into fresh memory, and the per-page faults took most of the time of a large
 * ntg.write_pcap(): several microseconds each on a virtual machine, one per 4 kB.
 */
#define POPULATE_STEP	((size_t) 8 << 20)

static void
populate(NtgPcapWriter *w, size_t upto)
{
	upto = upto + POPULATE_STEP < w->cap ? upto + POPULATE_STEP : w->cap;
	if (upto > w->populated)
		ntg_mem_populate(w->buf + w->populated, upto - w->populated);
	w->populated = upto;
}

/* Room for n more bytes at w->buf + w->len (the caller adds n to w->len once written). */
static uint8_t *
reserve(NtgPcapWriter *w, size_t n, NtgError *err)
{
	size_t		head = w->opt.head_room;
	uint64_t	total = w->flushed + (w->len - head) + n;

	if (w->opt.max_bytes && total > w->opt.max_bytes)
	{
		limit_error(w, NTG_PCAPOUT_LIMIT_BYTES, err);
		return NULL;
	}
	if (w->opt.flush && w->len - head + n > FLUSH_CHUNK && flush_buffer(w, err) != NTG_OK)
		return NULL;
	if (w->len + n > w->cap)
	{
		size_t		cap = w->cap ? w->cap * 2 : 65536;
		uint8_t    *b;

		while (cap < w->len + n)
			cap *= 2;
		/* no more than the limit allows: a 1 GB bytea should not allocate 2 GB */
		if (w->opt.max_bytes && cap > head + w->opt.max_bytes)
			cap = head + w->opt.max_bytes;
		if (!(b = ntg_realloc(w->buf, cap)))
		{
			ntg_error(err, NTG_ERR_NOMEM, "out of memory for a capture of %zu bytes", cap);
			return NULL;
		}
		w->buf = b;
		w->cap = cap;
		w->populated = w->len;
	}
	if (!w->opt.flush && w->len + n > w->populated && w->cap >= POPULATE_STEP)
		populate(w, w->len + n);
	return w->buf + w->len;
}

/* ---- creation and classes ----------------------------------------------------------------- */

static int
check_options(const NtgPcapOutOptions *o, NtgError *err)
{
	if (o->protocol != 6 && o->protocol != 17)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "protocol %d is not supported", o->protocol);
	if (o->mss < 1 || o->mss > NTG_PCAPOUT_MAX_MSS)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "mss must be between 1 and %d",
						 NTG_PCAPOUT_MAX_MSS);
	if (o->start_us < 0)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "start_time must not be before 1970-01-01");
	if (o->flow_gap_us < 0 || o->packet_gap_us < 0)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "%s must not be negative",
						 o->flow_gap_us < 0 ? "flow_gap" : "packet_gap");
	if (o->payload != NTG_FILL_ZERO && o->payload != NTG_FILL_RANDOM)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "unknown payload fill %d", (int) o->payload);
	return NTG_OK;
}

NtgPcapWriter *
ntg_pcapout_create(const NtgPcapOutOptions *opt, NtgError *err)
{
	NtgPcapWriter *w;
	size_t		n;
	uint8_t    *p;
	NtgRng		keys;

	if (check_options(opt, err) != NTG_OK)
		return NULL;
	if (!(w = ntg_calloc(1, sizeof(NtgPcapWriter))))
	{
		ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		return NULL;
	}
	w->opt = *opt;
	w->len = opt->head_room;
	w->last_log = monotonic_seconds();
	ntg_rng_seed(&keys, mix64(opt->seed ^ 0x5ca1ab1e0ddba11ULL));
	for (int i = 0; i < 3; i++)
		w->perm_key[i] = (uint32_t) ntg_rng_u64(&keys);
	ntg_rng_seed(&w->start_rng, mix64(opt->seed ^ 0x57a27715e5ULL));
	n = ntg_pcapng_headers(NULL, opt->userappl);
	if (!(p = reserve(w, n, err)))
	{
		ntg_pcapout_destroy(w);
		return NULL;
	}
	ntg_pcapng_headers(p, opt->userappl);
	w->len += n;
	w->stats.bytes = n;
	return w;
}

static ClassEntry *
class_slot(const NtgPcapWriter *w, const char *label, size_t len, uint64_t h)
{
	size_t		mask = w->class_slots - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask)
	{
		ClassEntry *e = &w->classes[i];

		if (!e->label || (e->hash == h && e->len == len && memcmp(e->label, label, len) == 0))
			return e;
	}
}

static int
grow_classes(NtgPcapWriter *w)
{
	size_t		slots = w->class_slots ? w->class_slots * 2 : 16;
	ClassEntry *old = w->classes;
	size_t		nold = w->class_slots;

	if (!(w->classes = ntg_calloc(slots, sizeof(ClassEntry))))
	{
		w->classes = old;
		return NTG_ERR_NOMEM;
	}
	w->class_slots = slots;
	for (size_t i = 0; i < nold; i++)
		if (old[i].label)
			*class_slot(w, old[i].label, old[i].len, old[i].hash) = old[i];
	ntg_free(old);
	return NTG_OK;
}

int
ntg_pcapout_class(NtgPcapWriter *w, const char *label, size_t label_len, int protocol,
				  int srv_port, NtgError *err)
{
	uint64_t	h = label_hash(label, label_len);
	ClassEntry *e;

	if (protocol != 0 && protocol != 6 && protocol != 17)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "protocol %d is not supported", protocol);
	if (srv_port < 0 || srv_port > 65535)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "server port %d is out of range", srv_port);
	if ((w->nclasses + 1) * 2 > w->class_slots && grow_classes(w) != NTG_OK)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	e = class_slot(w, label, label_len, h);
	if (!e->label)
	{
		if (!(e->label = ntg_malloc(label_len + 1)))
			return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		memcpy(e->label, label, label_len);
		e->label[label_len] = '\0';
		e->len = label_len;
		e->hash = h;
		w->nclasses++;
	}
	e->protocol = protocol;
	e->srv_port = srv_port;
	return NTG_OK;
}

static const ClassEntry *
class_find(const NtgPcapWriter *w, const char *label, size_t len, uint64_t h)
{
	const ClassEntry *e;

	if (w->nclasses == 0 || !label)
		return NULL;
	e = class_slot(w, label, len, h);
	return e->label ? e : NULL;
}

/* ---- the heap of biflows in progress, ordered by (pending packet time, row) ---------------- */

static bool
earlier(const Live *a, const Live *b)
{
	return a->t_us < b->t_us || (a->t_us == b->t_us && a->order < b->order);
}

static void
sift_up(Live **h, size_t i)
{
	Live	   *x = h[i];

	while (i > 0 && earlier(x, h[(i - 1) / 2]))
	{
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = x;
}

static void
sift_down(Live **h, size_t n, size_t i)
{
	Live	   *x = h[i];

	for (;;)
	{
		size_t		c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && earlier(h[c + 1], h[c]))
			c++;
		if (!earlier(h[c], x))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

/* ---- packets ------------------------------------------------------------------------------ */

static int64_t
exp_gap(NtgRng *rng, int64_t mean_us)
{
	double		u = ntg_rng_double(rng);

	return (int64_t) llround(-(double) mean_us * log1p(-u));
}

static void
fill_random(NtgRng *rng, uint8_t *p, size_t n)
{
	while (n >= 8)
	{
		uint64_t	v = ntg_rng_u64(rng);

		memcpy(p, &v, 8);
		p += 8;
		n -= 8;
	}
	if (n)
	{
		uint64_t	v = ntg_rng_u64(rng);

		memcpy(p, &v, n);
	}
}

/* Write f's pending packet. */
static int
write_packet(NtgPcapWriter *w, Live *f, NtgError *err)
{
	const NtgPktSpec *s = &f->next;
	NtgPktHdr	h;
	static const char prefix[] = NTG_CAP_LABEL_PREFIX;
	size_t		plen = sizeof(prefix) - 1;
	bool		comment = f->comment_due && f->label;
	uint32_t	hl,
				caplen;
	size_t		total;
	uint8_t    *out,
			   *frame;

	h.family = f->family;
	h.protocol = f->conv.protocol;
	h.src = f->addr[s->dir];
	h.dst = f->addr[1 - s->dir];
	h.src_mac = f->mac[s->dir];
	h.dst_mac = f->mac[1 - s->dir];
	h.sport = f->port[s->dir];
	h.dport = f->port[1 - s->dir];
	h.ipid = f->ipid[s->dir]++;
	h.seq = s->seq;
	h.ack = s->ack;
	h.flags = s->flags;
	h.window = s->syn ? 65535 : WINDOW;	/* a SYN's window is never scaled */
	h.mss = s->syn ? (uint16_t) w->opt.mss : 0;
	h.wscale = WINDOW_SHIFT;
	h.payload_len = s->len;
	hl = ntg_pkt_header_len(&h);
	caplen = hl + s->len;
	total = ntg_pcapng_epb_size(caplen, comment ? plen + f->label_len : 0);
	if (!(out = reserve(w, total, err)))
		return err->code;
	frame = ntg_pcapng_epb_head(out, (uint32_t) total, (uint64_t) f->t_us, caplen);
	if (w->opt.payload == NTG_FILL_RANDOM)
		fill_random(&f->fill_rng, frame + hl, s->len);
	else
		memset(frame + hl, 0, s->len);
	ntg_pkt_build(frame, &h, w->opt.payload == NTG_FILL_ZERO);
	ntg_pcapng_epb_tail(frame, (uint32_t) total, caplen, comment ? prefix : NULL, plen,
						f->label, f->label_len);
	w->len += total;
	w->stats.bytes += total;
	w->stats.packets++;
	f->comment_due = false;
	return NTG_OK;
}

static void
progress(NtgPcapWriter *w)
{
	ntg_check_interrupts();
	if (w->opt.progress_seconds > 0 && (w->stats.packets & 65535) == 0 &&
		monotonic_seconds() - w->last_log >= w->opt.progress_seconds)
	{
		w->last_log = monotonic_seconds();
		ntg_log(NTG_LOG_NOTICE, "wrote %llu packets of %llu biflows (%.1f MB) so far",
				(unsigned long long) w->stats.packets, (unsigned long long) w->stats.biflows,
				w->stats.bytes / 1e6);
	}
}

/* Write the earliest pending packet; its biflow moves on or leaves the heap. */
static int
write_earliest(NtgPcapWriter *w, NtgError *err)
{
	Live	   *f = w->heap[0];
	int			rc;

	if ((rc = write_packet(w, f, err)) != NTG_OK)
		return rc;
	if ((w->stats.packets & 1023) == 0)
		progress(w);
	if (ntg_conv_next(&f->conv, &f->next))
	{
		int64_t		gap = exp_gap(&f->gap_rng, w->opt.packet_gap_us);

		f->t_us += gap < 1 ? 1 : gap;
		sift_down(w->heap, w->nheap, 0);
		return NTG_OK;
	}
	w->heap[0] = w->heap[--w->nheap];
	if (w->nheap)
		sift_down(w->heap, w->nheap, 0);
	w->state_bytes -= f->mem;
	ntg_free(f);
	return NTG_OK;
}

/* ---- biflows ------------------------------------------------------------------------------ */

/* A bijection of [0, 2^30) keyed by the seed: row number -> (client address, client port). */
static uint32_t
perm30(const NtgPcapWriter *w, uint64_t i)
{
	const uint32_t m = (1U << 30) - 1;
	uint32_t	x = (uint32_t) i & m;

	x = (x * 0x2545F491U + w->perm_key[0]) & m;
	x ^= x >> 15;
	x = (x * 0x1B873593U + w->perm_key[1]) & m;
	x ^= x >> 13;
	x = (x * 0x6C8E9CF5U + w->perm_key[2]) & m;
	x ^= x >> 16;
	return x;
}

/* Documented ranges: clients 198.18.0.0/16 or 2001:2:0:1::/64, servers 198.19.0.0/16 or
 * 2001:2:0:2::/64 (RFC 2544 / RFC 5180 benchmarking space). */
static void
draw_client_addr(uint8_t *a, int family, uint32_t host16)
{
	memset(a, 0, 16);
	if (family == 4)
	{
		a[0] = 198;
		a[1] = 18;
		a[2] = host16 >> 8;
		a[3] = host16 & 0xff;
		return;
	}
	a[0] = 0x20;
	a[1] = 0x01;
	a[3] = 0x02;
	a[7] = 0x01;
	a[14] = host16 >> 8;
	a[15] = host16 & 0xff;
}

static void
draw_server_addr(uint8_t *a, int family, uint64_t class_hash)
{
	uint32_t	host = 1 + (uint32_t) (class_hash % 65534);	/* .0.1 .. .255.254 */

	memset(a, 0, 16);
	if (family == 4)
	{
		a[0] = 198;
		a[1] = 19;
		a[2] = host >> 8;
		a[3] = host & 0xff;
		return;
	}
	a[0] = 0x20;
	a[1] = 0x01;
	a[3] = 0x02;
	a[7] = 0x02;
	a[14] = host >> 8;
	a[15] = host & 0xff;
}

static int
check_values(const NtgPcapOutFlow *fl, int protocol, int family, NtgError *err)
{
	int			udp_max = family == 4 ? NTG_PCAPOUT_MAX_UDP4 : NTG_PCAPOUT_MAX_UDP6;

	for (int i = 0; i < fl->npl; i++)
	{
		int64_t		v = fl->pl[i];

		if (v == 0)
		{
			ntg_error(err, NTG_ERR_INVALID_ARG, "payload length 0 at position %d of pl", i + 1);
			ntg_error_detail(err, "Every value stands for a packet with payload, so none is 0.");
			return NTG_ERR_INVALID_ARG;
		}
		if (protocol == 17 && (v > udp_max || -v > udp_max))
		{
			ntg_error(err, NTG_ERR_INVALID_ARG,
					  "UDP payload length %lld at position %d of pl is larger than one datagram",
					  (long long) v, i + 1);
			ntg_error_detail(err, "A UDP datagram over IPv%d carries at most %d bytes.", family, udp_max);
			return NTG_ERR_INVALID_ARG;
		}
	}
	return NTG_OK;
}

static int
check_flow(const NtgPcapOutFlow *fl, NtgError *err)
{
	if (fl->npl < 0 || (fl->npl > 0 && !fl->pl))
		return ntg_error(err, NTG_ERR_INVALID_ARG, "pl is missing");
	if (fl->label && fl->label_len > NTG_PCAPOUT_MAX_LABEL)
	{
		ntg_error(err, NTG_ERR_INVALID_ARG, "label is too long for a pcapng comment");
		ntg_error_detail(err, "A label has at most %d bytes; this one has %zu.",
						 NTG_PCAPOUT_MAX_LABEL, fl->label_len);
		return NTG_ERR_INVALID_ARG;
	}
	if (fl->protocol != 0 && fl->protocol != 6 && fl->protocol != 17)
	{
		ntg_error(err, NTG_ERR_INVALID_ARG, "protocol %d is not supported", fl->protocol);
		ntg_error_detail(err, "Use 6 (TCP) or 17 (UDP).");
		return NTG_ERR_INVALID_ARG;
	}
	if (fl->cli_port < 0 || fl->cli_port > 65535 || fl->srv_port < 0 || fl->srv_port > 65535)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "%s %d is out of range",
						 fl->cli_port < 0 || fl->cli_port > 65535 ? "client_port" : "server_port",
						 fl->cli_port < 0 || fl->cli_port > 65535 ? fl->cli_port : fl->srv_port);
	if (fl->cli_family && fl->srv_family && fl->cli_family != fl->srv_family)
	{
		ntg_error(err, NTG_ERR_INVALID_ARG, "client_ip and server_ip are of different address families");
		ntg_error_detail(err, "The client address is IPv%d, the server address IPv%d.",
						 fl->cli_family, fl->srv_family);
		return NTG_ERR_INVALID_ARG;
	}
	if (fl->start_given && fl->start_us < 0)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "start_time must not be before 1970-01-01");
	return NTG_OK;
}

static int
start_of(NtgPcapWriter *w, const NtgPcapOutFlow *fl, int64_t *start, NtgError *err)
{
	if (fl->start_given)
	{
		if (w->any_start && fl->start_us < w->last_start)
		{
			ntg_error(err, NTG_ERR_INVALID_ARG, "start_time is earlier than the previous biflow's");
			ntg_error_detail(err, "Biflows are written in order of start time; this one starts %lld microseconds before the previous one.",
							 (long long) (w->last_start - fl->start_us));
			return NTG_ERR_INVALID_ARG;
		}
		*start = fl->start_us;
	}
	else if (!w->any_start)
		*start = w->opt.start_us;
	else
		*start = w->last_start + exp_gap(&w->start_rng, w->opt.flow_gap_us);
	w->any_start = true;
	w->last_start = *start;
	return NTG_OK;
}

/* A new biflow in progress, endpoints filled in. */
static Live *
new_live(NtgPcapWriter *w, const NtgPcapOutFlow *fl, int protocol, int srv_port_class,
		 uint64_t class_hash)
{
	size_t		mem = sizeof(Live) + sizeof(int32_t) * (size_t) fl->npl + (fl->label ? fl->label_len + 1 : 0);
	Live	   *f = ntg_malloc(mem);
	uint64_t	order = w->stats.biflows;
	uint32_t	x = perm30(w, order);
	int			family = fl->cli_family ? fl->cli_family : fl->srv_family ? fl->srv_family : 4;
	int			alen = family == 4 ? 4 : 16;
	uint64_t	flow_seed = mix64(w->opt.seed ^ mix64(order + 0x9e3779b97f4a7c15ULL));

	if (!f)
		return NULL;
	memset(f, 0, sizeof(Live));
	f->mem = mem;
	f->order = order;
	f->family = (uint8_t) family;
	if (fl->npl > 0)
		memcpy(f->pl, fl->pl, sizeof(int32_t) * (size_t) fl->npl);
	if (fl->label)
	{
		char	   *l = (char *) (f->pl + fl->npl);

		memcpy(l, fl->label, fl->label_len);
		l[fl->label_len] = '\0';
		f->label = l;
		f->label_len = fl->label_len;
		f->comment_due = true;
	}
	if (fl->cli_family)
		memcpy(f->addr[0], fl->cli_addr, 16);
	else
		draw_client_addr(f->addr[0], family, x >> 14);
	if (fl->srv_family)
		memcpy(f->addr[1], fl->srv_addr, 16);
	else
		draw_server_addr(f->addr[1], family, class_hash);
	f->port[0] = (uint16_t) (fl->cli_port ? fl->cli_port : 49152 + (x & 0x3fff));
	f->port[1] = (uint16_t) (fl->srv_port ? fl->srv_port : srv_port_class ? srv_port_class :
							 49152 + (int) ((class_hash >> 32) % 16384));
	for (int d = 0; d < 2; d++)
	{
		/* locally administered unicast MACs from the addresses: 02:00 + last four bytes */
		f->mac[d][0] = 0x02;
		f->mac[d][1] = 0x00;
		memcpy(f->mac[d] + 2, f->addr[d] + alen - 4, 4);
	}
	ntg_rng_seed(&f->gap_rng, flow_seed);
	ntg_rng_seed(&f->fill_rng, mix64(flow_seed ^ 0xf111f111f111f111ULL));
	f->ipid[0] = (uint16_t) ntg_rng_u64(&f->gap_rng);
	f->ipid[1] = (uint16_t) ntg_rng_u64(&f->gap_rng);
	{
		uint64_t	isn = ntg_rng_u64(&f->gap_rng);

		ntg_conv_init(&f->conv, protocol, f->pl, fl->npl, (uint32_t) w->opt.mss,
					  (uint32_t) isn, (uint32_t) (isn >> 32));
	}
	ntg_conv_next(&f->conv, &f->next);	/* every conversation has a first packet */
	return f;
}

int
ntg_pcapout_add(NtgPcapWriter *w, const NtgPcapOutFlow *fl, NtgError *err)
{
	uint64_t	lh = label_hash(fl->label ? fl->label : "", fl->label ? fl->label_len : 0);
	const ClassEntry *cls = class_find(w, fl->label, fl->label_len, lh);
	int			protocol = fl->protocol ? fl->protocol :
		cls && cls->protocol ? cls->protocol : w->opt.protocol;
	int			family = fl->cli_family ? fl->cli_family : fl->srv_family ? fl->srv_family : 4;
	int64_t		start;
	Live	   *f;
	int			rc;

	if ((rc = check_flow(fl, err)) != NTG_OK || (rc = check_values(fl, protocol, family, err)) != NTG_OK)
		return rc;
	if ((rc = start_of(w, fl, &start, err)) != NTG_OK)
		return rc;
	while (w->nheap && w->heap[0]->t_us <= start)
		if ((rc = write_earliest(w, err)) != NTG_OK)
			return rc;
	if (w->nheap == w->heapcap)
	{
		size_t		cap = w->heapcap ? w->heapcap * 2 : 64;
		Live	  **hp = ntg_realloc(w->heap, sizeof(Live *) * cap);

		if (!hp)
			return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		w->heap = hp;
		w->heapcap = cap;
	}
	if (!(f = new_live(w, fl, protocol, cls ? cls->srv_port : 0, mix64(w->opt.seed ^ lh))))
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if (w->opt.max_state_bytes && w->state_bytes + f->mem > w->opt.max_state_bytes)
	{
		ntg_free(f);
		return limit_error(w, NTG_PCAPOUT_LIMIT_STATE, err);
	}
	w->state_bytes += f->mem;
	f->t_us = start;
	w->heap[w->nheap++] = f;
	sift_up(w->heap, w->nheap - 1);
	w->stats.biflows++;
	return NTG_OK;
}

int
ntg_pcapout_finish(NtgPcapWriter *w, NtgError *err)
{
	int			rc;

	while (w->nheap)
		if ((rc = write_earliest(w, err)) != NTG_OK)
			return rc;
	if (w->opt.flush)
		return flush_buffer(w, err);
	return NTG_OK;
}

uint8_t *
ntg_pcapout_buffer(NtgPcapWriter *w, size_t *len)
{
	*len = w->len - w->opt.head_room;
	return w->buf + w->opt.head_room;
}

uint8_t *
ntg_pcapout_take_buffer(NtgPcapWriter *w, size_t *len_with_head)
{
	uint8_t    *b = w->buf;

	*len_with_head = w->len;
	w->buf = NULL;
	w->len = w->cap = 0;
	return b;
}

void
ntg_pcapout_stats(const NtgPcapWriter *w, NtgPcapOutStats *out)
{
	*out = w->stats;
}

NtgPcapOutLimit
ntg_pcapout_limit_hit(const NtgPcapWriter *w)
{
	return w->limit;
}

void
ntg_pcapout_destroy(NtgPcapWriter *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->nheap; i++)
		ntg_free(w->heap[i]);
	for (size_t i = 0; i < w->class_slots; i++)
		ntg_free(w->classes[i].label);
	ntg_free(w->classes);
	ntg_free(w->heap);
	ntg_free(w->buf);
	ntg_free(w);
}
