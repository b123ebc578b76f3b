/*
 * netdiffus.c — the "netdiffus" generator kind: hyperparameters, the U-Net's tensors and their
 * seeded initialisation, the memory estimate, and the NtgModelKind table.  The network is in
 * netdiffus_unet.c, training in netdiffus_train.c, sampling in netdiffus_sample.c, the stored
 * format in netdiffus_io.c, the image form of the rows in gasf.c.
 */
#include "models/netdiffus.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Defaults: the shape from Table I of the paper (base channels 32, 4 levels, 4 attention heads);
 * T = 1000 as in DDPM; the training and sampling settings are provisional (not yet validated on
 * the nDPI benchmark, docs/netdiffus.md "Sampling options"). */
static const NetdiffusConfig nd_defaults = {
	.base_channels = 32,
	.levels = 4,
	.max_channel_mult = 2,
	.attn_from = 2,
	.n_heads = 4,
	.norm_groups = 8,
	.max_len = 10,
	.timesteps = 1000,
	.cosine_schedule = 1,
	.image_scale = ND_SCALE_PIXEL,
	.value_scale = GASF_SCALE_LOG,
	.cond_drop = 0.1,
	.ema = 0.0,
	.epochs = 100,
	.batch_size = 64,
	.lr = 1e-3,
	.min_lr_ratio = 0.1,
	.warmup = -1,
	.cosine = 1,
	.weight_decay = 0.0,
	.grad_clip = 1.0,
	.beta1 = 0.9,
	.beta2 = 0.999,
	.seed = 42,
	.sample_batch = 256,
	.blas_threads = 1,
};

/*
 * The defaults were chosen on the validation part of the generator-quality benchmark
 * (docs/netdiffus.md, "Quality at the defaults"): 25 guided steps (guidance 1) cost the network
 * passes of 50 unguided ones and beat them; eta 1 beat eta 0.
 */
const NtgOptionSpec ntg_netdiffus_sample_options[ND_N_OPTIONS] = {
	[ND_OPT_STEPS] = {
		.name = "steps", .type = NTG_OPTION_INTEGER, .dflt = 25, .legacy = 50,
		.min = 1, .max = ND_MAX_TIMESTEPS,
		.help = "denoising steps, evenly spaced over the model's T time steps (at most T are taken)"
	},
	[ND_OPT_DDIM] = {
		.name = "ddim", .type = NTG_OPTION_BOOL, .dflt = 1, .legacy = 1,
		.min = 0, .max = 1,
		.help = "true: DDIM steps (deterministic at eta 0); false: DDPM ancestral steps"
	},
	[ND_OPT_ETA] = {
		.name = "eta", .type = NTG_OPTION_NUMBER, .dflt = 1, .legacy = 0,
		.min = 0, .max = 1,
		.help = "DDIM noise: 0 deterministic, 1 as much as DDPM"
	},
	[ND_OPT_GUIDANCE] = {
		.name = "guidance", .type = NTG_OPTION_NUMBER, .dflt = 1, .legacy = 0,
		.min = 0, .max = 50,
		.help = "classifier-free guidance weight w: (1 + w) eps(class) - w eps(no class); 0 = off"
	},
	[ND_OPT_REFINE] = {
		.name = "refine", .type = NTG_OPTION_INTEGER, .dflt = 2, .legacy = 2,
		.min = 0, .max = 2,
		.help = "refine decoded values to the nearest training value: 0 of all rows, 1 of the class, 2 of the class at that position"
	},
	[ND_OPT_CLIP] = {
		.name = "clip", .type = NTG_OPTION_BOOL, .dflt = 1, .legacy = 1,
		.min = 0, .max = 1,
		.help = "clip each step's estimate of the clean image to where GASF images lie ([-1, 1])"
	},
	[ND_OPT_SPACING] = {
		.name = "spacing", .type = NTG_OPTION_NUMBER, .dflt = 1, .legacy = 1,
		.min = 1, .max = 4,
		.help = "step k of n is (T - 1) (k / (n - 1))^spacing: 1 evenly, 2 quadratic (more steps near the end)"
	},
	[ND_OPT_FIT] = {
		.name = "fit", .type = NTG_OPTION_BOOL, .dflt = 0, .legacy = 0,
		.min = 0, .max = 1,
		.help = "true: read the values from the whole image by least squares; false: from its diagonal"
	},
};

/* kind->check_sampling: guidance compares the class with the no-class input, which a model
 * trained with cond_drop 0 never learnt. */
static int
nd_check_sampling(const NtgModel *model, const NtgSampleOptions *opts, NtgError *err)
{
	const NetdiffusModel *m = (const NetdiffusModel *) model;

	if (opts->value[ND_OPT_GUIDANCE] > 0.0 && m->cfg.cond_drop <= 0.0)
	{
		ntg_error(err, NTG_ERR_INVALID_ARG,
				  "sampling option \"guidance\" needs a model trained with \"cond_drop\" above 0");
		ntg_error_detail(err, "Guidance compares each class with the no-class input, which this model never trained.");
		ntg_error_hint(err, "Pass {\"guidance\": 0}, or train with \"sampling\": {\"guidance\": 0} to store it as the default.");
		return NTG_ERR_INVALID_ARG;
	}
	return NTG_OK;
}

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
nd_read_params(NtgParams *p, NetdiffusConfig *c, NtgError *err)
{
	static const char *const lr_schedules[] = {"cosine", "constant", NULL};
	static const char *const beta_schedules[] = {"cosine", "linear", NULL};
	static const char *const image_scales[] = {"none", "global", "pixel", NULL};
	static const char *const value_scales[] = {"linear", "log", NULL};
	const char *lr_sched,
			   *beta_sched,
			   *img_scale,
			   *val_scale;
	int64_t		v;
	int			rc;

	*c = nd_defaults;
	if ((rc = read_int(p, "base_channels", c->base_channels, 1, ND_MAX_BASE, &c->base_channels, err)) != NTG_OK ||
		(rc = read_int(p, "levels", c->levels, 1, ND_MAX_LEVELS, &c->levels, err)) != NTG_OK ||
		(rc = read_int(p, "max_channel_mult", c->max_channel_mult, 1, ND_MAX_MULT, &c->max_channel_mult, err)) != NTG_OK ||
		(rc = read_int(p, "attn_from", c->attn_from, 0, ND_MAX_LEVELS, &c->attn_from, err)) != NTG_OK ||
		(rc = read_int(p, "n_heads", c->n_heads, 1, ND_MAX_HEADS, &c->n_heads, err)) != NTG_OK ||
		(rc = read_int(p, "norm_groups", c->norm_groups, 1, ND_MAX_BASE, &c->norm_groups, err)) != NTG_OK ||
		(rc = read_int(p, "max_len", c->max_len, 1, ND_MAX_LEN, &c->max_len, err)) != NTG_OK ||
		(rc = read_int(p, "timesteps", c->timesteps, 2, ND_MAX_TIMESTEPS, &c->timesteps, err)) != NTG_OK ||
		(rc = ntg_params_string(p, "beta_schedule", "cosine", beta_schedules, &beta_sched, err)) != NTG_OK ||
		(rc = ntg_params_string(p, "image_scale", image_scales[nd_defaults.image_scale], image_scales, &img_scale, err)) != NTG_OK ||
		(rc = ntg_params_string(p, "value_scale", value_scales[nd_defaults.value_scale], value_scales, &val_scale, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "cond_drop", c->cond_drop, 0.0, 1.0, &c->cond_drop, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "ema", c->ema, 0.0, 0.99999, &c->ema, err)) != NTG_OK ||
		(rc = read_int(p, "epochs", c->epochs, 0, 100000, &c->epochs, err)) != NTG_OK ||
		(rc = read_int(p, "batch_size", c->batch_size, 1, ND_MAX_BATCH, &c->batch_size, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "lr", c->lr, 0.0, 10.0, &c->lr, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "min_lr_ratio", c->min_lr_ratio, 0.0, 1.0, &c->min_lr_ratio, err)) != NTG_OK ||
		(rc = ntg_params_int(p, "warmup", c->warmup, -1, INT64_C(1) << 40, &c->warmup, err)) != NTG_OK ||
		(rc = ntg_params_string(p, "lr_schedule", "cosine", lr_schedules, &lr_sched, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "weight_decay", c->weight_decay, 0.0, 10.0, &c->weight_decay, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "grad_clip", c->grad_clip, 0.0, 1e9, &c->grad_clip, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "beta1", c->beta1, 0.0, 0.999999, &c->beta1, err)) != NTG_OK ||
		(rc = ntg_params_double(p, "beta2", c->beta2, 0.0, 0.999999, &c->beta2, err)) != NTG_OK ||
		(rc = ntg_params_int(p, "seed", 42, 0, INT64_MAX, &v, err)) != NTG_OK ||
		(rc = read_int(p, "sample_batch", c->sample_batch, 1, ND_MAX_BATCH, &c->sample_batch, err)) != NTG_OK ||
		(rc = read_int(p, "blas_threads", c->blas_threads, 0, 256, &c->blas_threads, err)) != NTG_OK)
		return rc;
	c->seed = (uint64_t) v;
	c->cosine = strcmp(lr_sched, "cosine") == 0;
	c->cosine_schedule = strcmp(beta_sched, "cosine") == 0;
	for (int i = 0; image_scales[i] != NULL; i++)
		if (strcmp(img_scale, image_scales[i]) == 0)
			c->image_scale = i;
	c->value_scale = strcmp(val_scale, "log") == 0 ? GASF_SCALE_LOG : GASF_SCALE_LINEAR;
	return NTG_OK;
}

/* Shapes that the network cannot be built with (create and load refuse them alike). */
const char *
netdiffus_config_problem(const NetdiffusConfig *c)
{
	NetdiffusShape s;

	netdiffus_shape(c, &s);
	for (int l = 0; l < c->levels; l++)
	{
		if (s.ch[l] % c->norm_groups != 0)
			return "every level's channels (base_channels times a power of 2) must be a multiple of norm_groups";
		if (l >= c->attn_from && s.ch[l] % c->n_heads != 0)
			return "the channels of every level with attention must be a multiple of n_heads";
	}
	if (s.ch[c->levels - 1] % c->n_heads != 0)
		return "the channels of the deepest level must be a multiple of n_heads";
	if ((int64_t) s.S * s.S > 1 << 14)
		return "the padded image is too large";
	return NULL;
}

void
netdiffus_shape(const NetdiffusConfig *cfg, NetdiffusShape *s)
{
	int			f = 1 << (cfg->levels - 1);

	memset(s, 0, sizeof(*s));
	s->S = (cfg->max_len + f - 1) / f * f;
	s->E = 4 * cfg->base_channels;
	for (int l = 0; l < cfg->levels; l++)
	{
		int			mult = 1 << l;

		s->ch[l] = cfg->base_channels * (mult < cfg->max_channel_mult ? mult : cfg->max_channel_mult);
		s->side[l] = s->S >> l;
	}
}

/* ---- tensors ------------------------------------------------------------------------------ */

static int
declare(NnParams *p, const char *prefix, const char *what, int ndim, int d0, int d1, int decay)
{
	char		name[NN_MAX_NAME];

	snprintf(name, sizeof(name), "%s.%s", prefix, what);
	return nn_params_declare(p, name, ndim, d0, d1, decay);
}

static int
declare_res(NnParams *p, const char *prefix, NdResBlock *r, int C, int OC, int E)
{
	r->C = C;
	r->OC = OC;
	r->gn1_w = declare(p, prefix, "gn1.w", 1, C, 0, 0);
	r->gn1_b = declare(p, prefix, "gn1.b", 1, C, 0, 0);
	r->conv1_w = declare(p, prefix, "conv1.w", 2, OC, 9 * C, 1);
	r->conv1_b = declare(p, prefix, "conv1.b", 1, OC, 0, 0);
	r->emb_w = declare(p, prefix, "emb.w", 2, OC, E, 1);
	r->emb_b = declare(p, prefix, "emb.b", 1, OC, 0, 0);
	r->gn2_w = declare(p, prefix, "gn2.w", 1, OC, 0, 0);
	r->gn2_b = declare(p, prefix, "gn2.b", 1, OC, 0, 0);
	r->conv2_w = declare(p, prefix, "conv2.w", 2, OC, 9 * OC, 1);
	r->conv2_b = declare(p, prefix, "conv2.b", 1, OC, 0, 0);
	r->skip_w = r->skip_b = -1;
	if (C != OC)
	{
		r->skip_w = declare(p, prefix, "skip.w", 2, OC, C, 1);
		r->skip_b = declare(p, prefix, "skip.b", 1, OC, 0, 0);
		return r->skip_b;
	}
	return r->conv2_b;
}

static int
declare_attn(NnParams *p, const char *prefix, NdAttnBlock *a, int C)
{
	a->C = C;
	a->gn_w = declare(p, prefix, "gn.w", 1, C, 0, 0);
	a->gn_b = declare(p, prefix, "gn.b", 1, C, 0, 0);
	a->qkv_w = declare(p, prefix, "qkv.w", 2, 3 * C, C, 1);
	a->qkv_b = declare(p, prefix, "qkv.b", 1, 3 * C, 0, 0);
	a->proj_w = declare(p, prefix, "proj.w", 2, C, C, 1);
	a->proj_b = declare(p, prefix, "proj.b", 1, C, 0, 0);
	return a->proj_b;
}

/* Declare every tensor in a fixed order (the stored order); -1 when out of memory. */
static int
declare_all(NetdiffusModel *m, int n_classes)
{
	const NetdiffusConfig *c = &m->cfg;
	const NetdiffusShape *s = &m->shape;
	NnParams   *p = &m->params;
	int			base = c->base_channels,
				E = s->E,
				L = c->levels,
				ok = 1,
				h;
	char		prefix[32];

	m->t_time_w1 = nn_params_declare(p, "time.w1", 2, E, base, 1);
	m->t_time_b1 = nn_params_declare(p, "time.b1", 1, E, 0, 0);
	m->t_time_w2 = nn_params_declare(p, "time.w2", 2, E, E, 1);
	m->t_time_b2 = nn_params_declare(p, "time.b2", 1, E, 0, 0);
	m->t_class_emb = nn_params_declare(p, "class_emb", 2, n_classes + 1, E, 1);
	m->t_in_w = nn_params_declare(p, "in.w", 2, base, 9, 1);
	m->t_in_b = nn_params_declare(p, "in.b", 1, base, 0, 0);
	ok &= m->t_in_b >= 0;
	h = base;
	for (int l = 0; l < L; l++)
	{
		NdLevel    *lv = &m->level[l];

		lv->has_attn = l >= c->attn_from;
		snprintf(prefix, sizeof(prefix), "down.%d.res", l);
		ok &= declare_res(p, prefix, &lv->down, h, s->ch[l], E) >= 0;
		h = s->ch[l];
		snprintf(prefix, sizeof(prefix), "down.%d.attn", l);
		if (lv->has_attn)
			ok &= declare_attn(p, prefix, &lv->down_attn, h) >= 0;
	}
	ok &= declare_res(p, "mid.res1", &m->mid1, h, h, E) >= 0;
	ok &= declare_attn(p, "mid.attn", &m->mid_attn, h) >= 0;
	ok &= declare_res(p, "mid.res2", &m->mid2, h, h, E) >= 0;
	for (int l = L - 1; l >= 0; l--)
	{
		NdLevel    *lv = &m->level[l];

		snprintf(prefix, sizeof(prefix), "up.%d.res", l);
		ok &= declare_res(p, prefix, &lv->up, h + s->ch[l], s->ch[l], E) >= 0;
		h = s->ch[l];
		snprintf(prefix, sizeof(prefix), "up.%d.attn", l);
		if (lv->has_attn)
			ok &= declare_attn(p, prefix, &lv->up_attn, h) >= 0;
	}
	m->t_out_gn_w = nn_params_declare(p, "out.gn.w", 1, base, 0, 0);
	m->t_out_gn_b = nn_params_declare(p, "out.gn.b", 1, base, 0, 0);
	m->t_out_w = nn_params_declare(p, "out.w", 2, 1, 9 * base, 1);
	m->t_out_b = nn_params_declare(p, "out.b", 1, 1, 0, 0);
	return ok && m->t_out_b >= 0 ? 0 : -1;
}

static void
nd_destroy(NtgModel *model)
{
	NetdiffusModel *m = (NetdiffusModel *) model;

	if (m == NULL)
		return;
	netdiffus_unpack_convs(m);	/* packed by sampling calls */
	netdiffus_free_acts(m);
	ntg_model_free_classes(&m->base);
	gasf_values_free(&m->gv);
	nn_params_free(&m->params);
	ntg_free(m->betas);
	ntg_free(m->alphas_cumprod);
	ntg_free(m->img_mean);
	ntg_free(m->img_std);
	ntg_free_aligned(m->ema);
	ntg_free(m);
}

/*
 * A quantized netdiffus stores every matrix as int8 — every convolution's kernels ([OC, 9 C]), the
 * 1x1 skips, the attention projections, the time and embedding layers and the class embedding —
 * and computes with them dequantized to float32 (NN_QUANTIZE_STORED), in either mode.  Measured
 * (docs/quantization.md), int8 products were slower than OpenBLAS's sgemm for the U-Net's
 * products, which are many positions deep (16 x 16 per image): weight-only 0.94x and dynamic
 * 0.65x the float32 speed batched.  So int8 buys the netdiffus its size (a quarter) and costs it
 * no speed; the group norms and the biases stay float.
 */
static void
nd_mark_quantizable(NetdiffusModel *m)
{
	NnParams   *p = &m->params;

	for (int i = 0; i < p->n_tensors; i++)
		if (p->tensors[i].ndim == 2)
			nn_params_mark_quantizable(p, i, NN_QUANTIZE_STORED);
}

/* kind->quantize: the marked matrices to int8; the weights' moving average (training state)
 * goes, as do the gradient and optimizer buffers (a quantized model is not trained). */
static int
nd_quantize(NtgModel *model, int mode, NtgError *err)
{
	NetdiffusModel *m = (NetdiffusModel *) model;

	ntg_free_aligned(m->ema);
	m->ema = NULL;
	return ntg_model_quantize_params(&m->base, &m->params, mode, err);
}

int
netdiffus_alloc_schedule(NetdiffusModel *m)
{
	const NetdiffusConfig *cfg = &m->cfg;

	m->betas = ntg_malloc((size_t) cfg->timesteps * sizeof(double));
	m->alphas_cumprod = ntg_malloc((size_t) cfg->timesteps * sizeof(double));
	m->img_mean = ntg_calloc((size_t) cfg->max_len * cfg->max_len, sizeof(float));
	m->img_std = ntg_malloc((size_t) cfg->max_len * cfg->max_len * sizeof(float));
	if (m->betas == NULL || m->alphas_cumprod == NULL || m->img_mean == NULL ||
		m->img_std == NULL)
		return NTG_ERR_NOMEM;
	netdiffus_schedule(cfg->timesteps, cfg->cosine_schedule, m->betas, m->alphas_cumprod);
	for (int i = 0; i < cfg->max_len * cfg->max_len; i++)
		m->img_std[i] = 1.0f;
	return NTG_OK;
}

int
netdiffus_alloc(const NetdiffusConfig *cfg, int n_classes, NetdiffusModel **out, int with_grad,
				NtgError *err)
{
	NetdiffusModel *m = ntg_calloc(1, sizeof(NetdiffusModel));

	*out = NULL;
	if (m == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	m->base.kind = &ntg_netdiffus_kind;
	m->base.n_classes = n_classes;
	m->base.max_len = cfg->max_len;
	m->cfg = *cfg;
	netdiffus_shape(cfg, &m->shape);
	if (declare_all(m, n_classes) != 0)
		goto nomem;
	nd_mark_quantizable(m);
	if (with_grad >= 0 &&
		(netdiffus_alloc_schedule(m) != NTG_OK || nn_params_alloc(&m->params, with_grad) != NTG_OK))
		goto nomem;
	m->base.n_params = (int64_t) m->params.count;
	m->base.weights = m->params.data;
	m->base.n_weights = m->params.count;
	*out = m;
	return NTG_OK;

nomem:
	nd_destroy(&m->base);
	return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
}

/* Is tensor i one of those initialised to zero (guided-diffusion's zero_module): the last
 * convolution of every residual branch, the attention output projections and the output
 * convolution, so that every block starts as the identity? */
static int
zero_init(const NnTensor *t)
{
	size_t		n = strlen(t->name);

	return (n > 7 && strcmp(t->name + n - 7, "conv2.w") == 0) ||
		(n > 6 && strcmp(t->name + n - 6, "proj.w") == 0) || strcmp(t->name, "out.w") == 0;
}

/*
 * Seeded initialisation: weights N(0, 1 / (3 fan_in)) (the variance of PyTorch's default
 * uniform(+-1/sqrt(fan_in))), the class embedding N(0, 1) (nn.Embedding's), norms 1, biases 0,
 * and the zero-initialised projections above.
 */
void
netdiffus_init_weights(NetdiffusModel *m, uint64_t seed)
{
	NtgRng		rng;

	ntg_rng_seed(&rng, seed);
	for (int i = 0; i < m->params.n_tensors; i++)
	{
		const NnTensor *t = &m->params.tensors[i];
		int			is_norm_w = t->ndim == 1 && strstr(t->name, "gn") != NULL &&
			t->name[strlen(t->name) - 1] == 'w';

		if (i == m->t_class_emb)
			nn_params_init_normal(&m->params, i, &rng, 1.0f, 0.0f);
		else if (t->ndim == 2 && !zero_init(t))
			nn_params_init_normal(&m->params, i, &rng, 1.0f / sqrtf(3.0f * t->dims[1]), 0.0f);
		else
			nn_params_init_normal(&m->params, i, &rng, 0.0f, is_norm_w ? 1.0f : 0.0f);
	}
}

void
netdiffus_reset_optimizer(NetdiffusModel *m, int64_t n_rows)
{
	const NetdiffusConfig *c = &m->cfg;
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

char *
netdiffus_config_json(const NtgModel *model)
{
	const NetdiffusModel *m = (const NetdiffusModel *) model;
	const NetdiffusConfig *c = &m->cfg;
	char		buf[1536];

	snprintf(buf, sizeof(buf),
			 "{\"base_channels\": %d, \"levels\": %d, \"max_channel_mult\": %d, \"attn_from\": %d, "
			 "\"n_heads\": %d, \"norm_groups\": %d, \"max_len\": %d, \"image_size\": %d, "
			 "\"n_classes\": %d, \"timesteps\": %d, \"beta_schedule\": \"%s\", \"image_scale\": \"%s\", "
			 "\"value_scale\": \"%s\", "
			 "\"cond_drop\": %.17g, \"ema\": %.17g, \"epochs\": %d, \"batch_size\": %d, \"lr\": %.17g, "
			 "\"min_lr_ratio\": %.17g, \"warmup\": %lld, \"lr_schedule\": \"%s\", "
			 "\"weight_decay\": %.17g, \"grad_clip\": %.17g, \"beta1\": %.17g, \"beta2\": %.17g, "
			 "\"seed\": %llu, \"sample_batch\": %d, \"blas_threads\": %d, \"scale_min\": %d, "
			 "\"scale_max\": %d, \"params\": %lld}",
			 c->base_channels, c->levels, c->max_channel_mult, c->attn_from, c->n_heads,
			 c->norm_groups, c->max_len, m->shape.S, m->base.n_classes, c->timesteps,
			 c->cosine_schedule ? "cosine" : "linear",
			 c->image_scale == ND_SCALE_PIXEL ? "pixel" : c->image_scale == ND_SCALE_GLOBAL ? "global" : "none",
			 c->value_scale == GASF_SCALE_LOG ? "log" : "linear",
			 c->cond_drop, c->ema, c->epochs, c->batch_size,
			 c->lr, c->min_lr_ratio, (long long) c->warmup, c->cosine ? "cosine" : "constant",
			 c->weight_decay, c->grad_clip, c->beta1, c->beta2, (unsigned long long) c->seed,
			 c->sample_batch, c->blas_threads, m->gv.lo, m->gv.hi, (long long) m->base.n_params);
	return ntg_strdup(buf);
}

/* ---- estimate / create -------------------------------------------------------------------- */

static int
nd_plan_config(NtgParams *params, const NtgSeqSet *train, NetdiffusConfig *cfg, NtgError *err)
{
	const char *problem;
	int			rc;

	if ((rc = nd_read_params(params, cfg, err)) != NTG_OK)
		return rc;
	if (train->n_rows < 1 || train->n_classes < 1)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "the training set is empty");
	if (train->n_classes > ND_MAX_CLASSES)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "too many classes: %d (the limit is %d)",
						 train->n_classes, ND_MAX_CLASSES);
	/* N = the longest training row, capped by max_len (and at least 1) */
	if (train->max_len < cfg->max_len)
		cfg->max_len = train->max_len > 0 ? train->max_len : 1;
	if ((problem = netdiffus_config_problem(cfg)) != NULL)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "netdiffus hyperparameters do not fit: %s",
						 problem);
	return NTG_OK;
}

/* Bytes of the per-batch buffers of an epoch (netdiffus_train.c): images, noise, steps, classes,
 * predicted noise and its gradient for one pass, and the row order. */
static int64_t
nd_epoch_bytes(const NetdiffusConfig *c, const NetdiffusShape *s, int rows)
{
	int			B = c->batch_size < ND_MICRO ? c->batch_size : ND_MICRO;

	return (int64_t) B * s->S * s->S * 4 * sizeof(float) + (int64_t) B * 2 * sizeof(int) +
		(int64_t) rows * sizeof(int);
}

/*
 * kind->estimate: weights with gradients and two Adam moments (16 bytes a parameter), two more
 * copies while training (the best epoch's weights kept by validation, the saved value), one more
 * with "ema" (the moving average), the
 * activations of a pass, the epoch's buffers, the value tables (built twice over: the lists and
 * their unions) and the noise schedule.
 */
static int
nd_estimate(NtgParams *params, const NtgSeqSet *train, NtgTrainPlan *plan, NtgError *err)
{
	NetdiffusConfig cfg;
	NetdiffusModel *probe;
	int64_t		n,
				values;
	int			B,
				rc;

	if ((rc = nd_plan_config(params, train, &cfg, err)) != NTG_OK ||
		(rc = netdiffus_alloc(&cfg, train->n_classes, &probe, -1, err)) != NTG_OK)
		return rc;
	n = probe->base.n_params;
	B = cfg.batch_size < ND_MICRO ? cfg.batch_size : ND_MICRO;
	if (B > train->n_rows)
		B = train->n_rows;
	values = (int64_t) train->n_rows * cfg.max_len + (int64_t) train->n_classes * cfg.max_len;
	plan->epochs = cfg.epochs;
	plan->seed = cfg.seed;
	plan->bytes = n * (16 + 8 + (cfg.ema > 0.0 ? 4 : 0)) + (int64_t) netdiffus_acts_floats(probe, B) * sizeof(float) +
		nd_epoch_bytes(&cfg, &probe->shape, train->n_rows) + values * 4 * 4 +
		(int64_t) cfg.timesteps * 16 + (int64_t) cfg.max_len * cfg.max_len * 24 +
		(int64_t) probe->params.n_tensors * sizeof(NnTensor) +
		((int64_t) 64 << 10);
	ntg_netdiffus_kind.destroy(&probe->base);
	return NTG_OK;
}

static int
nd_create(NtgParams *params, const NtgSeqSet *train, NtgModel **model, NtgTrainPlan *plan,
		  NtgError *err)
{
	NetdiffusConfig cfg;
	NetdiffusModel *m;
	int			rc;

	*model = NULL;
	if ((rc = nd_plan_config(params, train, &cfg, err)) != NTG_OK ||
		(rc = netdiffus_alloc(&cfg, train->n_classes, &m, 1, err)) != NTG_OK)
		return rc;
	if ((rc = gasf_values_build(&m->gv, train, cfg.max_len, err)) != NTG_OK ||
		(rc = ntg_model_copy_classes(&m->base, train->classes, train->n_classes, err)) != NTG_OK)
	{
		nd_destroy(&m->base);
		return rc;
	}
	m->gv.scale = (GasfScale) cfg.value_scale;
	netdiffus_image_stats(m, train);
	netdiffus_init_weights(m, cfg.seed);
	netdiffus_reset_optimizer(m, train->n_rows);
	ntg_sample_options_defaults(&ntg_netdiffus_kind, 0, &m->base.sampling);
	plan->epochs = cfg.epochs;
	plan->seed = cfg.seed;
	*model = &m->base;
	return NTG_OK;
}

/*
 * Mean and standard deviation of every pixel of the training rows' GASF images (image_scale
 * "pixel"), or of all pixels together ("global"); "none" keeps 0 and 1.  A std below
 * ND_STD_FLOOR (a pixel that hardly varies) is raised to it, so that no pixel is blown up.
 * Why: on traffic the extremes lo..hi come from a few segmentation-offload rows, so the values of
 * most rows lie within a few hundredths of each other in x, and their images differ from each
 * other by far less than the diffusion's unit noise; standardized, they differ by about that much.
 */
void
netdiffus_image_stats(NetdiffusModel *m, const NtgSeqSet *train)
{
	int			N = m->cfg.max_len,
				NN = N * N;
	double	   *sum = ntg_calloc((size_t) 2 * NN, sizeof(double));
	float	   *img = ntg_malloc((size_t) NN * sizeof(float));

	for (int i = 0; i < NN; i++)
		m->img_mean[i] = 0.0f, m->img_std[i] = 1.0f;
	if (m->cfg.image_scale == ND_SCALE_NONE || train->n_rows == 0 || sum == NULL || img == NULL)
	{
		ntg_free(sum), ntg_free(img);
		return;
	}
	for (int r = 0; r < train->n_rows; r++)
	{
		int			len;
		const int32_t *row = ntg_seqset_row(train, r, &len);

		gasf_encode(img, N, row, len, N, m->gv.lo, m->gv.hi, m->gv.scale);
		for (int i = 0; i < NN; i++)
			sum[i] += img[i], sum[NN + i] += (double) img[i] * img[i];
	}
	if (m->cfg.image_scale == ND_SCALE_GLOBAL)
	{
		for (int i = 1; i < NN; i++)
			sum[0] += sum[i], sum[NN] += sum[NN + i];
		for (int i = 1; i < NN; i++)
			sum[i] = sum[0], sum[NN + i] = sum[NN];
	}
	for (int i = 0; i < NN; i++)
	{
		double		n = (double) train->n_rows * (m->cfg.image_scale == ND_SCALE_GLOBAL ? NN : 1);
		double		mean = sum[i] / n,
					var = sum[NN + i] / n - mean * mean;
		double		sd = var > 0.0 ? sqrt(var) : 0.0;

		m->img_mean[i] = (float) mean;
		m->img_std[i] = (float) (sd > ND_STD_FLOOR ? sd : ND_STD_FLOOR);
	}
	ntg_free(sum), ntg_free(img);
}

void
netdiffus_encode_row(const NetdiffusModel *m, const NtgSeqSet *set, int r, float *z)
{
	int			len,
				N = m->cfg.max_len;
	const int32_t *row = ntg_seqset_row(set, r, &len);

	gasf_encode(z, N, row, len, N, m->gv.lo, m->gv.hi, m->gv.scale);
	for (int i = 0; i < N * N; i++)
		z[i] = (z[i] - m->img_mean[i]) / m->img_std[i];
}

const NtgModelKind ntg_netdiffus_kind = {
	.name = "netdiffus",
	.summary = "NetDiffus-NR: class-conditional diffusion U-Net on GASF images, refined to observed payload lengths",
	.family = NTG_FAMILY_DIFFUSION,
	.caps = NTG_CAP_GENERATE | NTG_CAP_VALIDATION | NTG_CAP_EPOCHS | NTG_CAP_QUANTIZE,
	.sample_options = ntg_netdiffus_sample_options,
	.n_sample_options = ND_N_OPTIONS,
	.tiny_hyperparams = "{\"base_channels\": 8, \"levels\": 2, \"n_heads\": 2, \"norm_groups\": 4, "
	"\"attn_from\": 1, \"timesteps\": 20, \"epochs\": 2, \"batch_size\": 8}",
	.estimate = nd_estimate,
	.create = nd_create,
	.train_epoch = netdiffus_train_epoch,
	.eval_loss = netdiffus_eval_loss,
	.sample = netdiffus_sample,
	.save = netdiffus_save,
	.load = netdiffus_load,
	.config_json = netdiffus_config_json,
	.destroy = nd_destroy,
	.quantize = nd_quantize,
	.check_sampling = nd_check_sampling,
};
