/*
 * mamba_io.c — the stored form of a mamba model in the checked container (common/blob.h):
 *
 *   mamba.config   i32[19]  format version, shapes, vocabulary and class counts, training ints
 *   mamba.hparams  f64[9]   lr, min_lr_ratio, weight_decay, grad_clip, beta1, beta2, warmup,
 *                           dropout, token_noise
 *   vocab          i32[n_values]   the value vocabulary, strictly ascending
 *   classes        u8[bytes]       class names, each NUL-terminated, strictly ascending
 *   tok_embeddings, layers.L.norm, layers.L.mixer.{in_proj, conv1d.weight, conv1d.bias, x_proj,
 *   dt_proj.weight, dt_proj.bias, A_log, D, out_proj}, norm, output   f32 weights
 *
 * A quantized mamba (kind->quantize) stores its matrices — in_proj, x_proj, dt_proj and out_proj
 * of every layer, the embedding and the head — and every layer's A_log (read back as floats) as
 * int8 with per-row scales, and a "quantization" tensor (nn/nn_store.h); a float mamba's value is
 * what it was before int8 existed.
 *
 * The container's CRC catches damage; load() still checks every number against the limits and
 * every tensor's type and shape against the config before it allocates anything, so a crafted
 * value with a valid checksum is refused with NTG_ERR_CORRUPT, never trusted.
 */
#include "models/mamba.h"
#include "nn/nn_store.h"

#include <math.h>
#include <string.h>

#define MAMBA_FORMAT		1
#define MAMBA_N_CONFIG		19
#define MAMBA_N_HPARAMS		9
/* A = -exp(A_log) must stay finite: exp(80) is about 5.5e34 */
#define MAMBA_MAX_A_LOG		80.0f

enum
{
	CF_VERSION, CF_DIM, CF_INNER, CF_LAYERS, CF_STATE, CF_CONV, CF_DT_RANK, CF_MAX_LEN,
	CF_VOCAB, CF_N_VALUES, CF_N_CLASSES, CF_EPOCHS_DONE, CF_EPOCHS, CF_BATCH, CF_SAMPLE_BATCH,
	CF_BLAS_THREADS, CF_COSINE, CF_SEED_LO, CF_SEED_HI
};

static int
corrupt(NtgError *err, const char *what)
{
	return ntg_error(err, NTG_ERR_CORRUPT, "model data is corrupt: %s", what);
}

int
mamba_save(NtgModel *model, NtgBlob *blob, NtgError *err)
{
	MambaModel *m = (MambaModel *) model;
	const MambaConfig *c = &m->cfg;
	int32_t		conf[MAMBA_N_CONFIG];
	double		hp[MAMBA_N_HPARAMS];
	char	   *json;
	uint32_t	dims[2];
	int			rc = NTG_OK;

	conf[CF_VERSION] = MAMBA_FORMAT;
	conf[CF_DIM] = c->dim;
	conf[CF_INNER] = c->inner_dim;
	conf[CF_LAYERS] = c->n_layers;
	conf[CF_STATE] = c->state_dim;
	conf[CF_CONV] = c->conv_width;
	conf[CF_DT_RANK] = c->dt_rank;
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
	hp[0] = c->lr;
	hp[1] = c->min_lr_ratio;
	hp[2] = c->weight_decay;
	hp[3] = c->grad_clip;
	hp[4] = c->beta1;
	hp[5] = c->beta2;
	hp[6] = (double) c->warmup;
	hp[7] = c->dropout;
	hp[8] = c->token_noise;

	if ((json = mamba_config_json(model)) == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	ntg_blob_init(blob, "mamba", NULL);
	ntg_blob_take_config(blob, json);
	dims[0] = MAMBA_N_CONFIG;
	rc = ntg_blob_add_copy(blob, "mamba.config", NTG_DTYPE_I32, 1, dims, conf, err);
	dims[0] = MAMBA_N_HPARAMS;
	if (rc == NTG_OK)
		rc = ntg_blob_add_copy(blob, "mamba.hparams", NTG_DTYPE_F64, 1, dims, hp, err);
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

static int
config_in_range(const int32_t *cf)
{
	return in_range(cf[CF_DIM], 1, MAMBA_MAX_DIM) &&
		in_range(cf[CF_INNER], 1, MAMBA_MAX_INNER) &&
		in_range(cf[CF_LAYERS], 1, MAMBA_MAX_LAYERS) &&
		in_range(cf[CF_STATE], 1, MAMBA_MAX_STATE) &&
		in_range(cf[CF_CONV], 1, MAMBA_MAX_CONV) &&
		in_range(cf[CF_DT_RANK], 1, MAMBA_MAX_DT_RANK) &&
		in_range(cf[CF_MAX_LEN], 1, MAMBA_MAX_LEN) &&
		in_range(cf[CF_N_VALUES], 0, NTG_TOK_MAX_VALUES) &&
		in_range(cf[CF_N_CLASSES], 1, MAMBA_MAX_CLASSES) &&
		cf[CF_VOCAB] == cf[CF_N_VALUES] + 2 + cf[CF_N_CLASSES] &&
		cf[CF_EPOCHS_DONE] >= 0 && in_range(cf[CF_EPOCHS], 0, 100000) &&
		in_range(cf[CF_BATCH], 1, MAMBA_MAX_BATCH) &&
		in_range(cf[CF_SAMPLE_BATCH], 1, MAMBA_MAX_BATCH) &&
		in_range(cf[CF_BLAS_THREADS], 0, 256) && in_range(cf[CF_COSINE], 0, 1);
}

static int
hparams_in_range(const double *hp)
{
	for (int i = 0; i < MAMBA_N_HPARAMS; i++)
		if (!isfinite(hp[i]))
			return 0;
	return hp[0] >= 0 && hp[0] <= 10 && hp[1] >= 0 && hp[1] <= 1 && hp[2] >= 0 && hp[2] <= 10 &&
		hp[3] >= 0 && hp[4] >= 0 && hp[4] < 1 && hp[5] >= 0 && hp[5] < 1 && hp[6] >= -1 &&
		hp[6] <= 1e12 && hp[6] == floor(hp[6]) && hp[7] >= 0 && hp[7] <= 0.9 && hp[8] >= 0 &&
		hp[8] <= 0.9;
}

/* Read and range-check mamba.config and mamba.hparams into cfg. */
static int
load_config(const NtgBlob *blob, MambaConfig *cfg, int *n_values, int *n_classes,
			int *epochs_done, NtgError *err)
{
	int32_t		cf[MAMBA_N_CONFIG];
	double		hp[MAMBA_N_HPARAMS];

	if (ntg_blob_read_tensor(blob, "mamba.config", NTG_DTYPE_I32, MAMBA_N_CONFIG, cf, err) != NTG_OK ||
		ntg_blob_read_tensor(blob, "mamba.hparams", NTG_DTYPE_F64, MAMBA_N_HPARAMS, hp, err) != NTG_OK)
		return corrupt(err, "mamba configuration is missing or malformed");
	if (cf[CF_VERSION] != MAMBA_FORMAT)
		return corrupt(err, "unknown mamba format version");
	if (!config_in_range(cf))
		return corrupt(err, "mamba configuration is out of range");
	if (!hparams_in_range(hp))
		return corrupt(err, "mamba hyperparameter is out of range");
	memset(cfg, 0, sizeof(*cfg));
	cfg->dim = cf[CF_DIM];
	cfg->inner_dim = cf[CF_INNER];
	cfg->n_layers = cf[CF_LAYERS];
	cfg->state_dim = cf[CF_STATE];
	cfg->conv_width = cf[CF_CONV];
	cfg->dt_rank = cf[CF_DT_RANK];
	cfg->max_len = cf[CF_MAX_LEN];
	cfg->vocab_size = cf[CF_VOCAB];
	cfg->epochs = cf[CF_EPOCHS];
	cfg->batch_size = cf[CF_BATCH];
	cfg->sample_batch = cf[CF_SAMPLE_BATCH];
	cfg->blas_threads = cf[CF_BLAS_THREADS];
	cfg->cosine = cf[CF_COSINE];
	cfg->seed = (uint64_t) (uint32_t) cf[CF_SEED_LO] | ((uint64_t) (uint32_t) cf[CF_SEED_HI] << 32);
	cfg->lr = hp[0];
	cfg->min_lr_ratio = hp[1];
	cfg->weight_decay = hp[2];
	cfg->grad_clip = hp[3];
	cfg->beta1 = hp[4];
	cfg->beta2 = hp[5];
	cfg->warmup = (int64_t) hp[6];
	cfg->dropout = hp[7];
	cfg->token_noise = hp[8];
	*n_values = cf[CF_N_VALUES];
	*n_classes = cf[CF_N_CLASSES];
	*epochs_done = cf[CF_EPOCHS_DONE];
	return NTG_OK;
}

/* A_log of every layer at most MAMBA_MAX_A_LOG, so that A = -exp(A_log) stays finite (the
 * weights are finite: nn_params_load checked them). */
static int
check_a_log(const MambaModel *m, NtgError *err)
{
	for (int l = 0; l < m->cfg.n_layers; l++)
	{
		const NnTensor *t = &m->params.tensors[m->layers[l].A_log];
		const float *w = nn_params_ptr(&m->params, m->layers[l].A_log);

		for (size_t j = 0; j < t->count; j++)
			if (w[j] > MAMBA_MAX_A_LOG)
				return corrupt(err, "a weight is not finite or out of range");
	}
	return NTG_OK;
}

/* The value vocabulary into m's tokenizer. */
static int
load_vocab(const NtgBlob *blob, MambaModel *m, int n_values, int n_classes, NtgError *err)
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

/* int8 copies quantized before A_log was stored as int8 hold it as f32: read such a layer's A_log
 * as a float tensor (the shape check still applies to whichever type it has). */
static void
keep_float_a_log(const NtgBlob *blob, MambaModel *m)
{
	for (int l = 0; l < m->cfg.n_layers; l++)
	{
		int			i = m->layers[l].A_log;
		const NtgBlobTensor *t = ntg_blob_find(blob, m->params.tensors[i].name);

		if (t != NULL && t->dtype == NTG_DTYPE_F32)
			nn_params_mark_quantizable(&m->params, i, 0);
	}
}

int
mamba_load(const NtgBlob *blob, NtgModel **model, NtgError *err)
{
	MambaConfig cfg;
	MambaModel *m;
	int			n_values = 0,
				n_classes = 0,
				epochs_done = 0;
	int			quant,
				rc;

	*model = NULL;
	if (strcmp(blob->kind, "mamba") != 0)
		return corrupt(err, "not a mamba model");
	if ((rc = load_config(blob, &cfg, &n_values, &n_classes, &epochs_done, err)) != NTG_OK)
		return rc;
	if ((rc = nn_params_stored_mode(blob, &quant, err)) != NTG_OK)
		return rc;

	/* shapes first, with no weight memory: a crafted config cannot make us allocate much */
	if ((rc = mamba_alloc(&cfg, n_classes, &m, -1, err)) != NTG_OK)
		return rc;
	if (quant != NN_QUANT_NONE)
		keep_float_a_log(blob, m);
	nn_params_quant_layout(&m->params, quant);
	if (!nn_params_check_stored(blob, &m->params) ||
		ntg_blob_kind_tensors(blob) != nn_params_stored_tensors(&m->params) + 4)
	{
		ntg_mamba_kind.destroy(&m->base);
		return corrupt(err, "weight tensors do not match the mamba configuration");
	}
	/* weights stay in the caller's buffer when they lie there as one block (blob->borrow) */
	rc = nn_params_load(blob, &m->params, err);
	m->base.weights = m->params.data;
	m->base.n_weights = m->params.count;
	m->base.quantization = quant;
	m->base.epochs_done = epochs_done;
	if (rc == NTG_OK)
		rc = check_a_log(m, err);
	if (rc == NTG_OK)
		rc = load_vocab(blob, m, n_values, n_classes, err);
	if (rc == NTG_OK)
		rc = ntg_blob_read_classes(blob, "classes", n_classes, &m->base.classes, err);
	if (rc != NTG_OK)
	{
		if (err != NULL && err->code != NTG_ERR_NOMEM)
			err->code = NTG_ERR_CORRUPT;
		ntg_mamba_kind.destroy(&m->base);
		return err != NULL ? err->code : NTG_ERR_CORRUPT;
	}
	*model = &m->base;
	return NTG_OK;
}
