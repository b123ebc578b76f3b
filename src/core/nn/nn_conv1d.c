/*
 * nn_conv1d.c — the causal depthwise convolution of a Mamba block: each channel sees its own
 * last K inputs of the same row (nn_ssm.h).  K is 4 in the paper's model, so a direct loop beats
 * any im2col; channels are innermost for contiguous access.
 */
#include "nn/nn_ssm.h"
#include "nn/nn_simd.h"

#include <string.h>

void
conv1d_causal_forward(float *out, const float *inp, const float *w, const float *b,
					  const int *start, const int *len, int S, int C, int K, int istride)
{
	for (int r = 0; r < S; r++)
		for (int t = 0; t < len[r]; t++)
		{
			size_t		n = (size_t) start[r] + t;
			float	   *o = out + n * C;

			memcpy(o, b, C * sizeof(float));
			/* tap k reads the input at t - (K-1) + k; taps before the row start read 0 */
			for (int k = K - 1 - t > 0 ? K - 1 - t : 0; k < K; k++)
			{
				const float *x = inp + (n - (K - 1) + k) * istride;

				for (int c = 0; c < C; c++)
					o[c] += w[(size_t) c * K + k] * x[c];
			}
		}
}

void
conv1d_causal_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
					   const float *w, const int *start, const int *len, int S, int C, int K,
					   int istride)
{
	for (int r = 0; r < S; r++)
		for (int t = 0; t < len[r]; t++)
		{
			size_t		n = (size_t) start[r] + t;
			const float *d = dout + n * C;

			for (int c = 0; c < C; c++)
				db[c] += d[c];
			for (int k = K - 1 - t > 0 ? K - 1 - t : 0; k < K; k++)
			{
				size_t		src = (n - (K - 1) + k) * istride;
				const float *x = inp + src;
				float	   *dx = dinp + src;

				for (int c = 0; c < C; c++)
				{
					dw[(size_t) c * K + k] += d[c] * x[c];
					dx[c] += w[(size_t) c * K + k] * d[c];
				}
			}
		}
}

/* One row's output channels [c0, C) of a step, in the plain loop's order. */
static void
step_channels(float *o, const float *wn, const float *x, const float *w, const float *b, int c0,
			  int C, int K)
{
	for (int c = c0; c < C; c++)
		o[c] = b[c];
	for (int k = 0; k < K - 1; k++)
		for (int c = c0; c < C; c++)
			o[c] += w[(size_t) c * K + k] * wn[(size_t) k * C + c];
	for (int c = c0; c < C; c++)
		o[c] += w[(size_t) c * K + K - 1] * x[c];
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/*
 * The step of the paper's width (K = 4) with AVX-512F, 16 channels at a time for every row: the
 * taps of 16 channels (64 floats, [channel][tap]) are turned into one vector per tap by two-source
 * permutes, once per block for all rows.  Each lane adds the same products in the same order as
 * step_channels, multiplied and added separately: products must not be fused (fp-contract off),
 * or the bits would differ from the plain loop and from the training forward.
 */
__attribute__((target("avx512f"), optimize("fp-contract=off")))
static int
step_k4_avx512(float *out, const float *win, const int *parent, const float *inp,
			   const float *w, const float *b, int U, int C, int istride)
{
	const __m512i pick0 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0);
	int			c0 = 0;

	for (; c0 + 16 <= C; c0 += 16)
	{
		const float *wc = w + (size_t) c0 * 4;
		__m512		v0 = _mm512_loadu_ps(wc),
					v1 = _mm512_loadu_ps(wc + 16),
					v2 = _mm512_loadu_ps(wc + 32),
					v3 = _mm512_loadu_ps(wc + 48);
		__m512		tap[4];

		for (int k = 0; k < 4; k++)
		{
			__m512i		pick = _mm512_add_epi32(pick0, _mm512_set1_epi32(k));

			tap[k] = _mm512_shuffle_f32x4(_mm512_permutex2var_ps(v0, pick, v1),
										  _mm512_permutex2var_ps(v2, pick, v3), 0x44);
		}
		for (int j = 0; j < U; j++)
		{
			const float *wn = win + (size_t) (parent != NULL ? parent[j] : j) * 3 * C + c0;
			__m512		o = _mm512_loadu_ps(b + c0);

			o = _mm512_add_ps(o, _mm512_mul_ps(tap[0], _mm512_loadu_ps(wn)));
			o = _mm512_add_ps(o, _mm512_mul_ps(tap[1], _mm512_loadu_ps(wn + C)));
			o = _mm512_add_ps(o, _mm512_mul_ps(tap[2], _mm512_loadu_ps(wn + 2 * C)));
			o = _mm512_add_ps(o, _mm512_mul_ps(tap[3], _mm512_loadu_ps(inp + (size_t) j * istride + c0)));
			_mm512_storeu_ps(out + (size_t) j * C + c0, o);
		}
	}
	return c0;
}

/*
 * The same step with AVX2, 8 channels at a time: the taps of 8 channels (32 floats, [channel][tap])
 * become one vector per tap by an 8 x 4 transpose (unpacks, then the lanes put in channel order),
 * and each lane adds the same unfused products in the same order as step_channels.
 */
__attribute__((target("avx2,fma"), optimize("fp-contract=off")))
static int
step_k4_avx2(float *out, const float *win, const int *parent, const float *inp,
			 const float *w, const float *b, int U, int C, int istride)
{
	/* after the unpacks, lanes hold channels 0 2 4 6 1 3 5 7 */
	const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	int			c0 = 0;

	for (; c0 + 8 <= C; c0 += 8)
	{
		const float *wc = w + (size_t) c0 * 4;
		__m256		t0 = _mm256_unpacklo_ps(_mm256_loadu_ps(wc), _mm256_loadu_ps(wc + 8)),
					t1 = _mm256_unpackhi_ps(_mm256_loadu_ps(wc), _mm256_loadu_ps(wc + 8)),
					t2 = _mm256_unpacklo_ps(_mm256_loadu_ps(wc + 16), _mm256_loadu_ps(wc + 24)),
					t3 = _mm256_unpackhi_ps(_mm256_loadu_ps(wc + 16), _mm256_loadu_ps(wc + 24));
		__m256		tap[4] = {
			_mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2))),
			_mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2))),
			_mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3))),
			_mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)))
		};

		for (int k = 0; k < 4; k++)
			tap[k] = _mm256_permutevar8x32_ps(tap[k], order);
		for (int j = 0; j < U; j++)
		{
			const float *wn = win + (size_t) (parent != NULL ? parent[j] : j) * 3 * C + c0;
			__m256		o = _mm256_loadu_ps(b + c0);

			o = _mm256_add_ps(o, _mm256_mul_ps(tap[0], _mm256_loadu_ps(wn)));
			o = _mm256_add_ps(o, _mm256_mul_ps(tap[1], _mm256_loadu_ps(wn + C)));
			o = _mm256_add_ps(o, _mm256_mul_ps(tap[2], _mm256_loadu_ps(wn + 2 * C)));
			o = _mm256_add_ps(o, _mm256_mul_ps(tap[3], _mm256_loadu_ps(inp + (size_t) j * istride + c0)));
			_mm256_storeu_ps(out + (size_t) j * C + c0, o);
		}
	}
	return c0;
}

static int
use_avx512(void)
{
	return nn_simd_avx512();
}
#endif

void
conv1d_causal_step(float *out, float *win, const float *win_prev, const int *parent,
				   const float *inp, const float *w, const float *b, int U, int C, int K,
				   int istride)
{
	size_t		wlen = (size_t) (K - 1) * C;
	int			done = 0;

#if defined(__x86_64__) && defined(__GNUC__)
	if (K == 4 && use_avx512())
		done = step_k4_avx512(out, win_prev, parent, inp, w, b, U, C, istride);
	else if (K == 4 && nn_simd_level() >= 2)
		done = step_k4_avx2(out, win_prev, parent, inp, w, b, U, C, istride);
#endif
	for (int j = 0; j < U; j++)
	{
		float	   *wn = win + j * wlen;
		const float *wp = win_prev + (parent != NULL ? parent[j] : j) * wlen;
		const float *x = inp + (size_t) j * istride;

		step_channels(out + (size_t) j * C, wp, x, w, b, done, C, K);
		if (K > 1)
		{
			/* the window drops its oldest input and takes x; in place, or from the parent's */
			memmove(wn, wp + C, (size_t) (K - 2) * C * sizeof(float));
			memcpy(wn + (size_t) (K - 2) * C, x, C * sizeof(float));
		}
	}
}
