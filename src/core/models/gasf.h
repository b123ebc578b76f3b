/*
 * gasf.h — sequences as Gramian Angular Summation Field images and back (docs/definitions.md,
 * "GASF image"), the representation the netdiffus generator learns:
 *
 *   encode   the row right-padded with 0 to N values, each value v mapped to u = f(v) (the value
 *            scale: f(v) = v "linear", or f(v) = sign(v) ln(1 + |v|) "log"), min-max scaled to x
 *            in [0, 1] with f of the training set's global minimum and maximum (lo, hi: of the
 *            padded training rows, so padding counts), phi = arccos(x), G[i][j] =
 *            cos(phi_i + phi_j): an N x N image of floats in [-1, 1];
 *   decode   x_i read from the diagonal, x_i = sqrt((G[i][i] + 1) / 2), or fitted to the whole
 *            image by weighted least squares (gasf_fit_x: row i of G holds cos(phi_i + phi_j) for
 *            every j, so a noisy image has N^2 observations of N unknowns, not N);
 *   refine   each x_i replaced by the observed value (in the padded training rows: among all of
 *            them, the class's, or the class's at position i) whose x is nearest, and the row ends
 *            at the first padding value 0.  Every value of a decoded row therefore occurs in the
 *            training rows.
 *
 * Values outside [lo, hi] (rows other than the training rows) are clamped to it.  Rows longer
 * than N are cut to their first N values.
 */
#ifndef NTG_GASF_H
#define NTG_GASF_H

#include <stdint.h>

#include "common/ntg_core.h"
#include "common/seqset.h"

/* How values are mapped before min-max scaling (the "value_scale" hyperparameter). */
typedef enum GasfScale
{
	GASF_SCALE_LINEAR = 0,		/* x = (v - lo) / (hi - lo): the paper's */
	GASF_SCALE_LOG = 1			/* the same on sign(v) ln(1 + |v|) */
} GasfScale;

/* How x is read back from an image (the "decode" sampling option). */
typedef enum GasfDecode
{
	GASF_DECODE_DIAGONAL = 0,	/* x_i = sqrt((G[i][i] + 1) / 2) */
	GASF_DECODE_FIT = 1			/* least squares over every pixel (gasf_fit_x) */
} GasfDecode;

/* The scope of the values a decoded value may be refined to (the "refine" sampling option). */
typedef enum GasfRefine
{
	GASF_REFINE_ALL = 0,		/* every value of the padded training rows */
	GASF_REFINE_CLASS = 1,		/* the values of the class's padded rows */
	GASF_REFINE_POSITION = 2	/* the values of the class's padded rows at that position */
} GasfRefine;

/*
 * The values observed in the padded training rows, per class and position (what the model
 * stores), and their unions per class and overall (derived; not stored).  Every list is sorted
 * ascending without repeats and is never empty (a position beyond a class's longest row holds
 * the padding value 0).
 */
typedef struct GasfValues
{
	int			n_classes;
	int			N;
	int32_t		lo;				/* min of the padded training rows */
	int32_t		hi;				/* max of the padded training rows */
	GasfScale	scale;			/* set by the caller after gasf_values_build (default linear) */
	int32_t    *values;			/* the n_classes * N lists, concatenated (class-major) */
	int32_t    *offsets;		/* n_classes * N + 1: list k is values[offsets[k] .. offsets[k+1]) */
	int32_t    *class_values;	/* per class: the union of its N lists */
	int32_t    *class_offsets;	/* n_classes + 1 */
	int32_t    *all_values;		/* the union of every list */
	int			n_all;
} GasfValues;

/* The tables of the first N values of train's rows (classes as in train). */
int			gasf_values_build(GasfValues *gv, const NtgSeqSet *train, int N, NtgError *err);
/* Given n_classes, N, lo, hi, values and offsets (read from a stored model and checked by
 * gasf_values_check), build the per-class and overall unions. */
int			gasf_values_derive(GasfValues *gv, NtgError *err);
/* Are the stored lists well formed: offsets from 0 to total, non-decreasing with every list
 * non-empty, values strictly ascending within lo..hi?  1 if so. */
int			gasf_values_check(const int32_t *values, int64_t n_values, const int32_t *offsets,
							  int n_lists, int32_t lo, int32_t hi);
void		gasf_values_free(GasfValues *gv);

/* x in [0, 1] of value v under the scaling lo..hi (clamped; 0 when hi == lo). */
double		gasf_scale(int32_t v, int32_t lo, int32_t hi, GasfScale scale);
/* Its inverse: the value (not rounded) whose x is x (clamped to [0, 1]). */
double		gasf_unscale(double x, int32_t lo, int32_t hi, GasfScale scale);

/* The GASF image of a row (len values, cut to N) into img, N x N floats at row stride `stride`
 * (>= N; the rest of each image row is left alone). */
void		gasf_encode(float *img, int stride, const int32_t *row, int len, int N, int32_t lo,
						int32_t hi, GasfScale scale);

/* The value of the diagonal entry g = G[i][i] before refinement: gasf_unscale(x),
 * x = sqrt((clamp(g, -1, 1) + 1) / 2). */
double		gasf_diagonal_value(float g, int32_t lo, int32_t hi, GasfScale scale);

/* x[0..N) fitted to the image img (N x N at row stride `stride`): the x in [0, 1]^N whose GASF
 * image is nearest to img in the squared error weighted by 1 / std[i*N + j]^2 (std NULL: equal
 * weights), by damped Gauss-Newton steps in phi from the diagonal's reading.  On an exact image it
 * returns the encoded x (to float precision); N <= 64. */
void		gasf_fit_x(const float *img, int stride, int N, const float *std, double *x);

/* The element of sorted[0..n) nearest to v (the lower one on a tie); n >= 1. */
int32_t		gasf_nearest(const int32_t *sorted, int n, double v);
/* The element of sorted[0..n) whose x (gasf_scale) is nearest to x (the lower one on a tie). */
int32_t		gasf_nearest_x(const int32_t *sorted, int n, double x, int32_t lo, int32_t hi,
						   GasfScale scale);

/* Decode (as `decode` says; std weighs the fit, may be NULL) and refine the image img (N x N at
 * row stride `stride`) of class cls into out (up to N values); returns the row's length. */
int			gasf_decode(const GasfValues *gv, const float *img, int stride, int cls,
						GasfRefine refine, GasfDecode decode, const float *std, int32_t *out);

#endif							/* NTG_GASF_H */
