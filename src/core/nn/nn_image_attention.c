/*
 * nn_image_attention.c — multi-head self-attention among the positions of each image (shapes in
 * nn_image.h): the attention blocks of a diffusion U-Net, where every position attends to every
 * other (no causal mask).  The U-Net uses it at its coarse levels only (16 and 4 positions), so,
 * as for the sequence attention of nn_attention.c, loops over (query, key) pairs beat sgemm calls
 * whose set-up would cost more than the product.  The pairs' dot products, weighted sums and
 * exponentials are the vector kernels of nn_simd.h (scalar loops over the 16 floats of a head
 * were 4 % of a sampled row).
 */
#include "nn/nn_image.h"
#include "nn/nn_simd.h"

#include <math.h>
#include <string.h>

void
image_attention_forward(float *out, float *att, const float *qkv, int B, int P, int C, int NH)
{
	int			HS = C / NH;
	float		scale = 1.0f / sqrtf((float) HS);
	int			C3 = 3 * C;

	for (int b = 0; b < B; b++)
	{
		const float *base = qkv + (size_t) b * P * C3;
		float	   *obase = out + (size_t) b * P * C;

		for (int h = 0; h < NH; h++)
		{
			float	   *a = att + ((size_t) b * NH + h) * P * P;

			for (int t = 0; t < P; t++)
			{
				const float *q = base + (size_t) t * C3 + h * HS;
				float	   *row = a + (size_t) t * P;
				float	   *o = obase + (size_t) t * C + h * HS;
				float		sum = 0.0f,
							inv;

				for (int u = 0; u < P; u++)
					row[u] = nn_dot(q, base + (size_t) u * C3 + C + h * HS, HS) * scale;
				nn_vshift_scale(row, P, nn_vmax(row, P), 1.0f);
				nn_vexp(row, P);
				for (int u = 0; u < P; u++)
					sum += row[u];
				inv = 1.0f / sum;
				memset(o, 0, HS * sizeof(float));
				for (int u = 0; u < P; u++)
				{
					row[u] *= inv;
					nn_axpy(o, row[u], base + (size_t) u * C3 + 2 * C + h * HS, HS);
				}
			}
		}
	}
}

void
image_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
						 int B, int P, int C, int NH, float *scratch)
{
	int			HS = C / NH;
	float		scale = 1.0f / sqrtf((float) HS);
	int			C3 = 3 * C;

	for (int b = 0; b < B; b++)
	{
		const float *base = qkv + (size_t) b * P * C3;
		float	   *dbase = dqkv + (size_t) b * P * C3;
		const float *dobase = dout + (size_t) b * P * C;

		for (int h = 0; h < NH; h++)
		{
			const float *a = att + ((size_t) b * NH + h) * P * P;

			for (int t = 0; t < P; t++)
			{
				const float *row = a + (size_t) t * P;
				const float *dot_t = dobase + (size_t) t * C + h * HS;
				const float *q = base + (size_t) t * C3 + h * HS;
				float	   *dq = dbase + (size_t) t * C3 + h * HS;
				float		dot = 0.0f;

				/* out_t = sum_u p_u v_u: dp_u = dout_t . v_u, dv_u += p_u dout_t */
				for (int u = 0; u < P; u++)
				{
					const float *v = base + (size_t) u * C3 + 2 * C + h * HS;
					float	   *dv = dbase + (size_t) u * C3 + 2 * C + h * HS;
					float		d = nn_dot(dot_t, v, HS);

					nn_axpy(dv, row[u], dot_t, HS);
					scratch[u] = d;
					dot += d * row[u];
				}
				/* softmax: dscore_u = p_u (dp_u - sum_j p_j dp_j); score = scale q . k_u */
				for (int u = 0; u < P; u++)
				{
					const float *k = base + (size_t) u * C3 + C + h * HS;
					float	   *dk = dbase + (size_t) u * C3 + C + h * HS;
					float		g = row[u] * (scratch[u] - dot) * scale;

					nn_axpy(dq, g, k, HS);
					nn_axpy(dk, g, q, HS);
				}
			}
		}
	}
}
