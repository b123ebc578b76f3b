/*
 * mamba.h — the Mamba selective state-space generator (kind "mamba"): token embedding,
 * n_layers x [RMSNorm, Mamba mixer, residual], final RMSNorm, untied output head, over the same
 * tokens as llama (tokenizer.h: the observed values, <EOS>, <PAD>, one <CLASS_c> per class, the
 * class token as the prompt).
 *
 * The mixer (Gu & Dao 2023, "mamba_simple"), for a row of tokens x [T, dim]:
 *   [u | z] = in_proj(x)                         [T, 2 inner]
 *   u = silu(conv1d_causal(u))                   depthwise over time, width conv_width
 *   [dt | B | C] = x_proj(u)                     [T, dt_rank + 2 state]
 *   delta = softplus(dt_proj(dt) + dt_bias)      [T, inner]
 *   y = selective_scan(u, delta, A = -exp(A_log), B, C, D)
 *   out = out_proj(y * silu(z))                  [T, dim]
 * Defaults from Table I of the paper: dim 72, inner 144, 4 layers, state 16, conv 4,
 * dt_rank = ceil(dim / 16).
 *
 * Training runs the scan over each row to its own length (nn_ssm.h) and batches the matrix
 * products over all tokens of the batch; sampling is recurrent (mamba_sample.c): a constant
 * state per distinct history, no recomputation of the prefix.
 */
#ifndef NTG_MAMBA_H
#define NTG_MAMBA_H

#include "models/model.h"
#include "models/token_sampling.h"
#include "models/tokenizer.h"
#include "nn/nn.h"

extern const NtgModelKind ntg_mamba_kind;

/* Limits that load() enforces on a stored config (and create() on hyperparameters). */
#define MAMBA_MAX_DIM		4096
#define MAMBA_MAX_INNER		16384
#define MAMBA_MAX_LAYERS	64
#define MAMBA_MAX_STATE		256
#define MAMBA_MAX_CONV		16
#define MAMBA_MAX_DT_RANK	4096
#define MAMBA_MAX_LEN		256
#define MAMBA_MAX_CLASSES	100000
#define MAMBA_MAX_BATCH		65536
#define MAMBA_NORM_EPS		1e-5f

typedef struct MambaConfig
{
	int			dim;			/* d_model */
	int			inner_dim;		/* d_inner (expand x d_model) */
	int			n_layers;
	int			state_dim;		/* d_state: N of the SSM */
	int			conv_width;		/* d_conv */
	int			dt_rank;		/* rank of the delta projection */
	int			max_len;		/* N: value tokens per row at most */
	int			vocab_size;
	/* training */
	int			epochs;
	int			batch_size;
	double		lr;
	double		min_lr_ratio;
	int64_t		warmup;
	int			cosine;
	double		weight_decay;
	double		grad_clip;
	double		beta1;
	double		beta2;
	double		dropout;		/* dropout on each mixer's output while training; 0 = off */
	double		token_noise;	/* probability of blanking each history input while training */
	uint64_t	seed;
	int			sample_batch;	/* rows generated together */
	int			blas_threads;
} MambaConfig;

/* Tensor indices of one layer into the parameter buffer. */
typedef struct MambaLayer
{
	int			norm;			/* [dim] */
	int			in_proj;		/* [2 inner, dim]: rows 0..inner-1 give u, the rest z */
	int			conv_w;			/* [inner, conv_width] */
	int			conv_b;			/* [inner] */
	int			x_proj;			/* [dt_rank + 2 state, inner]: dt, B, C */
	int			dt_proj;		/* [inner, dt_rank] */
	int			dt_bias;		/* [inner] */
	int			A_log;			/* [inner, state]: A = -exp(A_log) */
	int			D;				/* [inner] */
	int			out_proj;		/* [dim, inner] */
} MambaLayer;

typedef struct MambaActs MambaActs;
typedef struct MambaSampler MambaSampler;

typedef struct MambaModel
{
	NtgModel	base;
	MambaConfig cfg;
	NtgTokenizer tok;
	NnParams	params;
	int			t_emb;
	int			t_norm;
	int			t_out;
	MambaLayer *layers;
	NnAdamW		opt;
	NtgRng		drop_rng;		/* dropout masks (derived from train_epoch's rng) */
	NtgRng		noise_rng;		/* token-noise draws (likewise) */
	int64_t		total_steps;
	MambaActs  *acts;			/* training buffers, allocated on first use */
	int		   *order;			/* shuffle order of the training rows */
	int			order_len;
	MambaSampler *sampler;		/* recurrent states, allocated on first use */
} MambaModel;

/* dt_rank = ceil(dim / 16), Mamba's "auto". */
static inline int
mamba_auto_dt_rank(int dim)
{
	return (dim + 15) / 16;
}

/* Build the model object and its parameter buffer for cfg (weights zero; with_grad 1 also gives
 * gradient and Adam buffers; -1 gives the tensor layout only, no buffers: load() checks a stored
 * model's shapes with it before allocating). */
int			mamba_alloc(const MambaConfig *cfg, int n_classes, MambaModel **out, int with_grad,
						NtgError *err);
/* Seeded initialisation as the reference implementation does it (mamba.c). */
void		mamba_init_weights(MambaModel *m, uint64_t seed);
int64_t		mamba_param_count(const MambaConfig *c);
/* A[E, NS] = -exp(A_log) of layer l (the training forward and the sampler compute it alike). */
void		mamba_compute_A(const MambaModel *m, int l, float *A);

/*
 * One training step on packed rows, as llama_step: rows r = 0..S-1 have len[r] inputs and
 * targets.  update 0: forward only; 1: forward, backward, AdamW step; 2: forward and backward,
 * gradients left in params.grad (for tests).  *loss_sum: summed loss over the counted targets.
 */
int			mamba_step(MambaModel *m, const int32_t *tokens, const int32_t *targets,
					   const int *len, int S, int update, double *loss_sum, int *count,
					   NtgError *err);
/* The next-token probabilities [sum len, vocab_size] of the last forward-only mamba_step
 * (update 0), row after row as packed (tests). */
const float *mamba_last_probs(const MambaModel *m);
/* Token noise, as llama_blank_inputs (from m->noise_rng). */
void		mamba_blank_inputs(MambaModel *m, int32_t *tokens, const int *len, int S);
/* The next-token distribution after tokens[0..len) over the n_values + 1 drawable tokens at
 * temperature 1, computed by the training forward (for tests). */
int			mamba_next_probs(MambaModel *m, const int32_t *tokens, int len, float *probs,
							 NtgError *err);
/* The same computed by the recurrent sampler's step, one token after the other (for tests). */
int			mamba_next_probs_recurrent(MambaModel *m, const int32_t *tokens, int len,
									   float *probs, NtgError *err);

/* Like kind->sample but with an explicit batch; batch 1 is "one at a time". */
int			mamba_sample_batched(MambaModel *m, int class_index, int n, int batch,
								 const NtgTokenSampling *opts, NtgRng *rng, int32_t *out,
								 int *out_len, NtgError *err);

/* The NtgModelKind entry points (mamba_train.c, mamba_sample.c, mamba_io.c); mamba_step is
 * mamba_pass.c's. */
int			mamba_train_epoch(NtgModel *model, const NtgSeqSet *train, int epoch, NtgRng *rng,
							  double *mean_loss, NtgError *err);
int			mamba_eval_loss(NtgModel *model, const NtgSeqSet *set, double *mean_loss,
							int64_t *scored, NtgError *err);
int			mamba_sample(NtgModel *model, int class_index, int n, const NtgSampleOptions *opts,
						 NtgRng *rng, int32_t *out, int *out_len, NtgError *err);
int			mamba_save(NtgModel *model, NtgBlob *blob, NtgError *err);
int			mamba_load(const NtgBlob *blob, NtgModel **model, NtgError *err);

/* Bytes of training buffers for micro-batches of S rows (mamba_train.c), for kind->estimate. */
size_t		mamba_acts_bytes(const MambaConfig *c, int S);
/* Bytes of the sampler's buffers for batches of cap rows (mamba_sample.c). */
size_t		mamba_sampler_bytes(const MambaConfig *c, int n_values, int cap);

/* Helpers shared by the mamba_*.c files. */
int			mamba_prepare_acts(MambaModel *m);	/* training buffers for batch_size rows */
char	   *mamba_config_json(const NtgModel *model);
void		mamba_reset_optimizer(MambaModel *m, int64_t n_rows);
void		mamba_free_acts(MambaModel *m);
void		mamba_free_sampler(MambaModel *m);
/* The weights changed (a training step): the sampler's A and kept <CLASS_c> nodes are stale. */
void		mamba_forget_sampled(MambaModel *m);

#endif							/* NTG_MAMBA_H */
