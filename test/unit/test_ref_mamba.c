/*
 * test_ref_mamba.c — ntg's mamba forward and backward pass against an independent PyTorch
 * implementation with a plain selective-scan loop (test/reference/mamba_ref.py, float64): the
 * same tiny model (dim 8, inner 12, 2 layers, state 8, conv width 3, dt_rank 2) with the same
 * weights, on a packed batch of five rows (a row of max_len values, one cut to max_len, short
 * ones, an empty one).
 *
 * Checked: the vocabulary and the rows' tokens, the logits at every position of every row
 * (through mamba_next_probs, as log(p_i / p_EOS) = z_i - z_EOS over the drawable tokens: softmax
 * is shift-invariant), the same through the recurrent sampler's step (mamba_next_probs_recurrent,
 * which never sees a whole row), the mean loss, and the gradient of every tensor — with the
 * portable kernels and with the CPU's own (the AVX2 scan needs a state size that is a multiple
 * of 8, hence state 8).
 *
 * Tolerances: ntg runs in float32, the reference in float64.  Measured here (weights of scale
 * 0.5, larger than a trained model's): logits within 7e-6, the loss within 3e-8 relative,
 * gradients within 4e-6 of the largest gradient of their tensor.  The checks allow about ten
 * times that (logits 6e-5, loss 1e-6 relative, gradients 4e-5).
 * Planted bugs they catch (each seen failing): the B discretization without delta (delta u B ->
 * u B), A scaled by 1.01, softplus scaled by 0.99, the scan reading B one column off, the
 * convolution's taps reversed.
 */
#include <math.h>
#include <string.h>

#include "models/mamba.h"
#include "nn/nn_simd.h"
#include "unit.h"
#include "golden/mamba_ref.h"

static const char *const classes[] = {"alpha", "beta"};

/* Rows (class, length, values...) of a golden row list into a sequence set. */
static void
golden_seqset(const int32_t *flat, int n_rows, NtgSeqSet *set)
{
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgError	err = {0};

	for (int r = 0, off = 0; r < n_rows; r++)
	{
		ntg_seqset_builder_add(b, classes[flat[off]], flat + off + 2, flat[off + 1], &err);
		off += 2 + flat[off + 1];
	}
	ntg_seqset_builder_finish(b, set, &err);
}

static MambaModel *
create_model(const NtgSeqSet *train)
{
	NtgParams	p = {0};
	NtgModel   *m = NULL;
	NtgTrainPlan plan;
	NtgError	err = {0};

	ntg_params_add_number(&p, "dim", mamba_ref_dim, &err);
	ntg_params_add_number(&p, "inner_dim", mamba_ref_inner, &err);
	ntg_params_add_number(&p, "n_layers", mamba_ref_layers, &err);
	ntg_params_add_number(&p, "state_dim", mamba_ref_state, &err);
	ntg_params_add_number(&p, "conv_width", mamba_ref_conv, &err);
	ntg_params_add_number(&p, "dt_rank", mamba_ref_dt_rank, &err);
	ntg_params_add_number(&p, "dropout", 0.0, &err);	/* mamba_step's backward trains */
	if (ntg_mamba_kind.create(&p, train, &m, &plan, &err) != NTG_OK)
		printf("# create: %s\n", err.msg);
	ntg_params_free(&p);
	return (MambaModel *) m;
}

/* The tokenizer: vocabulary and the batch's rows, against the reference's encoding. */
static void
test_tokens(MambaModel *m, int32_t *tokens, int32_t *targets, int *len)
{
	int			same = m->tok.n_values == (int) (sizeof(mamba_ref_values) / sizeof(int32_t));
	int			n = 0;

	is_int(m->cfg.vocab_size, mamba_ref_vocab, "vocabulary size");
	is_int(m->cfg.max_len, mamba_ref_max_len, "max_len = the longest training row");
	for (int i = 0; same && i < m->tok.n_values; i++)
		same = m->tok.values[i] == mamba_ref_values[i];
	ok(same, "value vocabulary: sorted distinct values of the training rows");
	for (int r = 0, off = 0; r < mamba_ref_n_batch; r++)
	{
		const int32_t *row = mamba_ref_batch_rows + off;

		len[r] = ntg_tok_encode_row(&m->tok, row[0], row + 2, row[1], m->cfg.max_len,
									tokens + n, targets + n);
		n += len[r] > 0 ? len[r] : 0;
		off += 2 + row[1];
	}
	ok(memcmp(len, mamba_ref_len, sizeof(mamba_ref_len)) == 0 &&
	   memcmp(tokens, mamba_ref_tokens, sizeof(mamba_ref_tokens)) == 0 &&
	   memcmp(targets, mamba_ref_targets, sizeof(mamba_ref_targets)) == 0,
	   "rows encode as <CLASS> v1..vk -> v1..vk <EOS> (no <EOS> after a cut)");
}

/* Copy the golden weights into the parameter buffer by tensor name. */
static int
load_weights(MambaModel *m)
{
	int			matched = 0;

	for (int i = 0; i < m->params.n_tensors; i++)
	{
		const NnTensor *t = &m->params.tensors[i];
		const GoldenArray *g = golden_find(mamba_ref_weights, t->name);
		float	   *w = nn_params_ptr(&m->params, i);

		if (g == NULL || (size_t) g->count != t->count)
			continue;
		for (int k = 0; k < g->count; k++)
			w[k] = (float) g->v[k];
		matched++;
	}
	return matched;
}

/* The logits at every position, by the training forward or by the recurrent step. */
static void
test_logits(MambaModel *m, int recurrent, const char *kernels)
{
	int			K = m->tok.n_values + 1,
				eos = m->tok.n_values,
				V = mamba_ref_vocab;
	float		probs[64];
	double		worst = 0.0;
	int			rc = NTG_OK,
				pos = 0,
				checked = 0;
	NtgError	err = {0};

	for (int r = 0; r < mamba_ref_n_batch; r++)
		for (int t = 0; t < mamba_ref_len[r]; t++, pos++)
		{
			const double *z = mamba_ref_logits + (size_t) pos * V;
			const int32_t *hist = mamba_ref_tokens + (pos - t);

			/* a history is at most max_len tokens: the last position of a full row, which
			 * predicts its <EOS>, is checked through the loss and the gradients only */
			if (t + 1 > m->cfg.max_len)
				continue;
			rc |= recurrent ? mamba_next_probs_recurrent(m, hist, t + 1, probs, &err) :
				mamba_next_probs(m, hist, t + 1, probs, &err);
			checked++;
			for (int i = 0; i < K && rc == NTG_OK; i++)
				worst = unit_worst(worst, fabs(log((double) probs[i] / probs[eos]) - (z[i] - z[eos])));
		}
	ok(rc == NTG_OK && checked == pos - 1 && worst < 6e-5,
	   "%s, %s: logits at %d of %d positions match the reference (worst error %.2g)", kernels,
	   recurrent ? "recurrent step" : "training forward", checked, pos, worst);
}

static void
test_loss_and_grads(MambaModel *m, const int32_t *tokens, const int32_t *targets, const int *len,
					const char *kernels)
{
	double		loss,
				worst = 0.0;
	int			count,
				checked = 0;
	const char *worst_name = "";
	NtgError	err = {0};

	ok(mamba_step(m, tokens, targets, len, mamba_ref_n_batch, 0, &loss, &count, &err) == NTG_OK,
	   "%s: forward pass over the packed batch", kernels);
	is_int(count, (int) (sizeof(mamba_ref_targets) / sizeof(int32_t)), "%s: every target counts",
		   kernels);
	is_double(loss / count, mamba_ref_loss, 1e-6 * mamba_ref_loss,
			  "%s: mean loss (%.9f, reference %.9f)", kernels, loss / count, mamba_ref_loss);
	nn_params_zero_grad(&m->params);
	ok(mamba_step(m, tokens, targets, len, mamba_ref_n_batch, 2, &loss, &count, &err) == NTG_OK,
	   "%s: forward and backward pass", kernels);
	for (int i = 0; i < m->params.n_tensors; i++)
	{
		const NnTensor *t = &m->params.tensors[i];
		const GoldenArray *g = golden_find(mamba_ref_grads, t->name);
		const float *got = m->params.grad + t->offset;
		double		scale = 0.0,
					diff = 0.0;

		if (g == NULL || (size_t) g->count != t->count)
			continue;
		for (int k = 0; k < g->count; k++)
			scale = fmax(scale, fabs(g->v[k]));
		for (int k = 0; k < g->count; k++)
			diff = fmax(diff, fabs(got[k] - g->v[k]) / scale);
		if (diff > worst)
			worst = diff, worst_name = t->name;
		checked++;
	}
	is_int(checked, m->params.n_tensors, "%s: a reference gradient for every tensor", kernels);
	ok(worst < 4e-5, "%s: gradients of all tensors match (worst %.2g of the tensor's largest, %s)",
	   kernels, worst, worst_name);
}

int
main(void)
{
	NtgSeqSet	train;
	MambaModel *m;
	int32_t		tokens[256],
				targets[256];
	int			len[16];

	golden_seqset(mamba_ref_train_rows, mamba_ref_n_train, &train);
	m = create_model(&train);
	if (!ok(m != NULL, "create the model with the reference's shapes"))
		return done_testing();
	test_tokens(m, tokens, targets, len);
	is_int(load_weights(m), m->params.n_tensors, "every tensor gets the reference's weights");
	/* the portable kernels (exp, softplus, SiLU, the scan), then the CPU's own (AVX2) */
	for (int level = 0; level <= 2; level += 2)
	{
		const char *kernels;

		nn_simd_force(level);
		kernels = nn_simd_level() ? "AVX2 kernels" : "portable kernels";
		if (level == 2 && nn_simd_level() == 0)
			break;				/* no AVX2 here: the portable run was the CPU's own */
		test_logits(m, 0, kernels);
		test_logits(m, 1, kernels);
		test_loss_and_grads(m, tokens, targets, len, kernels);
	}
	ntg_mamba_kind.destroy(&m->base);
	ntg_seqset_free(&train);
	return done_testing();
}
