/*
 * test_nn_image.c — the image layers of the nn core (nn_image.h): convolution against a direct
 * loop, and every layer's backward against central finite differences of a random linear
 * functional of its output, as test_nn.c does for the sequence layers:
 *
 * with L = sum(out * R) (R random), the analytic gradient is the backward pass with dout = R; the
 * numerical one perturbs each input by +-h in float and evaluates L in double; a check passes when
 * |analytic - numeric| <= 1e-3 + 1e-2 * max(|analytic|, |numeric|).  Backward passes must
 * accumulate (+=), which each test checks by running backward twice on one input.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "nn/nn.h"
#include "nn/nn_image.h"
#include "nn/nn_simd.h"
#include "unit.h"

#define H_STEP 1e-3f

static NtgRng rng;

static void
fill(float *x, size_t n, float scale)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float) (ntg_rng_normal(&rng) * scale);
}

static float *
randn(size_t n, float scale)
{
	float	   *x = malloc(n * sizeof(float) + 16);

	fill(x, n, scale);
	return x;
}

static float *
zeros(size_t n)
{
	return calloc(n + 4, sizeof(float));
}

static double
dot(const float *a, const float *b, size_t n)
{
	double		s = 0.0;

	for (size_t i = 0; i < n; i++)
		s += (double) a[i] * b[i];
	return s;
}

typedef void (*ForwardFn) (float *out);

/* Max violation of the tolerance for gradient g of input x (n floats); > 1 means failure. */
static double
check_grad(ForwardFn fwd, float *x, const float *g, size_t n, float *out, size_t n_out,
		   const float *R)
{
	double		worst = 0.0;

	for (size_t i = 0; i < n; i++)
	{
		float		keep = x[i];
		double		lp,
					lm,
					num,
					tol;

		x[i] = keep + H_STEP;
		fwd(out);
		lp = dot(out, R, n_out);
		x[i] = keep - H_STEP;
		fwd(out);
		lm = dot(out, R, n_out);
		x[i] = keep;
		num = (lp - lm) / (2.0 * H_STEP);
		tol = 1e-3 + 1e-2 * fmax(fabs(num), fabs(g[i]));
		if (fabs(num - g[i]) / tol > worst)
			worst = fabs(num - g[i]) / tol;
	}
	fwd(out);
	return worst;
}

/* Does a second backward add the same gradient again?  (first = after one backward) */
static int
accumulates(const float *first, const float *twice, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fabsf(twice[i] - 2.0f * first[i]) > 1e-4f * (1.0f + fabsf(first[i])))
			return 0;
	return 1;
}

/* ---- convolution ---- */

static int	cB,
			cH,
			cW,
			cC,
			cOC,
			cK;
static float *c_inp,
		   *c_w,
		   *c_b,
		   *c_col;

static void
fwd_conv(float *out)
{
	conv2d_forward(out, c_inp, c_w, c_b, cB, cH, cW, cC, cOC, cK, c_col);
}

/* The same convolution as four nested loops, in double. */
static double
conv_direct_diff(const float *out)
{
	double		worst = 0.0;
	int			pad = cK / 2;

	for (int b = 0; b < cB; b++)
		for (int y = 0; y < cH; y++)
			for (int x = 0; x < cW; x++)
				for (int o = 0; o < cOC; o++)
				{
					double		s = c_b[o];

					for (int kh = 0; kh < cK; kh++)
						for (int kw = 0; kw < cK; kw++)
						{
							int			iy = y + kh - pad,
										ix = x + kw - pad;

							if (iy < 0 || iy >= cH || ix < 0 || ix >= cW)
								continue;
							for (int c = 0; c < cC; c++)
								s += (double) c_w[((size_t) o * cK * cK + kh * cK + kw) * cC + c] *
									c_inp[(((size_t) b * cH + iy) * cW + ix) * cC + c];
						}
					worst = unit_worst(worst, fabs(s - out[(((size_t) b * cH + y) * cW + x) * cOC + o]));
				}
	return worst;
}

static void
test_conv(int B, int H, int W, int C, int OC, int K, const char *what)
{
	size_t		ni,
				no,
				nw;
	float	   *out,
			   *R,
			   *dinp,
			   *dw,
			   *db,
			   *again;

	cB = B, cH = H, cW = W, cC = C, cOC = OC, cK = K;
	ni = (size_t) B * H * W * C;
	no = (size_t) B * H * W * OC;
	nw = (size_t) OC * K * K * C;
	c_inp = randn(ni, 1.0f);
	c_w = randn(nw, 0.3f);
	c_b = randn(OC, 0.5f);
	c_col = zeros(conv2d_col_floats(C, K));
	out = zeros(no), R = randn(no, 1.0f);
	dinp = zeros(ni), dw = zeros(nw), db = zeros(OC);
	fwd_conv(out);
	ok(conv_direct_diff(out) < 1e-4, "conv2d %s: forward matches a direct loop (%g)", what,
	   conv_direct_diff(out));
	conv2d_backward(dinp, dw, db, R, c_inp, c_w, B, H, W, C, OC, K, c_col);
	ok(check_grad(fwd_conv, c_inp, dinp, ni, out, no, R) <= 1.0, "conv2d %s: dinp", what);
	ok(check_grad(fwd_conv, c_w, dw, nw, out, no, R) <= 1.0, "conv2d %s: dw", what);
	ok(check_grad(fwd_conv, c_b, db, OC, out, no, R) <= 1.0, "conv2d %s: db", what);
	again = malloc(nw * sizeof(float));
	memcpy(again, dw, nw * sizeof(float));
	conv2d_backward(dinp, dw, db, R, c_inp, c_w, B, H, W, C, OC, K, c_col);
	ok(accumulates(again, dw, nw), "conv2d %s: backward accumulates", what);
	free(again), free(c_inp), free(c_w), free(c_b), free(c_col), free(out), free(R);
	free(dinp), free(dw), free(db);
}

/* ---- group norm ---- */

static int	gB = 2,
			gP = 5,
			gC = 6,
			gG = 3;
static float *g_inp,
		   *g_w,
		   *g_b,
		   g_mean[16],
		   g_rstd[16],
		   g_scratch[64];

static void
fwd_gn(float *out)
{
	groupnorm_forward(out, g_mean, g_rstd, g_inp, g_w, g_b, gB, gP, gC, gG, 1e-5f, g_scratch);
}

static void
test_groupnorm(void)
{
	size_t		n = (size_t) gB * gP * gC;
	float	   *out = zeros(n),
			   *R = randn(n, 1.0f),
			   *dinp = zeros(n),
			   *dw = zeros(gC),
			   *db = zeros(gC),
			   again[64];
	double		m = 0.0,
				v = 0.0;

	g_inp = randn(n, 2.0f);
	for (size_t i = 0; i < n; i++)
		g_inp[i] += 3.0f;		/* an offset the normalisation must remove */
	g_w = randn(gC, 1.0f), g_b = randn(gC, 1.0f);
	/* with w = 1, b = 0 each group of the first image has mean 0 and variance 1 */
	{
		float		one[6] = {1, 1, 1, 1, 1, 1},
					zero[6] = {0};

		groupnorm_forward(out, g_mean, g_rstd, g_inp, one, zero, gB, gP, gC, gG, 1e-5f, g_scratch);
		for (int p = 0; p < gP; p++)
			for (int j = 0; j < 2; j++)
				m += out[p * gC + 2 + j], v += out[p * gC + 2 + j] * out[p * gC + 2 + j];
		ok(fabs(m / 10) < 1e-5 && fabs(v / 10 - 1.0) < 1e-3,
		   "groupnorm: a group comes out with mean 0 (%g), variance 1 (%g)", m / 10, v / 10);
	}
	fwd_gn(out);
	groupnorm_backward(dinp, dw, db, R, g_inp, g_w, g_mean, g_rstd, gB, gP, gC, gG, g_scratch);
	ok(check_grad(fwd_gn, g_inp, dinp, n, out, n, R) <= 1.0, "groupnorm dinp");
	ok(check_grad(fwd_gn, g_w, dw, gC, out, n, R) <= 1.0, "groupnorm dw");
	ok(check_grad(fwd_gn, g_b, db, gC, out, n, R) <= 1.0, "groupnorm db");
	memcpy(again, dinp, n * sizeof(float));
	groupnorm_backward(dinp, dw, db, R, g_inp, g_w, g_mean, g_rstd, gB, gP, gC, gG, g_scratch);
	ok(accumulates(again, dinp, n), "groupnorm backward accumulates");
	free(out), free(R), free(dinp), free(dw), free(db), free(g_inp), free(g_w), free(g_b);
}

/* ---- silu, resampling, plumbing ---- */

enum
{
	RB = 2, RH = 4, RW = 6, RC = 3
};
static float *r_inp,
		   *r_b;

static void
fwd_silu(float *out)
{
	img_silu_forward(out, r_inp, RB * RH * RW * RC);
}

static void
fwd_pool(float *out)
{
	avgpool2_forward(out, r_inp, RB, RH, RW, RC);
}

static void
fwd_up(float *out)
{
	upsample2_forward(out, r_inp, RB, RH, RW, RC);
}

static void
fwd_concat(float *out)
{
	concat_forward(out, r_inp, r_b, RB * RH * RW, RC, 2);
}

static void
fwd_chadd(float *out)
{
	memcpy(out, r_b, RB * RH * RW * RC * sizeof(float));
	channel_add_forward(out, r_inp, RB, RH * RW, RC);
}

static void
fwd_bias(float *out)
{
	memcpy(out, r_b, RB * RH * RW * RC * sizeof(float));
	img_bias_forward(out, r_inp, RB * RH * RW, RC);
}

static void
test_plumbing(void)
{
	size_t		n = RB * RH * RW * RC;
	float	   *out = zeros(4 * n + 2 * RB * RH * RW),
			   *R = randn(4 * n + 2 * RB * RH * RW, 1.0f),
			   *d = zeros(n),
			   *d2 = zeros(n);

	r_inp = randn(n, 2.0f);
	r_b = randn(n, 1.0f);

	img_silu_backward(d, R, r_inp, n);
	ok(check_grad(fwd_silu, r_inp, d, n, out, n, R) <= 1.0, "silu dinp");
	fwd_silu(out);
	ok(fabsf(out[0] - r_inp[0] / (1.0f + expf(-r_inp[0]))) < 1e-6f, "silu is x * sigmoid(x)");

	memset(d, 0, n * sizeof(float));
	avgpool2_backward(d, R, RB, RH, RW, RC);
	ok(check_grad(fwd_pool, r_inp, d, n, out, n / 4, R) <= 1.0, "avgpool2 dinp");
	fwd_pool(out);
	ok(fabsf(out[RC + 1] - 0.25f * (r_inp[2 * RC + 1] + r_inp[3 * RC + 1] +
									r_inp[(RW + 2) * RC + 1] + r_inp[(RW + 3) * RC + 1])) < 1e-6f,
	   "avgpool2 averages a 2x2 block");

	memset(d, 0, n * sizeof(float));
	upsample2_backward(d, R, RB, RH, RW, RC);
	ok(check_grad(fwd_up, r_inp, d, n, out, 4 * n, R) <= 1.0, "upsample2 dinp");
	fwd_up(out);
	ok(out[(2 * RW * 3 + 5) * RC + 2] == r_inp[(RW * 1 + 2) * RC + 2],
	   "upsample2 copies a position into its 2x2 block");

	memset(d, 0, n * sizeof(float));
	memset(d2, 0, n * sizeof(float));
	concat_backward(d, d2, R, RB * RH * RW, RC, 2);
	ok(check_grad(fwd_concat, r_inp, d, n, out, RB * RH * RW * (RC + 2), R) <= 1.0 &&
	   check_grad(fwd_concat, r_b, d2, RB * RH * RW * 2, out, RB * RH * RW * (RC + 2), R) <= 1.0,
	   "concat da, db");

	memset(d, 0, n * sizeof(float));
	channel_add_backward(d, R, RB, RH * RW, RC);
	ok(check_grad(fwd_chadd, r_inp, d, RB * RC, out, n, R) <= 1.0, "channel_add de");

	memset(d, 0, n * sizeof(float));
	img_bias_backward(d, R, RB * RH * RW, RC);
	ok(check_grad(fwd_bias, r_inp, d, RC, out, n, R) <= 1.0, "bias db");
	memcpy(d2, d, RC * sizeof(float));
	img_bias_backward(d, R, RB * RH * RW, RC);
	ok(accumulates(d2, d, RC), "bias backward accumulates");
	free(out), free(R), free(d), free(d2), free(r_inp), free(r_b);
}

/* ---- attention over positions ---- */

enum
{
	AB = 2, AP = 5, AC = 8, ANH = 2
};
static float a_qkv[AB * AP * 3 * AC],
			a_att[AB * ANH * AP * AP];

static void
fwd_att(float *out)
{
	image_attention_forward(out, a_att, a_qkv, AB, AP, AC, ANH);
}

static void
test_attention(void)
{
	float		out[AB * AP * AC],
				R[AB * AP * AC],
				dqkv[AB * AP * 3 * AC] = {0},
				again[AB * AP * 3 * AC],
				scratch[AP];
	int			HS = AC / ANH;
	double		worst = 0.0;

	fill(a_qkv, sizeof(a_qkv) / sizeof(float), 1.0f);
	fill(R, AB * AP * AC, 1.0f);
	fwd_att(out);
	/* one output against softmax(q k / sqrt(HS)) v written out: image 1, head 1, position 3 */
	{
		const float *base = a_qkv + (size_t) AP * 3 * AC;
		double		w[AP],
					sum = 0.0;

		for (int u = 0; u < AP; u++)
		{
			double		s = 0.0;

			for (int i = 0; i < HS; i++)
				s += (double) base[3 * 3 * AC + HS + i] * base[u * 3 * AC + AC + HS + i];
			w[u] = exp(s / sqrt((double) HS));
			sum += w[u];
		}
		for (int i = 0; i < HS; i++)
		{
			double		o = 0.0;

			for (int u = 0; u < AP; u++)
				o += w[u] / sum * base[u * 3 * AC + 2 * AC + HS + i];
			worst = unit_worst(worst, fabs(o - out[(AP + 3) * AC + HS + i]));
		}
		ok(worst < 1e-5, "image attention: an output is softmax(q.k / sqrt(HS)) v (%g)", worst);
	}
	image_attention_backward(dqkv, R, a_qkv, a_att, AB, AP, AC, ANH, scratch);
	ok(check_grad(fwd_att, a_qkv, dqkv, sizeof(a_qkv) / sizeof(float), out, AB * AP * AC, R) <= 1.0,
	   "image attention dqkv");
	memcpy(again, dqkv, sizeof(again));
	image_attention_backward(dqkv, R, a_qkv, a_att, AB, AP, AC, ANH, scratch);
	ok(accumulates(again, dqkv, sizeof(again) / sizeof(float)), "image attention backward accumulates");
}

int
main(void)
{
	nn_blas_init(1);
	/* every check with the portable vector kernels, then with the CPU's own */
	for (int level = 0; level <= 2; level += 2)
	{
		nn_simd_force(level);
		if (level == 2 && nn_simd_level() == 0)
			break;
		printf("# %s\n", nn_simd_level() ? "AVX2 kernels" : "portable kernels");
		ntg_rng_seed(&rng, 7);
		test_conv(2, 4, 5, 3, 4, 3, "3x3");
		test_conv(2, 4, 4, 3, 5, 1, "1x1");
		test_conv(1, 3, 3, 2, 3, 5, "5x5");
		test_conv(9, 12, 12, 2, 3, 3, "3x3 over several chunks");
		test_conv(1, 2, 2, 3, 2, 3, "3x3 on 4 positions (the small-matrix path)");
		test_conv(2, 4, 3, 3, 16, 3, "3x3 to 16 channels (straight from the image with AVX-512)");
		test_conv(1, 3, 4, 16, 16, 3, "3x3 from 16 channels (its input gradient as a convolution too)");
		test_groupnorm();
		test_plumbing();
		test_attention();
	}
	return done_testing();
}
