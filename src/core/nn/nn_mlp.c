/*
 * nn_mlp.c — bias and ReLU of fully connected layers (nn_vae.h).  The matrix product itself is
 * linear_forward / linear_backward (nn_dense.c, CBLAS).
 */
#include "nn/nn_vae.h"

void
bias_forward(float *out, const float *b, int N, int OC)
{
	for (int n = 0; n < N; n++)
	{
		float	   *o = out + (size_t) n * OC;

		for (int i = 0; i < OC; i++)
			o[i] += b[i];
	}
}

void
bias_backward(float *db, const float *dout, int N, int OC)
{
	for (int n = 0; n < N; n++)
	{
		const float *d = dout + (size_t) n * OC;

		for (int i = 0; i < OC; i++)
			db[i] += d[i];
	}
}

void
relu_forward(float *out, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void
relu_backward(float *dinp, const float *dout, const float *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (out[i] > 0.0f)
			dinp[i] += dout[i];
}
