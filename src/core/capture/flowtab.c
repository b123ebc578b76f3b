/*
 * flowtab.c — biflow table (see flowtab.h).  Client = sender of a flow's first packet, or its
 * receiver when that packet is a TCP SYN+ACK (docs/definitions.md).  A packet at least idle_timeout after
 * its flow's last packet, or at least active_timeout after its first, finds the flow expired: the
 * flow is emitted and the packet starts a new one, as NFStream does.  That check is made per
 * packet, so it is exact whatever the order of the lists below.
 *
 * Memory: flows that see no more packets are found from the heads of two lists and emitted as
 * they time out.  The idle list is ordered lazily: a packet only updates its flow's last_ns; when
 * the flow reaches the head, it is emitted if really idle, otherwise moved to the tail.  This keeps
 * the per-packet work to one hash lookup (no list relinking, which touches two other flows'
 * memory), at the price of emitting an idle flow up to one idle_timeout later than it expired.
 * "now" is the largest timestamp seen, so a few out-of-order packets do not expire flows early.
 */
#include "capture/flowtab.h"

#include <string.h>

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

/* Laid out so that a packet touches two cache lines: lookup (line 0), counters (line 1). */
typedef struct Flow
{
	uint64_t	hash;
	struct Flow *hnext;
	FlowKey		key;
	bool		client_is_a;
	uint8_t		sni_tries;
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
	char	   *sni;
	char	   *label;			/* from a packet comment (ntg_flowtab_label) */
	int32_t		pl[];
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
	int64_t		now;
	int64_t		last_expire;
	List		lru,
				age;
	Flow	   *last;			/* flow of the packet last added */
	Flow	   *freelist;
	/* flows are carved from chunks (one allocation per FLOWS_PER_CHUNK flows) */
	size_t		flow_size;
	uint8_t    *chunk;
	int			chunk_left;
	void	  **chunks;
	int			nchunks,
				chunks_cap;
};

#define FLOWS_PER_CHUNK 1024

#define LINK(list, f, prev, next) do { \
	(f)->prev = (list)->tail; (f)->next = NULL; \
	if ((list)->tail) (list)->tail->next = (f); else (list)->head = (f); \
	(list)->tail = (f); } while (0)
#define UNLINK(list, f, prev, next) do { \
	if ((f)->prev) (f)->prev->next = (f)->next; else (list)->head = (f)->next; \
	if ((f)->next) (f)->next->prev = (f)->prev; else (list)->tail = (f)->prev; } while (0)

NtgFlowTable *
ntg_flowtab_create(const NtgCaptureOptions *opt, NtgBiflowEmit emit, void *arg)
{
	NtgFlowTable *t = ntg_calloc(1, sizeof(NtgFlowTable));

	if (!t)
		return NULL;
	t->opt = *opt;
	t->idle_ns = opt->idle_timeout > 0 ? (int64_t) (opt->idle_timeout * 1e9) : 0;
	t->active_ns = opt->active_timeout > 0 ? (int64_t) (opt->active_timeout * 1e9) : 0;
	t->emit = emit;
	t->arg = arg;
	t->nbuckets = 1024;
	t->flow_size = (sizeof(Flow) + sizeof(int32_t) * (size_t) opt->n + 63) & ~(size_t) 63;
	t->buckets = ntg_calloc(t->nbuckets, sizeof(Flow *));
	t->now = INT64_MIN;
	t->last_expire = INT64_MIN;
	if (!t->buckets)
	{
		ntg_free(t);
		return NULL;
	}
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
	t->buckets = nb;
	t->nbuckets = n;
	return 0;
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
	b.pl = f->pl;
	b.sni = f->sni;
	b.label = f->label;
	t->emitted++;
	return t->emit ? t->emit(&b, t->arg) : 0;
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
	if (f->sni)
		ntg_free(f->sni);
	if (f->label)
		ntg_free(f->label);
	if (t->last == f)
		t->last = NULL;
	f->hnext = t->freelist;
	t->freelist = f;
	return rc;
}

static bool
timed_out(const NtgFlowTable *t, const Flow *f, int64_t now)
{
	return (t->idle_ns && now - f->last_ns >= t->idle_ns) ||
		(t->active_ns && now - f->first_ns >= t->active_ns);
}

static int
expire(NtgFlowTable *t)
{
	int			rc;

	while (t->idle_ns && t->lru.head && t->now - t->lru.head->lru_stamp >= t->idle_ns)
	{
		Flow	   *f = t->lru.head;

		if (timed_out(t, f, t->now))
		{
			if ((rc = retire(t, f)) != 0)
				return rc;
		}
		else
		{
			UNLINK(&t->lru, f, lru_prev, lru_next);
			f->lru_stamp = f->last_ns;
			LINK(&t->lru, f, lru_prev, lru_next);
		}
	}
	while (t->active_ns && t->age.head && t->now - t->age.head->first_ns >= t->active_ns)
		if ((rc = retire(t, t->age.head)) != 0)
			return rc;
	return 0;
}

/* Memory for one more flow: from the freelist, else from the current chunk. */
static Flow *
alloc_flow(NtgFlowTable *t)
{
	Flow	   *f = t->freelist;

	if (f)
	{
		t->freelist = f->hnext;
		return f;
	}
	if (t->chunk_left == 0)
	{
		if (t->nchunks == t->chunks_cap)
		{
			int			cap = t->chunks_cap ? t->chunks_cap * 2 : 16;
			void	  **c = ntg_realloc(t->chunks, sizeof(void *) * cap);

			if (!c)
				return NULL;
			t->chunks = c;
			t->chunks_cap = cap;
		}
		if (!(t->chunk = ntg_malloc(t->flow_size * FLOWS_PER_CHUNK + 64)))
			return NULL;
		t->chunks[t->nchunks++] = t->chunk;
		/* cache-line aligned flows */
		t->chunk += (64 - ((uintptr_t) t->chunk & 63)) & 63;
		t->chunk_left = FLOWS_PER_CHUNK;
	}
	f = (Flow *) t->chunk;
	t->chunk += t->flow_size;
	t->chunk_left--;
	return f;
}

static Flow *
new_flow(NtgFlowTable *t, const FlowKey *k, uint64_t h, const NtgPacket *p, bool from_a,
		 int64_t ts)
{
	Flow	   *f = alloc_flow(t);

	if (!f)
		return NULL;
	memset(f, 0, sizeof(Flow));
	f->key = *k;
	f->hash = h;
	/* A first packet that is a SYN+ACK was sent by the server. */
	f->client_is_a = ((p->tcp_flags & 0x12) == 0x12) ? !from_a : from_a;
	f->first_ns = ts;
	f->last_ns = ts;
	f->lru_stamp = ts;
	f->hnext = t->buckets[h & (t->nbuckets - 1)];
	t->buckets[h & (t->nbuckets - 1)] = f;
	LINK(&t->lru, f, lru_prev, lru_next);
	LINK(&t->age, f, age_prev, age_next);
	t->live++;
	return f;
}

static void
account(NtgFlowTable *t, Flow *f, const NtgPacket *p, int dir)
{
	f->packets[dir]++;
	f->bytes[dir] += p->ip_bytes;
	if (p->pl <= 0)
		return;
	f->payload_packets++;
	f->payload_bytes[dir] += (uint64_t) p->pl;
	if (f->npl < t->opt.n)
	{
		f->pl[f->npl++] = dir == 0 ? p->pl : -p->pl;
		if (p->pl > 32767)
			t->pl_over++;
	}
	/* SNI: the first few client payload segments of a TCP flow may start a ClientHello. */
	if (dir == 0 && p->protocol == 6 && !f->sni && f->sni_tries < 3 && p->payload_caplen >= 6)
	{
		char		name[NTG_CAP_SNI_MAX + 1];

		f->sni_tries++;
		if (ntg_tls_sni(p->payload, p->payload_caplen, name, sizeof(name)) > 0)
			f->sni = ntg_strdup(name);
	}
}

int
ntg_flowtab_add(NtgFlowTable *t, const NtgPacket *p, int64_t ts)
{
	FlowKey		k;
	bool		from_a;
	uint64_t	h;
	Flow	   *f;
	int			rc;

	/* Expiry from the list heads bounds memory; 10 ms of capture time between sweeps is plenty. */
	if (ts > t->now)
	{
		t->now = ts;
		if (t->last_expire == INT64_MIN)
			t->last_expire = ts;
		if (t->now - t->last_expire >= 10000000)
		{
			t->last_expire = t->now;
			if ((rc = expire(t)) != 0)
				return rc;
		}
	}
	make_key(p, &k, &from_a);
	h = key_hash(&k);
	for (f = t->buckets[h & (t->nbuckets - 1)]; f; f = f->hnext)
		if (f->hash == h && memcmp(&f->key, &k, sizeof(k)) == 0)
			break;
	/* The exact per-packet timeout check: an expired flow ends here, the packet starts anew. */
	if (f && timed_out(t, f, ts))
	{
		if ((rc = retire(t, f)) != 0)
			return rc;
		f = NULL;
	}
	if (!f)
	{
		if (t->live >= t->nbuckets && grow(t) != 0)
			return NTG_ERR_NOMEM;
		if (!(f = new_flow(t, &k, h, p, from_a, ts)))
			return NTG_ERR_NOMEM;
	}
	if (ts > f->last_ns)
		f->last_ns = ts;
	if (ts < f->first_ns)
		f->first_ns = ts;
	account(t, f, p, from_a == f->client_is_a ? 0 : 1);
	t->last = f;
	return 0;
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
	return 0;
}

int
ntg_flowtab_flush(NtgFlowTable *t)
{
	int			rc;

	while (t->age.head)
		if ((rc = retire(t, t->age.head)) != 0)
			return rc;
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

void
ntg_flowtab_destroy(NtgFlowTable *t)
{
	if (!t)
		return;
	for (Flow *f = t->age.head; f; f = f->age_next)
	{
		if (f->sni)
			ntg_free(f->sni);
		if (f->label)
			ntg_free(f->label);
	}
	for (int i = 0; i < t->nchunks; i++)
		ntg_free(t->chunks[i]);
	ntg_free(t->chunks);
	ntg_free(t->buckets);
	ntg_free(t);
}
