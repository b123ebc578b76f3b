/*
 * nn_image_simd.h — the vector kernels of the image layers (nn_image_simd.c): per-channel affine
 * maps and sums for group norm (adds are nn_simd.h's nn_vadd), in an AVX2+FMA version and a portable one chosen
 * once per process from the CPU's features (as nn_simd.c does), so a given machine always computes
 * the same bits.  All arrays hold n floats; a, b, c are per-element vectors.
 */
#ifndef NTG_NN_IMAGE_SIMD_H
#define NTG_NN_IMAGE_SIMD_H

/* out = a * x + c */
void		nn_img_affine(float *out, const float *a, const float *x, const float *c, int n);
/* out += a * x + b * y + c */
void		nn_img_affine2_acc(float *out, const float *a, const float *x, const float *b,
							   const float *y, const float *c, int n);
/* q += (x - m)^2 */
void		nn_img_sum_sqdiff(float *q, const float *x, const float *m, int n);
/* s += d; q += d * (x - m) */
void		nn_img_sum_dprod(float *s, float *q, const float *d, const float *x, const float *m,
							 int n);

#endif							/* NTG_NN_IMAGE_SIMD_H */
