/*
 * size_match.c — size-matched fidelity (size_match.h): the seeded cut of a set to given row
 * counts per class, and the comparison of a synthetic set with fresh real rows.
 */
#include "metrics/size_match.h"

#include <stdlib.h>
#include <string.h>

/* ---- the key of a row ---------------------------------------------------------------------- */

#define FNV_OFFSET	UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME	UINT64_C(0x100000001b3)

static inline uint64_t
fnv_bytes(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * FNV_PRIME;
	return h;
}

/* An unsigned integer as n little-endian bytes, whatever the machine's byte order. */
static inline uint64_t
fnv_le(uint64_t h, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		h = (h ^ ((v >> (8 * i)) & 0xff)) * FNV_PRIME;
	return h;
}

/* One step of splitmix64: spreads FNV's weak high bits over the whole word. */
static inline uint64_t
splitmix64(uint64_t x)
{
	uint64_t	z = x + UINT64_C(0x9e3779b97f4a7c15);

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

uint64_t
ntg_row_key(uint64_t seed, const char *label, const int32_t *values, int len,
			uint64_t occurrence)
{
	uint64_t	h = fnv_le(FNV_OFFSET, seed, 8);

	h = fnv_bytes(h, label, strlen(label) + 1);	/* the name and its NUL */
	h = fnv_le(h, (uint32_t) len, 4);
	for (int i = 0; i < len; i++)
		h = fnv_le(h, (uint32_t) values[i], 4);
	h = fnv_le(h, occurrence, 8);
	return splitmix64(h);
}

/* ---- the cut ------------------------------------------------------------------------------- */

typedef struct RowRef
{
	int			row;
	int			cls;
	int			len;
	const int32_t *v;
	uint64_t	key;
} RowRef;

/* Class, then content: copies of a row end up next to each other. */
static int
cmp_content(const void *a, const void *b)
{
	const RowRef *x = a,
			   *y = b;

	if (x->cls != y->cls)
		return x->cls < y->cls ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	for (int i = 0; i < x->len; i++)
		if (x->v[i] != y->v[i])
			return x->v[i] < y->v[i] ? -1 : 1;
	return 0;
}

/* Class, then key (then row, for a total order). */
static int
cmp_key(const void *a, const void *b)
{
	const RowRef *x = a,
			   *y = b;

	if (x->cls != y->cls)
		return x->cls < y->cls ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (x->row > y->row) - (x->row < y->row);
}

static int
compare_ints(const void *a, const void *b)
{
	int			x = *(const int *) a,
				y = *(const int *) b;

	return (x > y) - (x < y);
}

int
ntg_seqset_cut(const NtgSeqSet *set, const int *keep, uint64_t seed, NtgSeqSet *out,
			   NtgError *err)
{
	int			n = set->n_rows;
	RowRef	   *refs = ntg_malloc(sizeof(RowRef) * (n > 0 ? n : 1));
	int		   *rows = ntg_malloc(sizeof(int) * (n > 0 ? n : 1));
	int			n_kept = 0,
				rc;

	memset(out, 0, sizeof(*out));
	if (refs == NULL || rows == NULL)
	{
		ntg_free(refs);
		ntg_free(rows);
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	for (int i = 0; i < n; i++)
	{
		refs[i].row = i;
		refs[i].cls = set->row_class[i];
		refs[i].v = ntg_seqset_row(set, i, &refs[i].len);
	}
	/* keys: copies of one row are numbered 0, 1, ... in a run of equal content */
	qsort(refs, n, sizeof(RowRef), cmp_content);
	for (int i = 0, occ = 0; i < n; i++)
	{
		occ = (i > 0 && cmp_content(&refs[i - 1], &refs[i]) == 0) ? occ + 1 : 0;
		refs[i].key = ntg_row_key(seed, set->classes[refs[i].cls], refs[i].v, refs[i].len,
								  (uint64_t) occ);
		if ((i & 4095) == 4095)
			ntg_check_interrupts();
	}
	qsort(refs, n, sizeof(RowRef), cmp_key);
	for (int i = 0, rank = 0; i < n; i++)
	{
		int			c = refs[i].cls;

		rank = (i > 0 && refs[i - 1].cls == c) ? rank + 1 : 0;
		if (keep[c] < 0 || rank < keep[c])
			rows[n_kept++] = refs[i].row;
	}
	qsort(rows, n_kept, sizeof(int), compare_ints);
	rc = ntg_seqset_subset(set, rows, n_kept, out, err);
	ntg_free(refs);
	ntg_free(rows);
	return rc;
}

int
ntg_seqset_match_sizes(const NtgSeqSet *a, const NtgSeqSet *b, uint64_t seed,
					   NtgSeqSet *a_out, NtgSeqSet *b_out, NtgError *err)
{
	int		   *na = ntg_calloc(a->n_classes + 1, sizeof(int));
	int		   *nb = ntg_calloc(b->n_classes + 1, sizeof(int));
	int		   *ka = ntg_malloc(sizeof(int) * (a->n_classes + 1));
	int		   *kb = ntg_malloc(sizeof(int) * (b->n_classes + 1));
	int			rc;

	memset(a_out, 0, sizeof(*a_out));
	memset(b_out, 0, sizeof(*b_out));
	if (na == NULL || nb == NULL || ka == NULL || kb == NULL)
		rc = ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	else
	{
		ntg_seqset_class_counts(a, na);
		ntg_seqset_class_counts(b, nb);
		for (int c = 0; c < a->n_classes; c++)
			ka[c] = -1;
		for (int c = 0; c < b->n_classes; c++)
			kb[c] = -1;
		/* both class lists are sorted by name: walk them together */
		for (int i = 0, j = 0; i < a->n_classes && j < b->n_classes;)
		{
			int			d = strcmp(a->classes[i], b->classes[j]);

			if (d == 0 && na[i] > 0 && nb[j] > 0)
				ka[i] = kb[j] = na[i] < nb[j] ? na[i] : nb[j];
			i += d <= 0;
			j += d >= 0;
		}
		rc = ntg_seqset_cut(a, ka, seed, a_out, err);
		if (rc == NTG_OK && (rc = ntg_seqset_cut(b, kb, seed, b_out, err)) != NTG_OK)
			ntg_seqset_free(a_out);
	}
	ntg_free(na);
	ntg_free(nb);
	ntg_free(ka);
	ntg_free(kb);
	return rc;
}

/* ---- synthetic against fresh real rows ----------------------------------------------------- */

/* The values of class label in f, or NULL when f has no real rows of it. */
static const NtgClassFidelity *
find_class(const NtgFidelity *f, const char *label)
{
	int			lo = 0,
				hi = f->n_classes - 1;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			d = strcmp(f->classes[mid].label, label);

		if (d == 0)
			return f->classes[mid].real_rows > 0 ? &f->classes[mid] : NULL;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* Everything the comparison computes, so that one function frees it on every path. */
typedef struct GapWork
{
	NtgSeqSet	r1,
				s1,
				t2,
				s2;
	NtgFidelity f_real,
				f_synth,
				l_real,
				l_synth;
} GapWork;

static void
gap_free(GapWork *w)
{
	ntg_fidelity_free(&w->f_real);
	ntg_fidelity_free(&w->f_synth);
	ntg_fidelity_free(&w->l_real);
	ntg_fidelity_free(&w->l_synth);
	ntg_seqset_free(&w->r1);
	ntg_seqset_free(&w->s1);
	ntg_seqset_free(&w->t2);
	ntg_seqset_free(&w->s2);
}

/* Average the per-class values over R's classes into out. */
static void
gap_average(const NtgSeqSet *train, const NtgSeqSet *test, const GapWork *w,
			NtgFidelityGap *out)
{
	int		   *counts = ntg_calloc(train->n_classes + 1, sizeof(int));
	int			n = 0;

	if (counts != NULL)
		ntg_seqset_class_counts(train, counts);
	for (int c = 0; c < train->n_classes; c++)
	{
		const char *label = train->classes[c];
		const NtgClassFidelity *fr,
				   *fs,
				   *lr,
				   *ls;

		if (counts == NULL || counts[c] == 0)
			continue;
		n++;
		fr = find_class(&w->f_real, label);
		fs = find_class(&w->f_synth, label);
		lr = find_class(&w->l_real, label);
		ls = find_class(&w->l_synth, label);
		if (fs == NULL)
			out->n_missing++;
		if (ntg_seqset_class_index(test, label) < 0)
			out->n_untested++;
		for (int m = 0; m < NTG_N_METRICS; m++)
		{
			if (m == NTG_METRIC_LEAKAGE)
			{
				out->real[m] += lr ? lr->value[m] : 0.0;
				out->synthetic[m] += ls ? ls->value[m] : 0.0;
			}
			else
			{
				out->real[m] += fr ? fr->value[m] : 1.0;
				out->synthetic[m] += fs ? fs->value[m] : 1.0;
			}
		}
	}
	for (int m = 0; m < NTG_N_METRICS && n > 0; m++)
	{
		out->real[m] /= n;
		out->synthetic[m] /= n;
	}
	out->n_classes = n;
	ntg_free(counts);
}

int
ntg_fidelity_gap_compute(const NtgSeqSet *train, const NtgSeqSet *test,
						 const NtgSeqSet *synthetic, uint64_t seed, NtgFidelityGap *out,
						 NtgError *err)
{
	GapWork		w;
	int			rc;

	memset(out, 0, sizeof(*out));
	memset(&w, 0, sizeof(w));
	if (train->n_rows == 0)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "the training set is empty");
	if ((rc = ntg_seqset_match_sizes(train, synthetic, seed, &w.r1, &w.s1, err)) == NTG_OK &&
		(rc = ntg_seqset_match_sizes(test, synthetic, seed, &w.t2, &w.s2, err)) == NTG_OK &&
		(rc = ntg_fidelity_compute(&w.r1, test, &w.f_real, err)) == NTG_OK &&
		(w.s1.n_rows == 0 || (rc = ntg_fidelity_compute(&w.s1, test, &w.f_synth, err)) == NTG_OK) &&
		(rc = ntg_fidelity_compute(train, &w.t2, &w.l_real, err)) == NTG_OK &&
		(rc = ntg_fidelity_compute(train, &w.s2, &w.l_synth, err)) == NTG_OK)
		gap_average(train, test, &w, out);
	gap_free(&w);
	return rc;
}
