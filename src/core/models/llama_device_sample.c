/*
 * llama_device_sample.c — the sampler's device half: the KV cache on the device and the decode of
 * a position's nodes, the device twin of llama_decode_nodes (llama_sample.c).
 *
 * The host keeps the trie of histories, draws every token and keeps the stored <CLASS> nodes and
 * histories, exactly as on the CPU; per position it uploads the nodes' tokens and each node's
 * chain of ancestors, queues the layers, and copies back the logits of the drawable tokens.  The
 * random draws therefore consume the generator as on the CPU: the two devices give the same rows
 * wherever their logits agree to the rounding of a draw.
 */
#include "models/llama_device.h"

#include <string.h>

int
llama_device_sampler(LlamaModel *m, int cap, NtgError *err)
{
	const LlamaConfig *c = &m->cfg;
	LlamaDevice *d = m->gpu;
	const NnDeviceApi *api = d->api;
	size_t		C = c->dim,
				H = c->hidden_dim,
				K = m->tok.n_values + 1,
				T = c->max_len,
				L = c->n_layers,
				NH = c->n_heads;
	size_t		cache = L * T * cap * C;
	size_t		floats = 2 * cache + cap * (C * 4 + 3 * C + 3 * H + K + 1 + NH * T);
	size_t		ints = cap * (2 + T);
	float	   *p;

	if (d->scap >= cap)
		return NTG_OK;
	api->free(d->sblock);
	api->free(d->sints);
	ntg_free(d->host_sints);
	d->sblock = NULL;
	d->sints = NULL;
	d->scap = 0;
	if ((d->host_sints = ntg_malloc(ints * sizeof(int32_t))) == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	d->sblock = api->alloc(floats * sizeof(float));
	d->sints = api->alloc(ints * sizeof(int32_t));
	if (d->sblock == NULL || d->sints == NULL)
	{
		ntg_error(err, NTG_ERR_NOMEM, "out of memory on the CUDA device for the KV cache");
		ntg_error_detail(err, "%.1f MB could not be allocated: %s.",
						 (floats * sizeof(float) + ints * sizeof(int32_t)) / 1048576.0,
						 api->last_error());
		return NTG_ERR_NOMEM;
	}
	p = d->sblock;
	d->kcache = p, p += cache;
	d->vcache = p, p += cache;
	d->sx = p, p += cap * C;
	d->sxb = p, p += cap * C;
	d->sqkv = p, p += cap * 3 * C;
	d->satty = p, p += cap * C;
	d->sh13 = p, p += cap * 2 * H;
	d->shg = p, p += cap * H;
	d->slogits = p, p += cap * K;
	d->srstd = p, p += cap;
	d->satt = p;
	d->scap = cap;
	return NTG_OK;
}

/* Key (or value) row of node j at position p in layer l: the host's cache_at on the device. */
static float *
dev_cache_at(const LlamaModel *m, float *cache, int l, int p, int j)
{
	return cache + (((size_t) l * m->cfg.max_len + p) * m->gpu->scap + j) * m->cfg.dim;
}

int
llama_device_kv(LlamaModel *m, int p, int j, float *k, float *v, int to_cache, NtgError *err)
{
	const NnDeviceApi *api = m->gpu->api;
	size_t		bytes = m->cfg.dim * sizeof(float);

	for (int l = 0; l < m->cfg.n_layers; l++)
	{
		float	   *kd = dev_cache_at(m, m->gpu->kcache, l, p, j),
				   *vd = dev_cache_at(m, m->gpu->vcache, l, p, j);
		float	   *kh = k + (size_t) l * m->cfg.dim,
				   *vh = v + (size_t) l * m->cfg.dim;
		int			bad = to_cache ?
			api->to_device(kd, kh, bytes) != 0 || api->to_device(vd, vh, bytes) != 0 :
			api->to_host(kh, kd, bytes) != 0 || api->to_host(vh, vd, bytes) != 0;

		if (bad)
			return nn_device_error(api, "sampling", err);
	}
	return NTG_OK;
}

/* Upload the nodes' tokens, positions and chains of ancestors (walked as attend_chain does). */
static int
upload_nodes(LlamaModel *m, int U, int p, const int32_t *ntok, const int *parent, NtgError *err)
{
	LlamaDevice *d = m->gpu;
	int32_t    *h = d->host_sints;
	int32_t    *chain = h + 2 * U;

	memcpy(h, ntok, U * sizeof(int32_t));
	for (int j = 0; j < U; j++)
	{
		int			a = j;

		h[U + j] = p;
		for (int u = p; u >= 0; u--)
		{
			chain[(size_t) j * (p + 1) + u] = a;
			if (u > 0)
				a = parent[(size_t) u * d->scap + a];
		}
	}
	if (d->api->to_device(d->sints, h, ((size_t) U * (p + 3)) * sizeof(int32_t)) != 0)
		return nn_device_error(d->api, "sampling", err);
	return NTG_OK;
}

int
llama_device_decode(LlamaModel *m, int U, int p, const int32_t *ntok, const int *parent,
					float *logits, NtgError *err)
{
	const LlamaConfig *c = &m->cfg;
	LlamaDevice *d = m->gpu;
	const NnDeviceApi *api = d->api;
	int			C = c->dim,
				H = c->hidden_dim,
				NH = c->n_heads,
				HS = C / NH,
				K = m->tok.n_values + 1;
	const int32_t *tok = d->sints,
			   *pos = d->sints + U,
			   *chain = d->sints + 2 * U;
	int			rc;

	if ((rc = upload_nodes(m, U, p, ntok, parent, err)) != NTG_OK)
		return rc;
	api->embedding_forward(d->sx, tok, DW(m, m->t_emb), U, C);
	for (int l = 0; l < c->n_layers; l++)
	{
		const LlamaLayer *L = &m->layers[l];

		api->rmsnorm_forward(d->sxb, d->srstd, d->sx, DW(m, L->attention_norm), U, C,
							 LLAMA_NORM_EPS);
		api->linear_forward(d->sqkv, d->sxb, DW(m, L->wq), U, C, 3 * C);
		/* q's heads and k's follow each other in a row of qkv: one launch rotates both */
		api->rope_forward(d->sqkv, pos, d->rope_cs, U, 2 * NH, HS, 3 * C);
		api->kv_store(dev_cache_at(m, d->kcache, l, p, 0), dev_cache_at(m, d->vcache, l, p, 0),
					  d->sqkv, U, C);
		api->attention_decode(d->satty, d->sqkv, dev_cache_at(m, d->kcache, l, 0, 0),
							  dev_cache_at(m, d->vcache, l, 0, 0), chain,
							  (size_t) d->scap * C, U, p, C, NH, d->satt);
		api->linear_forward(d->sxb, d->satty, DW(m, L->wo), U, C, C);
		api->residual_add(d->sx, d->sxb, (size_t) U * C);
		api->rmsnorm_forward(d->sxb, d->srstd, d->sx, DW(m, L->ffn_norm), U, C, LLAMA_NORM_EPS);
		api->linear_forward(d->sh13, d->sxb, DW(m, L->w1), U, C, 2 * H);
		api->swiglu_forward(d->shg, d->sh13, U, H);
		api->linear_forward(d->sxb, d->shg, DW(m, L->w2), U, H, C);
		api->residual_add(d->sx, d->sxb, (size_t) U * C);
	}
	api->rmsnorm_forward(d->sxb, d->srstd, d->sx, DW(m, m->t_norm), U, C, LLAMA_NORM_EPS);
	/* rows 0 .. n_values of the head: the value tokens and <EOS> */
	api->linear_forward(d->slogits, d->sxb, DW(m, m->t_out), U, C, K);
	if (api->to_host(logits, d->slogits, (size_t) U * K * sizeof(float)) != 0)
		return nn_device_error(api, "sampling", err);
	return NTG_OK;
}
