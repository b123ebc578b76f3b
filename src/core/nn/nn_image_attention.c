/*
 * nn_image_attention.c — multi-head self-attention among the positions of each image (shapes in
 * nn_image.h): the attention blocks of a diffusion U-Net, where every position attends to every
 * other (no causal mask).  The U-Net uses it at its coarse levels only (16 and 4 positions), so,
 * as for the sequence attention of nn_attention.c, loops over (query, key) pairs beat sgemm calls
 * whose set-up would cost more than the product.
 */
#include "nn/nn_image.h"

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
				float		mx = -INFINITY,
							sum = 0.0f,
							inv;

				for (int u = 0; u < P; u++)
				{
					const float *k = base + (size_t) u * C3 + C + h * HS;
					float		d = 0.0f;

					for (int i = 0; i < HS; i++)
						d += q[i] * k[i];
					row[u] = d * scale;
					if (row[u] > mx)
						mx = row[u];
				}
				for (int u = 0; u < P; u++)
				{
					row[u] = expf(row[u] - mx);
					sum += row[u];
				}
				inv = 1.0f / sum;
				memset(o, 0, HS * sizeof(float));
				for (int u = 0; u < P; u++)
				{
					const float *v = base + (size_t) u * C3 + 2 * C + h * HS;
					float		p = row[u] *= inv;

					for (int i = 0; i < HS; i++)
						o[i] += p * v[i];
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
					float		d = 0.0f;

					for (int i = 0; i < HS; i++)
					{
						d += dot_t[i] * v[i];
						dv[i] += row[u] * dot_t[i];
					}
					scratch[u] = d;
					dot += d * row[u];
				}
				/* softmax: dscore_u = p_u (dp_u - sum_j p_j dp_j); score = scale q . k_u */
				for (int u = 0; u < P; u++)
				{
					const float *k = base + (size_t) u * C3 + C + h * HS;
					float	   *dk = dbase + (size_t) u * C3 + C + h * HS;
					float		g = row[u] * (scratch[u] - dot) * scale;

					for (int i = 0; i < HS; i++)
					{
						dq[i] += g * k[i];
						dk[i] += g * q[i];
					}
				}
			}
		}
	}
}
