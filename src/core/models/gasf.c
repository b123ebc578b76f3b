/*
 * gasf.c — GASF images of payload-length sequences, and the refinement that maps a generated
 * image back to observed values (gasf.h has the definitions).
 *
 * Encoding is computed in double and stored as float.  Decoding from a float diagonal loses
 * precision near x = 0 (G = -1, where d x / d G is unbounded): a float's error of ~6e-8 in G
 * moves v by about (hi - lo)^2 * 1.5e-8 / (v - lo).  Refinement to the nearest observed value
 * absorbs that as long as observed values near the minimum are farther apart, which the unit
 * tests check on real rows (test/unit/test_netdiffus.c).
 */
#include "models/gasf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int
cmp_i32(const void *a, const void *b)
{
	int32_t		x = *(const int32_t *) a,
				y = *(const int32_t *) b;

	return (x > y) - (x < y);
}

/* Sort v[0..n) and drop repeats; returns the new length. */
static int64_t
sort_unique(int32_t *v, int64_t n)
{
	int64_t		k = 0;

	qsort(v, (size_t) n, sizeof(int32_t), cmp_i32);
	for (int64_t i = 0; i < n; i++)
		if (k == 0 || v[i] != v[k - 1])
			v[k++] = v[i];
	return k;
}

void
gasf_values_free(GasfValues *gv)
{
	ntg_free(gv->values);
	ntg_free(gv->offsets);
	ntg_free(gv->class_values);
	ntg_free(gv->class_offsets);
	ntg_free(gv->all_values);
	memset(gv, 0, sizeof(*gv));
}

int
gasf_values_build(GasfValues *gv, const NtgSeqSet *train, int N, NtgError *err)
{
	int			K = train->n_classes * N;
	int64_t		total = 0;
	int64_t    *start = ntg_calloc(K + 1, sizeof(int64_t));
	int64_t    *fill = ntg_calloc(K + 1, sizeof(int64_t));
	int32_t    *tmp;

	memset(gv, 0, sizeof(*gv));
	gv->n_classes = train->n_classes;
	gv->N = N;
	/* list k = (class, position) gets one value per row of the class: its value there, or the
	 * padding 0 where the row has ended; a class without rows (not from the driver) pads */
	if (start == NULL || fill == NULL)
		goto nomem;
	for (int r = 0; r < train->n_rows; r++)
		for (int j = 0; j < N; j++)
			start[train->row_class[r] * N + j + 1]++;
	for (int k = 0; k < K; k++)
	{
		int64_t		n = start[k + 1] > 0 ? start[k + 1] : 1;

		start[k + 1] = start[k] + n;
	}
	tmp = ntg_malloc((size_t) (start[K] > 0 ? start[K] : 1) * sizeof(int32_t));
	gv->values = ntg_malloc((size_t) (start[K] > 0 ? start[K] : 1) * sizeof(int32_t));
	gv->offsets = ntg_malloc((size_t) (K + 1) * sizeof(int32_t));
	if (tmp == NULL || gv->values == NULL || gv->offsets == NULL)
	{
		ntg_free(tmp);
		goto nomem;
	}
	for (int k = 0; k < K; k++)
		fill[k] = start[k];
	for (int r = 0; r < train->n_rows; r++)
	{
		int			len;
		const int32_t *row = ntg_seqset_row(train, r, &len);

		for (int j = 0; j < N; j++)
			tmp[fill[train->row_class[r] * N + j]++] = j < len ? row[j] : 0;
	}
	gv->lo = K > 0 ? INT32_MAX : 0;
	gv->hi = K > 0 ? INT32_MIN : 0;
	for (int k = 0; k < K; k++)
	{
		int64_t		n;

		if (fill[k] == start[k])
			tmp[fill[k]++] = 0;
		n = sort_unique(tmp + start[k], fill[k] - start[k]);
		gv->offsets[k] = (int32_t) total;
		memcpy(gv->values + total, tmp + start[k], (size_t) n * sizeof(int32_t));
		total += n;
		if (tmp[start[k]] < gv->lo)
			gv->lo = tmp[start[k]];
		if (tmp[start[k] + n - 1] > gv->hi)
			gv->hi = tmp[start[k] + n - 1];
	}
	gv->offsets[K] = (int32_t) total;
	ntg_free(tmp);
	ntg_free(start);
	ntg_free(fill);
	return gasf_values_derive(gv, err);

nomem:
	ntg_free(start);
	ntg_free(fill);
	gasf_values_free(gv);
	return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
}

int
gasf_values_check(const int32_t *values, int64_t n_values, const int32_t *offsets, int n_lists,
				  int32_t lo, int32_t hi)
{
	if (n_lists < 1 || offsets[0] != 0 || offsets[n_lists] != n_values || lo > hi)
		return 0;
	for (int k = 0; k < n_lists; k++)
	{
		if (offsets[k + 1] <= offsets[k] || offsets[k + 1] > n_values)
			return 0;
		for (int32_t i = offsets[k]; i < offsets[k + 1]; i++)
			if (values[i] < lo || values[i] > hi || (i > offsets[k] && values[i] <= values[i - 1]))
				return 0;
	}
	return 1;
}

int
gasf_values_derive(GasfValues *gv, NtgError *err)
{
	int			N = gv->N;
	int64_t		total = gv->offsets[gv->n_classes * N];
	int64_t		pos = 0;

	gv->class_values = ntg_malloc((size_t) (total > 0 ? total : 1) * sizeof(int32_t));
	gv->class_offsets = ntg_malloc((size_t) (gv->n_classes + 1) * sizeof(int32_t));
	gv->all_values = ntg_malloc((size_t) (total > 0 ? total : 1) * sizeof(int32_t));
	if (gv->class_values == NULL || gv->class_offsets == NULL || gv->all_values == NULL)
	{
		gasf_values_free(gv);
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	for (int c = 0; c < gv->n_classes; c++)
	{
		int32_t		a = gv->offsets[c * N],
					b = gv->offsets[(c + 1) * N];

		gv->class_offsets[c] = (int32_t) pos;
		memcpy(gv->class_values + pos, gv->values + a, (size_t) (b - a) * sizeof(int32_t));
		pos += sort_unique(gv->class_values + pos, b - a);
	}
	gv->class_offsets[gv->n_classes] = (int32_t) pos;
	memcpy(gv->all_values, gv->values, (size_t) total * sizeof(int32_t));
	gv->n_all = (int) sort_unique(gv->all_values, total);
	return NTG_OK;
}

/* The value scale's map u = f(v) (gasf.h). */
static double
scale_u(double v, GasfScale scale)
{
	return scale == GASF_SCALE_LOG ? copysign(log1p(fabs(v)), v) : v;
}

double
gasf_scale(int32_t v, int32_t lo, int32_t hi, GasfScale scale)
{
	double		a,
				x;

	if (hi <= lo)
		return 0.0;
	a = scale_u(lo, scale);
	x = (scale_u(v, scale) - a) / (scale_u(hi, scale) - a);
	return x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x;
}

double
gasf_unscale(double x, int32_t lo, int32_t hi, GasfScale scale)
{
	double		a = scale_u(lo, scale),
				u;

	x = x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x;
	u = a + x * (scale_u(hi, scale) - a);
	return scale == GASF_SCALE_LOG ? copysign(expm1(fabs(u)), u) : u;
}

void
gasf_encode(float *img, int stride, const int32_t *row, int len, int N, int32_t lo, int32_t hi,
			GasfScale scale)
{
	double		phi[256];

	for (int i = 0; i < N && i < 256; i++)
		phi[i] = acos(gasf_scale(i < len ? row[i] : 0, lo, hi, scale));
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			img[(size_t) i * stride + j] = (float) cos(phi[i] + phi[j]);
}

static double
diagonal_x(float g)
{
	double		c = g < -1.0f ? -1.0 : g > 1.0f ? 1.0 : (double) g;

	return sqrt((c + 1.0) / 2.0);
}

double
gasf_diagonal_value(float g, int32_t lo, int32_t hi, GasfScale scale)
{
	return gasf_unscale(diagonal_x(g), lo, hi, scale);
}

/* sum over pixels of w (cos(phi_i + phi_j) - G_ij)^2 */
static double
fit_cost(const float *img, int stride, int N, const float *std, const double *phi)
{
	double		cost = 0.0;

	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
		{
			double		w = std != NULL ? 1.0 / ((double) std[i * N + j] * std[i * N + j]) : 1.0,
						sum = phi[i] + phi[j],
						r = cos(sum) - img[(size_t) i * stride + j];

			cost += w * r * r;
		}
	return cost;
}

/* Solve the symmetric positive definite A d = b (n x n, A overwritten) by Cholesky; 0 if A is
 * not positive definite. */
static int
cholesky_solve(double *A, double *b, int n)
{
	for (int j = 0; j < n; j++)
	{
		double		s = A[j * n + j];

		for (int k = 0; k < j; k++)
			s -= A[j * n + k] * A[j * n + k];
		if (!(s > 0.0))
			return 0;
		A[j * n + j] = sqrt(s);
		for (int i = j + 1; i < n; i++)
		{
			double		t = A[i * n + j];

			for (int k = 0; k < j; k++)
				t -= A[i * n + k] * A[j * n + k];
			A[i * n + j] = t / A[j * n + j];
		}
	}
	for (int i = 0; i < n; i++)
	{
		for (int k = 0; k < i; k++)
			b[i] -= A[i * n + k] * b[k];
		b[i] /= A[i * n + i];
	}
	for (int i = n - 1; i >= 0; i--)
	{
		for (int k = i + 1; k < n; k++)
			b[i] -= A[k * n + i] * b[k];
		b[i] /= A[i * n + i];
	}
	return 1;
}

/*
 * Why a fit: the diagonal alone gives one noisy reading of each x_i, while every pixel of row i
 * and column i depends on it; on a generated image whose pixels each carry an error, using all
 * N^2 of them averages the errors out.  Levenberg-Marquardt in phi (bounded to [0, pi/2]: x in
 * [0, 1]), started from the diagonal, keeping a step only when it lowers the weighted error, so
 * the result is never worse (by that error) than the diagonal's reading.
 */
void
gasf_fit_x(const float *img, int stride, int N, const float *std, double *x)
{
	double		phi[64],
				trial[64],
				g[64],
				A[64 * 64];
	double		lambda = 1e-3,
				cost;

	for (int i = 0; i < N; i++)
		phi[i] = acos(diagonal_x(img[(size_t) i * stride + i]));
	cost = fit_cost(img, stride, N, std, phi);
	for (int it = 0; it < 30 && cost > 0.0; it++)
	{
		double		new_cost;

		memset(g, 0, sizeof(double) * N);
		memset(A, 0, sizeof(double) * N * N);
		for (int i = 0; i < N; i++)
			for (int j = 0; j < N; j++)
			{
				double		w = std != NULL ? 1.0 / ((double) std[i * N + j] * std[i * N + j]) : 1.0,
							sum = phi[i] + phi[j],
							r = cos(sum) - img[(size_t) i * stride + j],
							d = -sin(sum);

				/* d G_ij / d phi_i = d G_ij / d phi_j = d (2 d on the diagonal) */
				g[i] += w * d * r;
				g[j] += w * d * r;
				A[i * N + i] += w * d * d;
				A[j * N + j] += w * d * d;
				A[i * N + j] += w * d * d;
				A[j * N + i] += w * d * d;
			}
		for (int i = 0; i < N; i++)
			A[i * N + i] += lambda * (A[i * N + i] + 1e-12);
		if (!cholesky_solve(A, g, N))
		{
			lambda *= 10.0;
			continue;
		}
		for (int i = 0; i < N; i++)
		{
			double		p = phi[i] - g[i];

			trial[i] = p < 0.0 ? 0.0 : p > M_PI / 2 ? M_PI / 2 : p;
		}
		new_cost = fit_cost(img, stride, N, std, trial);
		if (new_cost < cost)
		{
			memcpy(phi, trial, sizeof(double) * N);
			if (cost - new_cost < 1e-12 * cost)
				break;
			cost = new_cost;
			lambda = lambda > 1e-9 ? lambda / 10.0 : lambda;
		}
		else if ((lambda *= 10.0) > 1e6)
			break;
	}
	for (int i = 0; i < N; i++)
		x[i] = cos(phi[i]);
}

int32_t
gasf_nearest(const int32_t *sorted, int n, double v)
{
	int			a = 0,
				b = n;

	/* first element >= v */
	while (a < b)
	{
		int			m = a + (b - a) / 2;

		if (sorted[m] < v)
			a = m + 1;
		else
			b = m;
	}
	if (a == n)
		return sorted[n - 1];
	if (a == 0)
		return sorted[0];
	return v - sorted[a - 1] <= sorted[a] - v ? sorted[a - 1] : sorted[a];
}

/* Why in x: the network's errors are about even in x (in the image), not in v; with the log scale
 * "nearest" in v would favour the larger of two neighbours far more often than the image does. */
int32_t
gasf_nearest_x(const int32_t *sorted, int n, double x, int32_t lo, int32_t hi, GasfScale scale)
{
	int			a = 0,
				b = n;

	if (isnan(x))
		return sorted[0];
	/* first element whose x >= x (x is non-decreasing in v) */
	while (a < b)
	{
		int			m = a + (b - a) / 2;

		if (gasf_scale(sorted[m], lo, hi, scale) < x)
			a = m + 1;
		else
			b = m;
	}
	if (a == n)
		return sorted[n - 1];
	if (a == 0)
		return sorted[0];
	return x - gasf_scale(sorted[a - 1], lo, hi, scale) <= gasf_scale(sorted[a], lo, hi, scale) - x ?
		sorted[a - 1] : sorted[a];
}

int
gasf_decode(const GasfValues *gv, const float *img, int stride, int cls, GasfRefine refine,
			GasfDecode decode, const float *std, int32_t *out)
{
	double		x[64];
	int			len = 0;

	if (decode == GASF_DECODE_FIT)
		gasf_fit_x(img, stride, gv->N, std, x);
	else
		for (int i = 0; i < gv->N; i++)
			x[i] = diagonal_x(img[(size_t) i * stride + i]);
	for (int i = 0; i < gv->N; i++)
	{
		const int32_t *list;
		int			n;
		int32_t		r;

		if (refine == GASF_REFINE_POSITION)
		{
			int			k = cls * gv->N + i;

			list = gv->values + gv->offsets[k];
			n = gv->offsets[k + 1] - gv->offsets[k];
		}
		else if (refine == GASF_REFINE_CLASS)
		{
			list = gv->class_values + gv->class_offsets[cls];
			n = gv->class_offsets[cls + 1] - gv->class_offsets[cls];
		}
		else
		{
			list = gv->all_values;
			n = gv->n_all;
		}
		r = gasf_nearest_x(list, n, x[i], gv->lo, gv->hi, gv->scale);
		if (r == 0)
			break;				/* padding: the row ends */
		out[len++] = r;
	}
	return len;
}
