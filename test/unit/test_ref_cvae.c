/*
 * test_ref_cvae.c — ntg's cvae forward and backward pass against an independent PyTorch
 * implementation (test/reference/cvae_ref.py, float64): the same tiny model (hidden 10/7, latent
 * 3, embedding 4, three classes, max_len 5) with the same weights and latent draws, on five rows
 * (a full row, a short one, an empty one, one longer than max_len, one scored up to a value the
 * vocabulary lacks as "longer than 2").
 *
 * Checked: the vocabulary and the rows' tokens, each row's reconstruction loss and KL term alone
 * (through the encoder, the draw and the decoder), the length logits and the value logits from the
 * reference's latents (the decoder alone), the batch objective mean(rec + w KL) with w = 0.6, and
 * the gradient of every tensor.
 *
 * Tolerances: ntg runs in float32, the reference in float64; losses are O(10) and come out within
 * ~1e-5 relative, so 1e-4 relative; logits within 1e-4 absolute; gradients within 1e-4 of the
 * largest gradient of their tensor (1e-6 absolute at least).  A KL term of 1/2 (mu^2 + 2 exp(lv) -
 * 1 - lv) instead of 1/2 (mu^2 + exp(lv) - 1 - lv) moves a row's KL by up to 36 % and fails the
 * KL and objective checks; a length term that counts the length k itself as "longer than k"
 * moves a row's reconstruction loss by 1.9 %.
 */
#include <math.h>
#include <string.h>

#include "models/cvae.h"
#include "unit.h"
#include "golden/cvae_ref.h"

static void
golden_train(NtgSeqSet *set)
{
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgError	err = {0};

	for (int r = 0, off = 0; r < cvae_ref_n_train; r++)
	{
		const int32_t *row = cvae_ref_train + off;

		ntg_seqset_builder_add(b, cvae_ref_classes[row[0]], row + 2, row[1], &err);
		off += 2 + row[1];
	}
	ntg_seqset_builder_finish(b, set, &err);
}

static CvaeModel *
create_model(const NtgSeqSet *train)
{
	NtgParams	p = {0};
	NtgModel   *m = NULL;
	NtgTrainPlan plan;
	NtgError	err = {0};

	ntg_params_add_number(&p, "hidden1", cvae_ref_h1, &err);
	ntg_params_add_number(&p, "hidden2", cvae_ref_h2, &err);
	ntg_params_add_number(&p, "latent_dim", cvae_ref_z, &err);
	ntg_params_add_number(&p, "embed_dim", cvae_ref_e, &err);
	if (ntg_cvae_kind.create(&p, train, &m, &plan, &err) != NTG_OK)
		printf("# create: %s\n", err.msg);
	ntg_params_free(&p);
	return (CvaeModel *) m;
}

/* The reference's weights into the model, by tensor name; 0 when a name or a size differs. */
static int
set_weights(CvaeModel *m)
{
	int			n = 0;

	for (const CvaeRefTensor *r = cvae_ref_tensors; r->name != NULL; r++, n++)
	{
		int			i;

		for (i = 0; i < m->params.n_tensors; i++)
			if (strcmp(m->params.tensors[i].name, r->name) == 0)
				break;
		if (i == m->params.n_tensors || m->params.tensors[i].count != (size_t) r->count)
			return 0;
		for (int j = 0; j < r->count; j++)
			nn_params_ptr(&m->params, i)[j] = (float) r->w[j];
	}
	return n == m->params.n_tensors;
}

/* The batch encoded with the model's vocabulary, as the training loop packs rows. */
static int
encode_batch(CvaeModel *m, int32_t *cls, int32_t *tok, int *len, uint8_t *more)
{
	int			N = m->cfg.max_len,
				same = 1;

	for (int r = 0, off = 0; r < cvae_ref_n_batch; r++)
	{
		const int32_t *row = cvae_ref_batch + off;
		int			k = row[1] < N ? row[1] : N,
					u = 0;

		while (u < k && (tok[r * N + u] = ntg_tok_value_token(&m->tok, row[3 + u])) >= 0)
			u++;
		for (int t = u; t < N; t++)
			tok[r * N + t] = m->cfg.n_values;
		cls[r] = row[0];
		len[r] = u;
		more[r] = u < k;
		same &= more[r] == row[2] && len[r] == cvae_ref_scored[r];
		for (int t = 0; t < N; t++)
			same &= tok[r * N + t] == cvae_ref_tokens[r * N + t];
		off += 3 + row[1];
	}
	return same;
}

static void
test_vocabulary(CvaeModel *m)
{
	int			same = m->cfg.n_values == cvae_ref_n_values;

	is_int(m->cfg.max_len, cvae_ref_max_len, "max_len = the longest training row");
	for (int i = 0; same && i < m->cfg.n_values; i++)
		same = m->tok.values[i] == cvae_ref_values[i];
	ok(same, "value vocabulary: the sorted distinct values of the training rows");
	ok(set_weights(m), "every reference tensor has its counterpart, of the same size");
}

/* Each row alone: reconstruction and KL against the reference. */
static void
test_rows(CvaeModel *m, const CvaeBatch *b)
{
	double		worst_rec = 0.0,
				worst_kl = 0.0;
	int			N = m->cfg.max_len,
				Z = m->cfg.latent_dim;

	for (int r = 0; r < b->B; r++)
	{
		CvaeBatch	one = {1, b->cls + r, b->tok + r * N, b->len + r, b->at_least + r,
		b->eps + r * Z};
		CvaeLoss	l;
		NtgError	err = {0};

		if (cvae_step(m, &one, 0, 1.0, &l, &err) != NTG_OK)
		{
			ok(0, "row %d: %s", r, err.msg);
			return;
		}
		worst_rec = unit_worst(worst_rec, fabs(l.rec - cvae_ref_rec[r]) / fabs(cvae_ref_rec[r]));
		worst_kl = unit_worst(worst_kl, fabs(l.kl - cvae_ref_kl[r]) / fabs(cvae_ref_kl[r]));
	}
	ok(worst_rec <= 1e-4, "each row's reconstruction loss (largest relative difference %.2g)", worst_rec);
	ok(worst_kl <= 1e-4, "each row's KL term: the encoder's mu and logvar (largest relative difference %.2g)",
	   worst_kl);
}

/* The decoder alone, from the reference's latents. */
static void
test_decoder(CvaeModel *m, const int32_t *cls, const int *len)
{
	int			N = m->cfg.max_len,
				V = m->cfg.n_values,
				Z = m->cfg.latent_dim,
				B = cvae_ref_n_batch,
				M,
				slice;
	float		z[cvae_ref_n_batch * cvae_ref_z];
	float	   *len_logits,
			   *logits;
	double		worst = 0.0;

	for (int i = 0; i < B * Z; i++)
		z[i] = (float) cvae_ref_z_out[i];
	cvae_decode(m, z, cls, B, &len_logits);
	for (int i = 0; i < B * (N + 1); i++)
		worst = unit_worst(worst, fabs(len_logits[i] - cvae_ref_len_logits[i]));
	ok(worst <= 1e-4, "length logits of every row (largest difference %.2g)", worst);
	M = cvae_pack_values(m, len, B, &slice);
	worst = 0.0;
	for (int k0 = 0; k0 < M; k0 += slice)
	{
		int			n = M - k0 < slice ? M - k0 : slice;

		logits = cvae_value_logits(m, k0, n);
		for (int i = 0; i < n * V; i++)
			worst = unit_worst(worst, fabs(logits[i] - cvae_ref_val_logits[(size_t) k0 * V + i]));
	}
	ok(M == (int) (sizeof(cvae_ref_val_logits) / sizeof(double)) / V && worst <= 1e-4,
	   "value logits at the %d scored positions (largest difference %.2g)", M, worst);
}

static void
test_gradients(CvaeModel *m, const CvaeBatch *b)
{
	CvaeLoss	l;
	NtgError	err = {0};
	int			bad = 0,
				rc;

	nn_params_zero_grad(&m->params);
	rc = cvae_step(m, b, 2, cvae_ref_kl_weight, &l, &err);
	ok(rc == NTG_OK, "forward and backward over the batch");
	is_double((l.rec + cvae_ref_kl_weight * l.kl) / b->B, cvae_ref_objective,
			  1e-4 * cvae_ref_objective, "the objective mean(rec + w KL)");
	for (const CvaeRefTensor *r = cvae_ref_tensors; r->name != NULL; r++)
	{
		int			i;
		double		top = 0.0,
					worst = 0.0;
		const float *g;

		for (i = 0; i < m->params.n_tensors; i++)
			if (strcmp(m->params.tensors[i].name, r->name) == 0)
				break;
		g = m->params.grad + m->params.tensors[i].offset;
		for (int j = 0; j < r->count; j++)
			top = fmax(top, fabs(r->g[j]));
		for (int j = 0; j < r->count; j++)
			worst = unit_worst(worst, fabs(g[j] - r->g[j]));
		if (worst > fmax(1e-4 * top, 1e-6))
		{
			bad++;
			printf("#   %s: largest difference %.3g, largest gradient %.3g\n", r->name, worst, top);
		}
	}
	ok(bad == 0, "the gradient of every tensor (%d differ)", bad);
}

int
main(void)
{
	NtgSeqSet	train;
	CvaeModel  *m;
	int32_t		cls[cvae_ref_n_batch],
				tok[cvae_ref_n_batch * cvae_ref_max_len];
	int			len[cvae_ref_n_batch];
	uint8_t		more[cvae_ref_n_batch];
	float		eps[cvae_ref_n_batch * cvae_ref_z];
	CvaeBatch	b;

	golden_train(&train);
	m = create_model(&train);
	if (!ok(m != NULL, "create the reference's model"))
		return done_testing();
	test_vocabulary(m);
	ok(encode_batch(m, cls, tok, len, more), "the batch's tokens, scored lengths and at_least flags");
	for (int i = 0; i < cvae_ref_n_batch * cvae_ref_z; i++)
		eps[i] = (float) cvae_ref_eps[i];
	b.B = cvae_ref_n_batch;
	b.cls = cls;
	b.tok = tok;
	b.len = len;
	b.at_least = more;
	b.eps = eps;
	test_rows(m, &b);
	test_decoder(m, cls, len);
	test_gradients(m, &b);
	ntg_cvae_kind.destroy(&m->base);
	ntg_seqset_free(&train);
	return done_testing();
}
