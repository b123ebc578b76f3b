/*
 * nn.h — the neural-network core: layers as free forward/backward functions in the llm.c style,
 * one flat parameter buffer with named views, AdamW with a learning-rate schedule and gradient
 * clipping.  Plain C, single-threaded, deterministic: the same inputs give the same bits.
 *
 * Conventions
 *   - Activations are row-major matrices of N rows (N = tokens, packed: no padding rows), e.g.
 *     inp[N, C] means N rows of C floats.
 *   - Every *_backward ACCUMULATES into its gradient outputs (+=), so that a tensor used twice
 *     (a residual stream) gets the sum; callers zero gradients once per step.
 *   - Weight matrices are stored [out, in] (PyTorch's nn.Linear layout) and multiplied through
 *     CBLAS sgemm (OpenBLAS); see docs/nn.md for the threading policy.
 */
#ifndef NTG_NN_H
#define NTG_NN_H

#include <stddef.h>
#include <stdint.h>

#include "common/ntg_core.h"
#include "common/rng.h"
#include "nn/nn_quant.h"

/* ---- BLAS setup -------------------------------------------------------------------------- */

/* Pin OpenBLAS to `threads` threads (1 keeps results bit-reproducible and leaves the other
 * cores to other backends); called once by every model before its first matrix product.
 * threads <= 0 leaves OpenBLAS's own setting alone. */
void		nn_blas_init(int threads);
/*
 * C[M, N] = alpha op(A) op(B) + beta C, row-major (op = transpose when trans_* is set): CBLAS's
 * sgemm, through the library nn_blas.c opens at the first call.
 */
void		nn_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
					 int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* Open the CBLAS now (the first nn_sgemm does otherwise): a preloading server's postmaster does,
 * so that backends inherit it.  Idempotent. */
void		nn_blas_open(void);
/* What runs nn_sgemm: "not loaded yet", "cblas", or the portable loop when the library is missing. */
const char *nn_blas_backend(void);
/* Tests only: 1 runs the portable loop from now on, 0 the library again. */
void		nn_blas_force_portable(int portable);

/* ---- layers ------------------------------------------------------------------------------ */

/* out[N, C] = wte[tok[n], :]  (tokens must be < V; checked by the caller) */
void		embedding_forward(float *out, const int32_t *tok, const float *wte, int N, int C);
/* dwte[tok[n], :] += dout[n, :] */
void		embedding_backward(float *dwte, const float *dout, const int32_t *tok, int N, int C);

/* out[N, C] = inp * rstd * w, rstd[N] = 1 / sqrt(mean(inp^2) + eps) (kept for backward) */
void		rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w,
							int N, int C, float eps);
void		rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
							 const float *w, const float *rstd, int N, int C);

/* out[N, OC] = inp[N, C] @ w[OC, C]^T  (no bias: LLaMA has none) */
/* Up to NN_SMALL_N rows, each row of out is computed as if alone (nn_dot per weight row), bit
 * for bit; more rows go through the BLAS's sgemm. */
#define NN_SMALL_N 8
void		linear_forward(float *out, const float *inp, const float *w, int N, int C, int OC);
/* dinp[N, C] += dout @ w ; dw[OC, C] += dout^T @ inp ; either may be NULL to skip it */
void		linear_backward(float *dinp, float *dw, const float *dout, const float *inp,
							const float *w, int N, int C, int OC);
/* out[N, OC] += b[OC] (after linear_forward: a linear layer with a bias) */
void		bias_forward(float *out, const float *b, int N, int OC);
/* db[OC] += sum over the N rows of dout[N, OC] */
void		bias_backward(float *db, const float *dout, int N, int OC);

/* Rotary position embedding, in place on the first `nh` heads of HS floats in each row of x
 * (row stride `stride` floats), rotating the pairs (2i, 2i+1) by pos[n] * theta^(-2i/HS).
 * cs[maxT, HS/2, 2] holds (cos, sin) per position and pair (rope_table).  backward rotates the
 * gradient by the opposite angle (a rotation's transpose is its inverse). */
void		rope_table(float *cs, int maxT, int HS, double theta);
void		rope_forward(float *x, const int *pos, const float *cs, int N, int nh, int HS,
						 int stride);
void		rope_backward(float *dx, const int *pos, const float *cs, int N, int nh, int HS,
						  int stride);

/*
 * Causal multi-head self-attention over packed variable-length sequences: sequence s occupies
 * rows start[s] .. start[s] + len[s] - 1 of qkv[N, 3C] (q | k | v, C = NH * HS each).
 * out[N, C]; att holds the softmax probabilities, len[s]^2 floats per head, at att_off[s] +
 * h * len[s]^2 (att_off from attention_offsets).  Rows never see later rows nor other sequences,
 * so no padding is ever computed.
 */
size_t		attention_offsets(size_t *att_off, const int *len, int S, int NH);
void		attention_forward(float *out, float *att, const float *qkv, const int *start,
							  const int *len, const size_t *att_off, int S, int C, int NH);
/* dqkv[N, 3C] += ..., scratch: max(len) floats */
void		attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
							   const int *start, const int *len, const size_t *att_off, int S,
							   int C, int NH, float *scratch);

/* out[N, H] = silu(h13[:, :H]) * h13[:, H:]   (h13[N, 2H] = [w1 x | w3 x]) */
void		swiglu_forward(float *out, const float *h13, int N, int H);
void		swiglu_backward(float *dh13, const float *dout, const float *h13, int N, int H);

/* out[n] += inp[n] over n floats */
void		residual_add(float *out, const float *inp, size_t n);

/*
 * Softmax cross-entropy.  logits[N, V] are turned into probabilities IN PLACE; targets < 0 are
 * ignored (padding).  Returns the sum of the losses of the counted rows and sets *count.
 * backward: dlogits[n, :] = (probs - onehot) * scale for counted rows, 0 for ignored ones
 * (written, not accumulated: logits have one consumer).
 */
double		crossentropy_forward(float *logits, const int32_t *targets, int N, int V, int *count);
void		crossentropy_backward(float *dlogits, const float *probs, const int32_t *targets,
								  int N, int V, float scale);

/* ---- parameters ---------------------------------------------------------------------------- */

#define NN_MAX_NAME 64

typedef struct NnTensor
{
	char		name[NN_MAX_NAME];
	int			ndim;
	int			dims[2];
	size_t		offset;			/* in floats, into the flat buffers */
	size_t		count;
	int			decay;			/* weight decay applies (matrices, not norms) */
	int			quantizable;	/* NN_QUANTIZE_*: int8 when the params are quantized */
	/* quantized params, tensor marked _MATMUL or _ROWS: offset counts int8 elements of the
	 * quantized tensors (declaration order) instead of floats, and the tensor is read only
	 * through nn_matmul or nn_embed (nn_params_ptr gives NULL).  Marked _STORED: offset counts
	 * floats, and the float values are the int8 weights dequantized */
	const int8_t *q;			/* [d0, d1], row-major (the stored form) */
	const float *scale;			/* [d0] */
	NnQPack    *pack;			/* NN_QUANTIZE_MATMUL: the kernels' layout (owned) */
} NnTensor;

/* How a matrix is used, hence how it is quantized (nn_params_mark_quantizable). */
#define NN_QUANTIZE_MATMUL	1	/* multiplied through nn_matmul: packed for the int8 kernels */
#define NN_QUANTIZE_ROWS	2	/* rows looked up through nn_embed: dequantized per row */
#define NN_QUANTIZE_STORED	3	/* int8 in the stored value only: read as float, the int8
								 * weights dequantized when quantized or loaded */

/* Whether tensor t of p has int8 weights only (no float view: nn_matmul or nn_embed read it). */
#define nn_tensor_int8_only(p, t) \
	((p)->quant != NN_QUANT_NONE && \
	 ((t)->quantizable == NN_QUANTIZE_MATMUL || (t)->quantizable == NN_QUANTIZE_ROWS))

/* One flat buffer for parameters, one for gradients and two for Adam moments, all with the same
 * layout, so every optimizer step is one loop over `count` floats. */
typedef struct NnParams
{
	int			n_tensors;
	int			cap;
	NnTensor   *tensors;
	size_t		count;
	float	   *data;
	float	   *grad;
	float	   *m;
	float	   *v;
	int			grad_clean;		/* grad is all zero (set by zero_grad and the AdamW step) */
	int			borrowed;		/* data points into memory the params do not own (a loaded
								 * model's stored value): never freed or written here */
	/* quantization (nn_qparams.c): NN_QUANT_NONE, or the quantizable tensors are int8 and data
	 * holds the other tensors (and the _STORED ones, dequantized) only (count floats) */
	int			quant;
	size_t		qcount;			/* int8 elements of the quantized tensors */
	size_t		qrows;			/* their rows (scales) */
	void	   *qowned;			/* q and scales when the params own them (else borrowed) */
	void	   *qscratch;		/* activations of NN_QCHUNK rows, quantized (dynamic mode) */
	/* float16 (nn_half.c): a copy of data in float16 (same offsets) whose NN_QUANTIZE_MATMUL
	 * tensors nn_matmul reads for one row, or NULL; half_state 1 built, -1 those tensors are not
	 * all float16 values, 0 not looked at since the weights last changed */
	uint16_t   *half;
	int			half_state;
} NnParams;

/* Declare a tensor (before nn_params_alloc); returns its index or -1 when out of memory. */
int			nn_params_declare(NnParams *p, const char *name, int ndim, int d0, int d1, int decay);
/* Allocate the buffers (grad/m/v only when with_grad); NTG_ERR_NOMEM on failure. */
int			nn_params_alloc(NnParams *p, int with_grad);
/* Use count floats at data as the parameters, without copying them (p->borrowed). */
void		nn_params_borrow(NnParams *p, const float *data);
float	   *nn_params_ptr(const NnParams *p, int index);
void		nn_params_free(NnParams *p);
void		nn_params_zero_grad(NnParams *p);

/* Fill tensor i with N(0, std^2) (std == 0: constant `fill`), drawn in declaration order. */
void		nn_params_init_normal(NnParams *p, int i, NtgRng *rng, float std, float fill);

/* ---- float16 copies of the weights (nn_half.c) ---------------------------------------------- */

/*
 * A one-row product streams its whole weight matrix from memory, so its time is the matrix's
 * bytes: a model whose multiplied matrices hold float16 values only (rounded so at the end of
 * training) reads them from a float16 copy, half the bytes, with the same results bit for bit
 * (nn_matvec_half).  The copy covers the tensors marked NN_QUANTIZE_MATMUL, of float params.
 *
 * nn_params_round_half: round every element of those tensors to the nearest float16, in place,
 * except a tensor with a value beyond float16's range (left as it is); returns the tensors
 * rounded.  nn_params_half_prepare: build the copy when every such tensor holds float16 values
 * only (once; 1 when the copy is there, 0 otherwise, also when it could not be allocated: the
 * float32 weights give the same results).  nn_params_half_drop: forget the copy; whoever
 * changes the weights calls it.
 */
int			nn_params_round_half(NnParams *p);
/* 1 when every tensor the copy would cover holds float16 values only (and there is one) */
int			nn_params_are_half(const NnParams *p);
int			nn_params_half_prepare(NnParams *p);
void		nn_params_half_drop(NnParams *p);

/* ---- quantized parameters (nn_qparams.c) --------------------------------------------------- */

/*
 * A kind marks the matrices that int8 may replace (how = NN_QUANTIZE_MATMUL or _ROWS; 0 unmarks;
 * vectors and matrices wider than NN_QMAX_IN inputs are never marked) right after declaring
 * them, and then reads them only through nn_matmul and nn_embed, which take the float or the int8
 * path as the params are.  A matrix the kind reads as floats itself (through nn_params_ptr) may be
 * marked NN_QUANTIZE_STORED: stored as int8, read as its dequantized values, so only the stored
 * size changes.  Quantizing keeps every other tensor in float32.
 */
void		nn_params_mark_quantizable(NnParams *p, int i, int how);
/* Tensors marked, and the parameters they hold. */
int			nn_params_quantizable(const NnParams *p, int64_t *n_params);

/*
 * Quantize in place (mode NN_QUANT_WEIGHT_ONLY or _DYNAMIC): the marked tensors become int8 with
 * per-row scales (nn_quant.h), the float buffer keeps the others only, gradients and optimizer
 * state go.  Params quantized already only change mode (their int8 weights stay as they are).
 */
int			nn_params_quantize(NnParams *p, int mode, NtgError *err);
/* The layout of params stored with `mode` (before loading them): offsets as quantized params
 * have them, no buffers. */
void		nn_params_quant_layout(NnParams *p, int mode);
/* Loading: tensor i's int8 weights and scales (pointers the caller keeps valid: into stored bytes
 * or p->qowned), then nn_params_quant_ready() builds the kernels' layouts and scratch. */
void		nn_params_quant_attach(NnParams *p, int i, const int8_t *q, const float *scale);
/* A _STORED tensor's float values from its attached int8 weights and scales; false when one is
 * not finite (a scale near FLT_MAX). */
int			nn_params_dequantize_stored(NnParams *p, int i);
int			nn_params_quant_ready(NnParams *p);
/* Free what quantization allocated (nn_params_free calls it). */
void		nn_params_quant_free(NnParams *p);

/* out[N, OC] = inp[N, C] @ W^T, W = tensor t (and the tensors declared after it, when OC covers
 * more rows than t has: wq|wk|wv as one product), or its first OC rows; float, weight-only or
 * dynamic as p is.  Never fails: the quantized path works in NN_QCHUNK rows of scratch made by
 * nn_params_quant_ready. */
void		nn_matmul(float *out, const float *inp, NnParams *p, int t, int N, int C, int OC);
/* out[N, C] = row tok[n] of tensor t (dequantized when int8). */
void		nn_embed(float *out, const int32_t *tok, const NnParams *p, int t, int N, int C);
#define NN_QCHUNK 64

/* ---- optimizer ----------------------------------------------------------------------------- */

typedef struct NnAdamW
{
	double		lr;				/* peak learning rate */
	double		min_lr_ratio;	/* cosine floor as a fraction of lr */
	int64_t		warmup;			/* linear warm-up steps */
	int64_t		total_steps;	/* for the cosine schedule; 0 = constant after warm-up */
	int			cosine;			/* 1 = cosine decay to min_lr_ratio * lr, 0 = constant */
	double		beta1;
	double		beta2;
	double		eps;
	double		weight_decay;	/* decoupled (AdamW), only on tensors with decay set */
	double		grad_clip;		/* max global L2 norm of the gradient; 0 = off */
	int64_t		step;			/* steps taken */
} NnAdamW;

/* Learning rate for step (0-based). */
double		nn_lr_at(const NnAdamW *opt, int64_t step);
/* Global L2 norm of the gradient. */
double		nn_grad_norm(const NnParams *p);
/* The scalars of the next AdamW step for a gradient of global norm `norm` (clipping, learning
 * rate, bias corrections; a->decay = lr * weight_decay, for the tensors with decay set) and
 * advance opt->step: what nn_adamw_step and a device's update loop share. */
struct NnAdamWArgs;
void		nn_adamw_next(NnAdamW *opt, double norm, struct NnAdamWArgs *a);
/* Clip, then one AdamW update; returns the gradient norm before clipping.  Leaves the gradient
 * zeroed (grad_clean), ready for the next step's accumulation. */
double		nn_adamw_step(NnAdamW *opt, NnParams *p);

#endif							/* NTG_NN_H */
