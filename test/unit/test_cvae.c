/*
 * test_cvae.c — the cvae generator: creation and its hyperparameters, the whole model's gradient
 * against finite differences (the KL weight, an empty row and a held-out row scored as "longer
 * than" included), KL annealing, the held-out loss and its scoring rules, learning a handful of
 * rows, sampling (rows independent of the chunking, the draws following the model's
 * distributions, the two temperatures), its options, refusal of stored models whose numbers
 * do not fit, and int8 copies (close to the float model, smaller, not trainable).  The conformance suite (test_conformance.c) covers what every kind must do.
 */
#include <math.h>
#include <string.h>

#include "common/blob.h"
#include "models/cvae.h"
#include "unit.h"

static const int32_t rows_a[][4] = {{100, -200, 300, 0}, {100, -200, 0, 0}, {100, -200, 300, -40}};
static const int	lens_a[] = {3, 2, 4};
static const int32_t rows_b[][4] = {{-5, 7, 0, 0}, {-5, 0, 0, 0}, {0, 0, 0, 0}};
static const int	lens_b[] = {2, 1, 0};

/* Two classes: alpha (rows starting 100, -200) and beta (rows starting -5, and an empty row);
 * values -200 -40 -5 7 100 300: n_values 6, max_len 4. */
static void
make_set(NtgSeqSet *s, int reps)
{
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgError	err = {0};

	for (int r = 0; r < reps; r++)
		for (int i = 0; i < 3; i++)
		{
			ntg_seqset_builder_add(b, "beta", rows_b[i], lens_b[i], &err);
			ntg_seqset_builder_add(b, "alpha", rows_a[i], lens_a[i], &err);
		}
	ntg_seqset_builder_finish(b, s, &err);
}

/* A tiny model; key (if not NULL) = value is one more hyperparameter. */
static CvaeModel *
make_model_with(const NtgSeqSet *s, int epochs, const char *key, double value)
{
	NtgParams	p = {0};
	NtgModel   *m = NULL;
	NtgTrainPlan plan;
	NtgError	err = {0};

	ntg_params_add_number(&p, "hidden1", 12, &err);
	ntg_params_add_number(&p, "hidden2", 8, &err);
	ntg_params_add_number(&p, "latent_dim", 3, &err);
	ntg_params_add_number(&p, "embed_dim", 4, &err);
	ntg_params_add_number(&p, "epochs", epochs, &err);
	ntg_params_add_number(&p, "batch_size", 4, &err);
	ntg_params_add_number(&p, "lr", 0.01, &err);
	ntg_params_add_number(&p, "seed", 7, &err);
	if (key != NULL)
		ntg_params_add_number(&p, key, value, &err);
	if (ntg_cvae_kind.create(&p, s, &m, &plan, &err) != NTG_OK)
		printf("# create: %s\n", err.msg);
	ntg_params_free(&p);
	return (CvaeModel *) m;
}

static CvaeModel *
make_model(const NtgSeqSet *s, int epochs)
{
	return make_model_with(s, epochs, NULL, 0.0);
}

static double
train(CvaeModel *m, const NtgSeqSet *s, int epochs)
{
	NtgRng		rng;
	double		loss = NAN;
	NtgError	err = {0};

	ntg_rng_seed(&rng, 5);
	for (int e = 0; e < epochs; e++)
		if (ntg_cvae_kind.train_epoch(&m->base, s, e, &rng, &loss, &err) != NTG_OK)
		{
			printf("# train: %s\n", err.msg);
			return NAN;
		}
	return loss;
}

static void
test_create(const NtgSeqSet *s)
{
	NtgParams	p = {0};
	NtgModel   *m = NULL;
	NtgTrainPlan plan;
	NtgError	err = {0};
	CvaeModel  *cm = make_model(s, 3);
	char	   *json;
	NtgSeqSet	empty;
	NtgSeqSetBuilder *b;
	int32_t		none[1] = {0};
	int			rc;

	ok(cm != NULL, "create a tiny model");
	is_int(cm->base.n_classes, 2, "two classes");
	ok(strcmp(cm->base.classes[0], "alpha") == 0 && strcmp(cm->base.classes[1], "beta") == 0,
	   "class names, sorted");
	is_int(cm->base.max_len, 4, "max_len = the longest training row (below the cap)");
	is_int(cm->cfg.n_values, 6, "value vocabulary: the distinct values of the rows");
	/* (V+1)E + H1(NE+C) + H1 + H2 H1 + H2 + 2Z H2 + 2Z + H2(Z+C) + H2 + H1 H2 + H1
	 *   + (N+1) H1 + (N+1) + NE H1 + NE + V E + V */
	is_int(cm->base.n_params, 7 * 4 + 12 * 18 + 12 + 8 * 12 + 8 + 6 * 8 + 6 + 8 * 5 + 8 + 12 * 8 + 12 +
		   5 * 12 + 5 + 16 * 12 + 16 + 6 * 4 + 6, "parameter count");
	is_int(cm->base.n_params, cvae_param_count(&cm->cfg, 2), "cvae_param_count agrees");
	json = cvae_config_json(&cm->base);
	ok(json != NULL && strstr(json, "\"hidden1\": 12") && strstr(json, "\"n_values\": 6") &&
	   strstr(json, "\"lr_schedule\": \"constant\""), "config JSON: %s", json);
	ntg_free(json);
	ntg_cvae_kind.destroy(&cm->base);

	ok(ntg_cvae_kind.create(&p, s, &m, &plan, &err) == NTG_OK, "create with the defaults");
	cm = (CvaeModel *) m;
	ok(cm->cfg.hidden1 == 500 && cm->cfg.hidden2 == 250 && cm->cfg.latent_dim == 20,
	   "defaults are Table I's: hidden 500/250, latent 20");
	ok(cm->cfg.epochs == 160 && cm->cfg.beta == 1.0 && cm->cfg.kl_anneal == 0.0 &&
	   m->sampling.value[CVAE_OPT_LATENT_TEMPERATURE] == 1.1 &&
	   m->sampling.value[CVAE_OPT_TEMPERATURE] == 1.0,
	   "the validated defaults: 160 epochs, beta 1 without annealing, latent_temperature 1.1");
	ok(ntg_params_check_used(&p, "cvae", &err) == NTG_OK, "no key left unread");
	ntg_cvae_kind.destroy(m);

	ntg_params_add_number(&p, "latent_dim", 0, &err);
	ok(ntg_cvae_kind.create(&p, s, &m, &plan, &err) == NTG_ERR_INVALID_ARG &&
	   strstr(err.msg, "latent_dim") != NULL, "latent_dim 0 is refused: %s", err.msg);
	ntg_params_free(&p);
	ntg_params_add_string(&p, "lr_schedule", "linear", &err);
	ok(ntg_cvae_kind.create(&p, s, &m, &plan, &err) == NTG_ERR_INVALID_ARG,
	   "an unknown lr_schedule is refused: %s", err.msg);
	ntg_params_free(&p);
	ntg_params_add_number(&p, "beta", -1, &err);
	ok(ntg_cvae_kind.create(&p, s, &m, &plan, &err) == NTG_ERR_INVALID_ARG,
	   "a negative beta is refused: %s", err.msg);
	ntg_params_free(&p);
	ntg_params_add_number(&p, "hidden1", 8192, &err);
	ntg_params_add_number(&p, "hidden2", 8192, &err);
	ntg_params_add_number(&p, "embed_dim", 1024, &err);
	ntg_params_add_number(&p, "max_len", 256, &err);
	plan.bytes = 0;
	rc = ntg_cvae_kind.estimate(&p, s, &plan, &err);
	ok(rc == NTG_OK && plan.bytes > (int64_t) 1 << 30,
	   "a large shape gets a large estimate (%lld bytes) before anything is allocated",
	   (long long) plan.bytes);
	ntg_params_free(&p);

	b = ntg_seqset_builder_new();
	ntg_seqset_builder_add(b, "x", none, 0, &err);
	ntg_seqset_builder_finish(b, &empty, &err);
	ok(ntg_cvae_kind.create(&p, &empty, &m, &plan, &err) == NTG_ERR_INVALID_ARG &&
	   strstr(err.msg, "empty") != NULL, "rows without any value are refused: %s", err.msg);
	ntg_seqset_free(&empty);
}

/*
 * A fixed batch for the gradient check: tokens of the vocabulary -200 -40 -5 7 100 300 (0..5),
 * <PAD> = 6.  Rows: alpha 100 -200 300 (length 3); beta (empty); alpha 100 -200 -40 300 (the full
 * max_len); beta -5 cut after one value and scored as "longer than 1" (at_least).
 */
static const int32_t g_cls[] = {0, 1, 0, 1};
static const int32_t g_tok[] = {4, 0, 5, 6, 6, 6, 6, 6, 4, 0, 1, 5, 2, 6, 6, 6};
static const int g_len[] = {3, 0, 4, 1};
static const uint8_t g_more[] = {0, 0, 0, 1};
static float g_eps[4 * 3];
#define G_KL_WEIGHT 0.7

static CvaeBatch
g_batch(void)
{
	CvaeBatch	b = {4, g_cls, g_tok, g_len, g_more, g_eps};

	return b;
}

static double
objective(CvaeModel *m)
{
	CvaeBatch	b = g_batch();
	CvaeLoss	l;
	NtgError	err = {0};

	cvae_step(m, &b, 0, G_KL_WEIGHT, &l, &err);
	return (l.rec + G_KL_WEIGHT * l.kl) / b.B;
}

static void
test_gradient(const NtgSeqSet *s)
{
	CvaeModel  *m = make_model(s, 1);
	CvaeBatch	b = g_batch();
	CvaeLoss	l;
	NtgError	err = {0};
	NtgRng		pick;
	float	   *grad;
	double		worst = 0.0;
	int			zero = 1,
				rc;

	ntg_rng_seed(&pick, 99);
	for (int i = 0; i < 12; i++)
		g_eps[i] = (float) ntg_rng_normal(&pick);
	/* move the weights off their initial values, and the biases off 0, so that ReLUs differ */
	for (size_t i = 0; i < m->params.count; i++)
		m->params.data[i] += (float) (ntg_rng_normal(&pick) * 0.3);
	nn_params_zero_grad(&m->params);
	rc = cvae_step(m, &b, 2, G_KL_WEIGHT, &l, &err);
	ok(rc == NTG_OK && l.targets == 3 + 0 + 4 + 1 + 4,
	   "forward and backward over the batch (%lld targets: values and a length per row)",
	   (long long) l.targets);
	grad = ntg_malloc(m->params.count * sizeof(float));
	memcpy(grad, m->params.grad, m->params.count * sizeof(float));
	for (size_t i = 0; i < m->params.count; i++)
	{
		float		keep = m->params.data[i];
		double		lp,
					lm,
					num,
					tol;

		m->params.data[i] = keep + 1e-2f;
		lp = objective(m);
		m->params.data[i] = keep - 1e-2f;
		lm = objective(m);
		m->params.data[i] = keep;
		num = (lp - lm) / 2e-2;
		tol = 1e-3 + 2e-2 * fmax(fabs(num), fabs(grad[i]));
		worst = unit_worst(worst, fabs(num - grad[i]) / tol);
	}
	ok(worst <= 1.0, "whole-model gradient matches finite differences (%zu parameters, worst %.3f)",
	   m->params.count, worst);
	/* a value token's embedding row that no row uses, and <PAD>'s, which rows use */
	for (int j = 0; j < 4; j++)
		zero &= m->params.grad[m->params.tensors[m->t.emb_in].offset + 3 * 4 + j] == 0.0f;
	ok(zero, "the embedding of a value no row holds gets no gradient");
	{
		int32_t		bad[16];
		CvaeBatch	bb = b;

		memcpy(bad, g_tok, sizeof(bad));
		bad[1] = 6;				/* <PAD> inside a row */
		bb.tok = bad;
		ok(cvae_step(m, &bb, 0, 1.0, &l, &err) == NTG_ERR_INTERNAL,
		   "<PAD> inside a row is refused, not scored: %s", err.msg);
		bad[1] = 7;
		ok(cvae_step(m, &bb, 0, 1.0, &l, &err) == NTG_ERR_INTERNAL,
		   "a token outside the vocabulary is refused: %s", err.msg);
	}
	ntg_free(grad);
	ntg_cvae_kind.destroy(&m->base);
}

static void
test_kl_anneal(const NtgSeqSet *s)
{
	CvaeModel  *m = make_model_with(s, 10, "kl_anneal", 2);
	CvaeModel  *off = make_model_with(s, 10, "beta", 0.25);

	/* 18 rows, batch 4: 5 steps an epoch, so the weight rises over 10 steps */
	is_int(m->steps_per_epoch, 5, "steps per epoch");
	is_double(cvae_kl_weight(m, 0), 0.1, 1e-12, "annealing: step 1 of 10 has weight beta / 10");
	is_double(cvae_kl_weight(m, 4), 0.5, 1e-12, "annealing: step 5 has half the weight");
	is_double(cvae_kl_weight(m, 9), 1.0, 1e-12, "annealing: beta from step 10 on");
	is_double(cvae_kl_weight(m, 500), 1.0, 1e-12, "annealing: and stays there");
	is_double(cvae_kl_weight(off, 0), 0.25, 1e-12, "without annealing every step has weight beta");
	ntg_cvae_kind.destroy(&m->base);
	ntg_cvae_kind.destroy(&off->base);
}

/* Held-out rows: the same loss twice; a row whose first value is unknown is not scored, one with
 * an unknown value later is scored up to it. */
static void
test_eval(const NtgSeqSet *s)
{
	CvaeModel  *m = make_model(s, 5);
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgSeqSet	held;
	NtgError	err = {0};
	double		l1,
				l2;
	int64_t		n1,
				n2;
	int32_t		unknown_first[] = {999, 100};
	int32_t		unknown_later[] = {100, -200, 999, 300};
	int32_t		long_row[] = {-5, 7, -5, 7, -5, 7};
	int			rc;

	train(m, s, 5);
	ntg_seqset_builder_add(b, "alpha", rows_a[0], 3, &err);	/* 3 values + length */
	ntg_seqset_builder_add(b, "alpha", unknown_first, 2, &err);	/* not scored */
	ntg_seqset_builder_add(b, "alpha", unknown_later, 4, &err);	/* 2 values + "longer than 2" */
	ntg_seqset_builder_add(b, "beta", rows_b[2], 0, &err);	/* the length 0 */
	ntg_seqset_builder_add(b, "beta", long_row, 6, &err);	/* 4 values + "4 or more" */
	ntg_seqset_builder_finish(b, &held, &err);
	rc = cvae_eval_loss(&m->base, &held, &l1, &n1, &err);
	ok(rc == NTG_OK && n1 == 4 + 0 + 3 + 1 + 5,
	   "held-out targets: %lld (values and a length per scored row; a row with an unknown first value left out)",
	   (long long) n1);
	rc = cvae_eval_loss(&m->base, &held, &l2, &n2, &err);
	ok(rc == NTG_OK && l1 == l2 && n1 == n2 &&
	   isfinite(l1) && l1 > 0, "the held-out loss is the same every time (%.6f)", l1);
	rc = cvae_eval_loss(&m->base, s, &l2, &n2, &err);
	ok(rc == NTG_OK && n2 == 3 * (4 + 3 + 5 + 3 + 2 + 1),
	   "every training row is scored (%lld targets)", (long long) n2);
	ntg_seqset_free(&held);
	ntg_cvae_kind.destroy(&m->base);
}

/* The model learns its rows: the loss falls, and rows sampled at low temperature are rows of their
 * own class. */
static void
test_learns(const NtgSeqSet *s)
{
	CvaeModel  *m = make_model(s, 300);
	double		first = train(m, s, 1),
				last = train(m, s, 299);
	int32_t		out[40 * 4];
	int			len[40],
				own = 0;
	NtgRng		rng;
	NtgError	err = {0};

	ok(last < first / 2, "training lowers the loss (%.3f -> %.3f)", first, last);
	ntg_rng_seed(&rng, 3);
	ok(cvae_sample_batched(m, 0, 40, 16, 1.0, 0.3, &rng, out, len, &err) == NTG_OK, "sample alpha");
	for (int r = 0; r < 40; r++)
	{
		for (int i = 0; i < 3; i++)
			if (len[r] == lens_a[i] && memcmp(out + r * 4, rows_a[i], len[r] * sizeof(int32_t)) == 0)
			{
				own++;
				break;
			}
	}
	ok(own >= 36, "alpha's rows are alpha training rows (%d of 40)", own);
	ntg_cvae_kind.destroy(&m->base);
}

#define T_FLAT 3.0

static void
test_sampling(const NtgSeqSet *s)
{
	CvaeModel  *m = make_model(s, 20);
	enum
	{
		R = 3000
	};
	static int32_t a[R * 4],
				b[R * 4];
	static int	la[R],
				lb[R];
	NtgRng		r1,
				r2;
	NtgError	err = {0};
	int			same = 1,
				hits[5] = {0};
	float		z0[3] = {0, 0, 0};
	int32_t		cls[1] = {1};
	float	   *len_logits;
	double		p[5],
				mx = -INFINITY,
				sum = 0.0,
				worst = 0.0;

	train(m, s, 20);
	ntg_rng_seed(&r1, 11);
	ntg_rng_seed(&r2, 11);
	cvae_sample_batched(m, 1, 50, 1, 1.0, 1.0, &r1, a, la, &err);
	cvae_sample_batched(m, 1, 50, 64, 1.0, 1.0, &r2, b, lb, &err);
	for (int r = 0; r < 50; r++)
		same &= la[r] == lb[r] && memcmp(a + r * 4, b + r * 4, la[r] * sizeof(int32_t)) == 0;
	ok(same, "rows one at a time are the rows of one chunk");

	/* latent_temperature 0: z = 0 for every row, so the lengths follow the length head at z = 0
	 * (at a temperature that flattens the model's distributions, for the tests' power) */
	ntg_rng_seed(&r1, 16);
	cvae_sample_batched(m, 1, R, 256, 0.0, T_FLAT, &r1, a, la, &err);
	for (int r = 0; r < R; r++)
		hits[la[r]]++;
	cvae_decode(m, z0, cls, 1, &len_logits);
	for (int i = 0; i < 5; i++)
		mx = fmax(mx, len_logits[i]);
	for (int i = 0; i < 5; i++)
		sum += p[i] = exp((len_logits[i] - mx) / T_FLAT);
	for (int i = 0; i < 5; i++)
	{
		double		q = p[i] / sum;
		double		sd = sqrt(q * (1 - q) / R);

		worst = unit_worst(worst, fabs(hits[i] / (double) R - q) / (sd + 1e-9));
	}
	ok(worst < 4.5, "lengths drawn at z = 0 follow the length head (largest deviation %.2f sd)",
	   worst);
	/*
	 * and the first values of the rows of the most frequent length >= 1 follow position 0's
	 * softmax: a row's values are drawn independently of its length at a given z (a sampler that
	 * reused the length's random number for the values would tie the two)
	 */
	{
		int			one[1] = {1},
					n1 = 0,
					lmode = 1,
					vhits[6] = {0};
		float	   *vlog;
		double		q[6],
					vsum = 0.0,
					vmx = -INFINITY;

		for (int i = 2; i < 5; i++)
			lmode = hits[i] > hits[lmode] ? i : lmode;
		for (int r = 0; r < R; r++)
			if (la[r] == lmode)
			{
				n1++;
				vhits[ntg_tok_value_token(&m->tok, a[r * 4])]++;
			}
		int			slice;

		cvae_decode(m, z0, cls, 1, &len_logits);
		cvae_pack_values(m, one, 1, &slice);
		vlog = cvae_value_logits(m, 0, 1);
		for (int i = 0; i < 6; i++)
			vmx = fmax(vmx, vlog[i]);
		for (int i = 0; i < 6; i++)
			vsum += q[i] = exp((vlog[i] - vmx) / T_FLAT);
		worst = 0.0;
		for (int i = 0; i < 6; i++)
		{
			double		pi = q[i] / vsum;

			worst = unit_worst(worst, fabs(vhits[i] / (double) n1 - pi) / (sqrt(pi * (1 - pi) / n1) + 1e-9));
		}
		ok(n1 > 500 && worst < 4.5,
		   "first values of the %d rows of length %d drawn at z = 0 follow position 0's softmax (largest deviation %.2f sd)",
		   n1, lmode, worst);
	}

	/* a very low temperature draws the most probable length and values: one row, whatever the seed */
	ntg_rng_seed(&r1, 13);
	cvae_sample_batched(m, 1, 30, 8, 0.0, 1e-4, &r1, a, la, &err);
	for (int r = 1; r < 30; r++)
		same &= la[r] == la[0] && memcmp(a + r * 4, a, la[0] * sizeof(int32_t)) == 0;
	ok(same, "latent_temperature 0 and temperature ~0 give the mode, every time");
	{
		NtgParams	o = {0};
		NtgSampleOptions opts = m->base.sampling;

		ntg_params_add_number(&o, "latent_temperature", -0.5, &err);
		ok(ntg_sample_options_apply(&ntg_cvae_kind, &o, &opts, &err) == NTG_ERR_INVALID_ARG,
		   "a negative latent_temperature is refused: %s", err.msg);
		ntg_params_free(&o);
		ntg_params_add_number(&o, "temperature", 0, &err);
		ok(ntg_sample_options_apply(&ntg_cvae_kind, &o, &opts, &err) == NTG_ERR_INVALID_ARG,
		   "temperature 0 is refused: %s", err.msg);
		ntg_params_free(&o);
		ntg_params_add_number(&o, "top_k", 5, &err);
		ok(ntg_sample_options_apply(&ntg_cvae_kind, &o, &opts, &err) == NTG_ERR_INVALID_ARG,
		   "a token kind's option is not the cvae's: %s", err.msg);
		ntg_params_free(&o);
		ntg_params_add_number(&o, "latent_temperature", 0.5, &err);
		ok(ntg_sample_options_apply(&ntg_cvae_kind, &o, &opts, &err) == NTG_OK &&
		   opts.value[CVAE_OPT_LATENT_TEMPERATURE] == 0.5 && opts.value[CVAE_OPT_TEMPERATURE] == 1.0,
		   "latent_temperature 0.5 is taken, temperature keeps its default");
		ntg_params_free(&o);
	}
	ok(cvae_sample_batched(m, 2, 1, 1, 1.0, 1.0, &r1, a, la, &err) == NTG_ERR_INVALID_ARG,
	   "a class index out of range is refused");
	ntg_cvae_kind.destroy(&m->base);
}

/* Saved bytes with one number of cvae.config or cvae.hparams replaced (checksum recomputed). */
static int
load_with(const uint8_t *buf, size_t len, const char *tensor, int index, double value,
		  NtgError *err)
{
	NtgBlob		in,
				out;
	uint8_t    *bytes = NULL;
	size_t		n = 0;
	NtgModel   *m = NULL;
	int			rc;
	int32_t		conf[16];
	double		hp[9];

	if ((rc = ntg_blob_parse(buf, len, &in, err)) != NTG_OK)
		return rc;
	ntg_blob_read_tensor(&in, "cvae.config", NTG_DTYPE_I32, 16, conf, err);
	ntg_blob_read_tensor(&in, "cvae.hparams", NTG_DTYPE_F64, 9, hp, err);
	if (strcmp(tensor, "cvae.config") == 0)
		conf[index] = (int32_t) value;
	else
		hp[index] = value;
	ntg_blob_init(&out, in.kind, in.config);
	for (int i = 0; i < in.n_tensors; i++)
	{
		const NtgBlobTensor *x = &in.tensors[i];
		const void *data = strcmp(x->name, "cvae.config") == 0 ? (const void *) conf :
			strcmp(x->name, "cvae.hparams") == 0 ? (const void *) hp : x->data;

		ntg_blob_add(&out, x->name, x->dtype, x->ndim, x->dims, data, err);
	}
	ntg_blob_serialize(&out, &bytes, &n, err);
	rc = ntg_model_from_bytes(bytes, n, &m, err);
	ntg_model_destroy(m);
	ntg_free(bytes);
	ntg_blob_free(&out);
	ntg_blob_free(&in);
	return rc;
}

static void
test_storage(const NtgSeqSet *s)
{
	CvaeModel  *m = make_model(s, 2);
	uint8_t    *buf;
	size_t		len;
	NtgError	err = {0};
	static const struct
	{
		const char *tensor;
		int			index;
		double		value;
		const char *what;
	}			bad[] = {
		{"cvae.config", 0, 2, "an unknown format version"},
		{"cvae.config", 1, 13, "hidden1 that does not match the weights"},
		{"cvae.config", 2, 0, "hidden2 0"},
		{"cvae.config", 3, -1, "a negative latent_dim"},
		{"cvae.config", 5, 257, "max_len beyond the limit"},
		{"cvae.config", 6, 5, "n_values that does not match the vocabulary"},
		{"cvae.config", 6, 0, "n_values 0"},
		{"cvae.config", 7, 3, "a class count that does not match the classes"},
		{"cvae.config", 10, 0, "batch_size 0"},
		{"cvae.config", 13, 2, "an lr_schedule flag of 2"},
		{"cvae.hparams", 0, NAN, "lr NaN"},
		{"cvae.hparams", 4, 1.0, "beta1 1"},
		{"cvae.hparams", 6, 0.5, "a warmup that is not whole"},
		{"cvae.hparams", 7, -1, "a negative beta"},
		{"cvae.hparams", 8, INFINITY, "kl_anneal infinite"},
	};

	train(m, s, 2);
	ok(ntg_model_save(&m->base, &buf, &len, &err) == NTG_OK, "save");
	ok(load_with(buf, len, "cvae.hparams", 7, 2.0, &err) == NTG_OK,
	   "a stored model with another valid beta loads (the rewriting itself is sound)");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(load_with(buf, len, bad[i].tensor, bad[i].index, bad[i].value, &err) == NTG_ERR_CORRUPT,
		   "refused: %s (%s)", bad[i].what, err.msg);
	ntg_free(buf);
	ntg_cvae_kind.destroy(&m->base);
}

/* Largest |p - q| of two softmaxes of n logits. */
static double
softmax_gap(const float *a, const float *b, int n)
{
	double		ma = -INFINITY,
				mb = -INFINITY,
				sa = 0,
				sb = 0,
				worst = 0;

	for (int i = 0; i < n; i++)
		ma = fmax(ma, a[i]), mb = fmax(mb, b[i]);
	for (int i = 0; i < n; i++)
		sa += exp(a[i] - ma), sb += exp(b[i] - mb);
	for (int i = 0; i < n; i++)
		worst = unit_worst(worst, fabs(exp(a[i] - ma) / sa - exp(b[i] - mb) / sb));
	return worst;
}

/* The decoder's length and first-position value distributions of m and q at a few latents and
 * both classes: the largest difference of their probabilities. */
static double
decoder_gap(CvaeModel *m, CvaeModel *q)
{
	static const float zs[][3] = {{0, 0, 0}, {1, -0.5f, 0.3f}, {-1.2f, 0.8f, 2}};
	double		worst = 0;

	for (int z = 0; z < 3; z++)
		for (int32_t c = 0; c < 2; c++)
		{
			float	   *lm,
					   *lq,
						keep[5],
						vkeep[6];
			int			len = 1,
						slice;

			cvae_decode(m, zs[z], &c, 1, &lm);
			memcpy(keep, lm, sizeof(keep));
			cvae_pack_values(m, &len, 1, &slice);
			memcpy(vkeep, cvae_value_logits(m, 0, 1), sizeof(vkeep));
			cvae_decode(q, zs[z], &c, 1, &lq);
			worst = unit_worst(worst, softmax_gap(keep, lq, 5));
			cvae_pack_values(q, &len, 1, &slice);
			worst = unit_worst(worst, softmax_gap(vkeep, cvae_value_logits(q, 0, 1), 6));
		}
	return worst;
}

/* A copy of m through its stored bytes, quantized. */
static CvaeModel *
quantized(CvaeModel *m, int mode)
{
	uint8_t    *buf;
	size_t		len;
	NtgModel   *q = NULL;
	NtgError	err = {0};

	ntg_model_save(&m->base, &buf, &len, &err);
	if (ntg_model_from_bytes(buf, len, &q, &err) != NTG_OK || ntg_model_quantize(q, mode, &err) != NTG_OK)
	{
		printf("# quantize: %s\n", err.msg);
		ntg_model_destroy(q);
		q = NULL;
	}
	ntg_free(buf);
	return (CvaeModel *) q;
}

/* Rows of b equal to a's, each drawn alone with the same seed, out of n. */
static int
same_rows(CvaeModel *a, CvaeModel *b, int n)
{
	int			same = 0;

	for (int r = 0; r < n; r++)
	{
		int32_t		ra[4],
					rb[4];
		int			la,
					lb;
		NtgRng		g1,
					g2;
		NtgError	err = {0};

		ntg_rng_seed(&g1, 300 + r);
		ntg_rng_seed(&g2, 300 + r);
		cvae_sample_batched(a, r % 2, 1, 1, 1.0, 1.0, &g1, ra, &la, &err);
		cvae_sample_batched(b, r % 2, 1, 1, 1.0, 1.0, &g2, rb, &lb, &err);
		same += la == lb && memcmp(ra, rb, la * sizeof(int32_t)) == 0;
	}
	return same;
}

/* int8 copies: every matrix int8, biases float; close to the float model; stored smaller; not
 * trainable; loaded back the same. */
static void
test_quantized(const NtgSeqSet *s)
{
	static const int modes[] = {NN_QUANT_WEIGHT_ONLY, NN_QUANT_DYNAMIC};
	CvaeModel  *m = make_model(s, 30);
	uint8_t    *fbuf;
	size_t		flen;
	double		floss,
				qloss;
	NtgError	err = {0};

	train(m, s, 30);
	ntg_model_save(&m->base, &fbuf, &flen, &err);
	ntg_cvae_kind.eval_loss(&m->base, s, &floss, NULL, &err);
	for (int i = 0; i < 2; i++)
	{
		const char *name = nn_quant_mode_name(modes[i]);
		CvaeModel  *q = quantized(m, modes[i]);
		NtgModel   *back = NULL;
		uint8_t    *buf;
		size_t		len;
		int64_t		n_int8;
		double		gap;
		NtgRng		rng;
		int			same;

		if (!ok(q != NULL && q->base.quantization == modes[i] && q->base.n_params == m->base.n_params,
				"%s: a cvae quantizes", name))
			continue;
		ok(nn_params_ptr(&q->params, q->t.enc1_w) == NULL && nn_params_ptr(&q->params, q->t.dec2_w) == NULL &&
		   nn_params_ptr(&q->params, q->t.pos_w) == NULL && nn_params_ptr(&q->params, q->t.val_w) == NULL &&
		   nn_params_ptr(&q->params, q->t.emb_in) == NULL && nn_params_ptr(&q->params, q->t.dec1_b) != NULL,
		   "%s: the layers' weights and the embedding are int8, the biases float", name);
		gap = decoder_gap(m, q);
		ok(gap < 0.02, "%s: the decoder's length and value probabilities within 0.02 of float's (%.4f)",
		   name, gap);
		ntg_cvae_kind.eval_loss(&q->base, s, &qloss, NULL, &err);
		ok(fabs(qloss - floss) < 0.02 * fabs(floss),
		   "%s: the held-out loss through the int8 encoder and decoder is within 2 %% (%.4f against %.4f)",
		   name, qloss, floss);
		same = same_rows(m, q, 200);
		ok(same >= 180, "%s: %d of 200 rows drawn with the float model's seeds are its rows", name, same);
		nn_params_quantizable(&q->params, &n_int8);
		ntg_model_save(&q->base, &buf, &len, &err);
		ok((double) flen - (double) len > 1.5 * n_int8,
		   "%s: stored in %zu bytes, float %zu: over 1.5 bytes less for each of %lld int8 weights",
		   name, len, flen, (long long) n_int8);
		ok(ntg_model_from_bytes(buf, len, &back, &err) == NTG_OK && back->quantization == modes[i] &&
		   same_rows(q, (CvaeModel *) back, 50) == 50,
		   "%s: loads back as the same int8 model (the same rows)", name);
		ntg_model_destroy(back);
		ntg_free(buf);
		ntg_rng_seed(&rng, 1);
		ok(ntg_cvae_kind.train_epoch(&q->base, s, 0, &rng, &qloss, &err) == NTG_ERR_UNSUPPORTED &&
		   strcmp(err.msg, "a quantized model cannot be trained further") == 0 &&
		   strstr(err.hint, "quantize it again") != NULL,
		   "%s: refuses further training: %s (%s)", name, err.msg, err.hint);
		{
			CvaeBatch	b = g_batch();
			CvaeLoss	l;

			ok(cvae_step(q, &b, 1, 1.0, &l, &err) == NTG_ERR_UNSUPPORTED, "%s: and a training step", name);
		}
		ntg_cvae_kind.destroy(&q->base);
	}
	ntg_free(fbuf);
	ntg_cvae_kind.destroy(&m->base);
}

/*
 * A vocabulary of 100,000 values makes the value logits come in slices of 10 packed positions
 * (1 M floats) and a batch of 80 rows in two passes: the batch's loss and gradient must be the
 * sums of its rows' (each row alone is one slice and one pass), and rows sampled in one chunk
 * must be those sampled one at a time.
 */
static void
test_large_vocabulary(void)
{
	enum
	{
		NV = 100000, B = 80
	};
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgSeqSet	s;
	NtgError	err = {0};
	CvaeModel  *m;
	int32_t		cls[B],
				tok[B * 4];
	int			len[B],
				la[40],
				lb[40],
				rc;
	float		eps[B * 3];
	double		rec_sum = 0.0,
				worst = 0.0,
				top = 0.0;
	float	   *sum,
			   *batch_grad;
	CvaeLoss	l;
	NtgRng		r1,
				r2;
	static int32_t oa[40 * 4],
				ob[40 * 4];
	int			same = 1;

	for (int i = 0; i < NV / 4; i++)
	{
		int32_t		row[4] = {4 * i + 1, -(4 * i + 2), 4 * i + 3, -(4 * i + 4)};

		ntg_seqset_builder_add(b, i % 2 ? "odd" : "even", row, 4, &err);
	}
	ntg_seqset_builder_finish(b, &s, &err);
	m = make_model(&s, 1);
	if (!ok(m != NULL && m->cfg.n_values == NV, "a model of %d values", NV))
		return;
	ntg_rng_seed(&r1, 8);
	for (int r = 0; r < B; r++)
	{
		cls[r] = r % 2;
		len[r] = r % 5;
		for (int t = 0; t < 4; t++)
			tok[r * 4 + t] = t < len[r] ? (int32_t) ntg_rng_below(&r1, NV) : NV;
	}
	for (int i = 0; i < B * 3; i++)
		eps[i] = (float) ntg_rng_normal(&r1);
	sum = ntg_calloc(m->params.count, sizeof(float));
	batch_grad = ntg_malloc(m->params.count * sizeof(float));
	for (int r = 0; r < B; r++)
	{
		CvaeBatch	one = {1, cls + r, tok + r * 4, len + r, NULL, eps + r * 3};

		cvae_step(m, &one, 2, 0.5, &l, &err);
		rec_sum += l.rec;
		for (size_t i = 0; i < m->params.count; i++)
			sum[i] += m->params.grad[i];
	}
	{
		CvaeBatch	all = {B, cls, tok, len, NULL, eps};

		rc = cvae_step(m, &all, 2, 0.5, &l, &err);
	}
	memcpy(batch_grad, m->params.grad, m->params.count * sizeof(float));
	for (size_t i = 0; i < m->params.count; i++)
	{
		top = fmax(top, fabs(sum[i]));
		worst = unit_worst(worst, fabs(batch_grad[i] * B - sum[i]));
	}
	ok(rc == NTG_OK && fabs(l.rec - rec_sum) <= 1e-5 * rec_sum,
	   "in slices and passes, the batch's loss is the sum of its rows' (%.6f, %.6f)", l.rec, rec_sum);
	ok(worst <= 1e-4 * top, "and its gradient the mean of theirs (largest difference %.2g of %.2g)",
	   worst, top);
	ntg_free(sum);
	ntg_free(batch_grad);

	ntg_rng_seed(&r1, 21);
	ntg_rng_seed(&r2, 21);
	cvae_sample_batched(m, 1, 40, 1, 1.0, 3.0, &r1, oa, la, &err);
	cvae_sample_batched(m, 1, 40, 40, 1.0, 3.0, &r2, ob, lb, &err);
	for (int r = 0; r < 40; r++)
		same &= la[r] == lb[r] && memcmp(oa + r * 4, ob + r * 4, la[r] * sizeof(int32_t)) == 0;
	ok(same, "rows sampled in one chunk (logits in slices) are the rows sampled one at a time");
	ntg_cvae_kind.destroy(&m->base);
	ntg_seqset_free(&s);
}

int
main(void)
{
	NtgSeqSet	s;

	make_set(&s, 3);
	test_create(&s);
	test_gradient(&s);
	test_kl_anneal(&s);
	test_eval(&s);
	test_learns(&s);
	test_sampling(&s);
	test_storage(&s);
	test_quantized(&s);
	test_large_vocabulary();
	ntg_seqset_free(&s);
	return done_testing();
}
