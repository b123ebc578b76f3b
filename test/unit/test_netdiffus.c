/*
 * test_netdiffus.c — the netdiffus kind's own tests (the generic ones are test_conformance.c, the
 * comparison with PyTorch test_netdiffus_golden.c):
 *
 *   - GASF: the image of a row (symmetric, the diagonal 2x^2 - 1, padding as the value 0), both
 *     value scales, the value tables, nearest-value search (in v and in x), the least-squares
 *     read-back (exact on exact images, closer than the diagonal on noisy ones), and encode ->
 *     decode exact on training rows in every refinement scope, value scale and read-back
 *     (made-up rows with values up to 40000, and the nDPI benchmark's rows when the benchmark
 *     data is there);
 *   - the whole network's gradient against central finite differences (every tensor, random
 *     weights so that no path is switched off by the zero initialisation);
 *   - sampling: refinement scopes hold, steps beyond T are T, guidance changes the rows, the batch
 *     a row is denoised in does not change it, the validation loss is deterministic;
 *   - the loader refuses crafted value lists and scaling with a valid checksum.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "json_params.h"
#include "models/netdiffus.h"
#include "models/train_driver.h"
#include "nn/nn_conv3x3.h"
#include "unit.h"

static void
skip_one(const char *why)
{
	unit_run++;
	printf("ok %d # skip %s\n", unit_run, why);
}

static NtgSeqSet
seqset(const char *const *labels, const int32_t (*rows)[10], const int *lens, int n, int reps)
{
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgSeqSet	s;
	NtgError	err = {0};

	for (int r = 0; r < reps; r++)
		for (int i = 0; i < n; i++)
			ntg_seqset_builder_add(b, labels[i], rows[i], lens[i], &err);
	ntg_seqset_builder_finish(b, &s, &err);
	return s;
}

static const int32_t rows_a[][10] = {
	{100, -200, 300}, {100, -200}, {100, -250, 300, -40}, {-1448, 1448, -1448, 1448, -1448, 1448,
	-1448, 1448, -1448, 1448}, {-1448, 1448}, {52, -52}, {52, -60, 40000}, {0}, {-37440, 1, 2, -37000}
};
static const int lens_a[] = {3, 2, 4, 10, 2, 2, 3, 0, 4};
static const char *const labels_a[] = {"web", "web", "web", "video", "video", "dns", "dns", "dns", "gso"};

/* ---- GASF ----------------------------------------------------------------------------------- */

static void
test_gasf_image(void)
{
	int32_t		row[3] = {10, -20, 30};
	float		img[16];
	int			sym = 1;
	double		x[4],
				worst = 0.0;

	gasf_encode(img, 4, row, 3, 4, -20, 30, GASF_SCALE_LINEAR);
	for (int i = 0; i < 4; i++)
		x[i] = gasf_scale(i < 3 ? row[i] : 0, -20, 30, GASF_SCALE_LINEAR);
	for (int i = 0; i < 4; i++)
	{
		for (int j = 0; j < 4; j++)
		{
			sym &= img[i * 4 + j] == img[j * 4 + i];
			worst = unit_worst(worst, fabs(img[i * 4 + j] - (x[i] * x[j] - sqrt(1 - x[i] * x[i]) *
													   sqrt(1 - x[j] * x[j]))));
		}
	}
	ok(sym, "the GASF image is symmetric");
	ok(worst < 1e-6, "G[i][j] = cos(phi_i + phi_j) = x_i x_j - sqrt(1-x_i^2) sqrt(1-x_j^2) (%g)", worst);
	ok(fabs(img[0] - (2 * 0.6 * 0.6 - 1)) < 1e-6 && fabs(img[15] - (2 * 0.4 * 0.4 - 1)) < 1e-6,
	   "the diagonal is 2x^2 - 1; padding is the value 0 (x = 0.4 on -20..30)");
	ok(gasf_scale(-99, -20, 30, GASF_SCALE_LINEAR) == 0.0 && gasf_scale(99, -20, 30, GASF_SCALE_LINEAR) == 1.0 &&
	   gasf_scale(5, 5, 5, GASF_SCALE_LINEAR) == 0.0 && gasf_scale(99, -20, 30, GASF_SCALE_LOG) == 1.0,
	   "values outside the training range are clamped; a constant range scales to 0");
	ok(fabs(gasf_diagonal_value(2.0f, -20, 30, GASF_SCALE_LINEAR) - 30) < 1e-9 &&
	   gasf_diagonal_value(-3.0f, -20, 30, GASF_SCALE_LINEAR) == -20 &&
	   fabs(gasf_diagonal_value(-3.0f, -37440, 1555, GASF_SCALE_LOG) + 37440) < 1e-6,
	   "a diagonal beyond [-1, 1] decodes to the range's ends");
}

/* The log value scale: x of sign(v) ln(1 + |v|), so typical lengths are spread apart where the
 * linear scale squeezes them next to the padding. */
static void
test_log_scale(void)
{
	double		a = -log1p(37440.0),
				b = log1p(1555.0);
	int			exact = 1;

	ok(fabs(gasf_scale(0, -37440, 1555, GASF_SCALE_LOG) - (0 - a) / (b - a)) < 1e-12 &&
	   fabs(gasf_scale(-52, -37440, 1555, GASF_SCALE_LOG) - (-log1p(52.0) - a) / (b - a)) < 1e-12,
	   "log scale: x = (sign(v) ln(1 + |v|) - f(lo)) / (f(hi) - f(lo))");
	ok(gasf_scale(1, -37440, 1555, GASF_SCALE_LOG) - gasf_scale(0, -37440, 1555, GASF_SCALE_LOG) > 0.03 &&
	   gasf_scale(1, -37440, 1555, GASF_SCALE_LINEAR) - gasf_scale(0, -37440, 1555, GASF_SCALE_LINEAR) < 3e-5,
	   "the payload 1 is 0.04 from the padding in x on the log scale, 3e-5 on the linear one");
	for (int32_t v = -37440; v <= 1555; v += 7)
		exact &= fabs(gasf_unscale(gasf_scale(v, -37440, 1555, GASF_SCALE_LOG), -37440, 1555,
								   GASF_SCALE_LOG) - v) < 1e-6 * (1 + abs(v));
	ok(exact, "gasf_unscale inverts gasf_scale on the log scale");
}

static void
test_nearest(void)
{
	int32_t		v[4] = {-10, 0, 4, 100};

	ok(gasf_nearest(v, 4, -1e9) == -10 && gasf_nearest(v, 4, 1e9) == 100 &&
	   gasf_nearest(v, 4, 2.0) == 0 && gasf_nearest(v, 4, 2.5) == 4 && gasf_nearest(v, 4, 52) == 4 &&
	   gasf_nearest(v, 4, 53) == 100 && gasf_nearest(v, 1, 7) == -10,
	   "nearest value: ends, ties to the lower one, middles");
	ok(gasf_nearest(v, 4, NAN) == -10, "nearest value of NaN is a value of the list");
	{
		int32_t		w[2] = {1, 100};
		double		x20 = gasf_scale(20, -100, 100, GASF_SCALE_LOG);

		/* 20 is nearer 1 in bytes, nearer 100 in ln(1 + v) */
		ok(gasf_nearest_x(w, 2, x20, -100, 100, GASF_SCALE_LOG) == 100 &&
		   gasf_nearest_x(w, 2, gasf_scale(20, -100, 100, GASF_SCALE_LINEAR), -100, 100, GASF_SCALE_LINEAR) == 1,
		   "refinement is nearest in x: on the log scale 20 goes to 100 of {1, 100}, linearly to 1");
		ok(gasf_nearest_x(v, 4, NAN, -10, 100, GASF_SCALE_LINEAR) == -10 &&
		   gasf_nearest_x(v, 4, 2.0, -10, 100, GASF_SCALE_LINEAR) == 100 &&
		   gasf_nearest_x(v, 4, -1.0, -10, 100, GASF_SCALE_LINEAR) == -10,
		   "nearest in x: NaN and the ends");
	}
}

/*
 * The least-squares read-back: exact on an exact image; on an image with noise in every pixel it
 * finds x closer than the diagonal does (it uses N^2 pixels, not N), and it is never worse by the
 * weighted error it minimizes.
 */
static void
test_fit(void)
{
	int32_t		row[6] = {-1448, 52, -52, 1448, 20, -37440};
	int			N = 8;
	float		img[64],
				noisy[64];
	double		x[8],
				fit_err = 0.0,
				diag_err = 0.0,
				worst = 0.0;
	NtgRng		rng;

	gasf_encode(img, N, row, 6, N, -37440, 1555, GASF_SCALE_LOG);
	gasf_fit_x(img, N, N, NULL, x);
	for (int i = 0; i < N; i++)
		worst = unit_worst(worst, fabs(x[i] - gasf_scale(i < 6 ? row[i] : 0, -37440, 1555, GASF_SCALE_LOG)));
	ok(worst < 1e-6, "the fit returns the encoded x of an exact image (%g)", worst);
	ntg_rng_seed(&rng, 5);
	for (int rep = 0; rep < 50; rep++)
	{
		for (int i = 0; i < N * N; i++)
			noisy[i] = img[i] + (float) (0.02 * ntg_rng_normal(&rng));
		gasf_fit_x(noisy, N, N, NULL, x);
		for (int i = 0; i < N; i++)
		{
			double		want = gasf_scale(i < 6 ? row[i] : 0, -37440, 1555, GASF_SCALE_LOG),
						g = noisy[i * N + i] < -1 ? -1 : noisy[i * N + i] > 1 ? 1 : noisy[i * N + i];

			fit_err += (x[i] - want) * (x[i] - want);
			diag_err += (sqrt((g + 1) / 2) - want) * (sqrt((g + 1) / 2) - want);
		}
	}
	ok(fit_err < 0.5 * diag_err, "with noise 0.02 in every pixel the fit's x error is under half the "
	   "diagonal's (squared error %.4f against %.4f)", fit_err, diag_err);
	{
		float		std[64];
		double		want = gasf_scale(row[2], -37440, 1555, GASF_SCALE_LOG);

		/* a wrong diagonal pixel that the weights say is unreliable: the other pixels decide */
		for (int i = 0; i < N * N; i++)
			std[i] = 1.0f;
		memcpy(noisy, img, sizeof(img));
		noisy[2 * N + 2] = 0.9f;
		std[2 * N + 2] = 1000.0f;
		gasf_fit_x(noisy, N, N, std, x);
		ok(fabs(x[2] - want) < 1e-4, "the fit weighs pixels by 1/std^2: a wrong pixel of std 1000 "
		   "hardly moves x (%.6f for %.6f)", x[2], want);
	}
}

static int
list_has(const int32_t *list, int n, int32_t v)
{
	for (int i = 0; i < n; i++)
		if (list[i] == v)
			return 1;
	return 0;
}

static void
test_values(void)
{
	NtgSeqSet	s = seqset(labels_a, rows_a, lens_a, 9, 1);
	GasfValues	gv;
	NtgError	err = {0};
	int			web = ntg_seqset_class_index(&s, "web"),
				video = ntg_seqset_class_index(&s, "video");
	const int32_t *l;
	int			n;

	ok(gasf_values_build(&gv, &s, 10, &err) == NTG_OK, "value tables build");
	ok(gv.lo == -37440 && gv.hi == 40000, "lo/hi are the padded rows' extremes (%d, %d)", gv.lo, gv.hi);
	l = gv.values + gv.offsets[web * 10 + 1];
	n = gv.offsets[web * 10 + 2] - gv.offsets[web * 10 + 1];
	ok(n == 2 && l[0] == -250 && l[1] == -200, "web at position 1: {-250, -200}");
	l = gv.values + gv.offsets[web * 10 + 2];
	n = gv.offsets[web * 10 + 3] - gv.offsets[web * 10 + 2];
	ok(n == 2 && l[0] == 0 && l[1] == 300, "web at position 2: {0 (a row ended), 300}");
	l = gv.values + gv.offsets[video * 10 + 9];
	n = gv.offsets[video * 10 + 10] - gv.offsets[video * 10 + 9];
	ok(n == 2 && l[0] == 0 && l[1] == 1448, "video at position 9: {0, 1448}");
	l = gv.class_values + gv.class_offsets[web];
	n = gv.class_offsets[web + 1] - gv.class_offsets[web];
	ok(n == 6 && list_has(l, n, 0) && list_has(l, n, -40) && !list_has(l, n, 52),
	   "web's class list: its 5 values and the padding");
	ok(gv.n_all == 16 && list_has(gv.all_values, gv.n_all, 40000),
	   "the list of all values (%d)", gv.n_all);
	ok(gasf_values_check(gv.values, gv.offsets[s.n_classes * 10], gv.offsets, s.n_classes * 10,
						 gv.lo, gv.hi), "the built lists pass the loader's check");
	gv.values[1] = gv.values[0];
	ok(!gasf_values_check(gv.values, gv.offsets[s.n_classes * 10], gv.offsets, s.n_classes * 10,
						  gv.lo, gv.hi), "a repeated value fails it");
	gasf_values_free(&gv);
	ntg_seqset_free(&s);
}

/* Encode every row of set and decode it in every scope: how many come back different. */
static int
roundtrip_failures(const NtgSeqSet *set, int N, int *rows)
{
	GasfValues	gv;
	NtgError	err = {0};
	float	   *img = malloc((size_t) N * N * sizeof(float));
	int32_t    *out = malloc((size_t) N * sizeof(int32_t));
	int			bad = 0;

	if (gasf_values_build(&gv, set, N, &err) != NTG_OK)
		return -1;
	for (int r = 0; r < set->n_rows; r++)
	{
		int			len;
		const int32_t *row = ntg_seqset_row(set, r, &len);
		int			want = len < N ? len : N;

		for (int scale = GASF_SCALE_LINEAR; scale <= GASF_SCALE_LOG; scale++)
		{
			gv.scale = (GasfScale) scale;
			gasf_encode(img, N, row, len, N, gv.lo, gv.hi, gv.scale);
			for (int mode = 0; mode <= 2; mode++)
				for (int fit = 0; fit <= 1; fit++)
				{
					int			got = gasf_decode(&gv, img, N, set->row_class[r], (GasfRefine) mode,
												  (GasfDecode) fit, NULL, out);

					if (got != want || memcmp(out, row, want * sizeof(int32_t)) != 0)
						bad++;
				}
		}
	}
	*rows = set->n_rows;
	gasf_values_free(&gv);
	free(img);
	free(out);
	return bad;
}

/* The nDPI benchmark's payload rows (first10_signed_payload of flows.tsv), labelled by label_app. */
static int
ndpi_rows(NtgSeqSet *set)
{
	const char *env = getenv("NTG_SHARED_DATA");
	char		path[1024],
				line[8192];
	FILE	   *f;
	NtgSeqSetBuilder *b;
	NtgError	err = {0};
	int			col_pl = -1,
				col_label = -1;

	if (env != NULL && env[0] == '\0')
		return 0;
	snprintf(path, sizeof(path), "%s/ndpi/flows.tsv", env != NULL ? env : "../shared/data");
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	b = ntg_seqset_builder_new();
	while (fgets(line, sizeof(line), f) != NULL)
	{
		char	   *fields[32];
		int			nf = 0;
		int32_t		v[64];
		int			n = 0;
		char	   *p = line;

		/* tab-separated, empty fields kept (a biflow without payload has an empty sequence) */
		line[strcspn(line, "\n")] = '\0';
		while (p != NULL && nf < 32)
		{
			fields[nf++] = p;
			if ((p = strchr(p, '\t')) != NULL)
				*p++ = '\0';
		}
		if (col_pl < 0)
		{
			for (int i = 0; i < nf; i++)
			{
				if (strcmp(fields[i], "first10_signed_payload") == 0)
					col_pl = i;
				if (strcmp(fields[i], "label_app") == 0)
					col_label = i;
			}
			continue;
		}
		if (col_pl >= nf || col_label >= nf)
			continue;
		for (p = fields[col_pl]; *p != '\0' && n < 64;)
		{
			char	   *end;
			long		x = strtol(p, &end, 10);

			if (end == p)
				break;
			v[n++] = (int32_t) x;
			p = *end == ',' ? end + 1 : end;
		}
		ntg_seqset_builder_add(b, fields[col_label], v, n, &err);
	}
	fclose(f);
	return ntg_seqset_builder_finish(b, set, &err) == NTG_OK && set->n_rows > 0;
}

static void
test_roundtrip(void)
{
	NtgSeqSet	s = seqset(labels_a, rows_a, lens_a, 9, 2);
	NtgSeqSet	real;
	int			n = 0,
				bad;

	bad = roundtrip_failures(&s, 10, &n);
	ok(bad == 0, "encode -> decode is exact on the made-up rows, every scope, scale and read-back (%d rows, %d misses)",
	   n, bad);
	bad = roundtrip_failures(&s, 3, &n);
	ok(bad == 0, "... and on their first 3 values (N = 3)");
	ntg_seqset_free(&s);
	if (!ndpi_rows(&real))
	{
		skip_one("the nDPI benchmark data is absent (NTG_SHARED_DATA)");
		return;
	}
	bad = roundtrip_failures(&real, 10, &n);
	ok(bad == 0, "encode -> decode is exact on the nDPI benchmark's %d rows, every scope, scale and read-back (%d misses)",
	   n, bad);
	ntg_seqset_free(&real);
}

/* ---- the whole network's gradient ----------------------------------------------------------- */

static NetdiffusModel *
tiny_model(int n_classes, int N, uint64_t seed)
{
	NetdiffusConfig c = {0};
	NetdiffusModel *m;
	NtgError	err = {0};
	NtgRng		rng;

	c.base_channels = 4;
	c.levels = 3;
	c.max_channel_mult = 2;
	c.attn_from = 1;
	c.n_heads = 2;
	c.norm_groups = 2;
	c.max_len = N;
	c.timesteps = 30;
	c.cosine_schedule = 1;
	c.batch_size = 4;
	c.sample_batch = 256;
	c.blas_threads = 1;
	if (netdiffus_alloc(&c, n_classes, &m, 1, &err) != NTG_OK)
		return NULL;
	ntg_rng_seed(&rng, seed);
	for (size_t i = 0; i < m->params.count; i++)
		m->params.data[i] = (float) (0.3 * ntg_rng_normal(&rng));
	return m;
}

static void
test_model_gradient(void)
{
	int			N = 5,
				B = 3;
	NetdiffusModel *m = tiny_model(2, N, 3);
	float		x0[3 * 25],
				noise[3 * 25];
	int			t[3] = {0, 11, 29},
				cls[3] = {0, 1, 2};
	double		loss,
				worst = 0.0;
	NtgRng		rng;
	NtgError	err = {0};
	int			checked = 0,
				bad = 0,
				tensors_hit = 0;
	float	   *g = malloc(m->params.count * sizeof(float));

	ntg_rng_seed(&rng, 9);
	for (int i = 0; i < B * N * N; i++)
	{
		x0[i] = (float) (2.0 * ntg_rng_double(&rng) - 1.0);
		noise[i] = (float) ntg_rng_normal(&rng);
	}
	nn_params_zero_grad(&m->params);
	m->params.grad_clean = 0;
	netdiffus_loss(m, x0, noise, t, cls, B, 1, 1.0f, &loss, &err);
	memcpy(g, m->params.grad, m->params.count * sizeof(float));
	for (int k = 0; k < m->params.n_tensors; k++)
	{
		const NnTensor *tn = &m->params.tensors[k];
		size_t		step = tn->count > 12 ? tn->count / 12 : 1;
		int			hit = 0;

		for (size_t j = 0; j < tn->count; j += step)
		{
			size_t		i = tn->offset + j;
			float		keep = m->params.data[i];
			double		lp,
						lm,
						num,
						tol;

			m->params.data[i] = keep + 1e-3f;
			netdiffus_loss(m, x0, noise, t, cls, B, 0, 0.0f, &lp, &err);
			m->params.data[i] = keep - 1e-3f;
			netdiffus_loss(m, x0, noise, t, cls, B, 0, 0.0f, &lm, &err);
			m->params.data[i] = keep;
			num = (lp - lm) / 2e-3;
			tol = 2e-3 + 1e-2 * fmax(fabs(num), fabs(g[i]));
			worst = unit_worst(worst, fabs(num - g[i]) / tol);
			bad += fabs(num - g[i]) > tol;
			hit |= g[i] != 0.0f;
			checked++;
		}
		tensors_hit += hit;
	}
	ok(bad == 0, "the network's gradient matches finite differences (%d weights of all %d tensors, "
	   "worst %.2f of the tolerance)", checked, m->params.n_tensors, worst);
	ok(tensors_hit == m->params.n_tensors, "every tensor gets a gradient (%d of %d)", tensors_hit,
	   m->params.n_tensors);
	free(g);
	ntg_netdiffus_kind.destroy(&m->base);
}

/* ---- training, sampling ----------------------------------------------------------------------- */

static NtgTraining train_with(const NtgSeqSet *rows, const char *hyperparams, const char *extra);

/* The kind's tiny model, with extra hyperparameters (not those of the tiny set) */
static NtgTraining
train_tiny(const NtgSeqSet *rows, const char *extra)
{
	return train_with(rows, ntg_netdiffus_kind.tiny_hyperparams, extra);
}

static NtgTraining
train_with(const NtgSeqSet *rows, const char *hyperparams, const char *extra)
{
	NtgTraining t;
	NtgParams	p = {0};
	NtgSeqSet	copy;
	NtgError	err = {0};
	int		   *all = malloc(sizeof(int) * rows->n_rows);

	for (int i = 0; i < rows->n_rows; i++)
		all[i] = i;
	ntg_seqset_subset(rows, all, rows->n_rows, &copy, &err);
	free(all);
	json_params(hyperparams, &p, &err);
	if (extra != NULL)
		json_params(extra, &p, &err);
	if (ntg_training_prepare(&t, &ntg_netdiffus_kind, &p, &copy, NULL, &err) != NTG_OK ||
		ntg_training_run(&t, NULL, &err) != NTG_OK)
	{
		printf("# training failed: %s\n", err.msg);
		exit(1);
	}
	ntg_params_free(&p);
	return t;
}

static int
sample_rows(NtgModel *m, int c, int n, NtgSampleOptions *o, uint64_t seed, int32_t *out, int *len)
{
	NtgRng		rng;
	NtgError	err = {0};

	ntg_rng_seed(&rng, seed);
	return m->kind->sample(m, c, n, o, &rng, out, len, &err) == NTG_OK;
}

static void
test_sampling(void)
{
	NtgSeqSet	s = seqset(labels_a, rows_a, lens_a, 9, 4);
	NtgTraining t = train_tiny(&s, "{\"validation\": 0.25}");
	NetdiffusModel *m = (NetdiffusModel *) t.model;
	int			n = 40,
				N = m->cfg.max_len;
	int32_t    *a = calloc((size_t) n * N, sizeof(int32_t)),
			   *b = calloc((size_t) n * N, sizeof(int32_t));
	int			la[40],
				lb[40];
	NtgSampleOptions o = m->base.sampling;
	int			in_scope = 1;
	float	   *ia = malloc((size_t) n * N * N * sizeof(float)),
			   *ib = malloc((size_t) n * N * N * sizeof(float));
	NtgRng		rng;
	NtgError	err = {0};
	double		l1,
				l2,
				worst = 0.0;
	int64_t		scored;
	int			web = ntg_seqset_class_index(&s, "web");

	/* refinement scopes: position lists for refine 2, the class list for refine 1 */
	for (int mode = 1; mode <= 2; mode++)
	{
		o.value[ND_OPT_REFINE] = mode;
		sample_rows(&m->base, web, n, &o, 4, a, la);
		for (int r = 0; r < n; r++)
			for (int j = 0; j < la[r]; j++)
			{
				int			k = mode == 2 ? web * N + j : web;
				const int32_t *list = mode == 2 ? m->gv.values + m->gv.offsets[k] :
					m->gv.class_values + m->gv.class_offsets[k];
				int			len = mode == 2 ? m->gv.offsets[k + 1] - m->gv.offsets[k] :
					m->gv.class_offsets[k + 1] - m->gv.class_offsets[k];

				in_scope &= list_has(list, len, a[(size_t) r * N + j]);
			}
	}
	ok(in_scope, "refine 1 keeps values in the class's list, refine 2 in the class's list at each position");

	o = m->base.sampling;
	o.value[ND_OPT_STEPS] = m->cfg.timesteps;
	sample_rows(&m->base, web, n, &o, 4, a, la);
	o.value[ND_OPT_STEPS] = 100000;
	sample_rows(&m->base, web, n, &o, 4, b, lb);
	ok(memcmp(a, b, (size_t) n * N * sizeof(int32_t)) == 0 && memcmp(la, lb, sizeof(la)) == 0,
	   "steps beyond T take the T steps");

	o = m->base.sampling;
	o.value[ND_OPT_DDIM] = 1;
	o.value[ND_OPT_ETA] = 0;
	ntg_rng_seed(&rng, 5);
	netdiffus_sample_images(m, web, n, &o, &rng, ia, &err);
	o.value[ND_OPT_GUIDANCE] = 3.0;
	ntg_rng_seed(&rng, 5);
	netdiffus_sample_images(m, web, n, &o, &rng, ib, &err);
	ok(memcmp(ia, ib, (size_t) n * N * N * sizeof(float)) != 0, "guidance changes the images");

	/* a row does not depend on the batch it is denoised in */
	o.value[ND_OPT_GUIDANCE] = 1.0;
	ntg_rng_seed(&rng, 6);
	netdiffus_sample_images(m, web, n, &o, &rng, ia, &err);
	m->cfg.sample_batch = 7;
	ntg_rng_seed(&rng, 6);
	netdiffus_sample_images(m, web, n, &o, &rng, ib, &err);
	for (int i = 0; i < n * N * N; i++)
		worst = unit_worst(worst, fabs(ia[i] - ib[i]));
	ok(worst < 1e-4, "rows denoised 7 at a time as all %d together (%g)", n, worst);

	l1 = l2 = NAN;
	scored = 0;
	if (netdiffus_eval_loss(&m->base, &t.held, &l1, &scored, &err) != NTG_OK ||
		netdiffus_eval_loss(&m->base, &t.held, &l2, NULL, &err) != NTG_OK)
		l1 = NAN;
	ok(l1 == l2 && scored == 2 * t.held.n_rows && isfinite(l1),
	   "the validation loss is deterministic (%g over %lld scored)", l1, (long long) scored);
	ok(t.val_losses != NULL && t.val_losses[t.epochs_run - 1] > 0.0,
	   "training tracked it (epoch %d: %g)", t.epochs_run, t.val_losses ? t.val_losses[t.epochs_run - 1] : 0.0);
	free(a), free(b), free(ia), free(ib);
	ntg_training_free(&t);
	ntg_seqset_free(&s);
}

/* Guidance needs the no-class input that cond_drop trains: a model trained with cond_drop 0
 * refuses it, as a stored default and as a call's option. */
static void
test_guidance_needs_cond_drop(void)
{
	NtgSeqSet	s = seqset(labels_a, rows_a, lens_a, 9, 2);
	NtgTraining t;
	NtgParams	p = {0};
	NtgSampleOptions o;
	NtgError	err = {0};
	int			rc;

	json_params(ntg_netdiffus_kind.tiny_hyperparams, &p, &err);
	json_params("{\"cond_drop\": 0}", &p, &err);
	{
		NtgSeqSet	copy = s;

		memset(&s, 0, sizeof(s));
		rc = ntg_training_prepare(&t, &ntg_netdiffus_kind, &p, &copy, NULL, &err);
	}
	ok(rc == NTG_ERR_INVALID_ARG &&
	   strcmp(err.msg, "sampling option \"guidance\" needs a model trained with \"cond_drop\" above 0") == 0 &&
	   strstr(err.hint, "\"guidance\": 0") != NULL,
	   "cond_drop 0 with the default guidance is refused before training: %s (%s)", err.msg, err.hint);
	ntg_params_free(&p);
	s = seqset(labels_a, rows_a, lens_a, 9, 2);
	t = train_tiny(&s, "{\"cond_drop\": 0, \"sampling\": {\"guidance\": 0}}");
	ok(t.model->sampling.value[ND_OPT_GUIDANCE] == 0.0, "with sampling.guidance 0 it trains, storing that default");
	o = t.model->sampling;
	o.value[ND_OPT_GUIDANCE] = 1.0;
	ok(ntg_sample_options_check(t.model, &o, &err) == NTG_ERR_INVALID_ARG,
	   "and a call's guidance 1 is refused for it");
	o.value[ND_OPT_GUIDANCE] = 0.0;
	ok(ntg_sample_options_check(t.model, &o, &err) == NTG_OK, "guidance 0 is not");
	ntg_training_free(&t);
	ntg_seqset_free(&s);
}

/* ||a - b|| / ||b|| over n floats. */
static double
rel_gap(const float *a, const float *b, size_t n)
{
	double		d = 0,
				r = 0;

	for (size_t i = 0; i < n; i++)
		d += (double) (a[i] - b[i]) * (a[i] - b[i]), r += (double) b[i] * b[i];
	return r > 0 ? sqrt(d / r) : sqrt(d);
}

/* int8 copies (stored int8, computed with dequantized): the network's predicted noise and the
 * sampled images stay close to the float model's (deterministic DDIM, same seed), the rows come
 * from the same value lists, and the copy refuses training.  (The conformance suite covers
 * storage, damage and the rest.) */
static void
test_quantized(void)
{
	static const int modes[] = {NN_QUANT_WEIGHT_ONLY, NN_QUANT_DYNAMIC};
	NtgSeqSet	s = seqset(labels_a, rows_a, lens_a, 9, 4);
	NtgTraining t = train_tiny(&s, NULL);
	NetdiffusModel *m = (NetdiffusModel *) t.model;
	int			S = m->shape.S,
				N = m->cfg.max_len,
				n = 16,
				steps[4] = {0, 10, 50, 99},
				cls[4] = {0, 1, 2, m->base.n_classes};
	size_t		SS = (size_t) S * S;
	float	   *x = malloc(4 * SS * sizeof(float)),
			   *ef = malloc(4 * SS * sizeof(float)),
			   *eq = malloc(4 * SS * sizeof(float)),
			   *imf = malloc((size_t) n * N * N * sizeof(float)),
			   *imq = malloc((size_t) n * N * N * sizeof(float));
	NtgSampleOptions o = m->base.sampling;
	NtgRng		rng;
	NtgError	err = {0};
	uint8_t    *buf;
	size_t		len;

	ntg_rng_seed(&rng, 9);
	for (size_t i = 0; i < 4 * SS; i++)
		x[i] = (float) ntg_rng_normal(&rng);
	for (int i = 0; i < 4; i++)
		steps[i] = steps[i] * m->cfg.timesteps / 100;
	netdiffus_ensure_acts(m, 4);
	netdiffus_forward(m, x, steps, cls, 4, ef);
	o.value[ND_OPT_ETA] = 0;	/* deterministic: the images differ only by the int8 products */
	ntg_rng_seed(&rng, 3);
	netdiffus_sample_images(m, 0, n, &o, &rng, imf, &err);
	ntg_model_save(&m->base, &buf, &len, &err);
	for (int i = 0; i < 2; i++)
	{
		const char *name = nn_quant_mode_name(modes[i]);
		NtgModel   *qm = NULL;
		NetdiffusModel *q;
		double		gap,
					img_gap;
		int32_t    *rows = calloc((size_t) n * N, sizeof(int32_t));
		int			lens[16],
					in_lists = 1;
		double		loss;

		if (!ok(ntg_model_from_bytes(buf, len, &qm, &err) == NTG_OK &&
				ntg_model_quantize(qm, modes[i], &err) == NTG_OK, "%s: a netdiffus quantizes", name))
		{
			ntg_model_destroy(qm);
			free(rows);
			continue;
		}
		q = (NetdiffusModel *) qm;
		{
			const NnTensor *cw = &q->params.tensors[q->mid1.conv1_w];
			const float *w = nn_params_ptr(&q->params, q->mid1.conv1_w);
			int			exact = cw->q != NULL && w != NULL;

			for (size_t k = 0; exact && k < cw->count; k++)
				exact = w[k] == (float) cw->q[k] * cw->scale[k / cw->dims[1]];
			ok(exact && q->params.tensors[q->t_class_emb].q != NULL &&
			   q->params.tensors[q->mid_attn.qkv_w].q != NULL && q->params.tensors[q->t_in_b].q == NULL,
			   "%s: every matrix is int8 and computed with its dequantized floats; norms and biases float",
			   name);
		}
		netdiffus_ensure_acts(q, 4);
		netdiffus_forward(q, x, steps, cls, 4, eq);
		gap = rel_gap(eq, ef, 4 * SS);
		ok(gap < 0.02, "%s: the predicted noise within 2 %% of float's (relative L2 %.4f)", name, gap);
		ntg_rng_seed(&rng, 3);
		netdiffus_sample_images(q, 0, n, &o, &rng, imq, &err);
		img_gap = rel_gap(imq, imf, (size_t) n * N * N);
		ok(img_gap < 0.02, "%s: deterministic DDIM images within 2 %% of float's after %g steps (%.4f)",
		   name, o.value[ND_OPT_STEPS], img_gap);
		sample_rows(qm, 0, n, &q->base.sampling, 4, rows, lens);
		for (int r = 0; r < n; r++)
			for (int j = 0; j < lens[r]; j++)
				in_lists &= list_has(q->gv.values + q->gv.offsets[j], q->gv.offsets[j + 1] - q->gv.offsets[j],
									 rows[(size_t) r * N + j]);
		ok(in_lists, "%s: its rows take their values from the class's lists", name);
		ntg_rng_seed(&rng, 1);
		ok(ntg_netdiffus_kind.train_epoch(qm, &s, 0, &rng, &loss, &err) == NTG_ERR_UNSUPPORTED &&
		   strstr(err.hint, "quantize it again") != NULL,
		   "%s: refuses further training: %s", name, err.msg);
		ok(netdiffus_loss(q, x, x, steps, cls, 1, 1, 1.0f, &loss, &err) == NTG_ERR_UNSUPPORTED,
		   "%s: and a backward pass", name);
		ntg_model_destroy(qm);
		free(rows);
	}
	ntg_free(buf);
	free(x), free(ef), free(eq), free(imf), free(imq);
	ntg_training_free(&t);
	ntg_seqset_free(&s);
}

/* Standardized, the training images have mean 0 and std 1 at every pixel that varies ("pixel"),
 * or over all pixels ("global"); "none" leaves them as they are. */
static void
test_image_scale(void)
{
	NtgSeqSet	s = seqset(labels_a, rows_a, lens_a, 9, 3);
	const char *const modes[] = {"none", "global", "pixel"};

	for (int mode = 0; mode < 3; mode++)
	{
		char		extra[64];
		NtgTraining t;
		NetdiffusModel *m;
		int			N,
					NN,
					good = 1,
					varying = 0;
		double	   *sum,
				   *sq;
		float	   *z;

		snprintf(extra, sizeof(extra), "{\"image_scale\": \"%s\"}", modes[mode]);
		t = train_tiny(&s, extra);
		m = (NetdiffusModel *) t.model;
		N = m->cfg.max_len;
		NN = N * N;
		sum = calloc(NN, sizeof(double));
		sq = calloc(NN, sizeof(double));
		z = malloc(NN * sizeof(float));
		for (int r = 0; r < t.train.n_rows; r++)
		{
			netdiffus_encode_row(m, &t.train, r, z);
			for (int i = 0; i < NN; i++)
				sum[i] += z[i], sq[i] += (double) z[i] * z[i];
		}
		if (mode == ND_SCALE_GLOBAL)
		{
			for (int i = 1; i < NN; i++)
				sum[0] += sum[i], sq[0] += sq[i];
			NN = 1;
		}
		for (int i = 0; i < NN; i++)
		{
			double		n = (double) t.train.n_rows * (mode == ND_SCALE_GLOBAL ? N * N : 1);
			double		mean = sum[i] / n,
						sd = sqrt(fmax(sq[i] / n - mean * mean, 0.0));

			if (mode == ND_SCALE_NONE)
				good &= m->img_mean[i] == 0.0f && m->img_std[i] == 1.0f;
			else if (m->img_std[i] > (float) ND_STD_FLOOR)
			{
				varying++;
				good &= fabs(mean) < 1e-4 && fabs(sd - 1.0) < 1e-3;
			}
		}
		ok(good && (mode == ND_SCALE_NONE || varying > 0),
		   mode == ND_SCALE_NONE ? "image_scale %s: the images are the GASF images themselves" :
		   "image_scale %s: the standardized training images have mean 0 and std 1 (%d pixel groups)",
		   modes[mode], varying);
		free(sum), free(sq), free(z);
		ntg_training_free(&t);
	}
	ntg_seqset_free(&s);
}

/* The weights' moving average: its update, and a model trained with it stores the average. */
static void
test_ema(void)
{
	NtgSeqSet	s = seqset(labels_a, rows_a, lens_a, 9, 2);
	NetdiffusModel *m = tiny_model(2, 5, 1);
	NtgTraining plain,
				avg;
	int			differ = 0;
	uint8_t    *buf;
	size_t		len;
	NtgModel   *back = NULL;
	NtgError	err = {0};

	m->cfg.ema = 0.9;
	m->ema = calloc(m->params.count, sizeof(float));
	for (size_t i = 0; i < m->params.count; i++)
		m->params.data[i] = 1.0f;
	netdiffus_ema_update(m);	/* d = min(0.9, 1/10) */
	for (size_t i = 0; i < m->params.count; i++)
		m->params.data[i] = 2.0f;
	netdiffus_ema_update(m);	/* d = min(0.9, 2/11) */
	ok(fabsf(m->ema[7] - (float) (2.0 / 11 * 0.9 + 9.0 / 11 * 2.0)) < 1e-6,
	   "ema: avg = d avg + (1 - d) w with d = min(ema, (1 + k) / (10 + k)) (%g)", m->ema[7]);
	free(m->ema);
	m->ema = NULL;
	ntg_netdiffus_kind.destroy(&m->base);

	plain = train_tiny(&s, NULL);
	avg = train_tiny(&s, "{\"ema\": 0.5}");
	for (size_t i = 0; i < plain.model->n_weights; i++)
		differ += plain.model->weights[i] != avg.model->weights[i];
	ok(differ > 0 && avg.model->weights == ((NetdiffusModel *) avg.model)->params.data,
	   "a model trained with ema holds the average between epochs (%d weights differ)", differ);
	ok(ntg_model_save(avg.model, &buf, &len, &err) == NTG_OK &&
	   ntg_model_from_bytes(buf, len, &back, &err) == NTG_OK &&
	   ((NetdiffusModel *) back)->cfg.ema == 0.5 &&
	   memcmp(back->weights, avg.model->weights, avg.model->n_weights * sizeof(float)) == 0,
	   "the stored weights are the average, and ema is stored");
	ntg_model_destroy(back);
	ntg_free(buf);
	ntg_training_free(&plain);
	ntg_training_free(&avg);
	ntg_seqset_free(&s);
}

/* ---- loader ------------------------------------------------------------------------------------ */

/* Save m with tensor `name` replaced by data (count values of its dtype), checksum valid. */
static int
load_with(NtgModel *m, const char *name, const void *data, uint32_t count, NtgError *err)
{
	uint8_t    *buf,
			   *out;
	size_t		len,
				out_len;
	NtgBlob		in,
				blob;
	NtgModel   *back = NULL;
	int			rc;

	ntg_model_save(m, &buf, &len, err);
	ntg_blob_parse(buf, len, &in, err);
	ntg_blob_init(&blob, in.kind, in.config);
	for (int i = 0; i < in.n_tensors; i++)
	{
		const NtgBlobTensor *x = &in.tensors[i];

		uint64_t	have = 1;

		for (int d = 0; d < x->ndim; d++)
			have *= x->dims[d];
		if (strcmp(x->name, name) == 0 && have == count)
			ntg_blob_add(&blob, x->name, x->dtype, x->ndim, x->dims, data, err);
		else if (strcmp(x->name, name) == 0)
			ntg_blob_add(&blob, x->name, x->dtype, 1, &count, data, err);
		else
			ntg_blob_add(&blob, x->name, x->dtype, x->ndim, x->dims, x->data, err);
	}
	ntg_blob_serialize(&blob, &out, &out_len, err);
	rc = ntg_model_from_bytes(out, out_len, &back, err);
	ntg_model_destroy(back);
	ntg_blob_free(&blob);
	ntg_blob_free(&in);
	ntg_free(buf);
	ntg_free(out);
	return rc;
}

static void
test_loader(void)
{
	NtgSeqSet	s = seqset(labels_a, rows_a, lens_a, 9, 2);
	NtgTraining t = train_tiny(&s, NULL);
	NetdiffusModel *m = (NetdiffusModel *) t.model;
	int			K = m->base.n_classes * m->cfg.max_len;
	uint32_t	nv = (uint32_t) m->gv.offsets[K];
	int32_t    *v = malloc(nv * sizeof(int32_t)),
			   *off = malloc((K + 1) * sizeof(int32_t));
	int32_t		conf[23];
	NtgError	err = {0};

	memcpy(v, m->gv.values, nv * sizeof(int32_t));
	ok(load_with(&m->base, "netdiffus.values", v, nv, &err) == NTG_OK, "the unchanged model loads");
	v[1] = v[0];
	ok(load_with(&m->base, "netdiffus.values", v, nv, &err) == NTG_ERR_CORRUPT,
	   "a value list out of order is refused: %s", err.msg);
	memcpy(v, m->gv.values, nv * sizeof(int32_t));
	v[nv - 1] = m->gv.hi + 1;
	ok(load_with(&m->base, "netdiffus.values", v, nv, &err) == NTG_ERR_CORRUPT,
	   "a value beyond the scaling range is refused");
	memcpy(off, m->gv.offsets, (K + 1) * sizeof(int32_t));
	off[3] = off[2];
	ok(load_with(&m->base, "netdiffus.value_offsets", off, K + 1, &err) == NTG_ERR_CORRUPT,
	   "an empty value list is refused");
	ok(load_with(&m->base, "netdiffus.value_offsets", off, K, &err) == NTG_ERR_CORRUPT,
	   "value offsets of the wrong length are refused");
	{
		NtgBlob		blob;
		uint8_t    *buf;
		size_t		len;

		ntg_model_save(&m->base, &buf, &len, &err);
		ntg_blob_parse(buf, len, &blob, &err);
		ntg_blob_read_tensor(&blob, "netdiffus.config", NTG_DTYPE_I32, 23, conf, &err);
		ntg_blob_free(&blob);
		ntg_free(buf);
	}
	conf[6] = 3;				/* norm_groups 3 does not divide 8 channels */
	ok(load_with(&m->base, "netdiffus.config", conf, 23, &err) == NTG_ERR_CORRUPT,
	   "a shape the network cannot have is refused: %s", err.msg);
	conf[6] = 4;
	conf[19] = conf[20] + 1;	/* lo > hi */
	ok(load_with(&m->base, "netdiffus.config", conf, 23, &err) == NTG_ERR_CORRUPT,
	   "a scaling with min above max is refused");
	conf[19] = m->gv.lo;
	conf[21] = 3;				/* no such image standardization */
	ok(load_with(&m->base, "netdiffus.config", conf, 23, &err) == NTG_ERR_CORRUPT,
	   "an unknown image standardization is refused");
	conf[21] = m->cfg.image_scale;
	conf[22] = 2;				/* no such value scale */
	ok(conf[0] == 2 && load_with(&m->base, "netdiffus.config", conf, 23, &err) == NTG_ERR_CORRUPT,
	   "format 2: an unknown value scale is refused");
	conf[0] = 1;				/* format 1: the first 22 numbers, the linear value scale */
	ok(load_with(&m->base, "netdiffus.config", conf, 22, &err) == NTG_OK,
	   "a format-1 configuration (22 numbers) still loads");
	ok(load_with(&m->base, "netdiffus.config", conf, 23, &err) == NTG_ERR_CORRUPT,
	   "... but not with 23 numbers");
	{
		int			NN = m->cfg.max_len * m->cfg.max_len;
		float	   *sc = malloc(2 * NN * sizeof(float));

		memcpy(sc, m->img_mean, NN * sizeof(float));
		memcpy(sc + NN, m->img_std, NN * sizeof(float));
		sc[NN + 1] = 0.0f;		/* a std the sampler would divide by */
		ok(load_with(&m->base, "netdiffus.image_scale", sc, 2 * NN, &err) == NTG_ERR_CORRUPT,
		   "a zero std in the image standardization is refused");
		free(sc);
	}
	free(v), free(off);
	ntg_training_free(&t);
	ntg_seqset_free(&s);
}

/*
 * 16 base channels: the convolutions run straight from the image where the CPU has AVX2 or
 * AVX-512 (nn_conv3x3.h), from weights the first sampling call packs and later calls reuse;
 * weights a training step changes are never sampled from a packing an earlier call left.
 */
static void
test_packed_convs(void)
{
	NtgSeqSet	s = seqset(labels_a, rows_a, lens_a, 9, 4);
	NtgTraining t = train_with(&s, "{\"base_channels\": 16, \"levels\": 2, \"n_heads\": 2, "
							   "\"norm_groups\": 4, \"attn_from\": 1, \"timesteps\": 20, "
							   "\"epochs\": 2, \"batch_size\": 8, \"ema\": 0}", NULL);
	NetdiffusModel *m = (NetdiffusModel *) t.model,
			   *back = NULL;
	int			n = 12,
				N = m->cfg.max_len,
				S = m->shape.S;
	size_t		img = (size_t) N * N;
	float	   *ia = malloc(n * img * sizeof(float)),
			   *ib = malloc(n * img * sizeof(float)),
			   *x = calloc((size_t) S * S, sizeof(float)),
			   *eps = calloc((size_t) S * S, sizeof(float));
	NtgSampleOptions o = m->base.sampling;
	int			web = ntg_seqset_class_index(&s, "web"),
				tv = 3,
				cv = web;
	uint8_t    *buf = NULL;
	size_t		len = 0;
	double		loss;
	NtgRng		rng;
	NtgError	err = {0};

	if (!conv3x3_direct_supported())
		printf("# no AVX-512 on this CPU: the convolutions take the im2col path\n");
	o.value[ND_OPT_STEPS] = 4;
	ntg_rng_seed(&rng, 8);
	netdiffus_sample_images(m, web, n, &o, &rng, ia, &err);
	if (conv3x3_direct_supported())
		ok(m->packed != NULL && m->packed[m->t_in_w] != NULL,
		   "a sampling call keeps the weights it packed for the next");
	ntg_rng_seed(&rng, 8);
	netdiffus_sample_images(m, web, n, &o, &rng, ib, &err);
	ok(memcmp(ia, ib, n * img * sizeof(float)) == 0, "a second call from the kept packing samples the same");

	/* a pass with the packed weights, then a training step */
	netdiffus_pack_convs(m);
	netdiffus_ensure_acts(m, 1);
	netdiffus_forward(m, x, &tv, &cv, 1, eps);
	if (conv3x3_direct_supported())
		ok(m->packed != NULL && m->packed[m->t_in_w] != NULL, "a pass packs the weights it uses");
	ntg_rng_seed(&rng, 9);
	ok(netdiffus_train_epoch(&m->base, &t.train, 99, &rng, &loss, &err) == NTG_OK &&
	   ntg_model_save(&m->base, &buf, &len, &err) == NTG_OK &&
	   ntg_model_from_bytes(buf, len, (NtgModel **) &back, &err) == NTG_OK, "trained on and reloaded");
	ntg_rng_seed(&rng, 10);
	netdiffus_sample_images(m, web, n, &o, &rng, ia, &err);
	ntg_rng_seed(&rng, 10);
	netdiffus_sample_images(back, web, n, &o, &rng, ib, &err);
	ok(memcmp(ia, ib, n * img * sizeof(float)) == 0,
	   "after a training step it samples what the trained weights, reloaded, sample");
	ntg_model_destroy(&back->base);
	free(buf), free(ia), free(ib), free(x), free(eps);
	ntg_training_free(&t);
	ntg_seqset_free(&s);
}

int
main(void)
{
	nn_blas_init(1);
	test_gasf_image();
	test_log_scale();
	test_nearest();
	test_fit();
	test_values();
	test_roundtrip();
	test_model_gradient();
	test_sampling();
	test_image_scale();
	test_ema();
	test_loader();
	test_quantized();
	test_guidance_needs_cond_drop();
	test_packed_convs();
	return done_testing();
}
