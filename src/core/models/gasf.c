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

double
gasf_scale(int32_t v, int32_t lo, int32_t hi)
{
	double		x;

	if (hi <= lo)
		return 0.0;
	x = ((double) v - lo) / ((double) hi - lo);
	return x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x;
}

void
gasf_encode(float *img, int stride, const int32_t *row, int len, int N, int32_t lo, int32_t hi)
{
	double		phi[256];

	for (int i = 0; i < N && i < 256; i++)
		phi[i] = acos(gasf_scale(i < len ? row[i] : 0, lo, hi));
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			img[(size_t) i * stride + j] = (float) cos(phi[i] + phi[j]);
}

double
gasf_diagonal_value(float g, int32_t lo, int32_t hi)
{
	double		c = g < -1.0f ? -1.0 : g > 1.0f ? 1.0 : (double) g;
	double		x = sqrt((c + 1.0) / 2.0);

	return (double) lo + x * ((double) hi - lo);
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

int
gasf_decode(const GasfValues *gv, const float *img, int stride, int cls, GasfRefine refine,
			int32_t *out)
{
	int			len = 0;

	for (int i = 0; i < gv->N; i++)
	{
		double		v = gasf_diagonal_value(img[(size_t) i * stride + i], gv->lo, gv->hi);
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
		r = gasf_nearest(list, n, v);
		if (r == 0)
			break;				/* padding: the row ends */
		out[len++] = r;
	}
	return len;
}
