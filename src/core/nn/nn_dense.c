/*
 * nn_dense.c — row-wise layers: embedding, RMSNorm, linear (CBLAS), SwiGLU, residual add.
 * Shapes are in nn.h; every backward accumulates (+=).
 */
#include "nn/nn.h"
#include "nn/nn_simd.h"

#include <math.h>
#include <string.h>

void
embedding_forward(float *out, const int32_t *tok, const float *wte, int N, int C)
{
	for (int n = 0; n < N; n++)
		memcpy(out + (size_t) n * C, wte + (size_t) tok[n] * C, C * sizeof(float));
}

void
embedding_backward(float *dwte, const float *dout, const int32_t *tok, int N, int C)
{
	for (int n = 0; n < N; n++)
	{
		float	   *dw = dwte + (size_t) tok[n] * C;
		const float *d = dout + (size_t) n * C;

		for (int i = 0; i < C; i++)
			dw[i] += d[i];
	}
}

void
rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C,
				float eps)
{
	for (int n = 0; n < N; n++)
	{
		const float *x = inp + (size_t) n * C;
		float	   *o = out + (size_t) n * C;
		float		ss = 0.0f;
		float		r;

		for (int i = 0; i < C; i++)
			ss += x[i] * x[i];
		r = 1.0f / sqrtf(ss / C + eps);
		rstd[n] = r;
		for (int i = 0; i < C; i++)
			o[i] = x[i] * r * w[i];
	}
}

/*
 * y_i = x_i r w_i, r = (mean(x^2) + eps)^-1/2, dr/dx_j = -r^3 x_j / C, so
 * dx_j = r w_j dy_j - (r^3 / C) x_j sum_i(dy_i w_i x_i);  dw_i += dy_i x_i r.
 */
void
rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
				 const float *rstd, int N, int C)
{
	for (int n = 0; n < N; n++)
	{
		const float *x = inp + (size_t) n * C;
		const float *dy = dout + (size_t) n * C;
		float	   *dx = dinp + (size_t) n * C;
		float		r = rstd[n];
		float		dot = 0.0f;
		float		k;

		for (int i = 0; i < C; i++)
			dot += dy[i] * w[i] * x[i];
		k = r * r * r * dot / C;
		for (int i = 0; i < C; i++)
		{
			dx[i] += r * w[i] * dy[i] - k * x[i];
			dw[i] += dy[i] * x[i] * r;
		}
	}
}

/*
 * Below NN_SMALL_N rows (batch 1 training, one-at-a-time sampling) OpenBLAS spends more time
 * packing the weight matrix than multiplying; a loop over weight rows with vector dot / axpy
 * kernels reads each weight row once and does the same arithmetic.  Every row of such a product
 * is nn_dot(input row, weight row) whatever N is (nn_matvec computes the same sums for one row,
 * ~20 % faster than OpenBLAS's sgemv, which a one-row decode step is bound by), so a row
 * multiplied among up to NN_SMALL_N others gets the bits it would get alone (test_nn.c checks it).
 */
void
linear_forward(float *out, const float *inp, const float *w, int N, int C, int OC)
{
	if (N <= 0)
		return;
	if (N == 1)
	{
		nn_matvec(out, w, inp, OC, C);
		return;
	}
	if (N <= NN_SMALL_N)
	{
		for (int o = 0; o < OC; o++)
		{
			const float *wr = w + (size_t) o * C;

			for (int n = 0; n < N; n++)
				out[(size_t) n * OC + o] = nn_dot(inp + (size_t) n * C, wr, C);
		}
		return;
	}
	nn_sgemm(0, 1, N, OC, C, 1.0f, inp, C, w, C, 0.0f, out, OC);
}

void
linear_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
				int N, int C, int OC)
{
	if (N <= 0)
		return;
	if (N <= NN_SMALL_N)
	{
		for (int o = 0; o < OC; o++)
		{
			const float *wr = w + (size_t) o * C;
			float	   *dwr = dw != NULL ? dw + (size_t) o * C : NULL;

			for (int n = 0; n < N; n++)
			{
				float		d = dout[(size_t) n * OC + o];

				if (d == 0.0f)
					continue;
				if (dinp != NULL)
					nn_axpy(dinp + (size_t) n * C, d, wr, C);
				if (dwr != NULL)
					nn_axpy(dwr, d, inp + (size_t) n * C, C);
			}
		}
		return;
	}
	if (dinp != NULL)
		nn_sgemm(0, 0, N, C, OC, 1.0f, dout, OC, w, C, 1.0f, dinp, C);
	if (dw != NULL)
		nn_sgemm(1, 0, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dw, C);
}

void
swiglu_forward(float *out, const float *h13, int N, int H)
{
	for (int n = 0; n < N; n++)
		nn_swiglu_fwd(out + (size_t) n * H, h13 + (size_t) n * 2 * H,
					  h13 + (size_t) n * 2 * H + H, H);
}

void
swiglu_backward(float *dh13, const float *dout, const float *h13, int N, int H)
{
	for (int n = 0; n < N; n++)
	{
		const float *a = h13 + (size_t) n * 2 * H;
		float	   *da = dh13 + (size_t) n * 2 * H;

		nn_swiglu_bwd(da, da + H, dout + (size_t) n * H, a, a + H, H);
	}
}

void
residual_add(float *out, const float *inp, size_t n)
{
	nn_vadd(out, inp, n);
}

void
bias_forward(float *out, const float *b, int N, int OC)
{
	for (int n = 0; n < N; n++)
		nn_vadd(out + (size_t) n * OC, b, OC);
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
