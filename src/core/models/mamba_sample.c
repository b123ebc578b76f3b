/*
 * mamba_sample.c — recurrent generation: a constant-size state per distinct history, batched
 * over rows.
 *
 * A Mamba layer's whole memory of the tokens so far is its state: the last conv_width - 1 inputs
 * of the convolution ([conv_width - 1, inner]) and the scan state ([inner, state_dim]).  A new
 * token updates the state in O(1) (nn_ssm.h: conv1d_causal_step, selective_scan_step), so the
 * prefix is never recomputed and a row of any length costs the same per token.
 *
 * As in llama_sample.c, the rows of a batch are grouped by history (token_draw.h): rows whose
 * tokens so far are identical share one node, whose state is computed once; all the nodes of a
 * position go through each matrix product together.  A node of the next position starts from its
 * parent's state: the convolution and the scan read it from one of two state buffers and write
 * the node's new state into the other, so a fork copies nothing (one row at a time, one node
 * with one child, the state advances in place).  The <CLASS_c> node of every class is the same for
 * every row and every call: its state and logits are computed once and kept, with A = -exp(A_log),
 * until the weights change (mamba_forget_sampled); the first step after it reads the kept states
 * where they are, so a one-row call copies only the node's logits.  The output head is evaluated
 * for the drawable tokens (values and <EOS>) only.
 */
#include "models/mamba.h"
#include "models/token_draw.h"
#include "nn/nn_ssm.h"

#include <math.h>
#include <string.h>

struct MambaSampler
{
	int			cap;			/* nodes per position (= rows per batch) */
	int			K;				/* drawable tokens: n_values + 1 */
	size_t		conv_n;			/* floats of one node's window in one layer: (K-1) inner */
	size_t		ssm_n;			/* floats of one node's scan state in one layer: inner state */
	float	   *conv[2];		/* [L][cap][conv_n]: windows, current and next position */
	float	   *ssm[2];			/* [L][cap][ssm_n] */
	int			cur;			/* which of the two is the current position's */
	int			forked;			/* the next decode reads the parents' states (in cur, by the
								 * draw's child_parent) and writes the nodes' into the other
								 * buffer */
	const float *kept;			/* or NULL: the next decode reads node 0's states from this kept
								 * <CLASS_c> node ([L][conv_n, ssm_n]) instead of cur */
	int32_t    *ntok;			/* [cap] input token of each node */
	float	   *x;				/* [cap, D] residual stream */
	float	   *xb;				/* [cap, D] */
	float	   *rstd;			/* [cap] */
	float	   *xz;				/* [cap, 2E] */
	float	   *xc;				/* [cap, E] */
	float	   *u;				/* [cap, E] */
	float	   *dbc;			/* [cap, P] */
	float	   *dt_in;			/* [cap, R] */
	float	   *dtr;			/* [cap, E] */
	float	   *delta;			/* [cap, E] */
	float	   *y;				/* [cap, E] */
	float	   *g;				/* [cap, E] */
	float	   *logits;			/* [cap, K] */
	float	   *A;				/* [L][E, NS] */
	int			A_ready;		/* A holds -exp(A_log) of the current weights */
	float	   *scratch;		/* [E NS] */
	/* the <CLASS_c> nodes: every class's (or the last class used, when they would take more than
	 * MAMBA_PREFIX_STORE_BYTES), each [L][conv_n], [L][ssm_n], [K] */
	int			n_slots;
	int		   *slot_class;		/* [n_slots]: the class whose node a slot holds; -1: none */
	float	   *prefixes;		/* [n_slots][prefix_floats] */
	NtgTokenDraw draw;
	float	   *block;
};

#define MAMBA_PREFIX_STORE_BYTES ((size_t) 8 << 20)

/* Floats of the sampler's block for cap rows (carved up in mamba_ensure_sampler). */
static size_t
sampler_floats(const MambaConfig *c, int K, int cap)
{
	size_t		D = c->dim,
				E = c->inner_dim,
				NS = c->state_dim,
				P = c->dt_rank + 2 * c->state_dim,
				R = c->dt_rank,
				L = c->n_layers;
	size_t		state = L * ((size_t) (c->conv_width - 1) * E + E * NS);

	return 2 * cap * state + (size_t) cap * (2 * D + 1 + 8 * E + P + R + K) +
		L * E * NS + E * NS;
}

/* Floats of one kept <CLASS_c> node: its states in every layer and its logits. */
static size_t
prefix_floats(const MambaSampler *s, int n_layers)
{
	return (size_t) n_layers * (s->conv_n + s->ssm_n) + s->K;
}

size_t
mamba_sampler_bytes(const MambaConfig *c, int n_values, int cap)
{
	return sampler_floats(c, n_values + 1, cap) * sizeof(float) + cap * sizeof(int32_t) +
		ntg_token_draw_bytes(cap, n_values + 1) + sizeof(MambaSampler);
}

void
mamba_free_sampler(MambaModel *m)
{
	MambaSampler *s = m->sampler;

	if (s == NULL)
		return;
	ntg_free(s->block);
	ntg_free(s->ntok);
	ntg_free(s->slot_class);
	ntg_free(s->prefixes);
	ntg_token_draw_free(&s->draw);
	ntg_free(s);
	m->sampler = NULL;
}

static int
mamba_ensure_sampler(MambaModel *m, int cap)
{
	const MambaConfig *c = &m->cfg;
	size_t		D = c->dim,
				E = c->inner_dim,
				NS = c->state_dim,
				P = c->dt_rank + 2 * c->state_dim,
				L = c->n_layers;
	int			K = m->tok.n_values + 1;
	MambaSampler *s;
	float	   *p;

	if (m->sampler != NULL && m->sampler->cap >= cap)
		return NTG_OK;
	mamba_free_sampler(m);
	s = ntg_calloc(1, sizeof(MambaSampler));
	if (s == NULL)
		return NTG_ERR_NOMEM;
	m->sampler = s;
	s->cap = cap;
	s->K = K;
	s->conv_n = (size_t) (c->conv_width - 1) * E;
	s->ssm_n = E * NS;
	s->block = ntg_malloc(sampler_floats(c, K, cap) * sizeof(float));
	s->ntok = ntg_malloc(cap * sizeof(int32_t));
	s->n_slots = m->base.n_classes * prefix_floats(s, L) * sizeof(float) <= MAMBA_PREFIX_STORE_BYTES ?
		m->base.n_classes : 1;
	s->slot_class = ntg_malloc(s->n_slots * sizeof(int));
	s->prefixes = ntg_malloc(s->n_slots * prefix_floats(s, L) * sizeof(float));
	if (s->block == NULL || s->ntok == NULL || s->slot_class == NULL || s->prefixes == NULL ||
		ntg_token_draw_alloc(&s->draw, cap, K) != NTG_OK)
	{
		mamba_free_sampler(m);
		return NTG_ERR_NOMEM;
	}
	p = s->block;
	for (int b = 0; b < 2; b++)
	{
		s->conv[b] = p, p += L * cap * s->conv_n;
		s->ssm[b] = p, p += L * cap * s->ssm_n;
	}
	s->x = p, p += cap * D;
	s->xb = p, p += cap * D;
	s->rstd = p, p += cap;
	s->xz = p, p += cap * 2 * E;
	s->xc = p, p += cap * E;
	s->u = p, p += cap * E;
	s->dbc = p, p += cap * P;
	s->dt_in = p, p += cap * c->dt_rank;
	s->dtr = p, p += cap * E;
	s->delta = p, p += cap * E;
	s->y = p, p += cap * E;
	s->g = p, p += cap * E;
	s->logits = p, p += (size_t) cap * K;
	s->A = p, p += L * E * NS;
	s->scratch = p;
	for (int i = 0; i < s->n_slots; i++)
		s->slot_class[i] = -1;
	return NTG_OK;
}

#define W(m, i) nn_params_ptr(&(m)->params, (i))

/* Rows per batch such that the sampler's buffers stay within MAMBA_SAMPLER_BYTES, whatever
 * sample_batch asks for. */
#define MAMBA_SAMPLER_BYTES ((size_t) 64 << 20)

static int
mamba_sampler_max_rows(const MambaModel *m)
{
	size_t		per_row = mamba_sampler_bytes(&m->cfg, m->tok.n_values, 2) -
		mamba_sampler_bytes(&m->cfg, m->tok.n_values, 1);
	size_t		rows = MAMBA_SAMPLER_BYTES / per_row;

	return rows < 1 ? 1 : rows > MAMBA_MAX_BATCH ? MAMBA_MAX_BATCH : (int) rows;
}

/* State of node j of layer l in buffer b. */
static inline float *
conv_at(const MambaSampler *s, int b, int l, int j)
{
	return s->conv[b] + ((size_t) l * s->cap + j) * s->conv_n;
}

static inline float *
ssm_at(const MambaSampler *s, int b, int l, int j)
{
	return s->ssm[b] + ((size_t) l * s->cap + j) * s->ssm_n;
}

/* One mixer step for the U nodes (normalized inputs in s->xb): advances their states (in the
 * current buffer, or from their parents' into the other one when forked) and leaves the mixer
 * output in s->xb.  The matrices are read through nn_matmul (float, or int8 in a quantized
 * model). */
static void
mixer_step(MambaModel *m, int l, int U)
{
	const MambaConfig *c = &m->cfg;
	const MambaLayer *L = &m->layers[l];
	MambaSampler *s = m->sampler;
	int			D = c->dim,
				E = c->inner_dim,
				NS = c->state_dim,
				R = c->dt_rank,
				P = R + 2 * NS;
	int			to = s->forked ? 1 - s->cur : s->cur;
	const int  *parent = s->forked ? s->draw.child_parent : NULL;
	const float *conv_prev = s->kept != NULL ? s->kept + (size_t) l * (s->conv_n + s->ssm_n)
		: conv_at(s, s->cur, l, 0);
	const float *ssm_prev = s->kept != NULL ? conv_prev + s->conv_n : ssm_at(s, s->cur, l, 0);

	nn_matmul(s->xz, s->xb, &m->params, L->in_proj, U, D, 2 * E);
	conv1d_causal_step(s->xc, conv_at(s, to, l, 0), conv_prev, parent, s->xz,
					   W(m, L->conv_w), W(m, L->conv_b), U, E, c->conv_width, 2 * E);
	silu_forward(s->u, s->xc, U, E, E);
	nn_matmul(s->dbc, s->u, &m->params, L->x_proj, U, E, P);
	for (int j = 0; j < U; j++)
		memcpy(s->dt_in + (size_t) j * R, s->dbc + (size_t) j * P, R * sizeof(float));
	nn_matmul(s->dtr, s->dt_in, &m->params, L->dt_proj, U, R, E);
	bias_forward(s->dtr, W(m, L->dt_bias), U, E);
	softplus_forward(s->delta, s->dtr, (size_t) U * E);
	selective_scan_step(s->y, ssm_at(s, to, l, 0), ssm_prev, parent, s->u,
						s->delta, s->A + (size_t) l * E * NS, s->dbc + R, P, W(m, L->D), U, E,
						NS, s->scratch);
	silu_gate_forward(s->g, s->y, s->xz + E, U, E, 2 * E);
	nn_matmul(s->xb, s->g, &m->params, L->out_proj, U, E, D);
}

/* Feed the U nodes' tokens (s->ntok) through the model from their states (current buffer, or
 * their parents' there when forked), which advance by that token into the current buffer;
 * leaves the logits of the K drawable tokens in s->logits. */
static void
mamba_decode_nodes(MambaModel *m, int U)
{
	const MambaConfig *c = &m->cfg;
	MambaSampler *s = m->sampler;
	int			D = c->dim;

	nn_embed(s->x, s->ntok, &m->params, m->t_emb, U, D);
	for (int l = 0; l < c->n_layers; l++)
	{
		rmsnorm_forward(s->xb, s->rstd, s->x, W(m, m->layers[l].norm), U, D, MAMBA_NORM_EPS);
		mixer_step(m, l, U);
		residual_add(s->x, s->xb, (size_t) U * D);
	}
	if (s->forked)
		s->cur = 1 - s->cur;
	s->forked = 0;
	s->kept = NULL;
	rmsnorm_forward(s->xb, s->rstd, s->x, W(m, m->t_norm), U, D, MAMBA_NORM_EPS);
	/* rows 0 .. n_values of the head: the value tokens and <EOS> */
	nn_matmul(s->logits, s->xb, &m->params, m->t_out, U, D, s->K);
}

/* Zero state for node 0 of the current buffer (the start of every row). */
static void
reset_node0(MambaSampler *s, int n_layers)
{
	s->kept = NULL;
	for (int l = 0; l < n_layers; l++)
	{
		memset(conv_at(s, s->cur, l, 0), 0, s->conv_n * sizeof(float));
		memset(ssm_at(s, s->cur, l, 0), 0, s->ssm_n * sizeof(float));
	}
}

/* Keep node 0's states (current buffer) and the logits as a <CLASS_c> node. */
static void
prefix_store(MambaSampler *s, int n_layers, float *kept)
{
	float	   *p = kept;

	for (int l = 0; l < n_layers; l++)
	{
		memcpy(p, conv_at(s, s->cur, l, 0), s->conv_n * sizeof(float));
		p += s->conv_n;
		memcpy(p, ssm_at(s, s->cur, l, 0), s->ssm_n * sizeof(float));
		p += s->ssm_n;
	}
	memcpy(p, s->logits, s->K * sizeof(float));
}

/*
 * The <CLASS_c> node becomes node 0: computed in the current buffer and kept the first time;
 * afterwards only its logits are copied, and the next decode reads its states from where they
 * are kept (s->kept).  Copying them into the buffer was ~44 KB a call at the default shape,
 * a few percent of a one-row call.
 */
static void
mamba_prefix(MambaModel *m, int class_index)
{
	MambaSampler *s = m->sampler;
	int			slot = s->n_slots == m->base.n_classes ? class_index : 0;
	size_t		states = (size_t) m->cfg.n_layers * (s->conv_n + s->ssm_n);
	float	   *kept = s->prefixes + slot * prefix_floats(s, m->cfg.n_layers);

	if (s->slot_class[slot] == class_index)
	{
		memcpy(s->logits, kept + states, s->K * sizeof(float));
		s->kept = kept;
		return;
	}
	reset_node0(s, m->cfg.n_layers);
	s->ntok[0] = ntg_tok_class(&m->tok, class_index);
	mamba_decode_nodes(m, 1);
	prefix_store(s, m->cfg.n_layers, kept);
	s->slot_class[slot] = class_index;
}

/* The next position's nodes continue their parents (the draw's child_parent, which stays as it
 * is until the next draw): the next decode reads the parents' states and writes the nodes' into
 * the other buffer, unless one node has one child (one row at a time: its state advances in
 * place). */
static void
fork_states(MambaSampler *s, int U, int next)
{
	for (int c = 0; c < next; c++)
		s->ntok[c] = s->draw.child_tok[c];
	s->forked = !(U == 1 && next == 1);
}

/* Generate rows [0, nb) of one batch into out/out_len. */
static void
mamba_sample_chunk(MambaModel *m, int class_index, int nb, const NtgTokenSampling *opts,
				   NtgRng *rng, int32_t *out, int *out_len)
{
	MambaSampler *s = m->sampler;
	int			N = m->cfg.max_len;
	int			U = 1;			/* nodes at the current position */

	s->forked = 0;
	mamba_prefix(m, class_index);
	ntg_token_draw_begin(&s->draw, nb, out, out_len, N);
	for (int p = 0; p < N && s->draw.nact > 0; p++)
	{
		int			next;

		ntg_check_interrupts();
		if (p > 0)
			mamba_decode_nodes(m, U);
		next = ntg_token_draw_step(&s->draw, s->logits, U, opts, rng, m->tok.values, out,
								   out_len, N);
		fork_states(s, U, next);
		U = next;
	}
	s->kept = NULL;				/* (no step read it when every row ended at once) */
}

void
mamba_forget_sampled(MambaModel *m)
{
	MambaSampler *s = m->sampler;

	if (s == NULL)
		return;
	s->A_ready = 0;
	for (int i = 0; i < s->n_slots; i++)
		s->slot_class[i] = -1;
}

/* Sampler buffers for batches of up to cap rows, with A computed from the current weights. */
static int
mamba_prepare_sampler(MambaModel *m, int cap)
{
	if (mamba_ensure_sampler(m, cap) != NTG_OK)
		return NTG_ERR_NOMEM;
	nn_blas_init(m->cfg.blas_threads);
	if (!m->sampler->A_ready)
		for (int l = 0; l < m->cfg.n_layers; l++)
			mamba_compute_A(m, l, m->sampler->A + (size_t) l * m->cfg.inner_dim * m->cfg.state_dim);
	m->sampler->A_ready = 1;
	return NTG_OK;
}

int
mamba_sample_batched(MambaModel *m, int class_index, int n, int batch,
					 const NtgTokenSampling *opts, NtgRng *rng, int32_t *out, int *out_len,
					 NtgError *err)
{
	int			N = m->cfg.max_len;

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
	if (batch > mamba_sampler_max_rows(m))
		batch = mamba_sampler_max_rows(m);
	if (mamba_prepare_sampler(m, batch) != NTG_OK)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	for (int r0 = 0; r0 < n; r0 += batch)
	{
		int			nb = n - r0 < batch ? n - r0 : batch;

		mamba_sample_chunk(m, class_index, nb, opts, rng, out + (size_t) r0 * N, out_len + r0);
	}
	return NTG_OK;
}

int
mamba_sample(NtgModel *model, int class_index, int n, const NtgSampleOptions *opts,
			 NtgRng *rng, int32_t *out, int *out_len, NtgError *err)
{
	MambaModel *m = (MambaModel *) model;
	NtgTokenSampling ts = ntg_token_sampling(opts);

	return mamba_sample_batched(m, class_index, n, m->cfg.sample_batch, &ts, rng, out, out_len,
								err);
}

int
mamba_next_probs_recurrent(MambaModel *m, const int32_t *tokens, int len, float *probs,
						   NtgError *err)
{
	MambaSampler *s;
	double		sum = 0.0;
	float		mx = -INFINITY;

	if (len < 1 || len > m->cfg.max_len)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "history length out of range");
	for (int t = 0; t < len; t++)
		if (tokens[t] < 0 || tokens[t] >= m->cfg.vocab_size)
			return ntg_error(err, NTG_ERR_INVALID_ARG, "token out of the vocabulary");
	if (mamba_prepare_sampler(m, 1) != NTG_OK)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	s = m->sampler;
	s->forked = 0;
	reset_node0(s, m->cfg.n_layers);
	for (int t = 0; t < len; t++)
	{
		s->ntok[0] = tokens[t];
		mamba_decode_nodes(m, 1);
	}
	for (int i = 0; i < s->K; i++)
		mx = fmaxf(mx, s->logits[i]);
	for (int i = 0; i < s->K; i++)
		sum += exp((double) s->logits[i] - mx);
	for (int i = 0; i < s->K; i++)
		probs[i] = (float) (exp((double) s->logits[i] - mx) / sum);
	return NTG_OK;
}
