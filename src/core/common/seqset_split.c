/*
 * seqset_split.c — subsets of a sequence set that keep its classes: the held-out part of a
 * training set (ntg.train's "validation" hyperparameter) and what is left to train on.
 *
 * Both parts keep every class of the whole set, in the same order, even a class with no row in
 * one part, so that class indices (and a model's <CLASS_c> tokens) mean the same in both.
 */
#include "common/seqset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"

static int
compare_ints(const void *a, const void *b)
{
	int			x = *(const int *) a,
				y = *(const int *) b;

	return (x > y) - (x < y);
}

int
ntg_seqset_subset(const NtgSeqSet *set, const int *rows, int n, NtgSeqSet *out, NtgError *err)
{
	int64_t		values = 0;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < n; i++)
		values += set->row_start[rows[i] + 1] - set->row_start[rows[i]];
	out->classes = ntg_calloc(set->n_classes > 0 ? set->n_classes : 1, sizeof(char *));
	out->row_class = ntg_malloc(sizeof(int) * (n > 0 ? n : 1));
	out->row_start = ntg_malloc(sizeof(int64_t) * (n + 1));
	out->values = ntg_malloc(sizeof(int32_t) * (values > 0 ? values : 1));
	if (out->classes == NULL || out->row_class == NULL || out->row_start == NULL ||
		out->values == NULL)
	{
		ntg_seqset_free(out);
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	out->n_classes = set->n_classes;
	for (int c = 0; c < set->n_classes; c++)
		if ((out->classes[c] = ntg_strdup(set->classes[c])) == NULL)
		{
			ntg_seqset_free(out);
			return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		}
	out->row_start[0] = 0;
	for (int i = 0; i < n; i++)
	{
		int			len;
		const int32_t *row = ntg_seqset_row(set, rows[i], &len);

		out->row_class[i] = set->row_class[rows[i]];
		memcpy(out->values + out->row_start[i], row, sizeof(int32_t) * len);
		out->row_start[i + 1] = out->row_start[i] + len;
		if (len > out->max_len)
			out->max_len = len;
	}
	out->n_rows = n;
	return NTG_OK;
}

int
ntg_seqset_split(const NtgSeqSet *set, double fraction, NtgRng *rng, NtgSeqSet *kept,
				 NtgSeqSet *held, NtgError *err)
{
	int			n_rows = set->n_rows > 0 ? set->n_rows : 1;
	int		   *order = ntg_malloc(sizeof(int) * n_rows);	/* rows bucketed by class */
	int		   *first = ntg_calloc(set->n_classes + 1, sizeof(int));
	int		   *keep = ntg_malloc(sizeof(int) * n_rows);
	int		   *hold = ntg_malloc(sizeof(int) * n_rows);
	int			n_keep = 0,
				n_hold = 0,
				rc;

	memset(kept, 0, sizeof(*kept));
	memset(held, 0, sizeof(*held));
	if (order == NULL || first == NULL || keep == NULL || hold == NULL)
	{
		ntg_free(order), ntg_free(first), ntg_free(keep), ntg_free(hold);
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	for (int r = 0; r < set->n_rows; r++)
		first[set->row_class[r] + 1]++;
	for (int c = 0; c < set->n_classes; c++)
		first[c + 1] += first[c];
	/* bucket the rows by class: first[c] is class c's write cursor, then shifted back */
	for (int r = 0; r < set->n_rows; r++)
		order[first[set->row_class[r]]++] = r;
	for (int c = set->n_classes; c > 0; c--)
		first[c] = first[c - 1];
	first[0] = 0;
	for (int c = 0; c < set->n_classes; c++)
	{
		int		   *rows = order + first[c];
		int			n = first[c + 1] - first[c],
					h = (int) floor(fraction * n + 0.5);

		for (int i = n - 1; i > 0; i--)	/* Fisher-Yates over the class's rows */
		{
			int			j = (int) ntg_rng_below(rng, (uint64_t) i + 1),
						t = rows[i];

			rows[i] = rows[j];
			rows[j] = t;
		}
		if (h > n - 1)			/* every class keeps a row to train on */
			h = n > 0 ? n - 1 : 0;
		for (int i = 0; i < n; i++)
		{
			if (i < h)
				hold[n_hold++] = rows[i];
			else
				keep[n_keep++] = rows[i];
		}
	}
	/* rows keep their original order within each part */
	qsort(keep, n_keep, sizeof(int), compare_ints);
	qsort(hold, n_hold, sizeof(int), compare_ints);
	rc = ntg_seqset_subset(set, keep, n_keep, kept, err);
	if (rc == NTG_OK)
		rc = ntg_seqset_subset(set, hold, n_hold, held, err);
	if (rc != NTG_OK)
		ntg_seqset_free(kept);
	ntg_free(order), ntg_free(first), ntg_free(keep), ntg_free(hold);
	return rc;
}
