/*
 * nn_image.h — layers over images, for convolutional networks (the netdiffus U-Net): 2-D
 * convolution (im2col + CBLAS sgemm), group normalisation, SiLU, average-pool down-sampling and
 * nearest-neighbour up-sampling, channel concatenation and broadcast, and multi-head
 * self-attention over the positions of an image.  Same conventions as nn.h: free functions,
 * shapes in the comments, every *_backward ACCUMULATES (+=) into its gradient outputs.
 *
 * Layout: images are channels-last (NHWC): a batch of B images of H x W positions and C channels
 * is B*H*W rows of C floats, inp[B, H, W, C].  A 1x1 convolution is then linear_forward over the
 * rows, and attention over positions reads rows directly.
 */
#ifndef NTG_NN_IMAGE_H
#define NTG_NN_IMAGE_H

#include <stddef.h>

/* ---- convolution ---------------------------------------------------------------------------- */

/*
 * K x K convolution (K odd), stride 1, zero padding K/2, so out has the input's H x W:
 *   out[B, H, W, OC] = conv(inp[B, H, W, C], w[OC, K, K, C]) + b[OC]      (b NULL: no bias)
 * The weight row of output channel o is (kh, kw, c) row-major: PyTorch's [OC, C, K, K] permuted.
 * The positions are unrolled (im2col) in chunks of CONV2D_CHUNK rows into col, which must hold
 * conv2d_col_floats(C, K) floats (none for K = 1: a 1x1 convolution multiplies inp directly),
 * and each chunk is one sgemm.
 */
#define CONV2D_CHUNK 1024
size_t		conv2d_col_floats(int C, int K);
void		conv2d_forward(float *out, const float *inp, const float *w, const float *b,
						   int B, int H, int W, int C, int OC, int K, float *col);
/* dinp[B,H,W,C] += ..., dw[OC, K*K*C] += ..., db[OC] += ...; any of them may be NULL to skip it;
 * col as for forward (the unrolled input is recomputed, not kept). */
void		conv2d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
							const float *w, int B, int H, int W, int C, int OC, int K, float *col);

/* out[N, C] += b[C] on every row; backward: db[C] += sum over rows of dout. */
void		img_bias_forward(float *out, const float *b, int N, int C);
void		img_bias_backward(float *db, const float *dout, int N, int C);

/* ---- normalisation and activation ---------------------------------------------------------- */

/*
 * Group normalisation of each image over groups of C/G consecutive channels and all P positions:
 *   out[B, P, C] = (inp - mean[b, g]) * rstd[b, g] * w[c] + b[c],
 *   rstd = 1 / sqrt(var + eps) (biased variance); mean and rstd [B, G] are kept for backward.
 * C must be a multiple of G; scratch holds groupnorm_scratch_floats(C) floats.
 */
size_t		groupnorm_scratch_floats(int C);
void		groupnorm_forward(float *out, float *mean, float *rstd, const float *inp,
							  const float *w, const float *b, int B, int P, int C, int G, float eps,
							  float *scratch);
void		groupnorm_backward(float *dinp, float *dw, float *db, const float *dout,
							   const float *inp, const float *w, const float *mean,
							   const float *rstd, int B, int P, int C, int G, float *scratch);

/* out[n] = inp[n] * sigmoid(inp[n]) over n floats; backward: dinp += dout * silu'(inp). */
void		img_silu_forward(float *out, const float *inp, size_t n);
void		img_silu_backward(float *dinp, const float *dout, const float *inp, size_t n);

/* ---- resampling and plumbing --------------------------------------------------------------- */

/* out[B, H/2, W/2, C] = mean of each 2x2 block of inp[B, H, W, C] (H, W even). */
void		avgpool2_forward(float *out, const float *inp, int B, int H, int W, int C);
void		avgpool2_backward(float *dinp, const float *dout, int B, int H, int W, int C);

/* out[B, 2H, 2W, C]: every position of inp[B, H, W, C] copied into a 2x2 block. */
void		upsample2_forward(float *out, const float *inp, int B, int H, int W, int C);
void		upsample2_backward(float *dinp, const float *dout, int B, int H, int W, int C);

/* out[N, C1 + C2] = [a[N, C1] | b[N, C2]] row by row; backward splits dout into da and db. */
void		concat_forward(float *out, const float *a, const float *b, int N, int C1, int C2);
void		concat_backward(float *da, float *db, const float *dout, int N, int C1, int C2);

/* x[B, P, C] += e[B, C] at every position of each image; backward: de[B, C] += sum over P. */
void		channel_add_forward(float *x, const float *e, int B, int P, int C);
void		channel_add_backward(float *de, const float *dx, int B, int P, int C);

/* ---- attention over image positions -------------------------------------------------------- */

/*
 * Multi-head self-attention among the P positions of each image (no mask: every position sees
 * every other), NH heads of HS = C / NH channels:
 *   qkv[B*P, 3C] = (q | k | v), out[B*P, C], att[B, NH, P, P] softmax(q k^T / sqrt(HS)) kept for
 *   backward.  Cost O(B * NH * P^2 * HS): meant for the coarse levels of a U-Net.
 */
void		image_attention_forward(float *out, float *att, const float *qkv, int B, int P, int C,
									int NH);
/* dqkv[B*P, 3C] += ...; scratch: P floats. */
void		image_attention_backward(float *dqkv, const float *dout, const float *qkv,
									 const float *att, int B, int P, int C, int NH, float *scratch);

#endif							/* NTG_NN_IMAGE_H */
