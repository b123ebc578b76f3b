/*
 * llama.h — the LLaMA-style decoder-only generator (kind "llama"): token embedding, n_layers x
 * [RMSNorm, causal multi-head attention with rotary positions, residual, RMSNorm, SwiGLU MLP,
 * residual], final RMSNorm, untied output head.  Defaults from Table I of the paper: dim 160,
 * hidden_dim 320, 4 layers, 8 heads.  The generic interface is ntg_llama_kind (generator.h);
 * the rest is here for tests and benchmarks.
 */
#ifndef NTG_LLAMA_H
#define NTG_LLAMA_H

#include "models/model.h"
#include "models/token_sampling.h"
#include "models/tokenizer.h"
#include "nn/nn.h"

extern const NtgModelKind ntg_llama_kind;

/* Limits that load() enforces on a stored config (and create() on hyperparameters). */
#define LLAMA_MAX_DIM		4096
#define LLAMA_MAX_HIDDEN	16384
#define LLAMA_MAX_LAYERS	64
#define LLAMA_MAX_HEADS		64
#define LLAMA_MAX_LEN		256
#define LLAMA_MAX_CLASSES	100000
#define LLAMA_MAX_BATCH		65536
#define LLAMA_NORM_EPS		1e-5f

typedef struct LlamaConfig
{
	int			dim;
	int			hidden_dim;
	int			n_layers;
	int			n_heads;
	int			max_len;		/* N: value tokens per row at most */
	int			vocab_size;
	double		rope_theta;
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
	double		dropout;		/* residual dropout probability while training; 0 = off */
	double		token_noise;	/* probability of blanking each history input while training */
	int			half_weights;	/* round the multiplied matrices to float16 values at the end
								 * of training (nn.h: one-row sampling then reads half the bytes) */
	uint64_t	seed;
	int			sample_batch;	/* rows generated together through the KV cache */
	int			blas_threads;
} LlamaConfig;

/* Tensor indices of one layer into the parameter buffer; wq, wk, wv are adjacent (one [3C, C]
 * matrix for a single matrix product), and so are w1, w3 ([2H, C]). */
typedef struct LlamaLayer
{
	int			attention_norm;
	int			wq;
	int			wk;
	int			wv;
	int			wo;
	int			ffn_norm;
	int			w1;
	int			w3;
	int			w2;
} LlamaLayer;

typedef struct LlamaActs LlamaActs;
typedef struct LlamaSampler LlamaSampler;
typedef struct LlamaNodeStore LlamaNodeStore;
typedef struct LlamaDevice LlamaDevice;

typedef struct LlamaModel
{
	NtgModel	base;
	LlamaConfig cfg;
	NtgTokenizer tok;
	NnParams	params;
	int			t_emb;
	int			t_norm;
	int			t_out;
	LlamaLayer *layers;
	float	   *rope_cs;		/* (max_len + 1) x head_dim/2 x (cos, sin) */
	NnAdamW		opt;
	NtgRng		drop_rng;		/* dropout masks (derived from train_epoch's rng) */
	NtgRng		noise_rng;		/* token-noise draws (likewise) */
	int64_t		total_steps;
	LlamaActs  *acts;			/* training buffers, allocated on first use */
	LlamaSampler *sampler;		/* KV cache, allocated on first use */
	float	   *prefix_store;	/* every class's <CLASS_c> node, once computed (llama_sample.c) */
	uint8_t    *prefix_ready;	/* [n_classes] */
	LlamaNodeStore *nodes;		/* histories decoded alone, kept across calls (llama_nodes.c) */
	int64_t		one_row_steps;	/* one-node decode steps so far (LLAMA_HALF_AFTER_STEPS) */
	LlamaDevice *gpu;			/* on a CUDA device (base.device): its copies of the weights,
								 * optimizer state, activations and KV cache (llama_device.c) */
} LlamaModel;

/* A packed batch as llama_step lays it out (host arrays), for the device pass. */
typedef struct LlamaBatch
{
	int			N;				/* tokens */
	int			S;				/* rows */
	const int32_t *tokens;		/* [N] */
	const int32_t *targets;		/* [N] */
	const int  *start;			/* [S] */
	const int  *lens;			/* [S] */
	const int  *pos;			/* [N] */
	int			dropping;		/* residual dropout in this pass */
} LlamaBatch;

/* Build the model object and its parameter buffer for cfg (weights zero; with_grad 1 also gives
 * gradient and Adam buffers; -1 gives the tensor layout only, no buffers: load() checks a stored
 * model's shapes with it before allocating). Used by create and load. */
int			llama_alloc(const LlamaConfig *cfg, int n_classes, LlamaModel **out, int with_grad,
						NtgError *err);
/* Seeded initialisation (normal(0, 0.02), output projections scaled by 1/sqrt(2 n_layers)). */
void		llama_init_weights(LlamaModel *m, uint64_t seed);

/*
 * One training step on packed rows: rows r = 0..S-1 have len[r] inputs (tokens[start[r]..]) and
 * targets. update 0: forward only; 1: forward, backward, AdamW step; 2: forward and backward,
 * gradients left in params.grad (for tests).  Returns the
 * summed loss over the targets in *loss_sum and their number in *count.
 */
int			llama_step(LlamaModel *m, const int32_t *tokens, const int32_t *targets,
					   const int *len, int S, int update, double *loss_sum, int *count,
					   NtgError *err);
/* Token noise: replace each input after <CLASS_c> by <PAD> with probability cfg.token_noise,
 * drawing from m->noise_rng (llama_train.c says why). */
void		llama_blank_inputs(LlamaModel *m, int32_t *tokens, const int *len, int S);
/* The model's distribution of the next token after tokens[0..len) (a history starting with a
 * class token), renormalised over the drawable tokens 0 .. n_values (values and <EOS>), as the
 * sampler sees it at temperature 1: probs gets n_values + 1 floats.  For tests. */
int			llama_next_probs(LlamaModel *m, const int32_t *tokens, int len, float *probs,
							 NtgError *err);
/* The same distribution as the sampler computes it (KV cache, one node decoded per position,
 * the kept histories left aside), after <CLASS_c> and the len value tokens of tokens.  For tests:
 * the two must agree. */
int			llama_sampler_probs(LlamaModel *m, int class_index, const int32_t *tokens, int len,
								float *probs, NtgError *err);

/* Like kind->sample but with an explicit batch (rows through the KV cache together); batch 1
 * is "one at a time". */
int			llama_sample_batched(LlamaModel *m, int class_index, int n, int batch,
								 const NtgTokenSampling *opts, NtgRng *rng, int32_t *out,
								 int *out_len, NtgError *err);

/* The NtgModelKind entry points (llama_train.c, llama_sample.c, llama_io.c). */
int			llama_train_epoch(NtgModel *model, const NtgSeqSet *train, int epoch, NtgRng *rng,
							  double *mean_loss, NtgError *err);
/* kind->eval_loss; scored may be NULL. */
int			llama_eval_loss(NtgModel *model, const NtgSeqSet *set, double *mean_loss,
							int64_t *scored, NtgError *err);
int			llama_sample(NtgModel *model, int class_index, int n, const NtgSampleOptions *opts,
						 NtgRng *rng, int32_t *out, int *out_len, NtgError *err);
int			llama_save(NtgModel *model, NtgBlob *blob, NtgError *err);
int			llama_load(const NtgBlob *blob, NtgModel **model, NtgError *err);
/* Bytes of activations for a training batch of S rows (llama_train.c), for kind->estimate. */
size_t		llama_acts_bytes(const LlamaConfig *c, int S);

/* Residual dropout masks: n scales (0 or 1/(1-p)) from the model's dropout generator
 * (llama_train.c, which says how); the device pass draws them on the host so that both devices
 * drop the same elements. */
void		llama_dropout_scales(LlamaModel *m, float *scale, size_t n);

/* ---- the device path (llama_device.c, llama_device_sample.c) ---- */

/* kind->set_device */
int			llama_set_device(NtgModel *model, const struct NnDeviceApi *dev, NtgError *err);
void		llama_device_free(LlamaModel *m);
/* Before a training step (update != 0): device gradients and moments, gradients zeroed. */
int			llama_device_begin_update(LlamaModel *m, NtgError *err);
/* llama_pass on the device: forward, the summed loss of the counted targets, and with backward
 * the gradients (dlogits scaled by scale) accumulated into the device gradient. */
int			llama_device_pass(LlamaModel *m, const LlamaBatch *b, int backward, float scale,
							  double *loss_sum, NtgError *err);
/* nn_adamw_step on the device. */
int			llama_device_adamw(LlamaModel *m, NtgError *err);
/* Copy the device's weights (and gradients) into params.data (params.grad). */
int			llama_device_weights_to_host(LlamaModel *m, NtgError *err);
int			llama_device_grads_to_host(LlamaModel *m, NtgError *err);
/* Row `row` of the last pass's probabilities ([V]) into out. */
int			llama_device_probs_row(LlamaModel *m, int row, float *out, NtgError *err);
/* The device half of the sampler for cap nodes per position. */
int			llama_device_sampler(LlamaModel *m, int cap, NtgError *err);
/* llama_decode_nodes on the device: the U nodes of position p (tokens ntok, parents in the host
 * table parent[T][cap]) through the model; their logits into logits[U, K] (host). */
int			llama_device_decode(LlamaModel *m, int U, int p, const int32_t *ntok, const int *parent,
								float *logits, NtgError *err);
/* Keys and values of node j at position p, every layer ([L][C] each, host), out of the device
 * cache (to_cache 0) or into it (1). */
int			llama_device_kv(LlamaModel *m, int p, int j, float *k, float *v, int to_cache,
							NtgError *err);

/* Helpers shared by the llama_*.c files. */
char	   *llama_config_json(const NtgModel *model);
void		llama_reset_optimizer(LlamaModel *m, int64_t n_rows);

void		llama_free_acts(LlamaModel *m);
void		llama_free_sampler(LlamaModel *m);
/* The weights changed (training): the kept <CLASS_c> nodes are stale. */
void		llama_forget_prefixes(LlamaModel *m);
void		llama_free_prefixes(LlamaModel *m);

/* (llama_nodes.c) The kept record of history <CLASS_cls> tokens[0..p): keys and values of every
 * layer ([2 L][C]: K of layer 0.., then V) and the logits; NULL when not kept. */
const float *llama_node_get(LlamaModel *m, int cls, const int32_t *tokens, int p);
/* Keep a history decoded alone: kv_per_layer[2 L] point at its keys then values per layer. */
void		llama_node_put(LlamaModel *m, int cls, const int32_t *tokens, int p,
						   const float *kv_per_layer[], const float *logits);
void		llama_node_forget(LlamaModel *m);
void		llama_node_free(LlamaModel *m);
/* Histories kept now (for tests and benchmarks). */
int			llama_node_count(const LlamaModel *m);

#endif							/* NTG_LLAMA_H */
