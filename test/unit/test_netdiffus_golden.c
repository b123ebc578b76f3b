/*
 * test_netdiffus_golden.c — the netdiffus kind against an independent PyTorch implementation
 * (test/reference/netdiffus_ref.py), which built the same U-Net from its description, chose the
 * weights, and wrote what the C kind must reproduce (golden/netdiffus_ref.h):
 *
 *   - the tensor names and sizes, in order (the stored layout);
 *   - both noise schedules (alphas_cumprod), to 1e-12;
 *   - the GASF images of three rows, to 1e-6;
 *   - the predicted noise of a batch of three noised images (three steps, two classes and "no
 *     class"), to 2e-5, and the loss, to 1e-5 relative;
 *   - the gradient of the loss for every weight, to 1e-5 + 1e-3 relative;
 *   - the per-pixel standardization of the images, to 1e-6;
 *   - whole sampling chains under it: DDIM (eta 0, 4 steps, guidance 1.5) and DDPM (3 steps), whose
 *     noise the script drew from the C kind's generator (xoshiro256**, reproduced in Python), to 1e-4.
 *
 * Both sides compute in float32; measured here: predicted noise within 2e-6, gradients within
 * 7e-7, chains within 1.1e-6.  The tolerances leave room for another BLAS's summation order.  A
 * cosine-schedule offset of 0.08 instead of 0.008, sin and cos swapped in the step embedding,
 * attention scaled by 1/d, no clipping of x0, DDPM's beta instead of beta~ as its variance, or
 * another guidance formula each fail it (test/mutation.py plants them).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/netdiffus.h"
#include "nn/nn_simd.h"
#include "unit.h"
#include "golden/netdiffus_ref.h"

#define B_ROWS 3

static NetdiffusModel *
build(void)
{
	NetdiffusConfig c = {0};
	NetdiffusModel *m;
	NtgError	err = {0};

	c.base_channels = nd_config[0];
	c.levels = nd_config[1];
	c.max_channel_mult = nd_config[2];
	c.attn_from = nd_config[3];
	c.n_heads = nd_config[4];
	c.norm_groups = nd_config[5];
	c.max_len = nd_config[6];
	c.timesteps = nd_config[7];
	c.cosine_schedule = 1;
	c.batch_size = 8;
	c.sample_batch = 256;
	c.blas_threads = 1;
	if (netdiffus_alloc(&c, nd_config[8], &m, 1, &err) != NTG_OK)
		return NULL;
	return m;
}

static double
max_diff(const float *a, const double *b, size_t n)
{
	double		w = 0.0;

	for (size_t i = 0; i < n; i++)
		w = fmax(w, fabs((double) a[i] - b[i]));
	return w;
}

static float *
to_float(const double *v, size_t n)
{
	float	   *f = malloc(n * sizeof(float));

	for (size_t i = 0; i < n; i++)
		f[i] = (float) v[i];
	return f;
}

/* The weights of nd_weights into the model, checking the layout: 1 when every tensor matches. */
static int
load_weights(NetdiffusModel *m)
{
	int			i = 0;

	for (; nd_weights[i].name != NULL; i++)
	{
		const NnTensor *t = &m->params.tensors[i];

		if (i >= m->params.n_tensors || strcmp(t->name, nd_weights[i].name) != 0 ||
			(int) t->count != nd_weights[i].count)
			return 0;
		for (size_t j = 0; j < t->count; j++)
			m->params.data[t->offset + j] = (float) nd_weights[i].v[j];
	}
	return i == m->params.n_tensors;
}

static void
test_spacing(void)
{
	int		   *tau = malloc(1000 * sizeof(int));
	int			same = 1;

	netdiffus_spaced_steps(1000, 50, 2.0, tau);
	for (int k = 0; k < 50; k++)
		same &= tau[k] == nd_tau_quad[k];
	ok(same, "quadratic spacing: the steps the reference takes (%d, %d, %d, ... %d)", tau[0], tau[1],
	   tau[2], tau[49]);
	netdiffus_spaced_steps(1000, 1000, 3.0, tau);
	same = 1;
	for (int k = 0; k < 1000; k++)
		same &= tau[k] == k;
	ok(same, "as many steps as T: every step, whatever the spacing");
	free(tau);
}

static void
test_schedules(void)
{
	int			T = nd_config[7];
	double	   *b = malloc(T * sizeof(double)),
			   *ab = malloc(T * sizeof(double));
	double		wc = 0,
				wl = 0;

	netdiffus_schedule(T, 1, b, ab);
	for (int t = 0; t < T; t++)
		wc = fmax(wc, fabs(ab[t] - nd_abar_cosine[t]));
	netdiffus_schedule(T, 0, b, ab);
	for (int t = 0; t < T; t++)
		wl = fmax(wl, fabs(ab[t] - nd_abar_linear[t]));
	ok(wc < 1e-12, "cosine schedule: alphas_cumprod as the reference (%g)", wc);
	ok(wl < 1e-12, "linear schedule: alphas_cumprod as the reference (%g)", wl);
	free(b), free(ab);
}

static void
test_gasf_images(void)
{
	int			N = nd_config[6];
	float	   *img = calloc((size_t) B_ROWS * N * N, sizeof(float));
	const int32_t *p = nd_rows;
	double		d;

	for (int r = 0; r < B_ROWS; r++)
	{
		int			len = p[1];

		gasf_encode(img + (size_t) r * N * N, N, p + 2, len, N, nd_lo, nd_hi, GASF_SCALE_LINEAR);
		p += 2 + len;
	}
	d = max_diff(img, nd_x0, (size_t) B_ROWS * N * N);
	ok(d < 1e-6, "GASF images of the reference's rows (%g)", d);
	free(img);
}

static void
test_loss_and_grads(NetdiffusModel *m)
{
	int			N = nd_config[6],
				S = m->shape.S;
	float	   *x0 = to_float(nd_x0, (size_t) B_ROWS * N * N),
			   *noise = to_float(nd_noise, (size_t) B_ROWS * N * N),
			   *xt = calloc((size_t) B_ROWS * S * S, sizeof(float)),
			   *eps = malloc((size_t) B_ROWS * S * S * sizeof(float));
	double		loss = NAN,
				worst = 0.0,
				d;
	int			bad = 0,
				rc;
	NtgError	err = {0};

	nn_params_zero_grad(&m->params);
	m->params.grad_clean = 0;
	rc = netdiffus_loss(m, x0, noise, nd_t, nd_cls, B_ROWS, 1, 1.0f / B_ROWS, &loss, &err);
	ok(rc == NTG_OK && fabs(loss - nd_loss) <= 1e-5 * fabs(nd_loss),
	   "loss %.8f as the reference's %.8f", loss, nd_loss);
	for (int k = 0; nd_grads[k].name != NULL; k++)
	{
		const NnTensor *t = &m->params.tensors[k];

		for (size_t j = 0; j < t->count; j++)
		{
			double		g = m->params.grad[t->offset + j],
						want = nd_grads[k].v[j];

			worst = unit_worst(worst, fabs(g - want));
			bad += fabs(g - want) > 1e-5 + 1e-3 * fabs(want);
		}
	}
	ok(bad == 0, "the gradients of all %zu weights as the reference's (largest difference %g)",
	   m->params.count, worst);
	/* the predicted noise of the same images */
	for (int b = 0; b < B_ROWS; b++)
	{
		double		ab = m->alphas_cumprod[nd_t[b]];

		for (int i = 0; i < N; i++)
			for (int j = 0; j < N; j++)
				xt[(size_t) b * S * S + i * S + j] = (float) sqrt(ab) * x0[b * N * N + i * N + j] +
					(float) sqrt(1.0 - ab) * noise[b * N * N + i * N + j];
	}
	netdiffus_forward(m, xt, nd_t, nd_cls, B_ROWS, eps);
	d = max_diff(eps, nd_pred, (size_t) B_ROWS * S * S);
	ok(d < 2e-5, "predicted noise as the reference's over the padded image (%g)", d);
	free(x0), free(noise), free(xt), free(eps);
}

/* The per-pixel standardization of the rows' images (image_scale "pixel"), as netdiffus_image_stats
 * computes it, against the reference's; the sampling chains run under it. */
static void
test_image_scale(NetdiffusModel *m)
{
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgSeqSet	set;
	NtgError	err = {0};
	const int32_t *p = nd_rows;
	char		name[8];
	int			N = nd_config[6];
	double		dm,
				ds;

	for (int r = 0; r < B_ROWS; r++)
	{
		snprintf(name, sizeof(name), "c%d", p[0]);
		ntg_seqset_builder_add(b, name, p + 2, p[1], &err);
		p += 2 + p[1];
	}
	ntg_seqset_builder_finish(b, &set, &err);
	m->gv.lo = nd_lo;
	m->gv.hi = nd_hi;
	m->cfg.image_scale = ND_SCALE_PIXEL;
	netdiffus_image_stats(m, &set);
	dm = max_diff(m->img_mean, nd_img_mean, (size_t) N * N);
	ds = max_diff(m->img_std, nd_img_std, (size_t) N * N);
	ok(dm < 1e-6 && ds < 1e-6, "per-pixel mean and std of the images as the reference's (%g, %g)", dm, ds);
	ntg_seqset_free(&set);
}

static void
test_sampling(NetdiffusModel *m)
{
	int			N = nd_config[6];
	float	   *img = calloc((size_t) 3 * N * N, sizeof(float));
	NtgSampleOptions o;
	NtgRng		rng;
	NtgError	err = {0};
	double		d,
				big = 1.0;
	int			rc;

	ntg_sample_options_defaults(&ntg_netdiffus_kind, 0, &o);
	o.value[ND_OPT_STEPS] = 4;
	o.value[ND_OPT_DDIM] = 1;
	o.value[ND_OPT_ETA] = 0;
	o.value[ND_OPT_GUIDANCE] = 1.5;
	o.value[ND_OPT_CLIP] = 1;
	o.value[ND_OPT_SPACING] = 1;
	ntg_rng_seed(&rng, 123);
	rc = netdiffus_sample_images(m, 1, 3, &o, &rng, img, &err);
	d = max_diff(img, nd_ddim, (size_t) 3 * N * N);
	ok(rc == NTG_OK && d < 1e-4, "DDIM chain (4 steps, guidance 1.5) ends where the reference's does (%g)", d);
	o.value[ND_OPT_STEPS] = 3;
	o.value[ND_OPT_DDIM] = 0;
	o.value[ND_OPT_GUIDANCE] = 0;
	ntg_rng_seed(&rng, 77);
	rc = netdiffus_sample_images(m, 2, 2, &o, &rng, img, &err);
	d = max_diff(img, nd_ddpm, (size_t) 2 * N * N);
	ok(rc == NTG_OK && d < 1e-4,
	   "DDPM chain (3 steps, its noise from the same generator) ends where the reference's does (%g)", d);
	o.value[ND_OPT_STEPS] = 6;
	o.value[ND_OPT_DDIM] = 1;
	o.value[ND_OPT_CLIP] = 0;
	o.value[ND_OPT_SPACING] = 2;
	ntg_rng_seed(&rng, 9);
	rc = netdiffus_sample_images(m, 0, 2, &o, &rng, img, &err);
	d = max_diff(img, nd_ddim_quad, (size_t) 2 * N * N);
	/* unclipped, the untrained network's estimates grow to hundreds: a relative tolerance */
	for (int i = 0; i < 2 * N * N; i++)
		big = fmax(big, fabs(nd_ddim_quad[i]));
	ok(rc == NTG_OK && d <= 1e-5 * big,
	   "DDIM chain (6 quadratically spaced steps, x0 not clipped) ends where the reference's does (%g of %g)",
	   d, big);
	free(img);
}

int
main(void)
{
	NetdiffusModel *m;

	nn_blas_init(1);
	m = build();
	if (!ok(m != NULL, "the reference's configuration builds"))
		return done_testing();
	if (!ok(load_weights(m), "the %d tensors have the reference's names and sizes, in order",
			m->params.n_tensors))
		return done_testing();
	test_schedules();
	test_spacing();
	test_gasf_images();
	test_image_scale(m);
	/* the network with the portable vector kernels, then with the CPU's own */
	for (int level = 0; level <= 2; level += 2)
	{
		nn_simd_force(level);
		if (level == 2 && nn_simd_level() == 0)
			break;
		printf("# %s\n", nn_simd_level() ? "AVX2 kernels" : "portable kernels");
		test_loss_and_grads(m);
		test_sampling(m);
	}
	ntg_netdiffus_kind.destroy(&m->base);
	return done_testing();
}
