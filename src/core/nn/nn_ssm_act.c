/*
 * nn_ssm_act.c — the elementwise ops of a Mamba block: softplus (the step size delta), SiLU
 * (after the convolution), the SiLU gate y * silu(z), and a bias add.  Shapes in nn_ssm.h;
 * every backward accumulates (+=).
 *
 * The exponentials go through nn_vexp (the AVX2 kernel where the CPU has one) in chunks of a
 * stack buffer: a libm expf per element would cost more than the block's matrix products.
 */
#include "nn/nn_ssm.h"
#include "nn/nn_simd.h"

#include <math.h>

#define CHUNK 256

/* softplus(x) = max(x, 0) + log1p(exp(-|x|)): exp of a non-positive number never overflows */
void
softplus_forward(float *out, const float *inp, size_t n)
{
	float		t[CHUNK];

	for (size_t i0 = 0; i0 < n; i0 += CHUNK)
	{
		int			m = n - i0 < CHUNK ? (int) (n - i0) : CHUNK;

		for (int i = 0; i < m; i++)
			t[i] = -fabsf(inp[i0 + i]);
		nn_vexp(t, m);
		for (int i = 0; i < m; i++)
			out[i0 + i] = fmaxf(inp[i0 + i], 0.0f) + log1pf(t[i]);
	}
}

/* d softplus(x) / dx = sigmoid(x) = 1 / (1 + exp(-x)) */
void
softplus_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
	float		t[CHUNK];

	for (size_t i0 = 0; i0 < n; i0 += CHUNK)
	{
		int			m = n - i0 < CHUNK ? (int) (n - i0) : CHUNK;

		for (int i = 0; i < m; i++)
			t[i] = -inp[i0 + i];
		nn_vexp(t, m);
		for (int i = 0; i < m; i++)
			dinp[i0 + i] += dout[i0 + i] / (1.0f + t[i]);
	}
}

/* silu(x) = x / (1 + exp(-x)) */
void
silu_forward(float *out, const float *inp, int N, int C, int istride)
{
	for (int n = 0; n < N; n++)
	{
		const float *x = inp + (size_t) n * istride;
		float	   *o = out + (size_t) n * C;

		for (int i = 0; i < C; i++)
			o[i] = -x[i];
		nn_vexp(o, C);
		for (int i = 0; i < C; i++)
			o[i] = x[i] / (1.0f + o[i]);
	}
}

/* silu'(x) = s (1 + x (1 - s)), s = sigmoid(x) */
void
silu_backward(float *dinp, const float *dout, const float *inp, int N, int C, int istride)
{
	float		t[CHUNK];

	for (int n = 0; n < N; n++)
	{
		const float *x = inp + (size_t) n * istride;
		const float *d = dout + (size_t) n * C;
		float	   *dx = dinp + (size_t) n * istride;

		for (int i0 = 0; i0 < C; i0 += CHUNK)
		{
			int			m = C - i0 < CHUNK ? C - i0 : CHUNK;

			for (int i = 0; i < m; i++)
				t[i] = -x[i0 + i];
			nn_vexp(t, m);
			for (int i = 0; i < m; i++)
			{
				float		s = 1.0f / (1.0f + t[i]);

				dx[i0 + i] += d[i0 + i] * s * (1.0f + x[i0 + i] * (1.0f - s));
			}
		}
	}
}

/* the gate is SwiGLU's product with the roles named for Mamba: silu(z) * y (nn_simd.h) */
void
silu_gate_forward(float *out, const float *y, const float *z, int N, int C, int zstride)
{
	for (int n = 0; n < N; n++)
		nn_swiglu_fwd(out + (size_t) n * C, z + (size_t) n * zstride, y + (size_t) n * C, C);
}

void
silu_gate_backward(float *dy, float *dz, const float *dout, const float *y, const float *z,
				   int N, int C, int zstride)
{
	for (int n = 0; n < N; n++)
		nn_swiglu_bwd(dz + (size_t) n * zstride, dy + (size_t) n * C, dout + (size_t) n * C,
					  z + (size_t) n * zstride, y + (size_t) n * C, C);
}

void
bias_forward(float *out, const float *b, int N, int C)
{
	for (int n = 0; n < N; n++)
		for (int i = 0; i < C; i++)
			out[(size_t) n * C + i] += b[i];
}

void
bias_backward(float *db, const float *dout, int N, int C)
{
	for (int n = 0; n < N; n++)
		for (int i = 0; i < C; i++)
			db[i] += dout[(size_t) n * C + i];
}
