/*
 * llama_sample.c — autoregressive generation with a KV cache: a batch of rows of one class
 * starts from <CLASS_c> at position 0; each step feeds every unfinished row's last token through
 * the layers once (one matrix product per weight for the whole batch), appends its key/value to
 * the cache and draws the next token.  Only value tokens and <EOS> can be drawn: the output head
 * is evaluated for that prefix of the vocabulary only (tokenizer.h), so class and <PAD> tokens
 * are impossible by construction, not by a mask that could be bypassed.
 */
#include "models/llama.h"
#include "nn/nn_simd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct LlamaSampler
{
	int			cap;			/* rows */
	int			T;				/* positions cached: max_len */
	float	   *kcache;			/* [L][cap][T][C] */
	float	   *vcache;
	float	   *x;				/* [cap, C] residual stream */
	float	   *xb;				/* [cap, C] */
	float	   *qkv;			/* [cap, 3C] */
	float	   *atty;			/* [cap, C] */
	float	   *h13;			/* [cap, 2H] */
	float	   *hg;				/* [cap, H] */
	float	   *logits;			/* [cap, K] */
	float	   *rstd;			/* [cap] */
	float	   *att;			/* [T] */
	int		   *pos;			/* [cap] */
	int		   *slot;			/* [cap] active row -> cache slot */
	int32_t    *tok;			/* [cap] */
	int		   *order;			/* [K] for top-k / top-p */
	/* Every row of a class starts with the same step (<CLASS_c> at position 0): its keys,
	 * values and logits are computed once per call and copied into each row (prefix caching). */
	int			prefix_class;	/* -1: not computed in this call */
	float	   *prefix_k;		/* [L][C] */
	float	   *prefix_v;		/* [L][C] */
	float	   *prefix_logits;	/* [K] */
};

void
llama_free_sampler(LlamaModel *m)
{
	LlamaSampler *s = m->sampler;

	if (s == NULL)
		return;
	ntg_free(s->kcache);
	ntg_free(s->vcache);
	ntg_free(s->x);
	ntg_free(s->pos);
	ntg_free(s->slot);
	ntg_free(s->tok);
	ntg_free(s->order);
	ntg_free(s->prefix_k);
	ntg_free(s);
	m->sampler = NULL;
}

static int
llama_ensure_sampler(LlamaModel *m, int cap)
{
	const LlamaConfig *c = &m->cfg;
	size_t		C = c->dim,
				H = c->hidden_dim,
				K = m->tok.n_values + 1,
				T = c->max_len;
	size_t		cache = (size_t) c->n_layers * cap * T * C;
	LlamaSampler *s;
	float	   *p;

	if (m->sampler != NULL && m->sampler->cap >= cap)
		return NTG_OK;
	llama_free_sampler(m);
	s = ntg_calloc(1, sizeof(LlamaSampler));
	if (s == NULL)
		return NTG_ERR_NOMEM;
	m->sampler = s;
	s->cap = cap;
	s->T = (int) T;
	s->kcache = ntg_malloc(cache * sizeof(float));
	s->vcache = ntg_malloc(cache * sizeof(float));
	s->x = ntg_malloc((cap * (C * 4 + 3 * C + 3 * H + K + 1) + T) * sizeof(float));
	s->pos = ntg_malloc(cap * sizeof(int));
	s->slot = ntg_malloc(cap * sizeof(int));
	s->tok = ntg_malloc(cap * sizeof(int32_t));
	s->order = ntg_malloc(K * sizeof(int));
	s->prefix_k = ntg_malloc((2 * (size_t) c->n_layers * C + K) * sizeof(float));
	if (s->kcache == NULL || s->vcache == NULL || s->x == NULL || s->pos == NULL ||
		s->slot == NULL || s->tok == NULL || s->order == NULL || s->prefix_k == NULL)
	{
		llama_free_sampler(m);
		return NTG_ERR_NOMEM;
	}
	p = s->x + cap * C;
	s->xb = p, p += cap * C;
	s->qkv = p, p += cap * 3 * C;
	s->atty = p, p += cap * C;
	s->h13 = p, p += cap * 2 * H;
	s->hg = p, p += cap * H;
	s->logits = p, p += cap * K;
	s->rstd = p, p += cap;
	s->att = p;
	s->prefix_v = s->prefix_k + (size_t) c->n_layers * C;
	s->prefix_logits = s->prefix_v + (size_t) c->n_layers * C;
	s->prefix_class = -1;
	return NTG_OK;
}

#define W(m, i) nn_params_ptr(&(m)->params, (i))

/* Attention of one new query per active row against that row's cached keys 0..pos. */
static void
attend_cached(LlamaSampler *s, const float *kc, const float *vc, int nact, int pos, int C,
			  int NH)
{
	int			HS = C / NH;
	float		scale = 1.0f / sqrtf((float) HS);
	size_t		row_stride = (size_t) s->T * C;

	for (int r = 0; r < nact; r++)
	{
		const float *kr = kc + s->slot[r] * row_stride;
		const float *vr = vc + s->slot[r] * row_stride;

		for (int h = 0; h < NH; h++)
		{
			const float *q = s->qkv + (size_t) r * 3 * C + h * HS;
			float	   *o = s->atty + (size_t) r * C + h * HS;
			float		mx = -INFINITY,
						sum = 0.0f;

			for (int u = 0; u <= pos; u++)
			{
				const float *k = kr + (size_t) u * C + h * HS;
				float		d = 0.0f;

				for (int i = 0; i < HS; i++)
					d += q[i] * k[i];
				d *= scale;
				s->att[u] = d;
				if (d > mx)
					mx = d;
			}
			for (int u = 0; u <= pos; u++)
			{
				s->att[u] = expf(s->att[u] - mx);
				sum += s->att[u];
			}
			memset(o, 0, HS * sizeof(float));
			for (int u = 0; u <= pos; u++)
			{
				const float *v = vr + (size_t) u * C + h * HS;
				float		p = s->att[u] / sum;

				for (int i = 0; i < HS; i++)
					o[i] += p * v[i];
			}
		}
	}
}

/* One decoding step for the nact active rows (tokens s->tok, all at position pos): leaves the
 * logits of the K = n_values + 1 drawable tokens in s->logits. */
static void
llama_decode_step(LlamaModel *m, int nact, int pos)
{
	const LlamaConfig *c = &m->cfg;
	LlamaSampler *s = m->sampler;
	int			C = c->dim,
				H = c->hidden_dim,
				NH = c->n_heads,
				HS = C / NH;
	size_t		layer_cache = (size_t) s->cap * s->T * C;

	for (int r = 0; r < nact; r++)
		s->pos[r] = pos;
	embedding_forward(s->x, s->tok, W(m, m->t_emb), nact, C);
	for (int l = 0; l < c->n_layers; l++)
	{
		const LlamaLayer *L = &m->layers[l];
		float	   *kc = s->kcache + l * layer_cache;
		float	   *vc = s->vcache + l * layer_cache;

		rmsnorm_forward(s->xb, s->rstd, s->x, W(m, L->attention_norm), nact, C, LLAMA_NORM_EPS);
		linear_forward(s->qkv, s->xb, W(m, L->wq), nact, C, 3 * C);
		rope_forward(s->qkv, s->pos, m->rope_cs, nact, NH, HS, 3 * C);
		rope_forward(s->qkv + C, s->pos, m->rope_cs, nact, NH, HS, 3 * C);
		for (int r = 0; r < nact; r++)
		{
			size_t		at = ((size_t) s->slot[r] * s->T + pos) * C;

			memcpy(kc + at, s->qkv + (size_t) r * 3 * C + C, C * sizeof(float));
			memcpy(vc + at, s->qkv + (size_t) r * 3 * C + 2 * C, C * sizeof(float));
		}
		attend_cached(s, kc, vc, nact, pos, C, NH);
		linear_forward(s->xb, s->atty, W(m, L->wo), nact, C, C);
		residual_add(s->x, s->xb, (size_t) nact * C);
		rmsnorm_forward(s->xb, s->rstd, s->x, W(m, L->ffn_norm), nact, C, LLAMA_NORM_EPS);
		linear_forward(s->h13, s->xb, W(m, L->w1), nact, C, 2 * H);
		swiglu_forward(s->hg, s->h13, nact, H);
		linear_forward(s->xb, s->hg, W(m, L->w2), nact, H, C);
		residual_add(s->x, s->xb, (size_t) nact * C);
	}
	rmsnorm_forward(s->xb, s->rstd, s->x, W(m, m->t_norm), nact, C, LLAMA_NORM_EPS);
	/* rows 0 .. n_values of the head: the value tokens and <EOS> */
	linear_forward(s->logits, s->xb, W(m, m->t_out), nact, C, m->tok.n_values + 1);
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

/* Draw a token from K logits (overwritten with probabilities) under temperature, top-k, top-p. */
static int
draw_token(float *z, int K, const NtgSampleOptions *o, int *order, NtgRng *rng)
{
	float		inv_t = (float) (1.0 / o->temperature);
	float		mx = -INFINITY;
	double		sum = 0.0,
				u,
				acc = 0.0;
	int			keep = K;

	for (int i = 0; i < K; i++)
	{
		z[i] *= inv_t;
		if (z[i] > mx)
			mx = z[i];
	}
	for (int i = 0; i < K; i++)
		z[i] -= mx;
	nn_vexp(z, K);
	for (int i = 0; i < K; i++)
		sum += z[i];
	if ((o->top_k > 0 && o->top_k < K) || o->top_p < 1.0)
	{
		double		kept = 0.0;

		for (int i = 0; i < K; i++)
			order[i] = i;
		sort_probs = z;
		qsort(order, K, sizeof(int), cmp_prob_desc);
		if (o->top_k > 0 && o->top_k < K)
			keep = o->top_k;
		if (o->top_p < 1.0)
		{
			int			k;

			for (k = 0; k < keep; k++)
			{
				kept += z[order[k]];
				if (kept >= o->top_p * sum)
				{
					k++;
					break;
				}
			}
			keep = k;
		}
		sum = 0.0;
		for (int k = 0; k < keep; k++)
			sum += z[order[k]];
		u = ntg_rng_double(rng) * sum;
		for (int k = 0; k < keep; k++)
		{
			acc += z[order[k]];
			if (u < acc)
				return order[k];
		}
		return order[keep - 1];
	}
	u = ntg_rng_double(rng) * sum;
	for (int i = 0; i < K; i++)
	{
		acc += z[i];
		if (u < acc)
			return i;
	}
	/* rounding left u at the very top: the last token with any mass */
	for (int i = K - 1; i > 0; i--)
		if (z[i] > 0.0f)
			return i;
	return 0;
}

/* Compute the shared first step of class_index once (row slot 0) and keep it. */
static void
llama_prefix(LlamaModel *m, int class_index)
{
	LlamaSampler *s = m->sampler;
	int			C = m->cfg.dim;
	int			K = m->tok.n_values + 1;
	size_t		layer_cache = (size_t) s->cap * s->T * C;

	s->slot[0] = 0;
	s->tok[0] = ntg_tok_class(&m->tok, class_index);
	llama_decode_step(m, 1, 0);
	for (int l = 0; l < m->cfg.n_layers; l++)
	{
		memcpy(s->prefix_k + (size_t) l * C, s->kcache + l * layer_cache, C * sizeof(float));
		memcpy(s->prefix_v + (size_t) l * C, s->vcache + l * layer_cache, C * sizeof(float));
	}
	memcpy(s->prefix_logits, s->logits, K * sizeof(float));
	s->prefix_class = class_index;
}

/* Generate rows [0, nb) of one batch into out/out_len. */
static void
llama_sample_chunk(LlamaModel *m, int class_index, int nb, const NtgSampleOptions *opts,
				   NtgRng *rng, int32_t *out, int *out_len)
{
	LlamaSampler *s = m->sampler;
	int			C = m->cfg.dim;
	int			K = m->tok.n_values + 1;
	int			eos = ntg_tok_eos(&m->tok);
	int			N = m->cfg.max_len;
	int			nact = nb;
	size_t		layer_cache = (size_t) s->cap * s->T * C;

	if (s->prefix_class != class_index)
		llama_prefix(m, class_index);
	for (int r = 0; r < nb; r++)
	{
		s->slot[r] = r;
		out_len[r] = 0;
		for (int l = 0; l < m->cfg.n_layers; l++)
		{
			size_t		at = l * layer_cache + (size_t) r * s->T * C;

			memcpy(s->kcache + at, s->prefix_k + (size_t) l * C, C * sizeof(float));
			memcpy(s->vcache + at, s->prefix_v + (size_t) l * C, C * sizeof(float));
		}
		memcpy(s->logits + (size_t) r * K, s->prefix_logits, K * sizeof(float));
	}
	memset(out, 0, (size_t) nb * N * sizeof(int32_t));
	for (int pos = 0; pos < N && nact > 0; pos++)
	{
		int			still = 0;

		ntg_check_interrupts();
		if (pos > 0)
			llama_decode_step(m, nact, pos);
		for (int r = 0; r < nact; r++)
		{
			int			row = s->slot[r];
			int			t = draw_token(s->logits + (size_t) r * K, K, opts, s->order, rng);

			if (t == eos)
				continue;
			out[(size_t) row * N + out_len[row]] = m->tok.values[t];
			out_len[row]++;
			if (out_len[row] >= N)
				continue;
			/* keep the row: compact the active list in place (order preserved) */
			s->slot[still] = row;
			s->tok[still] = t;
			still++;
		}
		nact = still;
	}
}

int
llama_sample_batched(LlamaModel *m, int class_index, int n, int batch,
					 const NtgSampleOptions *opts, NtgRng *rng, int32_t *out, int *out_len,
					 NtgError *err)
{
	int			N = m->cfg.max_len;

	if (class_index < 0 || class_index >= m->base.n_classes)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "class index %d out of range", class_index);
	if (n < 0 || batch < 1)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "invalid number of rows or batch size");
	if (!(opts->temperature > 0.0) || !isfinite(opts->temperature) || opts->top_k < 0 ||
		!(opts->top_p > 0.0 && opts->top_p <= 1.0))
		return ntg_error(err, NTG_ERR_INVALID_ARG, "invalid sampling options");
	if (n == 0)
		return NTG_OK;
	if (batch > n)
		batch = n;
	if (llama_ensure_sampler(m, batch) != NTG_OK)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	nn_blas_init(m->cfg.blas_threads);
	m->sampler->prefix_class = -1;	/* weights may have changed since the last call */
	for (int r0 = 0; r0 < n; r0 += batch)
	{
		int			nb = n - r0 < batch ? n - r0 : batch;

		llama_sample_chunk(m, class_index, nb, opts, rng, out + (size_t) r0 * N, out_len + r0);
	}
	return NTG_OK;
}

int
llama_sample(NtgGenModel *model, int class_index, int n, const NtgSampleOptions *opts,
			 NtgRng *rng, int32_t *out, int *out_len, NtgError *err)
{
	LlamaModel *m = (LlamaModel *) model;

	return llama_sample_batched(m, class_index, n, m->cfg.sample_batch, opts, rng, out, out_len,
								err);
}
