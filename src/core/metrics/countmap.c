/*
 * countmap.c — allocation and growth of the counting hash map (lookups are inline in countmap.h).
 */
#include "metrics/countmap.h"

#include "common/ntg_core.h"

static NtgCountEntry *
alloc_entries(uint64_t cap)
{
	NtgCountEntry *e = ntg_malloc(cap * sizeof(NtgCountEntry));

	if (e == NULL)
		return NULL;
	for (uint64_t i = 0; i < cap; i++)
	{
		e[i].key = NTG_COUNTMAP_EMPTY;
		e[i].a = 0;
		e[i].b = 0;
	}
	return e;
}

int
ntg_countmap_init(NtgCountMap *m, int64_t expected_keys)
{
	uint64_t	cap = 16;

	while (cap < (uint64_t) expected_keys * 2)
		cap *= 2;
	m->e = alloc_entries(cap);
	m->capacity = m->e ? cap : 0;
	m->n = 0;
	return m->e != NULL;
}

int
ntg_countmap_grow(NtgCountMap *m)
{
	NtgCountMap bigger;

	bigger.capacity = m->capacity * 2;
	bigger.n = 0;
	bigger.e = alloc_entries(bigger.capacity);
	if (bigger.e == NULL)
		return 0;
	for (uint64_t i = 0; i < m->capacity; i++)
	{
		uint64_t	s;

		if (m->e[i].key == NTG_COUNTMAP_EMPTY)
			continue;
		s = ntg_countmap_slot(&bigger, m->e[i].key);
		bigger.e[s].a = m->e[i].a;
		bigger.e[s].b = m->e[i].b;
	}
	ntg_free(m->e);
	*m = bigger;
	return 1;
}

void
ntg_countmap_free(NtgCountMap *m)
{
	ntg_free(m->e);
	m->e = NULL;
	m->capacity = 0;
	m->n = 0;
}
