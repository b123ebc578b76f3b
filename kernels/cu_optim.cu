/*
 * cu_optim.cu — the AdamW update and the sums of squares of the gradient norm.  CPU twins:
 * src/core/nn/nn_optim.c (nn_adamw_step) and adamw_plain in nn_simd.c.  The host computes the
 * step's scalars with nn_adamw_next (learning rate, bias corrections, clipping from the norm),
 * exactly as the CPU does; only the elementwise loop runs here.
 */
#include "cu_common.h"
#include "cu_ops.h"

#include <math.h>

/* slice[j] = sum of g[i]^2, i = j, j + P * SPLIT, ... (strided so that neighbouring threads read
 * neighbouring floats; P * SPLIT threads keep enough loads in flight) */
static __global__ void
sumsq_slices_kernel(double *slice, const float *g, size_t n)
{
	size_t		j = CU_INDEX();
	size_t		stride = (size_t) NN_DEVICE_NORM_PARTS * NN_DEVICE_NORM_SPLIT;
	double		s = 0.0;

	if (j >= stride)
		return;
	for (size_t i = j; i < n; i += stride)
		s += (double) g[i] * g[i];
	slice[j] = s;
}

/* part[k] = slice[k] + slice[k + P] + ...: the slices of indices i = k (mod P), in order */
static __global__ void
sumsq_parts_kernel(double *part, const double *slice)
{
	size_t		k = CU_INDEX();
	double		s = 0.0;

	if (k >= NN_DEVICE_NORM_PARTS)
		return;
	for (int r = 0; r < NN_DEVICE_NORM_SPLIT; r++)
		s += slice[k + (size_t) r * NN_DEVICE_NORM_PARTS];
	part[k] = s;
}

/* CPU twin: sum_squares (nn_optim.c); part has NN_DEVICE_NORM_SCRATCH doubles */
void
sumsq(double *part, const float *g, size_t n)
{
	double	   *slice = part + NN_DEVICE_NORM_PARTS;

	CU_LAUNCH(sumsq_slices_kernel, (size_t) NN_DEVICE_NORM_PARTS * NN_DEVICE_NORM_SPLIT, slice, g, n);
	CU_LAUNCH(sumsq_parts_kernel, (size_t) NN_DEVICE_NORM_PARTS, part, slice);
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
