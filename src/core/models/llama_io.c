/*
 * llama_io.c — the stored form of a llama model in the checked container (common/blob.h):
 *
 *   llama.config   i32[17]  format version, shapes, vocabulary and class counts, training ints
 *   llama.hparams  f64[11]  rope_theta, lr, min_lr_ratio, weight_decay, grad_clip, beta1, beta2,
 *                           warmup, dropout, token_noise, half_weights (0 or 1)
 *
 * Format 2 added token_noise, format 3 half_weights; a format-1 value (f64[9]) still loads with
 * token_noise 0 and a format-2 value (f64[10]) with half_weights 0, which is how they were trained.
 *   vocab          i32[n_values]   the value vocabulary, strictly ascending
 *   classes        u8[bytes]       class names, each NUL-terminated, strictly ascending
 *   tok_embeddings, layers.L.attention_norm, layers.L.attention.{wq,wk,wv,wo},
 *   layers.L.ffn_norm, layers.L.feed_forward.{w1,w3,w2}, norm, output   f32 weights
 *
 * A quantized llama (kind->quantize) stores its matrices — every projection, the embedding and
 * the head — as int8 with per-row scales, and a "quantization" tensor (nn/nn_store.h).
 *
 * The container's CRC catches damage; load() still checks every number against the limits and
 * every tensor's type and shape against the config before it allocates anything, so a crafted
 * value with a valid checksum is refused with NTG_ERR_CORRUPT, never trusted.
 */
#include "models/llama.h"
#include "nn/nn_store.h"

#include <math.h>
#include <string.h>

#define LLAMA_FORMAT		3
#define LLAMA_N_CONFIG		17
#define LLAMA_N_HPARAMS		11
#define LLAMA_N_HPARAMS_V2	10		/* format 2: no half_weights */
#define LLAMA_N_HPARAMS_V1	9		/* format 1: no token_noise either */

enum
{
	CF_VERSION, CF_DIM, CF_HIDDEN, CF_LAYERS, CF_HEADS, CF_MAX_LEN, CF_VOCAB, CF_N_VALUES,
	CF_N_CLASSES, CF_EPOCHS_DONE, CF_EPOCHS, CF_BATCH, CF_SAMPLE_BATCH, CF_BLAS_THREADS,
	CF_COSINE, CF_SEED_LO, CF_SEED_HI
};

static int
corrupt(NtgError *err, const char *what)
{
	return ntg_error(err, NTG_ERR_CORRUPT, "model data is corrupt: %s", what);
}

int
llama_save(NtgModel *model, NtgBlob *blob, NtgError *err)
{
	LlamaModel *m = (LlamaModel *) model;
	const LlamaConfig *c = &m->cfg;
	int32_t		conf[LLAMA_N_CONFIG];
	double		hp[LLAMA_N_HPARAMS];
	char	   *json;
	uint32_t	dims[2];
	int			rc = NTG_OK;

	conf[CF_VERSION] = LLAMA_FORMAT;
	conf[CF_DIM] = c->dim;
	conf[CF_HIDDEN] = c->hidden_dim;
	conf[CF_LAYERS] = c->n_layers;
	conf[CF_HEADS] = c->n_heads;
	conf[CF_MAX_LEN] = c->max_len;
	conf[CF_VOCAB] = c->vocab_size;
	conf[CF_N_VALUES] = m->tok.n_values;
	conf[CF_N_CLASSES] = m->base.n_classes;
	conf[CF_EPOCHS_DONE] = m->base.epochs_done;
	conf[CF_EPOCHS] = c->epochs;
	conf[CF_BATCH] = c->batch_size;
	conf[CF_SAMPLE_BATCH] = c->sample_batch;
	conf[CF_BLAS_THREADS] = c->blas_threads;
	conf[CF_COSINE] = c->cosine;
	conf[CF_SEED_LO] = (int32_t) (uint32_t) c->seed;
	conf[CF_SEED_HI] = (int32_t) (uint32_t) (c->seed >> 32);
	hp[0] = c->rope_theta;
	hp[1] = c->lr;
	hp[2] = c->min_lr_ratio;
	hp[3] = c->weight_decay;
	hp[4] = c->grad_clip;
	hp[5] = c->beta1;
	hp[6] = c->beta2;
	hp[7] = (double) c->warmup;
	hp[8] = c->dropout;
	hp[9] = c->token_noise;
	hp[10] = c->half_weights ? 1.0 : 0.0;

	if ((json = llama_config_json(model)) == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	ntg_blob_init(blob, "llama", NULL);
	ntg_blob_take_config(blob, json);
	dims[0] = LLAMA_N_CONFIG;
	rc = ntg_blob_add_copy(blob, "llama.config", NTG_DTYPE_I32, 1, dims, conf, err);
	dims[0] = LLAMA_N_HPARAMS;
	if (rc == NTG_OK)
		rc = ntg_blob_add_copy(blob, "llama.hparams", NTG_DTYPE_F64, 1, dims, hp, err);
	dims[0] = (uint32_t) m->tok.n_values;
	if (rc == NTG_OK)
		rc = ntg_blob_add(blob, "vocab", NTG_DTYPE_I32, 1, dims, m->tok.values, err);
	if (rc == NTG_OK)
		rc = ntg_blob_add_classes(blob, "classes", m->base.classes, m->base.n_classes, err);
	if (rc == NTG_OK)
		rc = nn_params_save(blob, &m->params, err);
	return rc;
}

static int
in_range(int32_t v, int32_t lo, int32_t hi)
{
	return v >= lo && v <= hi;
}

/* Read and range-check llama.config and llama.hparams into cfg. */
static int
load_config(const NtgBlob *blob, LlamaConfig *cfg, int *n_values, int *n_classes,
			int *epochs_done, NtgError *err)
{
	int32_t		cf[LLAMA_N_CONFIG];
	double		hp[LLAMA_N_HPARAMS] = {0};
	int			n_hp;

	if (ntg_blob_read_tensor(blob, "llama.config", NTG_DTYPE_I32, LLAMA_N_CONFIG, cf, err) != NTG_OK)
		return corrupt(err, "llama configuration is missing or malformed");
	if (cf[CF_VERSION] < 1 || cf[CF_VERSION] > LLAMA_FORMAT)
		return corrupt(err, "unknown llama format version");
	n_hp = cf[CF_VERSION] == 1 ? LLAMA_N_HPARAMS_V1 :
		cf[CF_VERSION] == 2 ? LLAMA_N_HPARAMS_V2 : LLAMA_N_HPARAMS;
	if (ntg_blob_read_tensor(blob, "llama.hparams", NTG_DTYPE_F64, n_hp, hp, err) != NTG_OK)
		return corrupt(err, "llama configuration is missing or malformed");
	if (!in_range(cf[CF_DIM], 2, LLAMA_MAX_DIM) || !in_range(cf[CF_HEADS], 1, LLAMA_MAX_HEADS) ||
		cf[CF_DIM] % cf[CF_HEADS] != 0 || (cf[CF_DIM] / cf[CF_HEADS]) % 2 != 0 ||
		!in_range(cf[CF_HIDDEN], 1, LLAMA_MAX_HIDDEN) ||
		!in_range(cf[CF_LAYERS], 1, LLAMA_MAX_LAYERS) ||
		!in_range(cf[CF_MAX_LEN], 1, LLAMA_MAX_LEN) ||
		!in_range(cf[CF_N_VALUES], 0, NTG_TOK_MAX_VALUES) ||
		!in_range(cf[CF_N_CLASSES], 1, LLAMA_MAX_CLASSES) ||
		cf[CF_VOCAB] != cf[CF_N_VALUES] + 2 + cf[CF_N_CLASSES] ||
		cf[CF_EPOCHS_DONE] < 0 || !in_range(cf[CF_EPOCHS], 0, 100000) ||
		!in_range(cf[CF_BATCH], 1, LLAMA_MAX_BATCH) ||
		!in_range(cf[CF_SAMPLE_BATCH], 1, LLAMA_MAX_BATCH) ||
		!in_range(cf[CF_BLAS_THREADS], 0, 256) || !in_range(cf[CF_COSINE], 0, 1))
		return corrupt(err, "llama configuration is out of range");
	for (int i = 0; i < LLAMA_N_HPARAMS; i++)
		if (!isfinite(hp[i]))
			return corrupt(err, "llama hyperparameter is not finite");
	if (hp[0] < 1.0 || hp[0] > 1e9 || hp[1] < 0 || hp[1] > 10 || hp[2] < 0 || hp[2] > 1 ||
		hp[3] < 0 || hp[3] > 10 || hp[4] < 0 || hp[5] < 0 || hp[5] >= 1 || hp[6] < 0 ||
		hp[6] >= 1 || hp[7] < -1 || hp[7] > 1e12 || hp[7] != floor(hp[7]) ||
		hp[8] < 0 || hp[8] > 0.9 || hp[9] < 0 || hp[9] > 0.9 || (hp[10] != 0 && hp[10] != 1))
		return corrupt(err, "llama hyperparameter is out of range");
	memset(cfg, 0, sizeof(*cfg));
	cfg->dim = cf[CF_DIM];
	cfg->hidden_dim = cf[CF_HIDDEN];
	cfg->n_layers = cf[CF_LAYERS];
	cfg->n_heads = cf[CF_HEADS];
	cfg->max_len = cf[CF_MAX_LEN];
	cfg->vocab_size = cf[CF_VOCAB];
	cfg->epochs = cf[CF_EPOCHS];
	cfg->batch_size = cf[CF_BATCH];
	cfg->sample_batch = cf[CF_SAMPLE_BATCH];
	cfg->blas_threads = cf[CF_BLAS_THREADS];
	cfg->cosine = cf[CF_COSINE];
	cfg->seed = (uint64_t) (uint32_t) cf[CF_SEED_LO] | ((uint64_t) (uint32_t) cf[CF_SEED_HI] << 32);
	cfg->rope_theta = hp[0];
	cfg->lr = hp[1];
	cfg->min_lr_ratio = hp[2];
	cfg->weight_decay = hp[3];
	cfg->grad_clip = hp[4];
	cfg->beta1 = hp[5];
	cfg->beta2 = hp[6];
	cfg->warmup = (int64_t) hp[7];
	cfg->dropout = hp[8];
	cfg->token_noise = hp[9];
	cfg->half_weights = hp[10] != 0;
	*n_values = cf[CF_N_VALUES];
	*n_classes = cf[CF_N_CLASSES];
	*epochs_done = cf[CF_EPOCHS_DONE];
	return NTG_OK;
}

/* The value vocabulary into m's tokenizer. */
static int
load_vocab(const NtgBlob *blob, LlamaModel *m, int n_values, int n_classes, NtgError *err)
{
	int32_t    *vocab = ntg_malloc((size_t) (n_values + 1) * sizeof(int32_t));
	int			rc;

	if (vocab == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if (ntg_blob_read_tensor(blob, "vocab", NTG_DTYPE_I32, n_values, vocab, err) != NTG_OK)
		rc = corrupt(err, "vocabulary is missing or does not match the configuration");
	else
		rc = ntg_tok_from_values(&m->tok, vocab, n_values, n_classes, err);
	ntg_free(vocab);
	return rc;
}

int
llama_load(const NtgBlob *blob, NtgModel **model, NtgError *err)
{
	LlamaConfig cfg;
	LlamaModel *m;
	int			n_values = 0,
				n_classes = 0,
				epochs_done = 0;
	int			quant,
				rc;

	*model = NULL;
	if (strcmp(blob->kind, "llama") != 0)
		return corrupt(err, "not a llama model");
	if ((rc = load_config(blob, &cfg, &n_values, &n_classes, &epochs_done, err)) != NTG_OK)
		return rc;
	if ((rc = nn_params_stored_mode(blob, &quant, err)) != NTG_OK)
		return rc;

	/* shapes first, with no weight memory: a crafted config cannot make us allocate much */
	if ((rc = llama_alloc(&cfg, n_classes, &m, -1, err)) != NTG_OK)
		return rc;
	nn_params_quant_layout(&m->params, quant);
	if (!nn_params_check_stored(blob, &m->params) ||
		ntg_blob_kind_tensors(blob) != nn_params_stored_tensors(&m->params) + 4)
	{
		ntg_llama_kind.destroy(&m->base);
		return corrupt(err, "weight tensors do not match the llama configuration");
	}
	/* weights stay in the caller's buffer when they lie there as one block (blob->borrow) */
	rc = nn_params_load(blob, &m->params, err);
	m->base.weights = m->params.data;
	m->base.n_weights = m->params.count;
	m->base.quantization = quant;
	m->base.epochs_done = epochs_done;
	if (rc == NTG_OK)
		rc = load_vocab(blob, m, n_values, n_classes, err);
	if (rc == NTG_OK)
		rc = ntg_blob_read_classes(blob, "classes", n_classes, &m->base.classes, err);
	if (rc != NTG_OK)
	{
		if (err != NULL && err->code != NTG_ERR_NOMEM)
			err->code = NTG_ERR_CORRUPT;
		ntg_llama_kind.destroy(&m->base);
		return err != NULL ? err->code : NTG_ERR_CORRUPT;
	}
	*model = &m->base;
	return NTG_OK;
}
