/*
 * cvae.c — the "cvae" generator kind: hyperparameters, model construction and seeded
 * initialisation, the memory estimate, and the NtgModelKind table.  The passes are in cvae_pass.c,
 * the epoch loop in cvae_train.c, sampling in cvae_sample.c, the stored format in cvae_io.c.
 */
#include "models/cvae.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Defaults: shapes from Table I of the paper (hidden 500/250, latent 20); the paper gives no
 * training settings, so these were chosen on a validation split of the nDPI benchmark
 * (docs/cvae.md). */
static const CvaeConfig cvae_defaults = {
	.hidden1 = 500,
	.hidden2 = 250,
	.latent_dim = 20,
	.embed_dim = 32,
	.max_len = 10,
	.epochs = 160,
	.batch_size = 32,
	.lr = 1e-3,
	.min_lr_ratio = 0.1,
	.warmup = 0,
	.cosine = 0,
	.weight_decay = 0.0,
	.grad_clip = 1.0,
	.beta1 = 0.9,
	.beta2 = 0.999,
	.beta = 1.0,
	.kl_anneal = 0.0,
	.seed = 42,
	.sample_batch = 256,
	.blas_threads = 1,
};

/* The default latent_temperature, 1.1, was chosen on the validation split (docs/cvae.md); the
 * legacy value (a model stored without sampling defaults, which no cvae is) is the prior itself. */
static const NtgOptionSpec cvae_sample_options[CVAE_N_OPTIONS] = {
	[CVAE_OPT_LATENT_TEMPERATURE] = {
		.name = "latent_temperature", .type = NTG_OPTION_NUMBER, .dflt = 1.1, .legacy = 1.0,
		.min = 0.0, .max = 5.0,
		.help = "scales the latent draw, z ~ N(0, t^2 I): below 1 rows nearer the typical ones; 0 decodes z = 0 only"
	},
	[CVAE_OPT_TEMPERATURE] = {
		.name = "temperature", .type = NTG_OPTION_NUMBER, .dflt = 1.0, .legacy = 1.0,
		.min = 0.0, .max = 100.0, .min_open = 1,
		.help = "divides the length and value logits: below 1 sharper, above 1 flatter than the model"
	},
};

static int
read_int(NtgParams *p, const char *key, int dflt, int min, int max, int *out, NtgError *err)
{
	int64_t		v;
	int			rc = ntg_params_int(p, key, dflt, min, max, &v, err);

	*out = (int) v;
	return rc;
}

/* Read every hyperparameter this kind knows (marks them used for ntg_params_check_used). */
static int
cvae_read_params(NtgParams *p, CvaeConfig *c, NtgError *err)
{
	static const char *const schedules[] = {"constant", "cosine", NULL};
	const char *sched;
	int64_t		v;
	int			rc;

	*c = cvae_defaults;
	if ((rc = read_int(p, "hidden1", c->hidden1, 1, CVAE_MAX_HIDDEN, &c->hidden1, err)) != NTG_OK ||
		(rc = read_int(p, "hidden2", c->hidden2, 1, CVAE_MAX_HIDDEN, &c->hidden2, err)) != NTG_OK ||
		(rc = read_int(p, "latent_dim", c->latent_dim, 1, CVAE_MAX_LATENT, &c->latent_dim, err)) != NTG_OK ||
		(rc = read_int(p, "embed_dim", c->embed_dim, 1, CVAE_MAX_EMBED, &c->embed_dim, err)) != NTG_OK ||
		(rc = read_int(p, "max_len", c->max_len, 1, CVAE_MAX_LEN, &c->max_len, err)) != NTG_OK ||
		(rc = read_int(p, "epochs", c->epochs, 0, 100000, &c->epochs, err)) != NTG_OK ||
		(rc = read_int(p, "batch_size", c->batch_size, 1, CVAE_MAX_BATCH, &c->batch_size, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "lr", c->lr, 0.0, 10.0, &c->lr, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "min_lr_ratio", c->min_lr_ratio, 0.0, 1.0, &c->min_lr_ratio, err)) != NTG_OK ||
		(rc = ntg_params_int(p, "warmup", c->warmup, -1, INT64_C(1) << 40, &c->warmup, err)) != NTG_OK ||
		(rc = ntg_params_string(p, "lr_schedule", "constant", schedules, &sched, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "weight_decay", c->weight_decay, 0.0, 10.0, &c->weight_decay, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "grad_clip", c->grad_clip, 0.0, 1e9, &c->grad_clip, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "beta1", c->beta1, 0.0, 0.999999, &c->beta1, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "beta2", c->beta2, 0.0, 0.999999, &c->beta2, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "beta", c->beta, 0.0, 1000.0, &c->beta, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "kl_anneal", c->kl_anneal, 0.0, 100000.0, &c->kl_anneal, err)) != NTG_OK ||
		(rc = ntg_params_int(p, "seed", 42, 0, INT64_MAX, &v, err)) != NTG_OK ||
		(rc = read_int(p, "sample_batch", c->sample_batch, 1, CVAE_MAX_BATCH, &c->sample_batch, err)) != NTG_OK ||
		(rc = read_int(p, "blas_threads", c->blas_threads, 0, 256, &c->blas_threads, err)) != NTG_OK)
		return rc;
	c->seed = (uint64_t) v;
	c->cosine = strcmp(sched, "cosine") == 0;
	return NTG_OK;
}

int64_t
cvae_param_count(const CvaeConfig *c, int n_classes)
{
	int64_t		H1 = c->hidden1,
				H2 = c->hidden2,
				Z = c->latent_dim,
				E = c->embed_dim,
				N = c->max_len,
				V = c->n_values,
				C = n_classes;

	return (V + 1) * E						/* emb_in */
		+ H1 * (N * E + C) + H1 + H2 * H1 + H2 + 2 * Z * H2 + 2 * Z	/* encoder */
		+ H2 * (Z + C) + H2 + H1 * H2 + H1	/* decoder */
		+ (N + 1) * H1 + (N + 1) + N * E * H1 + N * E + V * E + V;	/* heads */
}

/* Declare one fully connected layer (weight [out, in] with decay, bias [out]). */
static int
declare_linear(NnParams *p, const char *name, int out, int in, int *w, int *b)
{
	char		buf[NN_MAX_NAME];

	snprintf(buf, sizeof(buf), "%s.weight", name);
	*w = nn_params_declare(p, buf, 2, out, in, 1);
	snprintf(buf, sizeof(buf), "%s.bias", name);
	*b = nn_params_declare(p, buf, 1, out, 0, 0);
	return *w >= 0 && *b >= 0;
}

/*
 * The matrices int8 replaces in a quantized cvae: every layer's weight (the encoder's, the
 * decoder's and the three heads') and the input embedding (looked up by row).  The biases stay
 * float.  Every product reads them through nn_matmul / nn_embed, float or int8 as the params are.
 */
static void
cvae_mark_quantizable(CvaeModel *m)
{
	const CvaeTensors *t = &m->t;
	const int	matrices[] = {t->enc1_w, t->enc2_w, t->enc3_w, t->dec1_w, t->dec2_w, t->len_w,
	t->pos_w, t->val_w};

	for (size_t i = 0; i < sizeof(matrices) / sizeof(matrices[0]); i++)
		nn_params_mark_quantizable(&m->params, matrices[i], NN_QUANTIZE_MATMUL);
	nn_params_mark_quantizable(&m->params, t->emb_in, NN_QUANTIZE_ROWS);
}

/* kind->quantize: the marked matrices to int8; the training buffers go (a quantized model is not
 * trained). */
static int
cvae_quantize(NtgModel *model, int mode, NtgError *err)
{
	CvaeModel  *m = (CvaeModel *) model;

	cvae_free_loop(m);
	return ntg_model_quantize_params(&m->base, &m->params, mode, err);
}

int
cvae_alloc(const CvaeConfig *cfg, int n_classes, CvaeModel **out, int with_grad, NtgError *err)
{
	CvaeModel  *m = ntg_calloc(1, sizeof(CvaeModel));
	int			H1 = cfg->hidden1,
				H2 = cfg->hidden2,
				Z = cfg->latent_dim,
				E = cfg->embed_dim,
				N = cfg->max_len,
				V = cfg->n_values,
				C = n_classes;
	CvaeTensors *t;
	NnParams   *p;

	*out = NULL;
	if (m == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	m->base.kind = &ntg_cvae_kind;
	m->base.n_classes = n_classes;
	m->base.max_len = N;
	m->cfg = *cfg;
	t = &m->t;
	p = &m->params;
	/* the input embedding has decay off, like an nn.Embedding in a parameter group of its own */
	t->emb_in = nn_params_declare(p, "emb_in.weight", 2, V + 1, E, 0);
	if (t->emb_in < 0 ||
		!declare_linear(p, "enc1", H1, N * E + C, &t->enc1_w, &t->enc1_b) ||
		!declare_linear(p, "enc2", H2, H1, &t->enc2_w, &t->enc2_b) ||
		!declare_linear(p, "enc3", 2 * Z, H2, &t->enc3_w, &t->enc3_b) ||
		!declare_linear(p, "dec1", H2, Z + C, &t->dec1_w, &t->dec1_b) ||
		!declare_linear(p, "dec2", H1, H2, &t->dec2_w, &t->dec2_b) ||
		!declare_linear(p, "len_head", N + 1, H1, &t->len_w, &t->len_b) ||
		!declare_linear(p, "pos_head", N * E, H1, &t->pos_w, &t->pos_b) ||
		!declare_linear(p, "val_out", V, E, &t->val_w, &t->val_b))
	{
		ntg_cvae_kind.destroy(&m->base);
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	cvae_mark_quantizable(m);
	if (with_grad >= 0 && nn_params_alloc(p, with_grad) != NTG_OK)
	{
		ntg_cvae_kind.destroy(&m->base);
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	m->base.n_params = (int64_t) p->count;
	m->base.weights = p->data;
	m->base.n_weights = p->count;
	*out = m;
	return NTG_OK;
}

void
cvae_init_weights(CvaeModel *m, uint64_t seed)
{
	NtgRng		rng;

	ntg_rng_seed(&rng, seed);
	for (int i = 0; i < m->params.n_tensors; i++)
	{
		const NnTensor *t = &m->params.tensors[i];
		float	   *w = nn_params_ptr(&m->params, i);
		/* a bias follows its weight, whose fan-in it shares */
		int			fan_in = t->ndim == 2 ? t->dims[1] : m->params.tensors[i - 1].dims[1];
		float		bound = 1.0f / sqrtf((float) fan_in);

		if (i == m->t.emb_in)
		{
			nn_params_init_normal(&m->params, i, &rng, 1.0f, 0.0f);
			continue;
		}
		for (size_t j = 0; j < t->count; j++)
			w[j] = (float) ((2.0 * ntg_rng_double(&rng) - 1.0) * bound);
	}
}

void
cvae_configure_optimizer(CvaeModel *m, int64_t n_rows)
{
	const CvaeConfig *c = &m->cfg;

	m->steps_per_epoch = (n_rows + c->batch_size - 1) / c->batch_size;
	memset(&m->opt, 0, sizeof(m->opt));
	m->opt.lr = c->lr;
	m->opt.min_lr_ratio = c->min_lr_ratio;
	m->opt.total_steps = m->steps_per_epoch * c->epochs;
	m->opt.warmup = c->warmup >= 0 ? c->warmup : m->opt.total_steps / 20;
	m->opt.cosine = c->cosine;
	m->opt.beta1 = c->beta1;
	m->opt.beta2 = c->beta2;
	m->opt.eps = 1e-8;
	m->opt.weight_decay = c->weight_decay;
	m->opt.grad_clip = c->grad_clip;
}

double
cvae_kl_weight(const CvaeModel *m, int64_t step)
{
	double		anneal = m->cfg.kl_anneal * (double) m->steps_per_epoch;

	if (anneal <= 0.0 || step + 1 >= anneal)
		return m->cfg.beta;
	return m->cfg.beta * (double) (step + 1) / anneal;
}

/* The full config as JSON for ntg.models.config (and the stored container). */
char *
cvae_config_json(const NtgModel *model)
{
	const CvaeModel *m = (const CvaeModel *) model;
	const CvaeConfig *c = &m->cfg;
	char		buf[1024];

	snprintf(buf, sizeof(buf),
			 "{\"hidden1\": %d, \"hidden2\": %d, \"latent_dim\": %d, \"embed_dim\": %d, "
			 "\"max_len\": %d, \"n_values\": %d, \"n_classes\": %d, \"epochs\": %d, "
			 "\"batch_size\": %d, \"lr\": %.17g, \"min_lr_ratio\": %.17g, \"warmup\": %lld, "
			 "\"lr_schedule\": \"%s\", \"weight_decay\": %.17g, \"grad_clip\": %.17g, "
			 "\"beta1\": %.17g, \"beta2\": %.17g, \"beta\": %.17g, \"kl_anneal\": %.17g, "
			 "\"seed\": %llu, \"sample_batch\": %d, \"blas_threads\": %d, \"params\": %lld}",
			 c->hidden1, c->hidden2, c->latent_dim, c->embed_dim, c->max_len, c->n_values,
			 m->base.n_classes, c->epochs, c->batch_size, c->lr, c->min_lr_ratio,
			 (long long) c->warmup, c->cosine ? "cosine" : "constant", c->weight_decay,
			 c->grad_clip, c->beta1, c->beta2, c->beta, c->kl_anneal,
			 (unsigned long long) c->seed, c->sample_batch, c->blas_threads,
			 (long long) m->base.n_params);
	return ntg_strdup(buf);
}

/* The config of a model for these hyperparameters and rows (vocabulary built into *tok). */
static int
cvae_plan_config(NtgParams *params, const NtgSeqSet *train, CvaeConfig *cfg, NtgTokenizer *tok,
				 NtgError *err)
{
	int			rc;

	memset(tok, 0, sizeof(*tok));
	if ((rc = cvae_read_params(params, cfg, err)) != NTG_OK)
		return rc;
	if (train->n_rows < 1 || train->n_classes < 1)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "the training set is empty");
	if (train->n_classes > CVAE_MAX_CLASSES)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "too many classes: %d (the limit is %d)",
						 train->n_classes, CVAE_MAX_CLASSES);
	/* N = the longest training row, capped by max_len */
	if (train->max_len < cfg->max_len)
		cfg->max_len = train->max_len;
	if (cfg->max_len < 1)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "every training row is empty");
	if ((rc = ntg_tok_build(tok, train, cfg->max_len, err)) != NTG_OK)
		return rc;
	cfg->n_values = tok->n_values;
	if (cvae_param_count(cfg, train->n_classes) > CVAE_MAX_PARAMS)
	{
		ntg_tok_free(tok);
		return ntg_error(err, NTG_ERR_INVALID_ARG, "a cvae of this shape would have more than %lld parameters",
						 (long long) CVAE_MAX_PARAMS);
	}
	return NTG_OK;
}

/*
 * kind->estimate: weights with gradients and two Adam moments (16 bytes a parameter), two more
 * copies while training (the best epoch's weights kept by validation, the saved value), the
 * forward/backward buffers of a micro-batch, the vocabulary and the shuffle order of the rows.
 */
static int
cvae_estimate(NtgParams *params, const NtgSeqSet *train, NtgTrainPlan *plan, NtgError *err)
{
	CvaeConfig	cfg;
	NtgTokenizer tok;
	int64_t		n;
	int			rc;

	if ((rc = cvae_plan_config(params, train, &cfg, &tok, err)) != NTG_OK)
		return rc;
	ntg_tok_free(&tok);
	n = cvae_param_count(&cfg, train->n_classes);
	plan->epochs = cfg.epochs;
	plan->seed = cfg.seed;
	plan->bytes = n * (16 + 8) +
		(int64_t) cvae_acts_bytes(&cfg, train->n_classes) +
		(int64_t) cvae_loop_bytes(&cfg, train->n_rows) + (int64_t) cfg.n_values * 8 +
		((int64_t) 64 << 10);
	return NTG_OK;
}

static int
cvae_create(NtgParams *params, const NtgSeqSet *train, NtgModel **model, NtgTrainPlan *plan,
			NtgError *err)
{
	CvaeConfig	cfg;
	NtgTokenizer tok;
	CvaeModel  *m;
	int			rc;

	*model = NULL;
	if ((rc = cvae_plan_config(params, train, &cfg, &tok, err)) != NTG_OK)
		return rc;
	if ((rc = cvae_alloc(&cfg, train->n_classes, &m, 1, err)) != NTG_OK)
	{
		ntg_tok_free(&tok);
		return rc;
	}
	m->tok = tok;
	if ((rc = ntg_model_copy_classes(&m->base, train->classes, train->n_classes, err)) != NTG_OK)
	{
		ntg_cvae_kind.destroy(&m->base);
		return rc;
	}
	cvae_init_weights(m, cfg.seed);
	cvae_configure_optimizer(m, train->n_rows);
	ntg_sample_options_defaults(&ntg_cvae_kind, 0, &m->base.sampling);
	plan->epochs = cfg.epochs;
	plan->seed = cfg.seed;
	*model = &m->base;
	return NTG_OK;
}

static void
cvae_destroy(NtgModel *model)
{
	CvaeModel  *m = (CvaeModel *) model;

	if (m == NULL)
		return;
	cvae_free_acts(m);
	cvae_free_loop(m);
	ntg_model_free_classes(&m->base);
	ntg_tok_free(&m->tok);
	nn_params_free(&m->params);
	ntg_free(m);
}

const NtgModelKind ntg_cvae_kind = {
	.name = "cvae",
	.summary = "conditional variational autoencoder: MLP encoder and decoder over whole rows, categorical outputs",
	.family = NTG_FAMILY_LATENT,
	.caps = NTG_CAP_GENERATE | NTG_CAP_VALIDATION | NTG_CAP_EPOCHS | NTG_CAP_QUANTIZE,
	.sample_options = cvae_sample_options,
	.n_sample_options = CVAE_N_OPTIONS,
	.tiny_hyperparams = "{\"hidden1\": 24, \"hidden2\": 16, \"latent_dim\": 4, \"embed_dim\": 4, "
	"\"epochs\": 3, \"batch_size\": 8}",
	.estimate = cvae_estimate,
	.create = cvae_create,
	.train_epoch = cvae_train_epoch,
	.eval_loss = cvae_eval_loss,
	.sample = cvae_sample,
	.save = cvae_save,
	.load = cvae_load,
	.config_json = cvae_config_json,
	.destroy = cvae_destroy,
	.quantize = cvae_quantize,
};
