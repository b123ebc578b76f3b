/*
 * cu_optim.cu — the AdamW update and the sums of squares of the gradient norm.  CPU twins:
 * src/core/nn/nn_optim.c (nn_adamw_step) and adamw_plain in nn_simd.c.  The host computes the
 * step's scalars with nn_adamw_next (learning rate, bias corrections, clipping from the norm),
 * exactly as the CPU does; only the elementwise loop runs here.
 */
#include "cu_common.h"
#include "cu_ops.h"

#include <math.h>

/* part[k] = sum of g[i]^2, i = k, k + P, ... (P = NN_DEVICE_NORM_PARTS threads, strided so that
 * neighbouring threads read neighbouring floats) */
static __global__ void
sumsq_kernel(double *part, const float *g, size_t n)
{
	size_t		k = CU_INDEX();
	double		s = 0.0;

	if (k >= NN_DEVICE_NORM_PARTS)
		return;
	for (size_t i = k; i < n; i += NN_DEVICE_NORM_PARTS)
		s += (double) g[i] * g[i];
	part[k] = s;
}

/* CPU twin: sum_squares (nn_optim.c) */
void
sumsq(double *part, const float *g, size_t n)
{
	CU_LAUNCH(sumsq_kernel, (size_t) NN_DEVICE_NORM_PARTS, part, g, n);
}

/* one parameter: adamw_plain's arithmetic, weight decay where decay_mask is set; zeroes g */
static __global__ void
adamw_kernel(float *w, float *g, float *m, float *v, const uint8_t *decay_mask, size_t n,
			 NnAdamWArgs a)
{
	size_t		i = CU_INDEX();
	float		gi,
				mi,
				vi,
				decay;

	if (i >= n)
		return;
	gi = g[i] * a.clip;
	mi = a.b1 * m[i] + (1.0f - a.b1) * gi;
	vi = a.b2 * v[i] + (1.0f - a.b2) * gi * gi;
	decay = decay_mask[i] ? a.decay : 0.0f;
	m[i] = mi;
	v[i] = vi;
	w[i] -= a.lr * (mi * a.c1 / (sqrtf(vi * a.c2) + a.eps)) + decay * w[i];
	g[i] = 0.0f;
}

/* CPU twin: nn_adamw_update (nn_simd.c), over every tensor at once */
void
adamw_update(float *w, float *g, float *m, float *v, const uint8_t *decay_mask, size_t n,
			 NnAdamWArgs a)
{
	CU_LAUNCH(adamw_kernel, n, w, g, m, v, decay_mask, n, a);
}
