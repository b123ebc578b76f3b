/*
 * nn_groupnorm.c — group normalisation over channels-last images (Wu & He, 2018), the norm of the
 * U-Net's blocks: statistics per image and group of C/G channels over all positions, so they do
 * not depend on the batch (training and sampling normalise alike).  Shapes are in nn_image.h.
 *
 * Channels-last puts a group's channels side by side in every row, so both passes run along rows
 * with per-channel vectors (nn_image_simd.c): sums per channel, then per group in double; the
 * normalisation itself is one per-channel affine map a * x + c per row.
 */
#include "nn/nn_image.h"
#include "nn/nn_image_simd.h"
#include "nn/nn_simd.h"

#include <math.h>
#include <string.h>

size_t
groupnorm_scratch_floats(int C)
{
	return (size_t) 6 * C;
}

/* Sum of v[g*Cg .. (g+1)*Cg) in double. */
static double
group_sum(const float *v, int g, int Cg)
{
	double		s = 0.0;

	for (int j = 0; j < Cg; j++)
		s += v[g * Cg + j];
	return s;
}

void
groupnorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
				  const float *b, int B, int P, int C, int G, float eps, float *scratch)
{
	int			Cg = C / G;
	double		M = (double) P * Cg;
	float	   *sum = scratch,
			   *mv = scratch + C,
			   *sq = scratch + 2 * C,
			   *a = scratch + 3 * C,
			   *c = scratch + 4 * C;

	for (int i = 0; i < B; i++)
	{
		const float *x = inp + (size_t) i * P * C;
		float	   *o = out + (size_t) i * P * C;

		memset(sum, 0, C * sizeof(float));
		for (int p = 0; p < P; p++)
			nn_vadd(sum, x + (size_t) p * C, C);
		for (int g = 0; g < G; g++)
		{
			float		m = (float) (group_sum(sum, g, Cg) / M);

			mean[i * G + g] = m;
			for (int j = 0; j < Cg; j++)
				mv[g * Cg + j] = m;
		}
		/* the variance from deviations (a second pass), not from E[x^2] - mean^2 */
		memset(sq, 0, C * sizeof(float));
		for (int p = 0; p < P; p++)
			nn_img_sum_sqdiff(sq, x + (size_t) p * C, mv, C);
		for (int g = 0; g < G; g++)
		{
			float		r = (float) (1.0 / sqrt(group_sum(sq, g, Cg) / M + eps));

			rstd[i * G + g] = r;
			for (int j = 0; j < Cg; j++)
			{
				int			k = g * Cg + j;

				a[k] = r * w[k];
				c[k] = b[k] - mean[i * G + g] * a[k];
			}
		}
		for (int p = 0; p < P; p++)
			nn_img_affine(o + (size_t) p * C, a, x + (size_t) p * C, c, C);
	}
}

/*
 * With xh = (x - mean) * rstd and dxh = dy * w over the M = P * C/G elements of a group:
 *   dx = rstd * (dxh - mean(dxh) - xh * mean(dxh * xh)),  dw += sum dy * xh,  db += sum dy,
 * which is, per channel, dx += (r w) dy + (-r^2 k) x + (r^2 k mean - r a), a = mean(dxh),
 * k = mean(dxh * xh).  The sums come from per-channel sums of dy and dy (x - mean).
 */
void
groupnorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
				   const float *w, const float *mean, const float *rstd, int B, int P, int C, int G,
				   float *scratch)
{
	int			Cg = C / G;
	double		M = (double) P * Cg;
	float	   *mv = scratch,
			   *s1 = scratch + C,
			   *s2 = scratch + 2 * C,
			   *ca = scratch + 3 * C,
			   *cb = scratch + 4 * C,
			   *cc = scratch + 5 * C;

	for (int i = 0; i < B; i++)
	{
		const float *x = inp + (size_t) i * P * C;
		const float *dy = dout + (size_t) i * P * C;
		float	   *dx = dinp + (size_t) i * P * C;

		for (int g = 0; g < G; g++)
			for (int j = 0; j < Cg; j++)
				mv[g * Cg + j] = mean[i * G + g];
		memset(s1, 0, C * sizeof(float));
		memset(s2, 0, C * sizeof(float));
		for (int p = 0; p < P; p++)
			nn_img_sum_dprod(s1, s2, dy + (size_t) p * C, x + (size_t) p * C, mv, C);
		for (int g = 0; g < G; g++)
		{
			float		m = mean[i * G + g],
						r = rstd[i * G + g];
			double		sd = 0.0,
						sdx = 0.0;
			float		a,
						k;

			for (int j = 0; j < Cg; j++)
			{
				int			c = g * Cg + j;

				dw[c] += r * s2[c];
				db[c] += s1[c];
				sd += (double) w[c] * s1[c];
				sdx += (double) w[c] * r * s2[c];
			}
			a = (float) (sd / M);
			k = (float) (sdx / M);
			for (int j = 0; j < Cg; j++)
			{
				int			c = g * Cg + j;

				ca[c] = r * w[c];
				cb[c] = -r * r * k;
				cc[c] = r * r * k * m - r * a;
			}
		}
		for (int p = 0; p < P; p++)
			nn_img_affine2_acc(dx + (size_t) p * C, ca, dy + (size_t) p * C, cb, x + (size_t) p * C,
							   cc, C);
	}
}
