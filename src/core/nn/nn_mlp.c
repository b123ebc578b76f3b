/*
 * nn_mlp.c — the ReLU of fully connected layers (nn_vae.h).  The matrix product and the bias are
 * linear_forward / linear_backward and bias_forward / bias_backward (nn_dense.c).
 */
#include "nn/nn_vae.h"
#include "nn/nn_simd.h"

void
relu_forward(float *out, const float *inp, size_t n)
{
	nn_vrelu(out, inp, n);
}

void
relu_backward(float *dinp, const float *dout, const float *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (out[i] > 0.0f)
			dinp[i] += dout[i];
}
