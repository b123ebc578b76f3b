/*
 * llama.c — the "llama" generator kind: hyperparameters, model construction and seeded
 * initialisation, and the NtgModelKind table.  Training is in llama_train.c, sampling in
 * llama_sample.c, the stored format in llama_io.c.
 */
#include "models/llama.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Defaults: shapes from Table I of the paper; the paper gives no optimizer settings, so these
 * are the usual ones for a small transformer (docs/nn.md).  Epochs, dropout and token noise are
 * the point chosen on validation data (docs/research/generator-quality.md): longer training
 * with both regularisers closes the JSD gaps without copying more than real traffic does. */
static const LlamaConfig llama_defaults = {
	.dim = 160,
	.hidden_dim = 320,
	.n_layers = 4,
	.n_heads = 8,
	.max_len = 10,
	.rope_theta = 10000.0,
	.epochs = 50,
	.batch_size = 32,
	.lr = 1e-3,
	.min_lr_ratio = 0.1,
	.warmup = -1,				/* -1: 5 % of the total steps */
	.cosine = 1,
	.weight_decay = 0.01,
	.grad_clip = 1.0,
	.beta1 = 0.9,
	.beta2 = 0.999,
	.dropout = 0.3,
	.token_noise = 0.6,
	.half_weights = 1,
	.seed = 42,
	.sample_batch = 256,
	.blas_threads = 1,
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
llama_read_params(NtgParams *p, LlamaConfig *c, NtgError *err)
{
	static const char *const schedules[] = {"cosine", "constant", NULL};
	const char *sched;
	int64_t		v;
	int			rc;

	*c = llama_defaults;
	if ((rc = read_int(p, "dim", c->dim, 2, LLAMA_MAX_DIM, &c->dim, err)) != NTG_OK ||
		(rc = read_int(p, "hidden_dim", c->hidden_dim, 1, LLAMA_MAX_HIDDEN, &c->hidden_dim, err)) != NTG_OK ||
		(rc = read_int(p, "n_layers", c->n_layers, 1, LLAMA_MAX_LAYERS, &c->n_layers, err)) != NTG_OK ||
		(rc = read_int(p, "n_heads", c->n_heads, 1, LLAMA_MAX_HEADS, &c->n_heads, err)) != NTG_OK ||
		(rc = read_int(p, "max_len", c->max_len, 1, LLAMA_MAX_LEN, &c->max_len, err)) != NTG_OK ||
		(rc = read_int(p, "epochs", c->epochs, 0, 100000, &c->epochs, err)) != NTG_OK ||
		(rc = read_int(p, "batch_size", c->batch_size, 1, LLAMA_MAX_BATCH, &c->batch_size, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "lr", c->lr, 0.0, 10.0, &c->lr, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "min_lr_ratio", c->min_lr_ratio, 0.0, 1.0, &c->min_lr_ratio, err)) != NTG_OK ||
		(rc = ntg_params_int(p, "warmup", c->warmup, -1, INT64_C(1) << 40, &c->warmup, err)) != NTG_OK ||
		(rc = ntg_params_string(p, "lr_schedule", "cosine", schedules, &sched, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "weight_decay", c->weight_decay, 0.0, 10.0, &c->weight_decay, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "grad_clip", c->grad_clip, 0.0, 1e9, &c->grad_clip, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "beta1", c->beta1, 0.0, 0.999999, &c->beta1, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "beta2", c->beta2, 0.0, 0.999999, &c->beta2, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "rope_theta", c->rope_theta, 1.0, 1e9, &c->rope_theta, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "dropout", c->dropout, 0.0, 0.9, &c->dropout, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "token_noise", c->token_noise, 0.0, 0.9, &c->token_noise, err)) != NTG_OK ||
		(rc = ntg_params_bool(p, "half_weights", c->half_weights, &c->half_weights, err)) != NTG_OK ||
		(rc = ntg_params_int(p, "seed", 42, 0, INT64_MAX, &v, err)) != NTG_OK ||
		(rc = read_int(p, "sample_batch", c->sample_batch, 1, LLAMA_MAX_BATCH, &c->sample_batch, err)) != NTG_OK ||
		(rc = read_int(p, "blas_threads", c->blas_threads, 0, 256, &c->blas_threads, err)) != NTG_OK)
		return rc;
	c->seed = (uint64_t) v;
	c->cosine = strcmp(sched, "cosine") == 0;
	if (c->dim % c->n_heads != 0 || (c->dim / c->n_heads) % 2 != 0)
		return ntg_error(err, NTG_ERR_INVALID_ARG,
						 "hyperparameter \"dim\" must be a multiple of 2 * n_heads");
	return NTG_OK;
}

static void llama_mark_quantizable(LlamaModel *m);

static void
layer_name(char *buf, size_t size, int l, const char *what)
{
	snprintf(buf, size, "layers.%d.%s", l, what);
}

int
llama_alloc(const LlamaConfig *cfg, int n_classes, LlamaModel **out, int with_grad,
			NtgError *err)
{
	LlamaModel *m = ntg_calloc(1, sizeof(LlamaModel));
	int			C = cfg->dim,
				H = cfg->hidden_dim,
				V = cfg->vocab_size;
	char		name[NN_MAX_NAME];
	int			HS = cfg->dim / cfg->n_heads;

	*out = NULL;
	if (m == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	m->base.kind = &ntg_llama_kind;
	m->base.n_classes = n_classes;
	m->base.max_len = cfg->max_len;
	m->cfg = *cfg;
	m->layers = ntg_calloc(cfg->n_layers, sizeof(LlamaLayer));
	m->rope_cs = ntg_malloc((size_t) (cfg->max_len + 1) * HS * sizeof(float));
	if (m->layers == NULL || m->rope_cs == NULL)
		goto nomem;
	rope_table(m->rope_cs, cfg->max_len + 1, HS, cfg->rope_theta);

	m->t_emb = nn_params_declare(&m->params, "tok_embeddings", 2, V, C, 1);
	for (int l = 0; l < cfg->n_layers; l++)
	{
		LlamaLayer *L = &m->layers[l];

		layer_name(name, sizeof(name), l, "attention_norm");
		L->attention_norm = nn_params_declare(&m->params, name, 1, C, 0, 0);
		layer_name(name, sizeof(name), l, "attention.wq");
		L->wq = nn_params_declare(&m->params, name, 2, C, C, 1);
		layer_name(name, sizeof(name), l, "attention.wk");
		L->wk = nn_params_declare(&m->params, name, 2, C, C, 1);
		layer_name(name, sizeof(name), l, "attention.wv");
		L->wv = nn_params_declare(&m->params, name, 2, C, C, 1);
		layer_name(name, sizeof(name), l, "attention.wo");
		L->wo = nn_params_declare(&m->params, name, 2, C, C, 1);
		layer_name(name, sizeof(name), l, "ffn_norm");
		L->ffn_norm = nn_params_declare(&m->params, name, 1, C, 0, 0);
		layer_name(name, sizeof(name), l, "feed_forward.w1");
		L->w1 = nn_params_declare(&m->params, name, 2, H, C, 1);
		layer_name(name, sizeof(name), l, "feed_forward.w3");
		L->w3 = nn_params_declare(&m->params, name, 2, H, C, 1);
		layer_name(name, sizeof(name), l, "feed_forward.w2");
		L->w2 = nn_params_declare(&m->params, name, 2, C, H, 1);
		if (L->w2 < 0)
			goto nomem;
	}
	m->t_norm = nn_params_declare(&m->params, "norm", 1, C, 0, 0);
	m->t_out = nn_params_declare(&m->params, "output", 2, V, C, 1);
	if (m->t_out < 0 || (with_grad >= 0 && nn_params_alloc(&m->params, with_grad) != NTG_OK))
		goto nomem;
	llama_mark_quantizable(m);
	m->base.n_params = (int64_t) m->params.count;
	m->base.weights = m->params.data;
	m->base.n_weights = m->params.count;
	*out = m;
	return NTG_OK;

nomem:
	ntg_llama_kind.destroy(&m->base);
	return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
}

/*
 * The matrices int8 replaces in a quantized llama: every projection of every layer, the output
 * head and the token embedding (looked up by row).  Only the norms stay float.  The embedding and
 * the head are the largest matrices of the default model (each vocabulary x dim); docs/models.md
 * ("Quantization") has the measurements behind including them.
 */
static void
llama_mark_quantizable(LlamaModel *m)
{
	NnParams   *p = &m->params;

	for (int l = 0; l < m->cfg.n_layers; l++)
	{
		const LlamaLayer *L = &m->layers[l];

		nn_params_mark_quantizable(p, L->wq, NN_QUANTIZE_MATMUL);
		nn_params_mark_quantizable(p, L->wk, NN_QUANTIZE_MATMUL);
		nn_params_mark_quantizable(p, L->wv, NN_QUANTIZE_MATMUL);
		nn_params_mark_quantizable(p, L->wo, NN_QUANTIZE_MATMUL);
		nn_params_mark_quantizable(p, L->w1, NN_QUANTIZE_MATMUL);
		nn_params_mark_quantizable(p, L->w3, NN_QUANTIZE_MATMUL);
		nn_params_mark_quantizable(p, L->w2, NN_QUANTIZE_MATMUL);
	}
	nn_params_mark_quantizable(p, m->t_emb, NN_QUANTIZE_ROWS);
	nn_params_mark_quantizable(p, m->t_out, NN_QUANTIZE_MATMUL);
}

/*
 * kind->finish_training: the multiplied matrices rounded to float16 values (hyperparameter
 * half_weights), so that one-row sampling can read a float16 copy of them (nn.h).  Rounding
 * moves a weight by at most 2^-11 of itself (docs/research/llama-quality.md, "Float16 weights":
 * what that did to the rows).  Stored with the model (llama_io.c, format 3), so that the best
 * epoch's weights, put back by the driver from a saved copy, are rounded too.  On a
 * device, the weights come back to the host to be rounded and go out again.
 */
static int
llama_finish_training(NtgModel *model, NtgError *err)
{
	LlamaModel *m = (LlamaModel *) model;
	const struct NnDeviceApi *dev = m->gpu != NULL ? model->device : NULL;
	int			rc;

	if (!m->cfg.half_weights || m->params.quant != NN_QUANT_NONE || m->params.borrowed)
		return NTG_OK;
	if (dev != NULL && (rc = llama_set_device(model, NULL, err)) != NTG_OK)
		return rc;
	llama_forget_prefixes(m);
	nn_params_round_half(&m->params);
	if (dev != NULL)
		return llama_set_device(model, dev, err);
	return NTG_OK;
}

/* kind->quantize: the marked matrices to int8; kept results of the float weights go. */
static int
llama_quantize(NtgModel *model, int mode, NtgError *err)
{
	LlamaModel *m = (LlamaModel *) model;

	llama_free_acts(m);
	llama_forget_prefixes(m);
	return ntg_model_quantize_params(&m->base, &m->params, mode, err);
}

void
llama_init_weights(LlamaModel *m, uint64_t seed)
{
	NtgRng		rng;
	float		std = 0.02f;
	float		proj_std = std / sqrtf(2.0f * m->cfg.n_layers);

	ntg_rng_seed(&rng, seed);
	for (int i = 0; i < m->params.n_tensors; i++)
	{
		const NnTensor *t = &m->params.tensors[i];
		int			is_proj = strstr(t->name, ".wo") != NULL || strstr(t->name, ".w2") != NULL;

		if (t->ndim == 1)
			nn_params_init_normal(&m->params, i, &rng, 0.0f, 1.0f);
		else
			nn_params_init_normal(&m->params, i, &rng, is_proj ? proj_std : std, 0.0f);
	}
}

static void
llama_configure_optimizer(LlamaModel *m, int64_t n_rows)
{
	const LlamaConfig *c = &m->cfg;
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

/* The full config as JSON for ntg.models.config (and the stored container). */
char *
llama_config_json(const NtgModel *model)
{
	const LlamaModel *m = (const LlamaModel *) model;
	const LlamaConfig *c = &m->cfg;
	char		buf[1024];

	snprintf(buf, sizeof(buf),
			 "{\"dim\": %d, \"hidden_dim\": %d, \"n_layers\": %d, \"n_heads\": %d, "
			 "\"max_len\": %d, \"vocab_size\": %d, \"n_values\": %d, \"n_classes\": %d, "
			 "\"rope_theta\": %.17g, \"epochs\": %d, \"batch_size\": %d, \"lr\": %.17g, "
			 "\"min_lr_ratio\": %.17g, \"warmup\": %lld, \"lr_schedule\": \"%s\", "
			 "\"weight_decay\": %.17g, \"grad_clip\": %.17g, \"beta1\": %.17g, "
			 "\"beta2\": %.17g, \"dropout\": %.17g, \"token_noise\": %.17g, "
			 "\"half_weights\": %s, \"seed\": %llu, "
			 "\"sample_batch\": %d, \"blas_threads\": %d, \"params\": %lld}",
			 c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->max_len, c->vocab_size,
			 m->tok.n_values, m->base.n_classes, c->rope_theta, c->epochs, c->batch_size,
			 c->lr, c->min_lr_ratio, (long long) m->opt.warmup,
			 c->cosine ? "cosine" : "constant", c->weight_decay, c->grad_clip, c->beta1,
			 c->beta2, c->dropout, c->token_noise,
			 c->half_weights ? "true" : "false", (unsigned long long) c->seed,
			 c->sample_batch, c->blas_threads, (long long) m->base.n_params);
	return ntg_strdup(buf);
}

/* The config of a model for these hyperparameters and rows, before anything is allocated. */
static int
llama_plan_config(NtgParams *params, const NtgSeqSet *train, LlamaConfig *cfg, NtgError *err)
{
	int			rc;

	if ((rc = llama_read_params(params, cfg, err)) != NTG_OK)
		return rc;
	if (train->n_rows < 1 || train->n_classes < 1)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "the training set is empty");
	if (train->n_classes > LLAMA_MAX_CLASSES)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "too many classes: %d (the limit is %d)",
						 train->n_classes, LLAMA_MAX_CLASSES);
	/* N = the longest training row, capped by max_len (and at least 1). */
	if (train->max_len < cfg->max_len)
		cfg->max_len = train->max_len > 0 ? train->max_len : 1;
	return NTG_OK;
}

static int64_t
llama_param_count(const LlamaConfig *c)
{
	int64_t		C = c->dim,
				H = c->hidden_dim,
				V = c->vocab_size;

	return V * C * 2 + C + (int64_t) c->n_layers * (2 * C + 4 * C * C + 3 * H * C);
}

/*
 * kind->estimate: weights with gradients and two Adam moments (16 bytes a parameter), two more
 * copies while training (the best epoch's weights kept by validation, the saved value), the
 * activations of a batch, the tokenizer's values and the shuffle order of the rows.  The
 * vocabulary is counted as create() will build it (a sorted copy of the values, freed again).
 */
static int
llama_estimate(NtgParams *params, const NtgSeqSet *train, NtgTrainPlan *plan, NtgError *err)
{
	LlamaConfig cfg;
	NtgTokenizer tok;
	int64_t		values = train->n_rows > 0 ? train->row_start[train->n_rows] : 0;
	int64_t		n;
	int			rc;

	if ((rc = llama_plan_config(params, train, &cfg, err)) != NTG_OK ||
		(rc = ntg_tok_build(&tok, train, cfg.max_len, err)) != NTG_OK)
		return rc;
	cfg.vocab_size = ntg_tok_vocab_size(&tok);
	ntg_tok_free(&tok);
	n = llama_param_count(&cfg);
	plan->epochs = cfg.epochs;
	plan->seed = cfg.seed;
	plan->bytes = n * (16 + 8) + (int64_t) llama_acts_bytes(&cfg, cfg.batch_size) +
		values * 4 + (int64_t) train->n_rows * 8 + ((int64_t) 64 << 10);
	return NTG_OK;
}

static int
llama_create(NtgParams *params, const NtgSeqSet *train, NtgModel **model, NtgTrainPlan *plan,
			 NtgError *err)
{
	LlamaConfig cfg;
	NtgTokenizer tok;
	LlamaModel *m;
	int			rc;

	*model = NULL;
	if ((rc = llama_plan_config(params, train, &cfg, err)) != NTG_OK)
		return rc;
	if ((rc = ntg_tok_build(&tok, train, cfg.max_len, err)) != NTG_OK)
		return rc;
	cfg.vocab_size = ntg_tok_vocab_size(&tok);
	if ((rc = llama_alloc(&cfg, train->n_classes, &m, 1, err)) != NTG_OK)
	{
		ntg_tok_free(&tok);
		return rc;
	}
	m->tok = tok;
	if ((rc = ntg_model_copy_classes(&m->base, train->classes, train->n_classes, err)) != NTG_OK)
	{
		ntg_llama_kind.destroy(&m->base);
		return rc;
	}
	llama_init_weights(m, cfg.seed);
	llama_configure_optimizer(m, train->n_rows);
	ntg_sample_options_defaults(&ntg_llama_kind, 0, &m->base.sampling);
	plan->epochs = cfg.epochs;
	plan->seed = cfg.seed;
	*model = &m->base;
	return NTG_OK;
}

static void
llama_destroy(NtgModel *model)
{
	LlamaModel *m = (LlamaModel *) model;

	if (m == NULL)
		return;
	llama_device_free(m);
	llama_free_acts(m);
	llama_free_sampler(m);
	llama_free_prefixes(m);
	llama_node_free(m);
	ntg_model_free_classes(&m->base);
	ntg_tok_free(&m->tok);
	nn_params_free(&m->params);
	ntg_free(m->layers);
	ntg_free(m->rope_cs);
	ntg_free(m);
}

const NtgModelKind ntg_llama_kind = {
	.name = "llama",
	.summary = "LLaMA-style decoder-only transformer over payload-length tokens",
	.family = NTG_FAMILY_TOKEN,
	.caps = NTG_CAP_GENERATE | NTG_CAP_VALIDATION | NTG_CAP_EPOCHS | NTG_CAP_DEVICE | NTG_CAP_QUANTIZE,
	.sample_options = ntg_token_sample_options_guarded,
	.n_sample_options = NTG_TOKEN_N_OPTIONS,
	.tiny_hyperparams = "{\"dim\": 16, \"hidden_dim\": 32, \"n_layers\": 1, \"n_heads\": 2, "
	"\"epochs\": 2, \"batch_size\": 8}",
	.estimate = llama_estimate,
	.create = llama_create,
	.train_epoch = llama_train_epoch,
	.eval_loss = llama_eval_loss,
	.sample = llama_sample,
	.save = llama_save,
	.load = llama_load,
	.config_json = llama_config_json,
	.finish_training = llama_finish_training,
	.quantize = llama_quantize,
	.destroy = llama_destroy,
	.set_device = llama_set_device,
};

/* Re-derive the optimizer schedule after load (a loaded model can be trained further). */
void
llama_reset_optimizer(LlamaModel *m, int64_t n_rows)
{
	llama_configure_optimizer(m, n_rows);
}
