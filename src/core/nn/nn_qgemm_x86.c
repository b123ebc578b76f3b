/*
 * nn_qgemm_x86.c — the vector kernels of nn_quant.h: AVX2 (+FMA) and AVX-512 (F, BW, VNNI),
 * compiled with target attributes so that one build runs on any x86-64 CPU; nn_quant.c calls
 * them only where the CPU has the instructions (__builtin_cpu_supports).
 *
 * Packed weights (nn_quant.h): per block of 16 outputs, per group g of 4 inputs, 64 bytes
 * w[o][4g .. 4g+3] for o = 0..15.  Exactness of the int8 products:
 *   AVX2  multiplies |xq| (unsigned bytes) by q with xq's sign (vpsignb) into int16 pairs
 *         (vpmaddubsw: a pair is at most 2 * 127 * 127, no saturation), then pairs into int32
 *         (vpmaddwd with ones); the int32 sums are exact while C * 127 * 127 < 2^31.
 *   VNNI  vpdpbusd multiplies UNSIGNED bytes by signed ones, 4 products into each int32 lane
 *         without saturation.  The activations go in biased, xq + 128 in [1, 255], so it
 *         computes sum (xq + 128) q = acc + 128 * rowsum(q); the pack keeps rowsum to take it
 *         off again.  Exact while C * 255 * 127 < 2^31 (C <= 66000; models stay far below).
 * Activations are quantized with the scalar code's operations in the same order (max of |x|,
 * one multiplication by 127 / max, round half to even), and the float result is
 * (float) acc * (xs * scale[o]) on every path: the same bits as the scalar kernel.
 */
#include "nn/nn_quant.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* The register tiles below are arrays indexed by loops of 1 to 8 iterations: unrolled, they stay
 * in registers (GCC does not unroll them by itself at -O2). */
#define UNROLL _Pragma("GCC unroll 8")

int
nn_qkernels_built(void)
{
	return 1;
}

static inline int32_t
load4(const int8_t *p)
{
	int32_t		v;

	memcpy(&v, p, 4);
	return v;
}

/* ---- activations (AVX2; the VNNI level uses it too) ---------------------------------------- */

__attribute__((target("avx2,fma")))
static void
quantize_acts_avx2(int8_t *q, float *scale, const float *x, int N, int C, int C4)
{
	const __m256 sign = _mm256_set1_ps(-0.0f);
	const __m256i lim = _mm256_set1_epi32(NN_QUANT_MAX);
	const __m256i nlim = _mm256_set1_epi32(-NN_QUANT_MAX);

	for (int n = 0; n < N; n++)
	{
		const float *r = x + (size_t) n * C;
		int8_t	   *qr = q + (size_t) n * C4;
		__m256		m = _mm256_setzero_ps();
		__m256		vinv;
		float		lanes[8],
					amax = 0.0f,
					inv;
		int			i = 0;

		for (; i + 8 <= C; i += 8)
			m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(r + i)));
		_mm256_storeu_ps(lanes, m);
		for (int k = 0; k < 8; k++)
			amax = lanes[k] > amax ? lanes[k] : amax;
		for (; i < C; i++)
		{
			float		a = r[i] < 0 ? -r[i] : r[i];

			amax = a > amax ? a : amax;
		}
		scale[n] = nn_qrow_scale(amax, &inv);
		vinv = _mm256_set1_ps(inv);
		for (i = 0; i + 8 <= C; i += 8)
		{
			/* cvtps rounds half to even (the default MXCSR mode), as lrintf does */
			__m256i		v = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(r + i), vinv));
			__m128i		w;

			v = _mm256_max_epi32(_mm256_min_epi32(v, lim), nlim);
			w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
			w = _mm_packs_epi16(w, w);
			_mm_storel_epi64((__m128i *) (qr + i), w);
		}
		for (; i < C; i++)
		{
			float		v = r[i] * inv;

			v = v > NN_QUANT_MAX ? NN_QUANT_MAX : v < -NN_QUANT_MAX ? -NN_QUANT_MAX : v;
			qr[i] = (int8_t) _mm_cvtss_si32(_mm_set_ss(v));
		}
		for (; i < C4; i++)
			qr[i] = 0;
	}
}

/* ---- AVX2: dynamic ------------------------------------------------------------------------- */

/* The first `left` floats of f (all 8 when left >= 8, none when left <= 0) to dst. */
__attribute__((target("avx2,fma")))
static inline void
store_upto8_ps(float *dst, __m256 f, int left)
{
	float		tmp[8];

	if (left >= 8)
		_mm256_storeu_ps(dst, f);
	else if (left > 0)
	{
		_mm256_storeu_ps(tmp, f);
		memcpy(dst, tmp, left * sizeof(float));
	}
}

/* Store 8 int32 sums of outputs o .. o+7 of row n, as int32 or scaled floats, up to OC. */
__attribute__((target("avx2,fma")))
static inline void
store8_avx2(void *out, int ldo, int as_float, const NnQActs *x, const NnQPack *pk, int n, int o,
			__m256i v)
{
	int			left = pk->OC - o;

	if (left <= 0)
		return;
	if (as_float)
	{
		__m256		s = _mm256_mul_ps(_mm256_set1_ps(x->scale[n]), _mm256_loadu_ps(pk->scale + o));

		store_upto8_ps((float *) out + (size_t) n * ldo + o, _mm256_mul_ps(_mm256_cvtepi32_ps(v), s),
					   left);
	}
	else
	{
		int32_t    *dst = (int32_t *) out + (size_t) n * ldo + o;
		int32_t		tmp[8];

		if (left >= 8)
			_mm256_storeu_si256((__m256i *) dst, v);
		else
		{
			_mm256_storeu_si256((__m256i *) tmp, v);
			memcpy(dst, tmp, left * sizeof(int32_t));
		}
	}
}

/*
 * Row n x one block of 16 outputs: vpmaddubsw multiplies |xq| (unsigned) by q carrying xq's sign
 * (vpsignb), two products per int16 (exact: |xq|, |q| <= 127, so a pair is at most 32258), and
 * vpmaddwd with ones adds the pairs of each output into its int32 lane: 8 outputs per 32 bytes,
 * in order.  q is never -128 (quantizing gives [-127, 127], the loader refuses -128), which
 * vpsignb could not negate; xq = -128 would still be exact (|xq| read unsigned is 128).
 * Widening both operands to int16 for vpmaddwd instead, even with the widened weights shared by
 * two rows, took 14-19 % longer per row (llama's shapes, 1 to 100 rows).
 */
__attribute__((target("avx2,fma")))
static void
row_avx2(void *out, int ldo, int as_float, const NnQActs *x, const NnQPack *pk, int n, int b)
{
	int			G = pk->C4 / NN_QGROUP;
	const int8_t *wb = pk->w + (size_t) b * G * 64;
	const int8_t *xr = x->q + (size_t) n * x->C4;
	const __m256i ones = _mm256_set1_epi16(1);
	__m256i		acc[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};

	for (int g = 0; g < G; g++)
	{
		__m256i		xv = _mm256_set1_epi32(load4(xr + g * 4));
		__m256i		ax = _mm256_abs_epi8(xv);

		UNROLL
		for (int h = 0; h < 2; h++)
		{
			__m256i		w = _mm256_loadu_si256((const __m256i *) (wb + (size_t) g * 64 + 32 * h));
			__m256i		pairs = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w, xv));

			acc[h] = _mm256_add_epi32(acc[h], _mm256_madd_epi16(pairs, ones));
		}
	}
	store8_avx2(out, ldo, as_float, x, pk, n, b * 16, acc[0]);
	store8_avx2(out, ldo, as_float, x, pk, n, b * 16 + 8, acc[1]);
}

__attribute__((target("avx2,fma")))
static void
gemm_avx2(void *out, int ldo, int as_float, const NnQActs *x, const NnQPack *pk)
{
	for (int b = 0; b < pk->blocks; b++)
	{
		for (int n = 0; n < x->N; n++)
			row_avx2(out, ldo, as_float, x, pk, n, b);
	}
}

/* ---- AVX2: weight-only --------------------------------------------------------------------- */

/* The 4 inputs of group g of row xr (C floats), zero past C. */
static inline void
group_inputs(float *dst, const float *xr, int g, int C)
{
	UNROLL
	for (int k = 0; k < 4; k++)
		dst[k] = 4 * g + k < C ? xr[4 * g + k] : 0.0f;
}

/* 8 outputs' bytes k of a 32-byte half block, as floats (lane j = w[o_j][4g + k]). */
__attribute__((target("avx2,fma")))
static inline __m256
byte_k_avx2(__m256i v, int k)
{
	switch (k)
	{
		case 0:
			return _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(v, 24), 24));
		case 1:
			return _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(v, 16), 24));
		case 2:
			return _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(v, 8), 24));
		default:
			return _mm256_cvtepi32_ps(_mm256_srai_epi32(v, 24));
	}
}

/*
 * Rows in blocks of up to 6 against a panel: block b's weights for WO_KC inputs at a time, widened
 * to floats once (P[c][16], 16 KB, in L1) for all rows of the call.  Each input then costs two
 * panel loads, one broadcast per row and two fused multiply-adds per row into 6 x 2 accumulators
 * (15 of the 16 vector registers): the shape of an sgemm micro-kernel.  Widening the bytes in the
 * inner loop instead (8 rows x 8 outputs, four broadcasts per multiply-add pair) made batched
 * weight-only products slower than float32's sgemm.  Each output is one accumulator summed over
 * the inputs in order, carried through out between panels (unscaled) and scaled once at the end.
 */
#define WO_KC 256

/* Block b's weights for inputs c0 .. c0 + kc - 1 (multiples of 4) as floats: P[c - c0][16]. */
__attribute__((target("avx2,fma")))
static void
panel_wo_avx2(float *P, const NnQPack *pk, int b, int c0, int kc)
{
	const int8_t *wb = pk->w + (size_t) b * (pk->C4 / NN_QGROUP) * 64;

	for (int g = c0 / 4; g < (c0 + kc) / 4; g++)
		UNROLL
		for (int h = 0; h < 2; h++)
		{
			__m256i		v = _mm256_loadu_si256((const __m256i *) (wb + (size_t) g * 64 + h * 32));

			UNROLL
			for (int k = 0; k < 4; k++)
				_mm256_storeu_ps(P + (size_t) (4 * g + k - c0) * 16 + 8 * h, byte_k_avx2(v, k));
		}
}

/* Lanes j < left of a mask (all when left >= 8, none when left <= 0). */
__attribute__((target("avx2,fma")))
static inline __m256i
lanes_upto(int left)
{
	return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* NB (1 to 6) rows from n0 x the 16 outputs of block b, inputs c0 .. c1 - 1 from panel P: from
 * zero when first, else from the sums out holds; scaled when last. */
__attribute__((target("avx2,fma"), always_inline))
static inline void
tile_wo_avx2(float *out, int ldo, const float *x, const NnQPack *pk, const float *P, int n0, int b,
			 int c0, int c1, int first, int last, const int NB)
{
	int			o = b * 16,
				left = pk->OC - o;
	__m256i		mask[2] = {lanes_upto(left), lanes_upto(left - 8)};
	__m256		acc[6][2];

	UNROLL
	for (int r = 0; r < NB; r++)
		UNROLL
		for (int h = 0; h < 2; h++)
			acc[r][h] = first ? _mm256_setzero_ps()
				: _mm256_maskload_ps(out + (size_t) (n0 + r) * ldo + o + 8 * h, mask[h]);
	for (int c = c0; c < c1; c++)
	{
		__m256		w0 = _mm256_loadu_ps(P + (size_t) (c - c0) * 16),
					w1 = _mm256_loadu_ps(P + (size_t) (c - c0) * 16 + 8);

		UNROLL
		for (int r = 0; r < NB; r++)
		{
			__m256		xb = _mm256_broadcast_ss(x + (size_t) (n0 + r) * pk->C + c);

			acc[r][0] = _mm256_fmadd_ps(w0, xb, acc[r][0]);
			acc[r][1] = _mm256_fmadd_ps(w1, xb, acc[r][1]);
		}
	}
	UNROLL
	for (int r = 0; r < NB; r++)
		UNROLL
		for (int h = 0; h < 2; h++)
			store_upto8_ps(out + (size_t) (n0 + r) * ldo + o + 8 * h,
						   last ? _mm256_mul_ps(acc[r][h], _mm256_loadu_ps(pk->scale + o + 8 * h))
						   : acc[r][h], left - 8 * h);
}

/* All N rows x block b through panels of WO_KC inputs. */
__attribute__((target("avx2,fma")))
static void
block_wo_avx2(float *out, int ldo, const float *x, int N, const NnQPack *pk, int b)
{
	float		P[WO_KC * 16] __attribute__((aligned(32)));

	for (int c0 = 0; c0 < pk->C; c0 += WO_KC)
	{
		int			kc = pk->C4 - c0 < WO_KC ? pk->C4 - c0 : WO_KC,
					c1 = pk->C - c0 < WO_KC ? pk->C : c0 + WO_KC,
					first = c0 == 0,
					last = c1 == pk->C,
					n = 0;

		panel_wo_avx2(P, pk, b, c0, kc);
		for (; n + 6 <= N; n += 6)
			tile_wo_avx2(out, ldo, x, pk, P, n, b, c0, c1, first, last, 6);
		switch (N - n)
		{
			case 5:
				tile_wo_avx2(out, ldo, x, pk, P, n, b, c0, c1, first, last, 5);
				break;
			case 4:
				tile_wo_avx2(out, ldo, x, pk, P, n, b, c0, c1, first, last, 4);
				break;
			case 3:
				tile_wo_avx2(out, ldo, x, pk, P, n, b, c0, c1, first, last, 3);
				break;
			case 2:
				tile_wo_avx2(out, ldo, x, pk, P, n, b, c0, c1, first, last, 2);
				break;
			case 1:
				tile_wo_avx2(out, ldo, x, pk, P, n, b, c0, c1, first, last, 1);
				break;
		}
	}
}

/*
 * One row x one block of 16 outputs, for fewer rows than half_wo_avx2's widening pays for: each
 * 8 bytes (2 outputs x 4 inputs) widen straight to 8 floats (vpmovsxbd, vcvtdq2ps) against the
 * group's 4 inputs broadcast to both halves, into 8 accumulators of (output, input lane); the 4
 * lanes of each output are summed once at the end.  Half the vector operations per weight of
 * half_wo_avx2's byte extraction, which made one-row weight-only decoding slower than float.
 */
__attribute__((target("avx2,fma")))
static void
row_wo_avx2(float *dst, const float *xr, const NnQPack *pk, int b)
{
	int			G = pk->C4 / NN_QGROUP,
				Gfull = pk->C / NN_QGROUP,
				o = b * 16;
	const int8_t *wb = pk->w + (size_t) b * G * 64;
	/* the lanes of hadd(hadd(a0, a1), hadd(a2, a3)) are outputs 0 2 4 6 1 3 5 7 */
	const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	__m256		acc[8],
				sum[2];

	UNROLL
	for (int j = 0; j < 8; j++)
		acc[j] = _mm256_setzero_ps();
	for (int g = 0; g < G; g++)
	{
		const int8_t *wg = wb + (size_t) g * 64;
		float		tail[4];
		const float *xg = xr + 4 * g;
		__m256		xx;

		if (g >= Gfull)
		{
			group_inputs(tail, xr, g, pk->C);
			xg = tail;
		}
		xx = _mm256_broadcast_ps((const __m128 *) xg);
		UNROLL
		for (int j = 0; j < 8; j++)
		{
			__m128i		w8 = _mm_loadl_epi64((const __m128i *) (wg + 8 * j));

			acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(w8)), xx, acc[j]);
		}
	}
	UNROLL
	for (int h = 0; h < 2; h++)
		sum[h] = _mm256_permutevar8x32_ps(
			_mm256_hadd_ps(_mm256_hadd_ps(acc[4 * h], acc[4 * h + 1]),
						   _mm256_hadd_ps(acc[4 * h + 2], acc[4 * h + 3])), order);
	UNROLL
	for (int h = 0; h < 2; h++)
		store_upto8_ps(dst + o + 8 * h, _mm256_mul_ps(sum[h], _mm256_loadu_ps(pk->scale + o + 8 * h)),
					   pk->OC - (o + 8 * h));
}

/* Fewer rows than WO_MIN_PANEL_ROWS widen the weights once per row (row_wo_avx2); more share a
 * panel per block. */
#define WO_MIN_PANEL_ROWS 4

__attribute__((target("avx2,fma")))
static void
gemm_wo_avx2(float *out, int ldo, const float *x, int N, const NnQPack *pk)
{
	for (int b = 0; b < pk->blocks; b++)
		if (N >= WO_MIN_PANEL_ROWS)
			block_wo_avx2(out, ldo, x, N, pk, b);
		else
			for (int n = 0; n < N; n++)
				row_wo_avx2(out + (size_t) n * ldo, x + (size_t) n * pk->C, pk, b);
}

const NnQKernels nn_qkernels_avx2 = {
	.quantize_acts = quantize_acts_avx2,
	.gemm = gemm_avx2,
	.gemm_wo = gemm_wo_avx2,
};

/* ---- AVX-512 VNNI: dynamic ----------------------------------------------------------------- */

#define VNNI_TARGET "avx2,fma,avx512f,avx512bw,avx512vnni"

/* Row n's 16 sums of block b (acc = sum (xq + 128) q): take off 128 rowsum, store up to OC. */
__attribute__((target(VNNI_TARGET)))
static inline void
store16_vnni(void *out, int ldo, int as_float, const NnQActs *x, const NnQPack *pk, int n, int b,
			 __m512i acc)
{
	int			o = b * 16,
				left = pk->OC - o;
	__mmask16	mask = left >= 16 ? (__mmask16) 0xFFFF : (__mmask16) ((1u << left) - 1);
	__m512i		v = _mm512_sub_epi32(acc, _mm512_slli_epi32(_mm512_loadu_si512(pk->rowsum + o), 7));

	if (as_float)
	{
		__m512		s = _mm512_mul_ps(_mm512_set1_ps(x->scale[n]), _mm512_loadu_ps(pk->scale + o));

		_mm512_mask_storeu_ps((float *) out + (size_t) n * ldo + o, mask,
							  _mm512_mul_ps(_mm512_cvtepi32_ps(v), s));
	}
	else
		_mm512_mask_storeu_epi32((int32_t *) out + (size_t) n * ldo + o, mask, v);
}

/* NB rows x OB blocks of 16 outputs from block b0. */
__attribute__((target(VNNI_TARGET), always_inline))
static inline void
tile_vnni(void *out, int ldo, int as_float, const NnQActs *x, const NnQPack *pk, int n0, int b0,
		  const int NB, const int OB)
{
	int			G = pk->C4 / NN_QGROUP;
	size_t		bstride = (size_t) G * 64;
	const int8_t *wb = pk->w + (size_t) b0 * bstride;
	__m512i		acc[4][4];

	UNROLL
	for (int r = 0; r < NB; r++)
		UNROLL
		for (int j = 0; j < OB; j++)
			acc[r][j] = _mm512_setzero_si512();
	for (int g = 0; g < G; g++)
	{
		__m512i		w[4];

		UNROLL
		for (int j = 0; j < OB; j++)
			w[j] = _mm512_loadu_si512(wb + j * bstride + (size_t) g * 64);
		UNROLL
		for (int r = 0; r < NB; r++)
		{
			/* the 4 biased activations of group g, in every lane */
			__m512i		xb = _mm512_set1_epi32(load4((const int8_t *) x->qb + (size_t) (n0 + r) * x->C4 + g * 4));

			UNROLL
			for (int j = 0; j < OB; j++)
				acc[r][j] = _mm512_dpbusd_epi32(acc[r][j], xb, w[j]);
		}
	}
	UNROLL
	for (int r = 0; r < NB; r++)
		UNROLL
		for (int j = 0; j < OB; j++)
			store16_vnni(out, ldo, as_float, x, pk, n0 + r, b0 + j, acc[r][j]);
}

__attribute__((target(VNNI_TARGET)))
static void
gemm_vnni(void *out, int ldo, int as_float, const NnQActs *x, const NnQPack *pk)
{
	int			b = 0;

	for (; b + 4 <= pk->blocks; b += 4)
	{
		int			n = 0;

		for (; n + 4 <= x->N; n += 4)
			tile_vnni(out, ldo, as_float, x, pk, n, b, 4, 4);
		for (; n < x->N; n++)
			tile_vnni(out, ldo, as_float, x, pk, n, b, 1, 4);
	}
	for (; b < pk->blocks; b++)
	{
		int			n = 0;

		for (; n + 4 <= x->N; n += 4)
			tile_vnni(out, ldo, as_float, x, pk, n, b, 4, 1);
		for (; n < x->N; n++)
			tile_vnni(out, ldo, as_float, x, pk, n, b, 1, 1);
	}
}

/* ---- AVX-512: weight-only ------------------------------------------------------------------ */

/* 16 outputs' bytes k of a 64-byte group, as floats. */
__attribute__((target(VNNI_TARGET)))
static inline __m512
byte_k_512(__m512i v, int k)
{
	switch (k)
	{
		case 0:
			return _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(v, 24), 24));
		case 1:
			return _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(v, 16), 24));
		case 2:
			return _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(v, 8), 24));
		default:
			return _mm512_cvtepi32_ps(_mm512_srai_epi32(v, 24));
	}
}

__attribute__((target(VNNI_TARGET), always_inline))
static inline void
block_wo_512(float *out, int ldo, const float *x, const NnQPack *pk, int n0, int b, const int NB)
{
	int			G = pk->C4 / NN_QGROUP,
				Gfull = pk->C / NN_QGROUP,
				o = b * 16,
				left = pk->OC - o;
	const int8_t *wb = pk->w + (size_t) b * G * 64;
	__mmask16	mask = left >= 16 ? (__mmask16) 0xFFFF : (__mmask16) ((1u << left) - 1);
	/* one row alone would wait on its own FMAs: then 4 chains, one per input of the group */
	const int	KC = NB == 1 ? 4 : 1;
	__m512		acc[8][4];

	UNROLL
	for (int r = 0; r < NB; r++)
		UNROLL
		for (int k = 0; k < KC; k++)
			acc[r][k] = _mm512_setzero_ps();
	for (int g = 0; g < G; g++)
	{
		__m512i		v = _mm512_loadu_si512(wb + (size_t) g * 64);
		__m512		w[4];

		UNROLL
		for (int k = 0; k < 4; k++)
			w[k] = byte_k_512(v, k);
		UNROLL
		for (int r = 0; r < NB; r++)
		{
			const float *xr = x + (size_t) (n0 + r) * pk->C;
			float		tail[4];
			const float *xg = xr + 4 * g;

			if (g >= Gfull)
			{
				group_inputs(tail, xr, g, pk->C);
				xg = tail;
			}
			UNROLL
			for (int k = 0; k < 4; k++)
				acc[r][k % KC] = _mm512_fmadd_ps(w[k], _mm512_set1_ps(xg[k]), acc[r][k % KC]);
		}
	}
	UNROLL
	for (int r = 0; r < NB; r++)
	{
		__m512		sum = KC == 1 ? acc[r][0] :
			_mm512_add_ps(_mm512_add_ps(acc[r][0], acc[r][1]), _mm512_add_ps(acc[r][2], acc[r][3]));

		_mm512_mask_storeu_ps(out + (size_t) (n0 + r) * ldo + o, mask,
							  _mm512_mul_ps(sum, _mm512_loadu_ps(pk->scale + o)));
	}
}

__attribute__((target(VNNI_TARGET)))
static void
gemm_wo_512(float *out, int ldo, const float *x, int N, const NnQPack *pk)
{
	for (int b = 0; b < pk->blocks; b++)
	{
		int			n = 0;

		for (; n + 8 <= N; n += 8)
			block_wo_512(out, ldo, x, pk, n, b, 8);
		for (; n + 4 <= N; n += 4)
			block_wo_512(out, ldo, x, pk, n, b, 4);
		for (; n < N; n++)
			block_wo_512(out, ldo, x, pk, n, b, 1);
	}
}

const NnQKernels nn_qkernels_vnni = {
	.quantize_acts = quantize_acts_avx2,
	.gemm = gemm_vnni,
	.gemm_wo = gemm_wo_512,
};

#else							/* not x86-64 with GCC or Clang: the portable kernels only */

int
nn_qkernels_built(void)
{
	return 0;
}

const NnQKernels nn_qkernels_avx2 = {0};
const NnQKernels nn_qkernels_vnni = {0};

#endif
