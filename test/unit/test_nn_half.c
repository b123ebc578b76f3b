/*
 * test_nn_half.c — float16 weights: the conversions (every float16 value, rounding ties to even,
 * the range's ends), the F16C and portable kernels against each other, the one-row product from
 * a float16 copy against the float32 one bit for bit, and the params' copy (what is rounded,
 * when the copy is built, used and dropped).
 */
#include <math.h>
#include <string.h>

#include "common/rng.h"
#include "nn/nn.h"
#include "nn/nn_simd.h"
#include "unit.h"

static NtgRng rng;

/* Every float16 value widens to a float that narrows back to it (NaNs to a NaN). */
static void
test_every_half(void)
{
	int			bad = 0;

	for (uint32_t h = 0; h <= 0xffff; h++)
	{
		float		f = nn_half_to_float((uint16_t) h);
		int			nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;

		if (nan ? !isnan(f) : nn_float_to_half(f) != h)
			bad++;
	}
	is_int(bad, 0, "every float16 value widens and narrows back to itself");
	ok(nn_half_to_float(0x3c00) == 1.0f && nn_half_to_float(0xc000) == -2.0f &&
	   nn_half_to_float(0x7bff) == 65504.0f && nn_half_to_float(0x0001) == 0x1p-24f &&
	   nn_half_to_float(0x0400) == 0x1p-14f && isinf(nn_half_to_float(0xfc00)) &&
	   signbit(nn_half_to_float(0x8000)) && nn_half_to_float(0x8000) == 0.0f,
	   "known float16 values: 1, -2, 65504, the smallest subnormal and normal, -inf, -0");
}

/* Rounding to nearest with ties to even, in the normal and the subnormal range and at the top. */
static void
test_rounding(void)
{
	ok(nn_float_to_half(1.0f + 0x1p-11f) == 0x3c00 &&
	   nn_float_to_half(1.0f + 3 * 0x1p-11f) == 0x3c02 &&
	   nn_float_to_half(1.0f + 0x1p-11f + 0x1p-20f) == 0x3c01,
	   "normal range: a tie goes to the even neighbour, just above it rounds up");
	ok(nn_float_to_half(0x1p-25f) == 0x0000 && nn_float_to_half(3 * 0x1p-25f) == 0x0002 &&
	   nn_float_to_half(0x1.8p-25f) == 0x0001 && nn_float_to_half(-0x1p-26f) == 0x8000,
	   "subnormal range: ties to even, tiny values to a signed zero");
	ok(nn_float_to_half(0x1.ffcp-15f) == 0x0400 && nn_float_to_half(0x1.ff8p-15f) == 0x03ff,
	   "the largest subnormal rounds up into the smallest normal only past half its ulp");
	ok(nn_float_to_half(65519.996f) == 0x7bff && nn_float_to_half(65520.0f) == 0x7c00 &&
	   nn_float_to_half(-1e30f) == 0xfc00 && nn_float_to_half(INFINITY) == 0x7c00,
	   "the top: below 65520 rounds to 65504, from it on to infinity");
	ok((nn_float_to_half(NAN) & 0x7e00) == 0x7e00, "NaN stays a quiet NaN");
}

/* Random floats of every size: the vector conversion (F16C) gives the portable one's bits. */
static void
test_vector_conversion(void)
{
	enum
	{
		N = 20011
	};
	static float x[N],
				r2[N],
				r0[N];
	static uint16_t h2[N],
				h0[N];
	int			e2,
				e0;

	for (int i = 0; i < N; i++)
	{
		double		mag = ldexp(1.0, (int) ntg_rng_below(&rng, 80) - 40);

		x[i] = (float) (ntg_rng_normal(&rng) * mag);
	}
	x[3] = NAN, x[4] = -INFINITY, x[5] = -0.0f, x[6] = 65520.0f, x[7] = 0x1p-25f;
	nn_simd_force(2);
	e2 = nn_to_half(h2, r2, x, N);
	nn_simd_force(0);
	e0 = nn_to_half(h0, r0, x, N);
	nn_simd_force(2);
	ok(memcmp(h2, h0, sizeof(h0)) == 0 && memcmp(r2, r0, sizeof(r0)) == 0 && e2 == 0 && e0 == 0,
	   "the CPU's conversion (level %d) and the portable one agree on %d values, and see them inexact",
	   nn_simd_level(), N);
	for (int i = 0; i < N; i++)
		x[i] = isnan(r0[i]) || isinf(r0[i]) ? 1.0f : r0[i];
	ok(nn_to_half(NULL, NULL, x, N) == 1 && nn_to_half(NULL, NULL, x, 7) == 1,
	   "values rounded once are float16 values (vector and tail)");
	x[N - 1] = nextafterf(x[N - 1], INFINITY);
	ok(nn_to_half(NULL, NULL, x, N) == 0, "one inexact value in the tail is seen");
	x[N - 1] = 1.0f, x[8] = 1.0f + 0x1p-12f;
	ok(nn_to_half(NULL, NULL, x, N) == 0, "one inexact value in a vector is seen");
}

/*
 * nn_matvec_half gives nn_matvec's bits when the float32 weights are the float16 ones widened, on
 * every kernel level, for lengths through each loop and tail and matrices tall enough to
 * prefetch.
 */
static void
test_matvec_half(void)
{
	enum
	{
		ROWS = 23, MAXN = 203
	};
	static float w[ROWS * MAXN],
				x[MAXN];
	static uint16_t wh[ROWS * MAXN];
	static const int lens[] = {1, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 160, 203};
	int			same = 1,
				checked = 0;

	for (int i = 0; i < ROWS * MAXN; i++)
		w[i] = (float) ntg_rng_normal(&rng);
	for (int i = 0; i < MAXN; i++)
		x[i] = (float) ntg_rng_normal(&rng);
	nn_to_half(wh, w, w, ROWS * MAXN);
	for (int level = 0; level <= 2; level += 2)
	{
		nn_simd_force(level);
		for (int k = 0; k < (int) (sizeof(lens) / sizeof(lens[0])); k++)
			for (int rows = 1; rows <= ROWS; rows += 2)
			{
				int			n = lens[k];
				float		a[ROWS],
							b[ROWS];

				/* the same matrix laid out with n columns */
				nn_matvec(a, w, x, rows, n);
				nn_matvec_half(b, wh, x, rows, n);
				same &= memcmp(a, b, rows * sizeof(float)) == 0;
				checked += rows;
			}
	}
	nn_simd_force(2);
	ok(same && checked > 0, "float16 one-row products give the float32 bits (%d rows, levels 0 and %d)",
	   checked, nn_simd_level());
}

/* A params buffer like a model's: a matrix multiplied, a norm, a second matrix, an embedding. */
static void
make_params(NnParams *p, int *mat, int *norm, int *mat2, int *emb)
{
	memset(p, 0, sizeof(*p));
	*mat = nn_params_declare(p, "mat", 2, 12, 40, 1);
	*norm = nn_params_declare(p, "norm", 1, 40, 0, 0);
	*mat2 = nn_params_declare(p, "mat2", 2, 9, 40, 1);
	*emb = nn_params_declare(p, "emb", 2, 5, 40, 1);
	nn_params_mark_quantizable(p, *mat, NN_QUANTIZE_MATMUL);
	nn_params_mark_quantizable(p, *mat2, NN_QUANTIZE_MATMUL);
	nn_params_mark_quantizable(p, *emb, NN_QUANTIZE_ROWS);
	nn_params_alloc(p, 0);
	for (size_t i = 0; i < p->count; i++)
		p->data[i] = (float) ntg_rng_normal(&rng);
}

static int
tensor_is_half(const NnParams *p, int t)
{
	return nn_to_half(NULL, NULL, nn_params_ptr(p, t), (int) p->tensors[t].count);
}

static void
test_params(void)
{
	NnParams	p;
	int			mat,
				norm,
				mat2,
				emb;
	float		before[12 * 40],
				x[40],
				out_half[12],
				out_float[12];
	double		worst = 0.0;
	NtgError	err = {0};

	make_params(&p, &mat, &norm, &mat2, &emb);
	memcpy(before, nn_params_ptr(&p, mat), sizeof(before));
	nn_params_ptr(&p, mat2)[17] = 70000.0f;	/* beyond float16 */
	ok(nn_params_are_half(&p) == 0 && nn_params_half_prepare(&p) == 0 && p.half == NULL &&
	   p.half_state == -1, "float32 weights: no copy");
	is_int(nn_params_round_half(&p), 1, "rounding: one tensor rounded (the other holds 70000)");
	for (int i = 0; i < 12 * 40; i++)
		worst = unit_worst(worst, fabs(nn_params_ptr(&p, mat)[i] - before[i]) / fabs(before[i]));
	ok(tensor_is_half(&p, mat) && worst <= 0x1p-11 && worst > 0,
	   "the multiplied matrix now holds float16 values, each within 2^-11 of itself (worst %.3g)",
	   worst);
	ok(!tensor_is_half(&p, norm) && !tensor_is_half(&p, emb) && !tensor_is_half(&p, mat2),
	   "the norm, the embedding (looked up, not multiplied) and the matrix holding 70000 are left as they were");
	ok(nn_params_are_half(&p) == 0 && p.half == NULL, "one matrix left float32: still no copy");

	nn_params_ptr(&p, mat2)[17] = 7.0f;
	nn_params_half_drop(&p);	/* the weights changed */
	ok(nn_params_round_half(&p) == 2 && nn_params_are_half(&p) == 1 &&
	   nn_params_half_prepare(&p) == 1 && p.half != NULL && p.half_state == 1,
	   "every multiplied matrix float16: the copy is built");
	for (int i = 0; i < 40; i++)
		x[i] = (float) ntg_rng_normal(&rng);
	nn_matmul(out_half, x, &p, mat, 1, 40, 12);
	linear_forward(out_float, x, nn_params_ptr(&p, mat), 1, 40, 12);
	ok(memcmp(out_half, out_float, sizeof(out_half)) == 0,
	   "nn_matmul of one row through the copy: the float32 product's bits");
	/* the copy is what one-row products read: a change to it shows (so the test above is not vacuous) */
	p.half[p.tensors[mat].offset] ^= 0x0400;
	nn_matmul(out_half, x, &p, mat, 1, 40, 12);
	ok(memcmp(out_half, out_float, sizeof(out_half)) != 0, "and one-row products do read the copy");
	nn_params_half_drop(&p);
	ok(p.half == NULL && p.half_state == 0, "dropping forgets the copy and the verdict");
	ok(nn_params_half_prepare(&p) == 1, "built again on demand");
	ok(nn_params_quantize(&p, NN_QUANT_WEIGHT_ONLY, &err) == NTG_OK && p.half == NULL &&
	   nn_params_half_prepare(&p) == 0, "int8 replaces the copy; quantized params get none");
	nn_params_free(&p);
}

int
main(void)
{
	ntg_rng_seed(&rng, 99);
	test_every_half();
	test_rounding();
	test_vector_conversion();
	test_matvec_half();
	test_params();
	return done_testing();
}
