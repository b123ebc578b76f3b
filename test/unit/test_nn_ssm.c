/*
 * test_nn_ssm.c — the selective state-space ops (nn/nn_ssm.h): each backward against central
 * finite differences of a random linear functional of the forward output (as test_nn.c does),
 * the forwards against naive double-precision versions of their definitions, and the scan's
 * one-token step against the packed forward (the sampler relies on getting the same bits).
 */
#include <math.h>
#include <string.h>

#include "common/rng.h"
#include "nn/nn.h"
#include "nn/nn_ssm.h"
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

static double
dot(const float *a, const float *b, size_t n)
{
	double		s = 0.0;

	for (size_t i = 0; i < n; i++)
		s += (double) a[i] * b[i];
	return s;
}

typedef void (*ForwardFn) (float *out);

/* Worst |analytic - numeric| / (1e-3 + 1e-2 max(|analytic|, |numeric|)) over x; > 1 fails. */
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
	return worst;
}

/* two packed rows of 3 and 4 tokens */
enum
{
	N_ = 7, C_ = 5, K_ = 4, E_ = 6, MAXNS_ = 16, IS_ = 11
};
static int	NS_ = 3,				/* the scan's state size: 3, then 16 (the vector kernels) */
			P_ = 2 + 2 * 3;
static const int g_start[2] = {0, 3};
static const int g_len[2] = {3, 4};
static float g_x[N_ * IS_],
			g_y[N_ * E_],
			g_w[E_ * K_],
			g_b[E_];

/* ---- elementwise ---- */

static void
fwd_softplus(float *out)
{
	softplus_forward(out, g_x, N_ * C_);
}

static void
fwd_silu(float *out)
{
	silu_forward(out, g_x, N_, C_, IS_);
}

static void
fwd_gate(float *out)
{
	silu_gate_forward(out, g_y, g_x + 1, N_, C_, IS_);
}

static void
fwd_bias(float *out)
{
	memcpy(out, g_y, N_ * C_ * sizeof(float));
	bias_forward(out, g_b, N_, C_);
}

static void
test_elementwise(void)
{
	float		out[N_ * IS_],
				R[N_ * C_],
				dx[N_ * IS_],
				dy[N_ * C_],
				db[C_];
	double		worst = 0.0;

	fill(g_x, N_ * IS_, 3.0f);
	g_x[0] = 30.0f;				/* the large and small ends of softplus */
	g_x[1] = -30.0f;
	fill(g_y, N_ * E_, 1.0f);
	fill(g_b, E_, 1.0f);
	fill(R, N_ * C_, 1.0f);

	fwd_softplus(out);
	for (int i = 0; i < N_ * C_; i++)
		worst = unit_worst(worst, fabs(out[i] - log1p(exp((double) g_x[i]))) / (1e-30 + log1p(exp((double) g_x[i]))));
	ok(worst < 1e-5, "softplus matches log(1 + exp(x)) (worst relative %.2g)", worst);
	{
		/* a sweep through the range where log1p(exp(x)) turns from exp(x) into x */
		float		xs[401],
					ys[401];

		worst = 0.0;
		for (int i = 0; i <= 400; i++)
			xs[i] = -25.0f + 0.125f * i;
		softplus_forward(ys, xs, 401);
		for (int i = 0; i <= 400; i++)
		{
			double		want = log1p(exp((double) xs[i]));

			worst = unit_worst(worst, fabs(ys[i] - want) / want);
		}
		ok(worst < 1e-6, "softplus over [-25, 25] within 1e-6 relative (worst %.2g)", worst);
	}
	memset(dx, 0, sizeof(dx));
	softplus_backward(dx, R, g_x, N_ * C_);
	ok(check_grad(fwd_softplus, g_x, dx, N_ * C_, out, N_ * C_, R) <= 1.0, "softplus dinp");

	fwd_silu(out);
	worst = 0.0;
	for (int n = 0; n < N_; n++)
		for (int i = 0; i < C_; i++)
		{
			double		x = g_x[n * IS_ + i];

			worst = unit_worst(worst, fabs(out[n * C_ + i] - x / (1.0 + exp(-x))));
		}
	ok(worst < 1e-5, "silu matches x sigmoid(x) (worst %.2g)", worst);
	memset(dx, 0, sizeof(dx));
	silu_backward(dx, R, g_x, N_, C_, IS_);
	ok(check_grad(fwd_silu, g_x, dx, N_ * IS_, out, N_ * C_, R) <= 1.0,
	   "silu dinp (strided rows; untouched columns get nothing)");

	memset(dx, 0, sizeof(dx));
	memset(dy, 0, sizeof(dy));
	silu_gate_backward(dy, dx + 1, R, g_y, g_x + 1, N_, C_, IS_);
	fwd_gate(out);
	ok(fabsf(out[8] - g_y[8] * g_x[IS_ + 4] / (1.0f + expf(-g_x[IS_ + 4]))) < 1e-5f,
	   "silu gate is y silu(z)");
	ok(check_grad(fwd_gate, g_y, dy, N_ * C_, out, N_ * C_, R) <= 1.0, "silu gate dy");
	ok(check_grad(fwd_gate, g_x, dx, N_ * IS_, out, N_ * C_, R) <= 1.0, "silu gate dz");

	memset(db, 0, sizeof(db));
	bias_backward(db, R, N_, C_);
	ok(check_grad(fwd_bias, g_b, db, C_, out, N_ * C_, R) <= 1.0, "bias db");
}

/* ---- causal depthwise convolution ---- */

static void
fwd_conv(float *out)
{
	conv1d_causal_forward(out, g_x + 2, g_w, g_b, g_start, g_len, 2, E_, K_, IS_);
}

static void
test_conv1d(void)
{
	float		out[N_ * E_],
				R[N_ * E_],
				dx[N_ * IS_],
				dw[E_ * K_],
				db[E_];
	double		worst = 0.0;

	fill(g_x, N_ * IS_, 1.0f);
	fill(g_w, E_ * K_, 0.5f);
	fill(g_b, E_, 0.5f);
	fill(R, N_ * E_, 1.0f);
	fwd_conv(out);
	for (int r = 0; r < 2; r++)
		for (int t = 0; t < g_len[r]; t++)
			for (int c = 0; c < E_; c++)
			{
				double		want = g_b[c];

				for (int k = 0; k < K_; k++)
				{
					int			src = t - (K_ - 1) + k;

					if (src >= 0)
						want += (double) g_w[c * K_ + k] * g_x[(g_start[r] + src) * IS_ + 2 + c];
				}
				worst = unit_worst(worst, fabs(out[(g_start[r] + t) * E_ + c] - want));
			}
	ok(worst < 1e-5, "conv1d forward matches the definition, no leak across rows (worst %.2g)", worst);
	memset(dx, 0, sizeof(dx));
	memset(dw, 0, sizeof(dw));
	memset(db, 0, sizeof(db));
	conv1d_causal_backward(dx + 2, dw, db, R, g_x + 2, g_w, g_start, g_len, 2, E_, K_, IS_);
	ok(check_grad(fwd_conv, g_x, dx, N_ * IS_, out, N_ * E_, R) <= 1.0, "conv1d dinp");
	ok(check_grad(fwd_conv, g_w, dw, E_ * K_, out, N_ * E_, R) <= 1.0, "conv1d dw");
	ok(check_grad(fwd_conv, g_b, db, E_, out, N_ * E_, R) <= 1.0, "conv1d db");
	{
		/* both rows stepped token by token through their windows: the forward's bits */
		float		win[2 * (K_ - 1) * E_] = {0},
					o2[2 * E_],
					x2[2 * E_];
		int			same = 1;

		fwd_conv(out);
		for (int t = 0; t < 3; t++)
		{
			for (int r = 0; r < 2; r++)
				memcpy(x2 + r * E_, g_x + (g_start[r] + t) * IS_ + 2, E_ * sizeof(float));
			conv1d_causal_step(o2, win, win, NULL, x2, g_w, g_b, 2, E_, K_, E_);
			for (int r = 0; r < 2; r++)
				same &= memcmp(o2 + r * E_, out + (g_start[r] + t) * E_, E_ * sizeof(float)) == 0;
		}
		ok(same, "conv1d one token at a time through a window gives the forward's bits");
	}
}

/* ---- selective scan ---- */

static float s_u[N_ * E_],
			s_delta[N_ * E_],
			s_A[E_ * MAXNS_],
			s_bc[N_ * (2 + 2 * MAXNS_)],
			s_D[E_],
			s_scratch[(2 * 4 + 2) * E_ * MAXNS_];

static void
fwd_scan(float *out)
{
	/* B and C start 2 columns into each bc row, as after x_proj's delta columns */
	selective_scan_forward(out, s_u, s_delta, s_A, s_bc + 2, P_, s_D, g_start, g_len, 2, E_,
						   NS_, s_scratch);
}

/* The definition in double precision. */
static double
naive_scan_worst(const float *y)
{
	double		worst = 0.0;

	for (int r = 0; r < 2; r++)
		for (int e = 0; e < E_; e++)
		{
			double		h[MAXNS_] = {0};

			for (int t = 0; t < g_len[r]; t++)
			{
				int			n = g_start[r] + t;
				double		acc = (double) s_D[e] * s_u[n * E_ + e];

				for (int s = 0; s < NS_; s++)
				{
					h[s] = exp((double) s_delta[n * E_ + e] * s_A[e * NS_ + s]) * h[s] +
						(double) s_delta[n * E_ + e] * s_bc[n * P_ + 2 + s] * s_u[n * E_ + e];
					acc += (double) s_bc[n * P_ + 2 + NS_ + s] * h[s];
				}
				worst = unit_worst(worst, fabs(acc - y[n * E_ + e]) / (1.0 + fabs(acc)));
			}
		}
	return worst;
}

static void
test_scan(int ns)
{
	float		out[N_ * E_],
				R[N_ * E_],
				du[N_ * E_],
				ddelta[N_ * E_],
				dA[E_ * MAXNS_],
				dbc[N_ * (2 + 2 * MAXNS_)],
				dD[E_],
				h[2 * E_ * MAXNS_],
				ystep[2 * E_];
	float	   *scratch;
	size_t		need;
	int			same = 1;

	NS_ = ns;
	P_ = 2 + 2 * ns;
	need = selective_scan_scratch(4, E_, NS_);
	printf("# state size %d\n", ns);
	fill(s_u, N_ * E_, 1.0f);
	for (int i = 0; i < N_ * E_; i++)
		s_delta[i] = 0.05f + (float) ntg_rng_double(&rng);
	for (int i = 0; i < E_ * NS_; i++)
		s_A[i] = -(float) (0.2 + 2.0 * ntg_rng_double(&rng));
	fill(s_bc, N_ * P_, 1.0f);
	fill(s_D, E_, 1.0f);
	fill(R, N_ * E_, 1.0f);
	fwd_scan(out);
	ok(naive_scan_worst(out) < 1e-5, "scan forward matches the recurrence in double (worst %.2g, "
	   "state %d)", naive_scan_worst(out), ns);

	ok(need <= sizeof(s_scratch) / sizeof(float), "scratch size for rows of 4 tokens");
	scratch = s_scratch;
	memset(du, 0, sizeof(du));
	memset(ddelta, 0, sizeof(ddelta));
	memset(dA, 0, sizeof(dA));
	memset(dbc, 0, sizeof(dbc));
	memset(dD, 0, sizeof(dD));
	selective_scan_backward(du, ddelta, dA, dbc + 2, dD, R, s_u, s_delta, s_A, s_bc + 2, P_, s_D,
							g_start, g_len, 2, E_, NS_, scratch);
	ok(check_grad(fwd_scan, s_u, du, N_ * E_, out, N_ * E_, R) <= 1.0, "scan du");
	ok(check_grad(fwd_scan, s_delta, ddelta, N_ * E_, out, N_ * E_, R) <= 1.0, "scan ddelta");
	ok(check_grad(fwd_scan, s_A, dA, E_ * NS_, out, N_ * E_, R) <= 1.0, "scan dA");
	ok(check_grad(fwd_scan, s_bc, dbc, N_ * P_, out, N_ * E_, R) <= 1.0,
	   "scan dB and dC (the delta columns of the rows get nothing)");
	ok(check_grad(fwd_scan, s_D, dD, E_, out, N_ * E_, R) <= 1.0, "scan dD");
	ok(dbc[0] == 0.0f && dbc[1] == 0.0f && dbc[P_] == 0.0f, "columns outside B and C untouched");

	/* the two rows stepped together, one token at a time, give the forward's bits */
	fwd_scan(out);
	memset(h, 0, sizeof(h));
	for (int t = 0; t < 3; t++)
	{
		float		u2[2 * E_],
					d2[2 * E_],
					bc2[2 * (2 + 2 * MAXNS_)];

		for (int r = 0; r < 2; r++)
		{
			int			n = g_start[r] + t;

			memcpy(u2 + r * E_, s_u + n * E_, E_ * sizeof(float));
			memcpy(d2 + r * E_, s_delta + n * E_, E_ * sizeof(float));
			memcpy(bc2 + r * P_, s_bc + n * P_, P_ * sizeof(float));
		}
		selective_scan_step(ystep, h, h, NULL, u2, d2, s_A, bc2 + 2, P_, s_D, 2, E_, NS_, scratch);
		for (int r = 0; r < 2; r++)
			same &= memcmp(ystep + r * E_, out + (g_start[r] + t) * E_, E_ * sizeof(float)) == 0;
	}
	ok(same, "the one-token step over two states gives the packed forward's bits");
}

/*
 * A fork without copies (the sampler's nodes continue their parents' states): one step from
 * parents' states in another buffer, through parent[], gives the bits of copying each parent's
 * state to its child and stepping in place, and leaves the parents' states as they were.  At the
 * plain loops and at the CPU's vector level; convolution widths 3 and 4, state sizes 3 and 16.
 */
static int
forked_step_same_bits(int K, int NS)
{
	enum
	{
		FU = 3, FC = 4, FE = 37
	};
	static const int parent[FC] = {2, 0, 0, 1};
	static float in[FC * FE],
				w[FE * 4],
				b[FE],
				A[FE * 16],
				u[FC * FE],
				d[FC * FE],
				bc[FC * 2 * 16],
				D[FE],
				scratch[FE * 16];
	static float win_prev[FU * 3 * FE],
				win_kept[FU * 3 * FE],
				win[2][FC * 3 * FE],
				out[2][FC * FE],
				h_prev[FU * FE * 16],
				h_kept[FU * FE * 16],
				h[2][FC * FE * 16],
				y[2][FC * FE];
	size_t		wl = (size_t) (K - 1) * FE,
				hl = (size_t) FE * NS;

	fill(in, FC * FE, 1.0f);
	fill(w, (size_t) FE * K, 0.7f);
	fill(b, FE, 0.5f);
	fill(win_prev, FU * wl, 1.0f);
	memcpy(win_kept, win_prev, sizeof(win_prev));
	for (int i = 0; i < FE * NS; i++)
		A[i] = -(float) (0.1 + 10.0 * ntg_rng_double(&rng));
	fill(u, FC * FE, 1.0f);
	for (int i = 0; i < FC * FE; i++)
		d[i] = 0.01f + (float) ntg_rng_double(&rng);
	fill(bc, FC * 2 * NS, 1.0f);
	fill(D, FE, 1.0f);
	fill(h_prev, FU * hl, 1.0f);
	memcpy(h_kept, h_prev, sizeof(h_prev));
	/* copied, then in place */
	for (int c = 0; c < FC; c++)
	{
		memcpy(win[0] + c * wl, win_prev + parent[c] * wl, wl * sizeof(float));
		memcpy(h[0] + c * hl, h_prev + parent[c] * hl, hl * sizeof(float));
	}
	conv1d_causal_step(out[0], win[0], win[0], NULL, in, w, b, FC, FE, K, FE);
	selective_scan_step(y[0], h[0], h[0], NULL, u, d, A, bc, 2 * NS, D, FC, FE, NS, scratch);
	/* forked */
	conv1d_causal_step(out[1], win[1], win_prev, parent, in, w, b, FC, FE, K, FE);
	selective_scan_step(y[1], h[1], h_prev, parent, u, d, A, bc, 2 * NS, D, FC, FE, NS,
						scratch);
	return memcmp(out[0], out[1], FC * FE * sizeof(float)) == 0 &&
		memcmp(win[0], win[1], FC * wl * sizeof(float)) == 0 &&
		memcmp(y[0], y[1], FC * FE * sizeof(float)) == 0 &&
		memcmp(h[0], h[1], FC * hl * sizeof(float)) == 0 &&
		memcmp(win_prev, win_kept, sizeof(win_prev)) == 0 &&
		memcmp(h_prev, h_kept, sizeof(h_prev)) == 0;
}

static void
test_forked_steps(void)
{
	int			level = nn_simd_level();

	for (int vec = 0; vec < 2; vec++)
	{
		int			same = 1;

		if (vec && level < 2)
		{
			skip(1, "no AVX2+FMA on this CPU");
			continue;
		}
		nn_simd_force(vec ? level : 0);
		for (int K = 3; K <= 4; K++)
			same &= forked_step_same_bits(K, 3) && forked_step_same_bits(K, 16);
		ok(same, "a forked step (%s) reads the parents' states in place of copies: the copies' "
		   "bits, parents untouched", vec ? "vector kernels" : "plain loops");
	}
	nn_simd_force(level);
}

/* ---- the vector scan's channel blocks ---- */

enum
{
	BE = 21, BNS = 16, BN = 5			/* 21 channels: two blocks of 8 and 5 left */
};

/* Channel e of a [BN, BE] token-major array as a [BN] one. */
static void
channel_of(float *dst, const float *src, int e)
{
	for (int n = 0; n < BN; n++)
		dst[n] = src[n * BE + e];
}

/* The scan over all 21 channels at once against each channel alone (E = 1, no block), bit for
 * bit: the step (y and states), the packed forward and the per-channel gradients of backward
 * (its recomputed a_t and h_t come from the same kernel). */
static int
scan_blocks_same_bits(void)
{
	static const int start[2] = {0, 3},
				len[2] = {3, 2};
	float		u[BN * BE],
				d[BN * BE],
				A[BE * BNS],
				bc[BN * 2 * BNS],
				D[BE],
				dy[BN * BE],
				h[2][BN * BE * BNS],
				y[BN * BE],
				yf[BN * BE],
				du[BN * BE] = {0},
				dd[BN * BE] = {0},
				dA[BE * BNS] = {0},
				dbc[BN * 2 * BNS] = {0},
				dD[BE] = {0},
				scratch[(2 * 3 + 2) * BE * BNS];
	int			same = 1;

	fill(u, BN * BE, 1.0f);
	for (int i = 0; i < BN * BE; i++)
		d[i] = 0.01f + (float) ntg_rng_double(&rng);
	for (int i = 0; i < BE * BNS; i++)
		A[i] = -(float) (0.1 + 10.0 * ntg_rng_double(&rng));
	fill(bc, BN * 2 * BNS, 1.0f);
	fill(D, BE, 1.0f);
	fill(dy, BN * BE, 1.0f);
	fill(h[0], BN * BE * BNS, 1.0f);
	memcpy(h[1], h[0], sizeof(h[0]));
	selective_scan_step(y, h[0], h[0], NULL, u, d, A, bc, 2 * BNS, D, BN, BE, BNS, scratch);
	selective_scan_forward(yf, u, d, A, bc, 2 * BNS, D, start, len, 2, BE, BNS, scratch);
	selective_scan_backward(du, dd, dA, dbc, dD, dy, u, d, A, bc, 2 * BNS, D, start, len, 2, BE,
							BNS, scratch);
	for (int e = 0; e < BE; e++)
	{
		float		ue[BN],
					de[BN],
					dye[BN],
					he[BN * BNS],
					ye[BN],
					yfe[BN],
					due[BN] = {0},
					dde[BN] = {0},
					dAe[BNS] = {0},
					dbce[BN * 2 * BNS] = {0},
					dDe = 0;

		channel_of(ue, u, e);
		channel_of(de, d, e);
		channel_of(dye, dy, e);
		for (int n = 0; n < BN; n++)
			memcpy(he + n * BNS, h[1] + ((size_t) n * BE + e) * BNS, BNS * sizeof(float));
		selective_scan_step(ye, he, he, NULL, ue, de, A + e * BNS, bc, 2 * BNS, D + e, BN, 1, BNS,
							scratch);
		selective_scan_forward(yfe, ue, de, A + e * BNS, bc, 2 * BNS, D + e, start, len, 2, 1, BNS,
							   scratch);
		selective_scan_backward(due, dde, dAe, dbce, &dDe, dye, ue, de, A + e * BNS, bc, 2 * BNS,
								D + e, start, len, 2, 1, BNS, scratch);
		for (int n = 0; n < BN; n++)
		{
			same &= memcmp(he + n * BNS, h[0] + ((size_t) n * BE + e) * BNS,
						   BNS * sizeof(float)) == 0;
			same &= ye[n] == y[n * BE + e] && yfe[n] == yf[n * BE + e];
			same &= due[n] == du[n * BE + e] && dde[n] == dd[n * BE + e];
		}
		same &= memcmp(dAe, dA + e * BNS, sizeof(dAe)) == 0 && dDe == dD[e];
	}
	return same;
}

static void
test_scan_blocks(void)
{
	int			level = nn_simd_level();

	for (int vec = 0; vec < 2; vec++)
	{
		if (vec && level < 2)
		{
			skip(1, "no AVX2+FMA on this CPU");
			continue;
		}
		nn_simd_force(vec ? level : 0);
		ok(scan_blocks_same_bits(), "scan (%s): 21 channels at once and one at a time give the "
		   "same bits (step, forward and backward)", vec ? "vector kernels" : "plain loops");
	}
	nn_simd_force(level);
}

/* ---- AVX-512 forms against the AVX2 kernels ---- */

/* Softplus and SiLU over n floats, with special values among the random ones: bits of out. */
static void
elementwise_bits(float *sp, float *si, const float *x, int n)
{
	softplus_forward(sp, x, (size_t) n);
	silu_forward(si, x, 1, n, n);
}

/* conv1d_causal_step over 3 tokens of 3 rows (inputs 7 floats apart from their row's end) with
 * the vector kernel (wide: AVX-512, else AVX2) and with the plain loop: 1 when the outputs and the
 * windows are the same bits. */
static int
conv_step_same_bits(int wide)
{
	enum
	{
		CU = 3, CMAX = 144, CPAD = 7
	};
	static const int channels[] = {5, 16, 37, 48, 144};
	static float in[CU * (CMAX + CPAD)],
				w[CMAX * 4],
				b[CMAX],
				win[2][CU * 3 * CMAX],
				out[2][CU * CMAX];
	int			same = 1;

	for (int ci = 0; ci < (int) (sizeof(channels) / sizeof(channels[0])); ci++)
		for (int K = 3; K <= 4; K++)
		{
			int			C = channels[ci];

			fill(w, (size_t) C * K, 0.7f);
			fill(b, C, 0.5f);
			fill(win[0], (size_t) CU * (K - 1) * C, 1.0f);
			memcpy(win[1], win[0], sizeof(win[0]));
			for (int t = 0; t < 3; t++)
			{
				fill(in, CU * (CMAX + CPAD), 1.0f);
				for (int vec = 0; vec < 2; vec++)
				{
					nn_simd_force(vec ? 2 : 0);
					nn_simd_force_avx512(wide);
					conv1d_causal_step(out[vec], win[vec], win[vec], NULL, in, w, b, CU, C, K, C + CPAD);
				}
				same &= memcmp(out[0], out[1], (size_t) CU * C * sizeof(float)) == 0 &&
					memcmp(win[0], win[1], (size_t) CU * (K - 1) * C * sizeof(float)) == 0;
			}
		}
	return same;
}

/*
 * The sampler's forward ops give the same bits with the 16-lane AVX-512 kernels as with the 8-lane
 * AVX2 ones (rows drawn from a seed must not depend on which the CPU has), at every length around
 * the vector widths and for state sizes that take the wide scan (16, 32) or not (8, 24).
 */
static void
test_avx512_bits(void)
{
	enum
	{
		MAXN = 53, SE = 5, SNS = 32, SU = 3
	};
	static const float special[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 88.0f, -88.0f, 100.0f,
		-100.0f, 1e-8f, -17.0f, INFINITY, -INFINITY};
	float		x[MAXN],
				sp[2][MAXN],
				si[2][MAXN];
	int			same_sp = 1,
				same_si = 1,
				same_scan = 1;

	if (nn_simd_level() < 2 || !nn_simd_avx512())
	{
		skip(4, "no AVX-512F on this CPU: the 16-lane kernels do not run");
		return;
	}
	for (int n = 1; n <= MAXN; n++)
	{
		fill(x, n, 4.0f);
		for (int i = 0; i < n; i += 3)
			x[i] = special[(i / 3 + n) % (int) (sizeof(special) / sizeof(special[0]))];
		for (int wide = 0; wide < 2; wide++)
		{
			nn_simd_force_avx512(wide);
			elementwise_bits(sp[wide], si[wide], x, n);
		}
		same_sp &= memcmp(sp[0], sp[1], n * sizeof(float)) == 0;
		same_si &= memcmp(si[0], si[1], n * sizeof(float)) == 0;
	}
	ok(same_sp, "softplus: AVX-512 and AVX2 kernels give the same bits, lengths 1..%d", MAXN);
	ok(same_si, "silu: AVX-512 and AVX2 kernels give the same bits, lengths 1..%d", MAXN);

	for (int ns = 8; ns <= SNS; ns += 8)
	{
		int			P = 2 * ns;
		float		u[SU * SE],
					d[SU * SE],
					A[SE * SNS],
					bc[SU * 2 * SNS],
					D[SE],
					h[2][SU * SE * SNS],
					y[2][SU * SE],
					scratch[SU * SE * SNS];

		fill(u, SU * SE, 1.0f);
		for (int i = 0; i < SU * SE; i++)
			d[i] = 0.01f + 2.0f * (float) ntg_rng_double(&rng);
		for (int i = 0; i < SE * ns; i++)
			A[i] = -(float) (0.1 + 30.0 * ntg_rng_double(&rng));
		fill(bc, SU * P, 1.0f);
		fill(D, SE, 1.0f);
		fill(h[0], SU * SE * ns, 1.0f);
		memcpy(h[1], h[0], sizeof(h[0]));
		for (int wide = 0; wide < 2; wide++)
		{
			nn_simd_force_avx512(wide);
			for (int t = 0; t < 3; t++)
				selective_scan_step(y[wide], h[wide], h[wide], NULL, u, d, A, bc, P, D, SU, SE, ns,
									scratch);
		}
		same_scan &= memcmp(y[0], y[1], sizeof(y[0])) == 0 &&
			memcmp(h[0], h[1], SU * SE * ns * sizeof(float)) == 0;
	}
	ok(same_scan, "scan step: AVX-512 and AVX2 kernels give the same outputs and states, "
	   "state sizes 8, 16, 24, 32");
	ok(conv_step_same_bits(1), "conv1d step: the AVX-512 width-4 kernel gives the plain loop's "
	   "outputs and windows, channels 5, 16, 37, 48, 144, widths 3 and 4");
	nn_simd_force_avx512(1);
	nn_simd_force(2);
}

/* The AVX2 width-4 convolution step against the plain loop, bit for bit. */
static void
test_conv_step_avx2(void)
{
	if (nn_simd_level() < 2)
	{
		skip(1, "no AVX2+FMA on this CPU");
		return;
	}
	ok(conv_step_same_bits(0), "conv1d step: the AVX2 width-4 kernel gives the plain loop's "
	   "outputs and windows, channels 5, 16, 37, 48, 144, widths 3 and 4");
	nn_simd_force_avx512(1);
	nn_simd_force(2);
}

int
main(void)
{
	ntg_rng_seed(&rng, 2024);
	test_elementwise();
	test_conv1d();
	test_scan(3);
	test_scan(16);
	test_forked_steps();
	test_scan_blocks();
	test_conv_step_avx2();
	test_avx512_bits();
	return done_testing();
}
