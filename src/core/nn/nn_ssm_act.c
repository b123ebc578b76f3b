/*
 * nn_ssm_act.c — the elementwise ops of a Mamba block: softplus (the step size delta), SiLU
 * (after the convolution), the SiLU gate y * silu(z), and a bias add.  Shapes in nn_ssm.h;
 * every backward accumulates (+=).
 *
 * Their exponentials and logarithms cost more than the block's matrix products when a libm
 * call computes each, so each op has an AVX2 + FMA kernel (nn_simd_x86.h) beside the portable
 * loop, chosen by the CPU as nn_simd.c chooses; the kernels run over whole vectors of 8 and the
 * portable loop takes the rest.  The forward ops of sampling also have AVX-512F forms that give
 * the AVX2 kernels' bits.
 */
#include "nn/nn_ssm.h"
#include "nn/nn_simd.h"
#include "nn/nn_simd_x86.h"

#include <math.h>

/* ---- portable versions (also the tails of the vector ones) ---------------------------------- */

/* softplus(x) = max(x, 0) + log1p(exp(-|x|)): exp of a non-positive number never overflows */
static void
softplus_plain(float *out, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = fmaxf(inp[i], 0.0f) + log1pf(expf(-fabsf(inp[i])));
}

/* d softplus(x) / dx = sigmoid(x) */
static void
softplus_bwd_plain(float *dinp, const float *dout, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dinp[i] += dout[i] / (1.0f + expf(-inp[i]));
}

static void
silu_plain(float *out, const float *x, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = x[i] / (1.0f + expf(-x[i]));
}

/* silu'(x) = s (1 + x (1 - s)), s = sigmoid(x) */
static void
silu_bwd_plain(float *dx, const float *d, const float *x, int n)
{
	for (int i = 0; i < n; i++)
	{
		float		s = 1.0f / (1.0f + expf(-x[i]));

		dx[i] += d[i] * s * (1.0f + x[i] * (1.0f - s));
	}
}

/* ---- AVX2 + FMA ----------------------------------------------------------------------------- */

#ifdef NN_HAVE_X86
/*
 * log1p(t) for t = exp(-|x|) in (0, 1] as log(u) t / (u - 1), u = 1 + t (u - 1 is exact):
 * accurate to a few ulp even where 1 + t rounds (Goldberg's trick); t itself when u == 1.
 */
__attribute__((target("avx2,fma")))
static void
softplus_avx2(float *out, const float *inp, size_t n)
{
	__m256		one = _mm256_set1_ps(1.0f),
				zero = _mm256_setzero_ps(),
				sign = _mm256_set1_ps(-0.0f);
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256		x = _mm256_loadu_ps(inp + i);
		__m256		t = nn_exp8(_mm256_or_ps(x, sign));	/* exp(-|x|) */
		__m256		u = _mm256_add_ps(one, t);
		__m256		um1 = _mm256_sub_ps(u, one);
		__m256		l = _mm256_div_ps(_mm256_mul_ps(nn_log8(u), t), um1);

		l = _mm256_blendv_ps(l, t, _mm256_cmp_ps(um1, zero, _CMP_EQ_OQ));
		_mm256_storeu_ps(out + i, _mm256_add_ps(_mm256_max_ps(x, zero), l));
	}
	softplus_plain(out + i, inp + i, n - i);
}

__attribute__((target("avx2,fma")))
static void
softplus_bwd_avx2(float *dinp, const float *dout, const float *inp, size_t n)
{
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(dinp + i, _mm256_fmadd_ps(_mm256_loadu_ps(dout + i),
												   nn_sigmoid8(_mm256_loadu_ps(inp + i)),
												   _mm256_loadu_ps(dinp + i)));
	softplus_bwd_plain(dinp + i, dout + i, inp + i, n - i);
}

__attribute__((target("avx2,fma")))
static void
silu_avx2(float *out, const float *x, int n)
{
	int			i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256		v = _mm256_loadu_ps(x + i);

		_mm256_storeu_ps(out + i, _mm256_mul_ps(v, nn_sigmoid8(v)));
	}
	silu_plain(out + i, x + i, n - i);
}

__attribute__((target("avx2,fma")))
static void
silu_bwd_avx2(float *dx, const float *d, const float *x, int n)
{
	__m256		one = _mm256_set1_ps(1.0f);
	int			i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256		v = _mm256_loadu_ps(x + i);
		__m256		s = nn_sigmoid8(v);
		__m256		g = _mm256_mul_ps(s, _mm256_fmadd_ps(v, _mm256_sub_ps(one, s), one));

		_mm256_storeu_ps(dx + i, _mm256_fmadd_ps(_mm256_loadu_ps(d + i), g, _mm256_loadu_ps(dx + i)));
	}
	silu_bwd_plain(dx + i, d + i, x + i, n - i);
}

/*
 * 16-lane AVX-512F forms of the two forward ops a sampled token runs (softplus, SiLU): each lane
 * does the 8-lane kernel's operations, and what is left after the 16-float blocks goes to that
 * kernel, so every element is computed as before, bit for bit.
 */
__attribute__((target("avx512f,avx2,fma")))
static void
softplus_avx512(float *out, const float *inp, size_t n)
{
	__m512		one = _mm512_set1_ps(1.0f),
				zero = _mm512_setzero_ps();
	__m512i		sign = _mm512_set1_epi32((int) 0x80000000u);
	size_t		i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m512		x = _mm512_loadu_ps(inp + i);
		__m512		t = nn_exp16(_mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(x), sign)));
		__m512		u = _mm512_add_ps(one, t);
		__m512		um1 = _mm512_sub_ps(u, one);
		__m512		l = _mm512_div_ps(_mm512_mul_ps(nn_log16(u), t), um1);

		l = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(um1, zero, _CMP_EQ_OQ), l, t);
		_mm512_storeu_ps(out + i, _mm512_add_ps(_mm512_max_ps(x, zero), l));
	}
	softplus_avx2(out + i, inp + i, n - i);
}

__attribute__((target("avx512f,avx2,fma")))
static void
silu_avx512(float *out, const float *x, int n)
{
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m512		v = _mm512_loadu_ps(x + i);

		_mm512_storeu_ps(out + i, _mm512_mul_ps(v, nn_sigmoid16(v)));
	}
	silu_avx2(out + i, x + i, n - i);
}
#endif

static inline int
vector(void)
{
#ifdef NN_HAVE_X86
	return nn_simd_level() >= 2;
#else
	return 0;
#endif
}

/* ---- the ops -------------------------------------------------------------------------------- */

void
softplus_forward(float *out, const float *inp, size_t n)
{
#ifdef NN_HAVE_X86
	if (vector() && nn_simd_avx512())
	{
		softplus_avx512(out, inp, n);
		return;
	}
	if (vector())
	{
		softplus_avx2(out, inp, n);
		return;
	}
#endif
	softplus_plain(out, inp, n);
}

void
softplus_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
#ifdef NN_HAVE_X86
	if (vector())
	{
		softplus_bwd_avx2(dinp, dout, inp, n);
		return;
	}
#endif
	softplus_bwd_plain(dinp, dout, inp, n);
}

void
silu_forward(float *out, const float *inp, int N, int C, int istride)
{
	for (int n = 0; n < N; n++)
	{
		const float *x = inp + (size_t) n * istride;
		float	   *o = out + (size_t) n * C;

#ifdef NN_HAVE_X86
		if (vector() && nn_simd_avx512())
		{
			silu_avx512(o, x, C);
			continue;
		}
		if (vector())
		{
			silu_avx2(o, x, C);
			continue;
		}
#endif
		silu_plain(o, x, C);
	}
}

void
silu_backward(float *dinp, const float *dout, const float *inp, int N, int C, int istride)
{
	for (int n = 0; n < N; n++)
	{
		const float *x = inp + (size_t) n * istride;
		const float *d = dout + (size_t) n * C;
		float	   *dx = dinp + (size_t) n * istride;

#ifdef NN_HAVE_X86
		if (vector())
		{
			silu_bwd_avx2(dx, d, x, C);
			continue;
		}
#endif
		silu_bwd_plain(dx, d, x, C);
	}
}

/* the gate is SwiGLU's product with the roles named for Mamba: silu(z) * y (nn_simd.h) */
void
silu_gate_forward(float *out, const float *y, const float *z, int N, int C, int zstride)
{
	for (int n = 0; n < N; n++)
		nn_swiglu_fwd(out + (size_t) n * C, z + (size_t) n * zstride, y + (size_t) n * C, C);
}

void
silu_gate_backward(float *dy, float *dz, const float *dout, const float *y, const float *z,
				   int N, int C, int zstride)
{
	for (int n = 0; n < N; n++)
		nn_swiglu_bwd(dz + (size_t) n * zstride, dy + (size_t) n * C, dout + (size_t) n * C,
					  z + (size_t) n * zstride, y + (size_t) n * C, C);
}

