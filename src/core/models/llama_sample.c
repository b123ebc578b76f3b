/*
 * llama_sample.c — autoregressive generation with a KV cache, batched over rows AND shared
 * over identical histories.
 *
 * A batch of rows of one class starts from <CLASS_c> at position 0.  Rows whose tokens so far
 * are identical have identical next-token distributions, so the sampler keeps, per position p,
 * the set of DISTINCT histories ("nodes": a token and a parent node at p - 1, i.e. a trie), and
 * feeds each node through the layers once: one matrix product per weight for all the nodes of a
 * position.  Every row then draws its own next token from its node's distribution; rows that
 * draw the same token move to the same child node.  Traffic rows repeat a lot (many rows of a
 * class share their first packets), so there are far fewer nodes than rows.  The node at
 * position 0 (<CLASS_c>) is computed once per call, even one row at a time.
 *
 * The draws themselves (temperature, top-k, top-p; independent or stratified rows) and the
 * grouping of the rows into the next position's nodes are token_draw.c's, shared with the other
 * token generators.
 *
 * Keys and values of a node are stored once, at its position; attention walks the node's chain
 * of parents (at most max_len steps).  The output head is evaluated for the drawable tokens
 * (values and <EOS>) only.
 */
#include "models/llama.h"
#include "models/token_draw.h"
#include "nn/nn_simd.h"

#include <math.h>
#include <string.h>

struct LlamaSampler
{
	int			cap;			/* nodes per position (= rows per batch) */
	int			T;				/* positions: max_len */
	int			K;				/* drawable tokens: n_values + 1 */
	float	   *kcache;			/* [L][T][cap][C]: key of node j at position p */
	float	   *vcache;
	int		   *parent;			/* [T][cap]: node at p - 1 */
	int32_t    *ntok;			/* [cap]: input token of each node at the current position */
	int		   *pos;			/* [cap] */
	int		   *chain;			/* [T]: a node's ancestors, position 0 .. p */
	float	   *x;				/* [cap, C] residual stream */
	float	   *xb;				/* [cap, C] */
	float	   *qkv;			/* [cap, 3C] */
	float	   *atty;			/* [cap, C] */
	float	   *h13;			/* [cap, 2H] */
	float	   *hg;				/* [cap, H] */
	float	   *logits;			/* [cap, K] */
	float	   *rstd;			/* [cap] */
	float	   *att;			/* [T] */
	NtgTokenDraw draw;			/* the rows, their draws and the next position's nodes */
	/* the <CLASS_c> node, computed once per call */
	int			prefix_class;	/* class of the prefix kept here; -1: none */
	float	   *prefix_k;		/* [L][C] */
	float	   *prefix_v;		/* [L][C] */
	float	   *prefix_logits;	/* [K] */
	float	   *kv;				/* [2][L][C]: keys and values of one node, copied off a device */
	void	   *block;
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
	ntg_token_draw_free(&s->draw);
	ntg_free(s->block);
	ntg_free(s);
	m->sampler = NULL;
}

void
llama_free_prefixes(LlamaModel *m)
{
	ntg_free(m->prefix_store);
	ntg_free(m->prefix_ready);
	m->prefix_store = NULL;
	m->prefix_ready = NULL;
}

static int
llama_ensure_sampler(LlamaModel *m, int cap, NtgError *err)
{
	const LlamaConfig *c = &m->cfg;
	size_t		C = c->dim,
				H = c->hidden_dim,
				K = m->tok.n_values + 1,
				T = c->max_len,
				L = c->n_layers;
	size_t		cache = L * T * cap * C;
	size_t		ints = T * cap + cap * 2 + T;
	LlamaSampler *s;
	float	   *p;
	int		   *q;

	if (m->sampler != NULL && m->sampler->cap >= cap)
		return NTG_OK;
	llama_free_sampler(m);
	/* on a device, the KV cache lives there (llama_device_sample.c) */
	if (m->gpu != NULL && llama_device_sampler(m, cap, err) != NTG_OK)
		return err->code;
	s = ntg_calloc(1, sizeof(LlamaSampler));
	if (s == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	m->sampler = s;
	s->cap = cap;
	s->T = (int) T;
	s->K = (int) K;
	if (m->gpu == NULL)
	{
		s->kcache = ntg_malloc(cache * sizeof(float));
		s->vcache = ntg_malloc(cache * sizeof(float));
	}
	s->x = ntg_malloc((cap * (C * 4 + 3 * C + 3 * H + K + 1) + T + 4 * L * C + K) * sizeof(float));
	s->block = ntg_malloc(ints * sizeof(int));
	if ((m->gpu == NULL && (s->kcache == NULL || s->vcache == NULL)) || s->x == NULL ||
		s->block == NULL || ntg_token_draw_alloc(&s->draw, cap, (int) K) != NTG_OK)
	{
		llama_free_sampler(m);
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	p = s->x + cap * C;
	s->xb = p, p += cap * C;
	s->qkv = p, p += cap * 3 * C;
	s->atty = p, p += cap * C;
	s->h13 = p, p += cap * 2 * H;
	s->hg = p, p += cap * H;
	s->logits = p, p += cap * K;
	s->rstd = p, p += cap;
	s->att = p, p += T;
	s->prefix_k = p, p += L * C;
	s->prefix_v = p, p += L * C;
	s->prefix_logits = p, p += K;
	s->kv = p;
	q = s->block;
	s->parent = q, q += T * cap;
	s->ntok = q, q += cap;
	s->pos = q, q += cap;
	s->chain = q;
	s->prefix_class = -1;
	return NTG_OK;
}

#define W(m, i) nn_params_ptr(&(m)->params, (i))

/* Rows per batch such that the sampler's buffers (KV cache and per-node tables) stay within
 * LLAMA_SAMPLER_BYTES, whatever sample_batch asks for. */
#define LLAMA_SAMPLER_BYTES ((size_t) 64 << 20)

static int
llama_sampler_max_rows(const LlamaModel *m)
{
	const LlamaConfig *c = &m->cfg;
	size_t		K = m->tok.n_values + 1;
	size_t		per_row = sizeof(float) * (2 * (size_t) c->n_layers * c->max_len * c->dim +
										   7 * (size_t) c->dim + 3 * (size_t) c->hidden_dim + K + 1) +
		sizeof(double) * K + sizeof(int) * (c->max_len + K + 9);
	size_t		rows = LLAMA_SAMPLER_BYTES / per_row;

	return rows < 1 ? 1 : rows > LLAMA_MAX_BATCH ? LLAMA_MAX_BATCH : (int) rows;
}

/* Key (or value) of node j at position p in layer l. */
static inline float *
cache_at(const LlamaSampler *s, float *cache, int l, int p, int j, int C)
{
	return cache + (((size_t) l * s->T + p) * s->cap + j) * C;
}

/* Scores q . k / sqrt(HS) of one head's query against the keys of positions 0 .. p (chain),
 * into att.  Four positions at a time, each summed in the order of a plain loop: the same bits,
 * with four independent chains of additions instead of one. */
static void
head_scores(const LlamaSampler *s, int l, int p, int C, int h, int HS, const float *q, float scale)
{
	int			u = 0;

	for (; u + 4 <= p + 1; u += 4)
	{
		const float *k0 = cache_at(s, s->kcache, l, u, s->chain[u], C) + h * HS,
				   *k1 = cache_at(s, s->kcache, l, u + 1, s->chain[u + 1], C) + h * HS,
				   *k2 = cache_at(s, s->kcache, l, u + 2, s->chain[u + 2], C) + h * HS,
				   *k3 = cache_at(s, s->kcache, l, u + 3, s->chain[u + 3], C) + h * HS;
		float		d0 = 0.0f,
					d1 = 0.0f,
					d2 = 0.0f,
					d3 = 0.0f;

		for (int i = 0; i < HS; i++)
		{
			d0 += q[i] * k0[i];
			d1 += q[i] * k1[i];
			d2 += q[i] * k2[i];
			d3 += q[i] * k3[i];
		}
		s->att[u] = d0 * scale;
		s->att[u + 1] = d1 * scale;
		s->att[u + 2] = d2 * scale;
		s->att[u + 3] = d3 * scale;
	}
	for (; u <= p; u++)
	{
		const float *k = cache_at(s, s->kcache, l, u, s->chain[u], C) + h * HS;
		float		d = 0.0f;

		for (int i = 0; i < HS; i++)
			d += q[i] * k[i];
		s->att[u] = d * scale;
	}
}

/* Attention of each node's query at position p over its own chain of ancestors 0 .. p. */
static void
attend_chain(LlamaSampler *s, int l, int U, int p, int C, int NH)
{
	int			HS = C / NH;
	float		scale = 1.0f / sqrtf((float) HS);

	for (int j = 0; j < U; j++)
	{
		int			a = j;

		for (int u = p; u >= 0; u--)
		{
			s->chain[u] = a;
			if (u > 0)
				a = s->parent[(size_t) u * s->cap + a];
		}
		for (int h = 0; h < NH; h++)
		{
			const float *q = s->qkv + (size_t) j * 3 * C + h * HS;
			float	   *o = s->atty + (size_t) j * C + h * HS;
			float		mx,
						sum = 0.0f;

			head_scores(s, l, p, C, h, HS, q, scale);
			mx = nn_vmax(s->att, p + 1);
			for (int u = 0; u <= p; u++)
			{
				s->att[u] = expf(s->att[u] - mx);
				sum += s->att[u];
			}
			memset(o, 0, HS * sizeof(float));
			for (int u = 0; u <= p; u++)
				nn_axpy_unfused(o, s->att[u] / sum,
								cache_at(s, s->vcache, l, u, s->chain[u], C) + h * HS, HS);
		}
	}
}

/*
 * A one-node decode step streams every weight matrix once, so its time is their bytes: when the
 * weights are float16 values (half_weights, the default), it reads a float16 copy of them (nn.h),
 * half the bytes, for the same results.  Building the copy writes ~2.5 MB of new memory for the
 * default shape (1-2 ms in a new backend, mostly page faults) and saves ~15 us a step, so a model
 * builds it after this many one-node steps: a backend that samples a few rows does not pay for it.
 */
#define LLAMA_HALF_AFTER_STEPS 64

/* Feed the U nodes of position p (tokens s->ntok) through the model: stores their keys and
 * values and leaves the logits of the K drawable tokens in s->logits.  Fails only on a device. */
static int
llama_decode_nodes(LlamaModel *m, int U, int p, NtgError *err)
{
	const LlamaConfig *c = &m->cfg;
	LlamaSampler *s = m->sampler;
	int			C = c->dim,
				H = c->hidden_dim,
				NH = c->n_heads,
				HS = C / NH;

	if (m->gpu != NULL)
		return llama_device_decode(m, U, p, s->ntok, s->parent, s->logits, err);

	/* one node: see LLAMA_HALF_AFTER_STEPS */
	if (U == 1 && m->params.half_state == 0 && ++m->one_row_steps >= LLAMA_HALF_AFTER_STEPS)
		nn_params_half_prepare(&m->params);
	for (int j = 0; j < U; j++)
		s->pos[j] = p;
	nn_embed(s->x, s->ntok, &m->params, m->t_emb, U, C);
	for (int l = 0; l < c->n_layers; l++)
	{
		const LlamaLayer *L = &m->layers[l];

		rmsnorm_forward(s->xb, s->rstd, s->x, W(m, L->attention_norm), U, C, LLAMA_NORM_EPS);
		nn_matmul(s->qkv, s->xb, &m->params, L->wq, U, C, 3 * C);
		rope_forward(s->qkv, s->pos, m->rope_cs, U, NH, HS, 3 * C);
		rope_forward(s->qkv + C, s->pos, m->rope_cs, U, NH, HS, 3 * C);
		for (int j = 0; j < U; j++)
		{
			memcpy(cache_at(s, s->kcache, l, p, j, C), s->qkv + (size_t) j * 3 * C + C,
				   C * sizeof(float));
			memcpy(cache_at(s, s->vcache, l, p, j, C), s->qkv + (size_t) j * 3 * C + 2 * C,
				   C * sizeof(float));
		}
		attend_chain(s, l, U, p, C, NH);
		nn_matmul(s->xb, s->atty, &m->params, L->wo, U, C, C);
		residual_add(s->x, s->xb, (size_t) U * C);
		rmsnorm_forward(s->xb, s->rstd, s->x, W(m, L->ffn_norm), U, C, LLAMA_NORM_EPS);
		nn_matmul(s->h13, s->xb, &m->params, L->w1, U, C, 2 * H);
		swiglu_forward(s->hg, s->h13, U, H);
		nn_matmul(s->xb, s->hg, &m->params, L->w2, U, H, C);
		residual_add(s->x, s->xb, (size_t) U * C);
	}
	rmsnorm_forward(s->xb, s->rstd, s->x, W(m, m->t_norm), U, C, LLAMA_NORM_EPS);
	/* rows 0 .. n_values of the head: the value tokens and <EOS> */
	nn_matmul(s->logits, s->xb, &m->params, m->t_out, U, C, s->K);
	return NTG_OK;
}

/* Keys and values of node j at position p, every layer, out of the cache into k[L][C] and
 * v[L][C] (to_cache 0), or into the cache from them (1): a copy on the CPU, a transfer on a
 * device. */
static int
kv_copy(LlamaModel *m, int p, int j, float *k, float *v, int to_cache, NtgError *err)
{
	LlamaSampler *s = m->sampler;
	int			C = m->cfg.dim;

	if (m->gpu != NULL)
		return llama_device_kv(m, p, j, k, v, to_cache, err);
	for (int l = 0; l < m->cfg.n_layers; l++)
	{
		float	   *kc = cache_at(s, s->kcache, l, p, j, C),
				   *vc = cache_at(s, s->vcache, l, p, j, C);

		memcpy(to_cache ? kc : k + (size_t) l * C, to_cache ? k + (size_t) l * C : kc,
			   C * sizeof(float));
		memcpy(to_cache ? vc : v + (size_t) l * C, to_cache ? v + (size_t) l * C : vc,
			   C * sizeof(float));
	}
	return NTG_OK;
}

/*
 * The <CLASS_c> node (position 0) of every class is the same for every row and every call: its
 * keys, values and logits are computed once and kept in the model (all classes, when they take at
 * most LLAMA_PREFIX_STORE_BYTES; else the last class used, in the sampler), until training changes
 * the weights (llama_forget_prefixes).  A one-row call then decodes only the row's own tokens.
 */
#define LLAMA_PREFIX_STORE_BYTES ((size_t) 8 << 20)

static size_t
prefix_floats(const LlamaModel *m)
{
	return 2 * (size_t) m->cfg.n_layers * m->cfg.dim + (size_t) m->tok.n_values + 1;
}

void
llama_forget_prefixes(LlamaModel *m)
{
	if (m->prefix_ready != NULL)
		memset(m->prefix_ready, 0, m->base.n_classes);
	if (m->sampler != NULL)
		m->sampler->prefix_class = -1;
	llama_node_forget(m);
}

/* Where class c's prefix is kept: its slot of the model's store, or the sampler's one slot. */
static float *
prefix_slot(LlamaModel *m, int c, int *ready)
{
	LlamaSampler *s = m->sampler;

	if (m->prefix_store == NULL && m->base.n_classes * prefix_floats(m) * sizeof(float) <=
		LLAMA_PREFIX_STORE_BYTES)
	{
		m->prefix_store = ntg_malloc(m->base.n_classes * prefix_floats(m) * sizeof(float));
		m->prefix_ready = ntg_calloc(m->base.n_classes, 1);
		if (m->prefix_store == NULL || m->prefix_ready == NULL)
		{
			ntg_free(m->prefix_store), ntg_free(m->prefix_ready);
			m->prefix_store = NULL, m->prefix_ready = NULL;
		}
	}
	if (m->prefix_store != NULL)
	{
		*ready = m->prefix_ready[c];
		m->prefix_ready[c] = 1;
		return m->prefix_store + (size_t) c * prefix_floats(m);
	}
	*ready = s->prefix_class == c;
	s->prefix_class = c;
	return s->prefix_k;		/* prefix_k, prefix_v and prefix_logits follow each other */
}

/* Put class c's <CLASS_c> node at position 0 of the caches, computing it the first time. */
static int
llama_prefix(LlamaModel *m, int class_index, NtgError *err)
{
	LlamaSampler *s = m->sampler;
	int			C = m->cfg.dim,
				L = m->cfg.n_layers;
	int			ready,
				rc;
	float	   *p = prefix_slot(m, class_index, &ready);

	if (!ready)
	{
		s->ntok[0] = ntg_tok_class(&m->tok, class_index);
		if ((rc = llama_decode_nodes(m, 1, 0, err)) != NTG_OK ||
			(rc = kv_copy(m, 0, 0, p, p + (size_t) L * C, 0, err)) != NTG_OK)
		{
			llama_forget_prefixes(m);	/* the slot is marked ready: unmark it */
			return rc;
		}
		memcpy(p + (size_t) 2 * L * C, s->logits, s->K * sizeof(float));
		return NTG_OK;
	}
	memcpy(s->logits, p + (size_t) 2 * L * C, s->K * sizeof(float));
	return kv_copy(m, 0, 0, p, p + (size_t) L * C, 1, err);
}

/* The single node at position p from the kept histories (llama_nodes.c) into the cache: 1, or 0
 * when not kept (or -1 when a device failed, err set). */
static int
node_from_store(LlamaModel *m, int cls, const int32_t *path, int p, NtgError *err)
{
	LlamaSampler *s = m->sampler;
	int			C = m->cfg.dim,
				L = m->cfg.n_layers;
	float	   *rec = (float *) llama_node_get(m, cls, path, p);

	if (rec == NULL)
		return 0;
	if (kv_copy(m, p, 0, rec, rec + (size_t) L * C, 1, err) != NTG_OK)
		return -1;
	memcpy(s->logits, rec + (size_t) 2 * L * C, s->K * sizeof(float));
	return 1;
}

static int
node_to_store(LlamaModel *m, int cls, const int32_t *path, int p, NtgError *err)
{
	LlamaSampler *s = m->sampler;
	int			C = m->cfg.dim,
				L = m->cfg.n_layers;
	const float *kv[2 * LLAMA_MAX_LAYERS];

	for (int l = 0; l < L; l++)
	{
		kv[l] = m->gpu != NULL ? s->kv + (size_t) l * C : cache_at(s, s->kcache, l, p, 0, C);
		kv[L + l] = m->gpu != NULL ? s->kv + (size_t) (L + l) * C :
			cache_at(s, s->vcache, l, p, 0, C);
	}
	if (m->gpu != NULL && kv_copy(m, p, 0, s->kv, s->kv + (size_t) L * C, 0, err) != NTG_OK)
		return err->code;
	llama_node_put(m, cls, path, p, kv, s->logits);
	return NTG_OK;
}

/* Generate rows [0, nb) of one batch into out/out_len. */
static int
llama_sample_chunk(LlamaModel *m, int class_index, int nb, const NtgTokenSampling *opts,
				   NtgRng *rng, int32_t *out, int *out_len, NtgError *err)
{
	LlamaSampler *s = m->sampler;
	int			N = m->cfg.max_len;
	int			U = 1;			/* nodes at the current position */
	int			single = 1;		/* one node at every position so far */
	int32_t		path[LLAMA_MAX_LEN];	/* its tokens after <CLASS_c> */
	int			rc;

	if ((rc = llama_prefix(m, class_index, err)) != NTG_OK)
		return rc;
	ntg_token_draw_begin(&s->draw, nb, out, out_len, N);
	for (int p = 0; p < N && s->draw.nact > 0; p++)
	{
		int			next;

		ntg_check_interrupts();
		if (p > 0)
		{
			/* while the batch follows one history, it may have been decoded before */
			single = single && U == 1;
			if (single)
				path[p - 1] = s->ntok[0];
			if (!single || (rc = node_from_store(m, class_index, path, p, err)) == 0)
			{
				if ((rc = llama_decode_nodes(m, U, p, err)) != NTG_OK ||
					(single && (rc = node_to_store(m, class_index, path, p, err)) != NTG_OK))
					return rc;
			}
			else if (rc < 0)
				return err->code;
		}
		next = ntg_token_draw_step(&s->draw, s->logits, U, opts, rng, m->tok.values, out,
								   out_len, N);
		/* the next position's nodes: their parents for attention, their tokens to decode */
		for (int c = 0; c < next; c++)
		{
			s->parent[(size_t) (p + 1) * s->cap + c] = s->draw.child_parent[c];
			s->ntok[c] = s->draw.child_tok[c];
		}
		U = next;
	}
	return NTG_OK;
}

int
llama_sampler_probs(LlamaModel *m, int class_index, const int32_t *tokens, int len, float *probs,
					NtgError *err)
{
	LlamaSampler *s;
	double		sum = 0.0;
	float		mx;
	int			rc;

	if (class_index < 0 || class_index >= m->base.n_classes || len < 0 || len >= m->cfg.max_len)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "class or history length out of range");
	if ((rc = llama_ensure_sampler(m, 1, err)) != NTG_OK ||
		(rc = llama_prefix(m, class_index, err)) != NTG_OK)
		return rc;
	s = m->sampler;
	for (int p = 1; p <= len; p++)
	{
		s->ntok[0] = tokens[p - 1];
		s->parent[(size_t) p * s->cap] = 0;
		if ((rc = llama_decode_nodes(m, 1, p, err)) != NTG_OK)
			return rc;
	}
	mx = nn_vmax(s->logits, s->K);
	for (int i = 0; i < s->K; i++)
		sum += probs[i] = expf(s->logits[i] - mx);
	for (int i = 0; i < s->K; i++)
		probs[i] = (float) (probs[i] / sum);
	return NTG_OK;
}

int
llama_sample_batched(LlamaModel *m, int class_index, int n, int batch,
					 const NtgTokenSampling *opts, NtgRng *rng, int32_t *out, int *out_len,
					 NtgError *err)
{
	int			N = m->cfg.max_len;
	int			rc;

	if (class_index < 0 || class_index >= m->base.n_classes)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "class index %d out of range", class_index);
	if (n < 0 || batch < 1)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "invalid number of rows or batch size");
	if (ntg_token_sampling_check(opts, err) != NTG_OK)
		return err->code;
	if (n == 0)
		return NTG_OK;
	if (batch > n)
		batch = n;
	if (batch > llama_sampler_max_rows(m))
		batch = llama_sampler_max_rows(m);
	if ((rc = llama_ensure_sampler(m, batch, err)) != NTG_OK)
		return rc;
	nn_blas_init(m->cfg.blas_threads);
	for (int r0 = 0; r0 < n; r0 += batch)
	{
		int			nb = n - r0 < batch ? n - r0 : batch;

		if ((rc = llama_sample_chunk(m, class_index, nb, opts, rng, out + (size_t) r0 * N,
									 out_len + r0, err)) != NTG_OK)
			return rc;
	}
	return NTG_OK;
}

int
llama_sample(NtgModel *model, int class_index, int n, const NtgSampleOptions *opts,
			 NtgRng *rng, int32_t *out, int *out_len, NtgError *err)
{
	LlamaModel *m = (LlamaModel *) model;
	NtgTokenSampling ts = ntg_token_sampling(opts);

	return llama_sample_batched(m, class_index, n, m->cfg.sample_batch, &ts, rng, out, out_len,
								err);
}
