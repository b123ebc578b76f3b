/*
 * nn_quant.h — int8 post-training quantization of weight matrices, and the products of float or
 * int8 activations with them (nn_quant.c: quantizing, packing, portable kernels; nn_qgemm_x86.c:
 * the AVX2 and AVX-512 VNNI kernels, chosen at run time).
 *
 * A matrix W[OC, C] (PyTorch's [out, in]) is quantized symmetrically per output channel:
 *     scale[o] = max_i |W[o, i]| / 127,   q[o, i] = round(W[o, i] / scale[o])  in [-127, 127]
 * (a row of zeros gets scale 1).  Two ways to multiply activations x[N, C] with it:
 *   weight-only   out[n, o] = scale[o] * sum_i x[n, i] * q[o, i]        float activations
 *   dynamic       each row of x is quantized the same way at run time (xs[n], xq[n, i]), and
 *                 out[n, o] = (float) acc[n, o] * (xs[n] * scale[o]),  acc = sum_i xq[n, i] q[o, i]
 *                 an exact int8 x int8 -> int32 dot product.
 * The int32 products are the same bits on every path (scalar, AVX2, AVX-512 VNNI), and so are the
 * activation quantization and the final scaling, so a dynamic model computes the same floats on
 * every CPU; the weight-only products are float sums whose rounding depends on the path.
 *
 * The kernels read the weights in a packed layout (NnQPack): blocks of 16 output channels, inside
 * a block groups of 4 consecutive inputs, each output's 4 bytes together — one 64-byte load is 16
 * outputs x 4 inputs, what one AVX-512 VNNI instruction multiplies with 4 broadcast activations.
 */
#ifndef NTG_NN_QUANT_H
#define NTG_NN_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "common/ntg_core.h"

typedef enum NnQuantMode
{
	NN_QUANT_NONE = 0,			/* float32 weights */
	NN_QUANT_WEIGHT_ONLY = 1,	/* int8 weights, float activations */
	NN_QUANT_DYNAMIC = 2		/* int8 weights, activations quantized per row at run time */
} NnQuantMode;

#define NN_QUANT_MAX 127
#define NN_QMAX_IN 65536		/* inputs of a quantizable matrix: in * 255 * 127 < 2^31, the
								 * int32 sums stay exact (wider matrices stay float) */
#define NN_QBLOCK 16			/* output channels per packed block */
#define NN_QGROUP 4				/* inputs per group inside a block */

/* "none", "weight_only", "dynamic"; NULL for another value. */
const char *nn_quant_mode_name(int mode);
/* The mode of a name ("weight_only", "dynamic"), or -1. */
int			nn_quant_mode_parse(const char *name);

/* ---- SIMD level ---------------------------------------------------------------------------- */

#define NN_QSIMD_SCALAR	0
#define NN_QSIMD_AVX2	1		/* AVX2 + FMA: int16 multiply-adds (vpmaddwd) */
#define NN_QSIMD_VNNI	2		/* AVX-512 F/BW/VNNI: u8 x s8 dot products (vpdpbusd) */

/* The best level this CPU runs (decided once per process). */
int			nn_qsimd_level(void);
/* Tests and benchmarks: run `level` from now on (capped at what the CPU has); -1 restores the
 * CPU's best.  Returns the level now in effect. */
int			nn_qsimd_force(int level);
const char *nn_qsimd_name(int level);

/* ---- one matrix ------------------------------------------------------------------------------ */

/* q[OC, C] and scale[OC] of w[OC, C], as above. */
void		nn_quantize_rows(int8_t *q, float *scale, const float *w, int OC, int C);

/* The packed form of a quantized matrix (owned buffers). */
typedef struct NnQPack
{
	int			OC;
	int			C;
	int			C4;				/* C rounded up to a multiple of NN_QGROUP */
	int			blocks;			/* ceil(OC / NN_QBLOCK) */
	int8_t	   *w;				/* [blocks][C4 / 4][16][4], zero padded */
	int32_t    *rowsum;			/* [blocks * 16]: sum_i q[o, i] (VNNI's unsigned operand) */
	float	   *scale;			/* [blocks * 16]: scale[o], padding 0 */
} NnQPack;

size_t		nn_qpack_bytes(int OC, int C);
int			nn_qpack_build(NnQPack *pk, const int8_t *q, const float *scale, int OC, int C);
void		nn_qpack_free(NnQPack *pk);

/* Activations quantized per row (caller's buffers, see nn_qacts_bytes). */
typedef struct NnQActs
{
	int			N;
	int			C4;
	int8_t	   *q;				/* [N, C4], zero padded */
	uint8_t    *qb;				/* [N, C4]: q + 128 (= q ^ 0x80), VNNI's unsigned operand */
	int			biased;			/* qb is written (only the VNNI kernel reads it) */
	float	   *scale;			/* [N] (0 for a row of zeros) */
} NnQActs;

/* Bytes of scratch for N rows of C inputs (q, qb and scale, aligned). */
size_t		nn_qacts_bytes(int N, int C);
/* Carve a from scratch (nn_qacts_bytes(N, C) bytes) and quantize x[N, C] into it (qb only at the
 * VNNI level; a product at that level of activations quantized at another runs the AVX2 kernel,
 * which gives the same bits). */
void		nn_quantize_acts(NnQActs *a, void *scratch, const float *x, int N, int C);
/* qb again from q, after q was written by hand (tests). */
void		nn_qacts_rebias(NnQActs *a);

/* out[n * ldo + o] = sum_i xq[n, i] * q[o, i]  (exact int32) at SIMD level `level`. */
void		nn_qgemm_i32(int32_t *out, int ldo, const NnQActs *x, const NnQPack *pk, int level);
/* out[n * ldo + o] = (float) acc * (xs[n] * scale[o])  (dynamic mode; same bits at every level) */
void		nn_qgemm_dynamic(float *out, int ldo, const NnQActs *x, const NnQPack *pk, int level);
/* out[n * ldo + o] = scale[o] * sum_i x[n, i] q[o, i]  (weight-only mode) */
void		nn_qgemm_weight_only(float *out, int ldo, const float *x, int N, const NnQPack *pk,
								 int level);


/* The kernels of one level (nn_qgemm_x86.c); NULL entries where the level is not built. */
typedef struct NnQKernels
{
	void		(*quantize_acts) (int8_t *q, float *scale, const float *x, int N, int C, int C4);
	void		(*gemm) (void *out, int ldo, int as_float, const NnQActs *x, const NnQPack *pk);
	void		(*gemm_wo) (float *out, int ldo, const float *x, int N, const NnQPack *pk);
} NnQKernels;

extern const NnQKernels nn_qkernels_avx2;
extern const NnQKernels nn_qkernels_vnni;
/* x86 build with GCC/Clang target attributes: the two above are real */
int			nn_qkernels_built(void);

/* Shared by the kernels: one row's scale and the inverse used to quantize it. */
static inline float
nn_qrow_scale(float amax, float *inv)
{
	*inv = amax > 0.0f ? (float) NN_QUANT_MAX / amax : 0.0f;
	return amax > 0.0f ? amax / (float) NN_QUANT_MAX : 0.0f;
}

#endif							/* NTG_NN_QUANT_H */
