/*
 * llama_device.c — the llama model on a CUDA device: its copies of the weights and optimizer
 * state, and the training pass, the device twin of llama_forward / llama_backward
 * (llama_train.c), written line for line against the ops of nn_device.h.
 *
 * The host stays in charge: it shuffles, packs the rows (llama_step), draws the dropout masks
 * and computes AdamW's scalars, then uploads the batch and queues the ops; one copy back per
 * micro-batch brings the loss (and waits for the work).  The host weights are refreshed after
 * every epoch (llama_train_epoch), so what save() stores is the same format whichever device
 * trained.  Device memory is registered for cleanup (ntg_cleanup_register): an error or a cancel
 * that releases the model's memory context releases its device buffers too.
 */
#include "models/llama_device.h"

#include <string.h>

/* ---- memory ------------------------------------------------------------------------------- */

static void
release_acts(const NnDeviceApi *api, LlamaDevActs *a)
{
	api->free(a->block);
	api->free(a->drop);
	api->free(a->ints);
	api->free(a->att_off);
	api->free(a->losses);
	a->block = a->drop = NULL;
	a->ints = NULL;
	a->att_off = NULL;
	a->losses = NULL;
	a->cap_tokens = 0;
}

/* Free every device buffer (the cleanup function: d itself stays, in its memory context). */
static void
release_device(void *arg)
{
	LlamaDevice *d = arg;
	const NnDeviceApi *api = d->api;

	api->free(d->w);
	api->free(d->g);
	api->free(d->m);
	api->free(d->v);
	api->free(d->decay);
	api->free(d->part);
	api->free(d->rope_cs);
	api->free(d->sblock);
	api->free(d->sints);
	d->w = d->g = d->m = d->v = d->rope_cs = d->sblock = NULL;
	d->decay = NULL;
	d->part = NULL;
	d->sints = NULL;
	d->scap = 0;
	release_acts(api, &d->acts);
}

static void
free_acts_host(LlamaDevActs *a)
{
	ntg_free(a->resid);
	ntg_free(a->host_ints);
	ntg_free(a->host_att_off);
	ntg_free(a->host_losses);
	ntg_free(a->host_drop);
	a->resid = NULL;
	a->host_ints = NULL;
	a->host_att_off = NULL;
	a->host_losses = NULL;
	a->host_drop = NULL;
}

void
llama_device_free(LlamaModel *m)
{
	LlamaDevice *d = m->gpu;

	if (d == NULL)
		return;
	ntg_cleanup_cancel(d->guard);
	release_device(d);
	free_acts_host(&d->acts);
	ntg_free(d->host_sints);
	ntg_free(d);
	m->gpu = NULL;
	m->base.device = NULL;
}

static int
device_nomem(LlamaModel *m, const char *what, size_t bytes, NtgError *err)
{
	ntg_error(err, NTG_ERR_NOMEM, "out of memory on the CUDA device for %s", what);
	ntg_error_detail(err, "%.1f MB could not be allocated: %s.", bytes / 1048576.0,
					 m->gpu->api->last_error());
	return NTG_ERR_NOMEM;
}

/* A device buffer of n elements of size each, copied from host (NULL: left as allocated). */
static int
upload(LlamaModel *m, void **dst, const void *host, size_t n, size_t size, const char *what,
	   NtgError *err)
{
	const NnDeviceApi *api = m->gpu->api;

	if ((*dst = api->alloc(n * size)) == NULL)
		return device_nomem(m, what, n * size, err);
	if (host != NULL && api->to_device(*dst, host, n * size) != 0)
		return nn_device_error(api, what, err);
	return NTG_OK;
}

/* ---- moving the model --------------------------------------------------------------------- */

/* Weights and the rotary table onto dev; the optimizer state comes with the first step. */
static int
device_create(LlamaModel *m, const NnDeviceApi *dev, NtgError *err)
{
	LlamaDevice *d;
	size_t		rope = (size_t) (m->cfg.max_len + 1) * (m->cfg.dim / m->cfg.n_heads);
	int			rc;

	if (dev->start() != 0)
		return nn_device_error(dev, "the device's start", err);
	if ((d = ntg_calloc(1, sizeof(LlamaDevice))) == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	d->api = dev;
	d->grad_clean = 1;
	m->gpu = d;
	d->guard = ntg_cleanup_register(release_device, d);
	if ((rc = upload(m, (void **) &d->w, m->params.data, m->params.count, sizeof(float),
					 "the weights", err)) != NTG_OK ||
		(rc = upload(m, (void **) &d->rope_cs, m->rope_cs, rope, sizeof(float),
					 "the rotary table", err)) != NTG_OK)
	{
		llama_device_free(m);
		return rc;
	}
	return NTG_OK;
}

/* Leave the device: a model that trained there takes its weights and moments home. */
static int
device_leave(LlamaModel *m, NtgError *err)
{
	LlamaDevice *d = m->gpu;
	const NnDeviceApi *api = d->api;
	size_t		bytes = m->params.count * sizeof(float);
	int			rc = NTG_OK;

	if (d->g != NULL && m->params.m != NULL && !m->params.borrowed &&
		(api->to_host(m->params.data, d->w, bytes) != 0 ||
		 api->to_host(m->params.m, d->m, bytes) != 0 ||
		 api->to_host(m->params.v, d->v, bytes) != 0))
		rc = nn_device_error(api, "copying the model back", err);
	llama_device_free(m);
	return rc;
}

int
llama_set_device(NtgModel *model, const NnDeviceApi *dev, NtgError *err)
{
	LlamaModel *m = (LlamaModel *) model;
	int			rc = NTG_OK;

	if (m->gpu != NULL && m->gpu->api == dev)
		return NTG_OK;
	/* the kept <CLASS> nodes and histories, and the sampler's buffers, belong to one device */
	llama_free_sampler(m);
	llama_forget_prefixes(m);
	if (m->gpu != NULL)
		rc = device_leave(m, err);
	if (rc == NTG_OK && dev != NULL && (rc = device_create(m, dev, err)) == NTG_OK)
		m->base.device = dev;
	return rc;
}

/* ---- training ----------------------------------------------------------------------------- */

/* Gradients, moments (from the host's: a model may have trained before) and the decay mask. */
static int
ensure_optimizer(LlamaModel *m, NtgError *err)
{
	LlamaDevice *d = m->gpu;
	size_t		n = m->params.count;
	uint8_t    *mask;
	int			rc;

	if (d->g != NULL)
		return NTG_OK;
	if ((mask = ntg_malloc(n)) == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	for (int k = 0; k < m->params.n_tensors; k++)
		memset(mask + m->params.tensors[k].offset, m->params.tensors[k].decay ? 1 : 0,
			   m->params.tensors[k].count);
	rc = upload(m, (void **) &d->decay, mask, n, 1, "the optimizer state", err);
	ntg_free(mask);
	if (rc == NTG_OK)
		rc = upload(m, (void **) &d->m, m->params.m, n, sizeof(float), "the optimizer state", err);
	if (rc == NTG_OK)
		rc = upload(m, (void **) &d->v, m->params.v, n, sizeof(float), "the optimizer state", err);
	if (rc == NTG_OK)
		rc = upload(m, (void **) &d->part, NULL, NN_DEVICE_NORM_SCRATCH, sizeof(double),
					"the optimizer state", err);
	if (rc == NTG_OK)
		rc = upload(m, (void **) &d->g, NULL, n, sizeof(float), "the gradients", err);
	if (rc != NTG_OK)
		return rc;
	if (m->params.m == NULL)
	{
		d->api->zero(d->m, n * sizeof(float));
		d->api->zero(d->v, n * sizeof(float));
	}
	d->api->zero(d->g, n * sizeof(float));
	d->grad_clean = 1;
	return NTG_OK;
}

int
llama_device_begin_update(LlamaModel *m, NtgError *err)
{
	LlamaDevice *d = m->gpu;
	int			rc;

	if ((rc = ensure_optimizer(m, err)) != NTG_OK)
		return rc;
	if (!d->grad_clean)
		d->api->zero(d->g, m->params.count * sizeof(float));
	d->grad_clean = 0;
	return NTG_OK;
}

/* Attention floats per layer for S rows of T tokens (the CPU's bound, llama_train.c). */
static size_t
att_floats(const LlamaConfig *c, size_t S)
{
	size_t		T = c->max_len + 1;

	return S * c->n_heads * T * T;
}

/* Device activations for passes of up to S rows (capacity as the host's acts). */
static int
ensure_acts(LlamaModel *m, int S, NtgError *err)
{
	const LlamaConfig *c = &m->cfg;
	LlamaDevActs *a = &m->gpu->acts;
	size_t		N = (size_t) S * (c->max_len + 1),
				C = c->dim,
				H = c->hidden_dim,
				V = c->vocab_size,
				L = c->n_layers,
				att = att_floats(c, S);
	/* per layer: resid[l], ln1, atty, mid, ln2; rstd1, rstd2; qkv; att; h13; hg */
	size_t		per_layer = N * C * 5 + N * 2 + N * 3 * C + att + N * 2 * H + N * H;
	size_t		total = N * C + per_layer * L + N * C * 5 + N + N * V + N * 3 * C + N * 2 * H +
		N * H + att;
	float	   *p;
	int			rc;

	if (a->cap_tokens >= (int) N)
		return NTG_OK;
	release_acts(m->gpu->api, a);
	free_acts_host(a);
	a->resid = ntg_malloc(11 * (L + 1) * sizeof(float *));
	a->host_ints = ntg_malloc((3 * N + 2 * S) * sizeof(int32_t));
	a->host_att_off = ntg_malloc(S * sizeof(size_t));
	a->host_losses = ntg_malloc(N * sizeof(double));
	a->host_drop = c->dropout > 0.0 ? ntg_malloc(2 * L * N * C * sizeof(float)) : NULL;
	if (a->resid == NULL || a->host_ints == NULL || a->host_att_off == NULL ||
		a->host_losses == NULL || (c->dropout > 0.0 && a->host_drop == NULL))
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if ((rc = upload(m, (void **) &a->block, NULL, total, sizeof(float), "the activations", err)) != NTG_OK ||
		(rc = upload(m, (void **) &a->ints, NULL, 3 * N + 2 * S, sizeof(int32_t), "the activations", err)) != NTG_OK ||
		(rc = upload(m, (void **) &a->att_off, NULL, S, sizeof(size_t), "the activations", err)) != NTG_OK ||
		(rc = upload(m, (void **) &a->losses, NULL, N, sizeof(double), "the activations", err)) != NTG_OK ||
		(c->dropout > 0.0 &&
		 (rc = upload(m, (void **) &a->drop, NULL, 2 * L * N * C, sizeof(float), "the activations", err)) != NTG_OK))
		return rc;
	a->ln1 = a->resid + (L + 1);
	a->rstd1 = a->ln1 + L;
	a->qkv = a->rstd1 + L;
	a->att = a->qkv + L;
	a->atty = a->att + L;
	a->mid = a->atty + L;
	a->ln2 = a->mid + L;
	a->rstd2 = a->ln2 + L;
	a->h13 = a->rstd2 + L;
	a->hg = a->h13 + L;
	p = a->block;
	for (size_t l = 0; l <= L; l++)
		a->resid[l] = p, p += N * C;
	for (size_t l = 0; l < L; l++)
	{
		a->ln1[l] = p, p += N * C;
		a->rstd1[l] = p, p += N;
		a->qkv[l] = p, p += N * 3 * C;
		a->att[l] = p, p += att;
		a->atty[l] = p, p += N * C;
		a->mid[l] = p, p += N * C;
		a->ln2[l] = p, p += N * C;
		a->rstd2[l] = p, p += N;
		a->h13[l] = p, p += N * 2 * H;
		a->hg[l] = p, p += N * H;
	}
	a->lnf = p, p += N * C;
	a->rstdf = p, p += N;
	a->logits = p, p += N * V;
	a->dresid = p, p += N * C;
	a->dtmp = p, p += N * C;
	a->tmp = p, p += N * C;
	a->dmask = p, p += N * C;
	a->dqkv = p, p += N * 3 * C;
	a->dh13 = p, p += N * 2 * H;
	a->dhg = p, p += N * H;
	a->datt = p;
	a->cap_tokens = (int) N;
	return NTG_OK;
}

/* Upload the packed batch (and the dropout masks, drawn here in the CPU's order). */
static int
upload_batch(LlamaModel *m, const LlamaBatch *b, NtgError *err)
{
	LlamaDevActs *a = &m->gpu->acts;
	const NnDeviceApi *api = m->gpu->api;
	int			N = b->N,
				S = b->S;
	size_t		NC = (size_t) N * m->cfg.dim;
	int32_t    *h = a->host_ints;

	memcpy(h, b->tokens, N * sizeof(int32_t));
	memcpy(h + N, b->targets, N * sizeof(int32_t));
	memcpy(h + 2 * N, b->pos, N * sizeof(int32_t));
	memcpy(h + 3 * N, b->start, S * sizeof(int32_t));
	memcpy(h + 3 * N + S, b->lens, S * sizeof(int32_t));
	attention_offsets(a->host_att_off, b->lens, S, m->cfg.n_heads);
	if (api->to_device(a->ints, h, (3 * (size_t) N + 2 * S) * sizeof(int32_t)) != 0 ||
		api->to_device(a->att_off, a->host_att_off, S * sizeof(size_t)) != 0)
		return nn_device_error(api, "copying a batch", err);
	if (!b->dropping)
		return NTG_OK;
	for (int l = 0; l < m->cfg.n_layers; l++)
	{
		/* after wo, then after w2, as llama_forward draws them */
		llama_dropout_scales(m, a->host_drop + 2 * l * NC, NC);
		llama_dropout_scales(m, a->host_drop + (2 * l + 1) * NC, NC);
	}
	if (api->to_device(a->drop, a->host_drop, 2 * m->cfg.n_layers * NC * sizeof(float)) != 0)
		return nn_device_error(api, "copying the dropout masks", err);
	return NTG_OK;
}

/* Device twin of llama_forward: logits of the batch in acts.logits. */
static void
device_forward(LlamaModel *m, int N, int S, int dropping)
{
	const LlamaConfig *c = &m->cfg;
	const NnDeviceApi *api = m->gpu->api;
	LlamaDevActs *a = &m->gpu->acts;
	const int32_t *tokens = a->ints;
	const int  *pos = a->ints + 2 * N,
			   *start = a->ints + 3 * N,
			   *lens = start + S;
	int			C = c->dim,
				H = c->hidden_dim,
				NH = c->n_heads,
				HS = C / NH,
				T = c->max_len + 1;
	size_t		NC = (size_t) N * C;

	api->embedding_forward(a->resid[0], tokens, DW(m, m->t_emb), N, C);
	for (int l = 0; l < c->n_layers; l++)
	{
		const LlamaLayer *L = &m->layers[l];

		api->rmsnorm_forward(a->ln1[l], a->rstd1[l], a->resid[l], DW(m, L->attention_norm), N, C,
							 LLAMA_NORM_EPS);
		api->linear_forward(a->qkv[l], a->ln1[l], DW(m, L->wq), N, C, 3 * C);
		/* q's heads and k's follow each other in a row of qkv: one launch rotates both */
		api->rope_forward(a->qkv[l], pos, m->gpu->rope_cs, N, 2 * NH, HS, 3 * C);
		api->attention_forward(a->atty[l], a->att[l], a->qkv[l], start, lens, a->att_off, S, C,
							   NH, T);
		api->linear_forward(a->mid[l], a->atty[l], DW(m, L->wo), N, C, C);
		if (dropping)
			api->scale_mul(a->mid[l], a->mid[l], a->drop + 2 * l * NC, NC);
		api->residual_add(a->mid[l], a->resid[l], NC);
		api->rmsnorm_forward(a->ln2[l], a->rstd2[l], a->mid[l], DW(m, L->ffn_norm), N, C,
							 LLAMA_NORM_EPS);
		api->linear_forward(a->h13[l], a->ln2[l], DW(m, L->w1), N, C, 2 * H);
		api->swiglu_forward(a->hg[l], a->h13[l], N, H);
		api->linear_forward(a->resid[l + 1], a->hg[l], DW(m, L->w2), N, H, C);
		if (dropping)
			api->scale_mul(a->resid[l + 1], a->resid[l + 1], a->drop + (2 * l + 1) * NC, NC);
		api->residual_add(a->resid[l + 1], a->mid[l], NC);
	}
	api->rmsnorm_forward(a->lnf, a->rstdf, a->resid[c->n_layers], DW(m, m->t_norm), N, C,
						 LLAMA_NORM_EPS);
	api->linear_forward(a->logits, a->lnf, DW(m, m->t_out), N, C, c->vocab_size);
}

/* dout through a dropout mask of the forward pass (into acts.dmask), or dout itself */
static const float *
device_masked(LlamaModel *m, int dropping, const float *dout, const float *scale, size_t n)
{
	LlamaDevActs *a = &m->gpu->acts;

	if (!dropping)
		return dout;
	m->gpu->api->scale_mul(a->dmask, dout, scale, n);
	return a->dmask;
}

/* Device twin of llama_backward: from dlogits (in acts.logits) into the device gradient. */
static void
device_backward(LlamaModel *m, int N, int S, int dropping)
{
	const LlamaConfig *c = &m->cfg;
	const NnDeviceApi *api = m->gpu->api;
	LlamaDevActs *a = &m->gpu->acts;
	const int32_t *tokens = a->ints;
	const int  *pos = a->ints + 2 * N,
			   *start = a->ints + 3 * N,
			   *lens = start + S;
	int			C = c->dim,
				H = c->hidden_dim,
				NH = c->n_heads,
				HS = C / NH,
				T = c->max_len + 1;
	size_t		NC = (size_t) N * C;

	api->linear_backward_set(a->dtmp, DG(m, m->t_out), a->logits, a->lnf, DW(m, m->t_out), N, C,
							 c->vocab_size);
	api->zero(a->dresid, NC * sizeof(float));
	api->rmsnorm_backward(a->dresid, DG(m, m->t_norm), a->dtmp, a->resid[c->n_layers],
						  DW(m, m->t_norm), a->rstdf, N, C);
	for (int l = c->n_layers - 1; l >= 0; l--)
	{
		const LlamaLayer *L = &m->layers[l];

		api->linear_backward_set(a->dhg, DG(m, L->w2),
							 device_masked(m, dropping, a->dresid, a->drop + (2 * l + 1) * NC, NC),
							 a->hg[l], DW(m, L->w2), N, H, C);
		api->zero(a->dh13, (size_t) N * 2 * H * sizeof(float));
		api->swiglu_backward(a->dh13, a->dhg, a->h13[l], N, H);
		api->linear_backward_set(a->dtmp, DG(m, L->w1), a->dh13, a->ln2[l], DW(m, L->w1), N, C,
								 2 * H);
		api->rmsnorm_backward(a->dresid, DG(m, L->ffn_norm), a->dtmp, a->mid[l],
							  DW(m, L->ffn_norm), a->rstd2[l], N, C);
		api->linear_backward_set(a->tmp, DG(m, L->wo),
							 device_masked(m, dropping, a->dresid, a->drop + 2 * l * NC, NC),
							 a->atty[l], DW(m, L->wo), N, C, C);
		api->zero(a->dqkv, NC * 3 * sizeof(float));
		api->attention_backward(a->dqkv, a->tmp, a->qkv[l], a->att[l], start, lens, a->att_off,
								S, C, NH, T, a->datt);
		api->rope_backward(a->dqkv, pos, m->gpu->rope_cs, N, 2 * NH, HS, 3 * C);
		api->linear_backward_set(a->dtmp, DG(m, L->wq), a->dqkv, a->ln1[l], DW(m, L->wq), N, C,
								 3 * C);
		api->rmsnorm_backward(a->dresid, DG(m, L->attention_norm), a->dtmp, a->resid[l],
							  DW(m, L->attention_norm), a->rstd1[l], N, C);
	}
	api->embedding_backward(DG(m, m->t_emb), a->dresid, tokens, N, C);
}

int
llama_device_pass(LlamaModel *m, const LlamaBatch *b, int backward, float scale,
				  double *loss_sum, NtgError *err)
{
	const NnDeviceApi *api = m->gpu->api;
	LlamaDevActs *a = &m->gpu->acts;
	int			counted = 0;
	int			rc;

	*loss_sum = 0.0;
	if ((rc = ensure_acts(m, b->S, err)) != NTG_OK ||
		(rc = upload_batch(m, b, err)) != NTG_OK)
		return rc;
	device_forward(m, b->N, b->S, b->dropping);
	api->crossentropy_forward(a->logits, a->losses, a->ints + b->N, b->N, m->cfg.vocab_size);
	if (api->to_host(a->host_losses, a->losses, b->N * sizeof(double)) != 0)
		return nn_device_error(api, "a forward pass", err);
	for (int n = 0; n < b->N; n++)
		if (b->targets[n] >= 0)
		{
			*loss_sum += a->host_losses[n];
			counted++;
		}
	if (!backward || counted == 0)
		return NTG_OK;
	api->crossentropy_backward(a->logits, a->logits, a->ints + b->N, b->N, m->cfg.vocab_size,
							   scale);
	device_backward(m, b->N, b->S, b->dropping);
	return NTG_OK;
}

int
llama_device_adamw(LlamaModel *m, NtgError *err)
{
	LlamaDevice *d = m->gpu;
	NnAdamWArgs a;
	double		norm;
	int			rc;

	if ((rc = nn_device_norm(d->api, d->part, d->g, m->params.count, &norm, err)) != NTG_OK)
		return rc;
	nn_adamw_next(&m->opt, norm, &a);
	d->api->adamw_update(d->w, d->g, d->m, d->v, d->decay, m->params.count, a);
	d->grad_clean = 1;
	return NTG_OK;
}

int
llama_device_weights_to_host(LlamaModel *m, NtgError *err)
{
	const NnDeviceApi *api = m->gpu->api;

	if (api->to_host(m->params.data, m->gpu->w, m->params.count * sizeof(float)) != 0)
		return nn_device_error(api, "copying the weights back", err);
	return NTG_OK;
}

int
llama_device_grads_to_host(LlamaModel *m, NtgError *err)
{
	const NnDeviceApi *api = m->gpu->api;

	if (m->params.grad == NULL || m->gpu->g == NULL)
		return ntg_error(err, NTG_ERR_INTERNAL, "model has no gradient buffers");
	if (api->to_host(m->params.grad, m->gpu->g, m->params.count * sizeof(float)) != 0)
		return nn_device_error(api, "copying the gradients back", err);
	m->params.grad_clean = 0;
	return NTG_OK;
}

int
llama_device_probs_row(LlamaModel *m, int row, float *out, NtgError *err)
{
	const NnDeviceApi *api = m->gpu->api;
	size_t		V = m->cfg.vocab_size;

	if (api->to_host(out, m->gpu->acts.logits + row * V, V * sizeof(float)) != 0)
		return nn_device_error(api, "copying probabilities back", err);
	return NTG_OK;
}
