/*
 * mamba.c — the "mamba" generator kind: hyperparameters, model construction and seeded
 * initialisation, and the NtgModelKind table.  The passes are in mamba_pass.c, the epoch loop in
 * mamba_train.c, sampling in mamba_sample.c, the stored format in mamba_io.c.
 */
#include "models/mamba.h"
#include "nn/nn_simd.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Defaults: shapes from Table I of the paper; training settings (epochs, lr, dropout, token
 * noise) and stratified sampling chosen on a validation part of the nDPI benchmark's training
 * split (docs/research/mamba-quality.md). */
static const MambaConfig mamba_defaults = {
	.dim = 72,
	.inner_dim = 0,				/* 0: 2 x dim (144) */
	.n_layers = 4,
	.state_dim = 16,
	.conv_width = 4,
	.dt_rank = 0,				/* 0: ceil(dim / 16) */
	.max_len = 10,
	.epochs = 25,
	.batch_size = 32,
	.lr = 2e-3,
	.min_lr_ratio = 0.1,
	.warmup = -1,				/* -1: 5 % of the total steps */
	.cosine = 1,
	.weight_decay = 0.01,
	.grad_clip = 1.0,
	.beta1 = 0.9,
	.beta2 = 0.999,
	.dropout = 0.1,
	.token_noise = 0.7,
	.seed = 42,
	.sample_batch = 256,
	.blas_threads = 1,
};

/* Initialisation of the step size (the reference implementation's dt_min, dt_max, floor). */
#define MAMBA_DT_MIN	0.001
#define MAMBA_DT_MAX	0.1
#define MAMBA_DT_FLOOR	1e-4

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
mamba_read_params(NtgParams *p, MambaConfig *c, NtgError *err)
{
	static const char *const schedules[] = {"cosine", "constant", NULL};
	const char *sched;
	int64_t		v;
	int			rc;

	*c = mamba_defaults;
	if ((rc = read_int(p, "dim", c->dim, 1, MAMBA_MAX_DIM, &c->dim, err)) != NTG_OK ||
		(rc = read_int(p, "inner_dim", 2 * c->dim, 1, MAMBA_MAX_INNER, &c->inner_dim, err)) != NTG_OK ||
		(rc = read_int(p, "n_layers", c->n_layers, 1, MAMBA_MAX_LAYERS, &c->n_layers, err)) != NTG_OK ||
		(rc = read_int(p, "state_dim", c->state_dim, 1, MAMBA_MAX_STATE, &c->state_dim, err)) != NTG_OK ||
		(rc = read_int(p, "conv_width", c->conv_width, 1, MAMBA_MAX_CONV, &c->conv_width, err)) != NTG_OK ||
		(rc = read_int(p, "dt_rank", 0, 0, MAMBA_MAX_DT_RANK, &c->dt_rank, err)) != NTG_OK ||
		(rc = read_int(p, "max_len", c->max_len, 1, MAMBA_MAX_LEN, &c->max_len, err)) != NTG_OK ||
		(rc = read_int(p, "epochs", c->epochs, 0, 100000, &c->epochs, err)) != NTG_OK ||
		(rc = read_int(p, "batch_size", c->batch_size, 1, MAMBA_MAX_BATCH, &c->batch_size, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "lr", c->lr, 0.0, 10.0, &c->lr, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "min_lr_ratio", c->min_lr_ratio, 0.0, 1.0, &c->min_lr_ratio, err)) != NTG_OK ||
		(rc = ntg_params_int(p, "warmup", c->warmup, -1, INT64_C(1) << 40, &c->warmup, err)) != NTG_OK ||
		(rc = ntg_params_string(p, "lr_schedule", "cosine", schedules, &sched, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "weight_decay", c->weight_decay, 0.0, 10.0, &c->weight_decay, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "grad_clip", c->grad_clip, 0.0, 1e9, &c->grad_clip, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "beta1", c->beta1, 0.0, 0.999999, &c->beta1, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "beta2", c->beta2, 0.0, 0.999999, &c->beta2, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "dropout", c->dropout, 0.0, 0.9, &c->dropout, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "token_noise", c->token_noise, 0.0, 0.9, &c->token_noise, err)) != NTG_OK ||
		(rc = ntg_params_int(p, "seed", 42, 0, INT64_MAX, &v, err)) != NTG_OK ||
		(rc = read_int(p, "sample_batch", c->sample_batch, 1, MAMBA_MAX_BATCH, &c->sample_batch, err)) != NTG_OK ||
		(rc = read_int(p, "blas_threads", c->blas_threads, 0, 256, &c->blas_threads, err)) != NTG_OK)
		return rc;
	c->seed = (uint64_t) v;
	c->cosine = strcmp(sched, "cosine") == 0;
	if (c->dt_rank == 0)
		c->dt_rank = mamba_auto_dt_rank(c->dim);
	return NTG_OK;
}

static void
layer_name(char *buf, size_t size, int l, const char *what)
{
	snprintf(buf, size, "layers.%d.%s", l, what);
}

/* Declare one layer's tensors; returns the last index (< 0: out of memory). */
static int
declare_layer(NnParams *p, MambaLayer *L, int l, const MambaConfig *c)
{
	int			D = c->dim,
				E = c->inner_dim,
				NS = c->state_dim,
				R = c->dt_rank;
	char		name[NN_MAX_NAME];

	layer_name(name, sizeof(name), l, "norm");
	L->norm = nn_params_declare(p, name, 1, D, 0, 0);
	layer_name(name, sizeof(name), l, "mixer.in_proj");
	L->in_proj = nn_params_declare(p, name, 2, 2 * E, D, 1);
	layer_name(name, sizeof(name), l, "mixer.conv1d.weight");
	L->conv_w = nn_params_declare(p, name, 2, E, c->conv_width, 1);
	layer_name(name, sizeof(name), l, "mixer.conv1d.bias");
	L->conv_b = nn_params_declare(p, name, 1, E, 0, 0);
	layer_name(name, sizeof(name), l, "mixer.x_proj");
	L->x_proj = nn_params_declare(p, name, 2, R + 2 * NS, E, 1);
	layer_name(name, sizeof(name), l, "mixer.dt_proj.weight");
	L->dt_proj = nn_params_declare(p, name, 2, E, R, 1);
	layer_name(name, sizeof(name), l, "mixer.dt_proj.bias");
	L->dt_bias = nn_params_declare(p, name, 1, E, 0, 0);
	/* A_log and D are not decayed (the reference marks them _no_weight_decay) */
	layer_name(name, sizeof(name), l, "mixer.A_log");
	L->A_log = nn_params_declare(p, name, 2, E, NS, 0);
	layer_name(name, sizeof(name), l, "mixer.D");
	L->D = nn_params_declare(p, name, 1, E, 0, 0);
	layer_name(name, sizeof(name), l, "mixer.out_proj");
	L->out_proj = nn_params_declare(p, name, 2, D, E, 1);
	return L->out_proj;
}

/*
 * The matrices int8 replaces in a quantized mamba, as in a quantized llama: the four projections
 * of every mixer (in_proj, x_proj, dt_proj, out_proj), the output head and the token embedding
 * (looked up by row).  A_log ([inner, state]: a sixth of what stayed float32, and over 2 % of the
 * float model) is stored as int8 too but read as floats: the sampler and the scan take
 * A = -exp(A_log) from its dequantized values, whose error (at most scale/2, about 0.011 for the
 * log(1..state) of the usual initialization) is 1 % of A.  The norms, the depthwise convolution
 * (conv_width taps per channel: a per-row scale would cost as much as the taps save), D and the
 * biases stay float.  The embedding and the head are the largest matrices (each vocabulary x
 * dim); docs/quantization.md has the measurements behind these choices.
 */
static void
mamba_mark_quantizable(MambaModel *m)
{
	NnParams   *p = &m->params;

	for (int l = 0; l < m->cfg.n_layers; l++)
	{
		const MambaLayer *L = &m->layers[l];

		nn_params_mark_quantizable(p, L->in_proj, NN_QUANTIZE_MATMUL);
		nn_params_mark_quantizable(p, L->x_proj, NN_QUANTIZE_MATMUL);
		nn_params_mark_quantizable(p, L->dt_proj, NN_QUANTIZE_MATMUL);
		nn_params_mark_quantizable(p, L->out_proj, NN_QUANTIZE_MATMUL);
		nn_params_mark_quantizable(p, L->A_log, NN_QUANTIZE_STORED);
	}
	nn_params_mark_quantizable(p, m->t_emb, NN_QUANTIZE_ROWS);
	nn_params_mark_quantizable(p, m->t_out, NN_QUANTIZE_MATMUL);
}

/* kind->quantize: the marked matrices to int8; the training and sampling buffers go (the
 * sampler keeps A computed from the weights, and a quantized model is not trained). */
static int
mamba_quantize(NtgModel *model, int mode, NtgError *err)
{
	MambaModel *m = (MambaModel *) model;

	mamba_free_acts(m);
	mamba_free_sampler(m);
	return ntg_model_quantize_params(&m->base, &m->params, mode, err);
}

int
mamba_alloc(const MambaConfig *cfg, int n_classes, MambaModel **out, int with_grad,
			NtgError *err)
{
	MambaModel *m = ntg_calloc(1, sizeof(MambaModel));

	*out = NULL;
	if (m == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	m->base.kind = &ntg_mamba_kind;
	m->base.n_classes = n_classes;
	m->base.max_len = cfg->max_len;
	m->cfg = *cfg;
	m->layers = ntg_calloc(cfg->n_layers, sizeof(MambaLayer));
	if (m->layers == NULL)
		goto nomem;
	m->t_emb = nn_params_declare(&m->params, "tok_embeddings", 2, cfg->vocab_size, cfg->dim, 1);
	for (int l = 0; l < cfg->n_layers; l++)
		if (declare_layer(&m->params, &m->layers[l], l, cfg) < 0)
			goto nomem;
	m->t_norm = nn_params_declare(&m->params, "norm", 1, cfg->dim, 0, 0);
	m->t_out = nn_params_declare(&m->params, "output", 2, cfg->vocab_size, cfg->dim, 1);
	if (m->t_emb < 0 || m->t_out < 0 ||
		(with_grad >= 0 && nn_params_alloc(&m->params, with_grad) != NTG_OK))
		goto nomem;
	mamba_mark_quantizable(m);
	m->base.n_params = (int64_t) m->params.count;
	m->base.weights = m->params.data;
	m->base.n_weights = m->params.count;
	*out = m;
	return NTG_OK;

nomem:
	ntg_mamba_kind.destroy(&m->base);
	return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
}

static void
init_uniform(MambaModel *m, int i, NtgRng *rng, double bound)
{
	float	   *w = nn_params_ptr(&m->params, i);

	for (size_t j = 0; j < m->params.tensors[i].count; j++)
		w[j] = (float) ((2.0 * ntg_rng_double(rng) - 1.0) * bound);
}

static void
init_fill(MambaModel *m, int i, float v)
{
	float	   *w = nn_params_ptr(&m->params, i);

	for (size_t j = 0; j < m->params.tensors[i].count; j++)
		w[j] = v;
}

/*
 * As mamba_simple and MambaLMHeadModel initialise (drawn here from the seeded generator):
 * PyTorch's default U(+-1/sqrt(fan_in)) for the projections and the convolution (fan_in =
 * conv_width), out_proj scaled by 1/sqrt(n_layers) (pre-norm residual rescaling), dt_proj
 * weights U(+-dt_rank^-1/2), dt_bias the inverse softplus of step sizes log-uniform in
 * [0.001, 0.1] (floor 1e-4), A_log[e, s] = log(s + 1) (S4D-real), D = 1, norms 1; embeddings
 * N(0, 0.02), and the untied output head N(0, 0.02) as well, so that the first predictions
 * are near uniform.
 */
void
mamba_init_weights(MambaModel *m, uint64_t seed)
{
	const MambaConfig *c = &m->cfg;
	NtgRng		rng;

	ntg_rng_seed(&rng, seed);
	nn_params_init_normal(&m->params, m->t_emb, &rng, 0.02f, 0.0f);
	for (int l = 0; l < c->n_layers; l++)
	{
		const MambaLayer *L = &m->layers[l];
		float	   *dtb = nn_params_ptr(&m->params, L->dt_bias);
		float	   *alog = nn_params_ptr(&m->params, L->A_log);

		init_fill(m, L->norm, 1.0f);
		init_uniform(m, L->in_proj, &rng, 1.0 / sqrt(c->dim));
		init_uniform(m, L->conv_w, &rng, 1.0 / sqrt(c->conv_width));
		init_uniform(m, L->conv_b, &rng, 1.0 / sqrt(c->conv_width));
		init_uniform(m, L->x_proj, &rng, 1.0 / sqrt(c->inner_dim));
		init_uniform(m, L->dt_proj, &rng, 1.0 / sqrt(c->dt_rank));
		for (int e = 0; e < c->inner_dim; e++)
		{
			double		dt = exp(ntg_rng_double(&rng) * (log(MAMBA_DT_MAX) - log(MAMBA_DT_MIN)) +
								 log(MAMBA_DT_MIN));

			dt = fmax(dt, MAMBA_DT_FLOOR);
			dtb[e] = (float) (dt + log(-expm1(-dt)));
			for (int s = 0; s < c->state_dim; s++)
				alog[(size_t) e * c->state_dim + s] = (float) log(s + 1.0);
		}
		init_fill(m, L->D, 1.0f);
		init_uniform(m, L->out_proj, &rng, 1.0 / sqrt(c->inner_dim) / sqrt(c->n_layers));
	}
	init_fill(m, m->t_norm, 1.0f);
	nn_params_init_normal(&m->params, m->t_out, &rng, 0.02f, 0.0f);
}

void
mamba_compute_A(const MambaModel *m, int l, float *A)
{
	const float *Alog = nn_params_ptr(&m->params, m->layers[l].A_log);
	size_t		n = (size_t) m->cfg.inner_dim * m->cfg.state_dim;

	for (size_t i = 0; i < n; i++)
		A[i] = Alog[i];
	nn_vexp(A, (int) n);
	for (size_t i = 0; i < n; i++)
		A[i] = -A[i];
}

static void
mamba_configure_optimizer(MambaModel *m, int64_t n_rows)
{
	const MambaConfig *c = &m->cfg;
	int64_t		per_epoch = (n_rows + c->batch_size - 1) / c->batch_size;

	m->total_steps = per_epoch * c->epochs;
	memset(&m->opt, 0, sizeof(m->opt));
	m->opt.lr = c->lr;
	m->opt.min_lr_ratio = c->min_lr_ratio;
	m->opt.warmup = c->warmup >= 0 ? c->warmup : m->total_steps / 20;
	m->opt.total_steps = m->total_steps;
	m->opt.cosine = c->cosine;
	m->opt.beta1 = c->beta1;
	m->opt.beta2 = c->beta2;
	m->opt.eps = 1e-8;
	m->opt.weight_decay = c->weight_decay;
	m->opt.grad_clip = c->grad_clip;
}

/* Re-derive the optimizer schedule after load (a loaded model can be trained further). */
void
mamba_reset_optimizer(MambaModel *m, int64_t n_rows)
{
	mamba_configure_optimizer(m, n_rows);
}

char *
mamba_config_json(const NtgModel *model)
{
	const MambaModel *m = (const MambaModel *) model;
	const MambaConfig *c = &m->cfg;
	char		buf[1024];

	snprintf(buf, sizeof(buf),
			 "{\"dim\": %d, \"inner_dim\": %d, \"n_layers\": %d, \"state_dim\": %d, "
			 "\"conv_width\": %d, \"dt_rank\": %d, \"max_len\": %d, \"vocab_size\": %d, "
			 "\"n_values\": %d, \"n_classes\": %d, \"epochs\": %d, \"batch_size\": %d, "
			 "\"lr\": %.17g, \"min_lr_ratio\": %.17g, \"warmup\": %lld, \"lr_schedule\": \"%s\", "
			 "\"weight_decay\": %.17g, \"grad_clip\": %.17g, \"beta1\": %.17g, "
			 "\"beta2\": %.17g, \"dropout\": %.17g, \"token_noise\": %.17g, \"seed\": %llu, "
			 "\"sample_batch\": %d, \"blas_threads\": %d, \"params\": %lld}",
			 c->dim, c->inner_dim, c->n_layers, c->state_dim, c->conv_width, c->dt_rank,
			 c->max_len, c->vocab_size, m->tok.n_values, m->base.n_classes, c->epochs,
			 c->batch_size, c->lr, c->min_lr_ratio, (long long) m->opt.warmup,
			 c->cosine ? "cosine" : "constant", c->weight_decay, c->grad_clip, c->beta1,
			 c->beta2, c->dropout, c->token_noise, (unsigned long long) c->seed,
			 c->sample_batch, c->blas_threads, (long long) m->base.n_params);
	return ntg_strdup(buf);
}

/* The config of a model for these hyperparameters and rows, before anything is allocated. */
static int
mamba_plan_config(NtgParams *params, const NtgSeqSet *train, MambaConfig *cfg, NtgError *err)
{
	int			rc;

	if ((rc = mamba_read_params(params, cfg, err)) != NTG_OK)
		return rc;
	if (train->n_rows < 1 || train->n_classes < 1)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "the training set is empty");
	if (train->n_classes > MAMBA_MAX_CLASSES)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "too many classes: %d (the limit is %d)",
						 train->n_classes, MAMBA_MAX_CLASSES);
	/* N = the longest training row, capped by max_len (and at least 1) */
	if (train->max_len < cfg->max_len)
		cfg->max_len = train->max_len > 0 ? train->max_len : 1;
	return NTG_OK;
}

int64_t
mamba_param_count(const MambaConfig *c)
{
	int64_t		D = c->dim,
				E = c->inner_dim,
				NS = c->state_dim,
				R = c->dt_rank,
				V = c->vocab_size;
	int64_t		layer = D + 2 * E * D + E * c->conv_width + E + (R + 2 * NS) * E + E * R + E +
		E * NS + E + D * E;

	return 2 * V * D + D + c->n_layers * layer;
}

/*
 * kind->estimate: weights with gradients and two Adam moments (16 bytes a parameter), two more
 * copies while training (the best epoch's weights kept by validation, the saved value), the
 * training buffers of a micro-batch, the tokenizer's values and the shuffle order of the rows.
 */
static int
mamba_estimate(NtgParams *params, const NtgSeqSet *train, NtgTrainPlan *plan, NtgError *err)
{
	MambaConfig cfg;
	NtgTokenizer tok;
	int64_t		values = train->n_rows > 0 ? train->row_start[train->n_rows] : 0;
	int64_t		n;
	int			rc;

	if ((rc = mamba_plan_config(params, train, &cfg, err)) != NTG_OK ||
		(rc = ntg_tok_build(&tok, train, cfg.max_len, err)) != NTG_OK)
		return rc;
	cfg.vocab_size = ntg_tok_vocab_size(&tok);
	ntg_tok_free(&tok);
	n = mamba_param_count(&cfg);
	plan->epochs = cfg.epochs;
	plan->seed = cfg.seed;
	plan->bytes = n * (16 + 8) + (int64_t) mamba_acts_bytes(&cfg, cfg.batch_size) +
		values * 4 + (int64_t) train->n_rows * 8 + ((int64_t) 64 << 10);
	return NTG_OK;
}

static int
mamba_create(NtgParams *params, const NtgSeqSet *train, NtgModel **model, NtgTrainPlan *plan,
			 NtgError *err)
{
	MambaConfig cfg;
	NtgTokenizer tok;
	MambaModel *m;
	int			rc;

	*model = NULL;
	if ((rc = mamba_plan_config(params, train, &cfg, err)) != NTG_OK)
		return rc;
	if ((rc = ntg_tok_build(&tok, train, cfg.max_len, err)) != NTG_OK)
		return rc;
	cfg.vocab_size = ntg_tok_vocab_size(&tok);
	if ((rc = mamba_alloc(&cfg, train->n_classes, &m, 1, err)) != NTG_OK)
	{
		ntg_tok_free(&tok);
		return rc;
	}
	m->tok = tok;
	if ((rc = ntg_model_copy_classes(&m->base, train->classes, train->n_classes, err)) != NTG_OK)
	{
		ntg_mamba_kind.destroy(&m->base);
		return rc;
	}
	mamba_init_weights(m, cfg.seed);
	mamba_configure_optimizer(m, train->n_rows);
	ntg_sample_options_defaults(&ntg_mamba_kind, 0, &m->base.sampling);
	plan->epochs = cfg.epochs;
	plan->seed = cfg.seed;
	*model = &m->base;
	return NTG_OK;
}

static void
mamba_destroy(NtgModel *model)
{
	MambaModel *m = (MambaModel *) model;

	if (m == NULL)
		return;
	mamba_free_acts(m);
	mamba_free_sampler(m);
	ntg_free(m->order);
	ntg_model_free_classes(&m->base);
	ntg_tok_free(&m->tok);
	nn_params_free(&m->params);
	ntg_free(m->layers);
	ntg_free(m);
}

const NtgModelKind ntg_mamba_kind = {
	.name = "mamba",
	.summary = "Mamba selective state-space model over payload-length tokens",
	.family = NTG_FAMILY_TOKEN,
	.caps = NTG_CAP_GENERATE | NTG_CAP_VALIDATION | NTG_CAP_EPOCHS | NTG_CAP_QUANTIZE,
	.sample_options = ntg_token_sample_options_stratified,
	.n_sample_options = NTG_TOKEN_N_OPTIONS,
	.tiny_hyperparams = "{\"dim\": 8, \"inner_dim\": 16, \"n_layers\": 1, \"state_dim\": 4, "
	"\"epochs\": 2, \"batch_size\": 8}",
	.estimate = mamba_estimate,
	.create = mamba_create,
	.train_epoch = mamba_train_epoch,
	.eval_loss = mamba_eval_loss,
	.sample = mamba_sample,
	.save = mamba_save,
	.load = mamba_load,
	.config_json = mamba_config_json,
	.quantize = mamba_quantize,
	.destroy = mamba_destroy,
};
