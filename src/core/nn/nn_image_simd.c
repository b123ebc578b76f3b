/*
 * nn_image_simd.c — vector kernels of the image layers (nn_image_simd.h).  GCC at -O2 leaves these
 * loops scalar (their trip counts are not known, and the cheap vectorizer will not add an
 * epilogue), which made group norm cost as much as the convolutions' matrix products; the AVX2
 * versions below run 8 floats at a time.  Which version runs is nn_simd_level()'s choice.  (SiLU
 * is the Mamba block's, nn_ssm_act.c, and adds are nn_vadd, nn_simd.c.)
 */
#include "nn/nn_image_simd.h"
#include "nn/nn_simd.h"
#include "nn/nn_simd_x86.h"

#ifdef NN_HAVE_X86
#define HAVE_X86 1
#endif

/* The same choice as nn_simd.c's kernels (and nn_simd_force() in tests switches both). */
static inline int
avx2(void)
{
	return nn_simd_level() == 2;
}

/* ---- portable versions ---------------------------------------------------------------------- */

static void
affine_plain(float *out, const float *a, const float *x, const float *c, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = a[i] * x[i] + c[i];
}

static void
affine2_acc_plain(float *out, const float *a, const float *x, const float *b, const float *y,
				  const float *c, int n)
{
	for (int i = 0; i < n; i++)
		out[i] += a[i] * x[i] + b[i] * y[i] + c[i];
}

static void
sum_sqdiff_plain(float *q, const float *x, const float *m, int n)
{
	for (int i = 0; i < n; i++)
		q[i] += (x[i] - m[i]) * (x[i] - m[i]);
}

static void
sum_dprod_plain(float *s, float *q, const float *d, const float *x, const float *m, int n)
{
	for (int i = 0; i < n; i++)
	{
		s[i] += d[i];
		q[i] += d[i] * (x[i] - m[i]);
	}
}

/* ---- AVX2 + FMA versions -------------------------------------------------------------------- */

#ifdef HAVE_X86

__attribute__((target("avx2,fma")))
static void
affine_avx2(float *out, const float *a, const float *x, const float *c, int n)
{
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(out + i, _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(x + i),
												  _mm256_loadu_ps(c + i)));
	affine_plain(out + i, a + i, x + i, c + i, n - i);
}

__attribute__((target("avx2,fma")))
static void
affine2_acc_avx2(float *out, const float *a, const float *x, const float *b, const float *y,
				 const float *c, int n)
{
	int			i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256		v = _mm256_add_ps(_mm256_loadu_ps(out + i), _mm256_loadu_ps(c + i));

		v = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(x + i), v);
		v = _mm256_fmadd_ps(_mm256_loadu_ps(b + i), _mm256_loadu_ps(y + i), v);
		_mm256_storeu_ps(out + i, v);
	}
	affine2_acc_plain(out + i, a + i, x + i, b + i, y + i, c + i, n - i);
}

__attribute__((target("avx2,fma")))
static void
sum_sqdiff_avx2(float *q, const float *x, const float *m, int n)
{
	int			i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256		d = _mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(m + i));

		_mm256_storeu_ps(q + i, _mm256_fmadd_ps(d, d, _mm256_loadu_ps(q + i)));
	}
	sum_sqdiff_plain(q + i, x + i, m + i, n - i);
}

__attribute__((target("avx2,fma")))
static void
sum_dprod_avx2(float *s, float *q, const float *d, const float *x, const float *m, int n)
{
	int			i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256		vd = _mm256_loadu_ps(d + i);
		__m256		xm = _mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(m + i));

		_mm256_storeu_ps(s + i, _mm256_add_ps(_mm256_loadu_ps(s + i), vd));
		_mm256_storeu_ps(q + i, _mm256_fmadd_ps(vd, xm, _mm256_loadu_ps(q + i)));
	}
	sum_dprod_plain(s + i, q + i, d + i, x + i, m + i, n - i);
}

#endif							/* HAVE_X86 */

/* ---- dispatch ------------------------------------------------------------------------------- */

#ifdef HAVE_X86
#define DISPATCH(avx_call, plain_call) do { if (avx2()) avx_call; else plain_call; } while (0)
#else
#define DISPATCH(avx_call, plain_call) plain_call
#endif

void
nn_img_affine(float *out, const float *a, const float *x, const float *c, int n)
{
	DISPATCH(affine_avx2(out, a, x, c, n), affine_plain(out, a, x, c, n));
}

void
nn_img_affine2_acc(float *out, const float *a, const float *x, const float *b, const float *y,
				   const float *c, int n)
{
	DISPATCH(affine2_acc_avx2(out, a, x, b, y, c, n), affine2_acc_plain(out, a, x, b, y, c, n));
}

void
nn_img_sum_sqdiff(float *q, const float *x, const float *m, int n)
{
	DISPATCH(sum_sqdiff_avx2(q, x, m, n), sum_sqdiff_plain(q, x, m, n));
}

void
nn_img_sum_dprod(float *s, float *q, const float *d, const float *x, const float *m, int n)
{
	DISPATCH(sum_dprod_avx2(s, q, d, x, m, n), sum_dprod_plain(s, q, d, x, m, n));
}

