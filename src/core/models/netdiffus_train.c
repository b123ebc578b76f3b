/*
 * netdiffus_train.c — training the netdiffus U-Net as a DDPM (Ho et al., 2020): each row's GASF
 * image x0 (standardized, netdiffus.h) is noised to a uniformly drawn step t, x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps,
 * and the network learns to predict eps (mean squared error over the N x N pixels of the image;
 * the padding up to S x S is zero in x_t and not scored).  With probability cond_drop a row is
 * trained under the "no class" embedding, which classifier-free guidance needs at sampling.
 *
 * With "ema" the model keeps an exponential moving average of its weights (Polyak averaging, as
 * diffusion models usually are sampled from): after every optimizer step avg = d avg + (1 - d) w,
 * with d = min(ema, (1 + k) / (10 + k)) after k updates, so that early averages do not hold on to
 * the initialisation.  Between epochs params.data holds the average (what the driver checks,
 * validates, keeps and stores; what sampling uses), during an epoch the trained weights: the two
 * buffers swap at the start and at the end of every epoch.
 *
 * The validation loss (NTG_CAP_VALIDATION) is the same MSE on held-out rows at fixed steps and
 * noise: each row r is scored at ND_VAL_STEPS steps drawn from a generator seeded by r alone, so
 * the figure does not depend on the batch, the order or anything trained, and epochs compare.
 */
#include "models/netdiffus.h"

#include <math.h>
#include <string.h>

#define ND_VAL_STEPS 2

/* Buffers of one pass (at most ND_MICRO rows), allocated per epoch. */
typedef struct NdPass
{
	int			cap;
	float	   *x0;				/* [cap, N*N] */
	float	   *noise;			/* [cap, N*N] */
	int		   *t;
	int		   *cls;
} NdPass;

static void
pass_free(NdPass *p)
{
	ntg_free(p->x0);
	ntg_free(p->noise);
	ntg_free(p->t);
	ntg_free(p->cls);
	memset(p, 0, sizeof(*p));
}

static int
pass_alloc(NdPass *p, const NetdiffusModel *m, int cap, NtgError *err)
{
	size_t		NN = (size_t) m->cfg.max_len * m->cfg.max_len;

	memset(p, 0, sizeof(*p));
	p->cap = cap;
	p->x0 = ntg_malloc((size_t) cap * NN * sizeof(float));
	p->noise = ntg_malloc((size_t) cap * NN * sizeof(float));
	p->t = ntg_malloc((size_t) cap * sizeof(int));
	p->cls = ntg_malloc((size_t) cap * sizeof(int));
	if (p->x0 == NULL || p->noise == NULL || p->t == NULL || p->cls == NULL)
	{
		pass_free(p);
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	return NTG_OK;
}

int
netdiffus_loss(NetdiffusModel *m, const float *x0, const float *noise, const int *t,
			   const int *cls, int B, int backward, float scale, double *loss_sum,
			   NtgError *err)
{
	int			N = m->cfg.max_len,
				S = m->shape.S;
	size_t		SS = (size_t) S * S,
				NN = (size_t) N * N;
	float	   *xt = ntg_calloc((size_t) B * SS, sizeof(float));
	float	   *pred = ntg_malloc((size_t) B * SS * sizeof(float));
	float	   *dpred = ntg_calloc((size_t) B * SS, sizeof(float));
	double		total = 0.0;

	*loss_sum = 0.0;
	if (backward && m->params.quant != NN_QUANT_NONE)
	{
		ntg_free(xt), ntg_free(pred), ntg_free(dpred);
		return ntg_error(err, NTG_ERR_UNSUPPORTED, "a quantized model cannot be trained");
	}
	if (xt == NULL || pred == NULL || dpred == NULL || netdiffus_ensure_acts(m, B) != NTG_OK)
	{
		ntg_free(xt), ntg_free(pred), ntg_free(dpred);
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	for (int b = 0; b < B; b++)
	{
		double		ab = m->alphas_cumprod[t[b]];
		float		ca = (float) sqrt(ab),
					cn = (float) sqrt(1.0 - ab);

		for (int i = 0; i < N; i++)
			for (int j = 0; j < N; j++)
				xt[b * SS + i * S + j] = ca * x0[b * NN + i * N + j] + cn * noise[b * NN + i * N + j];
	}
	netdiffus_forward(m, xt, t, cls, B, pred);
	for (int b = 0; b < B; b++)
	{
		double		se = 0.0;

		for (int i = 0; i < N; i++)
			for (int j = 0; j < N; j++)
			{
				float		d = pred[b * SS + i * S + j] - noise[b * NN + i * N + j];

				se += (double) d * d;
				dpred[b * SS + i * S + j] = 2.0f * d / (float) NN * scale;
			}
		total += se / NN;
	}
	if (backward)
		netdiffus_backward(m, dpred, B);
	ntg_free(xt), ntg_free(pred), ntg_free(dpred);
	*loss_sum = total;
	return NTG_OK;
}

/* Check a set's classes against the model's (names in the same order). */
static int
same_classes(const NetdiffusModel *m, const NtgSeqSet *set, NtgError *err)
{
	if (set->n_classes != m->base.n_classes)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "training rows do not have the model's classes");
	for (int c = 0; c < set->n_classes; c++)
		if (strcmp(set->classes[c], m->base.classes[c]) != 0)
			return ntg_error(err, NTG_ERR_INVALID_ARG,
							 "training rows do not have the model's classes");
	return NTG_OK;
}

static void
draw_noise(float *x, size_t n, NtgRng *rng)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float) ntg_rng_normal(rng);
}

void
netdiffus_ema_update(NetdiffusModel *m)
{
	double		d = (1.0 + m->ema_steps) / (10.0 + m->ema_steps);
	float		a = (float) (d < m->cfg.ema ? d : m->cfg.ema);
	const float *w = m->params.data;

	for (size_t i = 0; i < m->params.count; i++)
		m->ema[i] = a * m->ema[i] + (1.0f - a) * w[i];
	m->ema_steps++;
}

/* Exchange the trained weights and their average (pointers: no copy). */
static void
ema_swap(NetdiffusModel *m)
{
	float	   *t = m->params.data;

	m->params.data = m->ema;
	m->ema = t;
	m->base.weights = m->params.data;
}

static int
nd_ensure_training(NetdiffusModel *m, const NtgSeqSet *train, NtgError *err)
{
	int			fresh,
				rc;

	if ((rc = ntg_model_trainable_params(&m->base, &m->params, &fresh, err)) != NTG_OK)
		return rc;
	if (m->cfg.ema > 0.0 && m->ema == NULL)
	{
		/* the average starts at the weights the model has (new or loaded) */
		/* swapped with params.data (ema_swap): allocated alike */
		m->ema = ntg_malloc_aligned(m->params.count * sizeof(float));
		if (m->ema == NULL)
			return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		memcpy(m->ema, m->params.data, m->params.count * sizeof(float));
		ema_swap(m);			/* as between epochs: params.data holds the average */
	}
	if (fresh)
		netdiffus_reset_optimizer(m, train->n_rows);
	return NTG_OK;
}

/* One optimizer step over the rows idx[0..n): micro-batches of ND_MICRO accumulate gradients.
 * Adds the per-row losses to *total. */
static int
train_batch(NetdiffusModel *m, const NtgSeqSet *train, const int *idx, int n, NtgRng *rng,
			NdPass *p, double *total, NtgError *err)
{
	size_t		NN = (size_t) m->cfg.max_len * m->cfg.max_len;
	uint32_t	drop = (uint32_t) (m->cfg.cond_drop * 4294967296.0 > 4294967295.0 ?
								   4294967295.0 : m->cfg.cond_drop * 4294967296.0);

	nn_params_zero_grad(&m->params);
	m->params.grad_clean = 0;
	for (int b0 = 0; b0 < n; b0 += p->cap)
	{
		int			B = n - b0 < p->cap ? n - b0 : p->cap;
		double		loss;

		for (int b = 0; b < B; b++)
		{
			int			r = idx[b0 + b];
			int			dropped = (uint32_t) (ntg_rng_u64(rng) >> 32) < drop ||
				m->cfg.cond_drop >= 1.0;

			p->cls[b] = dropped ? m->base.n_classes : train->row_class[r];
			p->t[b] = (int) ntg_rng_below(rng, (uint64_t) m->cfg.timesteps);
			netdiffus_encode_row(m, train, r, p->x0 + b * NN);
			draw_noise(p->noise + b * NN, NN, rng);
		}
		if (netdiffus_loss(m, p->x0, p->noise, p->t, p->cls, B, 1, 1.0f / n, &loss, err) != NTG_OK)
			return err->code;
		*total += loss;
		ntg_check_interrupts();
	}
	nn_adamw_step(&m->opt, &m->params);
	if (m->ema != NULL)
		netdiffus_ema_update(m);
	return NTG_OK;
}

int
netdiffus_train_epoch(NtgModel *model, const NtgSeqSet *train, int epoch, NtgRng *rng,
					  double *mean_loss, NtgError *err)
{
	NetdiffusModel *m = (NetdiffusModel *) model;
	int			Bsz = m->cfg.batch_size;
	int		   *order;
	double		total = 0.0;
	NdPass		p;
	int			rc;

	*mean_loss = 0.0;
	netdiffus_unpack_convs(m);	/* packed by sampling calls: stale once a step changes the weights */
	if ((rc = same_classes(m, train, err)) != NTG_OK ||
		(rc = nd_ensure_training(m, train, err)) != NTG_OK)
		return rc;
	if (netdiffus_ensure_acts(m, Bsz < ND_MICRO ? Bsz : ND_MICRO) != NTG_OK)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if ((rc = pass_alloc(&p, m, Bsz < ND_MICRO ? Bsz : ND_MICRO, err)) != NTG_OK)
		return rc;
	order = ntg_malloc((size_t) (train->n_rows + 1) * sizeof(int));
	if (order == NULL)
	{
		pass_free(&p);
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	nn_blas_init(m->cfg.blas_threads);
	if (m->ema != NULL)
		ema_swap(m);			/* train the weights, not their average */
	/* Fisher-Yates shuffle of the row order */
	for (int i = 0; i < train->n_rows; i++)
		order[i] = i;
	for (int i = train->n_rows - 1; i > 0; i--)
	{
		int			j = (int) ntg_rng_below(rng, (uint64_t) i + 1);
		int			t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (int b0 = 0; rc == NTG_OK && b0 < train->n_rows; b0 += Bsz)
	{
		int			n = train->n_rows - b0 < Bsz ? train->n_rows - b0 : Bsz;

		ntg_check_interrupts();
		rc = train_batch(m, train, order + b0, n, rng, &p, &total, err);
	}
	ntg_free(order);
	pass_free(&p);
	if (m->ema != NULL)
		ema_swap(m);
	if (rc != NTG_OK)
		return rc;
	*mean_loss = train->n_rows > 0 ? total / train->n_rows : 0.0;
	m->base.epochs_done++;
	return NTG_OK;
}

int
netdiffus_eval_loss(NtgModel *model, const NtgSeqSet *set, double *mean_loss, int64_t *scored,
					NtgError *err)
{
	NetdiffusModel *m = (NetdiffusModel *) model;
	size_t		NN = (size_t) m->cfg.max_len * m->cfg.max_len;
	int			cap = ND_MICRO;
	int			total_evals = set->n_rows * ND_VAL_STEPS;
	double		total = 0.0;
	NdPass		p;
	int			rc;

	*mean_loss = 0.0;
	if (scored != NULL)
		*scored = 0;
	if ((rc = same_classes(m, set, err)) != NTG_OK)
		return rc;
	if (netdiffus_ensure_acts(m, cap) != NTG_OK)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if ((rc = pass_alloc(&p, m, cap, err)) != NTG_OK)
		return rc;
	nn_blas_init(m->cfg.blas_threads);
	for (int e0 = 0; e0 < total_evals; e0 += cap)
	{
		int			B = total_evals - e0 < cap ? total_evals - e0 : cap;
		double		loss;

		ntg_check_interrupts();
		for (int b = 0; b < B; b++)
		{
			int			r = (e0 + b) / ND_VAL_STEPS;
			NtgRng		rng;

			/* the k-th draw of row r's own generator: the same whatever else is scored */
			ntg_rng_seed(&rng, UINT64_C(0x6e6476616c) + (uint64_t) r);	/* "ndval" */
			for (int k = 0; k <= (e0 + b) % ND_VAL_STEPS; k++)
			{
				p.t[b] = (int) ntg_rng_below(&rng, (uint64_t) m->cfg.timesteps);
				draw_noise(p.noise + b * NN, NN, &rng);
			}
			p.cls[b] = set->row_class[r];
			netdiffus_encode_row(m, set, r, p.x0 + b * NN);
		}
		if ((rc = netdiffus_loss(m, p.x0, p.noise, p.t, p.cls, B, 0, 0.0f, &loss, err)) != NTG_OK)
			break;
		total += loss;
	}
	pass_free(&p);
	if (rc != NTG_OK)
		return rc;
	*mean_loss = total_evals > 0 ? total / total_evals : 0.0;
	if (scored != NULL)
		*scored = total_evals;
	return NTG_OK;
}
