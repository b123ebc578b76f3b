/*
 * test_nn_vae.c — the ops of nn_vae.h (bias, ReLU, the reparameterised Gaussian draw, the KL
 * divergence from N(0, I)): values against their closed forms, and every backward against central
 * finite differences of a random linear functional of the op's output (as test_nn.c does: with
 * L = sum(out * R), the analytic gradient is the backward pass with dout = R; a check passes when
 * |analytic - numeric| <= 1e-3 + 1e-2 * max(|analytic|, |numeric|)), and that backward adds to
 * what its gradient buffers held.
 */
#include <math.h>
#include <string.h>

#include "common/rng.h"
#include "nn/nn.h"
#include "nn/nn_vae.h"
#include "unit.h"

#define H_STEP 1e-3f

enum
{
	N_ = 4, OC_ = 5, Z_ = 3
};

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
		worst = unit_worst(worst, fabs(num - g[i]) / tol);
	}
	return worst;
}

/* ---- bias ---- */
static float b_x[N_ * OC_],
			b_b[OC_];

static void
bias_fwd(float *out)
{
	memcpy(out, b_x, sizeof(b_x));
	bias_forward(out, b_b, N_, OC_);
}

static void
test_bias(void)
{
	float		out[N_ * OC_],
				R[N_ * OC_],
				db[OC_],
				want = 0.0f;

	fill(b_x, N_ * OC_, 1.0f);
	fill(b_b, OC_, 1.0f);
	fill(R, N_ * OC_, 1.0f);
	bias_fwd(out);
	ok(out[2 * OC_ + 3] == b_x[2 * OC_ + 3] + b_b[3], "bias_forward adds b to every row");
	for (int i = 0; i < OC_; i++)
		db[i] = 1.0f;
	bias_backward(db, R, N_, OC_);
	for (int n = 0; n < N_; n++)
		want += R[n * OC_ + 1];
	is_double(db[1], 1.0 + want, 1e-5, "bias_backward adds the column sums to db");
	for (int i = 0; i < OC_; i++)
		db[i] = 0.0f;
	bias_backward(db, R, N_, OC_);
	ok(check_grad(bias_fwd, b_b, db, OC_, out, N_ * OC_, R) <= 1.0, "bias gradient");
}

/* ---- relu ---- */
static float r_x[N_ * OC_];

static void
relu_fwd(float *out)
{
	relu_forward(out, r_x, N_ * OC_);
}

static void
test_relu(void)
{
	float		out[N_ * OC_],
				R[N_ * OC_],
				dx[N_ * OC_];
	int			zeros = 1;

	fill(r_x, N_ * OC_, 1.0f);
	for (int i = 0; i < N_ * OC_; i++)		/* keep inputs away from the kink at 0 */
		r_x[i] += r_x[i] > 0 ? 0.05f : -0.05f;
	fill(R, N_ * OC_, 1.0f);
	relu_fwd(out);
	for (int i = 0; i < N_ * OC_; i++)
		zeros &= out[i] == (r_x[i] > 0 ? r_x[i] : 0.0f);
	ok(zeros, "relu_forward is max(x, 0)");
	for (int i = 0; i < N_ * OC_; i++)
		dx[i] = 0.5f;
	relu_backward(dx, R, out, N_ * OC_);
	ok(dx[0] == 0.5f + (r_x[0] > 0 ? R[0] : 0.0f), "relu_backward accumulates where the output is positive");
	memset(dx, 0, sizeof(dx));
	relu_backward(dx, R, out, N_ * OC_);
	ok(check_grad(relu_fwd, r_x, dx, N_ * OC_, out, N_ * OC_, R) <= 1.0, "relu gradient");
	relu_fwd(out);
	relu_forward(r_x, r_x, N_ * OC_);
	ok(memcmp(r_x, out, sizeof(out)) == 0, "relu_forward works in place");
}

/* ---- reparameterisation and KL ---- */
static float v_ml[N_ * 2 * Z_],
			v_eps[N_ * Z_];

static void
reparam_fwd(float *out)
{
	reparam_forward(out, v_ml, v_eps, N_, Z_);
}

static void
kl_fwd(float *out)
{
	gauss_kl_forward(out, v_ml, N_, Z_);
}

static void
test_latent(void)
{
	float		z[N_ * Z_],
				R[N_ * Z_],
				dml[N_ * 2 * Z_],
				kl[N_],
				Rk[N_];
	float		ml1[2 * Z_] = {0, 0, 0, 0, 0, 0},
				ml2[2 * Z_] = {1, -2, 0.5f, 0, logf(4.0f), -1};
	double		total;

	fill(v_ml, N_ * 2 * Z_, 0.7f);
	fill(v_eps, N_ * Z_, 1.0f);
	fill(R, N_ * Z_, 1.0f);
	reparam_fwd(z);
	is_double(z[Z_ + 1], v_ml[2 * Z_ + 1] + expf(0.5f * v_ml[2 * Z_ + Z_ + 1]) * v_eps[Z_ + 1],
			  1e-6, "z = mu + exp(logvar / 2) eps (row 1, unit 1)");
	for (int i = 0; i < N_ * 2 * Z_; i++)
		dml[i] = 0.25f;
	reparam_backward(dml, R, v_ml, v_eps, N_, Z_);
	ok(dml[0] == 0.25f + R[0], "reparam_backward accumulates into dmu");
	memset(dml, 0, sizeof(dml));
	reparam_backward(dml, R, v_ml, v_eps, N_, Z_);
	ok(check_grad(reparam_fwd, v_ml, dml, N_ * 2 * Z_, z, N_ * Z_, R) <= 1.0,
	   "reparameterisation gradient (mu and logvar)");

	/* KL: 0 at the prior; 1/2 (1 + 4 + 1/4 + (1 - 1 - 0) + (4 - 1 - log 4) + (e^-1 - 1 + 1)) */
	gauss_kl_forward(kl, ml1, 1, Z_);
	is_double(kl[0], 0.0, 1e-7, "KL of N(0, I) from itself is 0");
	total = gauss_kl_forward(kl, ml2, 1, Z_);
	is_double(kl[0], 0.5 * (1 + 4 + 0.25 + 0 + (4 - 1 - log(4.0)) + exp(-1.0)), 1e-6,
			  "KL of a known Gaussian in closed form");
	is_double(total, kl[0], 1e-6, "gauss_kl_forward returns the sum over the rows");
	fill(Rk, N_, 1.0f);
	memset(dml, 0, sizeof(dml));
	for (int n = 0; n < N_; n++)	/* d(sum_n R_n kl_n): scale per row, so one row at a time */
		gauss_kl_backward(dml + n * 2 * Z_, v_ml + n * 2 * Z_, 1, Z_, Rk[n]);
	ok(check_grad(kl_fwd, v_ml, dml, N_ * 2 * Z_, kl, N_, Rk) <= 1.0, "KL gradient (mu and logvar)");
	for (int i = 0; i < 2 * Z_; i++)
		dml[i] = 1.0f;
	gauss_kl_backward(dml, ml2, 1, Z_, 2.0f);
	ok(fabs(dml[0] - (1.0f + 2.0f * 1.0f)) < 1e-6 && fabs(dml[Z_ + 1] - (1.0f + 2.0f * 0.5f * 3.0f)) < 1e-5,
	   "gauss_kl_backward accumulates scale * mu and scale * (exp(logvar) - 1) / 2");
}

int
main(void)
{
	ntg_rng_seed(&rng, 2024);
	test_bias();
	test_relu();
	test_latent();
	return done_testing();
}
