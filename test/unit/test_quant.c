/*
 * test_quant.c — int8 quantization (nn/nn_quant.h, nn_qparams.c, nn_store.c):
 *
 *   - rows quantize to round(w / scale) with scale = max|w| / 127, and dequantize within scale / 2;
 *   - every SIMD level (scalar, AVX2, AVX-512 VNNI: those this CPU has) quantizes activations
 *     to the same bytes and scales, and computes the same int32 dot products, bit for bit, as a
 *     naive product of the row-major int8 matrices written here; the dynamic-mode floats are the
 *     same bits on every level too;
 *   - activations quantized below the VNNI level (no biased copy) multiply right at that level;
 *   - dynamic and weight-only products are within their error bounds of the float product:
 *       weight-only  |y - y_float| <= (scale[o] / 2) sum_i |x_i|                     + R
 *       dynamic      |y - y_float| <= (scale[o] / 2) sum_i |x_i| + (xs / 2) sum_i |w_o,i|
 *                                     + C xs scale[o] / 4                            + R
 *     (each weight and activation is off by at most half its scale; R = 1e-6 C sum_i |x_i w_o,i|
 *     is room for float rounding); and weight-only products at every level within float
 *     rounding (1e-6 C sum_i |x_i q_i scale[o]|) of the scalar kernel's, which sums the same terms;
 *   - nn_matmul over params: the float path, products that span adjacent tensors and products of
 *     a tensor's first rows; nn_embed;
 *   - stored quantized params: the same bytes back, and damaged values (a scale that is zero,
 *     negative or not finite, a weight of -128, a wrong mode, a wrong shape) refused;
 *   - a matrix stored as int8 and read as floats (NN_QUANTIZE_STORED): its floats are the int8
 *     weights dequantized, before and after a load.
 */
#include <math.h>
#include <string.h>

#include "common/rng.h"
#include "nn/nn.h"
#include "nn/nn_store.h"
#include "unit.h"

static NtgRng rng;

static void
fill(float *x, size_t n, float scale)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float) (ntg_rng_normal(&rng) * scale);
}

static void
check_rows(void)
{
	float		w[2][3] = {{0.5f, -1.0f, 0.25f}, {0, 0, 0}};
	int8_t		q[6];
	float		s[2];
	float		big[40 * 33];
	int8_t		bq[40 * 33];
	float		bs[40];
	double		worst = 0;
	int			range = 1;

	nn_quantize_rows(q, s, &w[0][0], 2, 3);
	ok(s[0] == 1.0f / 127.0f && q[0] == 64 && q[1] == -127 && q[2] == 32,
	   "a row: scale max/127, round half to even (63.5 -> 64): %d %d %d", q[0], q[1], q[2]);
	ok(s[1] == 1.0f && q[3] == 0 && q[4] == 0 && q[5] == 0, "a row of zeros: scale 1, weights 0");
	fill(big, 40 * 33, 0.3f);
	nn_quantize_rows(bq, bs, big, 40, 33);
	for (int o = 0; o < 40; o++)
		for (int i = 0; i < 33; i++)
		{
			double		e = fabs(bq[o * 33 + i] * (double) bs[o] - big[o * 33 + i]) / bs[o];

			worst = e > worst ? e : worst;
			range &= bq[o * 33 + i] != -128;
		}
	ok(worst <= 0.5 + 1e-5 && range, "dequantized weights within scale/2 (worst %.4f scale), in [-127, 127]",
	   worst);
}

/* The reference product: row-major int8 activations and weights. */
static int32_t
naive_dot(const int8_t *x, const int8_t *w, int C)
{
	int32_t		s = 0;

	for (int i = 0; i < C; i++)
		s += (int32_t) x[i] * w[i];
	return s;
}

typedef struct Case
{
	int			N,
				OC,
				C;
} Case;

static const Case cases[] = {
	{1, 1, 1}, {1, 16, 4}, {2, 17, 7}, {3, 15, 3}, {4, 32, 16}, {5, 33, 161}, {9, 100, 160},
	{1, 480, 160}, {64, 640, 160}, {7, 160, 320}, {13, 48, 65}, {1, 7, 2}
};
#define N_CASES ((int) (sizeof(cases) / sizeof(cases[0])))

/* Activations of case c: random, a row of zeros, a row with one huge value. */
static void
make_x(float *x, const Case *c)
{
	fill(x, (size_t) c->N * c->C, 1.0f);
	if (c->N > 2)
		memset(x + (size_t) c->C, 0, c->C * sizeof(float));
	if (c->N > 3)
		x[(size_t) 3 * c->C] = 1e4f;
}

static void
check_levels(void)
{
	int			best = nn_qsimd_level();

	printf("# this CPU runs level %d (%s)\n", best, nn_qsimd_name(best));
	for (int level = NN_QSIMD_SCALAR; level <= NN_QSIMD_VNNI; level++)
	{
		int			acts_same = 1,
					i32_same = 1,
					dyn_same = 1,
					extreme_same = 1;

		if (level > best)
		{
			ok(1, "# SKIP level %s: not on this CPU", nn_qsimd_name(level));
			continue;
		}
		for (int ci = 0; ci < N_CASES; ci++)
		{
			const Case *c = &cases[ci];
			float	   *x = malloc(sizeof(float) * c->N * c->C);
			float	   *w = malloc(sizeof(float) * c->OC * c->C);
			int8_t	   *q = malloc(c->OC * c->C);
			float	   *s = malloc(sizeof(float) * c->OC);
			int32_t    *got = malloc(sizeof(int32_t) * c->N * (c->OC + 3));
			float	   *fs = malloc(sizeof(float) * c->N * c->OC),
					   *fl = malloc(sizeof(float) * c->N * c->OC);
			void	   *scr0 = malloc(nn_qacts_bytes(c->N, c->C)),
					   *scr1 = malloc(nn_qacts_bytes(c->N, c->C));
			NnQActs		a0,
						a1;
			NnQPack		pk;

			make_x(x, c);
			fill(w, (size_t) c->OC * c->C, 0.05f);
			nn_quantize_rows(q, s, w, c->OC, c->C);
			nn_qpack_build(&pk, q, s, c->OC, c->C);
			nn_qsimd_force(NN_QSIMD_SCALAR);
			nn_quantize_acts(&a0, scr0, x, c->N, c->C);
			nn_qsimd_force(level);
			nn_quantize_acts(&a1, scr1, x, c->N, c->C);
			acts_same &= memcmp(a0.scale, a1.scale, sizeof(float) * c->N) == 0 &&
				memcmp(a0.q, a1.q, (size_t) c->N * a0.C4) == 0;
			/* int32 products (ldo wider than OC: nothing written past OC) */
			for (int k = 0; k < c->N * (c->OC + 3); k++)
				got[k] = 0x5a5a5a5a;
			nn_qgemm_i32(got, c->OC + 3, &a1, &pk, level);
			for (int n = 0; n < c->N; n++)
			{
				for (int o = 0; o < c->OC; o++)
					i32_same &= got[n * (c->OC + 3) + o] ==
						naive_dot(a1.q + (size_t) n * a1.C4, q + (size_t) o * c->C, c->C);
				for (int o = c->OC; o < c->OC + 3; o++)
					i32_same &= got[n * (c->OC + 3) + o] == 0x5a5a5a5a;
			}
			nn_qgemm_dynamic(fs, c->OC, &a1, &pk, NN_QSIMD_SCALAR);
			nn_qgemm_dynamic(fl, c->OC, &a1, &pk, level);
			dyn_same &= memcmp(fs, fl, sizeof(float) * c->N * c->OC) == 0;
			/* the largest magnitudes: no saturation anywhere (VNNI's biased operand included) */
			for (int k = 0; k < c->OC * c->C; k++)
				q[k] = (k % 3 == 0) ? -127 : 127;
			for (int k = 0; k < c->N * a1.C4; k++)
				if (k % a1.C4 < c->C)
					a1.q[k] = (k % 5 == 0) ? 127 : -127;
			nn_qacts_rebias(&a1);
			nn_qpack_free(&pk);
			nn_qpack_build(&pk, q, s, c->OC, c->C);
			nn_qgemm_i32(got, c->OC + 3, &a1, &pk, level);
			for (int n = 0; n < c->N; n++)
				for (int o = 0; o < c->OC; o++)
					extreme_same &= got[n * (c->OC + 3) + o] ==
						naive_dot(a1.q + (size_t) n * a1.C4, q + (size_t) o * c->C, c->C);
			nn_qpack_free(&pk);
			free(x), free(w), free(q), free(s), free(got), free(fs), free(fl), free(scr0), free(scr1);
		}
		ok(acts_same, "level %s: activations quantized to the scalar code's bytes and scales",
		   nn_qsimd_name(level));
		ok(i32_same, "level %s: int32 dot products equal the naive product, %d shapes",
		   nn_qsimd_name(level), N_CASES);
		ok(extreme_same, "level %s: and at +-127 everywhere (no saturation)", nn_qsimd_name(level));
		ok(dyn_same, "level %s: dynamic-mode floats are the scalar kernel's bits",
		   nn_qsimd_name(level));
	}
	nn_qsimd_force(-1);
}

/* Activations quantized below the VNNI level carry no biased copy: a product at the VNNI level
 * of them must still be right (it runs the AVX2 kernel), and after nn_qacts_rebias the VNNI one. */
static void
check_unbiased_at_vnni(void)
{
	const int	N = 5,
				OC = 33,
				C = 161;
	float		x[5 * 161],
				w[33 * 161],
				s[33];
	int8_t		q[33 * 161];
	int32_t		got[5 * 33];
	void	   *scr = malloc(nn_qacts_bytes(N, C));
	NnQActs		a;
	NnQPack		pk;
	int			same = 1,
				biased_after;

	if (nn_qsimd_level() < NN_QSIMD_VNNI)
	{
		free(scr);
		skip(2, "no AVX-512 VNNI on this CPU");
		return;
	}
	fill(x, (size_t) N * C, 1.0f);
	fill(w, (size_t) OC * C, 0.05f);
	nn_quantize_rows(q, s, w, OC, C);
	nn_qpack_build(&pk, q, s, OC, C);
	nn_qsimd_force(NN_QSIMD_AVX2);
	nn_quantize_acts(&a, scr, x, N, C);
	nn_qsimd_force(-1);
	memset(a.qb, 0x55, (size_t) N * a.C4);	/* what an unwritten copy could hold */
	nn_qgemm_i32(got, OC, &a, &pk, NN_QSIMD_VNNI);
	for (int n = 0; n < N; n++)
		for (int o = 0; o < OC; o++)
			same &= got[n * OC + o] == naive_dot(a.q + (size_t) n * a.C4, q + (size_t) o * C, C);
	ok(!a.biased && same, "activations quantized at the AVX2 level multiply right at the VNNI level");
	nn_qacts_rebias(&a);
	biased_after = a.biased;
	nn_qgemm_i32(got, OC, &a, &pk, NN_QSIMD_VNNI);
	for (int n = 0; n < N; n++)
		for (int o = 0; o < OC; o++)
			same &= got[n * OC + o] == naive_dot(a.q + (size_t) n * a.C4, q + (size_t) o * C, C);
	ok(biased_after && same, "and after nn_qacts_rebias, through the VNNI kernel");
	nn_qpack_free(&pk);
	free(scr);
}

/* y = x w^T in double; sum |x|, sum |w|, and float rounding room: 1e-6 C sum |x w| */
static double
float_dot(const float *x, const float *w, int C, double *abs_x, double *abs_w, double *room)
{
	double		s = 0;

	*abs_x = *abs_w = *room = 0;
	for (int i = 0; i < C; i++)
	{
		s += (double) x[i] * w[i];
		*abs_x += fabs(x[i]);
		*abs_w += fabs(w[i]);
		*room += fabs((double) x[i] * w[i]);
	}
	*room *= 1e-6 * C;
	return s;
}

/* sum_i |x_i q_i scale|: the magnitude of a weight-only sum's terms */
static double
wo_terms(const float *x, const int8_t *q, float scale, int C)
{
	double		s = 0;

	for (int i = 0; i < C; i++)
		s += fabs((double) x[i] * q[i] * scale);
	return s;
}

static void
check_bounds(void)
{
	int			best = nn_qsimd_level();

	for (int level = NN_QSIMD_SCALAR; level <= best; level++)
	{
		double		worst_wo = 0,
					worst_dyn = 0,
					worst_order = 0,
					err_wo = 0,
					err_dyn = 0;

		for (int ci = 0; ci < N_CASES; ci++)
		{
			const Case *c = &cases[ci];
			float	   *x = malloc(sizeof(float) * c->N * c->C);
			float	   *w = malloc(sizeof(float) * c->OC * c->C);
			int8_t	   *q = malloc(c->OC * c->C);
			float	   *s = malloc(sizeof(float) * c->OC);
			float	   *yw = malloc(sizeof(float) * c->N * c->OC),
					   *ys = malloc(sizeof(float) * c->N * c->OC),
					   *yd = malloc(sizeof(float) * c->N * c->OC);
			void	   *scr = malloc(nn_qacts_bytes(c->N, c->C));
			NnQActs		a;
			NnQPack		pk;

			make_x(x, c);
			fill(w, (size_t) c->OC * c->C, 0.05f);
			nn_quantize_rows(q, s, w, c->OC, c->C);
			nn_qpack_build(&pk, q, s, c->OC, c->C);
			nn_qsimd_force(level);
			nn_quantize_acts(&a, scr, x, c->N, c->C);
			nn_qgemm_weight_only(yw, c->OC, x, c->N, &pk, level);
			nn_qgemm_weight_only(ys, c->OC, x, c->N, &pk, NN_QSIMD_SCALAR);
			nn_qgemm_dynamic(yd, c->OC, &a, &pk, level);
			for (int n = 0; n < c->N; n++)
				for (int o = 0; o < c->OC; o++)
				{
					double		ax,
								aw,
								room,
								y = float_dot(x + (size_t) n * c->C, w + (size_t) o * c->C, c->C,
											  &ax, &aw, &room);
					double		bw = s[o] / 2 * ax + room + 1e-6;
					double		bd = bw + a.scale[n] / 2 * aw + c->C * a.scale[n] * s[o] / 4;
					double		ew = fabs(yw[n * c->OC + o] - y),
								ed = fabs(yd[n * c->OC + o] - y);

					worst_wo = unit_worst(worst_wo, ew / bw);
					/* against the scalar kernel: the same terms summed in another order */
					worst_order = unit_worst(worst_order, fabs(yw[n * c->OC + o] - ys[n * c->OC + o]) /
											 (1e-6 * c->C * wo_terms(x + (size_t) n * c->C, q + (size_t) o * c->C,
																		  s[o], c->C) + 1e-30));
					worst_dyn = unit_worst(worst_dyn, ed / bd);
					err_wo = fmax(err_wo, ew);
					err_dyn = fmax(err_dyn, ed);
				}
			nn_qpack_free(&pk);
			free(x), free(w), free(q), free(s), free(yw), free(ys), free(yd), free(scr);
		}
		ok(worst_order <= 1.0, "level %s: weight-only within float rounding of the scalar kernel "
		   "(%.3g of 1e-6 C sum |x q scale|)", nn_qsimd_name(level), worst_order);
		ok(worst_wo <= 1.0, "level %s: weight-only within its bound of the float product "
		   "(largest error %.3g, %.2f of the bound)", nn_qsimd_name(level), err_wo, worst_wo);
		ok(worst_dyn <= 1.0, "level %s: dynamic within its bound of the float product "
		   "(largest error %.3g, %.2f of the bound)", nn_qsimd_name(level), err_dyn, worst_dyn);
	}
	nn_qsimd_force(-1);
}

/* Params like a model's: a norm, three [8, 20] matrices used as one [24, 20], an embedding, a
 * [30, 20] head of which the first 21 rows are used. */
static void
make_params(NnParams *p)
{
	memset(p, 0, sizeof(*p));
	nn_params_declare(p, "emb", 2, 11, 20, 1);
	nn_params_declare(p, "norm", 1, 20, 0, 0);
	nn_params_declare(p, "wq", 2, 8, 20, 1);
	nn_params_declare(p, "wk", 2, 8, 20, 1);
	nn_params_declare(p, "wv", 2, 8, 20, 1);
	nn_params_declare(p, "head", 2, 30, 20, 1);
	nn_params_alloc(p, 1);
	for (int i = 0; i < p->n_tensors; i++)
		nn_params_init_normal(p, i, &rng, 0.1f, 1.0f);
	nn_params_mark_quantizable(p, 0, NN_QUANTIZE_ROWS);
	nn_params_mark_quantizable(p, 1, NN_QUANTIZE_MATMUL);	/* 1-D: refused, stays float */
	for (int i = 2; i <= 5; i++)
		nn_params_mark_quantizable(p, i, NN_QUANTIZE_MATMUL);
}

static void
check_params(void)
{
	NnParams	p,
				f;
	float		x[5 * 20],
				y[5 * 24],
				want[5 * 24],
				yh[5 * 21],
				e[3 * 20],
				norm[20];
	int32_t		tok[3] = {0, 10, 4};
	NtgError	err = {0};
	int			same = 1;
	int64_t		n;

	make_params(&p);
	make_params(&f);
	memcpy(f.data, p.data, p.count * sizeof(float));
	memcpy(norm, nn_params_ptr(&p, 1), sizeof(norm));
	fill(x, 5 * 20, 1.0f);
	ok(nn_params_quantizable(&p, &n) == 5 && n == 11 * 20 + 3 * 8 * 20 + 30 * 20,
	   "the marked matrices count (a 1-D tensor is never marked)");
	nn_matmul(want, x, &f, 2, 5, 20, 24);
	linear_forward(y, x, nn_params_ptr(&f, 2), 5, 20, 24);
	ok(memcmp(y, want, sizeof(y)) == 0, "float params: nn_matmul is linear_forward");
	ok(nn_params_quantize(&p, NN_QUANT_DYNAMIC, &err) == NTG_OK && p.quant == NN_QUANT_DYNAMIC &&
	   p.grad == NULL && p.count == 20 && p.qcount == (size_t) n,
	   "quantized in place: float buffer holds the norm only, no gradients");
	ok(nn_params_ptr(&p, 2) == NULL && memcmp(nn_params_ptr(&p, 1), norm, sizeof(norm)) == 0,
	   "an int8 tensor has no float view; the norm is unchanged");
	/* spanning wq|wk|wv: each part as its own product */
	nn_matmul(y, x, &p, 2, 5, 20, 24);
	for (int part = 0; part < 3; part++)
	{
		float		one[5 * 8];
		NnQActs		a;
		void	   *scr = malloc(nn_qacts_bytes(5, 20));

		nn_quantize_acts(&a, scr, x, 5, 20);
		nn_qgemm_dynamic(one, 8, &a, p.tensors[2 + part].pack, nn_qsimd_level());
		for (int r = 0; r < 5; r++)
			same &= memcmp(y + r * 24 + part * 8, one + r * 8, 8 * sizeof(float)) == 0;
		free(scr);
	}
	ok(same, "a product spanning three int8 tensors is the three products side by side");
	{
		double		worst = 0;

		for (int k = 0; k < 5 * 24; k++)
			worst = unit_worst(worst, fabs(y[k] - want[k]));
		ok(worst < 0.05, "and close to the float product (largest difference %.4f)", worst);
	}
	nn_matmul(yh, x, &p, 5, 5, 20, 21);
	{
		float		full[5 * 30];
		int			first = 1;

		nn_matmul(full, x, &p, 5, 5, 20, 30);
		for (int r = 0; r < 5; r++)
			first &= memcmp(yh + r * 21, full + r * 30, 21 * sizeof(float)) == 0;
		ok(first, "the first 21 rows of a head are those of the whole product");
	}
	nn_embed(e, tok, &p, 0, 3, 20);
	{
		double		worst = 0;

		for (int r = 0; r < 3; r++)
			for (int i = 0; i < 20; i++)
				worst = unit_worst(worst, fabs(e[r * 20 + i] - nn_params_ptr(&f, 0)[tok[r] * 20 + i]) /
							 p.tensors[0].scale[tok[r]]);
		ok(worst <= 0.5 + 1e-5 && p.tensors[0].pack == NULL,
		   "embedding rows dequantized within scale/2 (%.3f), no pack for a looked-up matrix", worst);
	}
	ok(nn_params_quantize(&p, NN_QUANT_WEIGHT_ONLY, &err) == NTG_OK &&
	   p.quant == NN_QUANT_WEIGHT_ONLY, "a quantized buffer changes mode");
	nn_matmul(y, x, &p, 2, 5, 20, 24);
	{
		double		worst = 0;

		for (int k = 0; k < 5 * 24; k++)
			worst = unit_worst(worst, fabs(y[k] - want[k]));
		ok(worst < 0.05, "weight-only close to the float product too (%.4f)", worst);
	}
	ok(nn_params_quantize(&p, 7, &err) == NTG_ERR_INVALID_ARG, "an unknown mode is refused");
	nn_params_free(&p);
	nn_params_free(&f);
}

/* The layout round_trip() loads into: make_params unless a test says otherwise. */
static void (*layout_fn) (NnParams *p) = make_params;

/* The stored bytes of the last round trip that lent them to what it loaded (borrow): they must
 * outlive it, so they go at the next round trip (each test frees back before the next) or at
 * the end. */
static uint8_t *lent;

/* Save p, optionally damage tensor `name` at element `at` with `bytes`, load into a fresh
 * layout (layout_fn); returns the load status. */
static int
round_trip(NnParams *p, const char *name, size_t at, const void *bytes, size_t len, int borrow,
		   NnParams *back)
{
	NtgBlob		blob;
	uint8_t    *buf;
	size_t		n;
	NtgError	err = {0};
	int			rc,
				mode;

	ntg_blob_init(&blob, "test", "{}");
	nn_params_save(&blob, p, &err);
	ntg_blob_serialize(&blob, &buf, &n, &err);
	ntg_blob_free(&blob);
	ntg_blob_parse(buf, n, &blob, &err);
	if (name != NULL)
		memcpy((uint8_t *) ntg_blob_find(&blob, name)->data + at, bytes, len);
	blob.borrow = borrow;
	layout_fn(back);			/* the layout; its buffers go */
	ntg_free_aligned(back->data), ntg_free(back->grad), ntg_free(back->m), ntg_free(back->v);
	back->data = back->grad = back->m = back->v = NULL;
	rc = nn_params_stored_mode(&blob, &mode, &err);
	if (rc == NTG_OK)
	{
		nn_params_quant_layout(back, mode);
		rc = !nn_params_check_stored(&blob, back) ? NTG_ERR_CORRUPT :
			ntg_blob_kind_tensors(&blob) != nn_params_stored_tensors(back) ? NTG_ERR_CORRUPT :
			nn_params_load(&blob, back, &err);
	}
	if (name == NULL && rc == NTG_OK && !borrow)
	{
		/* the loaded copy owns its bytes: free the stored value now */
		ntg_blob_free(&blob);
		ntg_free(buf);
		return rc;
	}
	ntg_blob_free(&blob);
	ntg_free(lent);
	lent = NULL;
	if (rc != NTG_OK || !borrow)
		ntg_free(buf);
	else
		lent = buf;
	return rc;
}

static void
check_store(void)
{
	NnParams	p,
				back;
	NtgError	err = {0};
	float		zero = 0.0f,
				neg = -1.0f,
				nan = NAN,
				inf = INFINITY;
	int8_t		m128 = -128;
	int32_t		bad_mode = 3;
	int			same = 1,
				refused;

	make_params(&p);
	nn_params_quantize(&p, NN_QUANT_DYNAMIC, &err);
	ok(round_trip(&p, NULL, 0, NULL, 0, 0, &back) == NTG_OK && back.quant == NN_QUANT_DYNAMIC,
	   "quantized params load back");
	for (int i = 0; i < p.n_tensors; i++)
		if (p.tensors[i].quantizable)
			same &= memcmp(p.tensors[i].q, back.tensors[i].q, p.tensors[i].count) == 0 &&
				memcmp(p.tensors[i].scale, back.tensors[i].scale, p.tensors[i].dims[0] * 4) == 0;
		else
			same &= memcmp(nn_params_ptr(&p, i), nn_params_ptr(&back, i), p.tensors[i].count * 4) == 0;
	ok(same && nn_params_stored_tensors(&p) == 6 + 5 + 1, "with the same int8 weights, scales and floats");
	nn_params_free(&back);
	ok(round_trip(&p, "wk.scale", 3 * 4, &zero, 4, 0, &back) == NTG_ERR_CORRUPT,
	   "a scale of 0 is refused");
	nn_params_free(&back);
	ok(round_trip(&p, "head.scale", 29 * 4, &neg, 4, 0, &back) == NTG_ERR_CORRUPT,
	   "a negative scale is refused");
	nn_params_free(&back);
	refused = round_trip(&p, "emb.scale", 0, &nan, 4, 1, &back) == NTG_ERR_CORRUPT;
	nn_params_free(&back);
	ok(refused && round_trip(&p, "emb.scale", 4, &inf, 4, 0, &back) == NTG_ERR_CORRUPT,
	   "NaN and infinite scales are refused (borrowing the bytes or not)");
	nn_params_free(&back);
	ok(round_trip(&p, "wv", 17, &m128, 1, 0, &back) == NTG_ERR_CORRUPT,
	   "an int8 weight of -128 is refused");
	nn_params_free(&back);
	ok(round_trip(&p, "quantization", 0, &bad_mode, 4, 0, &back) == NTG_ERR_CORRUPT,
	   "an unknown stored mode is refused");
	nn_params_free(&back);
	ok(round_trip(&p, "norm", 2 * 4, &nan, 4, 0, &back) == NTG_ERR_CORRUPT,
	   "a float weight that is not finite is refused in a quantized model too");
	nn_params_free(&back);
	nn_params_free(&p);
	/* a float buffer read as if the mode said int8: the shapes disagree */
	make_params(&p);
	ok(round_trip(&p, NULL, 0, NULL, 0, 0, &back) == NTG_OK && back.quant == NN_QUANT_NONE,
	   "float params load back as float");
	nn_params_free(&back);
	nn_params_free(&p);
}

/* A matrix marked NN_QUANTIZE_STORED ("alog", between a multiplied one and a norm). */
static void
make_stored_params(NnParams *p)
{
	memset(p, 0, sizeof(*p));
	nn_params_declare(p, "w", 2, 8, 20, 1);
	nn_params_declare(p, "alog", 2, 6, 4, 0);
	nn_params_declare(p, "norm", 1, 20, 0, 0);
	nn_params_alloc(p, 1);
	for (int i = 0; i < p->n_tensors; i++)
		nn_params_init_normal(p, i, &rng, 0.5f, 1.0f);
	nn_params_mark_quantizable(p, 0, NN_QUANTIZE_MATMUL);
	nn_params_mark_quantizable(p, 1, NN_QUANTIZE_STORED);
}

/* Stored as int8, read as floats: the floats are the int8 weights dequantized, the same after a
 * load (borrowing the stored bytes or not), and damaged int8 values are refused like any. */
static void
check_stored_only(void)
{
	NnParams	p,
				f,
				back;
	NtgError	err = {0};
	NtgBlob		blob;
	const float *a;
	double		worst = 0;
	int			exact = 1;
	int8_t		m128 = -128;
	float		huge = 3e38f;

	layout_fn = make_stored_params;
	make_stored_params(&p);
	make_stored_params(&f);
	memcpy(p.data, f.data, p.count * sizeof(float));
	ok(nn_params_quantize(&p, NN_QUANT_DYNAMIC, &err) == NTG_OK && p.count == 6 * 4 + 20 &&
	   p.qcount == 8 * 20 + 6 * 4 && p.qrows == 8 + 6,
	   "quantized: the stored-only matrix keeps a float view and has int8 weights too");
	a = nn_params_ptr(&p, 1);
	ok(a != NULL && nn_params_ptr(&p, 0) == NULL && p.tensors[1].pack == NULL,
	   "it is read through nn_params_ptr; the multiplied matrix is not, and only it is packed");
	for (int r = 0; r < 6; r++)
		for (int c = 0; c < 4; c++)
		{
			exact &= a[r * 4 + c] == (float) p.tensors[1].q[r * 4 + c] * p.tensors[1].scale[r];
			worst = unit_worst(worst, fabs(a[r * 4 + c] - nn_params_ptr(&f, 1)[r * 4 + c]) /
						 p.tensors[1].scale[r]);
		}
	ok(exact && worst <= 0.5 + 1e-5,
	   "its floats are its int8 weights dequantized, within scale/2 of the float values (%.3f)", worst);
	ok(memcmp(nn_params_ptr(&p, 2), nn_params_ptr(&f, 2), 20 * sizeof(float)) == 0,
	   "the norm after it is unchanged");
	ntg_blob_init(&blob, "test", "{}");
	nn_params_save(&blob, &p, &err);
	ok(ntg_blob_find(&blob, "alog")->dtype == NTG_DTYPE_I8 && ntg_blob_find(&blob, "alog.scale") != NULL &&
	   nn_params_stored_tensors(&p) == 3 + 2 + 1, "it is stored as int8 with its scales");
	ntg_blob_free(&blob);
	for (int borrow = 0; borrow <= 1; borrow++)
	{
		ok(round_trip(&p, NULL, 0, NULL, 0, borrow, &back) == NTG_OK && !back.borrowed &&
		   memcmp(nn_params_ptr(&back, 1), a, 24 * sizeof(float)) == 0 &&
		   memcmp(nn_params_ptr(&back, 2), nn_params_ptr(&p, 2), 20 * sizeof(float)) == 0 &&
		   memcmp(back.tensors[0].q, p.tensors[0].q, 160) == 0,
		   "loaded (%s the stored bytes): the same floats, read from its int8 weights",
		   borrow ? "borrowing" : "copying");
		nn_params_free(&back);
	}
	ok(round_trip(&p, "alog", 5, &m128, 1, 0, &back) == NTG_ERR_CORRUPT,
	   "an int8 weight of -128 in it is refused");
	nn_params_free(&back);
	ok(round_trip(&p, "alog.scale", 4, &huge, 4, 0, &back) == NTG_ERR_CORRUPT,
	   "a scale whose dequantized weights overflow is refused");
	nn_params_free(&back);
	nn_params_free(&p);
	/* not quantized: the mark changes nothing */
	ok(round_trip(&f, NULL, 0, NULL, 0, 1, &back) == NTG_OK && back.quant == NN_QUANT_NONE &&
	   memcmp(nn_params_ptr(&back, 1), nn_params_ptr(&f, 1), 24 * sizeof(float)) == 0,
	   "float params with the mark store and load it as float32");
	nn_params_free(&back);
	nn_params_free(&f);
	layout_fn = make_params;
}

/* Which tensors can be marked: matrices up to NN_QMAX_IN inputs (wider ones would overflow the
 * int32 sums of the dynamic kernels), never vectors; declared only, nothing allocated. */
static void
check_marking(void)
{
	NnParams	p;

	memset(&p, 0, sizeof(p));
	nn_params_declare(&p, "at_limit", 2, 2, NN_QMAX_IN, 1);
	nn_params_declare(&p, "too_wide", 2, 2, NN_QMAX_IN + 1, 1);
	nn_params_declare(&p, "vector", 1, 64, 0, 0);
	for (int i = 0; i < 3; i++)
		nn_params_mark_quantizable(&p, i, NN_QUANTIZE_MATMUL);
	ok(p.tensors[0].quantizable == NN_QUANTIZE_MATMUL, "a matrix of %d inputs can be marked",
	   NN_QMAX_IN);
	ok(p.tensors[1].quantizable == 0, "a matrix of %d inputs stays float32", NN_QMAX_IN + 1);
	ok(p.tensors[2].quantizable == 0, "a vector stays float32");
	nn_params_mark_quantizable(&p, 0, 0);
	ok(p.tensors[0].quantizable == 0, "marking with 0 unmarks");
	nn_params_free(&p);
}

/*
 * Where the stored tensors land in the serialized value: a float model's weights start on a cache
 * line of the value (a loaded model computes from them in place), whatever the header before them
 * (config lengths 0 .. 15, a 3-element tensor in front); a quantized model loads back borrowing.
 */
static void
check_store_alignment(void)
{
	int			floats_aligned = 1,
				borrowed = 1;

	for (int mode = NN_QUANT_NONE; mode <= NN_QUANT_DYNAMIC; mode += NN_QUANT_DYNAMIC)
		for (int k = 0; k < 16; k++)
		{
			NnParams	p,
						back;
			NtgBlob		blob;
			NtgError	err = {0};
			uint8_t    *buf;
			size_t		n;
			char		config[32];
			int32_t		vocab[3] = {1, 2, 3};
			uint32_t	d3[1] = {3};
			int			stored_mode;

			snprintf(config, sizeof(config), "{\"k\": \"%.*s\"}", k, "xxxxxxxxxxxxxxxx");
			make_params(&p);
			if (mode != NN_QUANT_NONE)
				nn_params_quantize(&p, mode, &err);
			ntg_blob_init(&blob, "test", config);
			ntg_blob_add(&blob, "vocab", NTG_DTYPE_I32, 1, d3, vocab, &err);
			nn_params_save(&blob, &p, &err);
			ntg_blob_serialize(&blob, &buf, &n, &err);
			ntg_blob_free(&blob);
			ntg_blob_parse(buf, n, &blob, &err);
			blob.borrow = 1;
			make_params(&back);
			ntg_free_aligned(back.data), ntg_free(back.grad), ntg_free(back.m), ntg_free(back.v);
			back.data = back.grad = back.m = back.v = NULL;
			nn_params_stored_mode(&blob, &stored_mode, &err);
			nn_params_quant_layout(&back, stored_mode);
			if (nn_params_load(&blob, &back, &err) != NTG_OK)
				borrowed = 0;
			else if (mode == NN_QUANT_NONE)
			{
				borrowed &= back.borrowed;
				floats_aligned &= ((const uint8_t *) back.data - buf) % NTG_BLOB_ALIGN == 0;
			}
			nn_params_free(&back);
			nn_params_free(&p);
			ntg_blob_free(&blob);
			ntg_free(buf);
		}
	ok(borrowed, "stored params, float and int8, load back borrowing their bytes, for 16 header lengths");
	ok(floats_aligned, "a float model's weights start at a %d-byte boundary of the stored value",
	   NTG_BLOB_ALIGN);
	{
		NnParams	p;
		NtgError	err = {0};
		int			at_alloc,
					at_quantize;

		make_params(&p);
		at_alloc = (uintptr_t) p.data % NTG_ALIGN == 0;
		nn_params_quantize(&p, NN_QUANT_DYNAMIC, &err);
		at_quantize = (uintptr_t) p.data % NTG_ALIGN == 0;
		nn_params_free(&p);
		ok(at_alloc && at_quantize, "weights allocated by the params (and a quantized copy's floats) start on a cache line");
	}
}

int
main(void)
{
	ntg_rng_seed(&rng, 20240611);
	check_rows();
	check_levels();
	check_unbiased_at_vnni();
	check_bounds();
	check_marking();
	check_params();
	check_store();
	check_store_alignment();
	check_stored_only();
	ntg_free(lent);
	return done_testing();
}
