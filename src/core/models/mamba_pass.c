/*
 * mamba_pass.c — forward and backward passes of the mamba model over packed rows, and the
 * training step (mamba_step); the epoch loop is mamba_train.c's.
 *
 * Rows are packed without padding, as for llama: row r contributes len[r] consecutive tokens.
 * The matrix products (in_proj, x_proj, dt_proj, out_proj, the head) run over all tokens of the
 * batch at once; the causal convolution and the selective scan run over each row to its own
 * length (nn_ssm.h), so nothing crosses rows and no padded position is computed.
 */
#include "models/mamba.h"
#include "nn/nn_ssm.h"

#include <math.h>
#include <string.h>

struct MambaActs
{
	int			cap_rows;		/* S capacity */
	int			cap_tokens;		/* N capacity */
	/* per layer l: arrays of n_layers pointers into one block (resid has n_layers + 1) */
	float	  **resid;			/* [N, D]: the stream at the input of layer l; resid[L] final */
	float	  **ln;				/* [N, D] */
	float	  **rstd;			/* [N] */
	float	  **xz;				/* [N, 2E]: in_proj output, u part then z part */
	float	  **xc;				/* [N, E]: convolution output */
	float	  **u;				/* [N, E]: silu(xc) */
	float	  **dbc;			/* [N, P]: x_proj output, P = dt_rank + 2 state */
	float	  **dtr;			/* [N, E]: dt_proj(dt) + dt_bias */
	float	  **delta;			/* [N, E]: softplus(dtr) */
	float	  **A;				/* [E, NS]: -exp(A_log) */
	float	  **y;				/* [N, E]: scan output */
	float	  **g;				/* [N, E]: y * silu(z) */
	float	  **drop;			/* [N, D]: dropout scale of the mixer output */
	int			dropping;
	float	   *lnf;			/* [N, D] */
	float	   *rstdf;			/* [N] */
	float	   *logits;			/* [N, V]: logits, probabilities after the loss, then dlogits */
	/* backward */
	float	   *dresid;			/* [N, D] */
	float	   *dtmp;			/* [N, D] */
	float	   *dmask;			/* [N, D] */
	float	   *dxz;			/* [N, 2E] */
	float	   *dg;				/* [N, E] */
	float	   *dy;				/* [N, E] */
	float	   *du;				/* [N, E] */
	float	   *ddelta;			/* [N, E] */
	float	   *ddtr;			/* [N, E] */
	float	   *dxc;			/* [N, E] */
	float	   *ddbc;			/* [N, P] */
	float	   *dt_in;			/* [N, R]: the dt columns of dbc, contiguous */
	float	   *ddt_in;			/* [N, R] */
	float	   *dA;				/* [E, NS] */
	float	   *scan;			/* selective-scan scratch */
	/* packing */
	int		   *start;			/* [S] */
	int		   *lens;			/* [S] */
	int32_t    *tokens;			/* [N] */
	int32_t    *targets;		/* [N] */
	float	   *block;
};

#define N_LAYER_ARRAYS 13

/* Floats of the activation block for S rows of up to max_len + 1 tokens. */
static size_t
acts_floats(const MambaConfig *c, int S)
{
	size_t		N = (size_t) S * (c->max_len + 1);
	size_t		D = c->dim,
				E = c->inner_dim,
				NS = c->state_dim,
				P = c->dt_rank + 2 * c->state_dim,
				R = c->dt_rank,
				V = c->vocab_size;
	size_t		per_layer = N * (3 * D + 1 + 8 * E + P) + E * NS;

	return per_layer * c->n_layers + N * D + N * D + N + N * V + 3 * N * D + N * 2 * E +
		6 * N * E + N * P + 2 * N * R + E * NS +
		selective_scan_scratch(c->max_len + 1, (int) E, (int) NS);
}

size_t
mamba_acts_bytes(const MambaConfig *c, int S)
{
	size_t		N = (size_t) S * (c->max_len + 1);

	return acts_floats(c, S) * sizeof(float) +
		N_LAYER_ARRAYS * (c->n_layers + 1) * sizeof(float *) + sizeof(MambaActs) +
		2 * S * sizeof(int) + 2 * N * sizeof(int32_t);
}

void
mamba_free_acts(MambaModel *m)
{
	MambaActs  *a = m->acts;

	if (a == NULL)
		return;
	ntg_free(a->block);
	ntg_free(a->resid);
	ntg_free(a->start);
	ntg_free(a->lens);
	ntg_free(a->tokens);
	ntg_free(a->targets);
	ntg_free(a);
	m->acts = NULL;
}

/* Carve the per-layer buffers out of the block at *pp. */
static void
carve_layers(MambaActs *a, const MambaConfig *c, size_t N, float **pp)
{
	size_t		D = c->dim,
				E = c->inner_dim,
				P = c->dt_rank + 2 * c->state_dim;
	size_t		Lr = c->n_layers;
	float	   *p = *pp;

	a->ln = a->resid + (Lr + 1);
	a->rstd = a->ln + Lr;
	a->xz = a->rstd + Lr;
	a->xc = a->xz + Lr;
	a->u = a->xc + Lr;
	a->dbc = a->u + Lr;
	a->dtr = a->dbc + Lr;
	a->delta = a->dtr + Lr;
	a->A = a->delta + Lr;
	a->y = a->A + Lr;
	a->g = a->y + Lr;
	a->drop = a->g + Lr;
	for (size_t l = 0; l <= Lr; l++)
		a->resid[l] = p, p += N * D;
	for (size_t l = 0; l < Lr; l++)
	{
		a->ln[l] = p, p += N * D;
		a->rstd[l] = p, p += N;
		a->xz[l] = p, p += N * 2 * E;
		a->xc[l] = p, p += N * E;
		a->u[l] = p, p += N * E;
		a->dbc[l] = p, p += N * P;
		a->dtr[l] = p, p += N * E;
		a->delta[l] = p, p += N * E;
		a->A[l] = p, p += E * c->state_dim;
		a->y[l] = p, p += N * E;
		a->g[l] = p, p += N * E;
		a->drop[l] = p, p += N * D;
	}
	*pp = p;
}

/* Buffers for micro-batches of S rows of up to max_len + 1 tokens each, allocated once and
 * reused for every batch. */
static int
mamba_ensure_acts(MambaModel *m, int S)
{
	const MambaConfig *c = &m->cfg;
	size_t		N = (size_t) S * (c->max_len + 1);
	size_t		D = c->dim,
				E = c->inner_dim,
				P = c->dt_rank + 2 * c->state_dim,
				R = c->dt_rank;
	MambaActs  *a;
	float	   *p;

	if (m->acts != NULL && m->acts->cap_rows >= S)
		return NTG_OK;
	mamba_free_acts(m);
	a = ntg_calloc(1, sizeof(MambaActs));
	if (a == NULL)
		return NTG_ERR_NOMEM;
	m->acts = a;
	a->cap_rows = S;
	a->cap_tokens = (int) N;
	a->block = ntg_malloc(acts_floats(c, S) * sizeof(float));
	a->resid = ntg_malloc(N_LAYER_ARRAYS * (c->n_layers + 1) * sizeof(float *));
	a->start = ntg_malloc(S * sizeof(int));
	a->lens = ntg_malloc(S * sizeof(int));
	a->tokens = ntg_malloc(N * sizeof(int32_t));
	a->targets = ntg_malloc(N * sizeof(int32_t));
	if (a->block == NULL || a->resid == NULL || a->start == NULL || a->lens == NULL ||
		a->tokens == NULL || a->targets == NULL)
	{
		mamba_free_acts(m);
		return NTG_ERR_NOMEM;
	}
	p = a->block;
	carve_layers(a, c, N, &p);
	a->lnf = p, p += N * D;
	a->rstdf = p, p += N;
	a->logits = p, p += N * c->vocab_size;
	a->dresid = p, p += N * D;
	a->dtmp = p, p += N * D;
	a->dmask = p, p += N * D;
	a->dxz = p, p += N * 2 * E;
	a->dg = p, p += N * E;
	a->dy = p, p += N * E;
	a->du = p, p += N * E;
	a->ddelta = p, p += N * E;
	a->ddtr = p, p += N * E;
	a->dxc = p, p += N * E;
	a->ddbc = p, p += N * P;
	a->dt_in = p, p += N * R;
	a->ddt_in = p, p += N * R;
	a->dA = p, p += E * c->state_dim;
	a->scan = p;
	return NTG_OK;
}

#define W(m, i) nn_params_ptr(&(m)->params, (i))
#define G(m, i) ((m)->params.grad + (m)->params.tensors[(i)].offset)

/* The dt columns of x_proj's output [N, P] as a contiguous [N, R] matrix (dt_proj's input). */
static void
gather_dt(float *dt, const float *dbc, int N, int R, int P)
{
	for (int n = 0; n < N; n++)
		memcpy(dt + (size_t) n * R, dbc + (size_t) n * P, R * sizeof(float));
}

/*
 * Dropout on the mixer output (hyperparameter "dropout", default 0 = off), as llama's residual
 * dropout: zero each output with probability p and scale the rest by 1/(1-p) before the
 * residual add; 16 random bits per element from the model's dropout generator.
 */
static void
mamba_dropout(MambaModel *m, float *x, float *scale, size_t n)
{
	uint32_t	cut = (uint32_t) (m->cfg.dropout * 65536.0);
	float		keep = (float) (1.0 / (1.0 - m->cfg.dropout));

	for (size_t i = 0; i < n; i += 4)
	{
		uint64_t	r = ntg_rng_u64(&m->drop_rng);

		for (size_t k = i; k < i + 4 && k < n; k++, r >>= 16)
		{
			scale[k] = ((uint32_t) (r & 0xffff)) < cut ? 0.0f : keep;
			x[k] *= scale[k];
		}
	}
}

/* One mixer: out[N, D] = out_proj(y * silu(z)) for the normalized input a->ln[l].  The matrices
 * are read through nn_matmul (float, or int8 in a quantized model: nn.h). */
static void
mixer_forward(MambaModel *m, int l, float *out, int N, int S)
{
	const MambaConfig *c = &m->cfg;
	const MambaLayer *L = &m->layers[l];
	MambaActs  *a = m->acts;
	int			D = c->dim,
				E = c->inner_dim,
				NS = c->state_dim,
				R = c->dt_rank,
				P = R + 2 * NS;

	nn_matmul(a->xz[l], a->ln[l], &m->params, L->in_proj, N, D, 2 * E);
	conv1d_causal_forward(a->xc[l], a->xz[l], W(m, L->conv_w), W(m, L->conv_b), a->start,
						  a->lens, S, E, c->conv_width, 2 * E);
	silu_forward(a->u[l], a->xc[l], N, E, E);
	nn_matmul(a->dbc[l], a->u[l], &m->params, L->x_proj, N, E, P);
	gather_dt(a->dt_in, a->dbc[l], N, R, P);
	nn_matmul(a->dtr[l], a->dt_in, &m->params, L->dt_proj, N, R, E);
	bias_forward(a->dtr[l], W(m, L->dt_bias), N, E);
	softplus_forward(a->delta[l], a->dtr[l], (size_t) N * E);
	mamba_compute_A(m, l, a->A[l]);
	selective_scan_forward(a->y[l], a->u[l], a->delta[l], a->A[l], a->dbc[l] + R, P,
						   W(m, L->D), a->start, a->lens, S, E, NS, a->scan);
	silu_gate_forward(a->g[l], a->y[l], a->xz[l] + E, N, E, 2 * E);
	nn_matmul(out, a->g[l], &m->params, L->out_proj, N, E, D);
}

/* Forward over the packed batch in m->acts (tokens, start, lens set); leaves the logits. */
static void
mamba_forward(MambaModel *m, int N, int S)
{
	const MambaConfig *c = &m->cfg;
	MambaActs  *a = m->acts;
	int			D = c->dim;

	nn_embed(a->resid[0], a->tokens, &m->params, m->t_emb, N, D);
	for (int l = 0; l < c->n_layers; l++)
	{
		rmsnorm_forward(a->ln[l], a->rstd[l], a->resid[l], W(m, m->layers[l].norm), N, D,
						MAMBA_NORM_EPS);
		mixer_forward(m, l, a->resid[l + 1], N, S);
		if (a->dropping)
			mamba_dropout(m, a->resid[l + 1], a->drop[l], (size_t) N * D);
		residual_add(a->resid[l + 1], a->resid[l], (size_t) N * D);
	}
	rmsnorm_forward(a->lnf, a->rstdf, a->resid[c->n_layers], W(m, m->t_norm), N, D,
					MAMBA_NORM_EPS);
	nn_matmul(a->logits, a->lnf, &m->params, m->t_out, N, D, c->vocab_size);
}

/* dout through the dropout of the forward pass (into acts->dmask), or dout itself. */
static const float *
masked(MambaActs *a, const float *dout, const float *scale, size_t n)
{
	if (!a->dropping)
		return dout;
	for (size_t i = 0; i < n; i++)
		a->dmask[i] = dout[i] * scale[i];
	return a->dmask;
}

/* Backward of mixer l from dout [N, D] (the gradient of its output) into a->dtmp (the gradient
 * of its input a->ln[l], overwritten) and the parameter gradients. */
static void
mixer_backward(MambaModel *m, int l, const float *dout, int N, int S)
{
	const MambaConfig *c = &m->cfg;
	const MambaLayer *L = &m->layers[l];
	MambaActs  *a = m->acts;
	int			D = c->dim,
				E = c->inner_dim,
				NS = c->state_dim,
				R = c->dt_rank,
				P = R + 2 * NS;
	size_t		NE = (size_t) N * E;
	float	   *dAlog = G(m, L->A_log);

	memset(a->dg, 0, NE * sizeof(float));
	linear_backward(a->dg, G(m, L->out_proj), dout, a->g[l], W(m, L->out_proj), N, E, D);
	memset(a->dy, 0, NE * sizeof(float));
	memset(a->dxz, 0, 2 * NE * sizeof(float));
	silu_gate_backward(a->dy, a->dxz + E, a->dg, a->y[l], a->xz[l] + E, N, E, 2 * E);
	memset(a->du, 0, NE * sizeof(float));
	memset(a->ddelta, 0, NE * sizeof(float));
	memset(a->dA, 0, (size_t) E * NS * sizeof(float));
	memset(a->ddbc, 0, (size_t) N * P * sizeof(float));
	selective_scan_backward(a->du, a->ddelta, a->dA, a->ddbc + R, G(m, L->D), a->dy, a->u[l],
							a->delta[l], a->A[l], a->dbc[l] + R, P, W(m, L->D), a->start,
							a->lens, S, E, NS, a->scan);
	/* A = -exp(A_log): dA_log = dA * A */
	for (size_t i = 0; i < (size_t) E * NS; i++)
		dAlog[i] += a->dA[i] * a->A[l][i];
	memset(a->ddtr, 0, NE * sizeof(float));
	softplus_backward(a->ddtr, a->ddelta, a->dtr[l], NE);
	bias_backward(G(m, L->dt_bias), a->ddtr, N, E);
	gather_dt(a->dt_in, a->dbc[l], N, R, P);
	memset(a->ddt_in, 0, (size_t) N * R * sizeof(float));
	linear_backward(a->ddt_in, G(m, L->dt_proj), a->ddtr, a->dt_in, W(m, L->dt_proj), N, R, E);
	for (int n = 0; n < N; n++)
		for (int r = 0; r < R; r++)
			a->ddbc[(size_t) n * P + r] += a->ddt_in[(size_t) n * R + r];
	linear_backward(a->du, G(m, L->x_proj), a->ddbc, a->u[l], W(m, L->x_proj), N, E, P);
	memset(a->dxc, 0, NE * sizeof(float));
	silu_backward(a->dxc, a->du, a->xc[l], N, E, E);
	conv1d_causal_backward(a->dxz, G(m, L->conv_w), G(m, L->conv_b), a->dxc, a->xz[l],
						   W(m, L->conv_w), a->start, a->lens, S, E, c->conv_width, 2 * E);
	memset(a->dtmp, 0, (size_t) N * D * sizeof(float));
	linear_backward(a->dtmp, G(m, L->in_proj), a->dxz, a->ln[l], W(m, L->in_proj), N, D, 2 * E);
}

/* Backward from dlogits (in acts->logits) into params.grad (accumulating). */
static void
mamba_backward(MambaModel *m, int N, int S)
{
	const MambaConfig *c = &m->cfg;
	MambaActs  *a = m->acts;
	int			D = c->dim;
	size_t		ND = (size_t) N * D;

	memset(a->dtmp, 0, ND * sizeof(float));
	linear_backward(a->dtmp, G(m, m->t_out), a->logits, a->lnf, W(m, m->t_out), N, D,
					c->vocab_size);
	memset(a->dresid, 0, ND * sizeof(float));
	rmsnorm_backward(a->dresid, G(m, m->t_norm), a->dtmp, a->resid[c->n_layers],
					 W(m, m->t_norm), a->rstdf, N, D);
	for (int l = c->n_layers - 1; l >= 0; l--)
	{
		/* resid[l+1] = resid[l] + drop(mixer(norm(resid[l]))): dresid flows on unchanged and
		 * gains the mixer path's gradient */
		mixer_backward(m, l, masked(a, a->dresid, a->drop[l], ND), N, S);
		rmsnorm_backward(a->dresid, G(m, m->layers[l].norm), a->dtmp, a->resid[l],
						 W(m, m->layers[l].norm), a->rstd[l], N, D);
	}
	embedding_backward(G(m, m->t_emb), a->dresid, a->tokens, N, D);
}

/*
 * Rows per forward/backward pass.  A larger batch is processed as several passes whose gradients
 * accumulate before the one optimizer step (the loss is scaled by the whole batch's target
 * count), which bounds the activation memory for any batch_size.
 */
#define MAMBA_MICRO_ROWS 64

static int
acts_rows(const MambaModel *m, int S)
{
	int			rows = S > m->cfg.batch_size ? S : m->cfg.batch_size;

	return rows < MAMBA_MICRO_ROWS ? rows : MAMBA_MICRO_ROWS;
}

/* Forward (and backward with dlogits scaled by scale) over S <= capacity packed rows. */
static void
mamba_pass(MambaModel *m, const int32_t *tokens, const int32_t *targets, const int *len, int S,
		   int backward, float scale, double *loss_sum, int *count)
{
	MambaActs  *a = m->acts;
	int			N = 0;

	for (int s = 0; s < S; s++)
	{
		a->start[s] = N;
		a->lens[s] = len[s];
		N += len[s];
	}
	memcpy(a->tokens, tokens, N * sizeof(int32_t));
	memcpy(a->targets, targets, N * sizeof(int32_t));
	a->dropping = backward && m->cfg.dropout > 0.0;
	mamba_forward(m, N, S);
	*loss_sum = crossentropy_forward(a->logits, a->targets, N, m->cfg.vocab_size, count);
	if (!backward || *count == 0)
		return;
	crossentropy_backward(a->logits, a->logits, a->targets, N, m->cfg.vocab_size, scale);
	mamba_backward(m, N, S);
}

int
mamba_step(MambaModel *m, const int32_t *tokens, const int32_t *targets, const int *len, int S,
		   int update, double *loss_sum, int *count, NtgError *err)
{
	int			total = 0,
				off = 0;

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
	if (mamba_ensure_acts(m, acts_rows(m, S)) != NTG_OK)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if (update)
	{
		if (m->params.quant != NN_QUANT_NONE)
			return ntg_error(err, NTG_ERR_UNSUPPORTED, "a quantized model cannot be trained");
		if (m->params.grad == NULL)
			return ntg_error(err, NTG_ERR_INTERNAL, "model has no gradient buffers");
		nn_params_zero_grad(&m->params);	/* a no-op after an AdamW step, which zeroes it */
		m->params.grad_clean = 0;
	}
	off = 0;
	for (int s0 = 0; s0 < S; s0 += MAMBA_MICRO_ROWS)
	{
		int			n = S - s0 < MAMBA_MICRO_ROWS ? S - s0 : MAMBA_MICRO_ROWS;
		int			tokens_here = 0,
					c;
		double		l;

		for (int s = s0; s < s0 + n; s++)
			tokens_here += len[s];
		if (s0 > 0)
			ntg_check_interrupts();
		mamba_pass(m, tokens + off, targets + off, len + s0, n, update && total > 0,
				   total > 0 ? 1.0f / total : 0.0f, &l, &c);
		*loss_sum += l;
		*count += c;
		off += tokens_here;
	}
	if (update == 1 && total > 0)
	{
		nn_adamw_step(&m->opt, &m->params);
		mamba_forget_sampled(m);
	}
	return NTG_OK;
}

const float *
mamba_last_probs(const MambaModel *m)
{
	return m->acts != NULL ? m->acts->logits : NULL;
}

int
mamba_prepare_acts(MambaModel *m)
{
	return mamba_ensure_acts(m, acts_rows(m, m->cfg.batch_size));
}
