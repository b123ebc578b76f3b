/*
 * nn_loss.c — softmax cross-entropy with ignored (padding) targets.
 */
#include "nn/nn.h"
#include "nn/nn_simd.h"

#include <math.h>
#include <string.h>

double
crossentropy_forward(float *logits, const int32_t *targets, int N, int V, int *count)
{
	double		total = 0.0;
	int			counted = 0;

	for (int n = 0; n < N; n++)
	{
		float	   *z = logits + (size_t) n * V;
		float		mx = -INFINITY;
		float		sum = 0.0f;
		float		zt = targets[n] >= 0 ? z[targets[n]] : 0.0f;

		for (int i = 0; i < V; i++)
			if (z[i] > mx)
				mx = z[i];
		for (int i = 0; i < V; i++)
			z[i] -= mx;
		nn_vexp(z, V);
		for (int i = 0; i < V; i++)
			sum += z[i];
		for (int i = 0; i < V; i++)
			z[i] /= sum;
		if (targets[n] >= 0)
		{
			/* -log p_t = log sum exp(z - mx) + mx - z_t: exact even when p_t underflows */
			total += log((double) sum) + mx - zt;
			counted++;
		}
	}
	*count = counted;
	return total;
}

void
crossentropy_backward(float *dlogits, const float *probs, const int32_t *targets, int N, int V,
					  float scale)
{
	for (int n = 0; n < N; n++)
	{
		float	   *d = dlogits + (size_t) n * V;
		const float *p = probs + (size_t) n * V;

		if (targets[n] < 0)
		{
			memset(d, 0, V * sizeof(float));
			continue;
		}
		for (int i = 0; i < V; i++)
			d[i] = p[i] * scale;
		d[targets[n]] -= scale;
	}
}
