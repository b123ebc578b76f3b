/*
 * nn_conv3x3.c — the 3 x 3 convolution's forward pass and input gradient computed straight from
 * the image ("implicit GEMM"), with AVX-512 or AVX2, for the channel counts the netdiffus U-Net
 * uses (multiples of 16).
 *
 * Why: through im2col + sgemm (nn_conv.c) a 3 x 3 convolution copies its input three times before
 * multiplying — into the unrolled matrix (9 copies of every pixel), then OpenBLAS packs that matrix
 * and the weights again on every call.  On the U-Net's small images (16 x 16 down to 2 x 2) those
 * copies took about a third of a sampling pass.  Here the weights are packed once (the netdiffus
 * model keeps them while its weights stay the same) into panels of 16 output channels,
 * [panel][k][16] with k = (kh, kw, c), and 8 output positions at a time read their 9 neighbours'
 * channels from the image itself (a row of zeros off the image), each input value broadcast
 * against a panel row: 8 x 32 outputs in 16 registers (AVX2: 6 x 16 in 12).
 *
 * Every output is one fused multiply-add chain over k in order, from 0 (then added to out when
 * accumulating): the same bits whatever the batch, the block a position falls in or the panel,
 * and the same bits as the plain-C twin conv3x3_direct_ref (fmaf), which the unit tests hold the
 * vector kernel to.
 *
 * The input gradient of a 3 x 3 convolution is itself one, from the output gradient's OC channels
 * to C, with the kernel turned half a circle and its channels swapped (conv3x3_pack_transposed),
 * so conv2d_backward takes the same kernel for it instead of a product and col2im.
 */
#include "nn/nn_conv3x3.h"
#include "nn/nn_simd.h"

#include <math.h>
#include <stddef.h>

#define ROWS 8					/* output positions per block */
#define LANES 16				/* output channels per panel */

static const float zero_row[CONV3X3_MAX_C] __attribute__((aligned(64)));

int
conv3x3_direct_supported(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	return nn_simd_level() >= 2;	/* AVX2 + FMA, not forced portable */
#else
	return 0;
#endif
}

int
conv3x3_direct_fits(int C, int OC)
{
	return C >= 1 && C <= CONV3X3_MAX_C && OC >= LANES && OC % LANES == 0;
}

void
conv3x3_pack(float *wp, const float *w, int C, int OC)
{
	size_t		KKC = (size_t) 9 * C;

	for (int p = 0; p < OC / LANES; p++)
		for (size_t k = 0; k < KKC; k++)
			for (int j = 0; j < LANES; j++)
				wp[((size_t) p * KKC + k) * LANES + j] = w[(size_t) (p * LANES + j) * KKC + k];
}

void
conv3x3_pack_transposed(float *wp, const float *w, int C, int OC)
{
	size_t		KKO = (size_t) 9 * OC;

	/* channel c of the result, k = (t, o): tap 8 - t of w (the kernel turned half a circle) */
	for (int p = 0; p < C / LANES; p++)
		for (int t = 0; t < 9; t++)
			for (int o = 0; o < OC; o++)
				for (int j = 0; j < LANES; j++)
					wp[((size_t) p * KKO + (size_t) t * OC + o) * LANES + j] =
						w[((size_t) o * 9 + (8 - t)) * C + p * LANES + j];
}

/* The 9 neighbours (kh, kw row-major) of the output position at (b, y, x): its input pixel, or
 * zeros off the image. */
static inline void
neighbours(const float **taps, const float *inp, int b, int y, int x, int H, int W, int C)
{
	const float *at = inp + (((size_t) b * H + y) * W + x) * C;

	if (y > 0 && y < H - 1 && x > 0 && x < W - 1)
	{
		/* inside the image (most positions): no bounds to check */
		for (int kh = 0; kh < 3; kh++)
			for (int kw = 0; kw < 3; kw++)
				taps[kh * 3 + kw] = at + ((ptrdiff_t) (kh - 1) * W + (kw - 1)) * C;
		return;
	}
	for (int kh = 0; kh < 3; kh++)
		for (int kw = 0; kw < 3; kw++)
		{
			int			iy = y + kh - 1,
						ix = x + kw - 1;

			taps[kh * 3 + kw] = iy < 0 || iy >= H || ix < 0 || ix >= W ? zero_row :
				inp + (((size_t) b * H + iy) * W + ix) * C;
		}
}

/* (b, y, x) one position on, in row-major order */
static inline void
next_position(int *b, int *y, int *x, int H, int W)
{
	if (++*x == W)
	{
		*x = 0;
		if (++*y == H)
			*y = 0, ++*b;
	}
}

void
conv3x3_direct_ref(float *out, const float *inp, const float *wp, int B, int H, int W, int C,
				   int OC, int add)
{
	int			N = B * H * W;
	size_t		KKC = (size_t) 9 * C;
	const float *taps[9];
	int			b = 0,
				y = 0,
				x = 0;

	for (int n = 0; n < N; n++, next_position(&b, &y, &x, H, W))
	{
		neighbours(taps, inp, b, y, x, H, W, C);
		for (int o = 0; o < OC; o++)
		{
			const float *wo = wp + (size_t) (o / LANES) * KKC * LANES + o % LANES;
			float		acc = 0.0f;

			for (int t = 0; t < 9; t++)
				for (int c = 0; c < C; c++)
					acc = fmaf(taps[t][c], wo[((size_t) t * C + c) * LANES], acc);
			out[(size_t) n * OC + o] = add ? out[(size_t) n * OC + o] + acc : acc;
		}
	}
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* the accumulators stay in registers only if every loop over them is unrolled */
#define UNROLLED _Pragma("GCC unroll 16")

/*
 * ROWS positions (their neighbours in taps[ROWS][9]) x PANELS panels of 16 channels starting at
 * wp (the panels KKC * 16 floats apart); results to out[r * OC + panel * 16 + j] for r < rows.
 */
#define BLOCK_KERNEL(NAME, PANELS) \
__attribute__((target("avx512f"))) \
static void \
NAME(float *out, int OC, const float *const (*taps)[9], const float *wp, int C, int rows, int add) \
{ \
	size_t		KKC = (size_t) 9 * C; \
	__m512		acc[ROWS][PANELS]; \
	\
	UNROLLED for (int r = 0; r < ROWS; r++) \
		UNROLLED for (int q = 0; q < PANELS; q++) \
			acc[r][q] = _mm512_setzero_ps(); \
	for (int t = 0; t < 9; t++) \
	{ \
		const float *w0 = wp + (size_t) t * C * LANES; \
		const float *a[ROWS]; \
		\
		UNROLLED for (int r = 0; r < ROWS; r++) \
			a[r] = taps[r][t]; \
		for (int c = 0; c < C; c++) \
		{ \
			__m512		wv[PANELS]; \
			\
			UNROLLED for (int q = 0; q < PANELS; q++) \
				wv[q] = _mm512_loadu_ps(w0 + q * KKC * LANES + (size_t) c * LANES); \
			UNROLLED for (int r = 0; r < ROWS; r++) \
			{ \
				__m512		x = _mm512_set1_ps(a[r][c]); \
				\
				UNROLLED for (int q = 0; q < PANELS; q++) \
					acc[r][q] = _mm512_fmadd_ps(x, wv[q], acc[r][q]); \
			} \
		} \
	} \
	for (int r = 0; r < rows; r++) \
		for (int q = 0; q < PANELS; q++) \
		{ \
			float	   *dst = out + (size_t) r * OC + q * LANES; \
			\
			_mm512_storeu_ps(dst, add ? _mm512_add_ps(_mm512_loadu_ps(dst), acc[r][q]) : acc[r][q]); \
		} \
}

BLOCK_KERNEL(block_2panels, 2)
BLOCK_KERNEL(block_1panel, 1)

/*
 * The AVX2 form: a panel's 16 channels are two 8-lane registers, and 6 positions x one panel
 * fill 12 of the 16 registers (with the two weight halves and a broadcast: 15).  Each output is the
 * same fused multiply-add chain as in the AVX-512 kernel and the twin: the same bits.
 */
#define ROWS_AVX2 6

__attribute__((target("avx2,fma")))
static void
block_avx2(float *out, int OC, const float *const (*taps)[9], const float *wp, int C, int rows,
		   int add)
{
	__m256		acc[ROWS_AVX2][2];

	UNROLLED for (int r = 0; r < ROWS_AVX2; r++)
		acc[r][0] = acc[r][1] = _mm256_setzero_ps();
	for (int t = 0; t < 9; t++)
	{
		const float *w0 = wp + (size_t) t * C * LANES;
		const float *a[ROWS_AVX2];

		UNROLLED for (int r = 0; r < ROWS_AVX2; r++)
			a[r] = taps[r][t];
		for (int c = 0; c < C; c++)
		{
			__m256		lo = _mm256_loadu_ps(w0 + (size_t) c * LANES),
						hi = _mm256_loadu_ps(w0 + (size_t) c * LANES + 8);

			UNROLLED for (int r = 0; r < ROWS_AVX2; r++)
			{
				__m256		x = _mm256_broadcast_ss(a[r] + c);

				acc[r][0] = _mm256_fmadd_ps(x, lo, acc[r][0]);
				acc[r][1] = _mm256_fmadd_ps(x, hi, acc[r][1]);
			}
		}
	}
	/* constant indices only (a runtime bound on r would put acc in memory, stored every step) */
	UNROLLED for (int r = 0; r < ROWS_AVX2; r++)
		UNROLLED for (int h = 0; h < 2; h++)
		{
			float	   *dst = out + (size_t) r * OC + h * 8;

			if (r < rows)
				_mm256_storeu_ps(dst, add ? _mm256_add_ps(_mm256_loadu_ps(dst), acc[r][h]) : acc[r][h]);
		}
}

void
conv3x3_direct(float *out, const float *inp, const float *wp, int B, int H, int W, int C, int OC,
			   int add)
{
	int			N = B * H * W;
	size_t		KKC = (size_t) 9 * C;
	int			wide = nn_simd_avx512();
	int			R = wide ? ROWS : ROWS_AVX2;
	const float *taps[ROWS][9];
	int			b = 0,
				y = 0,
				x = 0;

	for (int n0 = 0; n0 < N; n0 += R)
	{
		int			rows = N - n0 < R ? N - n0 : R;
		int			p = 0;

		for (int r = 0; r < R; r++)
		{
			if (r < rows)
			{
				neighbours(taps[r], inp, b, y, x, H, W, C);
				next_position(&b, &y, &x, H, W);
			}
			else
				for (int t = 0; t < 9; t++)
					taps[r][t] = zero_row;
		}
		for (; wide && p + 2 <= OC / LANES; p += 2)
			block_2panels(out + (size_t) n0 * OC + p * LANES, OC,
						  (const float *const (*)[9]) taps, wp + (size_t) p * KKC * LANES, C, rows, add);
		for (; p < OC / LANES; p++)
			(wide ? block_1panel : block_avx2) (out + (size_t) n0 * OC + p * LANES, OC,
												(const float *const (*)[9]) taps,
												wp + (size_t) p * KKC * LANES, C, rows, add);
	}
}
#else
void
conv3x3_direct(float *out, const float *inp, const float *wp, int B, int H, int W, int C, int OC,
			   int add)
{
	conv3x3_direct_ref(out, inp, wp, B, H, W, C, OC, add);
}
#endif
