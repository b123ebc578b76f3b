/*
 * seqset.c — building a labeled sequence set (see seqset.h).  Labels are interned through an
 * open-addressing hash table while rows stream in; classes are sorted once at the end.
 */
#include "common/seqset.h"

#include <stdlib.h>
#include <string.h>

struct NtgSeqSetBuilder
{
	/* interned labels, in order of first appearance */
	char	  **labels;
	int			n_labels;
	int			cap_labels;
	int		   *slots;			/* hash slots: label index + 1, 0 = empty */
	int			n_slots;
	/* rows */
	int		   *row_class;
	int64_t    *row_start;
	int64_t		cap_starts;
	int			n_rows;
	int64_t		cap_rows;
	int32_t    *values;
	int64_t		n_values;
	int64_t		cap_values;
	int			max_len;
};

NtgSeqSetBuilder *
ntg_seqset_builder_new(void)
{
	NtgSeqSetBuilder *b = ntg_calloc(1, sizeof(NtgSeqSetBuilder));

	if (b == NULL)
		return NULL;
	b->n_slots = 64;
	b->slots = ntg_calloc(b->n_slots, sizeof(int));
	b->row_start = ntg_calloc(1, sizeof(int64_t));
	b->cap_starts = 1;
	if (b->slots == NULL || b->row_start == NULL)
	{
		ntg_free(b->slots);
		ntg_free(b->row_start);
		ntg_free(b);
		return NULL;
	}
	return b;
}

static uint32_t
hash_string(const char *s)
{
	uint32_t	h = 2166136261u;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (uint8_t) *s) * 16777619u;
	return h;
}

static int
grow(void **p, int64_t *cap, int64_t need, size_t elem)
{
	int64_t		n = *cap ? *cap : 16;
	void	   *q;

	if (need <= *cap)
		return 1;
	while (n < need)
		n *= 2;
	q = ntg_realloc(*p, (size_t) n * elem);
	if (q == NULL)
		return 0;
	*p = q;
	*cap = n;
	return 1;
}

static int
rehash(NtgSeqSetBuilder *b)
{
	int			n = b->n_slots * 2;
	int		   *slots = ntg_calloc(n, sizeof(int));

	if (slots == NULL)
		return 0;
	for (int i = 0; i < b->n_labels; i++)
	{
		uint32_t	h = hash_string(b->labels[i]) & (n - 1);

		while (slots[h] != 0)
			h = (h + 1) & (n - 1);
		slots[h] = i + 1;
	}
	ntg_free(b->slots);
	b->slots = slots;
	b->n_slots = n;
	return 1;
}

/* Index of label, interning it when new; -1 when out of memory. */
static int
intern(NtgSeqSetBuilder *b, const char *label)
{
	uint32_t	h = hash_string(label) & (b->n_slots - 1);
	int64_t		cap = b->cap_labels;

	while (b->slots[h] != 0)
	{
		if (strcmp(b->labels[b->slots[h] - 1], label) == 0)
			return b->slots[h] - 1;
		h = (h + 1) & (b->n_slots - 1);
	}
	if (!grow((void **) &b->labels, &cap, b->n_labels + 1, sizeof(char *)))
		return -1;
	b->cap_labels = (int) cap;
	if ((b->labels[b->n_labels] = ntg_strdup(label)) == NULL)
		return -1;
	b->slots[h] = ++b->n_labels;
	if (b->n_labels * 2 > b->n_slots && !rehash(b))
		return -1;
	return b->n_labels - 1;
}

int
ntg_seqset_builder_add(NtgSeqSetBuilder *b, const char *label, const int32_t *values, int len,
					   NtgError *err)
{
	int			cls = intern(b, label);

	if (len < 0)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "negative sequence length");
	if (cls < 0 ||
		!grow((void **) &b->row_class, &b->cap_rows, b->n_rows + 1, sizeof(int)) ||
		!grow((void **) &b->row_start, &b->cap_starts, b->n_rows + 2, sizeof(int64_t)) ||
		!grow((void **) &b->values, &b->cap_values, b->n_values + len, sizeof(int32_t)))
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if (len > 0)
		memcpy(b->values + b->n_values, values, (size_t) len * sizeof(int32_t));
	b->n_values += len;
	b->row_class[b->n_rows] = cls;
	b->row_start[++b->n_rows] = b->n_values;
	if (len > b->max_len)
		b->max_len = len;
	return NTG_OK;
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(**(char *const *const *) a, **(char *const *const *) b);
}

int
ntg_seqset_builder_finish(NtgSeqSetBuilder *b, NtgSeqSet *out, NtgError *err)
{
	char	 ***order = ntg_malloc(sizeof(char **) * (b->n_labels ? b->n_labels : 1));
	int		   *remap = ntg_malloc(sizeof(int) * (b->n_labels ? b->n_labels : 1));

	memset(out, 0, sizeof(*out));
	if (order == NULL || remap == NULL)
	{
		ntg_free(order);
		ntg_free(remap);
		ntg_seqset_builder_free(b);
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	/* Sort pointers to the label slots, then map old indices to sorted ones. */
	for (int i = 0; i < b->n_labels; i++)
		order[i] = &b->labels[i];
	qsort(order, b->n_labels, sizeof(char **), compare_names);
	out->classes = ntg_malloc(sizeof(char *) * (b->n_labels ? b->n_labels : 1));
	if (out->classes == NULL)
	{
		ntg_free(order);
		ntg_free(remap);
		ntg_seqset_builder_free(b);
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	for (int i = 0; i < b->n_labels; i++)
	{
		remap[order[i] - b->labels] = i;
		out->classes[i] = *order[i];
	}
	for (int r = 0; r < b->n_rows; r++)
		b->row_class[r] = remap[b->row_class[r]];

	out->n_rows = b->n_rows;
	out->n_classes = b->n_labels;
	out->row_class = b->row_class;
	out->row_start = b->row_start;
	out->values = b->values;
	out->max_len = b->max_len;
	ntg_free(order);
	ntg_free(remap);
	ntg_free(b->labels);
	ntg_free(b->slots);
	ntg_free(b);
	return NTG_OK;
}

void
ntg_seqset_builder_free(NtgSeqSetBuilder *b)
{
	if (b == NULL)
		return;
	for (int i = 0; i < b->n_labels; i++)
		ntg_free(b->labels[i]);
	ntg_free(b->labels);
	ntg_free(b->slots);
	ntg_free(b->row_class);
	ntg_free(b->row_start);
	ntg_free(b->values);
	ntg_free(b);
}

int
ntg_seqset_class_index(const NtgSeqSet *s, const char *name)
{
	int			lo = 0,
				hi = s->n_classes - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = strcmp(s->classes[mid], name);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

void
ntg_seqset_class_counts(const NtgSeqSet *s, int *counts)
{
	memset(counts, 0, sizeof(int) * s->n_classes);
	for (int r = 0; r < s->n_rows; r++)
		counts[s->row_class[r]]++;
}

void
ntg_seqset_free(NtgSeqSet *s)
{
	for (int i = 0; i < s->n_classes; i++)
		ntg_free(s->classes[i]);
	ntg_free(s->classes);
	ntg_free(s->row_class);
	ntg_free(s->row_start);
	ntg_free(s->values);
	memset(s, 0, sizeof(*s));
}
