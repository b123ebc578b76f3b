/*
 * cu_loss.cu — softmax cross-entropy with ignored (padding) targets.  CPU twin:
 * src/core/nn/nn_loss.c.  The twin returns the summed loss; here each row's loss goes to
 * losses[n] (double) and the host adds them up in row order, which gives the twin's sum.
 */
#include "cu_common.h"
#include "cu_ops.h"

#include <math.h>

/* row n: probabilities in place, losses[n] = log sum exp(z - mx) + mx - z_t (0 if ignored) */
static __global__ void
crossentropy_forward_kernel(float *logits, double *losses, const int32_t *targets, int N, int V)
{
	size_t		n = CU_INDEX();
	float	   *z;
	float		mx = -INFINITY,
				sum = 0.0f,
				zt;

	if (n >= (size_t) N)
		return;
	z = logits + n * V;
	zt = targets[n] >= 0 ? z[targets[n]] : 0.0f;
	for (int i = 0; i < V; i++)
		if (z[i] > mx)
			mx = z[i];
	for (int i = 0; i < V; i++)
	{
		z[i] = expf(z[i] - mx);
		sum += z[i];
	}
	for (int i = 0; i < V; i++)
		z[i] /= sum;
	losses[n] = targets[n] >= 0 ? log((double) sum) + mx - zt : 0.0;
}

/* CPU twin: crossentropy_forward (nn_loss.c) */
void
crossentropy_forward(float *logits, double *losses, const int32_t *targets, int N, int V)
{
	CU_LAUNCH(crossentropy_forward_kernel, (size_t) N, logits, losses, targets, N, V);
}

/* dlogits[n, i] = (p - onehot) * scale, 0 for an ignored row; thread per element (in place ok) */
static __global__ void
crossentropy_backward_kernel(float *dlogits, const float *probs, const int32_t *targets, int N,
							 int V, float scale)
{
	size_t		idx = CU_INDEX();
	size_t		n = idx / V;
	int			i = (int) (idx % V);
	float		d;

	if (idx >= (size_t) N * V)
		return;
	if (targets[n] < 0)
	{
		dlogits[idx] = 0.0f;
		return;
	}
	d = probs[idx] * scale;
	if (i == targets[n])
		d -= scale;
	dlogits[idx] = d;
}

/* CPU twin: crossentropy_backward (nn_loss.c) */
void
crossentropy_backward(float *dlogits, const float *probs, const int32_t *targets, int N, int V,
					  float scale)
{
	CU_LAUNCH(crossentropy_backward_kernel, (size_t) N * V, dlogits, probs, targets, N, V, scale);
}
