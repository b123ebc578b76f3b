/*
 * cvae_train.c — the cvae's epoch loop (shuffled batches, latent draws, the KL weight of each
 * step) and its held-out loss, over the passes of cvae_pass.c.
 */
#include "models/cvae.h"

#include <string.h>

/* The training loop's own buffers: the shuffle order and one packed batch with its latent draws. */
struct CvaeLoop
{
	int		   *order;			/* [rows of the training set] */
	int			order_len;
	int32_t    *bcls;			/* [batch] */
	int32_t    *btok;			/* [batch, N] */
	int		   *blen;			/* [batch] */
	uint8_t    *bmore;			/* [batch] */
	float	   *beps;			/* [batch, Z] */
	int			bcap;
};

size_t
cvae_loop_bytes(const CvaeConfig *c, int64_t n_rows)
{
	size_t		B = (size_t) c->batch_size;

	return sizeof(CvaeLoop) + (size_t) (n_rows + 1) * sizeof(int) +
		B * (sizeof(int32_t) * (1 + c->max_len) + sizeof(int) + 1 + sizeof(float) * c->latent_dim);
}

void
cvae_free_loop(CvaeModel *m)
{
	CvaeLoop   *l = m->loop;

	if (l == NULL)
		return;
	ntg_free(l->order);
	ntg_free(l->bcls);
	ntg_free(l->btok);
	ntg_free(l->blen);
	ntg_free(l->bmore);
	ntg_free(l->beps);
	ntg_free(l);
	m->loop = NULL;
}

/* The training loop's buffers: a batch of batch_size rows and the shuffle order of n_rows
 * (n_rows < 0: no order, for the held-out loss). */
static int
ensure_batch(CvaeModel *m, int n_rows)
{
	const CvaeConfig *c = &m->cfg;
	CvaeLoop   *a;
	int			B = c->batch_size;

	if (cvae_ensure_acts(m, cvae_micro_rows(m, B)) != NTG_OK)
		return NTG_ERR_NOMEM;
	if (m->loop == NULL && (m->loop = ntg_calloc(1, sizeof(CvaeLoop))) == NULL)
		return NTG_ERR_NOMEM;
	a = m->loop;
	if (a->bcap < B)
	{
		ntg_free(a->bcls), ntg_free(a->btok), ntg_free(a->blen), ntg_free(a->bmore), ntg_free(a->beps);
		a->bcap = 0;
		a->bcls = ntg_malloc(B * sizeof(int32_t));
		a->btok = ntg_malloc((size_t) B * c->max_len * sizeof(int32_t));
		a->blen = ntg_malloc(B * sizeof(int));
		a->bmore = ntg_malloc(B);
		a->beps = ntg_malloc((size_t) B * c->latent_dim * sizeof(float));
		if (a->bcls == NULL || a->btok == NULL || a->blen == NULL || a->bmore == NULL ||
			a->beps == NULL)
			return NTG_ERR_NOMEM;
		a->bcap = B;
	}
	if (n_rows >= 0 && a->order_len != n_rows)
	{
		ntg_free(a->order);
		a->order_len = 0;
		if ((a->order = ntg_malloc(((size_t) n_rows + 1) * sizeof(int))) == NULL)
			return NTG_ERR_NOMEM;
		a->order_len = n_rows;
	}
	return NTG_OK;
}

/*
 * Encode rows idx[0..S-1] of set into the batch buffers; *packed = rows encoded.  A value outside
 * the vocabulary is an error for training rows; with scoring set (held-out rows) it ends the row:
 * the values before it are scored with the length term "longer than that", and a row whose first
 * value is unknown is left out.
 */
static int
pack_rows(CvaeModel *m, const NtgSeqSet *set, const int *idx, int S, int scoring, int *packed,
		  NtgError *err)
{
	CvaeLoop   *a = m->loop;
	int			N = m->cfg.max_len,
				V = m->cfg.n_values;

	*packed = 0;
	for (int s = 0; s < S; s++)
	{
		int			rl;
		const int32_t *row = ntg_seqset_row(set, idx[s], &rl);
		int			cls = set->row_class[idx[s]];
		int			k = rl < N ? rl : N;
		int			r = *packed;
		int32_t    *tok = a->btok + (size_t) r * N;
		int			u;

		if (cls < 0 || cls >= m->base.n_classes ||
			strcmp(set->classes[cls], m->base.classes[cls]) != 0)
			return ntg_error(err, NTG_ERR_INVALID_ARG,
							 "training rows do not have the model's classes");
		for (u = 0; u < k && (tok[u] = ntg_tok_value_token(&m->tok, row[u])) >= 0; u++)
			;
		if (u < k && !scoring)
			return ntg_error(err, NTG_ERR_INVALID_ARG,
							 "a training row holds a value outside the model's vocabulary");
		if (u == 0 && k > 0)
			continue;
		for (int t = u; t < N; t++)
			tok[t] = V;
		a->bcls[r] = cls;
		a->blen[r] = u;
		a->bmore[r] = u < k;
		(*packed)++;
	}
	return NTG_OK;
}

/* Gradient and Adam buffers for a model that has none (a loaded one trained further); a
 * quantized model has no float weights left to train. */
static int
ensure_training(CvaeModel *m, const NtgSeqSet *train, NtgError *err)
{
	int			fresh,
				rc;

	if ((rc = ntg_model_trainable_params(&m->base, &m->params, &fresh, err)) != NTG_OK)
		return rc;
	if (fresh)
		cvae_configure_optimizer(m, train->n_rows);
	if (ensure_batch(m, train->n_rows) != NTG_OK)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	return NTG_OK;
}

static void
draw_normals(NtgRng *rng, float *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (float) ntg_rng_normal(rng);
}

static CvaeBatch
batch_of(CvaeLoop *a, int S, int at_least)
{
	CvaeBatch	b;

	b.B = S;
	b.cls = a->bcls;
	b.tok = a->btok;
	b.len = a->blen;
	b.at_least = at_least ? a->bmore : NULL;
	b.eps = a->beps;
	return b;
}

int
cvae_train_epoch(NtgModel *model, const NtgSeqSet *train, int epoch, NtgRng *rng,
				 double *mean_loss, NtgError *err)
{
	CvaeModel  *m = (CvaeModel *) model;
	CvaeLoop   *a;
	int			B = m->cfg.batch_size;
	double		total = 0.0;
	int64_t		counted = 0;
	int			rc = NTG_OK;

	*mean_loss = 0.0;
	if (train->n_classes != m->base.n_classes)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "training rows do not have the model's classes");
	if ((rc = ensure_training(m, train, err)) != NTG_OK)
		return rc;
	nn_blas_init(m->cfg.blas_threads);
	a = m->loop;
	/* Fisher-Yates shuffle of the row order */
	for (int i = 0; i < train->n_rows; i++)
		a->order[i] = i;
	for (int i = train->n_rows - 1; i > 0; i--)
	{
		int			j = (int) ntg_rng_below(rng, (uint64_t) i + 1);
		int			t = a->order[i];

		a->order[i] = a->order[j];
		a->order[j] = t;
	}
	for (int b0 = 0; b0 < train->n_rows && rc == NTG_OK; b0 += B)
	{
		int			S = train->n_rows - b0 < B ? train->n_rows - b0 : B;
		int			packed;
		CvaeLoss	loss;
		CvaeBatch	batch;

		ntg_check_interrupts();
		if ((rc = pack_rows(m, train, a->order + b0, S, 0, &packed, err)) != NTG_OK)
			break;
		draw_normals(rng, a->beps, (size_t) packed * m->cfg.latent_dim);
		batch = batch_of(a, packed, 0);
		rc = cvae_step(m, &batch, 1, cvae_kl_weight(m, m->opt.step), &loss, err);
		total += loss.rec + loss.kl;
		counted += loss.targets;
	}
	if (rc != NTG_OK)
		return rc;
	/* the negative ELBO (KL weight 1) per target, as the held-out loss measures it */
	*mean_loss = counted > 0 ? total / counted : 0.0;
	m->base.epochs_done++;
	return NTG_OK;
}

/* The latent draws of the held-out loss come from this fixed seed, so that the same weights
 * always get the same loss (one draw of z per row: an unbiased estimate of the ELBO). */
#define CVAE_EVAL_SEED UINT64_C(0x6376616576616c)	/* "cvaeval" */

int
cvae_eval_loss(NtgModel *model, const NtgSeqSet *set, double *mean_loss, int64_t *scored,
			   NtgError *err)
{
	CvaeModel  *m = (CvaeModel *) model;
	int			B = m->cfg.batch_size;
	double		total = 0.0;
	int64_t		counted = 0;
	int		   *idx = ntg_malloc(B * sizeof(int));
	NtgRng		rng;
	int			rc = NTG_OK;

	*mean_loss = 0.0;
	if (scored != NULL)
		*scored = 0;
	if (idx == NULL || ensure_batch(m, -1) != NTG_OK)
		rc = ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	nn_blas_init(m->cfg.blas_threads);
	ntg_rng_seed(&rng, CVAE_EVAL_SEED);
	for (int b0 = 0; rc == NTG_OK && b0 < set->n_rows; b0 += B)
	{
		int			S = set->n_rows - b0 < B ? set->n_rows - b0 : B;
		int			packed;
		CvaeLoss	loss;
		CvaeBatch	batch;

		ntg_check_interrupts();
		for (int s = 0; s < S; s++)
			idx[s] = b0 + s;
		if ((rc = pack_rows(m, set, idx, S, 1, &packed, err)) != NTG_OK || packed == 0)
			continue;
		draw_normals(&rng, m->loop->beps, (size_t) packed * m->cfg.latent_dim);
		batch = batch_of(m->loop, packed, 1);
		if ((rc = cvae_step(m, &batch, 0, 1.0, &loss, err)) == NTG_OK)
			total += loss.rec + loss.kl, counted += loss.targets;
	}
	ntg_free(idx);
	*mean_loss = counted > 0 ? total / counted : 0.0;
	if (scored != NULL)
		*scored = counted;
	return rc;
}
