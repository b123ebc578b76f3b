/*
 * test_netdiffus_golden.c — the netdiffus kind against an independent PyTorch implementation
 * (test/reference/netdiffus_ref.py), which built the same U-Net from its description, chose the
 * weights, and wrote what the C kind must reproduce (test/reference/netdiffus/):
 *
 *   - the tensor names and sizes, in order (the stored layout);
 *   - both noise schedules (alphas_cumprod), to 1e-12;
 *   - the GASF images of three rows, to 1e-6;
 *   - the predicted noise of a batch of three noised images (three steps, two classes and "no
 *     class"), to 2e-5, and the loss, to 1e-5 relative;
 *   - the gradient of the loss for every weight, to 1e-4 + 1e-3 relative;
 *   - whole sampling chains: DDIM (eta 0, 4 steps, guidance 1.5) and DDPM (3 steps), whose noise
 *     the script drew from the C kind's generator (xoshiro256**, reproduced in Python), to 1e-4.
 *
 * Regenerate with /usr/bin/python3 test/reference/netdiffus_ref.py after a deliberate change of
 * the model, never to make this test pass.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/netdiffus.h"
#include "unit.h"

#define GOLDEN "test/reference/netdiffus/"

static void *
read_file(const char *name, size_t want_bytes)
{
	char		path[512];
	FILE	   *f;
	void	   *buf = malloc(want_bytes + 1);
	size_t		got;

	snprintf(path, sizeof(path), GOLDEN "%s", name);
	f = fopen(path, "rb");
	if (f == NULL)
	{
		printf("# cannot open %s (run the tests from the tree's root)\n", path);
		free(buf);
		return NULL;
	}
	got = fread(buf, 1, want_bytes + 1, f);
	fclose(f);
	if (got != want_bytes)
	{
		printf("# %s: %zu bytes, expected %zu\n", path, got, want_bytes);
		free(buf);
		return NULL;
	}
	return buf;
}

typedef struct Meta
{
	int			base,
				levels,
				max_mult,
				attn_from,
				heads,
				groups,
				N,
				T,
				n_classes;
	int			t[3],
				cls[3];
	int			n_tensors;
	char		names[256][64];
	long		sizes[256];
} Meta;

static int
read_meta(Meta *m)
{
	FILE	   *f = fopen(GOLDEN "meta.txt", "r");
	char		line[512];

	memset(m, 0, sizeof(*m));
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
	{
		if (strncmp(line, "config ", 7) == 0)
			sscanf(line, "config base=%d levels=%d max_mult=%d attn_from=%d heads=%d groups=%d "
				   "N=%d T=%d n_classes=%d", &m->base, &m->levels, &m->max_mult, &m->attn_from,
				   &m->heads, &m->groups, &m->N, &m->T, &m->n_classes);
		else if (strncmp(line, "t ", 2) == 0)
			sscanf(line, "t %d %d %d", &m->t[0], &m->t[1], &m->t[2]);
		else if (strncmp(line, "cls ", 4) == 0)
			sscanf(line, "cls %d %d %d", &m->cls[0], &m->cls[1], &m->cls[2]);
		else if (strncmp(line, "tensor ", 7) == 0 && m->n_tensors < 256)
		{
			sscanf(line, "tensor %63s %ld", m->names[m->n_tensors], &m->sizes[m->n_tensors]);
			m->n_tensors++;
		}
	}
	fclose(f);
	return m->base > 0;
}

static NetdiffusModel *
build(const Meta *g)
{
	NetdiffusConfig c = {0};
	NetdiffusModel *m;
	NtgError	err;

	c.base_channels = g->base;
	c.levels = g->levels;
	c.max_channel_mult = g->max_mult;
	c.attn_from = g->attn_from;
	c.n_heads = g->heads;
	c.norm_groups = g->groups;
	c.max_len = g->N;
	c.timesteps = g->T;
	c.cosine_schedule = 1;
	c.batch_size = 8;
	c.sample_batch = 256;
	c.blas_threads = 1;
	if (netdiffus_alloc(&c, g->n_classes, &m, 1, &err) != NTG_OK)
		return NULL;
	return m;
}

static double
max_diff(const float *a, const float *b, size_t n)
{
	double		w = 0.0;

	for (size_t i = 0; i < n; i++)
		w = fmax(w, fabs((double) a[i] - b[i]));
	return w;
}

static void
test_layout_and_schedule(const Meta *g, NetdiffusModel *m)
{
	int			same = m->params.n_tensors == g->n_tensors;
	double	   *cos_ab = read_file("abar_cosine.f64", g->T * sizeof(double)),
			   *lin_ab = read_file("abar_linear.f64", g->T * sizeof(double));
	double	   *b = malloc(g->T * sizeof(double)),
			   *ab = malloc(g->T * sizeof(double));
	double		wc = 0,
				wl = 0;

	for (int i = 0; same && i < g->n_tensors; i++)
		same = strcmp(m->params.tensors[i].name, g->names[i]) == 0 &&
			(long) m->params.tensors[i].count == g->sizes[i];
	ok(same, "the %d tensors have the reference's names and sizes, in order", g->n_tensors);
	ok(cos_ab != NULL && lin_ab != NULL, "the schedules were written");
	if (cos_ab == NULL || lin_ab == NULL)
		return;
	netdiffus_schedule(g->T, 1, b, ab);
	for (int t = 0; t < g->T; t++)
		wc = fmax(wc, fabs(ab[t] - cos_ab[t]));
	netdiffus_schedule(g->T, 0, b, ab);
	for (int t = 0; t < g->T; t++)
		wl = fmax(wl, fabs(ab[t] - lin_ab[t]));
	ok(wc < 1e-12, "cosine schedule: alphas_cumprod as the reference (%g)", wc);
	ok(wl < 1e-12, "linear schedule: alphas_cumprod as the reference (%g)", wl);
	free(cos_ab), free(lin_ab), free(b), free(ab);
}

/* The rows of rows.txt encoded by gasf_encode, against the reference's x0. */
static void
test_gasf_images(const Meta *g, const float *x0)
{
	FILE	   *f = fopen(GOLDEN "rows.txt", "r");
	int			lo,
				hi,
				N = g->N;
	float	   *img = calloc((size_t) 3 * N * N, sizeof(float));
	char		line[256];

	if (f == NULL || fscanf(f, "%d %d\n", &lo, &hi) != 2)
	{
		ok(0, "rows.txt readable");
		free(img);
		return;
	}
	for (int r = 0; r < 3 && fgets(line, sizeof(line), f) != NULL; r++)
	{
		int32_t		row[16];
		int			len = 0;
		char	   *p = strchr(line, ' ');

		while (p != NULL && *++p != '\0' && *p != '\n' && len < 16)
		{
			row[len++] = (int32_t) strtol(p, &p, 10);
			if (*p != ',')
				break;
		}
		gasf_encode(img + (size_t) r * N * N, N, row, len, N, lo, hi);
	}
	fclose(f);
	ok(max_diff(img, x0, (size_t) 3 * N * N) < 1e-6, "GASF images of the reference's rows (%g)",
	   max_diff(img, x0, (size_t) 3 * N * N));
	free(img);
}

static void
test_loss_and_grads(const Meta *g, NetdiffusModel *m, const float *x0, const float *noise)
{
	int			S = m->shape.S,
				B = 3;
	size_t		P = m->params.count;
	float	   *pred = read_file("pred.f32", (size_t) B * S * S * sizeof(float));
	float	   *grads = read_file("grads.f32", P * sizeof(float));
	double	   *loss_ref = read_file("loss.f64", sizeof(double));
	double		loss,
				worst = 0.0,
				worst_rel = 0.0;
	int			bad = 0,
				rc;
	NtgError	err;

	if (!ok(pred && grads && loss_ref, "the reference's outputs were written"))
		return;
	nn_params_zero_grad(&m->params);
	m->params.grad_clean = 0;
	rc = netdiffus_loss(m, x0, noise, g->t, g->cls, B, 1, 1.0f / B, &loss, &err);
	ok(rc == NTG_OK && fabs(loss - *loss_ref) <= 1e-5 * fabs(*loss_ref),
	   "loss %.8f as the reference's %.8f", loss, *loss_ref);
	{
		/* the predicted noise the pass left in the network's output: recompute it */
		float	   *xt = calloc((size_t) B * S * S, sizeof(float)),
				   *eps = malloc((size_t) B * S * S * sizeof(float));
		int			N = g->N;

		for (int b = 0; b < B; b++)
		{
			double		ab = m->alphas_cumprod[g->t[b]];

			for (int i = 0; i < N; i++)
				for (int j = 0; j < N; j++)
					xt[(size_t) b * S * S + i * S + j] = (float) sqrt(ab) * x0[b * N * N + i * N + j] +
						(float) sqrt(1.0 - ab) * noise[b * N * N + i * N + j];
		}
		netdiffus_forward(m, xt, g->t, g->cls, B, eps);
		ok(max_diff(eps, pred, (size_t) B * S * S) < 2e-5,
		   "predicted noise as the reference's over the padded image (%g)",
		   max_diff(eps, pred, (size_t) B * S * S));
		free(xt), free(eps);
	}
	for (size_t i = 0; i < P; i++)
	{
		double		d = fabs((double) m->params.grad[i] - grads[i]);

		worst = fmax(worst, d);
		worst_rel = fmax(worst_rel, d / (1e-4 + 1e-3 * fabs(grads[i])));
		bad += d > 1e-4 + 1e-3 * fabs(grads[i]);
	}
	ok(bad == 0, "the gradients of all %zu weights as the reference's (largest difference %g, "
	   "%.2f of the tolerance)", P, worst, worst_rel);
	free(pred), free(grads), free(loss_ref);
}

static void
test_sampling(const Meta *g, NetdiffusModel *m)
{
	int			N = g->N;
	float	   *ddim = read_file("ddim.f32", (size_t) 3 * N * N * sizeof(float)),
			   *ddpm = read_file("ddpm.f32", (size_t) 2 * N * N * sizeof(float));
	float	   *img = calloc((size_t) 3 * N * N, sizeof(float));
	NtgSampleOptions o;
	double		d;
	int			rc;
	NtgRng		rng;
	NtgError	err;

	if (!ok(ddim && ddpm, "the reference's sampling chains were written"))
		return;
	ntg_sample_options_defaults(&ntg_netdiffus_kind, 0, &o);
	o.value[ND_OPT_STEPS] = 4;
	o.value[ND_OPT_DDIM] = 1;
	o.value[ND_OPT_ETA] = 0;
	o.value[ND_OPT_GUIDANCE] = 1.5;
	ntg_rng_seed(&rng, 123);
	rc = netdiffus_sample_images(m, 1, 3, &o, &rng, img, &err);
	d = max_diff(img, ddim, (size_t) 3 * N * N);
	ok(rc == NTG_OK && d < 1e-4, "DDIM chain (4 steps, guidance 1.5) ends where the reference's does (%g)", d);
	o.value[ND_OPT_STEPS] = 3;
	o.value[ND_OPT_DDIM] = 0;
	o.value[ND_OPT_GUIDANCE] = 0;
	ntg_rng_seed(&rng, 77);
	rc = netdiffus_sample_images(m, 2, 2, &o, &rng, img, &err);
	d = max_diff(img, ddpm, (size_t) 2 * N * N);
	ok(rc == NTG_OK && d < 1e-4,
	   "DDPM chain (3 steps, its noise from the same generator) ends where the reference's does (%g)", d);
	free(ddim), free(ddpm), free(img);
}

int
main(void)
{
	Meta		g;
	NetdiffusModel *m;
	float	   *w,
			   *x0,
			   *noise;

	if (!read_meta(&g))
		skip_all("test/reference/netdiffus/meta.txt is absent: run from the tree's root");
	nn_blas_init(1);
	m = build(&g);
	if (!ok(m != NULL, "the reference's configuration builds"))
		return done_testing();
	test_layout_and_schedule(&g, m);
	w = read_file("weights.f32", m->params.count * sizeof(float));
	x0 = read_file("x0.f32", (size_t) 3 * g.N * g.N * sizeof(float));
	noise = read_file("noise.f32", (size_t) 3 * g.N * g.N * sizeof(float));
	if (!ok(w && x0 && noise, "weights and inputs read (%zu weights)", m->params.count))
		return done_testing();
	memcpy(m->params.data, w, m->params.count * sizeof(float));
	test_gasf_images(&g, x0);
	test_loss_and_grads(&g, m, x0, noise);
	test_sampling(&g, m);
	ntg_netdiffus_kind.destroy(&m->base);
	free(w), free(x0), free(noise);
	return done_testing();
}
