/*
 * nn_pointwise.c — element- and row-wise plumbing of convolutional networks: SiLU, channel
 * concatenation (U-Net skip connections) and the broadcast of a per-image vector over positions
 * (a time-step embedding added to a feature map).  Shapes are in nn_image.h.
 */
#include "nn/nn_image.h"
#include "nn/nn_image_simd.h"
#include "nn/nn_simd.h"
#include "nn/nn_ssm.h"

#include <string.h>

/* The SiLU kernels take int lengths: long arrays go in chunks, each one row of the Mamba block's
 * SiLU (nn_ssm_act.c: the same vector kernels and bits). */
#define CHUNK (1 << 20)

void
img_silu_forward(float *out, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i += CHUNK)
	{
		int			len = (int) (n - i < CHUNK ? n - i : CHUNK);

		silu_forward(out + i, inp + i, 1, len, len);
	}
}

/* silu'(x) = s (1 + x (1 - s)), s = sigmoid(x) */
void
img_silu_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i += CHUNK)
	{
		int			len = (int) (n - i < CHUNK ? n - i : CHUNK);

		silu_backward(dinp + i, dout + i, inp + i, 1, len, len);
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

		nn_vadd(da + (size_t) n * C1, d, C1);
		nn_vadd(db + (size_t) n * C2, d + C1, C2);
	}
}

void
channel_add_forward(float *x, const float *e, int B, int P, int C)
{
	for (int i = 0; i < B; i++)
		for (int p = 0; p < P; p++)
			nn_vadd(x + ((size_t) i * P + p) * C, e + (size_t) i * C, C);
}

void
channel_add_backward(float *de, const float *dx, int B, int P, int C)
{
	for (int i = 0; i < B; i++)
		for (int p = 0; p < P; p++)
			nn_vadd(de + (size_t) i * C, dx + ((size_t) i * P + p) * C, C);
}
