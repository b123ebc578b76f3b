/*
 * countmap.h — an open-addressing hash map (linear probing, power-of-two capacity, load <= 1/2)
 * from 64-bit keys to a pair of counts (real, synthetic).  It grows by doubling, so counting a
 * million items costs a handful of allocations, never one per item.  Once the map stops growing
 * the slot index of a key is stable, and callers use it as an id (arrays of `capacity` entries).
 */
#ifndef NTG_COUNTMAP_H
#define NTG_COUNTMAP_H

#include <stdint.h>

#define NTG_COUNTMAP_EMPTY UINT64_MAX	/* reserved: never a key */

typedef struct NtgCountEntry
{
	uint64_t	key;			/* NTG_COUNTMAP_EMPTY when the slot is free */
	int64_t		a;				/* count on the real side */
	int64_t		b;				/* count on the synthetic side */
} NtgCountEntry;

typedef struct NtgCountMap
{
	NtgCountEntry *e;
	uint64_t	capacity;		/* a power of two, at least twice n */
	int64_t		n;				/* keys present */
} NtgCountMap;

/* Room for expected_keys distinct keys before the first growth; returns 0 when out of memory. */
int			ntg_countmap_init(NtgCountMap *m, int64_t expected_keys);
void		ntg_countmap_free(NtgCountMap *m);
/* Double the capacity; returns 0 when out of memory (the map is unchanged then). */
int			ntg_countmap_grow(NtgCountMap *m);

static inline uint64_t
ntg_mix64(uint64_t x)
{
	/* splitmix64's finalizer: good spread for sequential keys such as small PL values */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Slot of key, inserted with zero counts when absent; the caller keeps the load <= 1/2. */
static inline uint64_t
ntg_countmap_slot(NtgCountMap *m, uint64_t key)
{
	uint64_t	mask = m->capacity - 1;
	uint64_t	h = ntg_mix64(key) & mask;

	while (m->e[h].key != key)
	{
		if (m->e[h].key == NTG_COUNTMAP_EMPTY)
		{
			m->e[h].key = key;
			m->n++;
			break;
		}
		h = (h + 1) & mask;
	}
	return h;
}

/* Add (da, db) to key's counts, inserting it; returns 0 when out of memory. */
static inline int
ntg_countmap_add(NtgCountMap *m, uint64_t key, int64_t da, int64_t db)
{
	uint64_t	s;

	if ((uint64_t) (m->n + 1) * 2 > m->capacity && !ntg_countmap_grow(m))
		return 0;
	s = ntg_countmap_slot(m, key);
	m->e[s].a += da;
	m->e[s].b += db;
	return 1;
}

/* Slot of key, or NTG_COUNTMAP_EMPTY when absent. */
static inline uint64_t
ntg_countmap_find(const NtgCountMap *m, uint64_t key)
{
	uint64_t	mask = m->capacity - 1;
	uint64_t	h = ntg_mix64(key) & mask;

	while (m->e[h].key != key)
	{
		if (m->e[h].key == NTG_COUNTMAP_EMPTY)
			return NTG_COUNTMAP_EMPTY;
		h = (h + 1) & mask;
	}
	return h;
}

#endif							/* NTG_COUNTMAP_H */
