/*
 * nn_resample.c — the U-Net's change of resolution over channels-last images: 2 x 2 average
 * pooling on the way down, nearest-neighbour doubling on the way up (neither has parameters; the
 * convolutions around them do the learning).  Shapes are in nn_image.h.
 */
#include "nn/nn_image.h"
#include "nn/nn_image_simd.h"
#include "nn/nn_simd.h"

static inline size_t
pix(int b, int y, int x, int H, int W, int C)
{
	return (((size_t) b * H + y) * W + x) * C;
}

void
avgpool2_forward(float *out, const float *inp, int B, int H, int W, int C)
{
	int			Ho = H / 2,
				Wo = W / 2;

	for (int b = 0; b < B; b++)
		for (int y = 0; y < Ho; y++)
			for (int x = 0; x < Wo; x++)
			{
				float	   *o = out + pix(b, y, x, Ho, Wo, C);
				const float *i00 = inp + pix(b, 2 * y, 2 * x, H, W, C);
				const float *i01 = i00 + C;
				const float *i10 = inp + pix(b, 2 * y + 1, 2 * x, H, W, C);
				const float *i11 = i10 + C;

				for (int c = 0; c < C; c++)
					o[c] = 0.25f * ((i00[c] + i01[c]) + (i10[c] + i11[c]));
			}
}

void
avgpool2_backward(float *dinp, const float *dout, int B, int H, int W, int C)
{
	int			Ho = H / 2,
				Wo = W / 2;

	for (int b = 0; b < B; b++)
		for (int y = 0; y < Ho; y++)
			for (int x = 0; x < Wo; x++)
			{
				const float *d = dout + pix(b, y, x, Ho, Wo, C);

				for (int dy = 0; dy < 2; dy++)
					for (int dx = 0; dx < 2; dx++)
					{
						float	   *g = dinp + pix(b, 2 * y + dy, 2 * x + dx, H, W, C);

						for (int c = 0; c < C; c++)
							g[c] += 0.25f * d[c];
					}
			}
}

void
upsample2_forward(float *out, const float *inp, int B, int H, int W, int C)
{
	for (int b = 0; b < B; b++)
		for (int y = 0; y < 2 * H; y++)
			for (int x = 0; x < 2 * W; x++)
			{
				float	   *o = out + pix(b, y, x, 2 * H, 2 * W, C);
				const float *i = inp + pix(b, y / 2, x / 2, H, W, C);

				for (int c = 0; c < C; c++)
					o[c] = i[c];
			}
}

void
upsample2_backward(float *dinp, const float *dout, int B, int H, int W, int C)
{
	for (int b = 0; b < B; b++)
		for (int y = 0; y < 2 * H; y++)
			for (int x = 0; x < 2 * W; x++)
			{
				nn_vadd(dinp + pix(b, y / 2, x / 2, H, W, C),
						   dout + pix(b, y, x, 2 * H, 2 * W, C), C);
			}
}
