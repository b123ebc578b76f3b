/*
 * fragtab.c — IP fragments attributed to their datagram's biflow (see fragtab.h).  A chained
 * hash table of datagrams with a list in the order they were first seen, from whose head they
 * time out.
 */
#include "capture/fragtab.h"

#include <string.h>

#define NBUCKETS 4096			/* power of two */

typedef struct FragKey
{
	uint8_t		src[16];
	uint8_t		dst[16];
	uint32_t	id;
	uint8_t		family;
	uint8_t		protocol;		/* IPv4 only: part of the datagram's identity there */
	uint8_t		pad[2];
} FragKey;

typedef struct Frag
{
	FragKey		key;
	uint64_t	hash;
	struct Frag *hnext;
	struct Frag *prev,
			   *next;			/* by creation */
	int64_t		created;
	/* the first fragment, once seen */
	bool		have_first;
	uint8_t		protocol;		/* its transport protocol */
	uint16_t	sport,
				dport;
	NtgFlowRef	ref;
	/* fragments seen before the first one */
	uint32_t	pend_packets;
	uint32_t	pend_payload;
	uint64_t	pend_bytes;
	int64_t		pend_first,
				pend_last;
	/* completeness: fragmentable bytes seen, and in all (known from the last fragment) */
	uint32_t	received;
	uint32_t	total;
} Frag;

struct NtgFragTable
{
	NtgFlowTable *flows;
	NtgCaptureStats *st;
	Frag	   *buckets[NBUCKETS];
	Frag	   *head,
			   *tail;
	uint64_t	count;
	int64_t		now;
};

NtgFragTable *
ntg_fragtab_create(NtgFlowTable *flows, NtgCaptureStats *st)
{
	NtgFragTable *ft = ntg_calloc(1, sizeof(NtgFragTable));

	if (!ft)
		return NULL;
	ft->flows = flows;
	ft->st = st;
	ft->now = INT64_MIN;
	return ft;
}

static void
make_key(const NtgPacket *p, FragKey *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->src, p->src, 16);
	memcpy(k->dst, p->dst, 16);
	k->id = p->frag_id;
	k->family = p->family;
	k->protocol = p->family == 4 ? p->protocol : 0;
}

static uint64_t
key_hash(const FragKey *k)
{
	uint64_t	w[5],
				h = 0x9E3779B97F4A7C15ULL;

	memcpy(w, k, sizeof(w));
	for (int i = 0; i < 5; i++)
	{
		h ^= w[i];
		h *= 0xBF58476D1CE4E5B9ULL;
		h ^= h >> 31;
	}
	return h;
}

static Frag *
lookup(NtgFragTable *ft, const FragKey *k, uint64_t h)
{
	for (Frag *e = ft->buckets[h & (NBUCKETS - 1)]; e; e = e->hnext)
		if (e->hash == h && memcmp(&e->key, k, sizeof(*k)) == 0)
			return e;
	return NULL;
}

/* Forget a datagram; fragments that waited for their first one are skipped. */
static void
drop(NtgFragTable *ft, Frag *e)
{
	Frag	  **pp = &ft->buckets[e->hash & (NBUCKETS - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		ft->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		ft->tail = e->prev;
	if (!e->have_first)
		ft->st->skipped[NTG_SKIP_FRAGMENT] += e->pend_packets;
	ft->count--;
	ntg_free(e);
}

static void
expire(NtgFragTable *ft, int64_t ts)
{
	if (ts > ft->now)
		ft->now = ts;
	while (ft->head && ft->now - ft->head->created >= NTG_FRAG_TIMEOUT_NS)
		drop(ft, ft->head);
}

/* The datagram of fragment p, remembered from now on if new; NULL when out of memory. */
static Frag *
entry(NtgFragTable *ft, const NtgPacket *p, int64_t ts)
{
	FragKey		k;
	uint64_t	h;
	Frag	   *e;

	make_key(p, &k);
	h = key_hash(&k);
	if ((e = lookup(ft, &k, h)) != NULL)
		return e;
	if (ft->count >= NTG_FRAG_MAX)
		drop(ft, ft->head);
	if (!(e = ntg_calloc(1, sizeof(Frag))))
		return NULL;
	e->key = k;
	e->hash = h;
	e->created = ts;
	e->hnext = ft->buckets[h & (NBUCKETS - 1)];
	ft->buckets[h & (NBUCKETS - 1)] = e;
	e->prev = ft->tail;
	if (ft->tail)
		ft->tail->next = e;
	else
		ft->head = e;
	ft->tail = e;
	ft->count++;
	return e;
}

/* Count p's fragmentable bytes; forget the datagram once all its bytes were seen. */
static void
received(NtgFragTable *ft, Frag *e, const NtgPacket *p)
{
	e->received += p->frag_len;
	if (!p->frag_more)
		e->total = p->frag_offset + p->frag_len;
	if (e->have_first && e->total && e->received >= e->total)
		drop(ft, e);
}

/* The biflow endpoints of a datagram (those of its first fragment). */
static void
first_packet(const Frag *e, NtgPacket *p)
{
	memset(p, 0, sizeof(*p));
	p->family = e->key.family;
	p->protocol = e->protocol;
	memcpy(p->src, e->key.src, 16);
	memcpy(p->dst, e->key.dst, 16);
	p->sport = e->sport;
	p->dport = e->dport;
}

int
ntg_fragtab_first(NtgFragTable *ft, const NtgPacket *p, int64_t ts, const NtgFlowRef *ref)
{
	Frag	   *e;

	expire(ft, ts);
	if (!(e = entry(ft, p, ts)))
		return NTG_ERR_NOMEM;
	if (e->have_first)
		return 0;				/* a repeated first fragment: the first one counts */
	e->have_first = true;
	e->protocol = p->protocol;
	e->sport = p->sport;
	e->dport = p->dport;
	e->ref = *ref;
	if (e->pend_packets)
	{
		NtgPacket	k;
		int			rc;

		first_packet(e, &k);
		rc = ntg_flowtab_add_fragments(ft->flows, &k, &e->ref, e->pend_first, e->pend_last,
									   e->pend_packets, e->pend_bytes,
									   p->protocol == 6 ? e->pend_payload : 0);
		if (rc < 0)
			return rc;
		if (rc == 1)
		{
			ft->st->packets_attributed += e->pend_packets;
			ft->st->fragments += e->pend_packets;
		}
		else
			ft->st->skipped[NTG_SKIP_FRAGMENT] += e->pend_packets;
		e->pend_packets = 0;
	}
	received(ft, e, p);
	return 0;
}

int
ntg_fragtab_later(NtgFragTable *ft, const NtgPacket *p, int64_t ts)
{
	Frag	   *e;

	expire(ft, ts);
	if (!(e = entry(ft, p, ts)))
		return NTG_ERR_NOMEM;
	if (e->have_first)
	{
		NtgPacket	k;
		int			rc;

		first_packet(e, &k);
		rc = ntg_flowtab_add_fragments(ft->flows, &k, &e->ref, ts, ts, 1, p->ip_bytes,
									   e->protocol == 6 ? p->frag_len : 0);
		if (rc < 0)
			return rc;
		if (rc == 1)
		{
			ft->st->packets_attributed++;
			ft->st->fragments++;
		}
		else
			ft->st->skipped[NTG_SKIP_FRAGMENT]++;	/* its biflow has ended */
	}
	else
	{
		e->pend_packets++;
		e->pend_bytes += p->ip_bytes;
		e->pend_payload += p->frag_len;
		if (ts > e->pend_last || e->pend_packets == 1)
			e->pend_last = ts;
		if (ts < e->pend_first || e->pend_packets == 1)
			e->pend_first = ts;
	}
	received(ft, e, p);
	return 0;
}

uint64_t
ntg_fragtab_pending(const NtgFragTable *ft)
{
	return ft->count;
}

void
ntg_fragtab_finish(NtgFragTable *ft)
{
	while (ft->head)
		drop(ft, ft->head);
}

void
ntg_fragtab_destroy(NtgFragTable *ft)
{
	if (!ft)
		return;
	while (ft->head)
	{
		Frag	   *e = ft->head;

		ft->head = e->next;
		ntg_free(e);
	}
	ntg_free(ft);
}
