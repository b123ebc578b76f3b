/*
 * llama_train.c — forward and backward passes of the llama model over packed rows, the training
 * step and the epoch loop.
 *
 * Rows are packed without padding: row r contributes len[r] consecutive token rows, attention is
 * restricted to each row's own causal prefix, and all other layers work row by row.  This is the
 * same computation as right-padding to a common length with <PAD> and masking the loss (outputs
 * at padded positions never reach a counted loss, because attention is causal and padding comes
 * last), without computing the padded positions.
 */
#include "models/llama.h"
#include "models/token_rows.h"

#include <string.h>

struct LlamaActs
{
	int			cap_tokens;		/* N capacity */
	int			cap_rows;		/* S capacity */
	size_t		cap_att;		/* attention floats per layer */
	/* per layer l (arrays of n_layers pointers into one block) */
	float	  **resid;			/* [L+1][N, C]: stream at the input of layer l; resid[L] final */
	float	  **ln1;			/* [N, C] */
	float	  **rstd1;			/* [N] */
	float	  **qkv;			/* [N, 3C] after rotary */
	float	  **att;			/* [cap_att] */
	float	  **atty;			/* [N, C] */
	float	  **mid;			/* [N, C] stream after the attention residual */
	float	  **ln2;			/* [N, C] */
	float	  **rstd2;			/* [N] */
	float	  **h13;			/* [N, 2H] */
	float	  **hg;				/* [N, H] */
	float	  **drop1;			/* [N, C] dropout scale after wo (0 or 1/(1-p)); NULL: none */
	float	  **drop2;			/* [N, C] dropout scale after w2 */
	int			dropping;		/* the current pass applies dropout */
	float	   *lnf;			/* [N, C] */
	float	   *rstdf;			/* [N] */
	float	   *logits;			/* [N, V], probabilities after the loss, then dlogits */
	/* backward scratch */
	float	   *dresid;			/* [N, C] */
	float	   *dtmp;			/* [N, C] */
	float	   *dqkv;			/* [N, 3C] */
	float	   *dh13;			/* [N, 2H] */
	float	   *dhg;			/* [N, H] */
	float	   *scratch;		/* [max_len + 1] */
	float	   *tmp;			/* [N, C] */
	float	   *dmask;			/* [N, C] gradient through a dropout mask */
	/* packing */
	int		   *start;			/* [S] */
	int		   *pos;			/* [N] */
	size_t	   *att_off;		/* [S] */
	int32_t    *tokens;			/* [N] */
	int32_t    *targets;		/* [N] */
	int		   *lens;			/* [S] */
	int		   *order;			/* [rows of the training set], for shuffling */
	int			order_len;
	float	   *block;
};

void
llama_free_acts(LlamaModel *m)
{
	LlamaActs  *a = m->acts;

	if (a == NULL)
		return;
	ntg_free(a->block);
	ntg_free(a->resid);
	ntg_free(a->start);
	ntg_free(a->pos);
	ntg_free(a->att_off);
	ntg_free(a->tokens);
	ntg_free(a->targets);
	ntg_free(a->lens);
	ntg_free(a->order);
	ntg_free(a);
	m->acts = NULL;
}

/* Carve the activation buffers out of one allocation, sized for S rows of up to max_len + 1
 * tokens each; reused for every batch (no allocation per step). */
/* Floats of the activation block for S rows (carved up in llama_ensure_acts). */
static size_t
acts_floats(const LlamaConfig *c, int S)
{
	size_t		T = c->max_len + 1;
	size_t		N = (size_t) S * T;
	size_t		C = c->dim,
				H = c->hidden_dim,
				V = c->vocab_size,
				Lr = c->n_layers;
	size_t		att = (size_t) S * c->n_heads * T * T;
	size_t		per_layer = N * C * 8 + N * 2 + N * 3 * C + att + N * 2 * H + N * H;

	return per_layer * Lr + N * C + N * C + N + N * V + N * C * 4 + N * 3 * C + N * 2 * H +
		N * H + T;
}

size_t
llama_acts_bytes(const LlamaConfig *c, int S)
{
	size_t		N = (size_t) S * (c->max_len + 1);

	return acts_floats(c, S) * sizeof(float) + 14 * (c->n_layers + 1) * sizeof(float *) +
		S * (2 * sizeof(int) + sizeof(size_t)) + N * (sizeof(int) + 2 * sizeof(int32_t));
}

static int
llama_ensure_acts(LlamaModel *m, int S)
{
	const LlamaConfig *c = &m->cfg;
	int			T = c->max_len + 1;
	int			N = S * T;
	size_t		C = c->dim,
				H = c->hidden_dim,
				V = c->vocab_size,
				Lr = c->n_layers;
	size_t		att = (size_t) S * c->n_heads * T * T;
	size_t		total = acts_floats(c, S);
	LlamaActs  *a;
	float	   *p;

	if (m->acts != NULL && m->acts->cap_rows >= S)
		return NTG_OK;
	llama_free_acts(m);
	a = ntg_calloc(1, sizeof(LlamaActs));
	if (a == NULL)
		return NTG_ERR_NOMEM;
	m->acts = a;
	a->cap_rows = S;
	a->cap_tokens = N;
	a->cap_att = att;
	a->block = ntg_malloc(total * sizeof(float));
	a->resid = ntg_malloc(14 * (Lr + 1) * sizeof(float *));
	a->start = ntg_malloc(S * sizeof(int));
	a->lens = ntg_malloc(S * sizeof(int));
	a->att_off = ntg_malloc(S * sizeof(size_t));
	a->pos = ntg_malloc(N * sizeof(int));
	a->tokens = ntg_malloc(N * sizeof(int32_t));
	a->targets = ntg_malloc(N * sizeof(int32_t));
	if (a->block == NULL || a->resid == NULL || a->start == NULL || a->lens == NULL ||
		a->att_off == NULL || a->pos == NULL || a->tokens == NULL || a->targets == NULL)
	{
		llama_free_acts(m);
		return NTG_ERR_NOMEM;
	}
	a->ln1 = a->resid + (Lr + 1);
	a->rstd1 = a->ln1 + Lr;
	a->qkv = a->rstd1 + Lr;
	a->att = a->qkv + Lr;
	a->atty = a->att + Lr;
	a->mid = a->atty + Lr;
	a->ln2 = a->mid + Lr;
	a->rstd2 = a->ln2 + Lr;
	a->h13 = a->rstd2 + Lr;
	a->hg = a->h13 + Lr;
	a->drop1 = a->hg + Lr;
	a->drop2 = a->drop1 + Lr;
	p = a->block;
	for (size_t l = 0; l <= Lr; l++)
	{
		a->resid[l] = p;
		p += N * C;
	}
	for (size_t l = 0; l < Lr; l++)
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
		a->drop1[l] = p, p += N * C;
		a->drop2[l] = p, p += N * C;
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
	a->scratch = p, p += T;
	return NTG_OK;
}

#define W(m, i) nn_params_ptr(&(m)->params, (i))
#define G(m, i) ((m)->params.grad + (m)->params.tensors[(i)].offset)

/*
 * Residual dropout (hyperparameter "dropout", default 0 = off): during training, each output of
 * the attention projection wo and of the MLP projection w2 is zeroed with probability p and the
 * rest scaled by 1/(1-p), before the residual add.  The scales are kept for backward.  Masks come
 * from the model's dropout generator, which train_epoch derives from its rng, so a seed still
 * reproduces a run.  16 random bits per element.
 */
void
llama_dropout_scales(LlamaModel *m, float *scale, size_t n)
{
	uint32_t	cut = (uint32_t) (m->cfg.dropout * 65536.0);
	float		keep = (float) (1.0 / (1.0 - m->cfg.dropout));

	for (size_t i = 0; i < n; i += 4)
	{
		uint64_t	r = ntg_rng_u64(&m->drop_rng);

		for (size_t k = i; k < i + 4 && k < n; k++, r >>= 16)
			scale[k] = ((uint32_t) (r & 0xffff)) < cut ? 0.0f : keep;
	}
}

static void
llama_dropout(LlamaModel *m, float *x, float *scale, size_t n)
{
	llama_dropout_scales(m, scale, n);
	for (size_t k = 0; k < n; k++)
		x[k] *= scale[k];
}

/* dout through the dropout of the forward pass (into acts->dmask), or dout itself. */
static const float *
masked(LlamaActs *a, const float *dout, const float *scale, size_t n)
{
	if (!a->dropping)
		return dout;
	for (size_t i = 0; i < n; i++)
		a->dmask[i] = dout[i] * scale[i];
	return a->dmask;
}

/* Forward over the packed batch in m->acts (tokens, pos, start, lens set); N tokens, S rows;
 * leaves logits in acts->logits. */
static void
llama_forward(LlamaModel *m, int N, int S)
{
	const LlamaConfig *c = &m->cfg;
	LlamaActs  *a = m->acts;
	int			C = c->dim,
				H = c->hidden_dim,
				NH = c->n_heads,
				HS = C / NH;

	attention_offsets(a->att_off, a->lens, S, NH);
	nn_embed(a->resid[0], a->tokens, &m->params, m->t_emb, N, C);
	for (int l = 0; l < c->n_layers; l++)
	{
		const LlamaLayer *L = &m->layers[l];

		rmsnorm_forward(a->ln1[l], a->rstd1[l], a->resid[l], W(m, L->attention_norm), N, C,
						LLAMA_NORM_EPS);
		nn_matmul(a->qkv[l], a->ln1[l], &m->params, L->wq, N, C, 3 * C);
		rope_forward(a->qkv[l], a->pos, m->rope_cs, N, NH, HS, 3 * C);
		rope_forward(a->qkv[l] + C, a->pos, m->rope_cs, N, NH, HS, 3 * C);
		attention_forward(a->atty[l], a->att[l], a->qkv[l], a->start, a->lens, a->att_off, S,
						  C, NH);
		nn_matmul(a->mid[l], a->atty[l], &m->params, L->wo, N, C, C);
		if (a->dropping)
			llama_dropout(m, a->mid[l], a->drop1[l], (size_t) N * C);
		residual_add(a->mid[l], a->resid[l], (size_t) N * C);
		rmsnorm_forward(a->ln2[l], a->rstd2[l], a->mid[l], W(m, L->ffn_norm), N, C,
						LLAMA_NORM_EPS);
		nn_matmul(a->h13[l], a->ln2[l], &m->params, L->w1, N, C, 2 * H);
		swiglu_forward(a->hg[l], a->h13[l], N, H);
		nn_matmul(a->resid[l + 1], a->hg[l], &m->params, L->w2, N, H, C);
		if (a->dropping)
			llama_dropout(m, a->resid[l + 1], a->drop2[l], (size_t) N * C);
		residual_add(a->resid[l + 1], a->mid[l], (size_t) N * C);
	}
	rmsnorm_forward(a->lnf, a->rstdf, a->resid[c->n_layers], W(m, m->t_norm), N, C,
					LLAMA_NORM_EPS);
	nn_matmul(a->logits, a->lnf, &m->params, m->t_out, N, C, c->vocab_size);
}

/* Backward from dlogits (in acts->logits) into params.grad (accumulating). */
static void
llama_backward(LlamaModel *m, int N, int S)
{
	const LlamaConfig *c = &m->cfg;
	LlamaActs  *a = m->acts;
	int			C = c->dim,
				H = c->hidden_dim,
				NH = c->n_heads,
				HS = C / NH;
	size_t		NC = (size_t) N * C;

	memset(a->dtmp, 0, NC * sizeof(float));
	linear_backward(a->dtmp, G(m, m->t_out), a->logits, a->lnf, W(m, m->t_out), N, C,
					c->vocab_size);
	memset(a->dresid, 0, NC * sizeof(float));
	rmsnorm_backward(a->dresid, G(m, m->t_norm), a->dtmp, a->resid[c->n_layers],
					 W(m, m->t_norm), a->rstdf, N, C);
	for (int l = c->n_layers - 1; l >= 0; l--)
	{
		const LlamaLayer *L = &m->layers[l];

		/* resid[l+1] = mid + w2(swiglu(w13(norm(mid)))) */
		memset(a->dhg, 0, (size_t) N * H * sizeof(float));
		linear_backward(a->dhg, G(m, L->w2), masked(a, a->dresid, a->drop2[l], NC), a->hg[l],
						W(m, L->w2), N, H, C);
		memset(a->dh13, 0, (size_t) N * 2 * H * sizeof(float));
		swiglu_backward(a->dh13, a->dhg, a->h13[l], N, H);
		memset(a->dtmp, 0, NC * sizeof(float));
		linear_backward(a->dtmp, G(m, L->w1), a->dh13, a->ln2[l], W(m, L->w1), N, C, 2 * H);
		rmsnorm_backward(a->dresid, G(m, L->ffn_norm), a->dtmp, a->mid[l], W(m, L->ffn_norm),
						 a->rstd2[l], N, C);
		/* mid = resid[l] + wo(attention(rope(wqkv(norm(resid[l]))))) */
		memset(a->tmp, 0, NC * sizeof(float));
		linear_backward(a->tmp, G(m, L->wo), masked(a, a->dresid, a->drop1[l], NC), a->atty[l],
						W(m, L->wo), N, C, C);
		memset(a->dqkv, 0, NC * 3 * sizeof(float));
		attention_backward(a->dqkv, a->tmp, a->qkv[l], a->att[l], a->start, a->lens,
						   a->att_off, S, C, NH, a->scratch);
		rope_backward(a->dqkv, a->pos, m->rope_cs, N, NH, HS, 3 * C);
		rope_backward(a->dqkv + C, a->pos, m->rope_cs, N, NH, HS, 3 * C);
		memset(a->dtmp, 0, NC * sizeof(float));
		linear_backward(a->dtmp, G(m, L->wq), a->dqkv, a->ln1[l], W(m, L->wq), N, C, 3 * C);
		rmsnorm_backward(a->dresid, G(m, L->attention_norm), a->dtmp, a->resid[l],
						 W(m, L->attention_norm), a->rstd1[l], N, C);
	}
	embedding_backward(G(m, m->t_emb), a->dresid, a->tokens, N, C);
}

/*
 * Rows per forward/backward pass.  A larger batch is processed as several passes whose gradients
 * accumulate before the one optimizer step (the loss is scaled by the whole batch's target
 * count, so the gradient is the batch's mean), which keeps the activation memory at about
 * LLAMA_MICRO_ROWS * (max_len + 1) * 11k floats (~30 MB with the defaults) for any batch_size.
 */
#define LLAMA_MICRO_ROWS 64

static int
acts_rows(const LlamaModel *m, int S)
{
	int			rows = S > m->cfg.batch_size ? S : m->cfg.batch_size;

	return rows < LLAMA_MICRO_ROWS ? rows : LLAMA_MICRO_ROWS;
}

/*
 * Forward (and backward with dlogits scaled by `scale`) over S <= acts capacity packed rows, on
 * the CPU or on the model's device (llama_device.c).
 * The rope_forward of the forward pass rotated q and k inside qkv, so attention_backward gets
 * the rotated values (correct: the scores use them) and its gradient is with respect to the
 * rotated q/k; rope_backward maps it back to the pre-rotation outputs of wq/wk.
 */
static int
llama_pass(LlamaModel *m, const int32_t *tokens, const int32_t *targets, const int *len, int S,
		   int backward, float scale, double *loss_sum, int *count, NtgError *err)
{
	LlamaActs  *a = m->acts;
	int			N = 0;

	for (int s = 0; s < S; s++)
	{
		a->start[s] = N;
		a->lens[s] = len[s];
		for (int t = 0; t < len[s]; t++)
			a->pos[N + t] = t;
		N += len[s];
	}
	memcpy(a->tokens, tokens, N * sizeof(int32_t));
	memcpy(a->targets, targets, N * sizeof(int32_t));
	a->dropping = backward && m->cfg.dropout > 0.0;
	if (m->gpu != NULL)
	{
		LlamaBatch	b = {N, S, a->tokens, a->targets, a->start, a->lens, a->pos, a->dropping};

		*count = 0;
		for (int n = 0; n < N; n++)
			*count += a->targets[n] >= 0;
		return llama_device_pass(m, &b, backward, scale, loss_sum, err);
	}
	llama_forward(m, N, S);
	*loss_sum = crossentropy_forward(a->logits, a->targets, N, m->cfg.vocab_size, count);
	if (!backward || *count == 0)
		return NTG_OK;
	crossentropy_backward(a->logits, a->logits, a->targets, N, m->cfg.vocab_size, scale);
	llama_backward(m, N, S);
	return NTG_OK;
}

int
llama_step(LlamaModel *m, const int32_t *tokens, const int32_t *targets, const int *len, int S,
		   int update, double *loss_sum, int *count, NtgError *err)
{
	int			total = 0,
				off = 0,
				rc;

	*loss_sum = 0.0;
	*count = 0;
	for (int s = 0; s < S; s++)
	{
		if (len[s] < 1 || len[s] > m->cfg.max_len + 1)
			return ntg_error(err, NTG_ERR_INTERNAL, "row length %d out of range", len[s]);
		for (int t = 0; t < len[s]; t++)
		{
			/* the embedding and the loss index their tables with these */
			if (tokens[off + t] < 0 || tokens[off + t] >= m->cfg.vocab_size ||
				targets[off + t] < -1 || targets[off + t] >= m->cfg.vocab_size)
				return ntg_error(err, NTG_ERR_INTERNAL, "token out of the vocabulary");
			total += targets[off + t] >= 0;
		}
		off += len[s];
	}
	if (llama_ensure_acts(m, acts_rows(m, S)) != NTG_OK)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if (update)
	{
		if (m->params.quant != NN_QUANT_NONE)
			return ntg_error(err, NTG_ERR_UNSUPPORTED, "a quantized model cannot be trained");
		if (m->params.grad == NULL)
			return ntg_error(err, NTG_ERR_INTERNAL, "model has no gradient buffers");
		nn_params_half_drop(&m->params);	/* the weights are about to change */
		if (m->gpu != NULL)
		{
			/* the gradient lives on the device */
			if ((rc = llama_device_begin_update(m, err)) != NTG_OK)
				return rc;
		}
		else
		{
			nn_params_zero_grad(&m->params);	/* a no-op after an AdamW step, which zeroes it */
			m->params.grad_clean = 0;
		}
	}
	off = 0;
	for (int s0 = 0; s0 < S; s0 += LLAMA_MICRO_ROWS)
	{
		int			n = S - s0 < LLAMA_MICRO_ROWS ? S - s0 : LLAMA_MICRO_ROWS;
		int			tokens_here = 0,
					c;
		double		l;

		for (int s = s0; s < s0 + n; s++)
			tokens_here += len[s];
		if (s0 > 0)
			ntg_check_interrupts();
		if ((rc = llama_pass(m, tokens + off, targets + off, len + s0, n, update && total > 0,
							 total > 0 ? 1.0f / total : 0.0f, &l, &c, err)) != NTG_OK)
			return rc;
		*loss_sum += l;
		*count += c;
		off += tokens_here;
	}
	if (m->gpu != NULL && update == 1 && total > 0)
		return llama_device_adamw(m, err);
	if (m->gpu != NULL && update == 2)
		return llama_device_grads_to_host(m, err);
	if (update == 1 && total > 0)
		nn_adamw_step(&m->opt, &m->params);
	return NTG_OK;
}

/* Token noise (hyperparameter "token_noise", default 0 = off; token_rows.h says what it does).
 * On the small per-class training sets of traffic data a model otherwise learns whole rows by
 * heart; with the noise it copies them later in training (docs/models.md). */
void
llama_blank_inputs(LlamaModel *m, int32_t *tokens, const int *len, int S)
{
	ntg_tok_blank_inputs(&m->tok, m->cfg.token_noise, &m->noise_rng, tokens, len, S);
}

/* Encode rows idx[0..S-1] of set (token_rows.h). */
static int
llama_pack(LlamaModel *m, const NtgSeqSet *set, const int *idx, int S, int scoring,
		   int32_t *tokens, int32_t *targets, int *len, int *packed, NtgError *err)
{
	return ntg_tok_pack_rows(&m->tok, m->base.classes, m->base.n_classes, m->cfg.max_len, set,
							 idx, S, scoring, tokens, targets, len, packed, err);
}

static int
llama_ensure_training(LlamaModel *m, const NtgSeqSet *train, NtgError *err)
{
	LlamaActs  *a;
	int			fresh,
				rc;

	if ((rc = ntg_model_trainable_params(&m->base, &m->params, &fresh, err)) != NTG_OK)
		return rc;
	if (fresh)
		llama_reset_optimizer(m, train->n_rows);
	if (llama_ensure_acts(m, acts_rows(m, m->cfg.batch_size)) != NTG_OK)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	a = m->acts;
	if (a->order_len != train->n_rows)
	{
		ntg_free(a->order);
		a->order = ntg_malloc((train->n_rows + 1) * sizeof(int));
		if (a->order == NULL)
			return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		a->order_len = train->n_rows;
	}
	return NTG_OK;
}

int
llama_train_epoch(NtgModel *model, const NtgSeqSet *train, int epoch, NtgRng *rng,
				  double *mean_loss, NtgError *err)
{
	LlamaModel *m = (LlamaModel *) model;
	int			B = m->cfg.batch_size;
	int			T = m->cfg.max_len + 1;
	double		total = 0.0;
	int64_t		counted = 0;
	int32_t    *tokens,
			   *targets;
	int		   *lens;
	int			rc;

	*mean_loss = 0.0;
	if (train->n_classes != m->base.n_classes)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "training rows do not have the model's classes");
	if ((rc = llama_ensure_training(m, train, err)) != NTG_OK)
		return rc;
	llama_forget_prefixes(m);
	nn_blas_init(m->cfg.blas_threads);
	/* packing buffers separate from acts->tokens, which llama_step fills */
	tokens = ntg_malloc((size_t) B * T * sizeof(int32_t));
	targets = ntg_malloc((size_t) B * T * sizeof(int32_t));
	lens = ntg_malloc(B * sizeof(int));
	if (tokens == NULL || targets == NULL || lens == NULL)
	{
		ntg_free(tokens), ntg_free(targets), ntg_free(lens);
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	/* only when on, so that runs without dropout or noise keep their stream */
	if (m->cfg.dropout > 0.0)
		ntg_rng_split(rng, (uint64_t) epoch, &m->drop_rng);
	if (m->cfg.token_noise > 0.0)
		ntg_rng_split(rng, (uint64_t) epoch, &m->noise_rng);
	/* Fisher-Yates shuffle of the row order */
	for (int i = 0; i < train->n_rows; i++)
		m->acts->order[i] = i;
	for (int i = train->n_rows - 1; i > 0; i--)
	{
		int			j = (int) ntg_rng_below(rng, (uint64_t) i + 1);
		int			t = m->acts->order[i];

		m->acts->order[i] = m->acts->order[j];
		m->acts->order[j] = t;
	}
	for (int b0 = 0; b0 < train->n_rows; b0 += B)
	{
		int			S = train->n_rows - b0 < B ? train->n_rows - b0 : B;
		double		loss;
		int			count,
					packed;

		ntg_check_interrupts();
		rc = llama_pack(m, train, m->acts->order + b0, S, 0, tokens, targets, lens, &packed, err);
		if (rc == NTG_OK && m->cfg.token_noise > 0.0)
			llama_blank_inputs(m, tokens, lens, S);
		if (rc == NTG_OK)
			rc = llama_step(m, tokens, targets, lens, S, 1, &loss, &count, err);
		if (rc != NTG_OK)
			break;
		total += loss;
		counted += count;
	}
	ntg_free(tokens), ntg_free(targets), ntg_free(lens);
	/* what save() stores and the driver checks: the host weights, whichever device trained */
	if (rc == NTG_OK && m->gpu != NULL)
		rc = llama_device_weights_to_host(m, err);
	if (rc != NTG_OK)
		return rc;
	*mean_loss = counted > 0 ? total / counted : 0.0;
	m->base.epochs_done++;
	return NTG_OK;
}

int
llama_eval_loss(NtgModel *model, const NtgSeqSet *set, double *mean_loss, int64_t *scored,
				NtgError *err)
{
	LlamaModel *m = (LlamaModel *) model;
	int			B = m->cfg.batch_size;
	int			T = m->cfg.max_len + 1;
	double		total = 0.0;
	int64_t		counted = 0;
	int32_t    *tokens = ntg_malloc((size_t) B * T * sizeof(int32_t));
	int32_t    *targets = ntg_malloc((size_t) B * T * sizeof(int32_t));
	int		   *lens = ntg_malloc(B * sizeof(int));
	int		   *idx = ntg_malloc(B * sizeof(int));
	int			rc = NTG_OK;

	if (tokens == NULL || targets == NULL || lens == NULL || idx == NULL)
		rc = ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	nn_blas_init(m->cfg.blas_threads);
	for (int b0 = 0; rc == NTG_OK && b0 < set->n_rows; b0 += B)
	{
		int			S = set->n_rows - b0 < B ? set->n_rows - b0 : B;
		double		loss;
		int			count,
					packed;

		ntg_check_interrupts();
		for (int s = 0; s < S; s++)
			idx[s] = b0 + s;
		rc = llama_pack(m, set, idx, S, 1, tokens, targets, lens, &packed, err);
		if (rc == NTG_OK && packed > 0)
			rc = llama_step(m, tokens, targets, lens, packed, 0, &loss, &count, err);
		else
			loss = 0.0, count = 0;
		if (rc == NTG_OK)
			total += loss, counted += count;
	}
	ntg_free(tokens), ntg_free(targets), ntg_free(lens), ntg_free(idx);
	*mean_loss = counted > 0 ? total / counted : 0.0;
	if (scored != NULL)
		*scored = counted;
	return rc;
}

int
llama_next_probs(LlamaModel *m, const int32_t *tokens, int len, float *probs, NtgError *err)
{
	int32_t		targets[LLAMA_MAX_LEN + 1];
	double		loss;
	int			count,
				rc;
	int			K = m->tok.n_values + 1;
	float	   *row;
	double		sum = 0.0;

	if (len < 1 || len > m->cfg.max_len)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "history length out of range");
	for (int t = 0; t < len; t++)
		targets[t] = -1;
	if ((rc = llama_step(m, tokens, targets, &len, 1, 0, &loss, &count, err)) != NTG_OK)
		return rc;
	row = m->acts->logits + (size_t) (len - 1) * m->cfg.vocab_size;
	if (m->gpu != NULL && (rc = llama_device_probs_row(m, len - 1, (float *) row, err)) != NTG_OK)
		return rc;
	for (int i = 0; i < K; i++)
		sum += row[i];
	for (int i = 0; i < K; i++)
		probs[i] = (float) (row[i] / sum);
	return NTG_OK;
}
