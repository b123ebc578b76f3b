/*
 * cvae_io.c — the stored form of a cvae model in the checked container (common/blob.h):
 *
 *   cvae.config   i32[16]  format version, shapes, vocabulary and class counts, training ints
 *   cvae.hparams  f64[9]   lr, min_lr_ratio, weight_decay, grad_clip, beta1, beta2, warmup, beta,
 *                          kl_anneal
 *   vocab         i32[n_values]   the value vocabulary, strictly ascending
 *   classes       u8[bytes]       class names, each NUL-terminated, strictly ascending
 *   emb_in.weight, {enc1,enc2,enc3,dec1,dec2,len_head,pos_head,val_out}.{weight,bias}   f32
 *
 * A quantized cvae (kind->quantize) stores emb_in.weight and every layer's weight as int8 with
 * per-row scales, and a "quantization" tensor (nn/nn_store.h); the biases stay f32.  A float
 * cvae's value is what it was before int8 existed.
 *
 * The container's CRC catches damage; load() still checks every number against the limits and
 * every tensor's type and shape against the config before it allocates anything, so a crafted
 * value with a valid checksum is refused with NTG_ERR_CORRUPT, never trusted.
 */
#include "models/cvae.h"
#include "nn/nn_store.h"

#include <math.h>
#include <string.h>

#define CVAE_FORMAT		1
#define CVAE_N_CONFIG	16
#define CVAE_N_HPARAMS	9

enum
{
	CF_VERSION, CF_HIDDEN1, CF_HIDDEN2, CF_LATENT, CF_EMBED, CF_MAX_LEN, CF_N_VALUES,
	CF_N_CLASSES, CF_EPOCHS_DONE, CF_EPOCHS, CF_BATCH, CF_SAMPLE_BATCH, CF_BLAS_THREADS,
	CF_COSINE, CF_SEED_LO, CF_SEED_HI
};

static int
corrupt(NtgError *err, const char *what)
{
	return ntg_error(err, NTG_ERR_CORRUPT, "model data is corrupt: %s", what);
}

int
cvae_save(NtgModel *model, NtgBlob *blob, NtgError *err)
{
	CvaeModel  *m = (CvaeModel *) model;
	const CvaeConfig *c = &m->cfg;
	int32_t		conf[CVAE_N_CONFIG];
	double		hp[CVAE_N_HPARAMS];
	char	   *json;
	uint32_t	dims[2];
	int			rc;

	conf[CF_VERSION] = CVAE_FORMAT;
	conf[CF_HIDDEN1] = c->hidden1;
	conf[CF_HIDDEN2] = c->hidden2;
	conf[CF_LATENT] = c->latent_dim;
	conf[CF_EMBED] = c->embed_dim;
	conf[CF_MAX_LEN] = c->max_len;
	conf[CF_N_VALUES] = c->n_values;
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
	hp[7] = c->beta;
	hp[8] = c->kl_anneal;

	if ((json = cvae_config_json(model)) == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	ntg_blob_init(blob, "cvae", NULL);
	ntg_blob_take_config(blob, json);
	dims[0] = CVAE_N_CONFIG;
	rc = ntg_blob_add_copy(blob, "cvae.config", NTG_DTYPE_I32, 1, dims, conf, err);
	dims[0] = CVAE_N_HPARAMS;
	if (rc == NTG_OK)
		rc = ntg_blob_add_copy(blob, "cvae.hparams", NTG_DTYPE_F64, 1, dims, hp, err);
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

/* Range-check the stored hyperparameters (the same ranges create() accepts). */
static int
hparams_ok(const double *hp)
{
	for (int i = 0; i < CVAE_N_HPARAMS; i++)
		if (!isfinite(hp[i]))
			return 0;
	return hp[0] >= 0 && hp[0] <= 10 && hp[1] >= 0 && hp[1] <= 1 && hp[2] >= 0 && hp[2] <= 10 &&
		hp[3] >= 0 && hp[3] <= 1e9 && hp[4] >= 0 && hp[4] < 1 && hp[5] >= 0 && hp[5] < 1 &&
		hp[6] >= -1 && hp[6] <= 1e12 && hp[6] == floor(hp[6]) && hp[7] >= 0 && hp[7] <= 1000 &&
		hp[8] >= 0 && hp[8] <= 100000;
}

/* Read and range-check cvae.config and cvae.hparams into cfg. */
static int
load_config(const NtgBlob *blob, CvaeConfig *cfg, int *n_classes, int *epochs_done,
			NtgError *err)
{
	int32_t		cf[CVAE_N_CONFIG];
	double		hp[CVAE_N_HPARAMS];

	if (ntg_blob_read_tensor(blob, "cvae.config", NTG_DTYPE_I32, CVAE_N_CONFIG, cf, err) != NTG_OK ||
		ntg_blob_read_tensor(blob, "cvae.hparams", NTG_DTYPE_F64, CVAE_N_HPARAMS, hp, err) != NTG_OK)
		return corrupt(err, "cvae configuration is missing or malformed");
	if (cf[CF_VERSION] != CVAE_FORMAT)
		return corrupt(err, "unknown cvae format version");
	if (!in_range(cf[CF_HIDDEN1], 1, CVAE_MAX_HIDDEN) || !in_range(cf[CF_HIDDEN2], 1, CVAE_MAX_HIDDEN) ||
		!in_range(cf[CF_LATENT], 1, CVAE_MAX_LATENT) || !in_range(cf[CF_EMBED], 1, CVAE_MAX_EMBED) ||
		!in_range(cf[CF_MAX_LEN], 1, CVAE_MAX_LEN) ||
		!in_range(cf[CF_N_VALUES], 1, NTG_TOK_MAX_VALUES) ||
		!in_range(cf[CF_N_CLASSES], 1, CVAE_MAX_CLASSES) || cf[CF_EPOCHS_DONE] < 0 ||
		!in_range(cf[CF_EPOCHS], 0, 100000) || !in_range(cf[CF_BATCH], 1, CVAE_MAX_BATCH) ||
		!in_range(cf[CF_SAMPLE_BATCH], 1, CVAE_MAX_BATCH) ||
		!in_range(cf[CF_BLAS_THREADS], 0, 256) || !in_range(cf[CF_COSINE], 0, 1))
		return corrupt(err, "cvae configuration is out of range");
	if (!hparams_ok(hp))
		return corrupt(err, "cvae hyperparameter is out of range");
	memset(cfg, 0, sizeof(*cfg));
	cfg->hidden1 = cf[CF_HIDDEN1];
	cfg->hidden2 = cf[CF_HIDDEN2];
	cfg->latent_dim = cf[CF_LATENT];
	cfg->embed_dim = cf[CF_EMBED];
	cfg->max_len = cf[CF_MAX_LEN];
	cfg->n_values = cf[CF_N_VALUES];
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
	cfg->beta = hp[7];
	cfg->kl_anneal = hp[8];
	*n_classes = cf[CF_N_CLASSES];
	*epochs_done = cf[CF_EPOCHS_DONE];
	if (cvae_param_count(cfg, *n_classes) > CVAE_MAX_PARAMS)
		return corrupt(err, "cvae configuration is out of range");
	return NTG_OK;
}

int
cvae_load(const NtgBlob *blob, NtgModel **model, NtgError *err)
{
	CvaeConfig	cfg;
	CvaeModel  *m;
	int			n_classes = 0,
				epochs_done = 0;
	int32_t    *vocab;
	int			quant,
				rc;

	*model = NULL;
	if (strcmp(blob->kind, "cvae") != 0)
		return corrupt(err, "not a cvae model");
	if ((rc = load_config(blob, &cfg, &n_classes, &epochs_done, err)) != NTG_OK)
		return rc;
	if ((rc = nn_params_stored_mode(blob, &quant, err)) != NTG_OK)
		return rc;

	/* shapes first, with no weight memory: a crafted config cannot make us allocate much */
	if ((rc = cvae_alloc(&cfg, n_classes, &m, -1, err)) != NTG_OK)
		return rc;
	nn_params_quant_layout(&m->params, quant);
	if (!nn_params_check_stored(blob, &m->params) ||
		ntg_blob_kind_tensors(blob) != nn_params_stored_tensors(&m->params) + 4)
	{
		ntg_cvae_kind.destroy(&m->base);
		return corrupt(err, "weight tensors do not match the cvae configuration");
	}
	m->base.epochs_done = epochs_done;
	m->base.quantization = quant;
	vocab = ntg_malloc((size_t) (cfg.n_values + 1) * sizeof(int32_t));
	if (vocab == NULL)
		rc = ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	else if (ntg_blob_read_tensor(blob, "vocab", NTG_DTYPE_I32, cfg.n_values, vocab, err) != NTG_OK)
		rc = corrupt(err, "vocabulary is missing or does not match the configuration");
	else
		rc = ntg_tok_from_values(&m->tok, vocab, cfg.n_values, n_classes, err);
	ntg_free(vocab);
	if (rc == NTG_OK)
		rc = ntg_blob_read_classes(blob, "classes", n_classes, &m->base.classes, err);
	if (rc == NTG_OK)
	{
		/* weights stay in the caller's buffer when they lie there as one block (blob->borrow) */
		rc = nn_params_load(blob, &m->params, err);
		m->base.weights = m->params.data;
		m->base.n_weights = m->params.count;
	}
	if (rc != NTG_OK)
	{
		if (err != NULL && err->code != NTG_ERR_NOMEM)
			err->code = NTG_ERR_CORRUPT;
		ntg_cvae_kind.destroy(&m->base);
		return err != NULL ? err->code : NTG_ERR_CORRUPT;
	}
	*model = &m->base;
	return NTG_OK;
}
