/*
 * token_draw.c — the next-token draws of the token generators (token_draw.h).
 *
 * Two ways to draw (NtgTokenSampling.stratified):
 *  - independent: one uniform per row, in row order: exactly what feeding every row separately
 *    would give, whatever the batch size.
 *  - stratified: the m rows at a node draw at the m points (k + v) / m, k = 0..m-1, of the node's
 *    cumulative distribution (one uniform v per node: systematic sampling), dealt to the rows in
 *    a random order.  Each row still follows the model's distribution exactly, but a token of
 *    probability q goes to floor(m q) or ceil(m q) of the rows, never to many more or fewer by
 *    chance; applied at every node of the trie, the batch's rows spread over the model's
 *    sequences in proportion to their probabilities, so n generated rows represent the model's
 *    distribution with less sampling noise, and rare sequences are missed less often.  The rows
 *    of a batch are then not independent of each other (a batch is one stratified sample).
 *
 * Only value tokens and <EOS> can be drawn: the generators evaluate their output head for that
 * prefix of the vocabulary only (tokenizer.h), so class and <PAD> tokens are impossible by
 * construction, not by a mask that could be bypassed.
 */
#include "models/token_draw.h"
#include "nn/nn_simd.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t
ntg_token_draw_bytes(int cap, int K)
{
	return (size_t) cap * K * (sizeof(double) + sizeof(int)) + (size_t) K * sizeof(int) +
		(size_t) cap * 11 * sizeof(int);
}

int
ntg_token_draw_alloc(NtgTokenDraw *d, int cap, int K)
{
	int		   *q;

	memset(d, 0, sizeof(*d));
	d->cap = cap;
	d->K = K;
	d->cdf = ntg_malloc((size_t) cap * K * sizeof(double));
	d->block = ntg_malloc(((size_t) cap * K + K + (size_t) cap * 11) * sizeof(int));
	if (d->cdf == NULL || d->block == NULL)
	{
		ntg_token_draw_free(d);
		return NTG_ERR_NOMEM;
	}
	q = d->block;
	d->kept = q, q += (size_t) cap * K;
	d->order = q, q += K;
	d->n_kept = q, q += cap;
	d->row_node = q, q += cap;
	d->row_id = q, q += cap;
	d->child_head = q, q += cap;
	d->child_next = q, q += cap;
	d->node_rows = q, q += cap;
	d->node_next = q, q += cap;
	d->row_tok = q, q += cap;
	d->child_parent = q, q += cap;
	d->child_tok = q;
	return NTG_OK;
}

void
ntg_token_draw_free(NtgTokenDraw *d)
{
	ntg_free(d->cdf);
	ntg_free(d->block);
	memset(d, 0, sizeof(*d));
}

int
ntg_token_sampling_check(const NtgTokenSampling *o, NtgError *err)
{
	if (!(o->temperature > 0.0) || !isfinite(o->temperature) || o->top_k < 0 ||
		!(o->top_p > 0.0 && o->top_p <= 1.0))
		return ntg_error(err, NTG_ERR_INVALID_ARG, "invalid sampling options");
	return NTG_OK;
}

static const float *sort_probs;

static int
cmp_prob_desc(const void *a, const void *b)
{
	int			i = *(const int *) a,
				j = *(const int *) b;

	if (sort_probs[i] != sort_probs[j])
		return sort_probs[i] > sort_probs[j] ? -1 : 1;
	return (i > j) - (i < j);	/* ties by token: qsort is not stable */
}

/*
 * Turn K logits z (overwritten) into node j's sampling table: the kept tokens (all of them, or
 * the top-k / top-p set in decreasing probability) and their cumulative mass.
 */
static void
build_dist(NtgTokenDraw *s, int j, float *z, const NtgTokenSampling *o)
{
	int			K = s->K;
	/* shift by the max before scaling, and cap 1/T, so a tiny temperature cannot overflow */
	float		inv_t = (float) fmin(1.0 / o->temperature, FLT_MAX);
	float		mx;
	double	   *cdf = s->cdf + (size_t) j * K;
	int		   *kept = s->kept + (size_t) j * K;
	double		acc = 0.0;
	int			keep = K;

	mx = nn_vmax(z, K);
	nn_vshift_scale(z, K, mx, inv_t);
	nn_vexp(z, K);
	if ((o->top_k > 0 && o->top_k < K) || o->top_p < 1.0)
	{
		double		total = 0.0;

		for (int i = 0; i < K; i++)
		{
			s->order[i] = i;
			total += z[i];
		}
		sort_probs = z;
		qsort(s->order, K, sizeof(int), cmp_prob_desc);
		if (o->top_k > 0 && o->top_k < K)
			keep = o->top_k;
		for (int k = 0; k < keep; k++)
		{
			acc += z[s->order[k]];
			kept[k] = s->order[k];
			cdf[k] = acc;
			if (o->top_p < 1.0 && acc >= o->top_p * total)
			{
				keep = k + 1;
				break;
			}
		}
	}
	else
		for (int i = 0; i < K; i++)
		{
			acc += z[i];
			kept[i] = i;
			cdf[i] = acc;
		}
	s->n_kept[j] = keep;
}

/* The token of node j's table at fraction f in [0, 1) of its mass: the first entry whose
 * cumulative mass exceeds f * total. */
static int
token_at(const NtgTokenDraw *s, int j, double f)
{
	const double *cdf = s->cdf + (size_t) j * s->K;
	int			n = s->n_kept[j];
	double		u = f * cdf[n - 1];
	int			lo = 0,
				hi = n - 1;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	/* u rounded up to the total lands on the last entry, maybe of zero mass: step back to the
	 * last entry that has some (otherwise cdf[lo] > u >= cdf[lo - 1] already) */
	while (lo > 0 && cdf[lo] == cdf[lo - 1])
		lo--;
	return s->kept[(size_t) j * s->K + lo];
}

/*
 * Stratified draws for the nact active rows: node j's m rows get the tokens at fractions
 * (k + v) / m of its distribution, in a random order; row_tok holds one run per node, starting
 * at node_next[j], which the rows then consume.
 */
static void
draw_stratified(NtgTokenDraw *s, int U, NtgRng *rng)
{
	int			start = 0;

	memset(s->node_rows, 0, U * sizeof(int));
	for (int r = 0; r < s->nact; r++)
		s->node_rows[s->row_node[r]]++;
	for (int j = 0; j < U; j++)
	{
		int			m = s->node_rows[j];
		int32_t    *run = s->row_tok + start;
		double		v = m > 0 ? ntg_rng_double(rng) : 0.0;

		for (int k = 0; k < m; k++)
			run[k] = token_at(s, j, (k + v) / m);
		for (int k = m - 1; k > 0; k--)
		{
			int			i = (int) ntg_rng_below(rng, (uint64_t) k + 1);
			int32_t		t = run[k];

			run[k] = run[i];
			run[i] = t;
		}
		s->node_next[j] = start;
		start += m;
	}
}

void
ntg_token_draw_begin(NtgTokenDraw *d, int nb, int32_t *out, int *out_len, int N)
{
	for (int r = 0; r < nb; r++)
	{
		d->row_node[r] = 0;
		d->row_id[r] = r;
		out_len[r] = 0;
	}
	memset(out, 0, (size_t) nb * N * sizeof(int32_t));
	d->nact = nb;
}

int
ntg_token_draw_step(NtgTokenDraw *d, float *logits, int U, const NtgTokenSampling *opts,
					NtgRng *rng, const int32_t *values, int32_t *out, int *out_len, int N)
{
	int			eos = d->K - 1;
	int			still = 0,
				next = 0;

	for (int j = 0; j < U; j++)
	{
		build_dist(d, j, logits + (size_t) j * d->K, opts);
		d->child_head[j] = -1;
	}
	if (opts->stratified)
		draw_stratified(d, U, rng);
	for (int r = 0; r < d->nact; r++)
	{
		int			j = d->row_node[r];
		int			row = d->row_id[r];
		int			t = opts->stratified ? d->row_tok[d->node_next[j]++] :
			token_at(d, j, ntg_rng_double(rng));
		int			c;

		if (t == eos)
			continue;
		out[(size_t) row * N + out_len[row]] = values[t];
		if (++out_len[row] >= N)
			continue;
		/* the row goes on: find or make the child node (j, t) at the next position */
		for (c = d->child_head[j]; c >= 0; c = d->child_next[c])
			if (d->child_tok[c] == t)
				break;
		if (c < 0)
		{
			c = next++;
			d->child_parent[c] = j;
			d->child_tok[c] = t;
			d->child_next[c] = d->child_head[j];
			d->child_head[j] = c;
		}
		d->row_node[still] = c;
		d->row_id[still] = row;
		still++;
	}
	d->nact = still;
	return next;
}
