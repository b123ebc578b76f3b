/*
 * nn_conv.c — 2-D convolution over channels-last images as im2col + one CBLAS sgemm per chunk of
 * positions (linear_forward / linear_backward of nn_dense.c do the products), and the bias that
 * goes with it.  Shapes are in nn_image.h; every backward accumulates (+=).
 *
 * Why im2col: unrolled, a K x K convolution over C channels is a matrix product
 * [positions, K*K*C] x [K*K*C, OC], which OpenBLAS runs near its peak even for the small images of
 * a traffic U-Net (16 x 16), where direct loops over the kernel would not.  The unrolled matrix is
 * K*K times the input, so it is built in chunks of CONV2D_CHUNK positions into one scratch buffer
 * and never kept: backward unrolls again (a copy, cheap next to the products).
 */
#include "nn/nn.h"
#include "nn/nn_conv3x3.h"
#include "nn/nn_image.h"
#include "nn/nn_image_simd.h"
#include "nn/nn_simd.h"

#include <string.h>

size_t
conv2d_col_floats(int C, int K)
{
	return K == 1 ? 0 : (size_t) CONV2D_CHUNK * K * K * C;
}

/*
 * Unroll rows n0 .. n0 + rows - 1 of the output positions (b, y, x flattened) into col[rows,
 * K*K*C]: the K x K neighbourhood of each position, (kh, kw, c) row-major, zeros off the image.
 */
static void
im2col(float *col, const float *inp, int n0, int rows, int H, int W, int C, int K)
{
	int			pad = K / 2;
	size_t		KKC = (size_t) K * K * C;

	for (int r = 0; r < rows; r++)
	{
		int			n = n0 + r;
		int			b = n / (H * W),
					y = (n / W) % H,
					x = n % W;
		float	   *dst = col + r * KKC;

		for (int kh = 0; kh < K; kh++)
		{
			int			iy = y + kh - pad;

			for (int kw = 0; kw < K; kw++, dst += C)
			{
				int			ix = x + kw - pad;

				if (iy < 0 || iy >= H || ix < 0 || ix >= W)
					memset(dst, 0, C * sizeof(float));
				else
					memcpy(dst, inp + (((size_t) b * H + iy) * W + ix) * C, C * sizeof(float));
			}
		}
	}
}

/* The transpose of im2col: add every unrolled gradient back to the input position it came from. */
static void
col2im(float *dinp, const float *col, int n0, int rows, int H, int W, int C, int K)
{
	int			pad = K / 2;
	size_t		KKC = (size_t) K * K * C;

	for (int r = 0; r < rows; r++)
	{
		int			n = n0 + r;
		int			b = n / (H * W),
					y = (n / W) % H,
					x = n % W;
		const float *src = col + r * KKC;

		for (int kh = 0; kh < K; kh++)
		{
			int			iy = y + kh - pad;

			for (int kw = 0; kw < K; kw++, src += C)
			{
				int			ix = x + kw - pad;

				if (iy >= 0 && iy < H && ix >= 0 && ix < W)
					nn_vadd(dinp + (((size_t) b * H + iy) * W + ix) * C, src, C);
			}
		}
	}
}

void
conv2d_forward(float *out, const float *inp, const float *w, const float *b, int B, int H,
			   int W, int C, int OC, int K, float *col)
{
	int			N = B * H * W;
	int			KKC = K * K * C;

	if (K == 1)
		linear_forward(out, inp, w, N, C, OC);
	else if (K == 3 && OC <= CONV2D_CHUNK && conv3x3_direct_fits(C, OC) &&
			 conv3x3_direct_supported())
	{
		/* col holds CONV2D_CHUNK * 9 * C floats: the packed weights fit */
		conv3x3_pack(col, w, C, OC);
		conv3x3_direct(out, inp, col, B, H, W, C, OC, 0);
	}
	else
		for (int n0 = 0; n0 < N; n0 += CONV2D_CHUNK)
		{
			int			rows = N - n0 < CONV2D_CHUNK ? N - n0 : CONV2D_CHUNK;

			im2col(col, inp, n0, rows, H, W, C, K);
			linear_forward(out + (size_t) n0 * OC, col, w, rows, KKC, OC);
		}
	if (b != NULL)
		img_bias_forward(out, b, N, OC);
}

void
conv2d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
				const float *w, int B, int H, int W, int C, int OC, int K, float *col)
{
	int			N = B * H * W;
	int			KKC = K * K * C;

	if (db != NULL)
		img_bias_backward(db, dout, N, OC);
	if (K == 1)
	{
		linear_backward(dinp, dw, dout, inp, w, N, C, OC);
		return;
	}
	if (dinp != NULL && K == 3 && OC <= CONV2D_CHUNK && conv3x3_direct_fits(OC, C) &&
		conv3x3_direct_supported())
	{
		/* a convolution of dout by the turned kernel; col holds its packing before dw uses it */
		conv3x3_pack_transposed(col, w, C, OC);
		conv3x3_direct(dinp, dout, col, B, H, W, OC, C, 1);
		dinp = NULL;
	}
	for (int n0 = 0; n0 < N; n0 += CONV2D_CHUNK)
	{
		int			rows = N - n0 < CONV2D_CHUNK ? N - n0 : CONV2D_CHUNK;
		const float *d = dout + (size_t) n0 * OC;

		/* dw from the unrolled input, then the same buffer takes the unrolled gradient */
		if (dw != NULL)
		{
			im2col(col, inp, n0, rows, H, W, C, K);
			linear_backward(NULL, dw, d, col, w, rows, KKC, OC);
		}
		if (dinp != NULL)
		{
			/* written, not accumulated: saves clearing the largest buffer of the pass */
			nn_sgemm(0, 0, rows, KKC, OC, 1.0f, d, OC, w, KKC, 0.0f, col, KKC);
			col2im(dinp, col, n0, rows, H, W, C, K);
		}
	}
}

void
img_bias_forward(float *out, const float *b, int N, int C)
{
	for (int n = 0; n < N; n++)
		nn_vadd(out + (size_t) n * C, b, C);
}

void
img_bias_backward(float *db, const float *dout, int N, int C)
{
	for (int n = 0; n < N; n++)
		nn_vadd(db, dout + (size_t) n * C, C);
}
