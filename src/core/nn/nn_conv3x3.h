/*
 * nn_conv3x3.h — the 3 x 3 convolution's forward pass and input gradient straight from the image,
 * without im2col (nn_conv3x3.c): conv2d_forward's path where the CPU has AVX2 + FMA (AVX-512 used
 * where it has that) and the output channels are a multiple of 16, and conv2d_backward's for the
 * input gradient where the input channels are.  Shapes as in nn_image.h: inp[B, H, W, C],
 * out[B*H*W, OC] (no bias).
 */
#ifndef NTG_NN_CONV3X3_H
#define NTG_NN_CONV3X3_H

#include <stddef.h>

#define CONV3X3_MAX_C 1024		/* input channels at most (the row of zeros off the image) */

/* Whether this CPU runs conv3x3_direct's vector kernels (AVX2 + FMA, and not forced portable). */
int			conv3x3_direct_supported(void);
/* Whether a convolution of C input and OC output channels can take it. */
int			conv3x3_direct_fits(int C, int OC);
/* w[OC, 3, 3, C] into panels of 16 output channels: wp[OC / 16][9 * C][16] (9 * C * OC floats). */
void		conv3x3_pack(float *wp, const float *w, int C, int OC);
/* For the input gradient: the packing of the convolution from OC channels to C whose weights are
 * w[OC, 3, 3, C] turned half a circle, w'[c, kh, kw, o] = w[o, 2 - kh, 2 - kw, c] (C a multiple
 * of 16): dinp = conv(dout, w'). */
void		conv3x3_pack_transposed(float *wp, const float *w, int C, int OC);
/* out[n, o] (+)= sum over k = (kh, kw, c) in order of inp[neighbour kh, kw of n][c] * w[o, k],
 * one fused multiply-add after another from 0, added to out when add is true, else written: the
 * vector kernel, and its plain-C twin. */
void		conv3x3_direct(float *out, const float *inp, const float *wp, int B, int H, int W,
						   int C, int OC, int add);
void		conv3x3_direct_ref(float *out, const float *inp, const float *wp, int B, int H, int W,
							   int C, int OC, int add);

#endif							/* NTG_NN_CONV3X3_H */
