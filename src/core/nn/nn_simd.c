/*
 * nn_simd.c — the few vector kernels that GCC will not vectorize on its own at -O2 without
 * -ffast-math (float reductions, sqrt with errno): dot product, axpy and the AdamW update, in an
 * AVX2+FMA version and a portable one.  The version is chosen once per process from the CPU's
 * features, so one build runs everywhere and a given machine always computes the same bits.
 */
#include "nn/nn_simd.h"

#include <math.h>
#include <string.h>

#include "nn/nn_simd_x86.h"

#ifdef NN_HAVE_X86
#define HAVE_X86 1
#include <cpuid.h>
#endif

static int	use_avx2 = -1;
static int	use_f16c = -1;

static inline int
avx2(void)
{
#ifdef HAVE_X86
	if (use_avx2 < 0)
	{
		__builtin_cpu_init();
		use_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	}
	return use_avx2;
#else
	return 0;
#endif
}

/* The float16 kernels: level 2 and the CPU's F16C conversions (every AVX2 CPU has them so far). */
static inline int
f16c(void)
{
#ifdef HAVE_X86
	if (use_f16c < 0)
	{
		unsigned int a,
					b,
					c,
					d;

		/* CPUID leaf 1, ECX bit 29 (clang's __builtin_cpu_supports does not know "f16c") */
		use_f16c = avx2() && __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
	}
	return use_f16c;
#else
	return 0;
#endif
}

int
nn_simd_level(void)
{
	return avx2() ? 2 : 0;
}

void
nn_simd_force(int level)
{
	use_avx2 = -1;
	use_f16c = -1;
	if (level < 2 || !avx2())
		use_avx2 = use_f16c = 0;
}

static int	avx512_off = 0;

int
nn_simd_avx512(void)
{
#ifdef HAVE_X86
	static int	has = -1;

	if (has < 0)
		has = __builtin_cpu_supports("avx512f");
	return has && !avx512_off && avx2();
#else
	return 0;
#endif
}

void
nn_simd_force_avx512(int on)
{
	avx512_off = !on;
}

/* ---- portable versions ---------------------------------------------------------------------- */

/* ---- float16 ------------------------------------------------------------------------------ */

float
nn_half_to_float(uint16_t h)
{
	uint32_t	sign = (uint32_t) (h & 0x8000) << 16,
				e = (h >> 10) & 0x1f,
				mant = h & 0x3ff,
				bits;
	float		f;

	if (e == 0)					/* zero or subnormal: mant * 2^-24, exact in float */
	{
		f = (float) mant * 0x1p-24f;
		return sign ? -f : f;
	}
	if (e == 31)				/* infinity or NaN */
		bits = sign | 0x7f800000u | (mant << 13);
	else
		bits = sign | ((e + 112) << 23) | (mant << 13);
	memcpy(&f, &bits, sizeof(f));
	return f;
}

/* Round to nearest, ties to even, as vcvtps2ph with _MM_FROUND_TO_NEAREST_INT: beyond 65504 by
 * half an ulp or more gives infinity, NaN stays NaN (quiet). */
uint16_t
nn_float_to_half(float f)
{
	uint32_t	u,
				a;
	uint16_t	sign;

	memcpy(&u, &f, sizeof(u));
	sign = (uint16_t) ((u >> 16) & 0x8000);
	a = u & 0x7fffffffu;
	if (a > 0x7f800000u)
		return sign | 0x7e00 | (uint16_t) ((a >> 13) & 0x1ff);
	if (a >= 0x477ff000u)		/* 65520 and above, infinity */
		return sign | 0x7c00;
	if (a < 0x38800000u)		/* below 2^-14: a subnormal half, mant = |f| * 2^24 rounded */
		return sign | (uint16_t) nearbyintf(fabsf(f) * 0x1p24f);
	a -= 0x38000000u;			/* rebias the exponent from 127 to 15 */
	return sign | (uint16_t) ((a + 0xfffu + ((a >> 13) & 1)) >> 13);
}

/*
 * Weights come as float32 or as float16 (nn_matvec_half): each kernel that reads them is written
 * once, over a weight that wload*() turns into a float, and instantiated for both with `half` a
 * constant.  A float16 weight becomes exactly the float it stands for, so both instantiations do
 * the same operations on the same values: the same bits when the float32 weights are the float16
 * ones widened.
 */
static inline __attribute__((always_inline)) float
wload_plain(const void *w, size_t i, int half)
{
	return half ? nn_half_to_float(((const uint16_t *) w)[i]) : ((const float *) w)[i];
}

static inline __attribute__((always_inline)) float
dot_plain_any(const float *a, const void *b, int n, int half)
{
	float		s[8] = {0};
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		for (int k = 0; k < 8; k++)
			s[k] += a[i + k] * wload_plain(b, i + k, half);
	for (; i < n; i++)
		s[0] += a[i] * wload_plain(b, i, half);
	return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

static float
dot_plain(const float *a, const float *b, int n)
{
	return dot_plain_any(a, b, n, 0);
}

static float
dot_half_plain(const float *a, const uint16_t *b, int n)
{
	return dot_plain_any(a, b, n, 1);
}

static void
axpy_plain(float *y, float a, const float *x, int n)
{
	for (int i = 0; i < n; i++)
		y[i] += a * x[i];
}

static float
vmax_plain(const float *x, int n)
{
	float		mx = -INFINITY;

	for (int i = 0; i < n; i++)
		if (x[i] > mx)
			mx = x[i];
	return mx;
}

static void
shift_scale_plain(float *x, int n, float sub, float mul)
{
	for (int i = 0; i < n; i++)
		x[i] = (x[i] - sub) * mul;
}

static void
vadd_plain(float *y, const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] += x[i];
}

static void
vrelu_plain(float *out, const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static void
adamw_plain(float *w, float *g, float *m, float *v, size_t n, const NnAdamWArgs *a)
{
	for (size_t i = 0; i < n; i++)
	{
		float		gi = g[i] * a->clip;
		float		mi = a->b1 * m[i] + (1.0f - a->b1) * gi;
		float		vi = a->b2 * v[i] + (1.0f - a->b2) * gi * gi;

		m[i] = mi;
		v[i] = vi;
		w[i] -= a->lr * (mi * a->c1 / (sqrtf(vi * a->c2) + a->eps)) + a->decay * w[i];
		g[i] = 0.0f;
	}
}

static void
vexp_plain(float *x, int n)
{
	for (int i = 0; i < n; i++)
		x[i] = expf(x[i]);
}

static void
swiglu_fwd_plain(float *out, const float *a, const float *b, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = a[i] / (1.0f + expf(-a[i])) * b[i];
}

/* silu(a) = a s(a), silu'(a) = s(a) (1 + a (1 - s(a))) */
static void
swiglu_bwd_plain(float *da, float *db, const float *d, const float *a, const float *b, int n)
{
	for (int i = 0; i < n; i++)
	{
		float		sg = 1.0f / (1.0f + expf(-a[i]));

		da[i] += d[i] * b[i] * sg * (1.0f + a[i] * (1.0f - sg));
		db[i] += d[i] * a[i] * sg;
	}
}

/* ---- AVX2 + FMA ----------------------------------------------------------------------------- */

#ifdef HAVE_X86
/* The horizontal sum of dot_avx2: lanes of s0 + s1, halves, pairs, then the two last. */
__attribute__((target("avx2,fma")))
static inline float
dot_avx2_sum(__m256 s0, __m256 s1)
{
	__m128		h;

	s0 = _mm256_add_ps(s0, s1);
	h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
	h = _mm_add_ps(h, _mm_movehl_ps(h, h));
	h = _mm_add_ss(h, _mm_movehdup_ps(h));
	return _mm_cvtss_f32(h);
}

/* One 8-float load of weights at w + i, float32 or float16 (converted by vcvtph2ps, exact). */
__attribute__((target("avx2,fma,f16c"), always_inline))
static inline __m256
wload8(const void *w, size_t i, int half)
{
	return half ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) ((const uint16_t *) w + i)))
		: _mm256_loadu_ps((const float *) w + i);
}

__attribute__((target("avx2,fma,f16c"), always_inline))
static inline float
wload1(const void *w, size_t i, int half)
{
	return half ? _cvtsh_ss(((const uint16_t *) w)[i]) : ((const float *) w)[i];
}

__attribute__((target("avx2,fma,f16c"), always_inline))
static inline float
dot_avx2_any(const float *a, const void *b, int n, int half)
{
	__m256		s0 = _mm256_setzero_ps(),
				s1 = _mm256_setzero_ps();
	float		r;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), wload8(b, i, half), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), wload8(b, i + 8, half), s1);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), wload8(b, i, half), s0);
	r = dot_avx2_sum(s0, s1);
	for (; i < n; i++)
		r += a[i] * wload1(b, i, half);
	return r;
}

/* (f16c is never used with half 0; the attribute only lets the shared body inline) */
__attribute__((target("avx2,fma,f16c")))
static float
dot_avx2(const float *a, const float *b, int n)
{
	return dot_avx2_any(a, b, n, 0);
}

__attribute__((target("avx2,fma,f16c")))
static float
dot_half_avx2(const float *a, const uint16_t *b, int n)
{
	return dot_avx2_any(a, b, n, 1);
}

/*
 * A one-row decode step streams every weight matrix from L3 (a default llama's 5 MB do not fit in
 * L2), and the hardware prefetcher alone leaves the loads waiting: asking for the rows
 * MATVEC_PREFETCH_ROWS ahead made one-row llama sampling 8-15 % faster on the core (4 to 12
 * rows ahead measured alike, 16 and more slower; mamba's one-row calls were unchanged).
 */
#define MATVEC_PREFETCH_ROWS 8

/*
 * Four rows of W against one x, each with exactly dot_avx2's operations (the same two
 * accumulators, the same order of additions), so out[o] == dot_avx2(x, W[o]) bit for bit; x is
 * loaded once for the four rows, which is what makes it faster than four dot products.  pf: the
 * rows MATVEC_PREFETCH_ROWS ahead are still in W (prefetching never reads past it).
 */
__attribute__((target("avx2,fma,f16c"), always_inline))
static inline void
matvec4_avx2_any(float *out, const void *w, const float *x, int n, int pf, int half)
{
	size_t		o1 = n,
				o2 = 2 * (size_t) n,
				o3 = 3 * (size_t) n,
				ahead = MATVEC_PREFETCH_ROWS * (size_t) n;
	const char *base = w;
	int			esize = half ? 2 : 4;
	__m256		a0 = _mm256_setzero_ps(),
				a1 = a0,
				a2 = a0,
				a3 = a0,
				b0 = a0,
				b1 = a0,
				b2 = a0,
				b3 = a0;
	float		r0,
				r1,
				r2,
				r3;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m256		xl = _mm256_loadu_ps(x + i),
					xh = _mm256_loadu_ps(x + i + 8);

		/* one prefetch per 64-byte line: every 16 floats, every 32 halves */
		if (pf && (!half || i % 32 == 0))
		{
			_mm_prefetch(base + (i + ahead) * esize, _MM_HINT_T0);
			_mm_prefetch(base + (o1 + i + ahead) * esize, _MM_HINT_T0);
			_mm_prefetch(base + (o2 + i + ahead) * esize, _MM_HINT_T0);
			_mm_prefetch(base + (o3 + i + ahead) * esize, _MM_HINT_T0);
		}
		a0 = _mm256_fmadd_ps(xl, wload8(w, i, half), a0);
		b0 = _mm256_fmadd_ps(xh, wload8(w, i + 8, half), b0);
		a1 = _mm256_fmadd_ps(xl, wload8(w, o1 + i, half), a1);
		b1 = _mm256_fmadd_ps(xh, wload8(w, o1 + i + 8, half), b1);
		a2 = _mm256_fmadd_ps(xl, wload8(w, o2 + i, half), a2);
		b2 = _mm256_fmadd_ps(xh, wload8(w, o2 + i + 8, half), b2);
		a3 = _mm256_fmadd_ps(xl, wload8(w, o3 + i, half), a3);
		b3 = _mm256_fmadd_ps(xh, wload8(w, o3 + i + 8, half), b3);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		xl = _mm256_loadu_ps(x + i);

		a0 = _mm256_fmadd_ps(xl, wload8(w, i, half), a0);
		a1 = _mm256_fmadd_ps(xl, wload8(w, o1 + i, half), a1);
		a2 = _mm256_fmadd_ps(xl, wload8(w, o2 + i, half), a2);
		a3 = _mm256_fmadd_ps(xl, wload8(w, o3 + i, half), a3);
	}
	r0 = dot_avx2_sum(a0, b0);
	r1 = dot_avx2_sum(a1, b1);
	r2 = dot_avx2_sum(a2, b2);
	r3 = dot_avx2_sum(a3, b3);
	for (; i < n; i++)
	{
		r0 += x[i] * wload1(w, i, half);
		r1 += x[i] * wload1(w, o1 + i, half);
		r2 += x[i] * wload1(w, o2 + i, half);
		r3 += x[i] * wload1(w, o3 + i, half);
	}
	out[0] = r0, out[1] = r1, out[2] = r2, out[3] = r3;
}

__attribute__((target("avx2,fma,f16c")))
static void
matvec4_avx2(float *out, const float *w, const float *x, int n, int pf)
{
	matvec4_avx2_any(out, w, x, n, pf, 0);
}

__attribute__((target("avx2,fma,f16c")))
static void
matvec4_half_avx2(float *out, const uint16_t *w, const float *x, int n, int pf)
{
	matvec4_avx2_any(out, w, x, n, pf, 1);
}

__attribute__((target("avx2,fma")))
static void
axpy_avx2(float *y, float a, const float *x, int n)
{
	__m256		va = _mm256_set1_ps(a);
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
	for (; i < n; i++)
		y[i] += a * x[i];
}

/* Lanes that meet a NaN keep their maximum (maxps returns its second operand then), as the plain
 * loop skips NaNs; the maximum of the finite values does not depend on the order. */
__attribute__((target("avx2")))
static float
vmax_avx2(const float *x, int n)
{
	__m256		m0 = _mm256_set1_ps(-INFINITY),
				m1 = m0;
	__m128		h;
	float		mx;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
		m1 = _mm256_max_ps(_mm256_loadu_ps(x + i + 8), m1);
	}
	for (; i + 8 <= n; i += 8)
		m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
	m0 = _mm256_max_ps(m0, m1);
	h = _mm_max_ps(_mm256_castps256_ps128(m0), _mm256_extractf128_ps(m0, 1));
	h = _mm_max_ps(h, _mm_movehl_ps(h, h));
	h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
	mx = _mm_cvtss_f32(h);
	for (; i < n; i++)
		if (x[i] > mx)
			mx = x[i];
	return mx;
}

/* a subtraction then a multiplication, each rounded: the plain loop's bits */
__attribute__((target("avx2")))
static void
shift_scale_avx2(float *x, int n, float sub, float mul)
{
	__m256		vs = _mm256_set1_ps(sub),
				vm = _mm256_set1_ps(mul);
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vs), vm));
	for (; i < n; i++)
		x[i] = (x[i] - sub) * mul;
}

/* the product rounded before the addition: the plain loop's bits.  Compiled for AVX2 without FMA,
 * as GCC contracts a multiplication and an addition (intrinsics too) where FMA is allowed. */
__attribute__((target("avx2")))
static void
axpy_unfused_avx2(float *y, float a, const float *x, int n)
{
	__m256		va = _mm256_set1_ps(a);
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i),
											  _mm256_mul_ps(va, _mm256_loadu_ps(x + i))));
	for (; i + 4 <= n; i += 4)
		_mm_storeu_ps(y + i, _mm_add_ps(_mm_loadu_ps(y + i),
										_mm_mul_ps(_mm256_castps256_ps128(va), _mm_loadu_ps(x + i))));
	for (; i < n; i++)
		y[i] += a * x[i];
}

__attribute__((target("avx2")))
static void
vadd_avx2(float *y, const float *x, size_t n)
{
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
	for (; i < n; i++)
		y[i] += x[i];
}

/* max(x, +0) returns its second operand when x is a NaN or a zero of either sign: the plain
 * loop's x > 0 ? x : 0, bit for bit.  (GCC compiles that loop with a branch per value, which
 * mispredicted on half of a layer's outputs.) */
__attribute__((target("avx2")))
static void
vrelu_avx2(float *out, const float *x, size_t n)
{
	__m256		zero = _mm256_setzero_ps();
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(out + i, _mm256_max_ps(_mm256_loadu_ps(x + i), zero));
	for (; i < n; i++)
		out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

__attribute__((target("avx2,fma")))
static void
vexp_avx2(float *x, int n)
{
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(x + i, nn_exp8(_mm256_loadu_ps(x + i)));
	if (i < n)
	{
		float		tail[8] = {0};

		for (int k = 0; i + k < n; k++)
			tail[k] = x[i + k];
		_mm256_storeu_ps(tail, nn_exp8(_mm256_loadu_ps(tail)));
		for (int k = 0; i + k < n; k++)
			x[i + k] = tail[k];
	}
}

__attribute__((target("avx2,fma")))
static void
swiglu_fwd_avx2(float *out, const float *a, const float *b, int n)
{
	int			i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256		va = _mm256_loadu_ps(a + i);

		_mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(va, nn_sigmoid8(va)),
												_mm256_loadu_ps(b + i)));
	}
	if (i < n)
		swiglu_fwd_plain(out + i, a + i, b + i, n - i);
}

__attribute__((target("avx2,fma")))
static void
swiglu_bwd_avx2(float *da, float *db, const float *d, const float *a, const float *b, int n)
{
	__m256		one = _mm256_set1_ps(1.0f);
	int			i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256		va = _mm256_loadu_ps(a + i),
					vb = _mm256_loadu_ps(b + i),
					vd = _mm256_loadu_ps(d + i);
		__m256		sg = nn_sigmoid8(va);
		__m256		ga = _mm256_mul_ps(_mm256_mul_ps(vd, vb),
									   _mm256_mul_ps(sg, _mm256_fmadd_ps(va, _mm256_sub_ps(one, sg), one)));

		_mm256_storeu_ps(da + i, _mm256_add_ps(_mm256_loadu_ps(da + i), ga));
		_mm256_storeu_ps(db + i, _mm256_fmadd_ps(_mm256_mul_ps(vd, va), sg, _mm256_loadu_ps(db + i)));
	}
	if (i < n)
		swiglu_bwd_plain(da + i, db + i, d + i, a + i, b + i, n - i);
}

__attribute__((target("avx2,fma")))
static void
adamw_avx2(float *w, float *g, float *m, float *v, size_t n, const NnAdamWArgs *a)
{
	__m256		clip = _mm256_set1_ps(a->clip),
				b1 = _mm256_set1_ps(a->b1),
				nb1 = _mm256_set1_ps(1.0f - a->b1),
				b2 = _mm256_set1_ps(a->b2),
				nb2 = _mm256_set1_ps(1.0f - a->b2),
				c1 = _mm256_set1_ps(a->c1),
				c2 = _mm256_set1_ps(a->c2),
				eps = _mm256_set1_ps(a->eps),
				lr = _mm256_set1_ps(a->lr),
				decay = _mm256_set1_ps(a->decay),
				zero = _mm256_setzero_ps();
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256		gi = _mm256_mul_ps(_mm256_loadu_ps(g + i), clip);
		__m256		mi = _mm256_fmadd_ps(b1, _mm256_loadu_ps(m + i), _mm256_mul_ps(nb1, gi));
		__m256		vi = _mm256_fmadd_ps(b2, _mm256_loadu_ps(v + i),
										 _mm256_mul_ps(nb2, _mm256_mul_ps(gi, gi)));
		__m256		wi = _mm256_loadu_ps(w + i);
		__m256		den = _mm256_add_ps(_mm256_sqrt_ps(_mm256_mul_ps(vi, c2)), eps);
		__m256		upd = _mm256_div_ps(_mm256_mul_ps(mi, c1), den);

		upd = _mm256_fmadd_ps(lr, upd, _mm256_mul_ps(decay, wi));
		_mm256_storeu_ps(m + i, mi);
		_mm256_storeu_ps(v + i, vi);
		_mm256_storeu_ps(w + i, _mm256_sub_ps(wi, upd));
		_mm256_storeu_ps(g + i, zero);
	}
	if (i < n)
		adamw_plain(w + i, g + i, m + i, v + i, n - i, a);
}
#endif

/* ---- dispatch ------------------------------------------------------------------------------- */

float
nn_dot(const float *a, const float *b, int n)
{
#ifdef HAVE_X86
	if (avx2())
		return dot_avx2(a, b, n);
#endif
	return dot_plain(a, b, n);
}

void
nn_matvec(float *out, const float *w, const float *x, int rows, int n)
{
	int			o = 0;

#ifdef HAVE_X86
	if (avx2())
		for (; o + 4 <= rows; o += 4)
			matvec4_avx2(out + o, w + (size_t) o * n, x, n, o + 4 + MATVEC_PREFETCH_ROWS <= rows);
#endif
	for (; o < rows; o++)
		out[o] = nn_dot(x, w + (size_t) o * n, n);
}

void
nn_matvec_half(float *out, const uint16_t *w, const float *x, int rows, int n)
{
	int			o = 0;

#ifdef HAVE_X86
	if (f16c())
	{
		for (; o + 4 <= rows; o += 4)
			matvec4_half_avx2(out + o, w + (size_t) o * n, x, n, o + 4 + MATVEC_PREFETCH_ROWS <= rows);
		for (; o < rows; o++)
			out[o] = dot_half_avx2(x, w + (size_t) o * n, n);
		return;
	}
#endif
	for (; o < rows; o++)
		out[o] = dot_half_plain(x, w + (size_t) o * n, n);
}

/* nn_to_half's elements from..n one at a time; 1 when all were float16 values already. */
static int
to_half_plain(uint16_t *out, float *round, const float *x, size_t from, size_t n)
{
	int			exact = 1;

	for (size_t i = from; i < n; i++)
	{
		uint16_t	h = nn_float_to_half(x[i]);
		float		back = nn_half_to_float(h);

		if (out != NULL)
			out[i] = h;
		if (round != NULL)
			round[i] = back;
		exact &= back == x[i];
	}
	return exact;
}

#ifdef HAVE_X86
/* vcvtps2ph rounds as nn_float_to_half does (test_nn_half.c compares them). */
__attribute__((target("avx2,f16c")))
static int
to_half_avx2(uint16_t *out, float *round, const float *x, size_t n)
{
	int			exact = 1;
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256		v = _mm256_loadu_ps(x + i);
		__m128i		h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
		__m256		back = _mm256_cvtph_ps(h);

		if (out != NULL)
			_mm_storeu_si128((__m128i *) (out + i), h);
		if (round != NULL)
			_mm256_storeu_ps(round + i, back);
		exact &= _mm256_movemask_ps(_mm256_cmp_ps(v, back, _CMP_EQ_OQ)) == 0xff;
	}
	return exact & to_half_plain(out, round, x, i, n);
}
#endif

int
nn_to_half(uint16_t *out, float *round, const float *x, size_t n)
{
#ifdef HAVE_X86
	if (f16c())
		return to_half_avx2(out, round, x, n);
#endif
	return to_half_plain(out, round, x, 0, n);
}

void
nn_axpy(float *y, float a, const float *x, int n)
{
#ifdef HAVE_X86
	if (avx2())
	{
		axpy_avx2(y, a, x, n);
		return;
	}
#endif
	axpy_plain(y, a, x, n);
}

void
nn_adamw_update(float *w, float *g, float *m, float *v, size_t n, const NnAdamWArgs *a)
{
#ifdef HAVE_X86
	if (avx2())
	{
		adamw_avx2(w, g, m, v, n, a);
		return;
	}
#endif
	adamw_plain(w, g, m, v, n, a);
}

float
nn_vmax(const float *x, int n)
{
#ifdef HAVE_X86
	if (avx2())
		return vmax_avx2(x, n);
#endif
	return vmax_plain(x, n);
}

void
nn_vshift_scale(float *x, int n, float sub, float mul)
{
#ifdef HAVE_X86
	if (avx2())
	{
		shift_scale_avx2(x, n, sub, mul);
		return;
	}
#endif
	shift_scale_plain(x, n, sub, mul);
}

void
nn_axpy_unfused(float *y, float a, const float *x, int n)
{
#ifdef HAVE_X86
	if (avx2())
	{
		axpy_unfused_avx2(y, a, x, n);
		return;
	}
#endif
	axpy_plain(y, a, x, n);		/* x86-64's baseline has no FMA to fuse it into */
}

void
nn_vadd(float *y, const float *x, size_t n)
{
#ifdef HAVE_X86
	if (avx2())
	{
		vadd_avx2(y, x, n);
		return;
	}
#endif
	vadd_plain(y, x, n);
}

void
nn_vrelu(float *out, const float *x, size_t n)
{
#ifdef HAVE_X86
	if (avx2())
	{
		vrelu_avx2(out, x, n);
		return;
	}
#endif
	vrelu_plain(out, x, n);
}

void
nn_vexp(float *x, int n)
{
#ifdef HAVE_X86
	if (avx2())
	{
		vexp_avx2(x, n);
		return;
	}
#endif
	vexp_plain(x, n);
}

void
nn_swiglu_fwd(float *out, const float *a, const float *b, int n)
{
#ifdef HAVE_X86
	if (avx2())
	{
		swiglu_fwd_avx2(out, a, b, n);
		return;
	}
#endif
	swiglu_fwd_plain(out, a, b, n);
}

void
nn_swiglu_bwd(float *da, float *db, const float *d, const float *a, const float *b, int n)
{
#ifdef HAVE_X86
	if (avx2())
	{
		swiglu_bwd_avx2(da, db, d, a, b, n);
		return;
	}
#endif
	swiglu_bwd_plain(da, db, d, a, b, n);
}
