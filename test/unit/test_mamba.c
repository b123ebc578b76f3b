/*
 * test_mamba.c — the mamba generator: creation and Table I defaults, the whole model's gradient
 * against finite differences (with dropout too), the recurrent sampler against the training forward,
 * the sampler's draws against the model's distribution one row at a time and batched, training
 * that learns, determinism, sampling rules, and refusal of damaged or inconsistent stored models;
 * int8 copies (docs/quantization.md) against the float model:
 *   - the next-token distributions of a weight-only and a dynamic copy, through the training
 *     forward and through the recurrent sampler, within 0.02 of the float model's (largest
 *     absolute difference of a probability; measured 0.0019 in either mode on this model) and
 *     within 1e-5 of each other (the two paths read the same int8 products; measured 3e-8);
 *   - their rows, drawn independently with the float model's seeds, mostly the float model's;
 *   - which tensors are int8, the stored size, refused training, and stored int8 values damaged
 *     (a scale zero, negative or NaN, a weight of -128, a missing scale, a wrong mode, cuts)
 *     refused.
 * The comparison with an independent implementation is test_ref_mamba.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/blob.h"
#include "models/mamba.h"
#include "models/model.h"
#include "sampling_fixture.h"
#include "unit.h"

static const int32_t rows_a[][4] = {{100, -200, 300, 0}, {100, -200, 0, 0}, {100, -200, 300, -40}};
static const int	lens_a[] = {3, 2, 3};
static const int32_t rows_b[][4] = {{-5, 7, 0, 0}, {-5, 0, 0, 0}, {0, 0, 0, 0}};
static const int	lens_b[] = {2, 1, 0};

static void
make_set(NtgSeqSet *s)
{
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgError	err = {0};

	for (int i = 0; i < 3; i++)
		ntg_seqset_builder_add(b, "beta", rows_b[i], lens_b[i], &err);
	for (int i = 0; i < 3; i++)
		ntg_seqset_builder_add(b, "alpha", rows_a[i], lens_a[i], &err);
	ntg_seqset_builder_finish(b, s, &err);
}

static void
tiny_params(NtgParams *p, int epochs, int batch)
{
	NtgError	err = {0};

	memset(p, 0, sizeof(*p));
	ntg_params_add_number(p, "dim", 8, &err);
	ntg_params_add_number(p, "inner_dim", 12, &err);
	ntg_params_add_number(p, "n_layers", 2, &err);
	ntg_params_add_number(p, "state_dim", 4, &err);
	ntg_params_add_number(p, "conv_width", 3, &err);
	ntg_params_add_number(p, "epochs", epochs, &err);
	ntg_params_add_number(p, "batch_size", batch, &err);
	ntg_params_add_number(p, "lr", 0.01, &err);
	ntg_params_add_number(p, "seed", 7, &err);
}

/* The tiny model, untrained; key (if not NULL) = value is one more hyperparameter. */
static MambaModel *
make_model_with(const NtgSeqSet *s, int epochs, int batch, const char *key, double value)
{
	NtgParams	p;
	NtgModel   *m = NULL;
	NtgTrainPlan plan;
	NtgError	err = {0};

	tiny_params(&p, epochs, batch);
	if (key != NULL)
		ntg_params_add_number(&p, key, value, &err);
	/* the tests train to the end: no regularisation unless asked for (the defaults have some) */
	if (key == NULL || strcmp(key, "dropout") != 0)
		ntg_params_add_number(&p, "dropout", 0.0, &err);
	if (key == NULL || strcmp(key, "token_noise") != 0)
		ntg_params_add_number(&p, "token_noise", 0.0, &err);
	if (ntg_mamba_kind.create(&p, s, &m, &plan, &err) != NTG_OK)
		printf("# create: %s\n", err.msg);
	ntg_params_free(&p);
	return (MambaModel *) m;
}

static MambaModel *
train_for(MambaModel *m, const NtgSeqSet *s, int epochs)
{
	NtgRng		rng;
	double		loss;
	NtgError	err = {0};

	ntg_rng_seed(&rng, 5);
	for (int e = 0; m != NULL && e < epochs; e++)
		ntg_mamba_kind.train_epoch(&m->base, s, e, &rng, &loss, &err);
	return m;
}

static MambaModel *
trained(const NtgSeqSet *s, int epochs)
{
	return train_for(make_model_with(s, epochs, 2, NULL, 0.0), s, epochs);
}

static void
test_create(const NtgSeqSet *s)
{
	NtgParams	p;
	NtgModel   *m = NULL;
	NtgTrainPlan plan;
	NtgError	err = {0};
	MambaModel *mm;
	char	   *json;
	int64_t		D = 8,
				E = 12,
				NS = 4,
				R = 1,
				V = 9;

	tiny_params(&p, 3, 2);
	ok(ntg_mamba_kind.create(&p, s, &m, &plan, &err) == NTG_OK, "create a tiny model");
	ok(ntg_params_check_used(&p, "mamba", &err) == NTG_OK, "create reads every given key");
	mm = (MambaModel *) m;
	is_int(plan.epochs, 3, "epochs reach the plan");
	is_int(plan.seed, 7, "seed reaches the plan");
	ok(m->n_classes == 2 && strcmp(m->classes[0], "alpha") == 0, "two classes, sorted");
	is_int(m->max_len, 3, "max_len = longest training row (below the cap)");
	is_int(mm->cfg.vocab_size, V, "the vocabulary of llama: 5 values, <EOS>, <PAD>, 2 classes");
	is_int(mm->cfg.dt_rank, R, "dt_rank defaults to ceil(dim / 16)");
	is_int(m->n_params, 2 * V * D + D + 2 * (D + 2 * E * D + E * 3 + E + (R + 2 * NS) * E + E * R +
											 E + E * NS + E + D * E), "parameter count");
	ok(m->n_params == mamba_param_count(&mm->cfg), "mamba_param_count agrees");
	json = ntg_mamba_kind.config_json(m);
	ok(json != NULL && strstr(json, "\"inner_dim\": 12") && strstr(json, "\"state_dim\": 4") &&
	   strstr(json, "\"dt_rank\": 1"), "config JSON");
	ntg_free(json);
	ntg_mamba_kind.destroy(m);
	ntg_params_free(&p);

	memset(&p, 0, sizeof(p));
	ok(ntg_mamba_kind.create(&p, s, &m, &plan, &err) == NTG_OK, "create with defaults");
	mm = (MambaModel *) m;
	ok(mm->cfg.dim == 72 && mm->cfg.inner_dim == 144 && mm->cfg.n_layers == 4 &&
	   mm->cfg.state_dim == 16 && mm->cfg.conv_width == 4 && mm->cfg.dt_rank == 5,
	   "defaults are Table I's: dim 72, inner 144, 4 layers, state 16, conv 4, dt_rank 5");
	ok(mm->cfg.epochs == 25 && mm->cfg.lr == 2e-3 && mm->cfg.dropout == 0.1 &&
	   mm->cfg.token_noise == 0.7 && m->sampling.value[NTG_TOKEN_OPT_STRATIFIED] == 1.0 &&
	   m->sampling.value[NTG_TOKEN_OPT_TEMPERATURE] == 1.0,
	   "validated defaults: 25 epochs, lr 0.002, dropout 0.1, token noise 0.7, stratified draws");
	{
		const float *alog = nn_params_ptr(&mm->params, mm->layers[0].A_log);
		const float *dtb = nn_params_ptr(&mm->params, mm->layers[0].dt_bias);
		int			good = fabsf(alog[3] - logf(4.0f)) < 1e-6f && fabsf(alog[16 + 15] - logf(16.0f)) < 1e-6f;

		for (int e = 0; e < 144; e++)
		{
			double		dt = log1p(exp((double) dtb[e]));

			good &= dt > 0.0009 && dt < 0.1001;
		}
		ok(good, "initialised as the reference: A_log = log(1..16), softplus(dt_bias) in [0.001, 0.1]");
	}
	ntg_mamba_kind.destroy(m);

	ntg_params_add_number(&p, "state_dim", 0, &err);
	ok(ntg_mamba_kind.create(&p, s, &m, &plan, &err) == NTG_ERR_INVALID_ARG &&
	   strstr(err.msg, "state_dim"), "state_dim 0 is refused: %s", err.msg);
	ntg_params_free(&p);
	memset(&p, 0, sizeof(p));
	ntg_params_add_number(&p, "conv_width", 17, &err);
	ok(ntg_mamba_kind.create(&p, s, &m, &plan, &err) == NTG_ERR_INVALID_ARG &&
	   strstr(err.msg, "conv_width"), "conv_width 17 is refused: %s", err.msg);
	ntg_params_free(&p);
	memset(&p, 0, sizeof(p));
	ntg_params_add_number(&p, "dt_rank", 3, &err);
	ok(ntg_mamba_kind.create(&p, s, &m, &plan, &err) == NTG_OK &&
	   ((MambaModel *) m)->cfg.dt_rank == 3, "an explicit dt_rank is kept");
	ntg_mamba_kind.destroy(m);
	ntg_params_free(&p);
}

/* ---- whole-model gradient ------------------------------------------------------------------ */

/* The set has 5 values (tokens 0-4): <EOS> 5, <PAD> 6, <CLASS_alpha> 7, <CLASS_beta> 8. */
static const int32_t g_tokens[] = {7, 4, 1, 3, 8, 2, 0, 6};
static const int32_t g_targets[] = {4, 1, 3, 5, 2, 0, 5, 5};
static const int g_len[] = {4, 3, 1};

static double
batch_loss(MambaModel *m, int update)
{
	double		loss;
	int			count;
	NtgError	err = {0};

	mamba_step(m, g_tokens, g_targets, g_len, 3, update, &loss, &count, &err);
	return loss / count;
}

/* Loss of the fixed batch in training mode with the dropout generator reset (same masks). */
static double
dropout_loss(MambaModel *m, const NtgRng *state)
{
	m->drop_rng = *state;
	return batch_loss(m, 2);
}

/* Worst violation over every parameter of |numeric - analytic| <= 1e-3 + 2e-2 max(...). */
static double
fd_worst(MambaModel *m, const float *grad, const NtgRng *drop)
{
	double		worst = 0.0;

	for (size_t i = 0; i < m->params.count; i++)
	{
		float		keep = m->params.data[i];
		double		lp,
					lm,
					num;

		m->params.data[i] = keep + 1e-2f;
		lp = drop ? dropout_loss(m, drop) : batch_loss(m, 0);
		m->params.data[i] = keep - 1e-2f;
		lm = drop ? dropout_loss(m, drop) : batch_loss(m, 0);
		m->params.data[i] = keep;
		num = (lp - lm) / 2e-2;
		worst = unit_worst(worst, fabs(num - grad[i]) / (1e-3 + 2e-2 * fmax(fabs(num), fabs(grad[i]))));
	}
	return worst;
}

static void
test_gradient(const NtgSeqSet *s)
{
	MambaModel *m = make_model_with(s, 1, 2, NULL, 0.0);
	NtgRng		pick;
	float	   *grad = malloc(m->params.count * sizeof(float));
	double		plain;
	NtgError	err = {0};

	/* away from the initial weights, so that every path carries gradient */
	ntg_rng_seed(&pick, 99);
	for (size_t i = 0; i < m->params.count; i++)
		m->params.data[i] += (float) (ntg_rng_normal(&pick) * 0.3);
	nn_params_zero_grad(&m->params);
	plain = batch_loss(m, 2);
	memcpy(grad, m->params.grad, m->params.count * sizeof(float));
	ok(fd_worst(m, grad, NULL) <= 1.0,
	   "whole-model gradient matches finite differences (%zu parameters)", m->params.count);

	m->cfg.dropout = 0.3;
	ntg_rng_seed(&pick, 5);
	nn_params_zero_grad(&m->params);
	dropout_loss(m, &pick);
	memcpy(grad, m->params.grad, m->params.count * sizeof(float));
	ok(fd_worst(m, grad, &pick) <= 1.0, "with dropout 0.3 too");
	ok(dropout_loss(m, &pick) != plain && batch_loss(m, 0) == plain,
	   "dropout changes the training loss only, not evaluation");
	{
		int32_t		bad[8];
		double		l;
		int			n;

		memcpy(bad, g_tokens, sizeof(bad));
		bad[4] = m->cfg.vocab_size;
		ok(mamba_step(m, bad, g_targets, g_len, 3, 0, &l, &n, &err) == NTG_ERR_INTERNAL,
		   "a token outside the vocabulary is refused, not looked up: %s", err.msg);
	}
	free(grad);
	ntg_mamba_kind.destroy(&m->base);
}

/* ---- recurrent sampling ---------------------------------------------------------------------- */

static void
test_recurrent(const NtgSeqSet *s)
{
	MambaModel *m = trained(s, 20);
	static const int32_t hists[][3] = {{7, 0, 0}, {7, 4, 0}, {7, 4, 1}, {8, 2, 0}, {8, 6, 3}};
	static const int hlen[] = {1, 2, 3, 2, 3};
	double		worst = 0.0;
	NtgError	err = {0};

	for (int h = 0; h < 5; h++)
	{
		float		pf[8],
					pr[8];

		mamba_next_probs(m, hists[h], hlen[h], pf, &err);
		mamba_next_probs_recurrent(m, hists[h], hlen[h], pr, &err);
		for (int i = 0; i < 6; i++)
			worst = unit_worst(worst, fabs(pf[i] - pr[i]));
	}
	ok(worst < 2e-6, "the recurrent step gives the training forward's next-token distribution "
	   "(worst %.2g)", worst);
	ntg_mamba_kind.destroy(&m->base);
}

/* Do frequencies hits[0..K) of n draws match p (5 standard errors + 0.003)? */
static int
freq_matches(int K, const float *p, const int *hits, int n)
{
	for (int i = 0; i < K; i++)
	{
		double		f = (double) hits[i] / n;

		if (fabs(f - p[i]) > 5 * sqrt(p[i] * (1 - p[i]) / n) + 0.003)
		{
			printf("# token %d: frequency %.4f, probability %.4f (n %d)\n", i, f, p[i], n);
			return 0;
		}
	}
	return 1;
}

/*
 * Third tokens of the rows (max_len 3) that start with each two-value prefix of at least 500
 * rows, against the model's distribution after that prefix.  Batched, the rows with one prefix
 * are a node of the second position whose state was forked from its parent's: a node started
 * from another node's state would draw from another distribution.  0 when one does not match
 * (or no prefix is common enough).
 */
static int
third_tokens_match(MambaModel *m, const int32_t *out, const int *len, int n)
{
	int			K = m->tok.n_values + 1,
				eos = ntg_tok_eos(&m->tok);
	int			checked = 0;
	NtgError	err = {0};

	for (int a = 0; a < K - 1; a++)
		for (int b = 0; b < K - 1; b++)
		{
			int			hits[8] = {0},
						rows = 0;
			float		p[8];
			int32_t		hist[3] = {ntg_tok_class(&m->tok, 1), a, b};

			for (int r = 0; r < n; r++)
				if (len[r] >= 2 && ntg_tok_value_token(&m->tok, out[r * 3]) == a &&
					ntg_tok_value_token(&m->tok, out[r * 3 + 1]) == b)
				{
					hits[len[r] == 2 ? eos : ntg_tok_value_token(&m->tok, out[r * 3 + 2])]++;
					rows++;
				}
			if (rows < 500)
				continue;
			mamba_next_probs(m, hist, 3, p, &err);
			if (!freq_matches(K, p, hits, rows))
				return 0;
			checked++;
		}
	printf("# %d two-value prefixes checked\n", checked);
	return checked >= 2;
}

/*
 * The sampler draws from the model's own distribution, one row at a time and batched (where
 * rows share the states of a common history): the first token, and the second after the
 * likeliest first, against the training forward's probabilities (class alpha); the third after
 * every common two-value start (class beta, whose rows part earlier).
 */
static void
test_distribution(const NtgSeqSet *s)
{
	static const NtgTokenSampling plain = {1.0, 0, 1.0, 0};
	MambaModel *m = trained(s, 6);
	enum
	{
		NS = 20000
	};
	static int32_t out[NS * 3];
	static int	len[NS];
	int			K = m->tok.n_values + 1,
				eos = ntg_tok_eos(&m->tok);
	NtgError	err = {0};
	NtgRng		rng;

	for (int mode = 0; mode < 2; mode++)
	{
		int			batch = mode == 0 ? 1 : 4096;
		int			hits1[8] = {0},
					hits2[8] = {0},
					n2 = 0,
					best = 0;
		float		p1[8],
					p2[8];
		int32_t		hist[2] = {ntg_tok_class(&m->tok, 0), 0};

		ntg_rng_seed(&rng, 100 + mode);
		mamba_sample_batched(m, 0, NS, batch, &plain, &rng, out, len, &err);
		mamba_next_probs(m, hist, 1, p1, &err);
		for (int r = 0; r < NS; r++)
			hits1[len[r] == 0 ? eos : ntg_tok_value_token(&m->tok, out[r * 3])]++;
		ok(freq_matches(K, p1, hits1, NS), "first tokens follow the model (batch %d)", batch);
		for (int i = 1; i < K - 1; i++)
			if (hits1[i] > hits1[best])
				best = i;
		hist[1] = best;
		mamba_next_probs(m, hist, 2, p2, &err);
		for (int r = 0; r < NS; r++)
			if (len[r] >= 1 && ntg_tok_value_token(&m->tok, out[r * 3]) == best)
			{
				hits2[len[r] == 1 ? eos : ntg_tok_value_token(&m->tok, out[r * 3 + 1])]++;
				n2++;
			}
		ok(n2 > 1000 && freq_matches(K, p2, hits2, n2),
		   "second tokens after the likeliest first follow the model (batch %d, %d rows)", batch, n2);
		ntg_rng_seed(&rng, 200 + mode);
		mamba_sample_batched(m, 1, NS, batch, &plain, &rng, out, len, &err);
		ok(third_tokens_match(m, out, len, NS), "third tokens after every common two-value start "
		   "follow the model (batch %d)", batch);
	}
	ntg_mamba_kind.destroy(&m->base);
}

/* ---- training and sampling ------------------------------------------------------------------- */

static void
sample_rows(MambaModel *m, int cls, int n, uint64_t seed, int32_t *out, int *len,
			const NtgSampleOptions *o)
{
	NtgRng		rng;
	NtgError	err = {0};

	ntg_rng_seed(&rng, seed);
	if (ntg_mamba_kind.sample(&m->base, cls, n, o ? o : &m->base.sampling, &rng, out, len,
							  &err) != NTG_OK)
		printf("# sample: %s\n", err.msg);
}

/* Is row (values, len) one of the training rows of class alpha (cls 0) or beta (1)? */
static int
is_training_row(int cls, const int32_t *v, int len)
{
	for (int i = 0; i < 3; i++)
	{
		const int32_t *r = cls == 0 ? rows_a[i] : rows_b[i];
		int			rl = cls == 0 ? lens_a[i] : lens_b[i];

		if (rl == len && memcmp(r, v, len * sizeof(int32_t)) == 0)
			return 1;
	}
	return 0;
}

static void
test_learning(const NtgSeqSet *s)
{
	MambaModel *m = make_model_with(s, 150, 2, NULL, 0.0);
	NtgRng		rng;
	double		first = 0.0,
				last = 0.0,
				held;
	int64_t		scored;
	NtgError	err = {0};
	int32_t		out[200 * 3];
	int			len[200],
				copies = 0;

	ntg_rng_seed(&rng, 5);
	for (int e = 0; e < 150; e++)
		ntg_mamba_kind.train_epoch(&m->base, s, e, &rng, e == 0 ? &first : &last, &err);
	ok(last < first * 0.5, "training lowers the loss (%.3f -> %.3f)", first, last);
	ok(ntg_mamba_kind.eval_loss(&m->base, s, &held, &scored, &err) == NTG_OK,
	   "eval_loss of the training rows");
	/* targets: alpha 4 + 3 + 4, beta 3 + 2 + 1 (each row's values and its <EOS>) */
	ok(scored == 17 && fabs(held - last) < 0.3,
	   "eval_loss scores every target (%lld) near the training loss (%.3f)", (long long) scored, held);
	for (int cls = 0; cls < 2; cls++)
	{
		sample_rows(m, cls, 100, 3, out, len, NULL);
		for (int r = 0; r < 100; r++)
			copies += is_training_row(cls, out + r * 3, len[r]);
	}
	ok(copies >= 190, "a model trained to the end generates its training rows (%d of 200)", copies);
	ntg_mamba_kind.destroy(&m->base);
}

/*
 * Rows whose last value repeats their first, four tokens back (a, 5, 5, 5, 5, 10 a): beyond the
 * convolution's window, so the model must carry the first value in its scan state, and the
 * sampler must hand each row's state on to the row's next node (batched, rows share nodes until
 * they part at the first value).  A trained model generates its training rows, batched and one
 * at a time.
 */
static void
test_memory(void)
{
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgSeqSet	set;
	NtgParams	p = {0};
	NtgModel   *m = NULL;
	NtgTrainPlan plan;
	NtgError	err = {0};
	NtgRng		rng;
	double		loss;
	static const NtgTokenSampling plain = {1.0, 0, 1.0, 0};
	int32_t		out[300 * 6];
	int			len[300];

	for (int a = 1; a <= 3; a++)
		for (int rep = 0; rep < 4; rep++)
		{
			int32_t		row[6] = {a, 5, 5, 5, 5, 10 * a};

			ntg_seqset_builder_add(b, "m", row, 6, &err);
		}
	ntg_seqset_builder_finish(b, &set, &err);
	ntg_params_add_number(&p, "dim", 16, &err);
	ntg_params_add_number(&p, "inner_dim", 32, &err);
	ntg_params_add_number(&p, "n_layers", 1, &err);
	ntg_params_add_number(&p, "state_dim", 8, &err);
	ntg_params_add_number(&p, "epochs", 200, &err);
	ntg_params_add_number(&p, "batch_size", 4, &err);
	ntg_params_add_number(&p, "lr", 0.01, &err);
	ntg_params_add_number(&p, "dropout", 0.0, &err);
	ntg_params_add_number(&p, "token_noise", 0.0, &err);
	ntg_mamba_kind.create(&p, &set, &m, &plan, &err);
	ntg_rng_seed(&rng, 1);
	for (int e = 0; e < 200; e++)
		ntg_mamba_kind.train_epoch(m, &set, e, &rng, &loss, &err);
	for (int mode = 0; mode < 2; mode++)
	{
		int			n = mode == 0 ? 60 : 300,
					copies = 0;

		mamba_sample_batched((MambaModel *) m, 0, n, mode == 0 ? 1 : n, &plain, &rng, out, len,
							 &err);
		for (int r = 0; r < n; r++)
			copies += len[r] == 6 && out[r * 6 + 5] == 10 * out[r * 6] && out[r * 6 + 1] == 5;
		ok(copies >= n * 97 / 100, "the first value comes back 4 tokens later (%d of %d rows, %s)",
		   copies, n, mode == 0 ? "one at a time" : "batched");
	}
	ntg_mamba_kind.destroy(m);
	ntg_params_free(&p);
	ntg_seqset_free(&set);
}

static void
test_determinism(const NtgSeqSet *s)
{
	MambaModel *a = trained(s, 10),
			   *b = trained(s, 10),
			   *c = train_for(make_model_with(s, 10, 2, "token_noise", 0.5), s, 10);
	int32_t		oa[50 * 3],
				ob[50 * 3];
	int			la[50],
				lb[50];

	ok(memcmp(a->params.data, b->params.data, a->params.count * sizeof(float)) == 0,
	   "same seed, same data: bit-identical weights");
	ok(memcmp(a->params.data, c->params.data, a->params.count * sizeof(float)) != 0,
	   "token noise changes the training");
	sample_rows(a, 0, 50, 3, oa, la, NULL);
	sample_rows(b, 0, 50, 3, ob, lb, NULL);
	ok(memcmp(oa, ob, sizeof(oa)) == 0 && memcmp(la, lb, sizeof(la)) == 0,
	   "same seed: identical sampled rows");
	sample_rows(b, 0, 50, 4, ob, lb, NULL);
	ok(memcmp(oa, ob, sizeof(oa)) != 0 || memcmp(la, lb, sizeof(la)) != 0, "another seed: other rows");
	ntg_mamba_kind.destroy(&a->base);
	ntg_mamba_kind.destroy(&b->base);
	ntg_mamba_kind.destroy(&c->base);
}

static void
test_sampling_rules(const NtgSeqSet *s)
{
	MambaModel *m = trained(s, 150);
	enum
	{
		NS = 400
	};
	static int32_t out[NS * 3],
				out1[NS * 3];
	int			len[NS],
				len1[NS],
				bad = 0;
	NtgSampleOptions hot = token_opts(5.0, 0, 1.0, 0),
				greedy = token_opts(1.0, 1, 1.0, 0),
				cold = token_opts(1e-30, 0, 1.0, 0),
				strat = token_opts(1.0, 0, 1.0, 1),
				badt = token_opts(0.0, 0, 1.0, 0);
	NtgRng		rng;
	NtgError	err = {0};

	for (int cls = 0; cls < 2; cls++)
	{
		sample_rows(m, cls, NS, 11, out, len, &hot);
		for (int r = 0; r < NS; r++)
		{
			bad += len[r] < 0 || len[r] > m->base.max_len;
			for (int j = 0; j < len[r]; j++)
				bad += ntg_tok_value_token(&m->tok, out[r * 3 + j]) < 0;
		}
	}
	ok(bad == 0, "hot sampling emits only vocabulary values, at most max_len of them");
	sample_rows(m, 0, 20, 1, out, len, &greedy);
	sample_rows(m, 0, 20, 2, out1, len1, &cold);
	ok(memcmp(out, out1, 20 * 3 * sizeof(int32_t)) == 0 && memcmp(len, len1, 20 * sizeof(int)) == 0 &&
	   len[0] >= 2 && out[0] == 100 && out[1] == -200,
	   "top_k 1 and temperature 1e-30 are both greedy (100, -200, ...)");
	sample_rows(m, 0, NS, 1, out, len, &strat);
	bad = 0;
	for (int r = 0; r < NS; r++)
		bad += !is_training_row(0, out + r * 3, len[r]);
	ok(bad < NS / 50, "stratified rows of alpha are alpha's rows (%d others)", bad);
	ntg_rng_seed(&rng, 9);
	ok(ntg_mamba_kind.sample(&m->base, 2, 1, &m->base.sampling, &rng, out, len, &err) == NTG_ERR_INVALID_ARG,
	   "an unknown class index is refused");
	ok(ntg_mamba_kind.sample(&m->base, 0, 1, &badt, &rng, out, len, &err) == NTG_ERR_INVALID_ARG,
	   "temperature 0 is refused");
	ntg_mamba_kind.destroy(&m->base);
}

/* ---- storage ----------------------------------------------------------------------------------- */

/* The saved bytes of m with tensor `name` replaced by data (same shape; NULL: left out),
 * checksum valid. */
static int
rewrite(MambaModel *m, const char *name, const void *data, uint8_t **out, size_t *out_len)
{
	uint8_t    *buf;
	size_t		len;
	NtgBlob		in,
				blob;
	NtgError	err = {0};
	int			rc = ntg_model_save(&m->base, &buf, &len, &err);

	if (rc == NTG_OK)
		rc = ntg_blob_parse(buf, len, &in, &err);
	if (rc != NTG_OK)
		return rc;
	ntg_blob_init(&blob, in.kind, in.config);
	for (int i = 0; rc == NTG_OK && i < in.n_tensors; i++)
	{
		const NtgBlobTensor *x = &in.tensors[i];

		if (strcmp(x->name, name) == 0 && data == NULL)
			continue;			/* dropped */
		rc = ntg_blob_add(&blob, x->name, x->dtype, x->ndim, x->dims,
						  strcmp(x->name, name) == 0 ? data : x->data, &err);
	}
	if (rc == NTG_OK)
		rc = ntg_blob_serialize(&blob, out, out_len, &err);
	ntg_blob_free(&blob);
	ntg_blob_free(&in);
	ntg_free(buf);
	return rc;
}

static int
refused(MambaModel *m, const char *name, const void *data, const char *want)
{
	uint8_t    *buf;
	size_t		len;
	NtgModel   *back = NULL;
	NtgError	err = {0};
	int			rc;

	if (rewrite(m, name, data, &buf, &len) != NTG_OK)
		return 0;
	rc = ntg_model_from_bytes(buf, len, &back, &err);
	ntg_free(buf);
	ntg_model_destroy(back);
	if (rc != NTG_ERR_CORRUPT || strstr(err.msg, want) == NULL)
		printf("# %s: rc %d, %s\n", name, rc, rc ? err.msg : "loaded");
	return rc == NTG_ERR_CORRUPT && back == NULL && strstr(err.msg, want) != NULL;
}

static void
test_storage(const NtgSeqSet *s)
{
	MambaModel *m = trained(s, 3);
	int32_t		conf[19];
	double		hp[9];
	float	   *alog;
	size_t		n_alog = m->params.tensors[m->layers[0].A_log].count;
	NtgBlob		blob;
	uint8_t    *buf;
	size_t		len;
	NtgError	err = {0};

	ntg_model_save(&m->base, &buf, &len, &err);
	ntg_blob_parse(buf, len, &blob, &err);
	ntg_blob_read_tensor(&blob, "mamba.config", NTG_DTYPE_I32, 19, conf, &err);
	ntg_blob_read_tensor(&blob, "mamba.hparams", NTG_DTYPE_F64, 9, hp, &err);
	ntg_blob_free(&blob);
	ntg_free(buf);
	ok(conf[0] == 1 && conf[1] == 8 && conf[2] == 12 && conf[4] == 4 && conf[5] == 3 && conf[6] == 1,
	   "mamba.config holds format 1 and the shapes");

	conf[6] = 2;				/* dt_rank: x_proj and dt_proj no longer match */
	ok(refused(m, "mamba.config", conf, "do not match"), "a dt_rank that the weights contradict is refused");
	conf[6] = 1;
	conf[8] += 1;				/* vocab_size */
	ok(refused(m, "mamba.config", conf, "out of range"), "an inconsistent vocabulary size is refused");
	conf[8] -= 1;
	conf[4] = 0;				/* state_dim */
	ok(refused(m, "mamba.config", conf, "out of range"), "state_dim 0 is refused");
	conf[4] = 4;
	conf[0] = 2;
	ok(refused(m, "mamba.config", conf, "format version"), "an unknown format version is refused");
	conf[0] = 1;
	hp[7] = 0.95;				/* dropout */
	ok(refused(m, "mamba.hparams", hp, "out of range"), "dropout 0.95 is refused");
	hp[7] = NAN;
	ok(refused(m, "mamba.hparams", hp, "out of range"), "a NaN hyperparameter is refused");

	alog = malloc(n_alog * sizeof(float));
	memcpy(alog, nn_params_ptr(&m->params, m->layers[0].A_log), n_alog * sizeof(float));
	alog[1] = 81.0f;
	ok(refused(m, "layers.0.mixer.A_log", alog, "out of range"),
	   "an A_log that would make A infinite is refused");
	alog[1] = INFINITY;
	ok(refused(m, "layers.0.mixer.A_log", alog, "not finite"), "an infinite weight is refused");
	free(alog);
	ntg_mamba_kind.destroy(&m->base);
}

/* A float mamba loaded in place (its weights pointing into the stored bytes) trains on a copy of
 * them: the stored bytes stay as they were. */
static void
test_borrowed(const NtgSeqSet *s)
{
	MambaModel *m = trained(s, 3);
	uint8_t    *buf,
			   *keep;
	size_t		len;
	NtgModel   *back = NULL;
	NtgRng		rng;
	double		loss;
	NtgError	err = {0};
	int			borrowed;

	ntg_model_save(&m->base, &buf, &len, &err);
	keep = malloc(len);
	memcpy(keep, buf, len);
	ok(ntg_model_from_bytes_borrow(buf, len, &back, &err) == NTG_OK, "a float mamba loads in place");
	borrowed = back != NULL && ((MambaModel *) back)->params.borrowed;
	ok(borrowed, "its weights point into the stored bytes");
	ntg_rng_seed(&rng, 1);
	ok(back != NULL && ntg_mamba_kind.train_epoch(back, s, 0, &rng, &loss, &err) == NTG_OK &&
	   !((MambaModel *) back)->params.borrowed && memcmp(buf, keep, len) == 0,
	   "and trains on a copy of them, the stored bytes untouched");
	ntg_model_destroy(back);
	ntg_free(buf);
	free(keep);
	ntg_mamba_kind.destroy(&m->base);
}

/* m stored and loaded again: the same weights with a new sampler (nothing kept). */
static MambaModel *
reloaded(MambaModel *m)
{
	uint8_t    *buf;
	size_t		len;
	NtgModel   *back = NULL;
	NtgError	err = {0};

	if (ntg_model_save(&m->base, &buf, &len, &err) == NTG_OK)
		ntg_model_from_bytes(buf, len, &back, &err);
	ntg_free(buf);
	return (MambaModel *) back;
}

/* Rows n of class cls drawn by m with seed equal those a fresh load of m draws? */
static int
same_as_reloaded(MambaModel *m, int cls, int n, uint64_t seed, const NtgSampleOptions *o)
{
	MambaModel *f = reloaded(m);
	int32_t		a[50 * 3] = {0},
				b[50 * 3] = {0};
	int			la[50],
				lb[50],
				same;

	sample_rows(m, cls, n, seed, a, la, o);
	sample_rows(f, cls, n, seed, b, lb, o);
	same = memcmp(a, b, (size_t) n * 3 * sizeof(int32_t)) == 0 &&
		memcmp(la, lb, (size_t) n * sizeof(int)) == 0;
	ntg_mamba_kind.destroy(&f->base);
	return same;
}

/*
 * The sampler keeps A and every class's <CLASS_c> node across calls, and skips copying the states
 * when every node has one child in its place: one-row calls that alternate classes give the rows of
 * a freshly loaded model, and after a training step the kept nodes are forgotten (the rows are the
 * trained model's, as a fresh load of it draws them).
 */
static void
test_kept_sampling(const NtgSeqSet *s)
{
	MambaModel *m = trained(s, 3);
	NtgSampleOptions hot = m->base.sampling;
	int			same = 1;

	hot.value[0] = 1.5;			/* temperature: rows that differ from call to call */
	for (int k = 0; k < 40; k++)
		same &= same_as_reloaded(m, (k / 3) % 2, 1, 100 + k, &hot);
	ok(same, "40 one-row calls alternating classes: the rows of a freshly loaded model each time");
	ok(same_as_reloaded(m, 0, 50, 7, &hot), "a batch of 50 after them: the fresh model's rows");
	ntg_mamba_kind.destroy(&m->base);
	/* an untrained model samples (its nodes and A are kept), then learns the rows */
	m = make_model_with(s, 10, 2, NULL, 0.0);
	ok(same_as_reloaded(m, 0, 50, 7, &hot), "an untrained model's rows");
	train_for(m, s, 10);
	ok(same_as_reloaded(m, 0, 50, 7, &hot),
	   "after training the kept nodes are forgotten: the trained model's rows");
	ntg_mamba_kind.destroy(&m->base);
}

/* ---- int8 copies ------------------------------------------------------------------------------ */

/* m stored, loaded again and quantized in mode (as ntg.quantize makes it); NULL on failure. */
static MambaModel *
quantized(MambaModel *m, int mode)
{
	uint8_t    *buf;
	size_t		len;
	NtgModel   *q = NULL;
	NtgError	err = {0};

	if (ntg_model_save(&m->base, &buf, &len, &err) != NTG_OK)
		return NULL;
	if (ntg_model_from_bytes(buf, len, &q, &err) != NTG_OK ||
		ntg_model_quantize(q, mode, &err) != NTG_OK)
	{
		printf("# quantize: %s\n", err.msg);
		ntg_model_destroy(q);
		q = NULL;
	}
	ntg_free(buf);
	return (MambaModel *) q;
}

/* Largest |p - q| of the next-token distributions of a and b over the test histories, through the
 * training forward (recurrent 0) or the sampler's step (1); *cross: largest difference of b's
 * two paths. */
static double
probs_gap(MambaModel *a, MambaModel *b, int recurrent, double *cross)
{
	static const int32_t hists[][3] = {{7, 0, 0}, {7, 4, 0}, {7, 4, 1}, {8, 2, 0}, {8, 6, 3}, {8, 6, 0}};
	static const int hlen[] = {1, 2, 3, 2, 3, 2};
	double		worst = 0.0;
	NtgError	err = {0};

	*cross = 0.0;
	for (int h = 0; h < 6; h++)
	{
		float		pa[8],
					pb[8],
					pb2[8];

		if (recurrent)
		{
			mamba_next_probs_recurrent(a, hists[h], hlen[h], pa, &err);
			mamba_next_probs_recurrent(b, hists[h], hlen[h], pb, &err);
		}
		else
		{
			mamba_next_probs(a, hists[h], hlen[h], pa, &err);
			mamba_next_probs(b, hists[h], hlen[h], pb, &err);
		}
		mamba_next_probs_recurrent(b, hists[h], hlen[h], pb2, &err);
		for (int i = 0; i < a->tok.n_values + 1; i++)
		{
			worst = unit_worst(worst, fabs(pa[i] - pb[i]));
			*cross = fmax(*cross, fabs(pb[i] - pb2[i]));
		}
	}
	return worst;
}

/* Rows of q that equal m's row drawn with the same seed, out of n (independent rows). */
static int
same_rows(MambaModel *m, MambaModel *q, int n)
{
	int32_t		om[4],
				oq[4];
	int			lm,
				lq,
				same = 0;
	NtgTokenSampling ts = ntg_token_sampling(&m->base.sampling);

	ts.stratified = 0;
	for (int r = 0; r < n; r++)
	{
		NtgRng		rm,
					rq;
		NtgError	err = {0};

		ntg_rng_seed(&rm, 100 + r);
		ntg_rng_seed(&rq, 100 + r);
		mamba_sample_batched(m, r % 2, 1, 1, &ts, &rm, om, &lm, &err);
		mamba_sample_batched(q, r % 2, 1, 1, &ts, &rq, oq, &lq, &err);
		same += lm == lq && memcmp(om, oq, lm * sizeof(int32_t)) == 0;
	}
	return same;
}

static void
test_quantized(const NtgSeqSet *s)
{
	static const int modes[] = {NN_QUANT_WEIGHT_ONLY, NN_QUANT_DYNAMIC};
	MambaModel *m = trained(s, 20);
	uint8_t    *fbuf;
	size_t		flen;
	NtgError	err = {0};

	ntg_model_save(&m->base, &fbuf, &flen, &err);
	for (int i = 0; i < 2; i++)
	{
		const char *name = nn_quant_mode_name(modes[i]);
		MambaModel *q = quantized(m, modes[i]);
		const MambaLayer *L;
		double		cross_f,
					cross_r,
					gap_f,
					gap_r,
					loss;
		int			same,
					rc;
		int64_t		n_int8;
		uint8_t    *buf;
		size_t		len;
		NtgRng		rng;

		if (!ok(q != NULL && q->base.quantization == modes[i] && q->base.n_params == m->base.n_params,
				"%s: a mamba quantizes", name))
			continue;
		L = &q->layers[0];
		ok(nn_params_ptr(&q->params, L->in_proj) == NULL && nn_params_ptr(&q->params, L->x_proj) == NULL &&
		   nn_params_ptr(&q->params, L->dt_proj) == NULL && nn_params_ptr(&q->params, L->out_proj) == NULL &&
		   nn_params_ptr(&q->params, q->t_emb) == NULL && nn_params_ptr(&q->params, q->t_out) == NULL &&
		   nn_params_ptr(&q->params, L->conv_w) != NULL && nn_params_ptr(&q->params, L->A_log) != NULL &&
		   nn_params_ptr(&q->params, L->norm) != NULL,
		   "%s: the projections, the embedding and the head are int8; conv, norms float, A_log read as floats", name);
		gap_f = probs_gap(m, q, 0, &cross_f);
		gap_r = probs_gap(m, q, 1, &cross_r);
		ok(gap_f < 0.02 && gap_r < 0.02,
		   "%s: next-token probabilities within 0.02 of the float model's (forward %.4f, recurrent %.4f)",
		   name, gap_f, gap_r);
		ok(cross_f < 1e-5, "%s: the recurrent sampler gives the int8 forward's distribution (%.2g)",
		   name, cross_f);
		same = same_rows(m, q, 200);
		ok(same >= 180, "%s: %d of 200 rows drawn with the float model's seeds are its rows", name, same);
		ntg_mamba_kind.eval_loss(&q->base, s, &loss, NULL, &err);
		ok(isfinite(loss), "%s: the held-out loss is computed through the int8 forward (%.4f)", name, loss);
		/* a model this small is mostly the container's headers: count what int8 saves per weight */
		nn_params_quantizable(&q->params, &n_int8);
		rc = ntg_model_save(&q->base, &buf, &len, &err);
		ok(rc == NTG_OK && (double) flen - (double) len > 1.5 * n_int8,
		   "%s: stored in %zu bytes, float %zu: over 1.5 bytes less for each of %lld int8 weights",
		   name, len, flen, (long long) n_int8);
		ntg_free(buf);
		ntg_rng_seed(&rng, 1);
		ok(ntg_mamba_kind.train_epoch(&q->base, s, 0, &rng, &loss, &err) == NTG_ERR_UNSUPPORTED &&
		   strcmp(err.msg, "a quantized model cannot be trained further") == 0 &&
		   strstr(err.hint, "quantize it again") != NULL,
		   "%s: refuses further training: %s (%s)", name, err.msg, err.hint);
		{
			int			count;

			ok(mamba_step(q, g_tokens, g_targets, g_len, 3, 1, &loss, &count, &err) == NTG_ERR_UNSUPPORTED,
			   "%s: and a training step", name);
		}
		ntg_mamba_kind.destroy(&q->base);
	}
	ntg_free(fbuf);
	ntg_mamba_kind.destroy(&m->base);
}

/* Stored int8 values, damaged with a valid checksum, refused. */
static void
test_quantized_storage(const NtgSeqSet *s)
{
	MambaModel *m = trained(s, 3);
	MambaModel *q = quantized(m, NN_QUANT_DYNAMIC);
	const NnTensor *xp = &q->params.tensors[q->layers[1].x_proj];
	float	   *sc = malloc(xp->dims[0] * sizeof(float));
	int8_t	   *w = malloc(xp->count);
	int32_t		mode = 3;
	uint8_t    *buf;
	size_t		len;
	int			cut_refused = 0,
				cuts = 0;
	NtgModel   *back;
	NtgError	err = {0};

	memcpy(sc, xp->scale, xp->dims[0] * sizeof(float));
	memcpy(w, xp->q, xp->count);
	sc[2] = 0.0f;
	ok(refused(q, "layers.1.mixer.x_proj.scale", sc, "scale"), "a scale of zero is refused");
	sc[2] = -xp->scale[2];
	ok(refused(q, "layers.1.mixer.x_proj.scale", sc, "scale"), "a negative scale is refused");
	sc[2] = NAN;
	ok(refused(q, "layers.1.mixer.x_proj.scale", sc, "scale"), "a NaN scale is refused");
	w[5] = -128;
	ok(refused(q, "layers.1.mixer.x_proj", w, "out of range"), "an int8 weight of -128 is refused");
	ok(refused(q, "output.scale", NULL, "do not match"), "an int8 head without its scales is refused");
	ok(refused(q, "quantization", NULL, "do not match"),
	   "int8 tensors where the value says float (no mode) are refused");
	ok(refused(q, "quantization", &mode, "unknown quantization mode"), "an unknown mode is refused");
	ntg_model_save(&q->base, &buf, &len, &err);
	for (size_t cut = 1; cut < len; cut += 1 + cut / 7)
	{
		back = NULL;
		cuts++;
		cut_refused += ntg_model_from_bytes(buf, cut, &back, &err) == NTG_ERR_CORRUPT && back == NULL;
		ntg_model_destroy(back);
	}
	back = NULL;
	ok(cut_refused == cuts, "every cut of an int8 value is refused (%d of %d)", cut_refused, cuts);
	ok(ntg_model_from_bytes(buf, len, &back, &err) == NTG_OK && back->quantization == NN_QUANT_DYNAMIC,
	   "the undamaged value loads, dynamic");
	/* A_log: stored as int8, read back as the same floats as the quantized model's in memory */
	{
		const NnTensor *al = &q->params.tensors[q->layers[0].A_log];
		MambaModel *b = (MambaModel *) back;
		float	   *as = malloc(al->dims[0] * sizeof(float));
		NtgBlob		blob;
		int			same = 1;

		ntg_blob_parse(buf, len, &blob, &err);
		ok(ntg_blob_find(&blob, "layers.0.mixer.A_log")->dtype == NTG_DTYPE_I8 &&
		   ntg_blob_find(&blob, "layers.1.mixer.A_log.scale") != NULL,
		   "A_log is stored as int8 with per-row scales");
		ntg_blob_free(&blob);
		for (int l = 0; l < q->cfg.n_layers; l++)
			same &= memcmp(nn_params_ptr(&q->params, q->layers[l].A_log),
						   nn_params_ptr(&b->params, b->layers[l].A_log), al->count * sizeof(float)) == 0;
		ok(same && same_rows(q, b, 50) == 50,
		   "loaded back: the same dequantized A_log in every layer, and the same rows");
		memcpy(as, al->scale, al->dims[0] * sizeof(float));
		as[0] = 1.0f;			/* the row's largest weight, 127, becomes A_log 127 > 80 */
		ok(refused(q, "layers.0.mixer.A_log.scale", as, "out of range"),
		   "an A_log scale that takes A_log past 80 (A = -exp(A_log) no longer finite) is refused");
		free(as);
	}
	ntg_model_destroy(back);
	ntg_free(buf);
	/* an int8 copy made before A_log was stored as int8 (A_log f32) still loads, as it was */
	{
		MambaModel *old;
		NtgModel   *oldback = NULL;
		NtgBlob		blob;

		ntg_model_save(&m->base, &buf, &len, &err);
		ntg_model_from_bytes(buf, len, (NtgModel **) &old, &err);
		ntg_free(buf);
		for (int l = 0; l < old->cfg.n_layers; l++)
			nn_params_mark_quantizable(&old->params, old->layers[l].A_log, 0);
		ntg_model_quantize(&old->base, NN_QUANT_DYNAMIC, &err);
		ntg_model_save(&old->base, &buf, &len, &err);
		ntg_blob_parse(buf, len, &blob, &err);
		ok(ntg_blob_find(&blob, "layers.0.mixer.A_log")->dtype == NTG_DTYPE_F32,
		   "(an int8 copy with A_log in float32, as earlier builds stored them)");
		ntg_blob_free(&blob);
		ok(ntg_model_from_bytes(buf, len, &oldback, &err) == NTG_OK &&
		   same_rows(old, (MambaModel *) oldback, 50) == 50 &&
		   memcmp(nn_params_ptr(&old->params, old->layers[1].A_log),
				  nn_params_ptr(&((MambaModel *) oldback)->params, ((MambaModel *) oldback)->layers[1].A_log),
				  old->params.tensors[old->layers[1].A_log].count * sizeof(float)) == 0,
		   "an int8 copy with A_log in float32 loads with it in float32 and samples the same rows");
		ntg_model_destroy(oldback);
		ntg_model_destroy(&old->base);
		ntg_free(buf);
	}
	free(sc);
	free(w);
	ntg_mamba_kind.destroy(&q->base);
	ntg_mamba_kind.destroy(&m->base);
}

int
main(void)
{
	NtgSeqSet	s;

	make_set(&s);
	test_create(&s);
	test_gradient(&s);
	test_recurrent(&s);
	test_distribution(&s);
	test_learning(&s);
	test_memory();
	test_determinism(&s);
	test_sampling_rules(&s);
	test_storage(&s);
	test_borrowed(&s);
	test_kept_sampling(&s);
	test_quantized(&s);
	test_quantized_storage(&s);
	ntg_seqset_free(&s);
	return done_testing();
}
