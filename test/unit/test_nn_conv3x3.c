/*
 * test_nn_conv3x3.c — the 3 x 3 convolution computed straight from the image (nn_conv3x3.h):
 * the packed weight layout, the plain-C twin against a direct loop in double, the AVX-512 and AVX2
 * kernels against their twin bit for bit (those the CPU has), rows that do not depend on the batch,
 * and conv2d_forward taking it (and matching the im2col path it replaces within rounding); the
 * same for the input gradient, a convolution by the turned kernel that conv2d_backward takes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "nn/nn_conv3x3.h"
#include "nn/nn_image.h"
#include "nn/nn_simd.h"
#include "unit.h"

static NtgRng rng;
static int	has_avx512;			/* the AVX-512 kernel runs here (the AVX2 one is checked too) */

static float *
randn(size_t n, float scale)
{
	float	   *x = malloc(n * sizeof(float) + 64);

	for (size_t i = 0; i < n; i++)
		x[i] = (float) (ntg_rng_normal(&rng) * scale);
	return x;
}

/* Worst |out - direct loop in double| relative to 1 + |exact| (no bias). */
static double
direct_diff(const float *out, const float *inp, const float *w, int B, int H, int W, int C,
			int OC)
{
	double		worst = 0.0;

	for (int b = 0; b < B; b++)
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++)
				for (int o = 0; o < OC; o++)
				{
					double		s = 0.0;

					for (int kh = 0; kh < 3; kh++)
						for (int kw = 0; kw < 3; kw++)
						{
							int			iy = y + kh - 1,
										ix = x + kw - 1;

							if (iy < 0 || iy >= H || ix < 0 || ix >= W)
								continue;
							for (int c = 0; c < C; c++)
								s += (double) w[((size_t) o * 9 + kh * 3 + kw) * C + c] *
									inp[(((size_t) b * H + iy) * W + ix) * C + c];
						}
					worst = unit_worst(worst, fabs(s - out[(((size_t) b * H + y) * W + x) * OC + o]) /
								 (1.0 + fabs(s)));
				}
	return worst;
}

static int
packed_as_documented(const float *wp, const float *w, int C, int OC)
{
	size_t		KKC = (size_t) 9 * C;

	for (int o = 0; o < OC; o++)
		for (size_t k = 0; k < KKC; k++)
			if (wp[((size_t) (o / 16) * KKC + k) * 16 + o % 16] != w[(size_t) o * KKC + k])
				return 0;
	return 1;
}

static void
test_shape(int B, int H, int W, int C, int OC, const char *what)
{
	size_t		ni = (size_t) B * H * W * C,
				no = (size_t) B * H * W * OC,
				nw = (size_t) OC * 9 * C,
				per_image = (size_t) H * W * OC;
	float	   *inp = randn(ni, 1.0f),
			   *w = randn(nw, 0.3f),
			   *bias = randn(OC, 0.5f),
			   *wp = malloc(nw * sizeof(float)),
			   *ref = malloc(no * sizeof(float)),
			   *vec = malloc(no * sizeof(float)),
			   *one = malloc(per_image * sizeof(float)),
			   *col = calloc(conv2d_col_floats(C, 3) + 16, sizeof(float)),
			   *fwd = malloc(no * sizeof(float)),
			   *im2col = malloc(no * sizeof(float));
	int			alone = 1;
	double		worst = 0.0;

	conv3x3_pack(wp, w, C, OC);
	ok(packed_as_documented(wp, w, C, OC), "%s: weights packed in panels of 16 channels", what);
	conv3x3_direct_ref(ref, inp, wp, B, H, W, C, OC, 0);
	ok(direct_diff(ref, inp, w, B, H, W, C, OC) < 1e-5, "%s: the plain-C twin is the convolution (%g)",
	   what, direct_diff(ref, inp, w, B, H, W, C, OC));
	if (!conv3x3_direct_supported())
	{
		printf("# %s: no AVX2 on this CPU: the vector kernels are not checked\n", what);
		goto out;
	}
	for (int wide = has_avx512; wide >= 0; wide--)
	{
		const char *form = wide ? "AVX-512" : "AVX2";

		nn_simd_force_avx512(wide);
		alone = 1;
		conv3x3_direct(vec, inp, wp, B, H, W, C, OC, 0);
		ok(memcmp(vec, ref, no * sizeof(float)) == 0, "%s: the %s kernel gives its twin's bits", what, form);
		for (int b = 0; b < B; b++)
		{
			conv3x3_direct(one, inp + (size_t) b * H * W * C, wp, 1, H, W, C, OC, 0);
			alone &= memcmp(one, vec + (size_t) b * per_image, per_image * sizeof(float)) == 0;
		}
		ok(alone, "%s: %s: each image alone gives the bits it gets among %d", what, form, B);

		/* conv2d_forward takes the kernel (bias added after), and matches the im2col path it replaces */
		conv2d_forward(fwd, inp, w, bias, B, H, W, C, OC, 3, col);
		for (size_t i = 0; i < no; i++)
			vec[i] += bias[i % OC];
		ok(memcmp(fwd, vec, no * sizeof(float)) == 0, "%s: %s: conv2d_forward computes it with the kernel",
		   what, form);
	}
	nn_simd_force_avx512(1);
	nn_simd_force(0);
	conv2d_forward(im2col, inp, w, bias, B, H, W, C, OC, 3, col);
	nn_simd_force(2);
	for (size_t i = 0; i < no; i++)
		worst = unit_worst(worst, fabs(im2col[i] - fwd[i]) / (1.0 + fabs(fwd[i])));
	ok(worst < 1e-5, "%s: the im2col path agrees within rounding (%g)", what, worst);
out:
	free(inp), free(w), free(bias), free(wp), free(ref), free(vec), free(one), free(col);
	free(fwd), free(im2col);
}

/*
 * The input gradient (conv2d_backward with dinp) as a convolution of dout by the turned kernel:
 * against its im2col + col2im form within rounding, accumulating into what dinp held, and the
 * vector kernel against the twin bit for bit.
 */
static void
test_input_gradient(int B, int H, int W, int C, int OC, const char *what)
{
	size_t		ni = (size_t) B * H * W * C,
				no = (size_t) B * H * W * OC,
				nw = (size_t) OC * 9 * C;
	float	   *dout = randn(no, 1.0f),
			   *w = randn(nw, 0.3f),
			   *held = randn(ni, 1.0f),
			   *wp = malloc(nw * sizeof(float)),
			   *ref = malloc(ni * sizeof(float)),
			   *vec = malloc(ni * sizeof(float)),
			   *dinp = malloc(ni * sizeof(float)),
			   *im2col = malloc(ni * sizeof(float)),
			   *col = calloc(conv2d_col_floats(C, 3) + 16, sizeof(float));
	double		worst = 0.0;

	conv3x3_pack_transposed(wp, w, C, OC);
	memcpy(ref, held, ni * sizeof(float));
	conv3x3_direct_ref(ref, dout, wp, B, H, W, OC, C, 1);
	memcpy(im2col, held, ni * sizeof(float));
	nn_simd_force(0);
	conv2d_backward(im2col, NULL, NULL, dout, NULL, w, B, H, W, C, OC, 3, col);
	nn_simd_force(2);
	for (size_t i = 0; i < ni; i++)
		worst = unit_worst(worst, fabs(im2col[i] - ref[i]) / (1.0 + fabs(im2col[i])));
	ok(worst < 1e-5, "%s: the turned kernel's convolution is the input gradient, added (%g)", what, worst);
	if (!conv3x3_direct_supported())
		goto out;
	for (int wide = has_avx512; wide >= 0; wide--)
	{
		const char *form = wide ? "AVX-512" : "AVX2";

		nn_simd_force_avx512(wide);
		memcpy(vec, held, ni * sizeof(float));
		conv3x3_direct(vec, dout, wp, B, H, W, OC, C, 1);
		ok(memcmp(vec, ref, ni * sizeof(float)) == 0, "%s: the %s kernel adds its twin's bits", what, form);
		memcpy(dinp, held, ni * sizeof(float));
		conv2d_backward(dinp, NULL, NULL, dout, NULL, w, B, H, W, C, OC, 3, col);
		ok(memcmp(dinp, vec, ni * sizeof(float)) == 0, "%s: %s: conv2d_backward computes it with the kernel",
		   what, form);
	}
	nn_simd_force_avx512(1);
out:
	free(dout), free(w), free(held), free(wp), free(ref), free(vec), free(dinp), free(im2col), free(col);
}

int
main(void)
{
	ntg_rng_seed(&rng, 33);
	has_avx512 = nn_simd_avx512();
	printf("# vector kernels checked: %s\n", !conv3x3_direct_supported() ? "none" :
		   has_avx512 ? "AVX-512 and AVX2" : "AVX2");
	ok(conv3x3_direct_fits(32, 64) && conv3x3_direct_fits(1, 16) &&
	   conv3x3_direct_fits(CONV3X3_MAX_C, 48), "16, 48 and 64 output channels fit");
	ok(!conv3x3_direct_fits(8, 1) && !conv3x3_direct_fits(8, 8) && !conv3x3_direct_fits(8, 24) &&
	   !conv3x3_direct_fits(0, 16) && !conv3x3_direct_fits(CONV3X3_MAX_C + 1, 16),
	   "1, 8 and 24 output channels, no channels in and too many do not");
	test_shape(1, 16, 16, 1, 32, "the U-Net's input convolution (1 -> 32, 16 x 16)");
	test_shape(2, 8, 8, 32, 64, "32 -> 64 on 8 x 8, 2 images");
	test_shape(3, 4, 4, 64, 64, "64 -> 64 on 4 x 4, 3 images");
	test_shape(3, 2, 2, 128, 64, "a concatenation 128 -> 64 on 2 x 2, 3 images (12 positions)");
	test_shape(5, 3, 7, 3, 48, "3 -> 48 on 3 x 7, 5 images (a block of 1 and one panel left)");
	test_shape(2, 1, 1, 5, 16, "one pixel per image");
	test_shape(4, 16, 16, 32, 32, "32 -> 32 on 16 x 16, 4 images");
	test_input_gradient(2, 8, 8, 32, 64, "gradient 64 -> 32 on 8 x 8");
	test_input_gradient(3, 2, 2, 128, 64, "gradient of a concatenation, 64 -> 128 on 2 x 2");
	test_input_gradient(5, 3, 7, 48, 1, "gradient of the output convolution, 1 -> 48 on 3 x 7");
	return done_testing();
}
