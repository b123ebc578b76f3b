/*
 * netdiffus.h — the NetDiffus-NR generator (kind "netdiffus"): a class-conditional denoising
 * diffusion model (DDPM) over the GASF images of the sequences (gasf.h), sampled with DDPM or
 * DDIM and optional classifier-free guidance, and refined back to observed payload lengths.
 *
 * The network is a U-Net over the N x N image zero-padded to S x S (S = N rounded up to a
 * multiple of 2^(levels-1)), channels-last, in the llm.c style of the rest of the nn core:
 *
 *   emb   = MLP(sinusoid(t)) + class_emb[c]            (c = n_classes: the "no class" row)
 *   h     = conv_in(x)                                  3x3, 1 -> ch[0]
 *   down  level l = 0..L-1: [avgpool 2x2 if l > 0], ResBlock(-> ch[l]), [Attention if l >=
 *         attn_from]; its output is the skip of level l
 *   mid   ResBlock, Attention, ResBlock                 at ch[L-1]
 *   up    level l = L-1..0: concat(h, skip_l), ResBlock(-> ch[l]), [Attention], [nearest 2x
 *         up-sampling if l > 0]
 *   out   conv_out(SiLU(GroupNorm(h)))                  3x3, ch[0] -> 1: the predicted noise
 *
 *   ResBlock(x) = skip(x) + conv2(SiLU(GN(conv1(SiLU(GN(x))) + W_e SiLU(emb))))
 *   Attention(x) = x + proj(MHA(qkv(GN(x))))            over the image's positions
 *   ch[l] = base_channels * min(2^l, max_channel_mult)
 *
 * Defaults (Table I of the paper: base channels 32, 4 levels, 4 heads): channels 32, 64, 64, 64,
 * attention at the 4x4 and 2x2 levels and in the middle, about 1 M parameters at N = 10.
 */
#ifndef NTG_NETDIFFUS_H
#define NTG_NETDIFFUS_H

#include "models/gasf.h"
#include "models/model.h"
#include "nn/nn.h"

extern const NtgModelKind ntg_netdiffus_kind;

/* Limits that create() enforces on hyperparameters and load() on a stored model. */
#define ND_MAX_BASE			512
#define ND_MAX_LEVELS		6
#define ND_MAX_MULT			16
#define ND_MAX_HEADS		64
#define ND_MAX_LEN			64
#define ND_MAX_TIMESTEPS	100000
#define ND_MAX_CLASSES		100000
#define ND_MAX_BATCH		65536
#define ND_NORM_EPS			1e-5f
/* Images per forward/backward pass: a larger batch accumulates gradients over several passes,
 * which bounds the activation memory (about 1 MB an image at the default shape). */
#define ND_MICRO			32

/*
 * What the diffusion runs on: z = (G - mean) / std per pixel of the GASF image G, mean and std
 * taken over the training images (netdiffus_image_stats): none (mean 0, std 1: G itself), one
 * mean and std over every pixel, or one per pixel.  Decoding undoes it before reading the diagonal.
 */
enum
{
	ND_SCALE_NONE = 0,
	ND_SCALE_GLOBAL,
	ND_SCALE_PIXEL
};
#define ND_STD_FLOOR 1e-3		/* the smallest std a pixel is divided by */

/* The sampling options (ntg_netdiffus_kind.sample_options), in spec order. */
enum
{
	ND_OPT_STEPS = 0,
	ND_OPT_DDIM,
	ND_OPT_ETA,
	ND_OPT_GUIDANCE,
	ND_OPT_REFINE,
	ND_OPT_CLIP,
	ND_OPT_SPACING,
	ND_OPT_FIT,
	ND_N_OPTIONS
};

typedef struct NetdiffusConfig
{
	/* shape */
	int			base_channels;
	int			levels;
	int			max_channel_mult;
	int			attn_from;		/* levels >= this one have attention (levels: none) */
	int			n_heads;
	int			norm_groups;
	int			max_len;		/* N */
	/* diffusion */
	int			timesteps;		/* T */
	int			cosine_schedule;	/* beta schedule: 1 cosine, 0 linear */
	int			image_scale;	/* ND_SCALE_*: how GASF images are standardized for the network */
	int			value_scale;	/* GasfScale: how values map to x before the image (gasf.h) */
	double		cond_drop;		/* probability of training a row without its class */
	double		ema;			/* decay of the weights' moving average; 0 = off */
	/* training */
	int			epochs;
	int			batch_size;
	double		lr;
	double		min_lr_ratio;
	int64_t		warmup;			/* -1: 5 % of the total steps */
	int			cosine;			/* learning-rate schedule: 1 cosine, 0 constant */
	double		weight_decay;
	double		grad_clip;
	double		beta1;
	double		beta2;
	uint64_t	seed;
	int			sample_batch;	/* rows denoised together */
	int			blas_threads;
} NetdiffusConfig;

/* Derived sizes of a config (netdiffus_shape). */
typedef struct NetdiffusShape
{
	int			S;				/* image side after padding */
	int			E;				/* embedding width: 4 * base_channels */
	int			ch[ND_MAX_LEVELS];	/* channels of each level */
	int			side[ND_MAX_LEVELS];	/* image side of each level */
} NetdiffusShape;

/* Parameter tensor indices of the blocks (into NnParams). */
typedef struct NdResBlock
{
	int			C;				/* input channels */
	int			OC;				/* output channels */
	int			gn1_w,
				gn1_b,
				conv1_w,
				conv1_b,
				emb_w,
				emb_b,
				gn2_w,
				gn2_b,
				conv2_w,
				conv2_b,
				skip_w,			/* -1 when C == OC (identity) */
				skip_b;
} NdResBlock;

typedef struct NdAttnBlock
{
	int			C;
	int			gn_w,
				gn_b,
				qkv_w,
				qkv_b,
				proj_w,
				proj_b;
} NdAttnBlock;

typedef struct NdLevel
{
	int			has_attn;
	NdResBlock	down;
	NdAttnBlock down_attn;
	NdResBlock	up;
	NdAttnBlock up_attn;
} NdLevel;

typedef struct NetdiffusActs NetdiffusActs;

typedef struct NetdiffusModel
{
	NtgModel	base;
	NetdiffusConfig cfg;
	NetdiffusShape shape;
	GasfValues	gv;				/* the values decoding refines to, and the scaling lo..hi */
	float	   *img_mean;		/* [N*N] the standardization of the images (ND_SCALE_*) */
	float	   *img_std;		/* [N*N] */
	NnParams	params;
	/* tensors outside the levels */
	int			t_time_w1,
				t_time_b1,
				t_time_w2,
				t_time_b2,
				t_class_emb,
				t_in_w,
				t_in_b,
				t_out_gn_w,
				t_out_gn_b,
				t_out_w,
				t_out_b;
	NdLevel		level[ND_MAX_LEVELS];
	NdResBlock	mid1;
	NdAttnBlock mid_attn;
	NdResBlock	mid2;
	/* the noise schedule, in double: betas[T], alphas_cumprod[T] */
	double	   *betas;
	double	   *alphas_cumprod;
	NnAdamW		opt;
	int64_t		total_steps;
	float	   *ema;			/* with cfg.ema: the other weights (raw while sampling, average while
								 * training); params.data holds the average between epochs */
	int64_t		ema_steps;		/* updates of the average so far */
	NetdiffusActs *acts;		/* activation buffers, allocated on first use */
	int			acts_images;	/* images they hold */
	float	  **packed;			/* once sampled from: [n_tensors] the 3 x 3 convolutions'
								 * weights packed for the vector kernel (nn_conv3x3.h), each on
								 * first use; NULL while training (the weights change) */
} NetdiffusModel;

/* ---- netdiffus.c ------------------------------------------------------------------------- */

/* The derived sizes of cfg. */
void		netdiffus_shape(const NetdiffusConfig *cfg, NetdiffusShape *shape);
/* Why the network cannot be built with cfg's shape (channels not divisible by the groups or
 * heads, ...), or NULL when it can. */
const char *netdiffus_config_problem(const NetdiffusConfig *cfg);
/* Build the model object and its tensor layout for cfg and n_classes (weights zero; with_grad 1
 * also gives gradient and Adam buffers; -1 the layout only, no buffers: load() checks a stored
 * model's shapes with it before allocating), and its noise schedule. */
int			netdiffus_alloc(const NetdiffusConfig *cfg, int n_classes, NetdiffusModel **out,
							int with_grad, NtgError *err);
/* The noise schedule and the image standardization buffers of a model allocated with
 * with_grad < 0 (its weights are loaded separately: netdiffus_io.c); NTG_ERR_NOMEM on failure. */
int			netdiffus_alloc_schedule(NetdiffusModel *m);
void		netdiffus_init_weights(NetdiffusModel *m, uint64_t seed);
/* The images' standardization for cfg.image_scale from the training rows (gv built). */
void		netdiffus_image_stats(NetdiffusModel *m, const NtgSeqSet *train);
/* The network's input form of row r of set: its GASF image, standardized, into z (N x N). */
void		netdiffus_encode_row(const NetdiffusModel *m, const NtgSeqSet *set, int r, float *z);
void		netdiffus_reset_optimizer(NetdiffusModel *m, int64_t n_rows);
char	   *netdiffus_config_json(const NtgModel *model);

/* ---- netdiffus_unet.c: the network ---------------------------------------------------------- */

/* Floats of the activation buffers for B images (the same walk as the allocation). */
size_t		netdiffus_acts_floats(const NetdiffusModel *m, int B);
/* Make the activation buffers hold B images (B <= ND_MICRO in practice). */
int			netdiffus_ensure_acts(NetdiffusModel *m, int B);
void		netdiffus_free_acts(NetdiffusModel *m);
/* Keep the convolutions' packed weights from now until netdiffus_unpack_convs (a training epoch
 * or the model's end): for sampling, whose weights do not change (packing them for every pass
 * cost a quarter of a one-row call; for every call, see conv3 in netdiffus_unet.c).  Without
 * memory or the vector kernel, the convolutions pack for each pass. */
void		netdiffus_pack_convs(NetdiffusModel *m);
void		netdiffus_unpack_convs(NetdiffusModel *m);
/*
 * The predicted noise eps[B, S, S] of images x[B, S, S] (single channel) at time steps t[B] of
 * classes cls[B] (n_classes = no class).  The activations stay in m->acts for backward.
 */
void		netdiffus_forward(NetdiffusModel *m, const float *x, const int *t, const int *cls,
							  int B, float *eps);
/* Gradients (accumulated into m->params.grad) for deps[B, S, S], after netdiffus_forward. */
void		netdiffus_backward(NetdiffusModel *m, const float *deps, int B);

/* ---- netdiffus_train.c ------------------------------------------------------------------- */

/*
 * One pass over B rows (B <= ND_MICRO): x0 are their GASF images [B, N*N], noise [B, N*N] the
 * noise, t[B] the steps, cls[B] the classes (n_classes: none).  *loss_sum = the sum over rows of
 * the MSE of the predicted noise over the N x N pixels.  With backward, the gradient of
 * scale * that sum is accumulated into params.grad.
 */
int			netdiffus_loss(NetdiffusModel *m, const float *x0, const float *noise, const int *t,
						   const int *cls, int B, int backward, float scale, double *loss_sum,
						   NtgError *err);
/* One update of the weights' moving average from params.data (netdiffus_train.c explains). */
void		netdiffus_ema_update(NetdiffusModel *m);
int			netdiffus_train_epoch(NtgModel *model, const NtgSeqSet *train, int epoch,
								  NtgRng *rng, double *mean_loss, NtgError *err);
int			netdiffus_eval_loss(NtgModel *model, const NtgSeqSet *set, double *mean_loss,
								int64_t *scored, NtgError *err);

/* ---- netdiffus_sample.c ------------------------------------------------------------------ */

/* The steps a sampler with `steps` steps takes, ascending, into tau (steps ints, at most T):
 * round((T - 1) (k / (steps - 1))^power), made strictly increasing; power 1 spaces them evenly. */
int			netdiffus_spaced_steps(int T, int steps, double power, int *tau);
/* The beta schedule of T steps (cosine or linear, netdiffus_sample.c says which) into betas[T]
 * and alphas_cumprod[T]. */
void		netdiffus_schedule(int T, int cosine, double *betas, double *alphas_cumprod);
int			netdiffus_sample(NtgModel *model, int class_index, int n,
							 const NtgSampleOptions *opts, NtgRng *rng, int32_t *out,
							 int *out_len, NtgError *err);
/* Like sample, but stops at the images (n x N x N floats, row-major) without decoding. */
int			netdiffus_sample_images(NetdiffusModel *m, int class_index, int n,
									const NtgSampleOptions *opts, NtgRng *rng, float *img,
									NtgError *err);

/* ---- netdiffus_io.c ---------------------------------------------------------------------- */

int			netdiffus_save(NtgModel *model, NtgBlob *blob, NtgError *err);
int			netdiffus_load(const NtgBlob *blob, NtgModel **model, NtgError *err);

#endif							/* NTG_NETDIFFUS_H */
