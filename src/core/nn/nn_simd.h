/*
 * nn_simd.h — vector kernels with a runtime-selected AVX2+FMA version (nn_simd.c).
 */
#ifndef NTG_NN_SIMD_H
#define NTG_NN_SIMD_H

#include <stddef.h>
#include <stdint.h>

/* 2 when the AVX2+FMA kernels run, 0 for the portable ones. */
int			nn_simd_level(void);
/* Tests only: run the portable kernels (level 0) or the CPU's best (2) from now on, so that one
 * machine can check both against the same reference. */
void		nn_simd_force(int level);
/*
 * 1 when the 16-lane AVX-512F versions of kernels that give their 8-lane versions' bits may run
 * (the CPU has AVX-512F and level 2 is on).  Tests only: nn_simd_force_avx512(0) keeps them off, so
 * that one machine can check them against the AVX2 ones bit for bit.
 */
int			nn_simd_avx512(void);
void		nn_simd_force_avx512(int on);
float		nn_dot(const float *a, const float *b, int n);
/* out[o] = nn_dot(x, w[o]) for the rows o of a row-major w[rows][n], bit for bit the same sums,
 * reading x once for several rows: one-row products (sampling one row at a time). */
void		nn_matvec(float *out, const float *w, const float *x, int rows, int n);
/*
 * Float16 weights (IEEE binary16).  nn_matvec_half: out[o] = x . float(w[o]) with exactly
 * nn_matvec's operations, so a matrix whose float32 values are all float16 values gives
 * nn_matvec's bits from half the bytes.  nn_to_half: each x[i] to the nearest float16 (ties to
 * even; beyond the range, infinity) into out and, widened back, into round (either may be NULL;
 * round may be x); returns 1 when every x[i] was a float16 value already.
 */
float		nn_half_to_float(uint16_t h);
uint16_t	nn_float_to_half(float f);
void		nn_matvec_half(float *out, const uint16_t *w, const float *x, int rows, int n);
int			nn_to_half(uint16_t *out, float *round, const float *x, size_t n);
/* y[0..n) += a * x[0..n) */
void		nn_axpy(float *y, float a, const float *x, int n);
/*
 * Kernels whose vector versions give the portable loops' bits exactly, so sampling draws the same
 * tokens whichever runs: the largest x[i] (NaNs skipped; -INFINITY when none), x[i] = (x[i] - sub)
 * * mul, and y[i] += a * x[i] with the product rounded before the addition.
 */
float		nn_vmax(const float *x, int n);
void		nn_vshift_scale(float *x, int n, float sub, float mul);
void		nn_axpy_unfused(float *y, float a, const float *x, int n);
/* Exact too: y[i] += x[i] (biases), and out[i] = x[i] > 0 ? x[i] : 0 (ReLU; NaN and -0 give +0) */
void		nn_vadd(float *y, const float *x, size_t n);
void		nn_vrelu(float *out, const float *x, size_t n);

/* x[i] = exp(x[i]) (inputs clamped to +-88.38; ~1 ulp) */
void		nn_vexp(float *x, int n);
/* out = silu(a) * b;  backward: da += d * b * silu'(a), db += d * silu(a) */
void		nn_swiglu_fwd(float *out, const float *a, const float *b, int n);
void		nn_swiglu_bwd(float *da, float *db, const float *d, const float *a, const float *b,
						  int n);

typedef struct NnAdamWArgs
{
	float		lr;
	float		decay;			/* lr * weight_decay, or 0 */
	float		b1;
	float		b2;
	float		c1;				/* 1 / (1 - b1^t) */
	float		c2;				/* 1 / (1 - b2^t) */
	float		eps;
	float		clip;			/* gradient scale from clipping */
} NnAdamWArgs;

/* One AdamW update of n parameters; zeroes g as it goes. */
void		nn_adamw_update(float *w, float *g, float *m, float *v, size_t n,
							const NnAdamWArgs *a);

#endif							/* NTG_NN_SIMD_H */
