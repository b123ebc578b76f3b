/*
 * cvae_pass.c — forward and backward passes of the cvae over a batch of rows and the training
 * step (negative ELBO, the KL term weighted), and the decoder for sampling.  The epoch loop and the
 * held-out loss are in cvae_train.c.
 *
 * The value logits are computed for the positions inside each row only: the (row, position)
 * pairs with position < length are packed into M rows of E floats before the shared output
 * layer, which is the same as computing all N positions and masking the loss, without the masked
 * work (on the nDPI rows, 3.5 positions of 10 on average).  The output layer runs over the packed
 * positions in slices of at most CVAE_LOGIT_FLOATS logits, forward and backward slice by slice
 * (its positions are independent), so its buffer stays small for any vocabulary.
 *
 * Memory is bounded for any shape: a pass holds at most CVAE_MICRO_ROWS rows, and fewer when a
 * row's activations are large (CVAE_ROW_FLOATS for all rows of a pass).
 */
#include "models/cvae.h"
#include "nn/nn_vae.h"

#include <math.h>
#include <string.h>

struct CvaeActs
{
	int			cap;			/* rows */
	int			logit_cap;		/* P: packed positions per slice of value logits */
	float	   *x0;				/* [S, N E + C]  encoder input */
	float	   *h1;				/* [S, H1] */
	float	   *h2;				/* [S, H2] */
	float	   *ml;				/* [S, 2Z]  mu | logvar */
	float	   *kl;				/* [S] */
	float	   *z;				/* [S, Z] */
	float	   *d0;				/* [S, Z + C]  decoder input */
	float	   *g1;				/* [S, H2] */
	float	   *g2;				/* [S, H1] */
	float	   *lenp;			/* [S, N + 1]  length logits, probabilities, gradient */
	float	   *pos;			/* [S, N E] */
	float	   *packed;			/* [S N, E]  pos rows of the positions inside the rows */
	float	   *vlog;			/* [P, V]  a slice of value logits, probabilities, gradient */
	int32_t    *vtgt;			/* [S N] */
	/* backward */
	float	   *dA1,
			   *dB1;			/* [S, H1] */
	float	   *dA2,
			   *dB2;			/* [S, H2] */
	float	   *dml;			/* [S, 2Z] */
	float	   *dd0;			/* [S, Z + C] */
	float	   *dpos;			/* [S, N E] */
	float	   *dpacked;		/* [S N, E] */
	float	   *dx0;			/* [S, N E + C] */
	float	   *block;
};

#define CVAE_MICRO_ROWS		64
#define CVAE_ROW_FLOATS		((size_t) 8 << 20)
#define CVAE_LOGIT_FLOATS	((size_t) 1 << 20)

/* Floats of one row's buffers, the value logits aside. */
static size_t
row_floats(const CvaeConfig *c, int n_classes)
{
	size_t		N = c->max_len,
				E = c->embed_dim,
				Z = c->latent_dim,
				H1 = c->hidden1,
				H2 = c->hidden2,
				C = n_classes;

	return 2 * (N * E + C) + 4 * H1 + 4 * H2 + 2 * (2 * Z) + 1 + Z + 2 * (Z + C) + (N + 1) +
		4 * N * E + N;
}

/* Rows that fit the buffers at once: want, at most `most`, and fewer for large rows. */
int
cvae_rows_fit(const CvaeConfig *c, int n_classes, int want, int most)
{
	size_t		fit = CVAE_ROW_FLOATS / row_floats(c, n_classes);
	int			rows = want < most ? want : most;

	if (fit < (size_t) rows)
		rows = (int) fit;
	return rows < 1 ? 1 : rows;
}

/* P: packed positions per slice of value logits for passes of S rows. */
static size_t
logit_rows(const CvaeConfig *c, int S)
{
	size_t		P = CVAE_LOGIT_FLOATS / (c->n_values > 0 ? c->n_values : 1);
	size_t		most = (size_t) S * c->max_len;

	P = P < most ? P : most;
	return P < 1 ? 1 : P;
}

/* Floats of the buffers for passes of S rows. */
static size_t
acts_floats(const CvaeConfig *c, int n_classes, int S)
{
	return (size_t) S * row_floats(c, n_classes) + logit_rows(c, S) * c->n_values;
}

size_t
cvae_acts_bytes(const CvaeConfig *c, int n_classes)
{
	int			S = cvae_rows_fit(c, n_classes, c->batch_size, CVAE_MICRO_ROWS);

	return acts_floats(c, n_classes, S) * sizeof(float);
}

void
cvae_free_acts(CvaeModel *m)
{
	CvaeActs   *a = m->acts;

	if (a == NULL)
		return;
	ntg_free(a->block);
	ntg_free(a);
	m->acts = NULL;
}

/* Buffers for S rows, carved out of one allocation and reused for every batch. */
int
cvae_ensure_acts(CvaeModel *m, int S)
{
	const CvaeConfig *c = &m->cfg;
	size_t		N = c->max_len,
				E = c->embed_dim,
				Z = c->latent_dim,
				H1 = c->hidden1,
				H2 = c->hidden2,
				C = m->base.n_classes;
	CvaeActs   *a = m->acts;
	float	   *p;

	if (a != NULL && a->cap >= S)
		return NTG_OK;
	if (a == NULL && (a = m->acts = ntg_calloc(1, sizeof(CvaeActs))) == NULL)
		return NTG_ERR_NOMEM;
	ntg_free(a->block);
	a->cap = 0;
	if ((a->block = ntg_malloc(acts_floats(c, (int) C, S) * sizeof(float))) == NULL)
		return NTG_ERR_NOMEM;
	a->cap = S;
	a->logit_cap = (int) logit_rows(c, S);
	p = a->block;
	a->x0 = p, p += S * (N * E + C);
	a->h1 = p, p += S * H1;
	a->h2 = p, p += S * H2;
	a->ml = p, p += S * 2 * Z;
	a->kl = p, p += S;
	a->z = p, p += S * Z;
	a->d0 = p, p += S * (Z + C);
	a->g1 = p, p += S * H2;
	a->g2 = p, p += S * H1;
	a->lenp = p, p += S * (N + 1);
	a->pos = p, p += S * N * E;
	a->packed = p, p += S * N * E;
	a->vtgt = (int32_t *) p, p += S * N;
	a->dA1 = p, p += S * H1;
	a->dB1 = p, p += S * H1;
	a->dA2 = p, p += S * H2;
	a->dB2 = p, p += S * H2;
	a->dml = p, p += S * 2 * Z;
	a->dd0 = p, p += S * (Z + C);
	a->dpos = p, p += S * N * E;
	a->dpacked = p, p += S * N * E;
	a->dx0 = p, p += S * (N * E + C);
	a->vlog = p;
	return NTG_OK;
}

#define W(m, i) nn_params_ptr(&(m)->params, (i))
#define G(m, i) ((m)->params.grad + (m)->params.tensors[(i)].offset)

/* out[S, OC] = relu?(inp[S, IC] w^T + b); w float or int8 (nn_matmul), biases float */
static void
dense(CvaeModel *m, float *out, const float *inp, int w, int b, int S, int IC, int OC, int relu)
{
	nn_matmul(out, inp, &m->params, w, S, IC, OC);
	bias_forward(out, W(m, b), S, OC);
	if (relu)
		relu_forward(out, out, (size_t) S * OC);
}

/* dinp (if not NULL) += dout w; dw += dout^T inp; db += sum dout */
static void
dense_backward(CvaeModel *m, float *dinp, const float *dout, const float *inp, int w, int b,
			   int S, int IC, int OC)
{
	linear_backward(dinp, G(m, w), dout, inp, W(m, w), S, IC, OC);
	bias_backward(G(m, b), dout, S, OC);
}

/*
 * The decoder from a->d0 (rows [z, onehot(c)]) to the length logits (a->lenp) and the per-position
 * vectors (a->pos).  Shared with sampling (cvae_sample.c calls it through cvae_decode).
 */
static void
decode(CvaeModel *m, int S)
{
	const CvaeConfig *c = &m->cfg;
	CvaeActs   *a = m->acts;
	int			C = m->base.n_classes;

	dense(m, a->g1, a->d0, m->t.dec1_w, m->t.dec1_b, S, c->latent_dim + C, c->hidden2, 1);
	dense(m, a->g2, a->g1, m->t.dec2_w, m->t.dec2_b, S, c->hidden2, c->hidden1, 1);
	dense(m, a->lenp, a->g2, m->t.len_w, m->t.len_b, S, c->hidden1, c->max_len + 1, 0);
	dense(m, a->pos, a->g2, m->t.pos_w, m->t.pos_b, S, c->hidden1, c->max_len * c->embed_dim, 0);
}

/* Encoder: input rows from tokens and classes, then (mu, logvar) into a->ml. */
static void
encode(CvaeModel *m, const int32_t *cls, const int32_t *tok, int S)
{
	const CvaeConfig *c = &m->cfg;
	CvaeActs   *a = m->acts;
	int			N = c->max_len,
				E = c->embed_dim,
				C = m->base.n_classes,
				IC = N * E + C;

	for (int s = 0; s < S; s++)
	{
		float	   *x = a->x0 + (size_t) s * IC;

		nn_embed(x, tok + (size_t) s * N, &m->params, m->t.emb_in, N, E);
		memset(x + N * E, 0, C * sizeof(float));
		x[N * E + cls[s]] = 1.0f;
	}
	dense(m, a->h1, a->x0, m->t.enc1_w, m->t.enc1_b, S, IC, c->hidden1, 1);
	dense(m, a->h2, a->h1, m->t.enc2_w, m->t.enc2_b, S, c->hidden1, c->hidden2, 1);
	dense(m, a->ml, a->h2, m->t.enc3_w, m->t.enc3_b, S, c->hidden2, 2 * c->latent_dim, 0);
}

/* Decoder input rows [z, onehot(c)]. */
static void
decoder_input(CvaeModel *m, const float *z, const int32_t *cls, int S)
{
	int			Z = m->cfg.latent_dim,
				C = m->base.n_classes;

	for (int s = 0; s < S; s++)
	{
		float	   *d = m->acts->d0 + (size_t) s * (Z + C);

		memcpy(d, z + (size_t) s * Z, Z * sizeof(float));
		memset(d + Z, 0, C * sizeof(float));
		d[Z + cls[s]] = 1.0f;
	}
}

/*
 * Length term of each row, from the logits in a->lenp: -log p(len), or, for a row marked
 * at_least, -log P(length > len) = -log sum_{l > len} p(l).  Leaves the probabilities in a->lenp,
 * or with scale > 0 the gradient scale * d(term)/d(logits):
 *   p_i - [i = len]                 (a plain length)
 *   p_i - [i > len] p_i / P(> len)  (at least)
 */
static double
length_loss(CvaeActs *a, const int *len, const uint8_t *at_least, int S, int K, float scale)
{
	double		total = 0.0;

	for (int s = 0; s < S; s++)
	{
		float	   *z = a->lenp + (size_t) s * K;
		int			more = at_least != NULL && at_least[s];
		double		mx = -INFINITY,
					sum = 0.0,
					tail = 0.0;

		for (int i = 0; i < K; i++)
			mx = z[i] > mx ? z[i] : mx;
		for (int i = 0; i < K; i++)
		{
			double		e = exp((double) z[i] - mx);

			sum += e;
			tail += i > len[s] ? e : 0.0;
		}
		/* in log space, exact even when the probability underflows */
		total += more ? log(sum) - log(tail) : log(sum) + mx - z[len[s]];
		for (int i = 0; i < K; i++)
		{
			double		e = exp((double) z[i] - mx);
			double		p = e / sum;

			if (scale <= 0.0f)
				z[i] = (float) p;
			else if (more)
				z[i] = (float) (scale * (p - (i > len[s] ? e / tail : 0.0)));
			else
				z[i] = (float) (scale * (p - (i == len[s] ? 1.0 : 0.0)));
		}
	}
	return total;
}

/* Gather the position vectors of the positions inside the rows into a->packed (and, when tok
 * is not NULL, their targets into a->vtgt); returns M, the number of such positions. */
static int
pack_positions(CvaeModel *m, const int32_t *tok, const int *len, int S)
{
	CvaeActs   *a = m->acts;
	int			N = m->cfg.max_len,
				E = m->cfg.embed_dim,
				M = 0;

	for (int s = 0; s < S; s++)
		for (int t = 0; t < len[s]; t++, M++)
		{
			memcpy(a->packed + (size_t) M * E, a->pos + ((size_t) s * N + t) * E, E * sizeof(float));
			if (tok != NULL)
				a->vtgt[M] = tok[(size_t) s * N + t];
		}
	return M;
}

/* Backward from the packed positions' gradients (a->dpacked) and the length logits' (a->lenp)
 * down to the latent's (into a->dml, KL term included), then through the encoder into the
 * weights' gradients. */
static void
backward(CvaeModel *m, const CvaeBatch *b, int s0, int S, float kl_scale)
{
	const CvaeConfig *c = &m->cfg;
	CvaeActs   *a = m->acts;
	const CvaeTensors *t = &m->t;
	int			N = c->max_len,
				E = c->embed_dim,
				Z = c->latent_dim,
				H1 = c->hidden1,
				H2 = c->hidden2,
				C = m->base.n_classes,
				IC = N * E + C;
	const int32_t *tok = b->tok + (size_t) s0 * N;
	const int  *len = b->len + s0;

	/* heads: values (a->dpacked, from the output layer) and length, into dA1 = d g2 */
	memset(a->dpos, 0, (size_t) S * N * E * sizeof(float));
	for (int s = 0, k = 0; s < S; s++)
		for (int p = 0; p < len[s]; p++, k++)
			memcpy(a->dpos + ((size_t) s * N + p) * E, a->dpacked + (size_t) k * E, E * sizeof(float));
	memset(a->dA1, 0, (size_t) S * H1 * sizeof(float));
	dense_backward(m, a->dA1, a->dpos, a->g2, t->pos_w, t->pos_b, S, H1, N * E);
	dense_backward(m, a->dA1, a->lenp, a->g2, t->len_w, t->len_b, S, H1, N + 1);
	/* decoder MLP down to its input [z, onehot(c)] */
	memset(a->dB1, 0, (size_t) S * H1 * sizeof(float));
	relu_backward(a->dB1, a->dA1, a->g2, (size_t) S * H1);
	memset(a->dA2, 0, (size_t) S * H2 * sizeof(float));
	dense_backward(m, a->dA2, a->dB1, a->g1, t->dec2_w, t->dec2_b, S, H2, H1);
	memset(a->dB2, 0, (size_t) S * H2 * sizeof(float));
	relu_backward(a->dB2, a->dA2, a->g1, (size_t) S * H2);
	memset(a->dd0, 0, (size_t) S * (Z + C) * sizeof(float));
	dense_backward(m, a->dd0, a->dB2, a->d0, t->dec1_w, t->dec1_b, S, Z + C, H2);
	/* latent: dz (into a->z, no longer needed) through the draw, plus the KL term */
	for (int s = 0; s < S; s++)
		memcpy(a->z + (size_t) s * Z, a->dd0 + (size_t) s * (Z + C), Z * sizeof(float));
	memset(a->dml, 0, (size_t) S * 2 * Z * sizeof(float));
	reparam_backward(a->dml, a->z, a->ml, b->eps + (size_t) s0 * Z, S, Z);
	gauss_kl_backward(a->dml, a->ml, S, Z, kl_scale);
	/* encoder MLP down to its input, then the embedding */
	memset(a->dA2, 0, (size_t) S * H2 * sizeof(float));
	dense_backward(m, a->dA2, a->dml, a->h2, t->enc3_w, t->enc3_b, S, H2, 2 * Z);
	memset(a->dB2, 0, (size_t) S * H2 * sizeof(float));
	relu_backward(a->dB2, a->dA2, a->h2, (size_t) S * H2);
	memset(a->dA1, 0, (size_t) S * H1 * sizeof(float));
	dense_backward(m, a->dA1, a->dB2, a->h1, t->enc2_w, t->enc2_b, S, H1, H2);
	memset(a->dB1, 0, (size_t) S * H1 * sizeof(float));
	relu_backward(a->dB1, a->dA1, a->h1, (size_t) S * H1);
	memset(a->dx0, 0, (size_t) S * IC * sizeof(float));
	dense_backward(m, a->dx0, a->dB1, a->x0, t->enc1_w, t->enc1_b, S, IC, H1);
	for (int s = 0; s < S; s++)
		embedding_backward(G(m, t->emb_in), a->dx0 + (size_t) s * IC, tok + (size_t) s * N, N, E);
}

/*
 * Forward over rows s0 .. s0 + S - 1 of the batch (S <= the buffers' capacity), adding to *loss;
 * with scale > 0 also backward, the gradient being that of scale * sum over the rows of
 * (rec + kl_weight * kl).
 */
static void
pass(CvaeModel *m, const CvaeBatch *b, int s0, int S, float scale, double kl_weight,
	 CvaeLoss *loss)
{
	const CvaeConfig *c = &m->cfg;
	CvaeActs   *a = m->acts;
	int			N = c->max_len,
				Z = c->latent_dim,
				V = c->n_values,
				E = c->embed_dim,
				M,
				count;
	const int32_t *tok = b->tok + (size_t) s0 * N;
	double		rec;

	encode(m, b->cls + s0, tok, S);
	reparam_forward(a->z, a->ml, b->eps + (size_t) s0 * Z, S, Z);
	loss->kl += gauss_kl_forward(a->kl, a->ml, S, Z);
	decoder_input(m, a->z, b->cls + s0, S);
	decode(m, S);
	M = pack_positions(m, tok, b->len + s0, S);
	rec = length_loss(a, b->len + s0, b->at_least ? b->at_least + s0 : NULL, S, N + 1, scale);
	if (scale > 0.0f)
		memset(a->dpacked, 0, (size_t) M * E * sizeof(float));
	/* the value logits, one slice of packed positions at a time */
	for (int k0 = 0; k0 < M; k0 += a->logit_cap)
	{
		int			n = M - k0 < a->logit_cap ? M - k0 : a->logit_cap;
		const float *x = a->packed + (size_t) k0 * E;

		nn_matmul(a->vlog, x, &m->params, m->t.val_w, n, E, V);
		bias_forward(a->vlog, W(m, m->t.val_b), n, V);
		rec += crossentropy_forward(a->vlog, a->vtgt + k0, n, V, &count);
		if (scale <= 0.0f)
			continue;
		crossentropy_backward(a->vlog, a->vlog, a->vtgt + k0, n, V, scale);
		dense_backward(m, a->dpacked + (size_t) k0 * E, a->vlog, x, m->t.val_w, m->t.val_b, n, E, V);
	}
	loss->rec += rec;
	loss->targets += M + S;
	if (scale > 0.0f)
		backward(m, b, s0, S, (float) (scale * kl_weight));
}

/* Rows per forward/backward pass: the batch, at most CVAE_MICRO_ROWS, fewer for large rows; a
 * larger batch is several passes whose gradients add up before its one optimizer step. */
int
cvae_micro_rows(const CvaeModel *m, int S)
{
	return cvae_rows_fit(&m->cfg, m->base.n_classes, S, CVAE_MICRO_ROWS);
}

/* Refuse what would index outside the tables (tokens, classes, lengths). */
static int
check_batch(const CvaeModel *m, const CvaeBatch *b, NtgError *err)
{
	int			N = m->cfg.max_len,
				V = m->cfg.n_values;

	if (b->B < 1)
		return ntg_error(err, NTG_ERR_INTERNAL, "empty batch");
	for (int s = 0; s < b->B; s++)
	{
		if (b->cls[s] < 0 || b->cls[s] >= m->base.n_classes || b->len[s] < 0 || b->len[s] > N ||
			(b->at_least != NULL && b->at_least[s] && b->len[s] >= N))
			return ntg_error(err, NTG_ERR_INTERNAL, "row %d of the batch is out of range", s);
		for (int t = 0; t < N; t++)
		{
			int32_t		k = b->tok[(size_t) s * N + t];

			if (k < 0 || k > V || (t < b->len[s] && k == V))
				return ntg_error(err, NTG_ERR_INTERNAL, "token out of the vocabulary");
		}
	}
	return NTG_OK;
}

int
cvae_step(CvaeModel *m, const CvaeBatch *b, int update, double kl_weight, CvaeLoss *loss,
		  NtgError *err)
{
	int			micro;
	float		scale = update ? 1.0f / b->B : 0.0f;
	int			rc;

	memset(loss, 0, sizeof(*loss));
	if ((rc = check_batch(m, b, err)) != NTG_OK)
		return rc;
	micro = cvae_micro_rows(m, b->B);
	if (cvae_ensure_acts(m, micro) != NTG_OK)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if (update)
	{
		if (m->params.quant != NN_QUANT_NONE)
			return ntg_error(err, NTG_ERR_UNSUPPORTED, "a quantized model cannot be trained");
		if (m->params.grad == NULL)
			return ntg_error(err, NTG_ERR_INTERNAL, "model has no gradient buffers");
		nn_params_zero_grad(&m->params);
		m->params.grad_clean = 0;
	}
	for (int s0 = 0; s0 < b->B; s0 += micro)
	{
		if (s0 > 0)
			ntg_check_interrupts();
		pass(m, b, s0, b->B - s0 < micro ? b->B - s0 : micro, scale, kl_weight, loss);
	}
	if (update == 1)
		nn_adamw_step(&m->opt, &m->params);
	return NTG_OK;
}

/* For cvae_sample.c: the decoder over S <= capacity rows of latents z and classes cls; leaves
 * the length logits in the buffer it returns. */
int
cvae_decode(CvaeModel *m, const float *z, const int32_t *cls, int S, float **len_logits)
{
	if (cvae_ensure_acts(m, S) != NTG_OK)
		return NTG_ERR_NOMEM;
	decoder_input(m, z, cls, S);
	decode(m, S);
	*len_logits = m->acts->lenp;
	return NTG_OK;
}

/* After cvae_decode: pack positions 0 .. len[s] - 1 of each row s in row order; returns their
 * number M.  Then cvae_value_logits gives the logits of packed positions first .. first + n - 1,
 * n at most *slice (the buffer's capacity), as [n, n_values]. */
int
cvae_pack_values(CvaeModel *m, const int *len, int S, int *slice)
{
	*slice = m->acts->logit_cap;
	return pack_positions(m, NULL, len, S);
}

float *
cvae_value_logits(CvaeModel *m, int first, int n)
{
	const float *x = m->acts->packed + (size_t) first * m->cfg.embed_dim;

	nn_matmul(m->acts->vlog, x, &m->params, m->t.val_w, n, m->cfg.embed_dim, m->cfg.n_values);
	bias_forward(m->acts->vlog, W(m, m->t.val_b), n, m->cfg.n_values);
	return m->acts->vlog;
}
