/*
 * augment.c — SMOTE and Fast Retransmit (rules in augment.h).
 */
#include "augment/augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"

typedef struct RowRef
{
	const int32_t *v;
	int			len;
} RowRef;

static int
cmp_rows(const void *a, const void *b)
{
	const RowRef *x = a,
			   *y = b;
	int			n = x->len < y->len ? x->len : y->len;

	for (int i = 0; i < n; i++)
		if (x->v[i] != y->v[i])
			return x->v[i] < y->v[i] ? -1 : 1;
	return (x->len > y->len) - (x->len < y->len);
}

/* FNV-1a of the class name: the class's random stream. */
static uint64_t
class_stream(const char *name)
{
	uint64_t	h = UINT64_C(1469598103934665603);

	for (; *name; name++)
		h = (h ^ (uint8_t) *name) * UINT64_C(1099511628211);
	return h;
}

/* The rows of class c in canonical order; *n gets their count.  NULL when out of memory. */
static RowRef *
class_rows(const NtgSeqSet *set, int c, int *n)
{
	RowRef	   *r;
	int			m = 0;

	for (int i = 0; i < set->n_rows; i++)
		m += set->row_class[i] == c;
	r = ntg_calloc(m > 0 ? m : 1, sizeof(RowRef));
	if (r == NULL)
		return NULL;
	m = 0;
	for (int i = 0; i < set->n_rows; i++)
		if (set->row_class[i] == c)
		{
			r[m].v = ntg_seqset_row(set, i, &r[m].len);
			m++;
		}
	qsort(r, m, sizeof(RowRef), cmp_rows);
	*n = m;
	return r;
}

static int
check_args(const NtgSeqSet *set, const int *per_class, NtgError *err)
{
	for (int c = 0; c < set->n_classes; c++)
		if (per_class[c] < 0)
			return ntg_error(err, NTG_ERR_INVALID_ARG, "rows per class must not be negative");
	return NTG_OK;
}

/* ---- SMOTE -------------------------------------------------------------------------------- */

static double
sq_distance(const RowRef *a, const RowRef *b)
{
	int			n = a->len > b->len ? a->len : b->len;
	double		s = 0;

	for (int i = 0; i < n; i++)
	{
		double		d = (double) (i < a->len ? a->v[i] : 0) - (double) (i < b->len ? b->v[i] : 0);

		s += d * d;
	}
	return s;
}

/* The k nearest other rows of row i (ties by index), into nn[0..k). */
static void
nearest(const RowRef *rows, int n, int i, int k, int *nn)
{
	double		dist[64];
	int			have = 0;

	for (int j = 0; j < n; j++)
	{
		double		d;
		int			pos;

		if (j == i)
			continue;
		d = sq_distance(&rows[i], &rows[j]);
		if (have == k && d >= dist[k - 1])
			continue;
		pos = have < k ? have++ : k - 1;
		while (pos > 0 && dist[pos - 1] > d)
		{
			dist[pos] = dist[pos - 1];
			nn[pos] = nn[pos - 1];
			pos--;
		}
		dist[pos] = d;
		nn[pos] = j;
		if ((j & 1023) == 0)
			ntg_check_interrupts();
	}
}

static int32_t
interpolate(int32_t x, int32_t y, double u)
{
	double		ax = fabs((double) x),
				ay = fabs((double) y),
				mag = round(ax + u * (ay - ax));
	int32_t		s = u < 0.5 ? x : y;

	if (s == 0)
		s = u < 0.5 ? y : x;
	if (mag > 2147483647.0)
		mag = 2147483647.0;
	return s < 0 ? (int32_t) -mag : (int32_t) mag;
}

/* One synthetic row from x and y with gap u, into buf; returns its length. */
static int
smote_row(const RowRef *x, const RowRef *y, double u, int32_t *buf)
{
	int			len = (int) round(x->len + u * (y->len - x->len));

	for (int j = 0; j < len; j++)
	{
		if (j < x->len && j < y->len)
			buf[j] = interpolate(x->v[j], y->v[j], u);
		else
			buf[j] = j < x->len ? x->v[j] : y->v[j];
	}
	return len;
}

static int
smote_class(const NtgSeqSet *set, int c, int count, NtgRng *rng, int32_t *buf,
			NtgAugmentEmit emit, void *emit_arg, const void *arg, NtgError *err)
{
	int			k = *(const int *) arg;
	int			n,
				rc = NTG_OK,
				kk;
	RowRef	   *rows = class_rows(set, c, &n);
	int		   *nn = NULL;
	uint8_t    *done = NULL;

	if (rows == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	kk = k < n - 1 ? k : n - 1;
	if (n >= 2)
	{
		nn = ntg_calloc((size_t) n * kk, sizeof(int));
		done = ntg_calloc(n, 1);
		if (nn == NULL || done == NULL)
			rc = ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	for (int r = 0; rc == NTG_OK && r < count; r++)
	{
		int			i = (int) ntg_rng_below(rng, (uint64_t) n);

		if ((r & 1023) == 0)
			ntg_check_interrupts();
		if (n < 2)
		{
			rc = emit(c, rows[i].v, rows[i].len, emit_arg, err);
			continue;
		}
		{
			int			j;
			double		u;
			int			len;

			if (!done[i])
			{
				nearest(rows, n, i, kk, nn + (size_t) i * kk);
				done[i] = 1;
			}
			j = nn[(size_t) i * kk + ntg_rng_below(rng, (uint64_t) kk)];
			u = ntg_rng_double(rng);
			len = smote_row(&rows[i], &rows[j], u, buf);
			rc = emit(c, buf, len, emit_arg, err);
		}
	}
	ntg_free(rows);
	ntg_free(nn);
	ntg_free(done);
	return rc;
}

/*
 * Per-class generator of a baseline: emit `count` rows of class c, drawing from rng (the class's
 * own stream) with buf as scratch space of set->max_len values.
 */
typedef int (*ClassAugmentFn) (const NtgSeqSet *set, int c, int count, NtgRng *rng, int32_t *buf,
							   NtgAugmentEmit emit, void *emit_arg, const void *arg, NtgError *err);

/*
 * Run fn over every class, emitting rows as they are made (nothing is collected).  Each class
 * draws from a stream derived from the seed and the class name, so a class's rows do not depend on
 * which other classes are present.
 */
static int
augment_classes(const NtgSeqSet *set, const int *per_class, uint64_t seed, ClassAugmentFn fn,
				const void *arg, NtgAugmentEmit emit, void *emit_arg, NtgError *err)
{
	int32_t    *buf = ntg_calloc(set->max_len > 0 ? set->max_len : 1, sizeof(int32_t));
	NtgRng		master,
				rng;
	int			rc = NTG_OK;

	if (buf == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	ntg_rng_seed(&master, seed);
	for (int c = 0; rc == NTG_OK && c < set->n_classes; c++)
	{
		ntg_rng_split(&master, class_stream(set->classes[c]), &rng);
		rc = fn(set, c, per_class[c], &rng, buf, emit, emit_arg, arg, err);
	}
	ntg_free(buf);
	return rc;
}

/* Collecting emitted rows into a set (ntg_smote, ntg_fast_retransmit). */
typedef struct Collect
{
	const NtgSeqSet *set;
	NtgSeqSetBuilder *b;
} Collect;

static int
collect_row(int c, const int32_t *v, int len, void *arg, NtgError *err)
{
	Collect    *col = (Collect *) arg;

	return ntg_seqset_builder_add(col->b, col->set->classes[c], v, len, err);
}

static int
collect_all(const NtgSeqSet *set, const int *per_class, uint64_t seed, ClassAugmentFn fn,
			const void *arg, NtgSeqSet *out, NtgError *err)
{
	Collect		col = {set, ntg_seqset_builder_new()};
	int			rc;

	if (col.b == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if ((rc = augment_classes(set, per_class, seed, fn, arg, collect_row, &col, err)) != NTG_OK)
	{
		ntg_seqset_builder_free(col.b);
		return rc;
	}
	return ntg_seqset_builder_finish(col.b, out, err);
}

int
ntg_smote_emit(const NtgSeqSet *set, const int *per_class, int k, uint64_t seed,
			   NtgAugmentEmit emit, void *arg, NtgError *err)
{
	int			rc;

	if (k < 1 || k > 64)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "k must be between 1 and 64");
	if ((rc = check_args(set, per_class, err)) != NTG_OK)
		return rc;
	return augment_classes(set, per_class, seed, smote_class, &k, emit, arg, err);
}

int
ntg_smote(const NtgSeqSet *set, const int *per_class, int k, uint64_t seed, NtgSeqSet *out,
		  NtgError *err)
{
	int			rc;

	memset(out, 0, sizeof(*out));
	if (k < 1 || k > 64)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "k must be between 1 and 64");
	if ((rc = check_args(set, per_class, err)) != NTG_OK)
		return rc;
	return collect_all(set, per_class, seed, smote_class, &k, out, err);
}

/* ---- Fast Retransmit ---------------------------------------------------------------------- */

static void
delay_packet(int32_t *v, int len, NtgRng *rng)
{
	int			i = (int) ntg_rng_below(rng, (uint64_t) (len - 1)),
				d = 1 + (int) ntg_rng_below(rng, 3),
				j = i + d < len - 1 ? i + d : len - 1;
	int32_t		moved = v[i];

	memmove(v + i, v + i + 1, sizeof(int32_t) * (size_t) (j - i));
	v[j] = moved;
}

static int
fast_retransmit_class(const NtgSeqSet *set, int c, int count, NtgRng *rng, int32_t *buf,
					  NtgAugmentEmit emit, void *emit_arg, const void *arg, NtgError *err)
{
	double		p = *(const double *) arg;
	int			n,
				rc = NTG_OK;
	RowRef	   *rows = class_rows(set, c, &n);

	if (rows == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	for (int r = 0; rc == NTG_OK && r < count; r++)
	{
		const RowRef *src = &rows[ntg_rng_below(rng, (uint64_t) n)];

		memcpy(buf, src->v, sizeof(int32_t) * (size_t) src->len);
		if (ntg_rng_double(rng) < p && src->len >= 2)
			delay_packet(buf, src->len, rng);
		rc = emit(c, buf, src->len, emit_arg, err);
		if ((r & 1023) == 0)
			ntg_check_interrupts();
	}
	ntg_free(rows);
	return rc;
}

int
ntg_fast_retransmit_emit(const NtgSeqSet *set, const int *per_class, double p, uint64_t seed,
						 NtgAugmentEmit emit, void *arg, NtgError *err)
{
	int			rc;

	if (!(p >= 0.0 && p <= 1.0))
		return ntg_error(err, NTG_ERR_INVALID_ARG, "p must be between 0 and 1");
	if ((rc = check_args(set, per_class, err)) != NTG_OK)
		return rc;
	return augment_classes(set, per_class, seed, fast_retransmit_class, &p, emit, arg, err);
}

int
ntg_fast_retransmit(const NtgSeqSet *set, const int *per_class, double p, uint64_t seed,
					NtgSeqSet *out, NtgError *err)
{
	int			rc;

	memset(out, 0, sizeof(*out));
	if (!(p >= 0.0 && p <= 1.0))
		return ntg_error(err, NTG_ERR_INVALID_ARG, "p must be between 0 and 1");
	if ((rc = check_args(set, per_class, err)) != NTG_OK)
		return rc;
	return collect_all(set, per_class, seed, fast_retransmit_class, &p, out, err);
}
