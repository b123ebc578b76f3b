/*
 * fidelity.c — the six fidelity metrics per class and their macro average (see fidelity.h).
 *
 * One class at a time, both sides' rows of that class are counted into open-addressing hash maps
 * keyed by length, by value, by pair of value ids, and by whole sequence; every JSD is then one
 * pass over a map.  Markov transitions need no map of their own: the transition s -> n is the
 * 2-gram (s, n), and s -> END is counted per value id.  Cost: a few hash probes per value, no
 * allocation per value, no sorting.
 */
#include "metrics/fidelity.h"

#include <math.h>
#include <string.h>

#include "metrics/countmap.h"

#define INTERRUPT_EVERY 4096	/* rows between interrupt checks: well under 10 ms of work */
#define Min64(a, b) ((int64_t) (a) < (int64_t) (b) ? (int64_t) (a) : (int64_t) (b))

static const char *const metric_names[NTG_N_METRICS] = {
	"jsd_num_packets", "jsd_1gram", "jsd_2gram", "jsd_markov", "uniq_align", "leakage"
};

const char *
ntg_metric_name(int metric)
{
	return metric >= 0 && metric < NTG_N_METRICS ? metric_names[metric] : NULL;
}

/* ---- JSD ----------------------------------------------------------------------------------- */

/*
 * JSD = 1/2 Σ p·log2(p/m) + 1/2 Σ q·log2(q/m), m = (p+q)/2, p = a/A, q = b/B.  The sums are kept in
 * counts, Σ a·log2(2p/(p+q)) and Σ b·log2(2q/(p+q)), and divided by A and B once at the end: no term
 * divides by a zero m, 0·log 0 is 0 by skipping, and disjoint supports give exactly 1.
 */
typedef struct JsdSum
{
	double		a;
	double		b;
} JsdSum;

static inline void
jsd_add(JsdSum *sum, int64_t a, double A, int64_t b, double B)
{
	double		p = (double) a / A;
	double		q = (double) b / B;

	if (a > 0)
		sum->a += (double) a * log2(2.0 * p / (p + q));
	if (b > 0)
		sum->b += (double) b * log2(2.0 * q / (p + q));
}

/* JSD from the sums, clamped: rounding must not leave [0, 1]. */
static inline double
jsd_finish(const JsdSum *sum, double A, double B)
{
	double		j = 0.5 * (sum->a / A + sum->b / B);

	return j < 0.0 ? 0.0 : (j > 1.0 ? 1.0 : j);
}

/* An empty histogram is a point mass on "nothing": 0 against another empty one, else 1. */
static inline double
jsd_empty(double A, double B)
{
	return (A == 0.0 && B == 0.0) ? 0.0 : 1.0;
}

double
ntg_jsd_counts(const int64_t *a, const int64_t *b, int n)
{
	double		A = 0.0,
				B = 0.0;
	JsdSum		sum = {0.0, 0.0};

	for (int i = 0; i < n; i++)
	{
		A += (double) a[i];
		B += (double) b[i];
	}
	if (A == 0.0 || B == 0.0)
		return jsd_empty(A, B);
	for (int i = 0; i < n; i++)
		jsd_add(&sum, a[i], A, b[i], B);
	return jsd_finish(&sum, A, B);
}

static double
jsd_map(const NtgCountMap *m)
{
	double		A = 0.0,
				B = 0.0;
	JsdSum		sum = {0.0, 0.0};

	for (uint64_t i = 0; i < m->capacity; i++)
	{
		if (m->e[i].key == NTG_COUNTMAP_EMPTY)
			continue;
		A += (double) m->e[i].a;
		B += (double) m->e[i].b;
	}
	if (A == 0.0 || B == 0.0)
		return jsd_empty(A, B);
	for (uint64_t i = 0; i < m->capacity; i++)
		if (m->e[i].key != NTG_COUNTMAP_EMPTY)
			jsd_add(&sum, m->e[i].a, A, m->e[i].b, B);
	return jsd_finish(&sum, A, B);
}

/* ---- rows of one class --------------------------------------------------------------------- */

/* The rows of one class on one side. */
typedef struct Side
{
	const NtgSeqSet *set;
	const int  *rows;
	int			n;
} Side;

/* Rows of a set grouped by class: order[start[c] .. start[c+1]) (a counting sort). */
typedef struct ClassIndex
{
	int		   *order;
	int		   *start;
} ClassIndex;

static int
index_classes(const NtgSeqSet *s, ClassIndex *ix)
{
	int		   *cursor = ntg_calloc(s->n_classes + 1, sizeof(int));

	ix->start = ntg_calloc(s->n_classes + 1, sizeof(int));
	ix->order = ntg_malloc(sizeof(int) * (s->n_rows > 0 ? s->n_rows : 1));
	if (cursor == NULL || ix->start == NULL || ix->order == NULL)
	{
		ntg_free(cursor);
		return 0;
	}
	for (int i = 0; i < s->n_rows; i++)
		ix->start[s->row_class[i] + 1]++;
	for (int c = 0; c < s->n_classes; c++)
		ix->start[c + 1] += ix->start[c];
	memcpy(cursor, ix->start, sizeof(int) * s->n_classes);
	for (int i = 0; i < s->n_rows; i++)
		ix->order[cursor[s->row_class[i]]++] = i;
	ntg_free(cursor);
	return 1;
}

static void
free_index(ClassIndex *ix)
{
	ntg_free(ix->order);
	ntg_free(ix->start);
}

static inline void
tick(int *k)
{
	if (++*k % INTERRUPT_EVERY == 0)
		ntg_check_interrupts();
}

/* ---- histograms of lengths, values and pairs; Markov --------------------------------------- */

/* Counting state of one class (both sides); freed by free_work. */
typedef struct Work
{
	NtgCountMap lens;
	NtgCountMap values;
	NtgCountMap pairs;
	uint32_t   *ids[2];			/* slot in `values` of every value, per side, in row order */
	int64_t    *ends[2];		/* per value slot: rows that end with that value, per side */
	JsdSum	   *contrib;		/* per value slot: JSD sums of its next-value distribution */
} Work;

static void
free_work(Work *w)
{
	ntg_countmap_free(&w->lens);
	ntg_countmap_free(&w->values);
	ntg_countmap_free(&w->pairs);
	for (int k = 0; k < 2; k++)
	{
		ntg_free(w->ids[k]);
		ntg_free(w->ends[k]);
	}
	ntg_free(w->contrib);
}

static int64_t
side_items(const Side *s)
{
	int64_t		n = 0;

	for (int i = 0; i < s->n; i++)
		n += s->set->row_start[s->rows[i] + 1] - s->set->row_start[s->rows[i]];
	return n;
}

/* Histograms of lengths and of values; side k counts into a (k = 0) or b (k = 1). */
static int
count_lengths_values(Work *w, const Side *side, int k)
{
	int			ticks = 0;

	for (int i = 0; i < side->n; i++)
	{
		int			len;
		const int32_t *v = ntg_seqset_row(side->set, side->rows[i], &len);

		if (!ntg_countmap_add(&w->lens, (uint64_t) len, k == 0, k == 1))
			return 0;
		for (int t = 0; t < len; t++)
			if (!ntg_countmap_add(&w->values, (uint64_t) (uint32_t) v[t], k == 0, k == 1))
				return 0;
		tick(&ticks);
	}
	return 1;
}

/* With the value map complete (slots final): value ids, pair counts and end counts of a side. */
static int
count_pairs(Work *w, const Side *side, int k, int64_t items)
{
	uint64_t	cap = w->values.capacity;
	int64_t		pos = 0;
	int			ticks = 0;

	w->ids[k] = ntg_malloc(sizeof(uint32_t) * (items > 0 ? items : 1));
	w->ends[k] = ntg_calloc(cap, sizeof(int64_t));
	if (w->ids[k] == NULL || w->ends[k] == NULL)
		return 0;
	for (int i = 0; i < side->n; i++)
	{
		int			len;
		const int32_t *v = ntg_seqset_row(side->set, side->rows[i], &len);
		uint32_t   *id = w->ids[k] + pos;

		for (int t = 0; t < len; t++)
			id[t] = (uint32_t) ntg_countmap_find(&w->values, (uint64_t) (uint32_t) v[t]);
		for (int t = 0; t + 1 < len; t++)
			if (!ntg_countmap_add(&w->pairs, (uint64_t) id[t] * cap + id[t + 1], k == 0, k == 1))
				return 0;
		if (len > 0)
			w->ends[k][id[len - 1]]++;
		pos += len;
		tick(&ticks);
	}
	return 1;
}

/*
 * jsd_markov.  For a source slot s, the real next-value distribution is pairs (s, ·) plus ends[0][s],
 * which sum to the real count of s (every occurrence of s is followed by a value or by END); the
 * same on the synthetic side.  So each pair adds its terms to contrib[source], each END count too.
 */
static double
markov(Work *w)
{
	uint64_t	cap = w->values.capacity;
	const NtgCountEntry *val = w->values.e;
	double		weighted = 0.0,
				weight = 0.0,
				synth_items = 0.0;

	w->contrib = ntg_calloc(cap, sizeof(JsdSum));
	if (w->contrib == NULL)
		return -1.0;
	for (uint64_t i = 0; i < w->pairs.capacity; i++)
	{
		const NtgCountEntry *e = &w->pairs.e[i];
		uint64_t	s;

		if (e->key == NTG_COUNTMAP_EMPTY)
			continue;
		s = e->key / cap;
		if (val[s].a > 0 && val[s].b > 0)
			jsd_add(&w->contrib[s], e->a, (double) val[s].a, e->b, (double) val[s].b);
	}
	for (uint64_t s = 0; s < cap; s++)
	{
		if (val[s].key == NTG_COUNTMAP_EMPTY)
			continue;
		synth_items += (double) val[s].b;
		if (val[s].a == 0)
			continue;			/* sources come from the real rows only */
		weight += (double) val[s].a;
		if (val[s].b == 0)
			weighted += (double) val[s].a;	/* never produced: scores 1 */
		else
		{
			double		A = (double) val[s].a,
						B = (double) val[s].b;

			jsd_add(&w->contrib[s], w->ends[0][s], A, w->ends[1][s], B);
			weighted += A * jsd_finish(&w->contrib[s], A, B);
		}
	}
	if (weight == 0.0)
		return jsd_empty(weight, synth_items);
	return weighted / weight;
}

/* ---- distinct sequences: uniq_align and leakage -------------------------------------------- */

typedef struct SeqEntry
{
	uint64_t	hash;
	const int32_t *v;
	int32_t		len;			/* -1: free slot */
	uint8_t		seen[2];		/* occurs on the real / synthetic side */
} SeqEntry;

static inline uint64_t
hash_seq(const int32_t *v, int len)
{
	uint64_t	h = 0x9e3779b97f4a7c15ULL ^ (uint64_t) len;

	for (int t = 0; t < len; t++)
	{
		h = (h ^ (uint32_t) v[t]) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return ntg_mix64(h);
}

static void
add_seqs(SeqEntry *tab, uint64_t mask, const Side *side, int k)
{
	int			ticks = 0;

	for (int i = 0; i < side->n; i++)
	{
		int			len;
		const int32_t *v = ntg_seqset_row(side->set, side->rows[i], &len);
		uint64_t	h = hash_seq(v, len);
		uint64_t	s = h & mask;

		for (;; s = (s + 1) & mask)
		{
			SeqEntry   *e = &tab[s];

			if (e->len < 0)
			{
				e->hash = h;
				e->v = v;
				e->len = len;
				e->seen[k] = 1;
				break;
			}
			if (e->hash == h && e->len == len && memcmp(e->v, v, sizeof(int32_t) * len) == 0)
			{
				e->seen[k] = 1;
				break;
			}
		}
		tick(&ticks);
	}
}

/* value[NTG_METRIC_UNIQ_ALIGN] and value[NTG_METRIC_LEAKAGE]; both sides have rows. */
static int
distinct_sequences(const Side *r, const Side *s, double *value)
{
	uint64_t	cap = 16;
	SeqEntry   *tab;
	double		distinct[2] = {0, 0},
				both = 0;

	while (cap < 2 * (uint64_t) (r->n + s->n))
		cap *= 2;
	if ((tab = ntg_malloc(cap * sizeof(SeqEntry))) == NULL)
		return 0;
	for (uint64_t i = 0; i < cap; i++)
	{
		tab[i].len = -1;
		tab[i].seen[0] = tab[i].seen[1] = 0;
	}
	add_seqs(tab, cap - 1, r, 0);
	add_seqs(tab, cap - 1, s, 1);
	for (uint64_t i = 0; i < cap; i++)
	{
		distinct[0] += tab[i].seen[0];
		distinct[1] += tab[i].seen[1];
		both += tab[i].seen[0] && tab[i].seen[1];
	}
	ntg_free(tab);
	value[NTG_METRIC_UNIQ_ALIGN] = fabs(distinct[0] / r->n - distinct[1] / s->n);
	value[NTG_METRIC_LEAKAGE] = both / (distinct[0] + distinct[1] - both);
	return 1;
}

/* ---- one class, all classes ---------------------------------------------------------------- */

/* All six metrics of a class with rows on both sides. */
static int
class_fidelity(const Side *r, const Side *s, double *value, NtgError *err)
{
	Work		w;
	int64_t		items[2] = {side_items(r), side_items(s)};
	int			ok;

	/* Start small for small classes: many tiny classes must not each clear big tables. */
	memset(&w, 0, sizeof(w));
	ok = ntg_countmap_init(&w.lens, Min64(r->n + s->n, 64)) &&
		ntg_countmap_init(&w.values, Min64(items[0] + items[1], 1024)) &&
		ntg_countmap_init(&w.pairs, Min64(items[0] + items[1], 4096)) &&
		count_lengths_values(&w, r, 0) && count_lengths_values(&w, s, 1);
	if (ok && w.values.capacity > UINT32_MAX / 2)
	{
		free_work(&w);
		return ntg_error(err, NTG_ERR_UNSUPPORTED, "too many distinct payload lengths in one class");
	}
	ok = ok && count_pairs(&w, r, 0, items[0]) && count_pairs(&w, s, 1, items[1]);
	if (ok)
	{
		value[NTG_METRIC_JSD_NUM_PACKETS] = jsd_map(&w.lens);
		value[NTG_METRIC_JSD_1GRAM] = jsd_map(&w.values);
		value[NTG_METRIC_JSD_2GRAM] = jsd_map(&w.pairs);
		value[NTG_METRIC_JSD_MARKOV] = markov(&w);
		ok = value[NTG_METRIC_JSD_MARKOV] >= 0.0 && distinct_sequences(r, s, value);
	}
	free_work(&w);
	if (!ok)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	return NTG_OK;
}

static void
set_all(double *value, double v)
{
	for (int m = 0; m < NTG_N_METRICS; m++)
		value[m] = v;
}

/* Fill one class row from the two sides (either may be empty, not both). */
static int
fill_class(NtgClassFidelity *c, const Side *r, const Side *s, NtgError *err)
{
	c->real_rows = r->n;
	c->synthetic_rows = s->n;
	if (r->n == 0)
	{
		set_all(c->value, NAN);	/* nothing to compare with: not in the average */
		return NTG_OK;
	}
	if (s->n == 0)
	{
		set_all(c->value, 1.0);	/* worst score for every measure of fidelity ... */
		c->value[NTG_METRIC_LEAKAGE] = 0.0;	/* ... and nothing leaked: J(R, {}) = 0 */
		return NTG_OK;
	}
	return class_fidelity(r, s, c->value, err);
}

static int
compute(const NtgSeqSet *real, const NtgSeqSet *synth, const ClassIndex *ir,
		const ClassIndex *is, NtgFidelity *out, NtgError *err)
{
	int			i = 0,
				j = 0;

	while (i < real->n_classes || j < synth->n_classes)
	{
		int			cmp = i >= real->n_classes ? 1 : j >= synth->n_classes ? -1 :
			strcmp(real->classes[i], synth->classes[j]);
		NtgClassFidelity *c = &out->classes[out->n_classes++];
		Side		r = {real, NULL, 0},
					s = {synth, NULL, 0};
		int			rc;

		if (cmp <= 0)
		{
			r.rows = ir->order + ir->start[i];
			r.n = ir->start[i + 1] - ir->start[i];
			c->label = real->classes[i++];
		}
		if (cmp >= 0)
		{
			s.rows = is->order + is->start[j];
			s.n = is->start[j + 1] - is->start[j];
			c->label = synth->classes[j++];
		}
		if ((rc = fill_class(c, &r, &s, err)) != NTG_OK)
			return rc;
		ntg_check_interrupts();
	}
	return NTG_OK;
}

static void
macro_average(NtgFidelity *f)
{
	for (int m = 0; m < NTG_N_METRICS; m++)
		f->macro[m] = 0.0;
	for (int c = 0; c < f->n_classes; c++)
	{
		const NtgClassFidelity *k = &f->classes[c];

		if (k->real_rows == 0)
		{
			f->n_extra++;
			continue;
		}
		f->n_real_classes++;
		f->n_missing += k->synthetic_rows == 0;
		for (int m = 0; m < NTG_N_METRICS; m++)
			f->macro[m] += k->value[m];
	}
	for (int m = 0; m < NTG_N_METRICS; m++)
		f->macro[m] /= f->n_real_classes;
}

int
ntg_fidelity_compute(const NtgSeqSet *real, const NtgSeqSet *synthetic, NtgFidelity *out,
					 NtgError *err)
{
	ClassIndex	ir = {NULL, NULL},
				is = {NULL, NULL};
	int			rc = NTG_OK;

	memset(out, 0, sizeof(*out));
	if (real->n_rows == 0)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "the real set has no rows");
	out->classes = ntg_calloc(real->n_classes + synthetic->n_classes, sizeof(NtgClassFidelity));
	if (out->classes == NULL || !index_classes(real, &ir) || !index_classes(synthetic, &is))
		rc = ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if (rc == NTG_OK)
		rc = compute(real, synthetic, &ir, &is, out, err);
	free_index(&ir);
	free_index(&is);
	if (rc != NTG_OK)
	{
		ntg_fidelity_free(out);
		return rc;
	}
	macro_average(out);
	return NTG_OK;
}

void
ntg_fidelity_free(NtgFidelity *f)
{
	ntg_free(f->classes);
	memset(f, 0, sizeof(*f));
}
