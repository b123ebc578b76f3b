/*
 * test_nn.c — the neural-network core: every layer's backward against central finite
 * differences of a random linear functional of its output, the optimizer against a hand-written
 * AdamW step, the schedule and the clipping.
 *
 * Gradient checks: with loss L = sum(out * R) (R random), the analytic gradient is the backward
 * pass with dout = R.  The numerical one perturbs each input by +-h in float and evaluates L in
 * double; a check passes when |analytic - numeric| <= 1e-3 + 1e-2 * max(|analytic|, |numeric|).
 */
#include <math.h>
#include <string.h>

#include "common/rng.h"
#include "nn/nn.h"
#include "nn/nn_simd.h"
#include "nn/nn_vae.h"
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

/* Forward of the op under test into out (reads the globals it closes over). */
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
	return worst;
}

/* ---- rmsnorm ---- */
enum
{
	N_ = 5, C_ = 8, OC_ = 6, NH_ = 2, H_ = 19, V_ = 9
};
static float g_inp[64 * 3 * C_],
			g_w[3 * C_ * 3 * C_],
			g_rstd[64];

static void
fwd_rmsnorm(float *out)
{
	rmsnorm_forward(out, g_rstd, g_inp, g_w, N_, C_, 1e-5f);
}

static void
test_rmsnorm(void)
{
	float		out[N_ * C_],
				R[N_ * C_],
				dinp[N_ * C_] = {0},
				dw[C_] = {0};

	fill(g_inp, N_ * C_, 1.0f);
	fill(g_w, C_, 1.0f);
	fill(R, N_ * C_, 1.0f);
	fwd_rmsnorm(out);
	rmsnorm_backward(dinp, dw, R, g_inp, g_w, g_rstd, N_, C_);
	ok(check_grad(fwd_rmsnorm, g_inp, dinp, N_ * C_, out, N_ * C_, R) <= 1.0, "rmsnorm dinp");
	ok(check_grad(fwd_rmsnorm, g_w, dw, C_, out, N_ * C_, R) <= 1.0, "rmsnorm dw");
	{
		float		again[N_ * C_];

		/* accumulation: a second backward adds the same gradient again */
		memcpy(again, dinp, sizeof(again));
		rmsnorm_backward(dinp, dw, R, g_inp, g_w, g_rstd, N_, C_);
		ok(fabsf(dinp[3] - 2 * again[3]) < 1e-5f, "rmsnorm backward accumulates");
	}
}

/* ---- linear ---- */
static int	lin_n = N_;

static void
fwd_linear(float *out)
{
	linear_forward(out, g_inp, g_w, lin_n, C_, OC_);
}

static void
test_linear(void)
{
	float		out[N_ * OC_],
				R[N_ * OC_],
				dinp[N_ * C_] = {0},
				dw[OC_ * C_] = {0};
	double		worst = 0.0;

	for (lin_n = 1; lin_n <= N_; lin_n += N_ - 1)	/* N = 1 takes the matvec path */
	{
		fill(g_inp, N_ * C_, 1.0f);
		fill(g_w, OC_ * C_, 1.0f);
		fwd_linear(out);
		worst = 0.0;
		for (int n = 0; n < lin_n; n++)
			for (int o = 0; o < OC_; o++)
			{
				double		want = dot(g_inp + n * C_, g_w + o * C_, C_);

				worst = unit_worst(worst, fabs(want - out[n * OC_ + o]));
			}
		ok(worst < 1e-5, "linear forward matches the naive product (N=%d)", lin_n);
	}
	lin_n = N_;
	fill(R, N_ * OC_, 1.0f);
	linear_backward(dinp, dw, R, g_inp, g_w, N_, C_, OC_);
	ok(check_grad(fwd_linear, g_inp, dinp, N_ * C_, out, N_ * OC_, R) <= 1.0, "linear dinp");
	ok(check_grad(fwd_linear, g_w, dw, OC_ * C_, out, N_ * OC_, R) <= 1.0, "linear dw");
}

/* ---- embedding ---- */
static int32_t g_tok[N_] = {3, 0, 3, 8, 1};

static void
fwd_embedding(float *out)
{
	embedding_forward(out, g_tok, g_w, N_, C_);
}

static void
test_embedding(void)
{
	float		out[N_ * C_],
				R[N_ * C_],
				dw[V_ * C_] = {0};

	fill(g_w, V_ * C_, 1.0f);
	fill(R, N_ * C_, 1.0f);
	embedding_backward(dw, R, g_tok, N_, C_);
	ok(check_grad(fwd_embedding, g_w, dw, V_ * C_, out, N_ * C_, R) <= 1.0,
	   "embedding dwte (a repeated token sums)");
}

/* ---- swiglu ---- */
static void
fwd_swiglu(float *out)
{
	swiglu_forward(out, g_inp, N_, H_);
}

static void
test_swiglu(void)
{
	float		out[N_ * H_],
				R[N_ * H_],
				d[N_ * 2 * H_] = {0};

	fill(g_inp, N_ * 2 * H_, 2.0f);
	fill(R, N_ * H_, 1.0f);
	swiglu_backward(d, R, g_inp, N_, H_);
	ok(check_grad(fwd_swiglu, g_inp, d, N_ * 2 * H_, out, N_ * H_, R) <= 1.0, "swiglu dh13");
}

/* ---- rope ---- */
static float g_cs[16 * C_];
static int	g_pos[N_] = {0, 1, 2, 0, 5};

static void
fwd_rope(float *out)
{
	memcpy(out, g_inp, N_ * 3 * C_ * sizeof(float));
	rope_forward(out, g_pos, g_cs, N_, NH_, C_ / NH_, 3 * C_);
}

static void
test_rope(void)
{
	float		out[N_ * 3 * C_],
				R[N_ * 3 * C_],
				d[N_ * 3 * C_];
	double		n0 = 0.0,
				n1 = 0.0;

	rope_table(g_cs, 16, C_ / NH_, 10000.0);
	fill(g_inp, N_ * 3 * C_, 1.0f);
	fill(R, N_ * 3 * C_, 1.0f);
	fwd_rope(out);
	for (int i = 0; i < C_; i++)
	{
		n0 += (double) g_inp[4 * 3 * C_ + i] * g_inp[4 * 3 * C_ + i];
		n1 += (double) out[4 * 3 * C_ + i] * out[4 * 3 * C_ + i];
	}
	ok(fabs(n0 - n1) < 1e-4 && out[3 * C_ * 4] != g_inp[3 * C_ * 4], "rope rotates, keeping norms");
	ok(memcmp(out, g_inp, C_ * sizeof(float)) == 0, "rope at position 0 is the identity");
	/* gradient: the rotation is linear, dL/dx = R^T dL/dout */
	memcpy(d, R, sizeof(d));
	rope_backward(d, g_pos, g_cs, N_, NH_, C_ / NH_, 3 * C_);
	ok(check_grad(fwd_rope, g_inp, d, N_ * 3 * C_, out, N_ * 3 * C_, R) <= 1.0, "rope dx");
}

/* ---- attention ---- */
static int	a_start[2] = {0, 3};
static int	a_len[2] = {3, 4};
static size_t a_off[2];
static float g_att[2 * NH_ * 16];

static void
fwd_attention(float *out)
{
	attention_forward(out, g_att, g_inp, a_start, a_len, a_off, 2, C_, NH_);
}

static void
test_attention(void)
{
	enum
	{
		NA = 7
	};
	float		out[NA * C_],
				R[NA * C_],
				d[NA * 3 * C_] = {0},
				scratch[8];
	float		out2[NA * C_];

	ok(attention_offsets(a_off, a_len, 2, NH_) == (size_t) NH_ * (9 + 16), "attention offsets");
	fill(g_inp, NA * 3 * C_, 1.0f);
	fill(R, NA * C_, 1.0f);
	fwd_attention(out);
	attention_backward(d, R, g_inp, g_att, a_start, a_len, a_off, 2, C_, NH_, scratch);
	ok(check_grad(fwd_attention, g_inp, d, NA * 3 * C_, out, NA * C_, R) <= 1.0,
	   "attention dqkv (two packed sequences, two heads)");
	/* causality and isolation: changing the last row of sequence 0 changes no other output */
	fwd_attention(out);
	memcpy(out2, out, sizeof(out));
	g_inp[2 * 3 * C_ + C_] += 1.0f;	/* key of row 2 */
	g_inp[2 * 3 * C_ + 2 * C_] += 1.0f;	/* value of row 2 */
	fwd_attention(out);
	ok(memcmp(out, out2, 2 * C_ * sizeof(float)) == 0 &&
	   memcmp(out + 3 * C_, out2 + 3 * C_, 4 * C_ * sizeof(float)) == 0 &&
	   memcmp(out + 2 * C_, out2 + 2 * C_, C_ * sizeof(float)) != 0,
	   "attention is causal and does not cross sequences");
}

/* ---- cross-entropy ---- */
static int32_t ce_targets[N_] = {2, -1, 0, 8, 4};
static float g_probs[N_ * V_];

static void
test_crossentropy(void)
{
	float		logits[N_ * V_],
				d[N_ * V_];
	int			count;
	double		loss,
				worst = 0.0;

	fill(g_inp, N_ * V_, 2.0f);
	memcpy(logits, g_inp, sizeof(logits));
	loss = crossentropy_forward(logits, ce_targets, N_, V_, &count);
	is_int(count, 4, "cross-entropy ignores negative targets");
	{
		double		want = 0.0;

		for (int n = 0; n < N_; n++)
		{
			double		s = 0.0;

			if (ce_targets[n] < 0)
				continue;
			for (int i = 0; i < V_; i++)
				s += exp(g_inp[n * V_ + i]);
			want += log(s) - g_inp[n * V_ + ce_targets[n]];
		}
		is_double(loss, want, 1e-4, "cross-entropy value");
	}
	memcpy(g_probs, logits, sizeof(logits));
	crossentropy_backward(d, g_probs, ce_targets, N_, V_, 1.0f);
	for (size_t i = 0; i < N_ * V_; i++)
	{
		float		keep = g_inp[i];
		double		lp,
					lm,
					num;

		memcpy(logits, g_inp, sizeof(logits));
		logits[i] = keep + H_STEP;
		lp = crossentropy_forward(logits, ce_targets, N_, V_, &count);
		memcpy(logits, g_inp, sizeof(logits));
		logits[i] = keep - H_STEP;
		lm = crossentropy_forward(logits, ce_targets, N_, V_, &count);
		num = (lp - lm) / (2 * H_STEP);
		worst = unit_worst(worst, fabs(num - d[i]) / (1e-3 + 1e-2 * fabs(num)));
	}
	ok(worst <= 1.0, "cross-entropy dlogits");
	ok(d[1 * V_ + 3] == 0.0f, "ignored rows get no gradient");
}

/* ---- optimizer ---- */
static void
test_adamw(void)
{
	NnParams	p = {0};
	NnAdamW		opt = {0};
	int			a = nn_params_declare(&p, "w", 2, 2, 3, 1);
	int			b = nn_params_declare(&p, "norm", 1, 4, 0, 0);
	float		w0[10],
				g0[10];
	double		lr = 0.1,
				wd = 0.5,
				b1 = 0.9,
				b2 = 0.99,
				eps = 1e-8;
	double		worst = 0.0;

	ok(a == 0 && b == 1 && p.count == 10 && p.tensors[1].offset == 6, "parameter layout");
	ok(nn_params_alloc(&p, 1) == NTG_OK, "alloc parameters");
	fill(p.data, 10, 1.0f);
	fill(p.grad, 10, 1.0f);
	memcpy(w0, p.data, sizeof(w0));
	memcpy(g0, p.grad, sizeof(g0));
	opt.lr = lr, opt.beta1 = b1, opt.beta2 = b2, opt.eps = eps, opt.weight_decay = wd;
	nn_adamw_step(&opt, &p);
	for (int i = 0; i < 10; i++)
	{
		double		g = g0[i];
		double		m = (1 - b1) * g / (1 - b1),
					v = (1 - b2) * g * g / (1 - b2);
		double		want = w0[i] - lr * (m / (sqrt(v) + eps)) - (i < 6 ? lr * wd * w0[i] : 0.0);

		worst = unit_worst(worst, fabs(want - p.data[i]));
	}
	ok(worst < 1e-6, "AdamW step matches the formula (decay only on matrices)");
	is_int(opt.step, 1, "step counter");
	ok(p.grad_clean && p.grad[0] == 0.0f && p.grad[9] == 0.0f, "the step leaves the gradient zeroed");

	/* clipping: a huge gradient is scaled to the clip norm, so the first step is the same */
	memcpy(p.data, w0, sizeof(w0));
	memset(p.m, 0, 10 * sizeof(float));
	memset(p.v, 0, 10 * sizeof(float));
	for (int i = 0; i < 10; i++)
		p.grad[i] = 1000.0f * (i + 1);
	opt.step = 0;
	opt.grad_clip = 1.0;
	is_double(nn_adamw_step(&opt, &p), 1000.0 * sqrt(385.0), 1.0, "returns the norm before clipping");
	is_double(p.m[9] / (1 - b1), 10.0 / sqrt(385.0), 1e-4, "moments see the clipped gradient");
	nn_params_free(&p);

	/* schedule: warm-up, cosine, floor */
	memset(&opt, 0, sizeof(opt));
	opt.lr = 1.0, opt.min_lr_ratio = 0.1, opt.warmup = 10, opt.total_steps = 110, opt.cosine = 1;
	is_double(nn_lr_at(&opt, 0), 0.1, 1e-12, "warm-up starts at lr/warmup");
	is_double(nn_lr_at(&opt, 9), 1.0, 1e-12, "warm-up ends at lr");
	is_double(nn_lr_at(&opt, 60), 0.55, 1e-12, "cosine midpoint");
	is_double(nn_lr_at(&opt, 110), 0.1, 1e-12, "cosine floor");
	is_double(nn_lr_at(&opt, 500), 0.1, 1e-12, "stays at the floor");
	opt.cosine = 0;
	is_double(nn_lr_at(&opt, 60), 1.0, 1e-12, "constant schedule");
}

static void
test_simd(void)
{
	float		x[203],
				y[203];
	double		worst = 0.0;

	printf("# simd level %d\n", nn_simd_level());
	for (int i = 0; i < 203; i++)
		x[i] = y[i] = -90.0f + i * 0.9f;
	nn_vexp(y, 203);
	for (int i = 0; i < 203; i++)
		if (x[i] > -87.0f && x[i] < 88.0f)
			worst = unit_worst(worst, fabs(y[i] - expf(x[i])) / expf(x[i]));
	ok(worst < 1e-6, "vector exp within 1e-6 relative of expf (worst %.2g)", worst);
	ok(y[0] >= 0.0f && y[0] < 1e-37f, "vector exp of a very negative number is ~0");
	for (int n = 1; n < 40; n += 7)
	{
		float		a[40],
					b[40];
		double		want = 0.0;

		fill(a, n, 1.0f);
		fill(b, n, 1.0f);
		for (int i = 0; i < n; i++)
			want += (double) a[i] * b[i];
		if (fabs(nn_dot(a, b, n) - want) > 1e-5)
			worst = 1.0;
	}
	ok(worst < 1e-6, "dot product for lengths 1..36");
}

/*
 * nn_matvec must give nn_dot's sums bit for bit (a one-row decode and a node decoded among a few
 * others then agree), on every kernel level, for lengths that exercise each loop and tail and
 * for matrices tall enough that the kernel prefetches rows ahead; and linear_forward's rows up to
 * NN_SMALL_N must be what each row alone gives.
 */
static void
test_matvec(void)
{
	enum
	{
		ROWS = 23, MAXN = 203, NB = NN_SMALL_N
	};
	static float w[ROWS * MAXN],
				x[NB * MAXN];
	static const int lens[] = {1, 7, 8, 9, 15, 16, 17, 24, 31, 160, 203};
	int			same = 1,
				alone_same = 1;

	fill(w, ROWS * MAXN, 1.0f);
	fill(x, NB * MAXN, 1.0f);
	for (int level = 0; level <= 2; level += 2)
	{
		nn_simd_force(level);
		for (int k = 0; k < (int) (sizeof(lens) / sizeof(lens[0])); k++)
		{
			int			n = lens[k];
			float		out[ROWS],
						many[NB * ROWS],
						one[ROWS];

			for (int rows = 1; rows <= ROWS; rows += 3)
			{
				nn_matvec(out, w, x, rows, n);
				for (int o = 0; o < rows; o++)
					if (memcmp(&out[o], &(float) {nn_dot(x, w + (size_t) o * n, n)},
							   sizeof(float)) != 0)
						same = 0;
			}
			linear_forward(many, x, w, NB, n, ROWS);
			for (int r = 0; r < NB; r++)
			{
				linear_forward(one, x + (size_t) r * n, w, 1, n, ROWS);
				if (memcmp(one, many + (size_t) r * ROWS, sizeof(one)) != 0)
					alone_same = 0;
			}
		}
	}
	nn_simd_force(2);
	ok(same, "matrix-vector product equals a dot product per row, bit for bit (both levels)");
	ok(alone_same, "linear forward of %d rows gives each row the bits it gets alone", NB);
}

/*
 * nn_vmax, nn_vshift_scale and nn_axpy_unfused promise the plain loops' bits on every level: the
 * sampler's draws (max, shift and scale of the logits) and its attention (weighted sum of values)
 * must not depend on the CPU's vector width.  Lengths exercise each loop and tail; a NaN and
 * infinities check what max skips and keeps.
 */
static void
test_exact_kernels(void)
{
	static const int lens[] = {1, 3, 4, 7, 8, 9, 15, 16, 17, 20, 31, 160, 203};
	float		x[203],
				base[203],
				y0[203],
				y2[203],
				a0[203],
				a2[203];
	int			max_same = 1,
				scale_same = 1,
				axpy_same = 1;

	fill(x, 203, 3.0f);
	fill(base, 203, 1.0f);
	for (int k = 0; k < (int) (sizeof(lens) / sizeof(lens[0])); k++)
	{
		int			n = lens[k];
		float		m[2];

		for (int level = 0; level <= 2; level += 2)
		{
			float	   *y = level ? y2 : y0,
					   *a = level ? a2 : a0;

			nn_simd_force(level);
			m[level / 2] = nn_vmax(x, n);
			memcpy(y, x, n * sizeof(float));
			nn_vshift_scale(y, n, m[level / 2], 1.7f);
			memcpy(a, base, n * sizeof(float));
			nn_axpy_unfused(a, 0.37f, x, n);
		}
		for (int i = 0; i < n; i++)
		{
			float		want = -INFINITY;

			for (int j = 0; j < n; j++)
				want = x[j] > want ? x[j] : want;
			if (m[0] != want || m[1] != want)
				max_same = 0;
			if (memcmp(&y0[i], &(float) {(x[i] - want) * 1.7f}, sizeof(float)) != 0 ||
				memcmp(&y0[i], &y2[i], sizeof(float)) != 0)
				scale_same = 0;
			if (memcmp(&a0[i], &(float) {base[i] + (float) (0.37f * x[i])}, sizeof(float)) != 0 ||
				memcmp(&a0[i], &a2[i], sizeof(float)) != 0)
				axpy_same = 0;
		}
	}
	nn_simd_force(2);
	ok(max_same, "vector max equals the plain loop's on both levels");
	ok(scale_same, "shift and scale give the plain loop's bits on both levels");
	ok(axpy_same, "unfused axpy gives the plain loop's bits on both levels");
	x[5] = NAN;
	x[40] = INFINITY;
	ok(nn_vmax(x, 203) == INFINITY && nn_vmax(x, 17) > -INFINITY && !isnan(nn_vmax(x, 17)),
	   "vector max skips a NaN and keeps an infinity");
	ok(nn_vmax(x, 0) == -INFINITY, "vector max of nothing is -infinity");
}

/*
 * nn_vadd (biases, residuals) and nn_vrelu promise the plain loops' bits on every level too.  The
 * inputs hold a NaN, zeros of both signs and infinities: ReLU gives +0 for a NaN, -0 and
 * negatives, and keeps +infinity.
 */
static void
test_add_relu_kernels(void)
{
	static const int lens[] = {1, 7, 8, 9, 16, 17, 203};
	float		x[203],
				base[203],
				out[2][203],
				sum[2][203];
	int			add_same = 1,
				relu_same = 1;

	fill(x, 203, 3.0f);
	fill(base, 203, 1.0f);
	x[2] = NAN;
	x[4] = -0.0f;
	x[9] = 0.0f;
	x[12] = INFINITY;
	x[15] = -INFINITY;
	for (int k = 0; k < (int) (sizeof(lens) / sizeof(lens[0])); k++)
	{
		int			n = lens[k];

		for (int level = 0; level <= 2; level += 2)
		{
			nn_simd_force(level);
			memcpy(sum[level / 2], base, n * sizeof(float));
			nn_vadd(sum[level / 2], x, n);
			nn_vrelu(out[level / 2], x, n);
		}
		for (int i = 0; i < n; i++)
		{
			float		want_sum = base[i] + x[i],
						want_relu = x[i] > 0.0f ? x[i] : 0.0f;

			for (int l = 0; l < 2; l++)
			{
				if (memcmp(&sum[l][i], &want_sum, sizeof(float)) != 0)
					add_same = 0;
				if (memcmp(&out[l][i], &want_relu, sizeof(float)) != 0)
					relu_same = 0;
			}
		}
	}
	nn_simd_force(2);
	ok(add_same, "vector add gives the plain loop's bits on both levels");
	ok(relu_same, "vector ReLU gives x > 0 ? x : 0 bit for bit on both levels (NaN, -0 -> +0)");
	relu_forward(out[0], x, 17);
	ok(out[0][2] == 0.0f && !signbit(out[0][4]) && out[0][12] == INFINITY && out[0][15] == 0.0f,
	   "relu_forward: +0 for NaN, -0 and -infinity, +infinity kept");
}

/*
 * nn_sgemm: the library is opened at the first product (not before), and every transpose form
 * gives the product of its definition, with the library and with the portable loop that runs
 * when the library cannot be loaded.
 */
static void
test_sgemm(void)
{
	enum
	{
		M = 7, N = 5, K = 19
	};
	float		A[M * K],
				B[K * N],
				C0[M * N],
				C[M * N];
	double		worst[2] = {0, 0};

	ok(isnan(unit_worst(0.5, NAN)) && isnan(unit_worst(NAN, 1.0)) && unit_worst(1.0, 0.5) == 1.0 &&
	   unit_worst(0.5, 1.0) == 1.0, "unit_worst keeps a NaN as the worst error (fmax would drop it)");
	ok(strcmp(nn_blas_backend(), "not loaded yet") == 0,
	   "the CBLAS is not opened before the first product (%s)", nn_blas_backend());
	fill(A, M * K, 1.0f);
	fill(B, K * N, 1.0f);
	fill(C0, M * N, 1.0f);
	for (int portable = 0; portable < 2; portable++)
	{
		nn_blas_force_portable(portable);
		for (int form = 0; form < 4; form++)
		{
			int			ta = form & 1,
						tb = form >> 1;

			memcpy(C, C0, sizeof(C));
			/* A is M x K (or its transpose stored K x M), B is K x N (or N x K) */
			nn_sgemm(ta, tb, M, N, K, 0.5f, A, ta ? M : K, B, tb ? K : N, 2.0f, C, N);
			for (int i = 0; i < M; i++)
				for (int j = 0; j < N; j++)
				{
					double		s = 0.0;

					for (int k = 0; k < K; k++)
						s += (double) (ta ? A[k * M + i] : A[i * K + k]) *
							(tb ? B[j * K + k] : B[k * N + j]);
					s = 0.5 * s + 2.0 * C0[i * N + j];
					worst[portable] = unit_worst(worst[portable], fabs(C[i * N + j] - s));
				}
		}
		if (portable == 0)
			ok(strcmp(nn_blas_backend(), "cblas") == 0, "the first product opened the CBLAS (%s)",
			   nn_blas_backend());
	}
	nn_blas_force_portable(0);
	ok(worst[0] < 1e-4, "CBLAS sgemm, all four transpose forms (worst %.2g)", worst[0]);
	ok(worst[1] < 1e-5, "portable sgemm, all four transpose forms (worst %.2g)", worst[1]);
}

int
main(void)
{
	ntg_rng_seed(&rng, 1234);
	nn_blas_init(1);
	test_sgemm();
	test_simd();
	test_matvec();
	test_exact_kernels();
	test_add_relu_kernels();
	test_linear();
	test_rmsnorm();
	test_embedding();
	test_swiglu();
	test_rope();
	test_attention();
	test_crossentropy();
	test_adamw();
	return done_testing();
}
