/*
 * nn_pointwise.c — element- and row-wise plumbing of convolutional networks: SiLU, channel
 * concatenation (U-Net skip connections) and the broadcast of a per-image vector over positions
 * (a time-step embedding added to a feature map).  Shapes are in nn_image.h.
 */
#include "nn/nn_image.h"

#include <math.h>
#include <string.h>

void
silu_forward(float *out, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = inp[i] / (1.0f + expf(-inp[i]));
}

/* silu'(x) = s (1 + x (1 - s)), s = sigmoid(x) */
void
silu_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		float		s = 1.0f / (1.0f + expf(-inp[i]));

		dinp[i] += dout[i] * s * (1.0f + inp[i] * (1.0f - s));
	}
}

void
concat_forward(float *out, const float *a, const float *b, int N, int C1, int C2)
{
	for (int n = 0; n < N; n++)
	{
		float	   *o = out + (size_t) n * (C1 + C2);

		memcpy(o, a + (size_t) n * C1, C1 * sizeof(float));
		memcpy(o + C1, b + (size_t) n * C2, C2 * sizeof(float));
	}
}

void
concat_backward(float *da, float *db, const float *dout, int N, int C1, int C2)
{
	for (int n = 0; n < N; n++)
	{
		const float *d = dout + (size_t) n * (C1 + C2);
		float	   *x = da + (size_t) n * C1;
		float	   *y = db + (size_t) n * C2;

		for (int c = 0; c < C1; c++)
			x[c] += d[c];
		for (int c = 0; c < C2; c++)
			y[c] += d[C1 + c];
	}
}

void
channel_add_forward(float *x, const float *e, int B, int P, int C)
{
	for (int i = 0; i < B; i++)
		for (int p = 0; p < P; p++)
		{
			float	   *r = x + ((size_t) i * P + p) * C;
			const float *v = e + (size_t) i * C;

			for (int c = 0; c < C; c++)
				r[c] += v[c];
		}
}

void
channel_add_backward(float *de, const float *dx, int B, int P, int C)
{
	for (int i = 0; i < B; i++)
		for (int p = 0; p < P; p++)
		{
			const float *r = dx + ((size_t) i * P + p) * C;
			float	   *v = de + (size_t) i * C;

			for (int c = 0; c < C; c++)
				v[c] += r[c];
		}
}
