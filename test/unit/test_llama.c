/*
 * test_llama.c — the llama generator through the generic interface (model.h): creation,
 * the whole model's gradient against finite differences, overfitting a handful of rows,
 * determinism, sampling rules, save/load, and refusal of damaged or inconsistent stored models.
 */
#include <math.h>
#include <string.h>

#include "common/blob.h"
#include "models/model.h"
#include "sampling_fixture.h"
#include "models/llama.h"
#include "model_fixture.h"
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
	ntg_params_add_number(p, "hidden_dim", 12, &err);
	ntg_params_add_number(p, "n_layers", 2, &err);
	ntg_params_add_number(p, "n_heads", 2, &err);
	ntg_params_add_number(p, "epochs", epochs, &err);
	ntg_params_add_number(p, "batch_size", batch, &err);
	ntg_params_add_number(p, "lr", 0.01, &err);
	ntg_params_add_number(p, "seed", 7, &err);
	/* no regularisation (llama's defaults have both): these tests check exact fits and gradients */
	ntg_params_add_number(p, "dropout", 0.0, &err);
	ntg_params_add_number(p, "token_noise", 0.0, &err);
}

/* Set key to v, over tiny_params()'s value when it has one. */
static void
set_number(NtgParams *p, const char *key, double v)
{
	NtgError	err = {0};

	for (int i = 0; i < p->n; i++)
		if (strcmp(p->items[i].key, key) == 0)
		{
			p->items[i].number = v;
			p->items[i].is_integer = 0;
			return;
		}
	ntg_params_add_number(p, key, v, &err);
}

/* The tiny model, untrained; key (if not NULL) = value is one more hyperparameter. */
static LlamaModel *
make_model_with(const NtgSeqSet *s, int epochs, int batch, const char *key, double value)
{
	NtgParams	p;
	NtgModel *m = NULL;
	NtgTrainPlan topts;
	char	   *json = NULL;
	NtgError	err = {0};

	tiny_params(&p, epochs, batch);
	if (key != NULL)
		set_number(&p, key, value);
	if (ntg_llama_kind.create(&p, s, &m, &topts, &err) != NTG_OK)
		printf("# create: %s\n", err.msg);
	ntg_params_free(&p);
	ntg_free(json);
	return (LlamaModel *) m;
}

static LlamaModel *
make_model(const NtgSeqSet *s, int epochs, int batch)
{
	return make_model_with(s, epochs, batch, NULL, 0.0);
}

/* Train m for epochs epochs on s (batch 2, rng seed 5). */
static LlamaModel *
train_for(LlamaModel *m, const NtgSeqSet *s, int epochs)
{
	NtgRng		rng;
	double		loss;
	NtgError	err = {0};

	ntg_rng_seed(&rng, 5);
	for (int e = 0; m != NULL && e < epochs; e++)
		ntg_llama_kind.train_epoch(&m->base, s, e, &rng, &loss, &err);
	return m;
}

static void
test_create(const NtgSeqSet *s)
{
	NtgParams	p;
	NtgModel *m = NULL;
	NtgTrainPlan topts;
	char	   *json = NULL;
	NtgError	err = {0};
	LlamaModel *lm;
	int64_t		C = 8,
				H = 12,
				V;

	tiny_params(&p, 3, 2);
	ok(ntg_llama_kind.create(&p, s, &m, &topts, &err) == NTG_OK, "create a tiny model");
	ok(ntg_params_check_used(&p, "llama", &err) == NTG_OK, "create reads every given key");
	lm = (LlamaModel *) m;
	is_int(topts.epochs, 3, "epochs reach the train options");
	is_int(topts.seed, 7, "seed reaches the train options");
	is_int(m->n_classes, 2, "two classes");
	ok(strcmp(m->classes[0], "alpha") == 0 && strcmp(m->classes[1], "beta") == 0, "class names");
	is_int(m->max_len, 3, "max_len = longest training row (below the cap)");
	/* values: -200 -5 7 100 300 -> 5, + EOS + PAD + 2 classes (-40 is beyond the row's length) */
	is_int(lm->tok.n_values, 5, "value vocabulary");
	V = 9;
	is_int(lm->cfg.vocab_size, V, "vocabulary size");
	is_int(m->n_params, 2 * V * C + C + 2 * (2 * C + 4 * C * C + 3 * C * H), "parameter count");
	json = ntg_llama_kind.config_json(m);
	ok(json != NULL && strstr(json, "\"dim\": 8") != NULL && strstr(json, "\"vocab_size\": 9"),
	   "config JSON");
	ntg_free(json);
	ntg_llama_kind.destroy(m);
	ntg_params_free(&p);

	/* defaults are Table I's */
	memset(&p, 0, sizeof(p));
	ok(ntg_llama_kind.create(&p, s, &m, &topts, &err) == NTG_OK, "create with defaults");
	lm = (LlamaModel *) m;
	ok(lm->cfg.dim == 160 && lm->cfg.hidden_dim == 320 && lm->cfg.n_layers == 4 &&
	   lm->cfg.n_heads == 8, "defaults: dim 160, hidden 320, 4 layers, 8 heads");
	ntg_llama_kind.destroy(m);

	ntg_params_add_number(&p, "dim", 12, &err);
	ntg_params_add_number(&p, "n_heads", 8, &err);
	ok(ntg_llama_kind.create(&p, s, &m, &topts, &err) == NTG_ERR_INVALID_ARG &&
	   strstr(err.msg, "dim") != NULL, "dim not divisible into heads is refused: %s", err.msg);
	ntg_params_free(&p);
	memset(&p, 0, sizeof(p));
	ntg_params_add_number(&p, "max_len", 0, &err);
	ok(ntg_llama_kind.create(&p, s, &m, &topts, &err) == NTG_ERR_INVALID_ARG,
	   "max_len 0 is refused: %s", err.msg);
	ntg_params_free(&p);
}

/*
 * Loss on a fixed packed batch for the gradient check.  The set has 5 values (tokens 0-4), so
 * <EOS> is 5, <PAD> 6, <CLASS_alpha> 7 and <CLASS_beta> 8; test_create checks that layout.
 */
static const int32_t g_tokens[] = {7, 4, 1, 3, 8, 2, 0};
static const int32_t g_targets[] = {4, 1, 3, 5, 2, 0, 5};
static const int g_len[] = {4, 3};

static double
batch_loss(LlamaModel *m)
{
	double		loss;
	int			count;
	NtgError	err = {0};

	llama_step(m, g_tokens, g_targets, g_len, 2, 0, &loss, &count, &err);
	return loss / count;
}

static void
test_gradient(const NtgSeqSet *s)
{
	LlamaModel *m = make_model(s, 1, 2);
	double		loss,
				worst = 0.0;
	int			count,
				checked = 0;
	NtgError	err = {0};
	float	   *grad;
	NtgRng		pick;

	/* perturb the initial weights so that norms and heads are not at their symmetric start */
	ntg_rng_seed(&pick, 99);
	for (size_t i = 0; i < m->params.count; i++)
		m->params.data[i] += (float) (ntg_rng_normal(&pick) * 0.3);
	nn_params_zero_grad(&m->params);
	ok(llama_step(m, g_tokens, g_targets, g_len, 2, 2, &loss, &count, &err) == NTG_OK,
	   "forward and backward");
	grad = ntg_malloc(m->params.count * sizeof(float));
	memcpy(grad, m->params.grad, m->params.count * sizeof(float));
	/* every parameter of this tiny model (each tensor kind is covered) */
	for (size_t i = 0; i < m->params.count; i++)
	{
		float		keep = m->params.data[i];
		double		lp,
					lm,
					num,
					tol;

		m->params.data[i] = keep + 1e-2f;
		lp = batch_loss(m);
		m->params.data[i] = keep - 1e-2f;
		lm = batch_loss(m);
		m->params.data[i] = keep;
		num = (lp - lm) / 2e-2;
		tol = 1e-3 + 2e-2 * fmax(fabs(num), fabs(grad[i]));
		worst = unit_worst(worst, fabs(num - grad[i]) / tol);
		checked++;
	}
	ok(worst <= 1.0, "whole-model gradient matches finite differences (%d parameters, worst %.3f)",
	   checked, worst);
	{
		int32_t		bad[7];
		double		l;
		int			n;

		memcpy(bad, g_tokens, sizeof(bad));
		bad[4] = m->cfg.vocab_size;
		ok(llama_step(m, bad, g_targets, g_len, 2, 0, &l, &n, &err) == NTG_ERR_INTERNAL,
		   "a token outside the vocabulary is refused, not looked up: %s", err.msg);
	}
	ntg_free(grad);
	ntg_llama_kind.destroy(&m->base);
}

/* Loss of the fixed batch in training mode (dropout on) with the dropout generator reset, so
 * every call draws the same masks. */
static double
dropout_loss(LlamaModel *m, const NtgRng *state)
{
	double		loss;
	int			count;
	NtgError	err = {0};

	m->drop_rng = *state;
	llama_step(m, g_tokens, g_targets, g_len, 2, 2, &loss, &count, &err);
	return loss / count;
}

static void
test_dropout(const NtgSeqSet *s)
{
	LlamaModel *m = make_model(s, 1, 2);
	NtgRng		state;
	float	   *grad;
	double		worst = 0.0,
				plain_loss,
				l1,
				l2;
	int			zeros = 0;
	NtgError	err = {0};

	/* away from the tiny initial weights, where RMSNorm is too curved for a step of 1e-2 */
	ntg_rng_seed(&state, 98);
	for (size_t i = 0; i < m->params.count; i++)
		m->params.data[i] += (float) (ntg_rng_normal(&state) * 0.3);
	m->cfg.dropout = 0.3;
	ntg_rng_seed(&state, 5);
	plain_loss = batch_loss(m);
	l1 = dropout_loss(m, &state);
	grad = ntg_malloc(m->params.count * sizeof(float));
	memcpy(grad, m->params.grad, m->params.count * sizeof(float));
	for (size_t i = 0; i < m->params.count; i++)
	{
		float		keep = m->params.data[i];
		double		lp,
					lm,
					num;

		m->params.data[i] = keep + 1e-2f;
		lp = dropout_loss(m, &state);
		m->params.data[i] = keep - 1e-2f;
		lm = dropout_loss(m, &state);
		m->params.data[i] = keep;
		num = (lp - lm) / 2e-2;
		worst = unit_worst(worst, fabs(num - grad[i]) / (1e-3 + 2e-2 * fmax(fabs(num), fabs(grad[i]))));
	}
	ok(worst <= 1.0, "with dropout 0.3 the gradient matches finite differences (worst %.3f)", worst);
	l2 = dropout_loss(m, &state);
	ok(l1 == l2 && l1 != plain_loss, "dropout masks come from the generator (same state, same loss)");
	ok(batch_loss(m) == plain_loss, "evaluation does not drop");
	for (int i = 0; i < 20; i++)
		zeros += dropout_loss(m, &(NtgRng) {{i + 1, 2, 3, 4}}) == l1;
	ok(zeros < 20, "other generator states give other masks");
	ntg_free(grad);
	ntg_llama_kind.destroy(&m->base);
	(void) err;
}

/* A model like trained()'s with token noise p. */
static LlamaModel *
trained_noisy(const NtgSeqSet *s, int epochs, double p)
{
	return train_for(make_model_with(s, epochs, 2, "token_noise", p), s, epochs);
}

static LlamaModel *trained(const NtgSeqSet *s, int epochs);

/*
 * Token noise blanks history inputs only (never <CLASS_c>), to <PAD>, at the asked rate, from its
 * own generator; a noisy training run is reproducible and ends elsewhere than a clean one.
 */
static void
test_token_noise(const NtgSeqSet *s)
{
	enum
	{
		S = 400, L = 8
	};
	static int32_t tokens[S * L],
				before[S * L],
				again[S * L];
	int			len[S];
	LlamaModel *m = make_model(s, 1, 2);
	int			pad = ntg_tok_pad(&m->tok),
				n = 0,
				history = 0,
				blanked = 0,
				wrong = 0;
	double		p = 0.25,
				sd;
	NtgRng		state;
	LlamaModel *a,
			   *b,
			   *clean;

	for (int i = 0; i < S; i++)
	{
		len[i] = 1 + i % L;
		tokens[n++] = ntg_tok_class(&m->tok, i % 2);
		for (int t = 1; t < len[i]; t++)
			tokens[n++] = (i + t) % m->tok.n_values;
	}
	memcpy(before, tokens, n * sizeof(int32_t));
	m->cfg.token_noise = p;
	ntg_rng_seed(&state, 11);
	m->noise_rng = state;
	llama_blank_inputs(m, tokens, len, S);
	for (int i = 0, off = 0; i < S; off += len[i], i++)
		for (int t = 0; t < len[i]; t++)
		{
			int			changed = tokens[off + t] != before[off + t];

			history += t > 0;
			blanked += changed;
			wrong += changed && (t == 0 || tokens[off + t] != pad);
		}
	sd = sqrt(history * p * (1 - p));
	ok(wrong == 0, "token noise changes only history inputs, and only to <PAD>");
	ok(fabs(blanked - p * history) < 4 * sd, "token noise 0.25 blanks %d of %d history inputs",
	   blanked, history);
	memcpy(again, before, n * sizeof(int32_t));
	m->noise_rng = state;
	llama_blank_inputs(m, again, len, S);
	ok(memcmp(again, tokens, n * sizeof(int32_t)) == 0, "the same noise state blanks the same inputs");
	ntg_llama_kind.destroy(&m->base);

	a = trained_noisy(s, 20, 0.5);
	b = trained_noisy(s, 20, 0.5);
	clean = trained(s, 20);
	ok(a != NULL && b != NULL && a->cfg.token_noise == 0.5 &&
	   memcmp(a->params.data, b->params.data, a->params.count * sizeof(float)) == 0,
	   "training with token noise is reproducible from the seed");
	ok(memcmp(a->params.data, clean->params.data, a->params.count * sizeof(float)) != 0,
	   "and ends with other weights than training without it");
	ntg_llama_kind.destroy(&a->base);
	ntg_llama_kind.destroy(&b->base);
	ntg_llama_kind.destroy(&clean->base);
}

/* Held-out rows with values outside the vocabulary: scored up to the first such value. */
static void
test_eval_scoring(const NtgSeqSet *s)
{
	LlamaModel *m = trained(s, 10);
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgSeqSet	held;
	NtgError	err = {0};
	int32_t		cut[] = {100, 12345, 300},
				unknown_first[] = {12345},
				known[] = {-5, 7};
	double		loss;
	int64_t		scored = -1;

	ntg_seqset_builder_add(b, "alpha", cut, 3, &err);
	ntg_seqset_builder_add(b, "alpha", unknown_first, 1, &err);
	ntg_seqset_builder_add(b, "beta", known, 2, &err);
	ntg_seqset_builder_finish(b, &held, &err);
	ok(ntg_llama_kind.eval_loss(&m->base, &held, &loss, &scored, &err) == NTG_OK && loss > 0,
	   "held-out rows with unknown values are scored, not refused");
	is_int((int) scored, 4, "scored targets: 100 of the cut row, -5 7 <EOS> of the known one");
	ntg_seqset_free(&held);
	ntg_llama_kind.destroy(&m->base);
}

/* A batch larger than one pass (64 rows) accumulates its passes' gradients into the batch mean. */
static void
test_micro_batches(const NtgSeqSet *s)
{
	LlamaModel *m = make_model(s, 1, 150);
	enum
	{
		R = 150
	};
	static int32_t tok[R * 4],
				tgt[R * 4];
	int			len[R],
				off = 0,
				offA = 0,
				cA = 0,
				cB = 0,
				c;
	double		loss,
				worst = 0.0;
	float	   *gA,
			   *gB;
	NtgError	err = {0};
	size_t		P = m->params.count;

	for (int r = 0; r < R; r++)
	{
		int			rl;
		const int32_t *row = ntg_seqset_row(s, r % 6, &rl);

		len[r] = ntg_tok_encode_row(&m->tok, s->row_class[r % 6], row, rl, m->cfg.max_len,
									tok + off, tgt + off);
		off += len[r];
		if (r == 69)
			offA = off;
	}
	gA = ntg_malloc(P * sizeof(float));
	gB = ntg_malloc(P * sizeof(float));
	llama_step(m, tok, tgt, len, 70, 2, &loss, &cA, &err);
	memcpy(gA, m->params.grad, P * sizeof(float));
	llama_step(m, tok + offA, tgt + offA, len + 70, 80, 2, &loss, &cB, &err);
	memcpy(gB, m->params.grad, P * sizeof(float));
	ok(llama_step(m, tok, tgt, len, R, 2, &loss, &c, &err) == NTG_OK && c == cA + cB,
	   "a 150-row batch runs in passes of 64 rows");
	for (size_t i = 0; i < P; i++)
	{
		double		want = ((double) cA * gA[i] + (double) cB * gB[i]) / (cA + cB);

		worst = unit_worst(worst, fabs(m->params.grad[i] - want) / (1e-6 + fabs(want)));
	}
	ok(worst < 1e-3, "its gradient is the mean over the whole batch (worst relative error %.2g)",
	   worst);
	ntg_free(gA);
	ntg_free(gB);
	ntg_llama_kind.destroy(&m->base);
}

static void
test_overfit(const NtgSeqSet *s)
{
	LlamaModel *m = make_model(s, 300, 6);
	NtgRng		rng;
	double		loss = 0.0,
				first = 0.0;
	NtgError	err = {0};
	int			rc = NTG_OK;

	ntg_rng_seed(&rng, 1);
	for (int e = 0; e < 300 && rc == NTG_OK; e++)
	{
		rc = ntg_llama_kind.train_epoch(&m->base, s, e, &rng, &loss, &err);
		if (e == 0)
			first = loss;
	}
	ok(rc == NTG_OK, "300 epochs train");
	is_int(m->base.epochs_done, 300, "epochs_done counts");
	ok(loss < first / 2, "loss falls (%.3f -> %.3f)", first, loss);
	{
		double		ev = -1.0;
		int			rc_ev = llama_eval_loss(&m->base, s, &ev, NULL, &err);

		ok(rc_ev == NTG_OK && fabs(ev - loss) < 0.02,
		   "evaluation loss agrees with the last epoch's (%.4f vs %.4f)", ev, loss);
	}
	{
		/*
		 * Rows of a class share prefixes, so the loss cannot reach 0: its floor is the entropy
		 * of the branches. alpha (17 targets in all with beta): after 100 -200, 300 (2/3) or
		 * <EOS> (1/3), seen 3 times; beta: first -5 (2/3) or <EOS> (1/3), 3 times, then 7 or
		 * <EOS> (1/2 each), twice.
		 */
		double		h23 = -(2.0 / 3) * log(2.0 / 3) - (1.0 / 3) * log(1.0 / 3);
		double		floor = (6 * h23 + 2 * log(2.0)) / 17.0;

		ok(loss < floor + 0.02 && loss > floor - 1e-3,
		   "overfits to the data's entropy floor (%.4f, floor %.4f)", loss, floor);
	}
	ntg_llama_kind.destroy(&m->base);
}

static LlamaModel *
trained(const NtgSeqSet *s, int epochs)
{
	return train_for(make_model(s, epochs, 2), s, epochs);
}

static void
sample_rows(LlamaModel *m, int cls, int n, uint64_t seed, int32_t *out, int *len,
			const NtgSampleOptions *o)
{
	NtgRng		rng;
	NtgError	err = {0};

	ntg_rng_seed(&rng, seed);
	if (o == NULL)
		o = &m->base.sampling;	/* the model's defaults: plain sampling */
	if (ntg_llama_kind.sample(&m->base, cls, n, o, &rng, out, len, &err) != NTG_OK)
		printf("# sample: %s\n", err.msg);
}

static const NtgTokenSampling plain = {1.0, 0, 1.0, 0};

static void
test_determinism(const NtgSeqSet *s)
{
	LlamaModel *a = trained(s, 20),
			   *b = trained(s, 20);
	int32_t		oa[50 * 3],
				ob[50 * 3];
	int			la[50],
				lb[50];

	ok(a->params.count == b->params.count &&
	   memcmp(a->params.data, b->params.data, a->params.count * sizeof(float)) == 0,
	   "same seed, same data: bit-identical weights");
	sample_rows(a, 0, 50, 3, oa, la, NULL);
	sample_rows(b, 0, 50, 3, ob, lb, NULL);
	ok(memcmp(oa, ob, sizeof(oa)) == 0 && memcmp(la, lb, sizeof(la)) == 0,
	   "same seed: identical sampled rows");
	sample_rows(b, 0, 50, 4, ob, lb, NULL);
	ok(memcmp(oa, ob, sizeof(oa)) != 0 || memcmp(la, lb, sizeof(la)) != 0,
	   "another seed: other rows");
	ntg_llama_kind.destroy(&b->base);
	{
		NtgParams	p;
		NtgModel *c = NULL;
		NtgTrainPlan topts;
		char	   *json = NULL;
		NtgError	err = {0};

		tiny_params(&p, 20, 2);
		p.items[7].number = 8;	/* seed */
		ntg_llama_kind.create(&p, s, &c, &topts, &err);
		ok(memcmp(a->params.data, ((LlamaModel *) c)->params.data,
				  a->params.count * sizeof(float)) != 0, "another seed: other initial weights");
		ntg_llama_kind.destroy(c);
		ntg_free(json);
		ntg_params_free(&p);
	}
	ntg_llama_kind.destroy(&a->base);
}

static void
test_sampling_rules(const NtgSeqSet *s)
{
	LlamaModel *m = trained(s, 150);
	enum
	{
		NS = 400
	};
	static int32_t out[NS * 3],
				out1[NS * 3];
	int			len[NS],
				len1[NS];
	int			bad = 0,
				empty = 0;
	NtgSampleOptions hot = token_opts(5.0, 0, 1.0, 0),
				greedy = token_opts(1.0, 1, 1.0, 0),
				nucleus = token_opts(1.0, 0, 0.5, 0),
				plain_opts = token_opts(1.0, 0, 1.0, 0);
	NtgError	err = {0};
	NtgRng		rng;

	for (int cls = 0; cls < 2; cls++)
	{
		sample_rows(m, cls, NS, 11, out, len, &hot);
		for (int r = 0; r < NS; r++)
		{
			if (len[r] < 0 || len[r] > m->base.max_len)
				bad++;
			empty += len[r] == 0;
			for (int j = 0; j < len[r]; j++)
				if (ntg_tok_value_token(&m->tok, out[r * 3 + j]) < 0)
					bad++;
		}
	}
	ok(bad == 0, "hot sampling emits only vocabulary values, at most max_len of them");
	ok(empty > 0, "<EOS> can end a row at once (empty rows occur in training)");

	sample_rows(m, 0, 20, 1, out, len, &greedy);
	sample_rows(m, 0, 20, 2, out1, len1, &greedy);
	ok(memcmp(out, out1, 20 * 3 * sizeof(int32_t)) == 0 && memcmp(len, len1, 20 * sizeof(int)) == 0,
	   "top_k 1 is greedy: the seed does not matter");
	ok(len[0] >= 2 && out[0] == 100 && out[1] == -200, "greedy row of class alpha starts 100, -200");
	{
		NtgSampleOptions cold = token_opts(1e-30, 0, 1.0, 0);

		sample_rows(m, 0, 20, 5, out1, len1, &cold);
		ok(memcmp(out, out1, 20 * 3 * sizeof(int32_t)) == 0 && memcmp(len, len1, 20 * sizeof(int)) == 0,
		   "temperature 1e-30 is greedy too (no overflow)");
	}
	sample_rows(m, 1, 50, 1, out, len, &nucleus);
	bad = 0;
	for (int r = 0; r < 50; r++)
		bad += len[r] > 0 && out[r * 3] != -5;
	ok(bad == 0, "top_p 0.5 keeps only the most likely first value of class beta");

	/* one at a time and batched both follow the rules and are reproducible */
	ntg_rng_seed(&rng, 9);
	ok(llama_sample_batched(m, 1, NS, 1, &plain, &rng, out, len, &err) == NTG_OK,
	   "one at a time");
	ntg_rng_seed(&rng, 9);
	llama_sample_batched(m, 1, NS, 1, &plain, &rng, out1, len1, &err);
	ok(memcmp(out, out1, sizeof(out)) == 0, "one at a time is reproducible");
	bad = 0;
	for (int r = 0; r < NS; r++)
		for (int j = 0; j < len[r]; j++)
			bad += out[r * 3 + j] != -5 && out[r * 3 + j] != 7;
	ok(bad < NS / 20, "class beta generates beta's values (%d stray of %d rows)", bad, NS);

	ntg_rng_seed(&rng, 9);
	ok(ntg_llama_kind.sample(&m->base, 2, 1, &plain_opts, &rng, out, len, &err) == NTG_ERR_INVALID_ARG,
	   "unknown class index is refused");
	{
		NtgSampleOptions badt = token_opts(0.0, 0, 1.0, 0);

		ok(ntg_llama_kind.sample(&m->base, 0, 1, &badt, &rng, out, len, &err) == NTG_ERR_INVALID_ARG,
		   "temperature 0 is refused");
	}
	ntg_llama_kind.destroy(&m->base);
}

/*
 * The sampler draws from the model's own distribution: compare empirical frequencies of the
 * first token and of the second token after the most frequent first one with the forward pass's
 * probabilities, one row at a time and batched (the batched sampler shares computation between
 * rows with the same history, which must not change the distribution).  Bounds: 5 standard
 * errors + 0.003.
 */
static int
freq_matches(const LlamaModel *m, const float *p, const int *hits, int n)
{
	int			K = m->tok.n_values + 1;

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
 * Second tokens of the rows (n rows of out, max_len 3) that start with the likeliest first token
 * (by hits1) against the model's distribution after it: returns the number of such rows when
 * their frequencies match, 0 when they do not.
 */
static int
second_tokens_match(LlamaModel *m, const int32_t *out, const int *len, int n, const int *hits1)
{
	int			K = m->tok.n_values + 1;
	int			eos = ntg_tok_eos(&m->tok);
	int			hits2[16] = {0},
				n2 = 0,
				best = 0;
	float		p2[16];
	int32_t		hist[2] = {ntg_tok_class(&m->tok, 0), 0};
	NtgError	err = {0};

	for (int i = 1; i < K - 1; i++)
		if (hits1[i] > hits1[best] || best == eos)
			best = i;
	hist[1] = best;
	llama_next_probs(m, hist, 2, p2, &err);
	for (int r = 0; r < n; r++)
		if (len[r] >= 1 && ntg_tok_value_token(&m->tok, out[r * 3]) == best)
		{
			hits2[len[r] == 1 ? eos : ntg_tok_value_token(&m->tok, out[r * 3 + 1])]++;
			n2++;
		}
	return freq_matches(m, p2, hits2, n2) ? n2 : 0;
}

static void
test_distribution(const NtgSeqSet *s)
{
	LlamaModel *m = trained(s, 8);
	enum
	{
		NS = 20000
	};
	static int32_t out[NS * 3];
	static int	len[NS];
	int			eos = ntg_tok_eos(&m->tok);
	NtgError	err = {0};
	NtgRng		rng;

	for (int mode = 0; mode < 2; mode++)
	{
		int			batch = mode == 0 ? 1 : 4096;
		int			hits1[16] = {0},
					n2;
		float		p1[16];
		int32_t		hist[1];

		ntg_rng_seed(&rng, 100 + mode);
		llama_sample_batched(m, 0, NS, batch, &plain, &rng, out, len, &err);
		hist[0] = ntg_tok_class(&m->tok, 0);
		llama_next_probs(m, hist, 1, p1, &err);
		for (int r = 0; r < NS; r++)
			hits1[len[r] == 0 ? eos : ntg_tok_value_token(&m->tok, out[r * 3])]++;
		ok(freq_matches(m, p1, hits1, NS), "first tokens follow the model (batch %d)", batch);
		n2 = second_tokens_match(m, out, len, NS, hits1);
		ok(n2 > 1000, "second tokens after the likeliest first follow the model (batch %d, %d rows)",
		   batch, n2);
	}
	ntg_llama_kind.destroy(&m->base);
}

/*
 * Stratified draws: each row still follows the model (first and second token frequencies over
 * many batches, as above), but within one batch of B rows a first token of probability q goes to
 * floor(B q) or ceil(B q) rows (independent draws miss that by several rows), the rows of a batch
 * come in a random order (not sorted by token), and a seed reproduces the rows.
 */
static void
test_stratified(const NtgSeqSet *s)
{
	LlamaModel *m = trained(s, 8);
	enum
	{
		B = 64, NB = 300, NS = B * NB
	};
	static int32_t out[NS * 3],
				again[NS * 3];
	static int	len[NS],
				len2[NS];
	int			K = m->tok.n_values + 1;
	int			eos = ntg_tok_eos(&m->tok);
	const NtgTokenSampling strat = {1.0, 0, 1.0, 1};
	int			hits1[16] = {0},
				n2,
				balanced = 1,
				sorted_batches = 0,
				indep_off = 0;
	float		p1[16];
	int32_t		hist[1];
	NtgError	err = {0};
	NtgRng		rng;

	hist[0] = ntg_tok_class(&m->tok, 0);
	llama_next_probs(m, hist, 1, p1, &err);
	ntg_rng_seed(&rng, 300);
	ok(llama_sample_batched(m, 0, NS, B, &strat, &rng, out, len, &err) == NTG_OK,
	   "stratified sampling runs");
	for (int b = 0; b < NB; b++)
	{
		int			cnt[16] = {0},
					sorted = 1,
					prev = -1;

		for (int r = b * B; r < (b + 1) * B; r++)
		{
			int			t = len[r] == 0 ? eos : ntg_tok_value_token(&m->tok, out[r * 3]);

			cnt[t]++;
			hits1[t]++;
			if (t < prev)
				sorted = 0;
			prev = t;
		}
		for (int i = 0; i < K; i++)
			if (fabs(cnt[i] - B * (double) p1[i]) >= 1.0 + 1e-3)
			{
				if (balanced)
					printf("# batch %d, token %d: %d rows, expected %.3f\n", b, i, cnt[i], B * p1[i]);
				balanced = 0;
			}
		sorted_batches += sorted;
	}
	ok(balanced, "in every batch of %d rows, each first token goes to floor or ceil of B q rows", B);
	ok(sorted_batches < NB / 10, "rows of a batch come in random order (%d of %d batches sorted)",
	   sorted_batches, NB);
	ok(freq_matches(m, p1, hits1, NS), "stratified first tokens follow the model");
	n2 = second_tokens_match(m, out, len, NS, hits1);
	ok(n2 > 1000, "stratified second tokens after the likeliest first follow the model (%d rows)", n2);
	ntg_rng_seed(&rng, 300);
	llama_sample_batched(m, 0, NS, B, &strat, &rng, again, len2, &err);
	ok(memcmp(out, again, sizeof(out)) == 0 && memcmp(len, len2, sizeof(len)) == 0,
	   "the same seed gives the same stratified rows");

	/* the check above would catch independent draws: they are off by a row or more somewhere */
	ntg_rng_seed(&rng, 300);
	llama_sample_batched(m, 0, NS, B, &plain, &rng, again, len2, &err);
	for (int b = 0; b < NB && !indep_off; b++)
	{
		int			cnt[16] = {0};

		for (int r = b * B; r < (b + 1) * B; r++)
			cnt[len2[r] == 0 ? eos : ntg_tok_value_token(&m->tok, again[r * 3])]++;
		for (int i = 0; i < K; i++)
			if (fabs(cnt[i] - B * (double) p1[i]) >= 1.0 + 1e-3)
				indep_off = 1;
	}
	ok(indep_off, "independent draws are not balanced per batch (the check discriminates)");
	ntg_llama_kind.destroy(&m->base);
}

static void
test_save_load(const NtgSeqSet *s)
{
	LlamaModel *m = trained(s, 10);
	NtgModel *back = NULL;
	uint8_t    *buf = NULL;
	size_t		len = 0;
	NtgError	err = {0};
	int32_t		oa[40 * 3],
				ob[40 * 3];
	int			la[40],
				lb[40];
	int			refused = 0,
				total = 0;
	NtgRng		rng;

	ok(ntg_model_save(&m->base, &buf, &len, &err) == NTG_OK, "save");
	if (!ok(ntg_model_from_bytes(buf, len, &back, &err) == NTG_OK, "load through the registry"))
	{
		printf("# %s\n", err.msg);
		return;
	}
	ok(back != NULL && back->kind == &ntg_llama_kind && back->n_classes == 2 &&
	   strcmp(back->classes[1], "beta") == 0 && back->max_len == 3 &&
	   back->epochs_done == 10 && back->n_params == m->base.n_params, "loaded header fields");
	ok(memcmp(((LlamaModel *) back)->params.data, m->params.data,
			  m->params.count * sizeof(float)) == 0, "loaded weights are identical");
	sample_rows(m, 0, 40, 21, oa, la, NULL);
	sample_rows((LlamaModel *) back, 0, 40, 21, ob, lb, NULL);
	ok(memcmp(oa, ob, sizeof(oa)) == 0 && memcmp(la, lb, sizeof(la)) == 0,
	   "save -> load gives identical samples");
	{
		double		loss;

		ntg_rng_seed(&rng, 2);
		ok(ntg_llama_kind.train_epoch(back, s, 0, &rng, &loss, &err) == NTG_OK && loss > 0,
		   "a loaded model can be trained further");
	}
	ntg_llama_kind.destroy(back);

	/* every truncation is refused cleanly */
	for (size_t cut = 0; cut < len; cut++)
	{
		total++;
		if (ntg_model_from_bytes(buf, cut, &back, &err) == NTG_ERR_CORRUPT && back == NULL)
			refused++;
		else if (back != NULL)
			ntg_llama_kind.destroy(back);
	}
	is_int(refused, total, "every truncation is refused as corrupt");

	/* random bit flips are refused (checksum) */
	refused = total = 0;
	ntg_rng_seed(&rng, 77);
	for (int i = 0; i < 3000; i++)
	{
		size_t		at = ntg_rng_below(&rng, len);
		uint8_t		bit = (uint8_t) (1u << ntg_rng_below(&rng, 8));

		buf[at] ^= bit;
		total++;
		if (ntg_model_from_bytes(buf, len, &back, &err) == NTG_ERR_CORRUPT && back == NULL)
			refused++;
		else if (back != NULL)
			ntg_llama_kind.destroy(back);
		buf[at] ^= bit;
	}
	is_int(refused, total, "3000 random bit flips are all refused");
	ok(ntg_model_from_bytes(buf, len, &back, &err) == NTG_OK, "the original still loads");
	ntg_llama_kind.destroy(back);
	ntg_free(buf);
	ntg_llama_kind.destroy(&m->base);
}

/*
 * A blob with a valid checksum but inconsistent content: rebuild the container from the saved
 * one's tensors, replacing or dropping one tensor, and serialize (which computes a fresh CRC).
 */
typedef struct Tamper
{
	const char *name;			/* tensor to replace, or drop when data is NULL */
	NtgDtype	dtype;
	int			ndim;
	uint32_t	dims[2];
	const void *data;
	const char *kind;
} Tamper;

static int
load_tampered(const uint8_t *buf, size_t len, const Tamper *t, NtgError *err)
{
	NtgBlob		in,
				out;
	uint8_t    *nb = NULL;
	size_t		nlen;
	NtgModel *m = NULL;
	int			rc;
	int			replaced = 0;

	ntg_blob_parse(buf, len, &in, err);
	ntg_blob_init(&out, t->kind ? t->kind : in.kind, in.config);
	for (int i = 0; i < in.n_tensors; i++)
	{
		const NtgBlobTensor *x = &in.tensors[i];

		if (t->name != NULL && strcmp(x->name, t->name) == 0)
		{
			replaced = 1;
			if (t->data != NULL)
				ntg_blob_add(&out, x->name, t->dtype, t->ndim, t->dims, t->data, err);
			continue;
		}
		ntg_blob_add(&out, x->name, x->dtype, x->ndim, x->dims, x->data, err);
	}
	if (t->name != NULL && !replaced && t->data != NULL)
		ntg_blob_add(&out, t->name, t->dtype, t->ndim, t->dims, t->data, err);
	ntg_blob_serialize(&out, &nb, &nlen, err);
	rc = ntg_model_from_bytes(nb, nlen, &m, err);
	if (m != NULL)
		ntg_model_destroy(m);
	ntg_free(nb);
	ntg_blob_free(&out);
	ntg_blob_free(&in);
	return rc;
}

/* Load saved bytes rewritten as another llama format (model_fixture.h); *out NULL on failure. */
static int
load_as_format(const uint8_t *buf, size_t len, int version, int hparams_n, NtgModel **out,
			   NtgError *err)
{
	uint8_t    *nb = NULL;
	size_t		nlen;
	int			rc;

	*out = NULL;
	if ((rc = fixture_llama_as_format(buf, len, version, hparams_n, &nb, &nlen, err)) == NTG_OK)
		rc = ntg_model_from_bytes(nb, nlen, out, err);
	ntg_free(nb);
	return rc;
}

/* Format 2 stores token_noise, format 3 half_weights; older values still load (as trained). */
static void
test_format_versions(const NtgSeqSet *s)
{
	LlamaModel *m = trained_noisy(s, 2, 0.3);
	NtgModel *back = NULL;
	uint8_t    *buf = NULL;
	size_t		len = 0;
	NtgError	err = {0};

	ntg_model_save(&m->base, &buf, &len, &err);
	ok(ntg_model_from_bytes(buf, len, &back, &err) == NTG_OK &&
	   ((LlamaModel *) back)->cfg.token_noise == 0.3, "token_noise survives save -> load");
	if (back != NULL)
		ntg_llama_kind.destroy(back);
	ok(ntg_model_from_bytes(buf, len, &back, &err) == NTG_OK && ((LlamaModel *) back)->cfg.half_weights,
	   "half_weights survives save -> load (format 3)");
	if (back != NULL)
		ntg_llama_kind.destroy(back);
	ok(load_as_format(buf, len, 2, 10, &back, &err) == NTG_OK &&
	   ((LlamaModel *) back)->cfg.token_noise == 0.3 && !((LlamaModel *) back)->cfg.half_weights,
	   "a format-2 value (10 hyperparameters) loads, with half_weights false");
	if (back != NULL)
		ntg_llama_kind.destroy(back);
	ok(load_as_format(buf, len, 1, 9, &back, &err) == NTG_OK &&
	   ((LlamaModel *) back)->cfg.token_noise == 0.0 && ((LlamaModel *) back)->cfg.dropout == 0.0 &&
	   memcmp(((LlamaModel *) back)->params.data, m->params.data,
			  m->params.count * sizeof(float)) == 0,
	   "a format-1 value (9 hyperparameters) loads, with token_noise 0");
	if (back != NULL)
		ntg_llama_kind.destroy(back);
	ok(load_as_format(buf, len, 1, 10, &back, &err) == NTG_ERR_CORRUPT && back == NULL,
	   "format 1 with 10 hyperparameters is corrupt: %s", err.msg);
	ok(load_as_format(buf, len, 2, 9, &back, &err) == NTG_ERR_CORRUPT && back == NULL,
	   "format 2 with 9 hyperparameters is corrupt: %s", err.msg);
	ok(load_as_format(buf, len, 3, 10, &back, &err) == NTG_ERR_CORRUPT && back == NULL,
	   "format 3 with 10 hyperparameters is corrupt: %s", err.msg);
	ok(load_as_format(buf, len, 4, 11, &back, &err) == NTG_ERR_CORRUPT && back == NULL,
	   "format 4 is refused: %s", err.msg);
	ntg_free(buf);
	ntg_llama_kind.destroy(&m->base);
}

static void
test_inconsistent(const NtgSeqSet *s)
{
	LlamaModel *m = trained(s, 1);
	uint8_t    *buf = NULL;
	size_t		len = 0;
	NtgError	err = {0};
	int32_t		conf[17];
	Tamper		t;
	float		nanw[12 * 8];
	int32_t		unsorted[6] = {-200, -40, -5, 7, 7, 300};
	const char	names2[] = "alpha\0alpha";
	const char	names1[] = "alpha";
	const char	badutf[] = "alpha\0b\xff";
	float		extra[1] = {0};

	ntg_model_save(&m->base, &buf, &len, &err);
	{
		NtgBlob		b;

		ntg_blob_parse(buf, len, &b, &err);
		ntg_blob_read_tensor(&b, "llama.config", NTG_DTYPE_I32, 17, conf, &err);
		ntg_blob_free(&b);
	}
	memset(&t, 0, sizeof(t));
	ok(load_tampered(buf, len, &t, &err) == NTG_OK, "an unchanged rebuild loads");

#define TRY(desc) ok(load_tampered(buf, len, &t, &err) == NTG_ERR_CORRUPT, desc ": %s", err.msg)
	{
		int32_t		c2[17];

		t.name = "llama.config", t.dtype = NTG_DTYPE_I32, t.ndim = 1, t.dims[0] = 17, t.data = c2;
		memcpy(c2, conf, sizeof(c2));
		c2[1] = 16;				/* dim */
		TRY("dim that does not match the weights");
		memcpy(c2, conf, sizeof(c2));
		c2[2] = 1 << 30;		/* hidden_dim */
		TRY("hidden_dim beyond the limit");
		memcpy(c2, conf, sizeof(c2));
		c2[4] = 3;				/* heads do not divide dim */
		TRY("heads that do not divide dim");
		memcpy(c2, conf, sizeof(c2));
		c2[6] = 11;				/* vocab_size != n_values + 2 + n_classes */
		TRY("inconsistent vocabulary size");
		memcpy(c2, conf, sizeof(c2));
		c2[8] = 3;				/* n_classes */
		c2[6] = 11;
		TRY("class count that does not match the names and the embedding");
		memcpy(c2, conf, sizeof(c2));
		c2[0] = 4;
		TRY("unknown format version");
		memcpy(c2, conf, sizeof(c2));
		c2[5] = 0;
		TRY("max_len 0");
		t.dims[0] = 16;
		TRY("config of the wrong length");
	}
	{
		double		hp[11],
					hp0[11];
		NtgBlob		b;

		ntg_blob_parse(buf, len, &b, &err);
		ok(ntg_blob_read_tensor(&b, "llama.hparams", NTG_DTYPE_F64, 11, hp0, &err) == NTG_OK,
		   "format 3 stores 11 hyperparameters");
		ntg_blob_free(&b);
		memcpy(hp, hp0, sizeof(hp));
		t.name = "llama.hparams", t.dtype = NTG_DTYPE_F64, t.ndim = 1, t.dims[0] = 11, t.data = hp;
		ok(load_tampered(buf, len, &t, &err) == NTG_OK, "the hyperparameters rewritten unchanged load");
		hp[9] = 0.95;
		TRY("token_noise beyond 0.9");
		hp[9] = NAN;
		TRY("token_noise not a number");
		memcpy(hp, hp0, sizeof(hp));
		hp[10] = 0.5;
		TRY("half_weights neither 0 nor 1");
	}
	memset(&t, 0, sizeof(t));
	t.name = "vocab", t.dtype = NTG_DTYPE_I32, t.ndim = 1, t.dims[0] = 6, t.data = unsorted;
	TRY("vocabulary with a duplicate");
	t.dims[0] = 5;
	TRY("vocabulary shorter than the config");
	t.name = "classes", t.dtype = NTG_DTYPE_U8, t.dims[0] = sizeof(names2), t.data = names2;
	TRY("duplicate class names");
	t.dims[0] = sizeof(names1), t.data = names1;
	TRY("too few class names");
	t.dims[0] = sizeof(badutf), t.data = badutf;
	TRY("class name that is not UTF-8");
	t.dims[0] = sizeof(names2) - 1;
	t.data = "alpha\0betaX";
	TRY("class names not NUL-terminated");
	for (int i = 0; i < 12 * 8; i++)
		nanw[i] = 0.1f;
	nanw[5] = NAN;
	t.name = "layers.1.feed_forward.w1", t.dtype = NTG_DTYPE_F32, t.ndim = 2;
	t.dims[0] = 12, t.dims[1] = 8, t.data = nanw;
	TRY("a NaN weight");
	t.dims[0] = 8, t.dims[1] = 12;
	nanw[5] = 0.0f;
	TRY("a weight of the wrong shape");
	t.ndim = 1, t.dims[0] = 96;
	TRY("a weight of the wrong rank");
	t.dtype = NTG_DTYPE_I32, t.ndim = 2, t.dims[0] = 12, t.dims[1] = 8;
	TRY("a weight of the wrong type");
	t.data = NULL;
	TRY("a missing weight");
	t.name = "layers.9.extra", t.dtype = NTG_DTYPE_F32, t.ndim = 1, t.dims[0] = 1, t.data = extra;
	TRY("an extra tensor");
	memset(&t, 0, sizeof(t));
	t.kind = "mamba";
	TRY("an unknown kind");
#undef TRY
	ntg_free(buf);
	ntg_llama_kind.destroy(&m->base);
}

/* Only empty rows: no value tokens at all; the model still trains, samples (empty rows) and
 * survives save/load. */
static void
test_empty_rows(void)
{
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgSeqSet	s;
	NtgError	err = {0};
	LlamaModel *m;
	NtgModel *back = NULL;
	NtgRng		rng;
	double		loss;
	int32_t		out[4];
	int			len[4] = {9, 9, 9, 9};
	uint8_t    *buf;
	size_t		n;

	ntg_seqset_builder_add(b, "x", NULL, 0, &err);
	ntg_seqset_builder_add(b, "y", NULL, 0, &err);
	ntg_seqset_builder_finish(b, &s, &err);
	m = make_model(&s, 1, 2);
	ok(m != NULL && m->tok.n_values == 0 && m->base.max_len == 1, "a set of empty rows gives an empty vocabulary");
	ntg_rng_seed(&rng, 1);
	ok(ntg_llama_kind.train_epoch(&m->base, &s, 0, &rng, &loss, &err) == NTG_OK, "and trains");
	ok(ntg_llama_kind.sample(&m->base, 1, 4, &(NtgSampleOptions) {NTG_TOKEN_N_OPTIONS, {1.0, 0, 1.0, 0}}, &rng, out, len, &err) == NTG_OK &&
	   len[0] == 0 && len[3] == 0, "and samples empty rows");
	ok(ntg_model_save(&m->base, &buf, &n, &err) == NTG_OK &&
	   ntg_model_from_bytes(buf, n, &back, &err) == NTG_OK && back->n_classes == 2,
	   "and survives save/load");
	if (back != NULL)
		ntg_llama_kind.destroy(back);
	ntg_free(buf);
	ntg_llama_kind.destroy(&m->base);
	ntg_seqset_free(&s);
}

static void
test_tokenizer(const NtgSeqSet *s)
{
	NtgTokenizer t;
	NtgError	err = {0};
	int32_t		in[8],
				tg[8];
	int32_t		row[] = {300, -5, 100, 7};
	int32_t		bad[] = {3, 2};
	int32_t		ok_vals[] = {-7, 2, 9};

	ok(ntg_tok_build(&t, s, 2, &err) == NTG_OK, "build a vocabulary of the first 2 values");
	/* first two values of the rows: 100 -200, 100 -200, 100 -200, -5 7, -5 -> 4 values */
	ok(t.n_values == 4 && t.values[0] == -200 && t.values[1] == -5 && t.values[2] == 7 &&
	   t.values[3] == 100, "sorted distinct values, 300 beyond the cap left out");
	ok(ntg_tok_eos(&t) == 4 && ntg_tok_pad(&t) == 5 && ntg_tok_class(&t, 1) == 7 &&
	   ntg_tok_vocab_size(&t) == 8, "EOS, PAD, class ids follow the values");
	is_int(ntg_tok_value_token(&t, 7), 2, "value lookup");
	is_int(ntg_tok_value_token(&t, 8), -1, "a value outside the vocabulary");
	is_int(ntg_tok_encode_row(&t, 1, row + 1, 2, 2, in, tg), 3, "a row of N values gets <EOS>");
	ok(in[0] == 7 && in[1] == 1 && in[2] == 3 && tg[0] == 1 && tg[1] == 3 && tg[2] == 4,
	   "inputs <CLASS> v1 v2, targets v1 v2 <EOS>");
	is_int(ntg_tok_encode_row(&t, 0, row + 1, 3, 2, in, tg), 2, "a longer row is cut to N, without <EOS>");
	ok(in[0] == 6 && in[1] == 1 && tg[0] == 1 && tg[1] == 3, "cut row: inputs <CLASS> v1, targets v1 v2");
	is_int(ntg_tok_encode_row(&t, 0, NULL, 0, 2, in, tg), 1, "an empty row is <CLASS> -> <EOS>");
	is_int(ntg_tok_encode_row(&t, 0, row, 2, 2, in, tg), -1, "a value outside the vocabulary is refused");
	ntg_tok_free(&t);
	ok(ntg_tok_from_values(&t, bad, 2, 1, &err) == NTG_ERR_CORRUPT, "a descending stored vocabulary is corrupt");
	ok(ntg_tok_from_values(&t, ok_vals, 3, 0, &err) == NTG_ERR_CORRUPT, "zero classes is corrupt");
	ok(ntg_tok_from_values(&t, ok_vals, 3, 2, &err) == NTG_OK && t.n_values == 3, "a valid stored vocabulary");
	ntg_tok_free(&t);
}

static void
test_registry(void)
{
	ok(ntg_model_kind_find("llama") == &ntg_llama_kind, "registry finds llama");
	ok(ntg_model_kind_find("nope") == NULL && ntg_model_kind_find(NULL) == NULL, "unknown kinds");
	ok(strstr(ntg_model_kind_names(0), "llama") != NULL, "kind names list llama");
}

/*
 * One-row calls reuse the histories kept from earlier calls (llama_nodes.c): the rows must be
 * exactly those of calls that decode everything again, and the store must actually be used.
 */
static void
test_kept_histories(const NtgSeqSet *s)
{
	LlamaModel *m = trained(s, 20);
	NtgTokenSampling o = {1.3, 0, 1.0, 0};
	int32_t		a[200][3],
				b[200][3];
	int			la[200],
				lb[200];
	NtgRng		rng;
	NtgError	err = {0};
	int			kept;

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	for (int r = 0; r < 200; r++)
	{
		ntg_rng_seed(&rng, 1000 + r);
		llama_sample_batched(m, r % 2, 1, 1, &o, &rng, a[r], &la[r], &err);
	}
	kept = llama_node_count(m);
	ok(kept > 0, "one-row calls keep the histories they decode (%d kept)", kept);
	for (int r = 0; r < 200; r++)
	{
		llama_node_forget(m);
		ntg_rng_seed(&rng, 1000 + r);
		llama_sample_batched(m, r % 2, 1, 1, &o, &rng, b[r], &lb[r], &err);
	}
	ok(memcmp(a, b, sizeof(a)) == 0 && memcmp(la, lb, sizeof(la)) == 0,
	   "rows drawn with kept histories equal rows decoded from scratch, bit for bit");
	ntg_llama_kind.train_epoch(&m->base, s, 20, &rng, &(double) {0}, &err);
	ok(llama_node_count(m) == 0, "training forgets the kept histories");
	ntg_llama_kind.destroy(&m->base);
}

/* The sampler's next-token probabilities after <CLASS_cls> and a few random histories, into
 * probs[trial][0 .. n_values]; and, when fwd is not NULL, the forward pass's after the same
 * histories into fwd[trial]. */
static void
sampler_probs(LlamaModel *m, uint64_t seed, float probs[][64], float fwd[][64], int trials)
{
	NtgRng		rng;
	NtgError	err = {0};

	ntg_rng_seed(&rng, seed);
	for (int t = 0; t < trials; t++)
	{
		int32_t		hist[LLAMA_MAX_LEN + 1];
		int			len = t % m->cfg.max_len;

		hist[0] = ntg_tok_class(&m->tok, t % 2);
		for (int i = 1; i <= len; i++)
			hist[i] = (int32_t) ntg_rng_below(&rng, (uint64_t) m->tok.n_values);
		if (llama_sampler_probs(m, t % 2, hist + 1, len, probs[t], &err) != NTG_OK ||
			(fwd != NULL && llama_next_probs(m, hist, len + 1, fwd[t], &err) != NTG_OK))
			printf("# %s\n", err.msg);
	}
}

static int
config_says(LlamaModel *m, const char *what)
{
	char	   *json = ntg_llama_kind.config_json(&m->base);
	int			found = strstr(json, what) != NULL;

	ntg_free(json);
	return found;
}

/*
 * half_weights (the default): the end of training rounds the multiplied matrices to float16
 * values, one-row sampling then reads a float16 copy of them and draws exactly what the float32
 * weights draw; training further drops the copy; half_weights false keeps float32 weights.
 */
static void
test_half_weights(const NtgSeqSet *s)
{
	enum
	{
		ROWS = 24, TRIALS = 12
	};
	LlamaModel *m = trained(s, 10);
	NtgError	err = {0};
	int32_t		ra[ROWS * LLAMA_MAX_LEN],
				rb[ROWS * LLAMA_MAX_LEN];
	int			la[ROWS],
				lb[ROWS];
	static float pa[TRIALS][64],
				pb[TRIALS][64];
	double		worst = 0.0;

	ok(!nn_params_are_half(&m->params) && config_says(m, "\"half_weights\": true"),
	   "weights are float32 values while training (half_weights true, the default)");
	ok(ntg_llama_kind.finish_training(&m->base, &err) == NTG_OK && nn_params_are_half(&m->params),
	   "the end of training rounds them to float16 values");

	/* the copy comes after a number of one-node steps (histories decoded alone, not kept) */
	for (int i = 0; i < 200 && m->params.half == NULL; i++)
		sampler_probs(m, 50 + i, pa, NULL, TRIALS);
	ok(m->params.half != NULL && m->one_row_steps > 1 && m->one_row_steps < 1000,
	   "one-node decode steps build a float16 copy (after %lld of them)",
	   (long long) m->one_row_steps);
	llama_forget_prefixes(m);	/* rows decoded now, not kept from before */
	for (int i = 0; i < ROWS; i++)
		sample_rows(m, i % 2, 1, 100 + i, ra + i * m->cfg.max_len, &la[i], NULL);
	sampler_probs(m, 3, pa, NULL, TRIALS);
	nn_params_half_drop(&m->params);
	m->params.half_state = -1;	/* from here on the float32 weights, as before the copy existed */
	llama_forget_prefixes(m);
	for (int i = 0; i < ROWS; i++)
		sample_rows(m, i % 2, 1, 100 + i, rb + i * m->cfg.max_len, &lb[i], NULL);
	sampler_probs(m, 3, pb, NULL, TRIALS);
	ok(m->params.half == NULL && memcmp(pa, pb, sizeof(pa)) == 0 &&
	   memcmp(ra, rb, ROWS * m->cfg.max_len * sizeof(int32_t)) == 0 && memcmp(la, lb, sizeof(la)) == 0,
	   "the float16 copy gives the float32 weights' probabilities and rows bit for bit");

	/* training further: the copy goes, and sampling follows the new weights */
	m->params.half_state = 0;
	sampler_probs(m, 3, pa, NULL, TRIALS);
	ok(m->params.half != NULL, "the copy is built again at the next one-node step");
	train_for(m, s, 1);
	ok(m->params.half == NULL && m->params.half_state == 0, "training drops the copy");
	sampler_probs(m, 3, pa, pb, TRIALS);
	for (int t = 0; t < TRIALS; t++)
		for (int i = 0; i <= m->tok.n_values; i++)
			worst = unit_worst(worst, fabs(pb[t][i] - pa[t][i]));
	ok(m->params.half == NULL && worst < 1e-5,
	   "sampling after more training follows the new weights (worst %.2g against the forward pass)",
	   worst);
	ntg_llama_kind.destroy(&m->base);

	{
		NtgParams	p;
		NtgModel   *c = NULL;
		NtgTrainPlan plan;

		tiny_params(&p, 10, 2);
		ntg_params_add_bool(&p, "half_weights", 0, &err);
		ntg_llama_kind.create(&p, s, &c, &plan, &err);
		m = train_for((LlamaModel *) c, s, 10);
		ok(m != NULL && ntg_llama_kind.finish_training(&m->base, &err) == NTG_OK &&
		   !nn_params_are_half(&m->params) && config_says(m, "\"half_weights\": false"),
		   "half_weights false: the weights stay float32");
		if (m != NULL)
		{
			uint8_t    *buf = NULL;
			size_t		len = 0;
			NtgModel   *back = NULL;

			ntg_model_save(&m->base, &buf, &len, &err);
			ok(ntg_model_from_bytes(buf, len, &back, &err) == NTG_OK &&
			   !((LlamaModel *) back)->cfg.half_weights &&
			   ntg_llama_kind.finish_training(back, &err) == NTG_OK &&
			   !nn_params_are_half(&((LlamaModel *) back)->params),
			   "and a loaded copy remembers it (the driver finishes a best epoch put back from bytes)");
			if (back != NULL)
				ntg_llama_kind.destroy(back);
			ntg_free(buf);
		}
		if (m != NULL)
			ntg_llama_kind.destroy(&m->base);
		ntg_params_free(&p);
	}
}

/*
 * The sampler's own decode (a KV cache, one position at a time, attention over the node's chain)
 * gives the forward pass's distribution after every history up to max_len, in every position of
 * attention's four-at-a-time scoring and its tail: random histories, on a model trained on two
 * classes of long rows (trained, its attention is sharp enough that scoring a position with
 * another's key moves the probabilities by ~1e-3; random weights moved them by ~1e-6).
 */
static void
test_decode_matches_forward(void)
{
	static const int32_t row[] = {10, -20, 30, -40, 50, -60, 70, -80, 90, -100};
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgSeqSet	longs;
	LlamaModel *m;
	NtgRng		rng;
	NtgError	err = {0};
	double		worst = 0.0;
	int			tried = 0;

	ntg_seqset_builder_add(b, "one", row, 10, &err);
	ntg_seqset_builder_add(b, "two", row + 2, 8, &err);
	ntg_seqset_builder_finish(b, &longs, &err);
	m = train_for(make_model(&longs, 30, 2), &longs, 30);
	ntg_rng_seed(&rng, 31);
	for (int trial = 0; m != NULL && trial < 40; trial++)
	{
		int			cls = trial % 2,
					len = trial % m->cfg.max_len;
		int32_t		hist[LLAMA_MAX_LEN + 1];
		float		p_fwd[64],
					p_dec[64];

		hist[0] = ntg_tok_class(&m->tok, cls);
		for (int i = 1; i <= len; i++)
			hist[i] = (int32_t) ntg_rng_below(&rng, (uint64_t) m->tok.n_values);
		if (llama_next_probs(m, hist, len + 1, p_fwd, &err) != NTG_OK ||
			llama_sampler_probs(m, cls, hist + 1, len, p_dec, &err) != NTG_OK)
		{
			printf("# %s\n", err.msg);
			worst = 1.0;
			break;
		}
		for (int i = 0; i <= m->tok.n_values; i++)
			worst = unit_worst(worst, fabs(p_fwd[i] - p_dec[i]));
		tried++;
	}
	ok(m != NULL && m->cfg.max_len >= 9 && tried == 40 && worst < 1e-5,
	   "the sampler's decode gives the forward pass's next-token probabilities up to max_len %d (worst %.2g)",
	   m ? m->cfg.max_len : 0, worst);
	if (m != NULL)
		ntg_llama_kind.destroy(&m->base);
	ntg_seqset_free(&longs);
}

int
main(void)
{
	NtgSeqSet	s;

	make_set(&s);
	test_registry();
	test_tokenizer(&s);
	test_create(&s);
	test_gradient(&s);
	test_micro_batches(&s);
	test_dropout(&s);
	test_token_noise(&s);
	test_eval_scoring(&s);
	test_overfit(&s);
	test_determinism(&s);
	test_kept_histories(&s);
	test_decode_matches_forward();
	test_half_weights(&s);
	test_sampling_rules(&s);
	test_distribution(&s);
	test_stratified(&s);
	test_save_load(&s);
	test_inconsistent(&s);
	test_format_versions(&s);
	test_empty_rows();
	ntg_seqset_free(&s);
	return done_testing();
}
