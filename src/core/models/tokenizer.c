/*
 * tokenizer.c — value vocabulary of the sequence models (see tokenizer.h).
 */
#include "models/tokenizer.h"

#include <stdlib.h>
#include <string.h>

static int
cmp_i32(const void *a, const void *b)
{
	int32_t		x = *(const int32_t *) a,
				y = *(const int32_t *) b;

	return (x > y) - (x < y);
}

int
ntg_tok_build(NtgTokenizer *t, const NtgSeqSet *train, int max_len, NtgError *err)
{
	size_t		total = 0;
	size_t		k = 0;
	int32_t    *all;
	int			n = 0;

	memset(t, 0, sizeof(*t));
	t->n_classes = train->n_classes;
	for (int i = 0; i < train->n_rows; i++)
	{
		int			len;

		ntg_seqset_row(train, i, &len);
		total += len < max_len ? len : max_len;
	}
	all = ntg_malloc((total + 1) * sizeof(int32_t));
	if (all == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	for (int i = 0; i < train->n_rows; i++)
	{
		int			len;
		const int32_t *row = ntg_seqset_row(train, i, &len);

		for (int j = 0; j < len && j < max_len; j++)
			all[k++] = row[j];
	}
	qsort(all, total, sizeof(int32_t), cmp_i32);
	for (size_t i = 0; i < total; i++)
		if (n == 0 || all[i] != all[n - 1])
			all[n++] = all[i];
	if (n > NTG_TOK_MAX_VALUES)
	{
		ntg_free(all);
		return ntg_error(err, NTG_ERR_INVALID_ARG,
						 "training rows hold %d distinct values, more than the limit of %d",
						 n, NTG_TOK_MAX_VALUES);
	}
	t->values = all;
	t->n_values = n;
	return NTG_OK;
}

int
ntg_tok_from_values(NtgTokenizer *t, const int32_t *values, int n_values, int n_classes,
					NtgError *err)
{
	memset(t, 0, sizeof(*t));
	if (n_values < 0 || n_values > NTG_TOK_MAX_VALUES || n_classes < 1)
		return ntg_error(err, NTG_ERR_CORRUPT, "model data is corrupt: bad vocabulary size");
	for (int i = 1; i < n_values; i++)
		if (values[i] <= values[i - 1])
			return ntg_error(err, NTG_ERR_CORRUPT,
							 "model data is corrupt: vocabulary is not sorted and unique");
	t->values = ntg_malloc((n_values + 1) * sizeof(int32_t));
	if (t->values == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if (n_values > 0)
		memcpy(t->values, values, n_values * sizeof(int32_t));
	t->n_values = n_values;
	t->n_classes = n_classes;
	return NTG_OK;
}

int
ntg_tok_value_token(const NtgTokenizer *t, int32_t value)
{
	int			lo = 0,
				hi = t->n_values - 1;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (t->values[mid] == value)
			return mid;
		if (t->values[mid] < value)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

int
ntg_tok_encode_row(const NtgTokenizer *t, int class_index, const int32_t *values, int len,
				   int max_len, int32_t *inputs, int32_t *targets)
{
	int			k = len < max_len ? len : max_len;

	inputs[0] = ntg_tok_class(t, class_index);
	for (int j = 0; j < k; j++)
	{
		int			tok = ntg_tok_value_token(t, values[j]);

		if (tok < 0)
			return -1;
		targets[j] = tok;
		inputs[j + 1] = tok;
	}
	if (len > max_len)
		return k;				/* truncated: the row does not end here */
	targets[k] = ntg_tok_eos(t);
	return k + 1;
}

void
ntg_tok_free(NtgTokenizer *t)
{
	ntg_free(t->values);
	memset(t, 0, sizeof(*t));
}
