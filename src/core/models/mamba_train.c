/*
 * mamba_train.c — the epoch loop of the mamba model (kind->train_epoch), the held-out loss
 * (kind->eval_loss) and the next-token distribution for tests; the passes themselves are
 * mamba_pass.c's.  Rows are encoded and noised as for llama (token_rows.h).
 */
#include "models/mamba.h"
#include "models/token_rows.h"

#include <string.h>

void
mamba_blank_inputs(MambaModel *m, int32_t *tokens, const int *len, int S)
{
	ntg_tok_blank_inputs(&m->tok, m->cfg.token_noise, &m->noise_rng, tokens, len, S);
}

static int
mamba_pack(MambaModel *m, const NtgSeqSet *set, const int *idx, int S, int scoring,
		   int32_t *tokens, int32_t *targets, int *len, int *packed, NtgError *err)
{
	return ntg_tok_pack_rows(&m->tok, m->base.classes, m->base.n_classes, m->cfg.max_len, set,
							 idx, S, scoring, tokens, targets, len, packed, err);
}

/* Gradient and optimizer buffers (a loaded model has none) and the shuffle order; a quantized
 * model has no float weights left to train. */
static int
mamba_ensure_training(MambaModel *m, const NtgSeqSet *train, NtgError *err)
{
	int			fresh,
				rc;

	if ((rc = ntg_model_trainable_params(&m->base, &m->params, &fresh, err)) != NTG_OK)
		return rc;
	if (fresh)
		mamba_reset_optimizer(m, train->n_rows);
	if (mamba_prepare_acts(m) != NTG_OK)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if (m->order_len != train->n_rows)
	{
		ntg_free(m->order);
		m->order = ntg_malloc((train->n_rows + 1) * sizeof(int));
		if (m->order == NULL)
			return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		m->order_len = train->n_rows;
	}
	return NTG_OK;
}

static void
shuffle(int *order, int n, NtgRng *rng)
{
	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int i = n - 1; i > 0; i--)
	{
		int			j = (int) ntg_rng_below(rng, (uint64_t) i + 1);
		int			t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
}

int
mamba_train_epoch(NtgModel *model, const NtgSeqSet *train, int epoch, NtgRng *rng,
				  double *mean_loss, NtgError *err)
{
	MambaModel *m = (MambaModel *) model;
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
	if ((rc = mamba_ensure_training(m, train, err)) != NTG_OK)
		return rc;
	nn_blas_init(m->cfg.blas_threads);
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
	shuffle(m->order, train->n_rows, rng);
	for (int b0 = 0; b0 < train->n_rows; b0 += B)
	{
		int			S = train->n_rows - b0 < B ? train->n_rows - b0 : B;
		double		loss;
		int			count,
					packed;

		ntg_check_interrupts();
		rc = mamba_pack(m, train, m->order + b0, S, 0, tokens, targets, lens, &packed, err);
		if (rc == NTG_OK && m->cfg.token_noise > 0.0)
			mamba_blank_inputs(m, tokens, lens, S);
		if (rc == NTG_OK)
			rc = mamba_step(m, tokens, targets, lens, S, 1, &loss, &count, err);
		if (rc != NTG_OK)
			break;
		total += loss;
		counted += count;
	}
	ntg_free(tokens), ntg_free(targets), ntg_free(lens);
	if (rc != NTG_OK)
		return rc;
	*mean_loss = counted > 0 ? total / counted : 0.0;
	m->base.epochs_done++;
	return NTG_OK;
}

int
mamba_eval_loss(NtgModel *model, const NtgSeqSet *set, double *mean_loss, int64_t *scored,
				NtgError *err)
{
	MambaModel *m = (MambaModel *) model;
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
		rc = mamba_pack(m, set, idx, S, 1, tokens, targets, lens, &packed, err);
		if (rc == NTG_OK && packed > 0)
			rc = mamba_step(m, tokens, targets, lens, packed, 0, &loss, &count, err);
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
mamba_next_probs(MambaModel *m, const int32_t *tokens, int len, float *probs, NtgError *err)
{
	int32_t		targets[MAMBA_MAX_LEN + 1];
	double		loss;
	int			count,
				rc;
	int			K = m->tok.n_values + 1;
	const float *row;
	double		sum = 0.0;

	if (len < 1 || len > m->cfg.max_len)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "history length out of range");
	for (int t = 0; t < len; t++)
		targets[t] = -1;
	if ((rc = mamba_step(m, tokens, targets, &len, 1, 0, &loss, &count, err)) != NTG_OK)
		return rc;
	row = mamba_last_probs(m) + (size_t) (len - 1) * m->cfg.vocab_size;
	for (int i = 0; i < K; i++)
		sum += row[i];
	for (int i = 0; i < K; i++)
		probs[i] = (float) (row[i] / sum);
	return NTG_OK;
}
