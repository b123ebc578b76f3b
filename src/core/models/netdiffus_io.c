/*
 * netdiffus_io.c — the stored form of a netdiffus model in the checked container
 * (common/blob.h):
 *
 *   netdiffus.config        i32[23]  format version (2), shape, diffusion and training integers,
 *                                    the GASF scaling (lo, hi), the image standardization mode,
 *                                    the value scale (GasfScale); format 1 had the first 22 only
 *                                    and the linear value scale, and still loads
 *   netdiffus.hparams       f64[9]   cond_drop, lr, min_lr_ratio, weight_decay, grad_clip, beta1,
 *                                    beta2, warmup, ema
 *   netdiffus.values        i32[n]   the values decoding refines to: per class and position, the
 *                                    sorted values of the padded training rows, concatenated
 *   netdiffus.value_offsets i32[n_classes * max_len + 1]   where each list starts
 *   netdiffus.image_scale   f32[2, max_len * max_len]  per pixel mean and std of the training images
 *   classes                 u8[]     class names (blob_names.c)
 *   time.*, class_emb, in.*, down.L.*, mid.*, up.L.*, out.*   f32 weights (netdiffus.c names them)
 *
 * A quantized netdiffus (kind->quantize) stores every 2-D weight but class_emb as int8 with
 * per-row scales, and a "quantization" tensor (nn/nn_store.h); a float netdiffus's value is what
 * it was before int8 existed.
 *
 * The container's CRC catches damage; load() still checks every number against the limits, the
 * value lists for order and range, and every tensor's type and shape against the configuration
 * before it allocates the weights, so a crafted value with a valid checksum is refused with
 * NTG_ERR_CORRUPT, never trusted.
 */
#include "models/netdiffus.h"
#include "nn/nn_store.h"

#include <math.h>
#include <string.h>

#define ND_FORMAT		2
#define ND_N_CONFIG		23
#define ND_N_CONFIG_V1	22		/* format 1: no value scale (linear) */
#define ND_N_HPARAMS	9

enum
{
	CF_VERSION, CF_BASE, CF_LEVELS, CF_MULT, CF_ATTN_FROM, CF_HEADS, CF_GROUPS, CF_MAX_LEN,
	CF_TIMESTEPS, CF_COSINE_SCHEDULE, CF_N_CLASSES, CF_EPOCHS_DONE, CF_EPOCHS, CF_BATCH,
	CF_SAMPLE_BATCH, CF_BLAS_THREADS, CF_COSINE, CF_SEED_LO, CF_SEED_HI, CF_LO, CF_HI,
	CF_IMAGE_SCALE, CF_VALUE_SCALE
};

static int
corrupt(NtgError *err, const char *what)
{
	return ntg_error(err, NTG_ERR_CORRUPT, "model data is corrupt: %s", what);
}

/* The images' standardization as one f32[2, N*N] tensor: the means, then the stds. */
static int
add_image_scale(NetdiffusModel *m, NtgBlob *blob, NtgError *err)
{
	size_t		NN = (size_t) m->cfg.max_len * m->cfg.max_len;
	float	   *v = ntg_malloc(2 * NN * sizeof(float));
	uint32_t	dims[2] = {2, (uint32_t) NN};
	int			rc;

	if (v == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	memcpy(v, m->img_mean, NN * sizeof(float));
	memcpy(v + NN, m->img_std, NN * sizeof(float));
	rc = ntg_blob_add_copy(blob, "netdiffus.image_scale", NTG_DTYPE_F32, 2, dims, v, err);
	ntg_free(v);
	return rc;
}

/* Read and check it: finite means, stds of at least ND_STD_FLOOR (what netdiffus_image_stats
 * gives; the sampler divides by them). */
static int
load_image_scale(const NtgBlob *blob, NetdiffusModel *m, NtgError *err)
{
	size_t		NN = (size_t) m->cfg.max_len * m->cfg.max_len;
	float	   *v = ntg_malloc(2 * NN * sizeof(float));
	int			rc = NTG_OK;

	if (v == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if (ntg_blob_read_tensor(blob, "netdiffus.image_scale", NTG_DTYPE_F32, 2 * NN, v, err) != NTG_OK)
		rc = corrupt(err, "netdiffus image scale is missing or does not match the configuration");
	for (size_t i = 0; rc == NTG_OK && i < NN; i++)
		if (!isfinite(v[i]) || !isfinite(v[NN + i]) || v[NN + i] < (float) ND_STD_FLOOR ||
			fabsf(v[i]) > 1e3f || v[NN + i] > 1e3f)
			rc = corrupt(err, "netdiffus image scale is out of range");
	if (rc == NTG_OK)
	{
		memcpy(m->img_mean, v, NN * sizeof(float));
		memcpy(m->img_std, v + NN, NN * sizeof(float));
	}
	ntg_free(v);
	return rc;
}

int
netdiffus_save(NtgModel *model, NtgBlob *blob, NtgError *err)
{
	NetdiffusModel *m = (NetdiffusModel *) model;
	const NetdiffusConfig *c = &m->cfg;
	int32_t		conf[ND_N_CONFIG];
	double		hp[ND_N_HPARAMS];
	uint32_t	dims[2];
	char	   *json;
	int			K = m->base.n_classes * c->max_len;
	int			rc;

	conf[CF_VERSION] = ND_FORMAT;
	conf[CF_BASE] = c->base_channels;
	conf[CF_LEVELS] = c->levels;
	conf[CF_MULT] = c->max_channel_mult;
	conf[CF_ATTN_FROM] = c->attn_from;
	conf[CF_HEADS] = c->n_heads;
	conf[CF_GROUPS] = c->norm_groups;
	conf[CF_MAX_LEN] = c->max_len;
	conf[CF_TIMESTEPS] = c->timesteps;
	conf[CF_COSINE_SCHEDULE] = c->cosine_schedule;
	conf[CF_N_CLASSES] = m->base.n_classes;
	conf[CF_EPOCHS_DONE] = m->base.epochs_done;
	conf[CF_EPOCHS] = c->epochs;
	conf[CF_BATCH] = c->batch_size;
	conf[CF_SAMPLE_BATCH] = c->sample_batch;
	conf[CF_BLAS_THREADS] = c->blas_threads;
	conf[CF_COSINE] = c->cosine;
	conf[CF_SEED_LO] = (int32_t) (uint32_t) c->seed;
	conf[CF_SEED_HI] = (int32_t) (uint32_t) (c->seed >> 32);
	conf[CF_LO] = m->gv.lo;
	conf[CF_HI] = m->gv.hi;
	conf[CF_IMAGE_SCALE] = c->image_scale;
	conf[CF_VALUE_SCALE] = c->value_scale;
	hp[0] = c->cond_drop;
	hp[1] = c->lr;
	hp[2] = c->min_lr_ratio;
	hp[3] = c->weight_decay;
	hp[4] = c->grad_clip;
	hp[5] = c->beta1;
	hp[6] = c->beta2;
	hp[7] = (double) c->warmup;
	hp[8] = c->ema;

	if ((json = netdiffus_config_json(model)) == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	ntg_blob_init(blob, "netdiffus", NULL);
	ntg_blob_take_config(blob, json);
	dims[0] = ND_N_CONFIG;
	rc = ntg_blob_add_copy(blob, "netdiffus.config", NTG_DTYPE_I32, 1, dims, conf, err);
	dims[0] = ND_N_HPARAMS;
	if (rc == NTG_OK)
		rc = ntg_blob_add_copy(blob, "netdiffus.hparams", NTG_DTYPE_F64, 1, dims, hp, err);
	dims[0] = (uint32_t) m->gv.offsets[K];
	if (rc == NTG_OK)
		rc = ntg_blob_add(blob, "netdiffus.values", NTG_DTYPE_I32, 1, dims, m->gv.values, err);
	dims[0] = (uint32_t) K + 1;
	if (rc == NTG_OK)
		rc = ntg_blob_add(blob, "netdiffus.value_offsets", NTG_DTYPE_I32, 1, dims, m->gv.offsets,
						  err);
	if (rc == NTG_OK)
		rc = ntg_blob_add_classes(blob, "classes", m->base.classes, m->base.n_classes, err);
	if (rc == NTG_OK)
		rc = add_image_scale(m, blob, err);
	if (rc == NTG_OK)
		rc = nn_params_save(blob, &m->params, err);
	return rc;
}

static int
in_range(int32_t v, int32_t lo, int32_t hi)
{
	return v >= lo && v <= hi;
}

/* Read and range-check netdiffus.config and netdiffus.hparams into cfg. */
static int
load_config(const NtgBlob *blob, NetdiffusConfig *cfg, int32_t *cf, NtgError *err)
{
	double		hp[ND_N_HPARAMS];
	const NtgBlobTensor *tc = ntg_blob_find(blob, "netdiffus.config");
	int			n_config = tc != NULL && tc->ndim == 1 && tc->dims[0] == ND_N_CONFIG_V1 ?
		ND_N_CONFIG_V1 : ND_N_CONFIG;

	if (ntg_blob_read_tensor(blob, "netdiffus.config", NTG_DTYPE_I32, n_config, cf, err) != NTG_OK ||
		ntg_blob_read_tensor(blob, "netdiffus.hparams", NTG_DTYPE_F64, ND_N_HPARAMS, hp, err) != NTG_OK)
		return corrupt(err, "netdiffus configuration is missing or malformed");
	if (cf[CF_VERSION] != (n_config == ND_N_CONFIG_V1 ? 1 : ND_FORMAT))
		return corrupt(err, "unknown netdiffus format version");
	if (n_config == ND_N_CONFIG_V1)
		cf[CF_VALUE_SCALE] = GASF_SCALE_LINEAR;
	if (!in_range(cf[CF_BASE], 1, ND_MAX_BASE) || !in_range(cf[CF_LEVELS], 1, ND_MAX_LEVELS) ||
		!in_range(cf[CF_MULT], 1, ND_MAX_MULT) || !in_range(cf[CF_ATTN_FROM], 0, ND_MAX_LEVELS) ||
		!in_range(cf[CF_HEADS], 1, ND_MAX_HEADS) || !in_range(cf[CF_GROUPS], 1, ND_MAX_BASE) ||
		!in_range(cf[CF_MAX_LEN], 1, ND_MAX_LEN) ||
		!in_range(cf[CF_TIMESTEPS], 2, ND_MAX_TIMESTEPS) ||
		!in_range(cf[CF_COSINE_SCHEDULE], 0, 1) || !in_range(cf[CF_N_CLASSES], 1, ND_MAX_CLASSES) ||
		cf[CF_EPOCHS_DONE] < 0 || !in_range(cf[CF_EPOCHS], 0, 100000) ||
		!in_range(cf[CF_BATCH], 1, ND_MAX_BATCH) || !in_range(cf[CF_SAMPLE_BATCH], 1, ND_MAX_BATCH) ||
		!in_range(cf[CF_BLAS_THREADS], 0, 256) || !in_range(cf[CF_COSINE], 0, 1) ||
		cf[CF_LO] > cf[CF_HI] || !in_range(cf[CF_IMAGE_SCALE], ND_SCALE_NONE, ND_SCALE_PIXEL) ||
		!in_range(cf[CF_VALUE_SCALE], GASF_SCALE_LINEAR, GASF_SCALE_LOG))
		return corrupt(err, "netdiffus configuration is out of range");
	for (int i = 0; i < ND_N_HPARAMS; i++)
		if (!isfinite(hp[i]))
			return corrupt(err, "netdiffus hyperparameter is not finite");
	if (hp[0] < 0 || hp[0] > 1 || hp[1] < 0 || hp[1] > 10 || hp[2] < 0 || hp[2] > 1 ||
		hp[3] < 0 || hp[3] > 10 || hp[4] < 0 || hp[5] < 0 || hp[5] >= 1 || hp[6] < 0 ||
		hp[6] >= 1 || hp[7] < -1 || hp[7] > 1e12 || hp[7] != floor(hp[7]) || hp[8] < 0 ||
		hp[8] > 0.99999)
		return corrupt(err, "netdiffus hyperparameter is out of range");
	memset(cfg, 0, sizeof(*cfg));
	cfg->base_channels = cf[CF_BASE];
	cfg->levels = cf[CF_LEVELS];
	cfg->max_channel_mult = cf[CF_MULT];
	cfg->attn_from = cf[CF_ATTN_FROM];
	cfg->n_heads = cf[CF_HEADS];
	cfg->norm_groups = cf[CF_GROUPS];
	cfg->max_len = cf[CF_MAX_LEN];
	cfg->timesteps = cf[CF_TIMESTEPS];
	cfg->cosine_schedule = cf[CF_COSINE_SCHEDULE];
	cfg->epochs = cf[CF_EPOCHS];
	cfg->batch_size = cf[CF_BATCH];
	cfg->sample_batch = cf[CF_SAMPLE_BATCH];
	cfg->blas_threads = cf[CF_BLAS_THREADS];
	cfg->cosine = cf[CF_COSINE];
	cfg->image_scale = cf[CF_IMAGE_SCALE];
	cfg->value_scale = cf[CF_VALUE_SCALE];
	cfg->seed = (uint64_t) (uint32_t) cf[CF_SEED_LO] | ((uint64_t) (uint32_t) cf[CF_SEED_HI] << 32);
	cfg->cond_drop = hp[0];
	cfg->lr = hp[1];
	cfg->min_lr_ratio = hp[2];
	cfg->weight_decay = hp[3];
	cfg->grad_clip = hp[4];
	cfg->beta1 = hp[5];
	cfg->beta2 = hp[6];
	cfg->warmup = (int64_t) hp[7];
	cfg->ema = hp[8];
	if (netdiffus_config_problem(cfg) != NULL)
		return corrupt(err, "netdiffus configuration does not describe a network");
	return NTG_OK;
}

/* The value lists: shapes against the config, then order and range (gasf_values_check). */
static int
load_values(const NtgBlob *blob, NetdiffusModel *m, int32_t lo, int32_t hi, NtgError *err)
{
	int			K = m->base.n_classes * m->cfg.max_len;
	const NtgBlobTensor *tv = ntg_blob_find(blob, "netdiffus.values");
	int64_t		n;

	if (tv == NULL || tv->dtype != NTG_DTYPE_I32 || tv->ndim != 1 || tv->dims[0] < (uint32_t) K ||
		tv->dims[0] > (uint32_t) INT32_MAX)
		return corrupt(err, "netdiffus value lists are missing or malformed");
	n = tv->dims[0];
	m->gv.n_classes = m->base.n_classes;
	m->gv.N = m->cfg.max_len;
	m->gv.lo = lo;
	m->gv.hi = hi;
	m->gv.scale = (GasfScale) m->cfg.value_scale;
	m->gv.values = ntg_malloc((size_t) n * sizeof(int32_t));
	m->gv.offsets = ntg_malloc((size_t) (K + 1) * sizeof(int32_t));
	if (m->gv.values == NULL || m->gv.offsets == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if (ntg_blob_read_tensor(blob, "netdiffus.values", NTG_DTYPE_I32, n, m->gv.values, err) != NTG_OK ||
		ntg_blob_read_tensor(blob, "netdiffus.value_offsets", NTG_DTYPE_I32, K + 1, m->gv.offsets,
							 err) != NTG_OK ||
		!gasf_values_check(m->gv.values, n, m->gv.offsets, K, lo, hi))
		return corrupt(err, "netdiffus value lists do not match the configuration");
	return gasf_values_derive(&m->gv, err);
}

int
netdiffus_load(const NtgBlob *blob, NtgModel **model, NtgError *err)
{
	NetdiffusConfig cfg;
	NetdiffusModel *m;
	int32_t		cf[ND_N_CONFIG];
	int			quant,
				rc;

	*model = NULL;
	if (strcmp(blob->kind, "netdiffus") != 0)
		return corrupt(err, "not a netdiffus model");
	if ((rc = load_config(blob, &cfg, cf, err)) != NTG_OK)
		return rc;
	if ((rc = nn_params_stored_mode(blob, &quant, err)) != NTG_OK)
		return rc;

	/* shapes first, with no weight memory: a crafted config cannot make us allocate much */
	if ((rc = netdiffus_alloc(&cfg, cf[CF_N_CLASSES], &m, -1, err)) != NTG_OK)
		return rc;
	nn_params_quant_layout(&m->params, quant);
	if (!nn_params_check_stored(blob, &m->params) ||
		ntg_blob_kind_tensors(blob) != nn_params_stored_tensors(&m->params) + 6)
	{
		ntg_netdiffus_kind.destroy(&m->base);
		return corrupt(err, "weight tensors do not match the netdiffus configuration");
	}
	m->base.epochs_done = cf[CF_EPOCHS_DONE];
	m->base.quantization = quant;
	rc = netdiffus_alloc_schedule(m) == NTG_OK ? NTG_OK : ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if (rc == NTG_OK)
		rc = load_values(blob, m, cf[CF_LO], cf[CF_HI], err);
	if (rc == NTG_OK)
		rc = load_image_scale(blob, m, err);
	if (rc == NTG_OK)
		rc = ntg_blob_read_classes(blob, "classes", m->base.n_classes, &m->base.classes, err);
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
		ntg_netdiffus_kind.destroy(&m->base);
		return err != NULL ? err->code : NTG_ERR_CORRUPT;
	}
	*model = &m->base;
	return NTG_OK;
}
