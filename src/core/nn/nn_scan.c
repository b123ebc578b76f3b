/*
 * nn_scan.c — the selective scan of Mamba (Gu & Dao 2023, Algorithm 2), as a plain loop over
 * time: the rows here are at most a few dozen tokens, so the parallel (associative) scan of the
 * CUDA kernels would buy nothing on a CPU.  Definitions and shapes in nn_ssm.h.
 *
 * Discretization (zero-order hold on A, Euler on B, as the reference implementation does):
 * dA = exp(delta A), dB u = delta B u.  The states h are [E, NS] per row with NS innermost, so
 * the work of one token is a few passes over E * NS contiguous floats; the exponentials of one
 * token are computed together by nn_vexp.
 *
 * Backward: y_t = C_t . h_t + D u_t and h_t = a_t h_{t-1} + delta_t B_t u_t give, with the state
 * gradient g_t = dL/dh_t (carried backwards: g_t = dy_t C_t + a_{t+1} g_{t+1}),
 *   dC_t[s]   += sum_e dy_t[e] h_t[e, s]
 *   dB_t[s]   += sum_e g_t[e, s] delta_t[e] u_t[e]
 *   du_t[e]   += dy_t[e] D[e] + delta_t[e] sum_s g_t[e, s] B_t[s]
 *   ddelta_t  += sum_s g_t[e, s] (h_{t-1}[e, s] a_t[e, s] A[e, s] + B_t[s] u_t[e])
 *   dA[e, s]  += sum_t g_t[e, s] h_{t-1}[e, s] a_t[e, s] delta_t[e]
 *   dD[e]     += sum_t dy_t[e] u_t[e]
 * The forward keeps nothing but y; backward recomputes a row's a_t and h_t (2 T E NS floats of
 * scratch) before walking it backwards, which keeps the activation memory at O(N E).
 */
#include "nn/nn_ssm.h"
#include "nn/nn_simd.h"
#include "nn/nn_simd_x86.h"

#include <math.h>
#include <string.h>

/* a[e, s] = exp(delta[e] A[e, s]) for one token */
static void
discretize(float *a, const float *delta, const float *A, int E, int NS)
{
	for (int e = 0; e < E; e++)
	{
		float		d = delta[e];
		const float *Ae = A + (size_t) e * NS;
		float	   *ae = a + (size_t) e * NS;

		for (int s = 0; s < NS; s++)
			ae[s] = d * Ae[s];
	}
	nn_vexp(a, E * NS);
}

/* h = a hp + delta u B for one token (hp may be h: in place); y[e] = C . h[e] + Dp[e] u[e]
 * when y is set */
static void
advance_plain(float *y, float *h, const float *hp, const float *a, const float *u,
			  const float *delta, const float *B, const float *C, const float *Dp, int E, int NS)
{
	for (int e = 0; e < E; e++)
	{
		float	   *he = h + (size_t) e * NS;
		const float *hpe = hp + (size_t) e * NS;
		const float *ae = a + (size_t) e * NS;
		float		du = delta[e] * u[e];

		for (int s = 0; s < NS; s++)
			he[s] = ae[s] * hpe[s] + du * B[s];
		if (y != NULL)
			y[e] = nn_dot(C, he, NS) + Dp[e] * u[e];
	}
}

/* One token of the backward pass: g (the state gradient from t + 1, [E, NS]) becomes the
 * gradient carried to t - 1.  hp = h_{t-1} (NULL at the row's first token). */
static void
backward_token_plain(float *g, float *du, float *ddelta, float *dA, float *dB, float *dC,
					 float *dDp, const float *dy, const float *u, const float *delta,
					 const float *A, const float *B, const float *C, const float *Dp,
					 const float *a, const float *h, const float *hp, int E, int NS)
{
	for (int e = 0; e < E; e++)
	{
		size_t		o = (size_t) e * NS;
		float		gy = dy[e],
					d = delta[e],
					ue = u[e];
		float		acc_delta = 0.0f,
					acc_u = 0.0f;

		dDp[e] += gy * ue;
		du[e] += gy * Dp[e];
		for (int s = 0; s < NS; s++)
		{
			float		gs = g[o + s] + gy * C[s];
			float		da = hp != NULL ? gs * hp[o + s] * a[o + s] : 0.0f;

			dC[s] += gy * h[o + s];
			acc_delta += da * A[o + s] + gs * B[s] * ue;
			dA[o + s] += da * d;
			dB[s] += gs * d * ue;
			acc_u += gs * B[s];
			g[o + s] = gs * a[o + s];
		}
		ddelta[e] += acc_delta;
		du[e] += acc_u * d;
	}
}

#ifdef NN_HAVE_X86
/*
 * The same two kernels for NS a multiple of 8 with AVX2 + FMA: the state dimension is one or
 * more vectors, and the sums over it (y, ddelta, du) are vector sums reduced once per channel.
 */
/* h[e] = a[e] hp[e] + delta[e] u[e] B; returns the vector whose lane sum is C . h[e] */
__attribute__((target("avx2,fma")))
static inline __m256
advance_channel_avx2(float *h, const float *hp, const float *a, const float *u,
					 const float *delta, const float *B, const float *C, int e, int NS)
{
	size_t		o = (size_t) e * NS;
	__m256		du = _mm256_set1_ps(delta[e] * u[e]);
	__m256		acc = _mm256_setzero_ps();

	for (int s = 0; s < NS; s += 8)
	{
		__m256		hv = _mm256_fmadd_ps(_mm256_loadu_ps(a + o + s), _mm256_loadu_ps(hp + o + s),
										 _mm256_mul_ps(du, _mm256_loadu_ps(B + s)));

		_mm256_storeu_ps(h + o + s, hv);
		acc = _mm256_fmadd_ps(_mm256_loadu_ps(C + s), hv, acc);
	}
	return acc;
}

/*
 * One token: a = exp(delta A) (kept only when keep_a; scratch otherwise), h = a hp + delta u B
 * (hp may be h), y = C . h + D u.  Two passes: all E * NS exponentials first, then the state
 * update.  Fused into one pass, each channel was a long chain of dependent operations (the
 * exponential's polynomial, then the update, then the sum over the state) and the CPU could
 * not keep enough of them in flight: a sampled token's scan ran well below the exponentials'
 * own speed.  Apart, the exponentials run back to back (nn_vexp's speed) and the
 * update reads them from L1.  The channels' sums over the state are reduced 8 at a time
 * (nn_hsum8x8, the same additions as one at a time), so every split gives the same bits.
 */
__attribute__((target("avx2,fma")))
static void
scan_token_avx2(float *y, float *h, const float *hp, float *a, int keep_a, const float *u,
				const float *delta, const float *A, const float *B, const float *C,
				const float *Dp, int E, int NS)
{
	int			e = 0;

	(void) keep_a;				/* a is written either way */
	for (int c = 0; c < E; c++)
	{
		__m256		d = _mm256_set1_ps(delta[c]);
		size_t		o = (size_t) c * NS;

		for (int s = 0; s < NS; s += 8)
			_mm256_storeu_ps(a + o + s, nn_exp8(_mm256_mul_ps(d, _mm256_loadu_ps(A + o + s))));
	}
	for (; e + 8 <= E; e += 8)
	{
		__m256		acc[8];

		for (int k = 0; k < 8; k++)
			acc[k] = advance_channel_avx2(h, hp, a, u, delta, B, C, e + k, NS);
		if (y != NULL)
			_mm256_storeu_ps(y + e, _mm256_fmadd_ps(_mm256_loadu_ps(Dp + e), _mm256_loadu_ps(u + e),
													nn_hsum8x8(acc)));
	}
	for (; e < E; e++)
	{
		__m256		acc = advance_channel_avx2(h, hp, a, u, delta, B, C, e, NS);

		if (y != NULL)
			y[e] = fmaf(Dp[e], u[e], nn_hsum8(acc));
	}
}

/*
 * scan_token_avx2 for NS a multiple of 16 with AVX-512F: the exponentials and the state update
 * run 16 lanes at a time, each lane doing exactly what it does in the 8-lane kernel, and y's sum
 * over the state keeps that kernel's order (lanes 0-7 of a 16-float block, then lanes 8-15, into
 * one 8-lane accumulator), so the two give the same bits.  The exponentials are most of a sampled
 * token's scan, so this halves its instructions where the CPU has the wider vectors.
 */
__attribute__((target("avx512f,avx2,fma")))
static void
scan_token_avx512(float *y, float *h, const float *hp, float *a, int keep_a, const float *u,
				  const float *delta, const float *A, const float *B, const float *C,
				  const float *Dp, int E, int NS)
{
	for (int e = 0; e < E; e++)
	{
		size_t		o = (size_t) e * NS;
		__m512		d = _mm512_set1_ps(delta[e]);
		__m512		du = _mm512_set1_ps(delta[e] * u[e]);
		__m256		acc = _mm256_setzero_ps();

		for (int s = 0; s < NS; s += 16)
		{
			__m512		av = nn_exp16(_mm512_mul_ps(d, _mm512_loadu_ps(A + o + s)));
			__m512		hv = _mm512_fmadd_ps(av, _mm512_loadu_ps(hp + o + s),
											 _mm512_mul_ps(du, _mm512_loadu_ps(B + s)));

			if (keep_a)
				_mm512_storeu_ps(a + o + s, av);
			_mm512_storeu_ps(h + o + s, hv);
			acc = _mm256_fmadd_ps(_mm256_loadu_ps(C + s), _mm512_castps512_ps256(hv), acc);
			acc = _mm256_fmadd_ps(_mm256_loadu_ps(C + s + 8), nn_high8(hv), acc);
		}
		if (y != NULL)
			y[e] = fmaf(Dp[e], u[e], nn_hsum8(acc));
	}
}

__attribute__((target("avx2,fma")))
static void
backward_token_avx2(float *g, float *du, float *ddelta, float *dA, float *dB, float *dC,
					float *dDp, const float *dy, const float *u, const float *delta,
					const float *A, const float *B, const float *C, const float *Dp,
					const float *a, const float *h, const float *hp, int E, int NS)
{
	for (int e = 0; e < E; e++)
	{
		size_t		o = (size_t) e * NS;
		float		gy = dy[e],
					d = delta[e],
					ue = u[e];
		__m256		vgy = _mm256_set1_ps(gy),
					vd = _mm256_set1_ps(d),
					vue = _mm256_set1_ps(ue),
					vdu = _mm256_set1_ps(d * ue),
					acc_delta = _mm256_setzero_ps(),
					acc_u = _mm256_setzero_ps();

		dDp[e] += gy * ue;
		du[e] += gy * Dp[e];
		for (int s = 0; s < NS; s += 8)
		{
			__m256		av = _mm256_loadu_ps(a + o + s),
						bv = _mm256_loadu_ps(B + s),
						gs = _mm256_fmadd_ps(vgy, _mm256_loadu_ps(C + s), _mm256_loadu_ps(g + o + s));
			__m256		da = hp != NULL ?
				_mm256_mul_ps(_mm256_mul_ps(gs, _mm256_loadu_ps(hp + o + s)), av) :
				_mm256_setzero_ps();
			__m256		gb = _mm256_mul_ps(gs, bv);

			_mm256_storeu_ps(dC + s, _mm256_fmadd_ps(vgy, _mm256_loadu_ps(h + o + s),
													 _mm256_loadu_ps(dC + s)));
			acc_delta = _mm256_fmadd_ps(da, _mm256_loadu_ps(A + o + s), acc_delta);
			acc_delta = _mm256_fmadd_ps(gb, vue, acc_delta);
			_mm256_storeu_ps(dA + o + s, _mm256_fmadd_ps(da, vd, _mm256_loadu_ps(dA + o + s)));
			_mm256_storeu_ps(dB + s, _mm256_fmadd_ps(gs, vdu, _mm256_loadu_ps(dB + s)));
			acc_u = _mm256_add_ps(acc_u, gb);
			_mm256_storeu_ps(g + o + s, _mm256_mul_ps(gs, av));
		}
		ddelta[e] += nn_hsum8(acc_delta);
		du[e] += nn_hsum8(acc_u) * d;
	}
}
#endif

/* The vector kernels where the CPU has them and the state size suits them; the same machine
 * always picks the same ones, so results stay bit-reproducible there. */
static inline int
use_avx2(int NS)
{
#ifdef NN_HAVE_X86
	return NS % 8 == 0 && nn_simd_level() >= 2;
#else
	return 0;
#endif
}

/*
 * One token of the scan: h becomes the state after it from hp, the state before it (hp may be
 * h, in place; a copy of the state would cost as much as the step), y is written when set, and
 * a (E * NS floats) holds exp(delta A) afterwards when keep_a is set (otherwise it is scratch).
 */
static void
scan_token(float *y, float *h, const float *hp, float *a, int keep_a, const float *u,
		   const float *delta, const float *A, const float *B, const float *C, const float *Dp,
		   int E, int NS)
{
#ifdef NN_HAVE_X86
	if (use_avx2(NS) && NS % 16 == 0 && nn_simd_avx512())
	{
		scan_token_avx512(y, h, hp, a, keep_a, u, delta, A, B, C, Dp, E, NS);
		return;
	}
	if (use_avx2(NS))
	{
		scan_token_avx2(y, h, hp, a, keep_a, u, delta, A, B, C, Dp, E, NS);
		return;
	}
#endif
	discretize(a, delta, A, E, NS);
	advance_plain(y, h, hp, a, u, delta, B, C, Dp, E, NS);
}

static void
backward_token(float *g, float *du, float *ddelta, float *dA, float *dB, float *dC, float *dDp,
			   const float *dy, const float *u, const float *delta, const float *A,
			   const float *B, const float *C, const float *Dp, const float *a, const float *h,
			   const float *hp, int E, int NS)
{
#ifdef NN_HAVE_X86
	if (use_avx2(NS))
	{
		backward_token_avx2(g, du, ddelta, dA, dB, dC, dDp, dy, u, delta, A, B, C, Dp, a, h, hp,
							E, NS);
		return;
	}
#endif
	backward_token_plain(g, du, ddelta, dA, dB, dC, dDp, dy, u, delta, A, B, C, Dp, a, h, hp,
						 E, NS);
}

void
selective_scan_step(float *y, float *h, const float *h_prev, const int *parent,
					const float *u, const float *delta, const float *A, const float *bc,
					int bc_stride, const float *Dp, int U, int E, int NS, float *scratch)
{
	size_t		EN = (size_t) E * NS;

	for (int j = 0; j < U; j++)
	{
		const float *B = bc + (size_t) j * bc_stride;
		const float *hp = h_prev + (parent != NULL ? parent[j] : j) * EN;

		scan_token(y + (size_t) j * E, h + j * EN, hp, scratch, 0, u + (size_t) j * E,
				   delta + (size_t) j * E, A, B, B + NS, Dp, E, NS);
	}
}

void
selective_scan_forward(float *y, const float *u, const float *delta, const float *A,
					   const float *bc, int bc_stride, const float *Dp, const int *start,
					   const int *len, int S, int E, int NS, float *scratch)
{
	float	   *h = scratch;
	float	   *a = scratch + (size_t) E * NS;

	for (int r = 0; r < S; r++)
	{
		memset(h, 0, (size_t) E * NS * sizeof(float));
		for (int t = 0; t < len[r]; t++)
		{
			size_t		n = (size_t) start[r] + t;
			const float *B = bc + n * bc_stride;

			scan_token(y + n * E, h, h, a, 0, u + n * E, delta + n * E, A, B, B + NS, Dp, E, NS);
		}
	}
}

size_t
selective_scan_scratch(int max_len, int E, int NS)
{
	return (size_t) (2 * max_len + 2) * E * NS;
}

void
selective_scan_backward(float *du, float *ddelta, float *dA, float *dbc, float *dDp,
						const float *dy, const float *u, const float *delta, const float *A,
						const float *bc, int bc_stride, const float *Dp, const int *start,
						const int *len, int S, int E, int NS, float *scratch)
{
	size_t		EN = (size_t) E * NS;

	for (int r = 0; r < S; r++)
	{
		int			T = len[r];
		float	   *as = scratch;		/* [T][E NS]: a_t */
		float	   *hs = scratch + T * EN;	/* [T][E NS]: h_t */
		float	   *g = hs + T * EN;	/* [E NS] */

		/* recompute the row's a_t and h_t */
		for (int t = 0; t < T; t++)
		{
			size_t		n = (size_t) start[r] + t;
			const float *B = bc + n * bc_stride;

			if (t == 0)
				memset(hs, 0, EN * sizeof(float));
			scan_token(NULL, hs + t * EN, t == 0 ? hs : hs + (t - 1) * EN, as + t * EN, 1,
					   u + n * E, delta + n * E, A, B, B + NS, Dp, E, NS);
		}
		memset(g, 0, EN * sizeof(float));
		for (int t = T - 1; t >= 0; t--)
		{
			size_t		n = (size_t) start[r] + t;
			const float *B = bc + n * bc_stride;

			backward_token(g, du + n * E, ddelta + n * E, dA, dbc + n * bc_stride,
						   dbc + n * bc_stride + NS, dDp, dy + n * E, u + n * E, delta + n * E,
						   A, B, B + NS, Dp, as + t * EN, hs + t * EN,
						   t > 0 ? hs + (t - 1) * EN : NULL, E, NS);
		}
	}
}
