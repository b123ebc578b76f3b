/*
 * flowtab.c — biflow table (see flowtab.h).
 *
 * Client (docs/capture.md): a TCP SYN names it (its sender; the receiver of a SYN+ACK).  A TCP
 * biflow seen without one (the capture began mid-connection) gets, with NTG_CLIENT_PORT, the port
 * rule: the endpoint whose port is of the lower class — well-known < 1024, then < 32768, then
 * the ephemeral range — is the server; ports of one class leave the first sender as client.  A
 * SYN seen later still decides, and the flow's counters and signs are turned round if it names
 * the other side.  UDP keeps the first sender as client (no handshake; the sender of the first
 * datagram began the exchange).  NTG_CLIENT_FIRST is 0.1.0's rule: the sender of the first
 * packet, or its receiver when that packet is a SYN+ACK.
 *
 * Ending a biflow: a packet at least idle_timeout after its flow's last packet, or at least
 * active_timeout after its first, finds the flow expired: the flow is emitted and the packet
 * starts a new one, as NFStream does.  With split_on_syn, a SYN on a TCP connection that has
 * closed (FIN both ways, or a RST) does the same, as flow exporters do for a reused port pair.
 * These checks are made per packet, so they are exact whatever the order of the lists below.
 *
 * Memory: flows that see no more packets are found from the heads of two lists and emitted as
 * they time out.  The idle list is ordered lazily: a packet only updates its flow's last_ns; when
 * the flow reaches the head, it is emitted if really idle, otherwise moved to the tail.  This keeps
 * the per-packet work to one hash lookup (no list relinking, which touches two other flows'
 * memory), at the price of emitting an idle flow up to one idle_timeout later than it expired.
 * "now" is the largest timestamp seen, so a few out-of-order packets do not expire flows early.
 * Flows are carved from chunks of FLOWS_PER_CHUNK and keep PL_INLINE signed PLs inline; a longer
 * sequence (n > PL_INLINE) grows in its own array as payload packets come, so a flow costs what
 * it holds, never n x 4 bytes up front.  With a memory limit, a flow that would need memory
 * beyond it (a new chunk, a longer sequence) first ends the flow idle the longest (found from the
 * lazy list as above) and takes its place; ntg_flowtab_ended_early() counts them.
 */
#include "capture/flowtab.h"

#include <string.h>

#define PL_INLINE		10
#define FLOWS_PER_CHUNK	1024

/* Flow.tcp bits: FIN from each endpoint of the key, a RST, a client named by a SYN. */
#define TCP_FIN_A		0x01
#define TCP_FIN_B		0x02
#define TCP_RST			0x04
#define TCP_SYN_CLIENT	0x08

#define TH_FIN			0x01
#define TH_SYN			0x02
#define TH_RST			0x04
#define TH_ACK			0x10

typedef struct FlowKey
{
	uint8_t		a[16];			/* canonical order: (a, pa) < (b, pb) */
	uint8_t		b[16];
	uint16_t	pa;
	uint16_t	pb;
	uint8_t		family;
	uint8_t		protocol;
	uint8_t		pad[2];
} FlowKey;

_Static_assert(sizeof(FlowKey) == sizeof(((NtgPacket *) 0)->flow_key),
			   "NtgPacket.flow_key holds a FlowKey");

/* Laid out so that a packet touches two cache lines: lookup (line 0), counters (line 1). */
typedef struct Flow
{
	uint64_t	hash;
	struct Flow *hnext;
	FlowKey		key;
	bool		client_is_a;
	uint8_t		sni_tries;
	uint8_t		tcp;			/* TCP_* */
	int			npl;
	int64_t		first_ns,
				last_ns;
	uint64_t	packets[2],
				bytes[2],
				payload_bytes[2];
	uint64_t	payload_packets;
	int64_t		lru_stamp;		/* last_ns when linked into the idle list */
	struct Flow *lru_prev,
			   *lru_next;		/* by lru_stamp: idle expiry from the head */
	struct Flow *age_prev,
			   *age_next;		/* by creation: active expiry and final order */
	uint64_t	serial;
	char	   *sni;
	char	   *label;			/* from a packet comment (ntg_flowtab_label) */
	int32_t    *plx;			/* the whole sequence once it outgrows pl[] */
	int			plcap;			/* values plx holds */
	int32_t		pl[PL_INLINE];	/* only min(n, PL_INLINE) of them are allocated */
} Flow;

typedef struct List
{
	Flow	   *head,
			   *tail;
} List;

struct NtgFlowTable
{
	NtgCaptureOptions opt;
	int64_t		idle_ns,
				active_ns;		/* 0 = off */
	NtgBiflowEmit emit;
	void	   *arg;
	Flow	  **buckets;
	uint64_t	nbuckets;		/* power of two */
	uint64_t	live;
	uint64_t	emitted;
	uint64_t	pl_over;
	uint64_t	ended_early;
	uint64_t	next_serial;
	int64_t		now;
	int64_t		last_expire;
	List		lru,
				age;
	Flow	   *last;			/* flow of the packet last added */
	Flow	   *freelist;
	int			pl_inline;		/* min(n, PL_INLINE) */
	size_t		mem,
				peak;			/* bytes held: chunks, buckets, sequences, SNI */
	/* flows are carved from chunks (one allocation per FLOWS_PER_CHUNK flows) */
	size_t		flow_size;
	uint8_t    *chunk;
	int			chunk_left;
	void	  **chunks;
	int			nchunks,
				chunks_cap;
};

#define LINK(list, f, prev, next) do { \
	(f)->prev = (list)->tail; (f)->next = NULL; \
	if ((list)->tail) (list)->tail->next = (f); else (list)->head = (f); \
	(list)->tail = (f); } while (0)
#define UNLINK(list, f, prev, next) do { \
	if ((f)->prev) (f)->prev->next = (f)->next; else (list)->head = (f)->next; \
	if ((f)->next) (f)->next->prev = (f)->prev; else (list)->tail = (f)->prev; } while (0)

static void
mem_add(NtgFlowTable *t, size_t bytes)
{
	t->mem += bytes;
	if (t->mem > t->peak)
		t->peak = t->mem;
}

NtgFlowTable *
ntg_flowtab_create(const NtgCaptureOptions *opt, NtgBiflowEmit emit, void *arg)
{
	NtgFlowTable *t = ntg_calloc(1, sizeof(NtgFlowTable));

	if (!t)
		return NULL;
	t->opt = *opt;
	if (t->opt.memory_limit && t->opt.memory_limit < NTG_FLOWTAB_MIN_MEMORY)
		t->opt.memory_limit = NTG_FLOWTAB_MIN_MEMORY;
	t->idle_ns = opt->idle_timeout > 0 ? (int64_t) (opt->idle_timeout * 1e9) : 0;
	t->active_ns = opt->active_timeout > 0 ? (int64_t) (opt->active_timeout * 1e9) : 0;
	t->emit = emit;
	t->arg = arg;
	t->nbuckets = 1024;
	t->pl_inline = opt->n < PL_INLINE ? opt->n : PL_INLINE;
	t->flow_size = (offsetof(Flow, pl) + sizeof(int32_t) * (size_t) t->pl_inline + 63) & ~(size_t) 63;
	t->buckets = ntg_calloc(t->nbuckets, sizeof(Flow *));
	t->now = INT64_MIN;
	t->last_expire = INT64_MIN;
	if (!t->buckets)
	{
		ntg_free(t);
		return NULL;
	}
	mem_add(t, sizeof(NtgFlowTable) + t->nbuckets * sizeof(Flow *));
	return t;
}

static uint64_t
key_hash(const FlowKey *k)
{
	uint64_t	w[5],
				h = 0x9E3779B97F4A7C15ULL;

	memcpy(w, k, sizeof(w));
	for (int i = 0; i < 5; i++)
	{
		h ^= w[i] + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
		h *= 0xBF58476D1CE4E5B9ULL;
		h ^= h >> 31;
	}
	return h;
}

/* Canonical key of a packet; *from_a says whether the packet's source is endpoint a. */
static void
make_key(const NtgPacket *p, FlowKey *k, bool *from_a)
{
	int			len = p->family == 4 ? 4 : 16;
	int			c = memcmp(p->src, p->dst, len);

	if (c == 0)
		c = (int) p->sport - (int) p->dport;
	*from_a = c <= 0;
	memset(k, 0, sizeof(*k));
	memcpy(k->a, *from_a ? p->src : p->dst, len);
	memcpy(k->b, *from_a ? p->dst : p->src, len);
	k->pa = *from_a ? p->sport : p->dport;
	k->pb = *from_a ? p->dport : p->sport;
	k->family = p->family;
	k->protocol = p->protocol;
}

static inline bool
key_equal(const FlowKey *x, const FlowKey *y)
{
	uint64_t	a[5],
				b[5];

	memcpy(a, x, sizeof(a));
	memcpy(b, y, sizeof(b));
	return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4])) == 0;
}

static Flow *
lookup(const NtgFlowTable *t, const FlowKey *k, uint64_t h)
{
	Flow	   *f;

	for (f = t->buckets[h & (t->nbuckets - 1)]; f; f = f->hnext)
		if (f->hash == h && key_equal(&f->key, k))
			break;
	return f;
}

static int
grow(NtgFlowTable *t)
{
	uint64_t	n = t->nbuckets * 2;
	Flow	  **nb = ntg_calloc(n, sizeof(Flow *));

	if (!nb)
		return NTG_ERR_NOMEM;
	for (uint64_t i = 0; i < t->nbuckets; i++)
	{
		Flow	   *f = t->buckets[i],
				   *next;

		for (; f; f = next)
		{
			next = f->hnext;
			f->hnext = nb[f->hash & (n - 1)];
			nb[f->hash & (n - 1)] = f;
		}
	}
	ntg_free(t->buckets);
	mem_add(t, t->nbuckets * sizeof(Flow *));
	t->buckets = nb;
	t->nbuckets = n;
	return 0;
}

static inline int32_t *
seq_of(Flow *f)
{
	return f->plx ? f->plx : f->pl;
}

static int
emit_flow(NtgFlowTable *t, Flow *f)
{
	NtgBiflow	b;
	int			len = f->key.family == 4 ? 4 : 16;

	memset(&b, 0, sizeof(b));
	b.family = f->key.family;
	b.protocol = f->key.protocol;
	memcpy(b.cli_addr, f->client_is_a ? f->key.a : f->key.b, len);
	memcpy(b.srv_addr, f->client_is_a ? f->key.b : f->key.a, len);
	b.cli_port = f->client_is_a ? f->key.pa : f->key.pb;
	b.srv_port = f->client_is_a ? f->key.pb : f->key.pa;
	b.first_ns = f->first_ns;
	b.last_ns = f->last_ns;
	memcpy(b.packets, f->packets, sizeof(b.packets));
	memcpy(b.bytes, f->bytes, sizeof(b.bytes));
	memcpy(b.payload_bytes, f->payload_bytes, sizeof(b.payload_bytes));
	b.payload_packets = f->payload_packets;
	b.npl = f->npl;
	b.pl = seq_of(f);
	b.sni = f->sni;
	b.label = f->label;
	t->emitted++;
	return t->emit ? t->emit(&b, t->arg) : 0;
}

/* Free what a flow holds besides its slot, and put the slot on the freelist. */
static void
release(NtgFlowTable *t, Flow *f)
{
	if (f->sni)
	{
		t->mem -= strlen(f->sni) + 1;
		ntg_free(f->sni);
	}
	if (f->label)
	{
		t->mem -= strlen(f->label) + 1;
		ntg_free(f->label);
	}
	if (f->plx)
	{
		t->mem -= sizeof(int32_t) * (size_t) f->plcap;
		ntg_free(f->plx);
	}
	if (t->last == f)
		t->last = NULL;
	f->hnext = t->freelist;
	t->freelist = f;
}

/* Take a flow out of the table and the lists, emit it, and keep its memory for reuse. */
static int
retire(NtgFlowTable *t, Flow *f)
{
	Flow	  **pp = &t->buckets[f->hash & (t->nbuckets - 1)];
	int			rc;

	while (*pp != f)
		pp = &(*pp)->hnext;
	*pp = f->hnext;
	UNLINK(&t->lru, f, lru_prev, lru_next);
	UNLINK(&t->age, f, age_prev, age_next);
	t->live--;
	rc = emit_flow(t, f);
	release(t, f);
	return rc;
}

static bool
timed_out(const NtgFlowTable *t, const Flow *f, int64_t now)
{
	return (t->idle_ns && now - f->last_ns >= t->idle_ns) ||
		(t->active_ns && now - f->first_ns >= t->active_ns);
}

/* Move the head of the idle list to the tail, stamped with its last packet. */
static void
relink_lru_head(NtgFlowTable *t)
{
	Flow	   *f = t->lru.head;

	UNLINK(&t->lru, f, lru_prev, lru_next);
	f->lru_stamp = f->last_ns;
	LINK(&t->lru, f, lru_prev, lru_next);
}

static int
expire(NtgFlowTable *t)
{
	int			rc;

	while (t->idle_ns && t->lru.head && t->now - t->lru.head->lru_stamp >= t->idle_ns)
	{
		if (timed_out(t, t->lru.head, t->now))
		{
			if ((rc = retire(t, t->lru.head)) != 0)
				return rc;
		}
		else
			relink_lru_head(t);
	}
	while (t->active_ns && t->age.head && t->now - t->age.head->first_ns >= t->active_ns)
		if ((rc = retire(t, t->age.head)) != 0)
			return rc;
	return 0;
}

/*
 * End the flow idle the longest (but not keep) to make room: the head of the idle list once every
 * flow before it that saw packets since it was linked has moved to the tail.  Returns 0 and sets
 * *ended, or emit's status; *ended is false when keep is the only flow left.
 */
static int
end_idlest(NtgFlowTable *t, const Flow *keep, bool *ended)
{
	*ended = false;
	while (t->lru.head)
	{
		Flow	   *f = t->lru.head;

		if (f->lru_stamp < f->last_ns || (f == keep && t->lru.tail != f))
		{
			relink_lru_head(t);
			continue;
		}
		if (f == keep)
			return 0;
		t->ended_early++;
		*ended = true;
		return retire(t, f);
	}
	return 0;
}

static bool
over_limit(const NtgFlowTable *t, size_t more)
{
	return t->opt.memory_limit && t->mem + more > t->opt.memory_limit;
}

/*
 * Memory for one more flow: from the freelist, else from the current chunk, else a new chunk
 * (or, at the memory limit, the place of the flow idle the longest).  A new chunk's pages are
 * faulted in with one system call (ntg_mem_populate): a capture of many short flows otherwise
 * took a page fault per 4 kB of flows, 15 % of the core's time on a virtual machine.  The next
 * slot of the chunk is prefetched for writing: zeroing a new flow otherwise stalled on a cache
 * miss per flow.
 */
static int
alloc_flow(NtgFlowTable *t, Flow **out)
{
	size_t		chunk_bytes = t->flow_size * FLOWS_PER_CHUNK + 64;
	int			rc;

	*out = NULL;
	if (!t->freelist && t->chunk_left == 0 && t->nchunks > 0 && over_limit(t, chunk_bytes))
	{
		bool		ended;

		if ((rc = end_idlest(t, NULL, &ended)) != 0)
			return rc;
	}
	if (t->freelist)
	{
		*out = t->freelist;
		t->freelist = (*out)->hnext;
		return 0;
	}
	if (t->chunk_left == 0)
	{
		if (t->nchunks == t->chunks_cap)
		{
			int			cap = t->chunks_cap ? t->chunks_cap * 2 : 16;
			void	  **c = ntg_realloc(t->chunks, sizeof(void *) * cap);

			if (!c)
				return NTG_ERR_NOMEM;
			mem_add(t, sizeof(void *) * (cap - t->chunks_cap));
			t->chunks = c;
			t->chunks_cap = cap;
		}
		if (!(t->chunk = ntg_malloc(chunk_bytes)))
			return NTG_ERR_NOMEM;
		ntg_mem_populate(t->chunk, chunk_bytes);
		mem_add(t, chunk_bytes);
		t->chunks[t->nchunks++] = t->chunk;
		/* cache-line aligned flows */
		t->chunk += (64 - ((uintptr_t) t->chunk & 63)) & 63;
		t->chunk_left = FLOWS_PER_CHUNK;
	}
	*out = (Flow *) t->chunk;
	t->chunk += t->flow_size;
	t->chunk_left--;
	if (t->chunk_left > 0)
		for (size_t off = 0; off < t->flow_size; off += 64)
			__builtin_prefetch(t->chunk + off, 1);
	return 0;
}

/* Which endpoint the port rule makes the server: 1 the destination, -1 the source, 0 neither. */
static int
port_rule(uint16_t sport, uint16_t dport)
{
	int			cs = sport < 1024 ? 0 : sport < 32768 ? 1 : 2,
				cd = dport < 1024 ? 0 : dport < 32768 ? 1 : 2;

	return cd < cs ? 1 : cd > cs ? -1 : 0;
}

/* Client of a new flow whose first packet p came from endpoint a (from_a) or b. */
static bool
first_client_is_a(const NtgFlowTable *t, const NtgPacket *p, bool from_a, bool *by_syn)
{
	*by_syn = false;
	if (p->protocol == 6 && (p->tcp_flags & TH_SYN))
	{
		*by_syn = true;
		return (p->tcp_flags & TH_ACK) ? !from_a : from_a;
	}
	if (t->opt.client_rule == NTG_CLIENT_PORT && p->protocol == 6)
	{
		int			s = port_rule(p->sport, p->dport);

		if (s != 0)
			return s > 0 ? from_a : !from_a;
	}
	return from_a;
}

static int
new_flow(NtgFlowTable *t, const FlowKey *k, uint64_t h, const NtgPacket *p, bool from_a,
		 int64_t ts, Flow **out)
{
	Flow	   *f;
	bool		by_syn;
	int			rc;

	if ((rc = alloc_flow(t, &f)) != 0)
		return rc;
	/* ending a flow for memory may have shrunk nothing, but the table may need more buckets */
	if (t->live >= t->nbuckets && grow(t) != 0)
	{
		f->hnext = t->freelist;
		t->freelist = f;
		return NTG_ERR_NOMEM;
	}
	memset(f, 0, offsetof(Flow, pl));
	f->key = *k;
	f->hash = h;
	f->client_is_a = first_client_is_a(t, p, from_a, &by_syn);
	f->tcp = by_syn ? TCP_SYN_CLIENT : 0;
	f->serial = ++t->next_serial;
	f->first_ns = ts;
	f->last_ns = ts;
	f->lru_stamp = ts;
	f->hnext = t->buckets[h & (t->nbuckets - 1)];
	t->buckets[h & (t->nbuckets - 1)] = f;
	LINK(&t->lru, f, lru_prev, lru_next);
	LINK(&t->age, f, age_prev, age_next);
	t->live++;
	*out = f;
	return 0;
}

/* A SYN seen after the flow began names the client: turn the flow round if it is the other. */
static void
client_from_syn(Flow *f, const NtgPacket *p, bool from_a)
{
	bool		client_is_a = (p->tcp_flags & TH_ACK) ? !from_a : from_a;

	f->tcp |= TCP_SYN_CLIENT;
	if (client_is_a == f->client_is_a)
		return;
	f->client_is_a = client_is_a;
#define SWAP2(x) do { uint64_t tmp_ = (x)[0]; (x)[0] = (x)[1]; (x)[1] = tmp_; } while (0)
	SWAP2(f->packets);
	SWAP2(f->bytes);
	SWAP2(f->payload_bytes);
#undef SWAP2
	for (int i = 0; i < f->npl; i++)
		seq_of(f)[i] = -seq_of(f)[i];
}

/* Room for one more PL value in f's sequence (which is shorter than n). */
static int
seq_room(NtgFlowTable *t, Flow *f)
{
	int			cap,
				rc;
	int32_t    *n;
	bool		ended = true;

	if (f->npl < (f->plx ? f->plcap : t->pl_inline))
		return 0;
	cap = f->plx ? f->plcap * 2 : 2 * PL_INLINE;
	if (cap > t->opt.n)
		cap = t->opt.n;
	/* at the limit, end other flows first; a lone flow may pass it by one sequence */
	while (ended && over_limit(t, sizeof(int32_t) * (size_t) (cap - f->plcap)))
		if ((rc = end_idlest(t, f, &ended)) != 0)
			return rc;
	if (!(n = ntg_realloc(f->plx, sizeof(int32_t) * (size_t) cap)))
		return NTG_ERR_NOMEM;
	if (!f->plx)
		memcpy(n, f->pl, sizeof(int32_t) * (size_t) f->npl);
	mem_add(t, sizeof(int32_t) * (size_t) (cap - f->plcap));
	f->plx = n;
	f->plcap = cap;
	return 0;
}

/* Count a payload packet's PL in direction dir; *slot gets its index in the sequence or -1. */
static int
add_pl(NtgFlowTable *t, Flow *f, int32_t pl, int dir, int32_t *slot)
{
	int			rc;

	*slot = -1;
	f->payload_packets++;
	f->payload_bytes[dir] += (uint64_t) pl;
	if (f->npl >= t->opt.n)
		return 0;
	if ((rc = seq_room(t, f)) != 0)
		return rc;
	*slot = f->npl;
	seq_of(f)[f->npl++] = dir == 0 ? pl : -pl;
	if (pl > 32767)
		t->pl_over++;
	return 0;
}

static int
account(NtgFlowTable *t, Flow *f, const NtgPacket *p, int dir, int32_t *slot)
{
	int			rc;

	f->packets[dir]++;
	f->bytes[dir] += p->ip_bytes;
	*slot = -1;
	if (p->pl <= 0)
		return 0;
	if ((rc = add_pl(t, f, p->pl, dir, slot)) != 0)
		return rc;
	/* SNI: the first few client payload segments of a TCP flow may start a ClientHello. */
	if (dir == 0 && p->protocol == 6 && !f->sni && f->sni_tries < 3 && p->payload_caplen >= 6)
	{
		char		name[NTG_CAP_SNI_MAX + 1];
		int			len;

		f->sni_tries++;
		if ((len = ntg_tls_sni(p->payload, p->payload_caplen, name, sizeof(name))) > 0 &&
			(f->sni = ntg_strdup(name)) != NULL)
			mem_add(t, (size_t) len + 1);
	}
	return 0;
}

static void
tcp_state(Flow *f, const NtgPacket *p, bool from_a)
{
	if (p->tcp_flags & TH_RST)
		f->tcp |= TCP_RST;
	if (p->tcp_flags & TH_FIN)
		f->tcp |= from_a ? TCP_FIN_A : TCP_FIN_B;
}

static bool
tcp_closed(const Flow *f)
{
	return (f->tcp & TCP_RST) || (f->tcp & (TCP_FIN_A | TCP_FIN_B)) == (TCP_FIN_A | TCP_FIN_B);
}

/* Expiry from the list heads bounds memory; 10 ms of capture time between sweeps is plenty. */
static int
advance_clock(NtgFlowTable *t, int64_t ts)
{
	if (ts <= t->now)
		return 0;
	t->now = ts;
	if (t->last_expire == INT64_MIN)
		t->last_expire = ts;
	if (t->now - t->last_expire < 10000000)
		return 0;
	t->last_expire = t->now;
	return expire(t);
}

int
ntg_flowtab_add_ref(NtgFlowTable *t, const NtgPacket *p, int64_t ts, NtgFlowRef *ref)
{
	FlowKey		k;
	bool		from_a;
	uint64_t	h;
	Flow	   *f;
	int32_t		slot;
	int			rc;

	if ((rc = advance_clock(t, ts)) != 0)
		return rc;
	if (p->flow_hash)
	{
		memcpy(&k, p->flow_key, sizeof(k));
		from_a = p->flow_from_a;
		h = p->flow_hash;
	}
	else
	{
		make_key(p, &k, &from_a);
		h = key_hash(&k);
	}
	f = lookup(t, &k, h);
	/* The exact per-packet checks: an expired flow, or a new connection on a closed one, ends
	 * here and the packet starts anew. */
	if (f && (timed_out(t, f, ts) ||
			  (p->protocol == 6 && (p->tcp_flags & TH_SYN) && t->opt.split_on_syn && tcp_closed(f))))
	{
		if ((rc = retire(t, f)) != 0)
			return rc;
		f = NULL;
	}
	if (!f)
	{
		if ((rc = new_flow(t, &k, h, p, from_a, ts, &f)) != 0)
			return rc;
	}
	else if (p->protocol == 6 && (p->tcp_flags & TH_SYN) && !(f->tcp & TCP_SYN_CLIENT) &&
			 t->opt.client_rule == NTG_CLIENT_PORT)
		client_from_syn(f, p, from_a);
	if (ts > f->last_ns)
		f->last_ns = ts;
	if (ts < f->first_ns)
		f->first_ns = ts;
	if ((rc = account(t, f, p, from_a == f->client_is_a ? 0 : 1, &slot)) != 0)
		return rc;
	if (p->protocol == 6)
		tcp_state(f, p, from_a);
	t->last = f;
	if (ref)
	{
		ref->serial = f->serial;
		ref->from_a = from_a;
		ref->slot = slot;
		ref->has_payload = p->pl > 0;
	}
	return 0;
}

void
ntg_flowtab_prefetch(NtgFlowTable *t, NtgPacket *p, int stage)
{
	if (stage == 0)
	{
		FlowKey		k;

		make_key(p, &k, &p->flow_from_a);
		memcpy(p->flow_key, &k, sizeof(k));
		p->flow_hash = key_hash(&k);
		__builtin_prefetch(&t->buckets[p->flow_hash & (t->nbuckets - 1)]);
	}
	else if (p->flow_hash)
	{
		Flow	   *f = t->buckets[p->flow_hash & (t->nbuckets - 1)];

		if (f)
		{
			__builtin_prefetch(f);
			__builtin_prefetch((const char *) f + 64);
		}
	}
}

int
ntg_flowtab_add(NtgFlowTable *t, const NtgPacket *p, int64_t ts)
{
	return ntg_flowtab_add_ref(t, p, ts, NULL);
}

int
ntg_flowtab_add_fragments(NtgFlowTable *t, const NtgPacket *p, NtgFlowRef *ref, int64_t first,
						  int64_t ts, uint32_t packets, uint64_t ip_bytes, uint32_t payload)
{
	FlowKey		k;
	bool		from_a;
	Flow	   *f;
	int			dir,
				rc;

	if ((rc = advance_clock(t, ts)) != 0)
		return rc;
	make_key(p, &k, &from_a);
	f = lookup(t, &k, key_hash(&k));
	t->last = NULL;
	if (!f || f->serial != ref->serial || timed_out(t, f, ts))
		return 0;
	t->last = f;
	if (ts > f->last_ns)
		f->last_ns = ts;
	if (first < f->first_ns)
		f->first_ns = first;
	dir = ref->from_a == f->client_is_a ? 0 : 1;
	f->packets[dir] += packets;
	f->bytes[dir] += ip_bytes;
	if (payload == 0)
		return 1;
	if (!ref->has_payload)
	{
		/* the first fragment carried only headers: this payload is the datagram's PL */
		ref->has_payload = true;
		if ((rc = add_pl(t, f, (int32_t) payload, dir, &ref->slot)) != 0)
			return rc;
		return 1;
	}
	f->payload_bytes[dir] += payload;
	if (ref->slot >= 0 && ref->slot < f->npl)
	{
		int32_t    *v = &seq_of(f)[ref->slot];
		int32_t		mag = (*v < 0 ? -*v : *v);

		if (mag <= 32767 && mag + (int32_t) payload > 32767)
			t->pl_over++;
		*v = *v < 0 ? *v - (int32_t) payload : *v + (int32_t) payload;
	}
	return 1;
}

int
ntg_flowtab_label(NtgFlowTable *t, const char *label, size_t len)
{
	Flow	   *f = t->last;
	const char *nul = memchr(label, '\0', len);

	if (!f || f->label)
		return 0;
	if (nul)
		len = nul - label;
	if (!(f->label = ntg_malloc(len + 1)))
		return NTG_ERR_NOMEM;
	memcpy(f->label, label, len);
	f->label[len] = '\0';
	mem_add(t, len + 1);
	return 0;
}

/*
 * Every flow leaves at once: emitted in creation order straight from the age list, then the table
 * is emptied in one go (no per-flow unlinking from the hash chains and the idle list, whose
 * neighbours would be as many cache misses).
 */
int
ntg_flowtab_flush(NtgFlowTable *t)
{
	int			rc = 0;
	Flow	   *f;

	while ((f = t->age.head) != NULL && rc == 0)
	{
		t->age.head = f->age_next;
		rc = emit_flow(t, f);
		release(t, f);
		t->live--;
	}
	if (rc != 0)
	{
		/* emit failed: keep the table consistent for destroy (the rest stays listed) */
		if (t->age.head)
			t->age.head->age_prev = NULL;
		else
			t->age.tail = NULL;
		memset(t->buckets, 0, t->nbuckets * sizeof(Flow *));
		t->lru.head = t->lru.tail = NULL;
		return rc;
	}
	t->age.tail = NULL;
	t->lru.head = t->lru.tail = NULL;
	memset(t->buckets, 0, t->nbuckets * sizeof(Flow *));
	return 0;
}

uint64_t
ntg_flowtab_emitted(const NtgFlowTable *t)
{
	return t->emitted;
}

uint64_t
ntg_flowtab_live(const NtgFlowTable *t)
{
	return t->live;
}

uint64_t
ntg_flowtab_pl_over_smallint(const NtgFlowTable *t)
{
	return t->pl_over;
}

uint64_t
ntg_flowtab_ended_early(const NtgFlowTable *t)
{
	return t->ended_early;
}

size_t
ntg_flowtab_memory(const NtgFlowTable *t)
{
	return t->mem;
}

size_t
ntg_flowtab_peak_memory(const NtgFlowTable *t)
{
	return t->peak;
}

void
ntg_flowtab_destroy(NtgFlowTable *t)
{
	if (!t)
		return;
	for (Flow *f = t->age.head; f; f = f->age_next)
	{
		ntg_free(f->sni);
		ntg_free(f->label);
		ntg_free(f->plx);
	}
	for (int i = 0; i < t->nchunks; i++)
		ntg_free(t->chunks[i]);
	ntg_free(t->chunks);
	ntg_free(t->buckets);
	ntg_free(t);
}
