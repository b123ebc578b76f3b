/*
 * nn_conv1d.c — the causal depthwise convolution of a Mamba block: each channel sees its own
 * last K inputs of the same row (nn_ssm.h).  K is 4 in the paper's model, so a direct loop beats
 * any im2col; channels are innermost for contiguous access.
 */
#include "nn/nn_ssm.h"

#include <string.h>

void
conv1d_causal_forward(float *out, const float *inp, const float *w, const float *b,
					  const int *start, const int *len, int S, int C, int K, int istride)
{
	for (int r = 0; r < S; r++)
		for (int t = 0; t < len[r]; t++)
		{
			size_t		n = (size_t) start[r] + t;
			float	   *o = out + n * C;

			memcpy(o, b, C * sizeof(float));
			/* tap k reads the input at t - (K-1) + k; taps before the row start read 0 */
			for (int k = K - 1 - t > 0 ? K - 1 - t : 0; k < K; k++)
			{
				const float *x = inp + (n - (K - 1) + k) * istride;

				for (int c = 0; c < C; c++)
					o[c] += w[(size_t) c * K + k] * x[c];
			}
		}
}

void
conv1d_causal_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
					   const float *w, const int *start, const int *len, int S, int C, int K,
					   int istride)
{
	for (int r = 0; r < S; r++)
		for (int t = 0; t < len[r]; t++)
		{
			size_t		n = (size_t) start[r] + t;
			const float *d = dout + n * C;

			for (int c = 0; c < C; c++)
				db[c] += d[c];
			for (int k = K - 1 - t > 0 ? K - 1 - t : 0; k < K; k++)
			{
				size_t		src = (n - (K - 1) + k) * istride;
				const float *x = inp + src;
				float	   *dx = dinp + src;

				for (int c = 0; c < C; c++)
				{
					dw[(size_t) c * K + k] += d[c] * x[c];
					dx[c] += w[(size_t) c * K + k] * d[c];
				}
			}
		}
}

void
conv1d_causal_step(float *out, float *win, const float *inp, const float *w, const float *b,
				   int U, int C, int K, int istride)
{
	for (int j = 0; j < U; j++)
	{
		float	   *o = out + (size_t) j * C;
		float	   *wn = win + (size_t) j * (K - 1) * C;
		const float *x = inp + (size_t) j * istride;

		memcpy(o, b, C * sizeof(float));
		for (int k = 0; k < K - 1; k++)
			for (int c = 0; c < C; c++)
				o[c] += w[(size_t) c * K + k] * wn[(size_t) k * C + c];
		for (int c = 0; c < C; c++)
			o[c] += w[(size_t) c * K + K - 1] * x[c];
		if (K > 1)
		{
			memmove(wn, wn + C, (size_t) (K - 2) * C * sizeof(float));
			memcpy(wn + (size_t) (K - 2) * C, x, C * sizeof(float));
		}
	}
}
