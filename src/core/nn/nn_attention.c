/*
 * nn_attention.c — rotary position embedding and causal multi-head self-attention over packed
 * variable-length sequences (shapes in nn.h).  Sequences here are short (N = 10 payload packets
 * plus the class token), so plain loops over (query, key) pairs beat batching them into sgemm
 * calls: the per-call overhead of a 12 x 12 x 20 product is larger than the product.
 */
#include "nn/nn.h"

#include <math.h>
#include <string.h>

void
rope_table(float *cs, int maxT, int HS, double theta)
{
	for (int t = 0; t < maxT; t++)
		for (int i = 0; i < HS / 2; i++)
		{
			double		freq = pow(theta, -2.0 * i / HS);
			double		a = t * freq;

			cs[((size_t) t * (HS / 2) + i) * 2] = (float) cos(a);
			cs[((size_t) t * (HS / 2) + i) * 2 + 1] = (float) sin(a);
		}
}

static void
rope_apply(float *x, const int *pos, const float *cs, int N, int nh, int HS, int stride,
		   float sign)
{
	for (int n = 0; n < N; n++)
	{
		const float *c = cs + (size_t) pos[n] * HS;	/* HS/2 pairs of 2 floats */
		float	   *row = x + (size_t) n * stride;

		for (int h = 0; h < nh; h++)
		{
			float	   *v = row + h * HS;

			for (int i = 0; i < HS / 2; i++)
			{
				float		co = c[2 * i],
							si = sign * c[2 * i + 1];
				float		a = v[2 * i],
							b = v[2 * i + 1];

				v[2 * i] = a * co - b * si;
				v[2 * i + 1] = a * si + b * co;
			}
		}
	}
}

void
rope_forward(float *x, const int *pos, const float *cs, int N, int nh, int HS, int stride)
{
	rope_apply(x, pos, cs, N, nh, HS, stride, 1.0f);
}

void
rope_backward(float *dx, const int *pos, const float *cs, int N, int nh, int HS, int stride)
{
	rope_apply(dx, pos, cs, N, nh, HS, stride, -1.0f);
}

size_t
attention_offsets(size_t *att_off, const int *len, int S, int NH)
{
	size_t		off = 0;

	for (int s = 0; s < S; s++)
	{
		att_off[s] = off;
		off += (size_t) NH * len[s] * len[s];
	}
	return off;
}

void
attention_forward(float *out, float *att, const float *qkv, const int *start, const int *len,
				  const size_t *att_off, int S, int C, int NH)
{
	int			HS = C / NH;
	float		scale = 1.0f / sqrtf((float) HS);
	int			C3 = 3 * C;

	for (int s = 0; s < S; s++)
	{
		int			L = len[s];
		const float *base = qkv + (size_t) start[s] * C3;
		float	   *obase = out + (size_t) start[s] * C;

		for (int h = 0; h < NH; h++)
		{
			float	   *a = att + att_off[s] + (size_t) h * L * L;

			for (int t = 0; t < L; t++)
			{
				const float *q = base + (size_t) t * C3 + h * HS;
				float	   *row = a + (size_t) t * L;
				float	   *o = obase + (size_t) t * C + h * HS;
				float		mx = -INFINITY,
							sum = 0.0f,
							inv;

				for (int u = 0; u <= t; u++)
				{
					const float *k = base + (size_t) u * C3 + C + h * HS;
					float		d = 0.0f;

					for (int i = 0; i < HS; i++)
						d += q[i] * k[i];
					d *= scale;
					row[u] = d;
					if (d > mx)
						mx = d;
				}
				for (int u = 0; u <= t; u++)
				{
					row[u] = expf(row[u] - mx);
					sum += row[u];
				}
				inv = 1.0f / sum;
				for (int u = 0; u <= t; u++)
					row[u] *= inv;
				for (int u = t + 1; u < L; u++)
					row[u] = 0.0f;

				memset(o, 0, HS * sizeof(float));
				for (int u = 0; u <= t; u++)
				{
					const float *v = base + (size_t) u * C3 + 2 * C + h * HS;
					float		p = row[u];

					for (int i = 0; i < HS; i++)
						o[i] += p * v[i];
				}
			}
		}
	}
}

void
attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
				   const int *start, const int *len, const size_t *att_off, int S, int C, int NH,
				   float *scratch)
{
	int			HS = C / NH;
	float		scale = 1.0f / sqrtf((float) HS);
	int			C3 = 3 * C;

	for (int s = 0; s < S; s++)
	{
		int			L = len[s];
		const float *base = qkv + (size_t) start[s] * C3;
		float	   *dbase = dqkv + (size_t) start[s] * C3;
		const float *dobase = dout + (size_t) start[s] * C;

		for (int h = 0; h < NH; h++)
		{
			const float *a = att + att_off[s] + (size_t) h * L * L;

			for (int t = 0; t < L; t++)
			{
				const float *row = a + (size_t) t * L;
				const float *dout_t = dobase + (size_t) t * C + h * HS;
				const float *q = base + (size_t) t * C3 + h * HS;
				float	   *dq = dbase + (size_t) t * C3 + h * HS;
				float	   *datt = scratch;
				float		dot = 0.0f;

				/* out_t = sum_u p_u v_u: dp_u = dout_t . v_u, dv_u += p_u dout_t */
				for (int u = 0; u <= t; u++)
				{
					const float *v = base + (size_t) u * C3 + 2 * C + h * HS;
					float	   *dv = dbase + (size_t) u * C3 + 2 * C + h * HS;
					float		d = 0.0f;

					for (int i = 0; i < HS; i++)
					{
						d += dout_t[i] * v[i];
						dv[i] += row[u] * dout_t[i];
					}
					datt[u] = d;
					dot += d * row[u];
				}
				/* softmax: dscore_u = p_u (dp_u - sum_j p_j dp_j); score = scale q . k_u */
				for (int u = 0; u <= t; u++)
				{
					const float *k = base + (size_t) u * C3 + C + h * HS;
					float	   *dk = dbase + (size_t) u * C3 + C + h * HS;
					float		g = row[u] * (datt[u] - dot) * scale;

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
