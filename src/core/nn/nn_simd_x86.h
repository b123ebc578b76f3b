/*
 * nn_simd_x86.h — AVX2 + FMA and AVX-512F building blocks shared by the vector kernels of the nn
 * core (nn_simd.c, nn_scan.c, nn_ssm_act.c, nn_image_simd.c).  Every function carries its own
 * target attribute, so that the files including this header stay buildable for any x86-64 and
 * only call these after checking the CPU (nn_simd_level()).
 */
#ifndef NTG_NN_SIMD_X86_H
#define NTG_NN_SIMD_X86_H

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define NN_HAVE_X86 1

/*
 * exp for 8 floats: Cephes' expf (as in avx_mathfun): x = n ln2 + r, |r| <= ln2/2, a degree-5
 * polynomial for e^r, 2^n through the exponent bits; about 1 ulp over the clamped range
 * [-88.38, 88.38] (below it the result is ~0, as expf's).
 */
__attribute__((target("avx2,fma")))
static inline __m256
nn_exp8(__m256 x)
{
	__m256		fx,
				y,
				z;
	__m256i		e;

	x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
	x = _mm256_max_ps(x, _mm256_set1_ps(-88.3762626647949f));
	fx = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
	x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
	x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
	z = _mm256_mul_ps(x, x);
	y = _mm256_set1_ps(1.9875691500E-4f);
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
	y = _mm256_fmadd_ps(y, z, x);
	y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
	e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
	return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

/*
 * log for 8 positive floats: Cephes' logf (as in avx_mathfun): x = m 2^e with m in
 * [sqrt(1/2), sqrt(2)), a degree-8 polynomial for log(m); about 1 ulp for normal inputs.
 * Inputs <= 0 give NaN; the callers here only pass numbers in [1, 2].
 */
__attribute__((target("avx2,fma")))
static inline __m256
nn_log8(__m256 x)
{
	__m256		one = _mm256_set1_ps(1.0f);
	__m256		invalid = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LE_OS);
	__m256		e,
				mask,
				tmp,
				y,
				z;
	__m256i		ei;

	x = _mm256_max_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x00800000)));
	ei = _mm256_srli_epi32(_mm256_castps_si256(x), 23);
	x = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(~0x7f800000)));
	x = _mm256_or_ps(x, _mm256_set1_ps(0.5f));
	e = _mm256_add_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(ei, _mm256_set1_epi32(0x7f))), one);
	mask = _mm256_cmp_ps(x, _mm256_set1_ps(0.707106781186547524f), _CMP_LT_OS);
	tmp = _mm256_and_ps(x, mask);
	x = _mm256_sub_ps(x, one);
	e = _mm256_sub_ps(e, _mm256_and_ps(one, mask));
	x = _mm256_add_ps(x, tmp);
	z = _mm256_mul_ps(x, x);
	y = _mm256_set1_ps(7.0376836292E-2f);
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(-1.1514610310E-1f));
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.1676998740E-1f));
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(-1.2420140846E-1f));
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.4249322787E-1f));
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(-1.6668057665E-1f));
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(2.0000714765E-1f));
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(-2.4999993993E-1f));
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(3.3333331174E-1f));
	y = _mm256_mul_ps(_mm256_mul_ps(y, x), z);
	y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), y);
	y = _mm256_fnmadd_ps(z, _mm256_set1_ps(0.5f), y);
	x = _mm256_add_ps(x, y);
	x = _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), x);
	return _mm256_or_ps(x, invalid);
}

/* 1 / (1 + exp(-x)) for 8 floats, with nn_exp8 */
__attribute__((target("avx2,fma")))
static inline __m256
nn_sigmoid8(__m256 x)
{
	__m256		one = _mm256_set1_ps(1.0f);

	return _mm256_div_ps(one, _mm256_add_ps(one, nn_exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

/* Sum of the 8 lanes. */
__attribute__((target("avx2,fma")))
static inline float
nn_hsum8(__m256 v)
{
	__m128		h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	h = _mm_add_ps(h, _mm_movehl_ps(h, h));
	h = _mm_add_ss(h, _mm_movehdup_ps(h));
	return _mm_cvtss_f32(h);
}

/*
 * The sums of 8 vectors at once: lane k of the result is nn_hsum8(v[k]), bit for bit (the same
 * additions in the same order: the halves, then lanes 0+2 and 1+3, then those two), in about 20
 * instructions where 8 reductions take 48 and 8 scalar stores.
 */
__attribute__((target("avx2,fma")))
static inline __m256
nn_hsum8x8(const __m256 v[8])
{
	__m256		q[4],
				s01,
				s23;

	for (int k = 0; k < 4; k++)		/* [v2k.lo + v2k.hi | v2k+1.lo + v2k+1.hi] */
		q[k] = _mm256_add_ps(_mm256_permute2f128_ps(v[2 * k], v[2 * k + 1], 0x20),
							 _mm256_permute2f128_ps(v[2 * k], v[2 * k + 1], 0x31));
	/* lanes 0+2 and 1+3 of each: [0 0 2 2 | 1 1 3 3] and [4 4 6 6 | 5 5 7 7] */
	s01 = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(q[0]), _mm256_castps_pd(q[1]))),
						_mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(q[0]), _mm256_castps_pd(q[1]))));
	s23 = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(q[2]), _mm256_castps_pd(q[3]))),
						_mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(q[2]), _mm256_castps_pd(q[3]))));
	/* [0 2 4 6 | 1 3 5 7], put in order */
	return _mm256_permutevar8x32_ps(_mm256_hadd_ps(s01, s23), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}
/*
 * The same exp and log for 16 floats with AVX-512F: each lane runs exactly nn_exp8's and
 * nn_log8's operations (the same rounding, the same fused steps), so a 16-lane kernel built on
 * these gives an 8-lane one's bits.  The float bit operations go through the integer ones, which
 * AVX-512F has (the float forms need AVX-512DQ).
 */
__attribute__((target("avx512f")))
static inline __m512
nn_exp16(__m512 x)
{
	__m512		fx,
				y,
				z;
	__m512i		e;

	x = _mm512_min_ps(x, _mm512_set1_ps(88.3762626647949f));
	x = _mm512_max_ps(x, _mm512_set1_ps(-88.3762626647949f));
	fx = _mm512_roundscale_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f)),
							  _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
	x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
	x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), x);
	z = _mm512_mul_ps(x, x);
	y = _mm512_set1_ps(1.9875691500E-4f);
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507E-3f));
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073E-3f));
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894E-2f));
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459E-1f));
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201E-1f));
	y = _mm512_fmadd_ps(y, z, x);
	y = _mm512_add_ps(y, _mm512_set1_ps(1.0f));
	e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(fx), _mm512_set1_epi32(127)), 23);
	return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
}

/* nn_sigmoid8 for 16 floats, lane for lane */
__attribute__((target("avx512f")))
static inline __m512
nn_sigmoid16(__m512 x)
{
	__m512		one = _mm512_set1_ps(1.0f);

	return _mm512_div_ps(one, _mm512_add_ps(one, nn_exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

__attribute__((target("avx512f")))
static inline __m512
nn_log16(__m512 x)
{
	__m512		one = _mm512_set1_ps(1.0f);
	__mmask16	invalid = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LE_OS);
	__mmask16	mask;
	__m512		e,
				tmp,
				y,
				z;
	__m512i		xi,
				ei;

	x = _mm512_max_ps(x, _mm512_castsi512_ps(_mm512_set1_epi32(0x00800000)));
	xi = _mm512_castps_si512(x);
	ei = _mm512_srli_epi32(xi, 23);
	xi = _mm512_and_si512(xi, _mm512_set1_epi32(~0x7f800000));
	x = _mm512_castsi512_ps(_mm512_or_si512(xi, _mm512_castps_si512(_mm512_set1_ps(0.5f))));
	e = _mm512_add_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(ei, _mm512_set1_epi32(0x7f))), one);
	mask = _mm512_cmp_ps_mask(x, _mm512_set1_ps(0.707106781186547524f), _CMP_LT_OS);
	tmp = _mm512_maskz_mov_ps(mask, x);
	x = _mm512_sub_ps(x, one);
	e = _mm512_sub_ps(e, _mm512_maskz_mov_ps(mask, one));
	x = _mm512_add_ps(x, tmp);
	z = _mm512_mul_ps(x, x);
	y = _mm512_set1_ps(7.0376836292E-2f);
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(-1.1514610310E-1f));
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.1676998740E-1f));
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(-1.2420140846E-1f));
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.4249322787E-1f));
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(-1.6668057665E-1f));
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(2.0000714765E-1f));
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(-2.4999993993E-1f));
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(3.3333331174E-1f));
	y = _mm512_mul_ps(_mm512_mul_ps(y, x), z);
	y = _mm512_fmadd_ps(e, _mm512_set1_ps(-2.12194440e-4f), y);
	y = _mm512_fnmadd_ps(z, _mm512_set1_ps(0.5f), y);
	x = _mm512_add_ps(x, y);
	x = _mm512_fmadd_ps(e, _mm512_set1_ps(0.693359375f), x);
	return _mm512_mask_blend_ps(invalid, x, _mm512_castsi512_ps(_mm512_set1_epi32(-1)));
}

/* The upper 8 lanes of v (AVX-512F has no float form of this without DQ). */
__attribute__((target("avx512f")))
static inline __m256
nn_high8(__m512 v)
{
	return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}
#endif

#endif							/* NTG_NN_SIMD_X86_H */
