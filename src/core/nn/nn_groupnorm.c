/*
 * nn_groupnorm.c — group normalisation over channels-last images (Wu & He, 2018), the norm of the
 * U-Net's blocks: statistics per image and group of C/G channels over all positions, so they do
 * not depend on the batch (training and sampling normalise alike).  Shapes are in nn_image.h.
 */
#include "nn/nn_image.h"

#include <math.h>

void
groupnorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
				  const float *b, int B, int P, int C, int G, float eps)
{
	int			Cg = C / G;

	for (int i = 0; i < B; i++)
		for (int g = 0; g < G; g++)
		{
			const float *x = inp + (size_t) i * P * C + g * Cg;
			float	   *o = out + (size_t) i * P * C + g * Cg;
			double		s = 0.0,
						ss = 0.0;
			double		m,
						var;
			float		mf,
						r;

			for (int p = 0; p < P; p++)
				for (int j = 0; j < Cg; j++)
					s += x[(size_t) p * C + j];
			m = s / ((double) P * Cg);
			for (int p = 0; p < P; p++)
				for (int j = 0; j < Cg; j++)
				{
					double		d = x[(size_t) p * C + j] - m;

					ss += d * d;
				}
			var = ss / ((double) P * Cg);
			mf = (float) m;
			r = (float) (1.0 / sqrt(var + eps));
			mean[i * G + g] = mf;
			rstd[i * G + g] = r;
			for (int p = 0; p < P; p++)
				for (int j = 0; j < Cg; j++)
				{
					int			c = g * Cg + j;

					o[(size_t) p * C + j] = (x[(size_t) p * C + j] - mf) * r * w[c] + b[c];
				}
		}
}

/*
 * With xh = (x - mean) * rstd and dxh = dy * w over the M = P * C/G elements of a group:
 *   dx = rstd * (dxh - mean(dxh) - xh * mean(dxh * xh)),  dw += sum dy * xh,  db += sum dy.
 */
void
groupnorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
				   const float *w, const float *mean, const float *rstd, int B, int P, int C, int G)
{
	int			Cg = C / G;
	double		M = (double) P * Cg;

	for (int i = 0; i < B; i++)
		for (int g = 0; g < G; g++)
		{
			size_t		base = (size_t) i * P * C + g * Cg;
			float		m = mean[i * G + g],
						r = rstd[i * G + g];
			double		sd = 0.0,
						sdx = 0.0;
			float		a,
						k;

			for (int p = 0; p < P; p++)
				for (int j = 0; j < Cg; j++)
				{
					size_t		e = base + (size_t) p * C + j;
					int			c = g * Cg + j;
					float		xh = (inp[e] - m) * r;
					float		dxh = dout[e] * w[c];

					sd += dxh;
					sdx += dxh * xh;
					dw[c] += dout[e] * xh;
					db[c] += dout[e];
				}
			a = (float) (sd / M);
			k = (float) (sdx / M);
			for (int p = 0; p < P; p++)
				for (int j = 0; j < Cg; j++)
				{
					size_t		e = base + (size_t) p * C + j;
					int			c = g * Cg + j;
					float		xh = (inp[e] - m) * r;

					dinp[e] += r * (dout[e] * w[c] - a - xh * k);
				}
		}
}
