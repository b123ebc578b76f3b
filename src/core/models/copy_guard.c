/*
 * copy_guard.c — sampling with copy control, for every generator kind (model.h).
 *
 * A generator that fits short flows well also reproduces its rare training rows whole, more often
 * than fresh real traffic would repeat them.  Good-Turing says how often fresh traffic does: among
 * N training rows of a class, with N(r) distinct sequences seen r times, the sequences seen once
 * hold a probability of about 2 N(2) / N in new traffic (r* = 2 N(2) / N(1) each), not the N(1) / N
 * of a model that learnt its rows by heart.  So the sampler keeps a copy of a sequence seen once with
 * probability min(1, b * 2 N(2) / N(1)) (b = copy_budget; 1: as often as fresh traffic repeats such
 * sequences, 0: never) and draws the row again otherwise: rejection sampling from the model's
 * distribution reweighted by that probability.  Sequences seen twice or more are common traffic and
 * are left alone: Good-Turing's r* for them rests on counts of counts that are small and gappy in
 * small classes (a class's most frequent sequence would get r* = 0 when no sequence is one more
 * frequent), and discounting them too made the synthetic rows' lengths and values drift on the
 * nDPI benchmark (docs/research/generator-quality.md).
 *
 * The index holds 64-bit hashes of the training sequences, per class, with their counts.  It does
 * not hide them: short sequences of packet sizes can be found again by hashing candidates, so a
 * model is as sensitive as its training rows (its weights can reproduce them anyway).
 */
#include "models/model.h"

#include <stdlib.h>
#include <string.h>

#define COC_WIDTH 3				/* counts of counts kept: N(1), N(2) */

/* FNV-1a over the length and the values (little-endian), spread by one splitmix64 step. */
static uint64_t
seq_hash(const int32_t *v, int len)
{
	uint64_t	h = UINT64_C(0xcbf29ce484222325);
	uint64_t	z;

	for (int i = 0; i < 4; i++)
		h = (h ^ (((uint32_t) len >> (8 * i)) & 0xff)) * UINT64_C(0x100000001b3);
	for (int k = 0; k < len; k++)
		for (int i = 0; i < 4; i++)
			h = (h ^ (((uint32_t) v[k] >> (8 * i)) & 0xff)) * UINT64_C(0x100000001b3);
	z = h + UINT64_C(0x9e3779b97f4a7c15);
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

typedef struct ClassHash
{
	int			cls;
	uint64_t	hash;
} ClassHash;

static int
cmp_class_hash(const void *a, const void *b)
{
	const ClassHash *x = a,
			   *y = b;

	if (x->cls != y->cls)
		return x->cls < y->cls ? -1 : 1;
	return (x->hash > y->hash) - (x->hash < y->hash);
}

static NtgCopyIndex *
index_alloc(int n_classes, int n)
{
	NtgCopyIndex *ix = ntg_calloc(1, sizeof(NtgCopyIndex));

	if (ix == NULL)
		return NULL;
	ix->n_classes = n_classes;
	ix->n = n;
	ix->offsets = ntg_calloc(n_classes + 1, sizeof(int32_t));
	ix->hashes = ntg_malloc(sizeof(uint64_t) * (n > 0 ? n : 1));
	ix->counts = ntg_malloc(sizeof(int32_t) * (n > 0 ? n : 1));
	ix->count_of_counts = ntg_calloc((size_t) n_classes * COC_WIDTH + 1, sizeof(int32_t));
	if (ix->offsets == NULL || ix->hashes == NULL || ix->counts == NULL ||
		ix->count_of_counts == NULL)
	{
		ntg_copy_index_free(ix);
		return NULL;
	}
	return ix;
}

/* count_of_counts from the counts. */
static void
index_finish(NtgCopyIndex *ix)
{
	for (int c = 0; c < ix->n_classes; c++)
		for (int i = ix->offsets[c]; i < ix->offsets[c + 1]; i++)
			if (ix->counts[i] < COC_WIDTH)
				ix->count_of_counts[(size_t) c * COC_WIDTH + ix->counts[i]]++;
}

NtgCopyIndex *
ntg_copy_index_build(const NtgSeqSet *set)
{
	int			n = set->n_rows,
				distinct = 0;
	ClassHash  *h = ntg_malloc(sizeof(ClassHash) * (n > 0 ? n : 1));
	NtgCopyIndex *ix;

	if (h == NULL)
		return NULL;
	for (int i = 0; i < n; i++)
	{
		int			len;
		const int32_t *row = ntg_seqset_row(set, i, &len);

		h[i].cls = set->row_class[i];
		h[i].hash = seq_hash(row, len);
	}
	qsort(h, n, sizeof(ClassHash), cmp_class_hash);
	for (int i = 0; i < n; i++)
		distinct += i == 0 || cmp_class_hash(&h[i - 1], &h[i]) != 0;
	if ((ix = index_alloc(set->n_classes, distinct)) == NULL)
	{
		ntg_free(h);
		return NULL;
	}
	for (int i = 0, k = -1; i < n; i++)
	{
		if (i == 0 || cmp_class_hash(&h[i - 1], &h[i]) != 0)
		{
			k++;
			ix->hashes[k] = h[i].hash;
			ix->counts[k] = 0;
			ix->offsets[h[i].cls + 1] = k + 1;
		}
		ix->counts[k]++;
	}
	/* classes without rows: their range is empty */
	for (int c = 1; c <= set->n_classes; c++)
		if (ix->offsets[c] < ix->offsets[c - 1])
			ix->offsets[c] = ix->offsets[c - 1];
	index_finish(ix);
	ntg_free(h);
	return ix;
}

void
ntg_copy_index_free(NtgCopyIndex *ix)
{
	if (ix == NULL)
		return;
	ntg_free(ix->offsets);
	ntg_free(ix->hashes);
	ntg_free(ix->counts);
	ntg_free(ix->count_of_counts);
	ntg_free(ix);
}

int
ntg_copy_index_count(const NtgCopyIndex *ix, int c, const int32_t *values, int len)
{
	uint64_t	h = seq_hash(values, len);
	int			lo = ix->offsets[c],
				hi = ix->offsets[c + 1] - 1;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (ix->hashes[mid] == h)
			return ix->counts[mid];
		if (ix->hashes[mid] < h)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return 0;
}

double
ntg_copy_keep_probability(const NtgCopyIndex *ix, int c, int r, double b)
{
	const int32_t *coc = ix->count_of_counts + (size_t) c * COC_WIDTH;
	double		p;

	if (r != 1 || coc[1] == 0)
		return 1.0;
	p = b * 2.0 * coc[2] / coc[1];
	return p < 1.0 ? p : 1.0;
}

/* ---- storage ------------------------------------------------------------------------------- */

int
ntg_copy_index_save(const NtgCopyIndex *ix, NtgBlob *blob, NtgError *err)
{
	int32_t    *rows = ntg_malloc(sizeof(int32_t) * 3 * (ix->n > 0 ? ix->n : 1));
	uint32_t	dims[2] = {(uint32_t) ix->n, 3};
	uint32_t	odims[1] = {(uint32_t) ix->n_classes + 1};
	int			rc;

	if (rows == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	for (int i = 0; i < ix->n; i++)
	{
		rows[3 * i] = (int32_t) (uint32_t) (ix->hashes[i] & 0xffffffffu);
		rows[3 * i + 1] = (int32_t) (uint32_t) (ix->hashes[i] >> 32);
		rows[3 * i + 2] = ix->counts[i];
	}
	rc = ntg_blob_add_copy(blob, "sampling.copies", NTG_DTYPE_I32, 2, dims, rows, err);
	if (rc == NTG_OK)
		rc = ntg_blob_add_copy(blob, "sampling.copies.offsets", NTG_DTYPE_I32, 1, odims,
							   ix->offsets, err);
	ntg_free(rows);
	return rc;
}

static int
damaged(NtgError *err)
{
	return ntg_error(err, NTG_ERR_CORRUPT, "model data is corrupt: the training-sequence hashes are damaged");
}

int
ntg_copy_index_load(const NtgBlob *blob, int n_classes, NtgCopyIndex **out, NtgError *err)
{
	const NtgBlobTensor *tr = ntg_blob_find(blob, "sampling.copies");
	const NtgBlobTensor *to = ntg_blob_find(blob, "sampling.copies.offsets");
	const int32_t *rows,
			   *off;
	NtgCopyIndex *ix;
	int			n;

	*out = NULL;
	if (tr == NULL && to == NULL)
		return NTG_OK;
	if (tr == NULL || to == NULL || tr->dtype != NTG_DTYPE_I32 || to->dtype != NTG_DTYPE_I32 ||
		tr->ndim != 2 || tr->dims[1] != 3 || to->ndim != 1 ||
		to->dims[0] != (uint32_t) n_classes + 1 || tr->dims[0] > INT32_MAX / 3)
		return damaged(err);
	n = (int) tr->dims[0];
	rows = (const int32_t *) tr->data;
	off = (const int32_t *) to->data;
	if (off[0] != 0 || off[n_classes] != n)
		return damaged(err);
	for (int c = 0; c < n_classes; c++)
		if (off[c + 1] < off[c])
			return damaged(err);
	if ((ix = index_alloc(n_classes, n)) == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	memcpy(ix->offsets, off, sizeof(int32_t) * (n_classes + 1));
	for (int i = 0; i < n; i++)
	{
		ix->hashes[i] = (uint64_t) (uint32_t) rows[3 * i] | ((uint64_t) (uint32_t) rows[3 * i + 1] << 32);
		ix->counts[i] = rows[3 * i + 2];
	}
	for (int c = 0; c < n_classes; c++)
		for (int i = off[c]; i < off[c + 1]; i++)
			if (ix->counts[i] < 1 || (i > off[c] && ix->hashes[i] <= ix->hashes[i - 1]))
			{
				ntg_copy_index_free(ix);
				return damaged(err);
			}
	index_finish(ix);
	*out = ix;
	return NTG_OK;
}

/* ---- sampling ------------------------------------------------------------------------------ */

/*
 * Mark in refused[] which of the rows idx[0..k) are refused copies (one coin per copy), compact
 * them to the front of idx and return how many.
 */
static int
refuse_copies(const NtgModel *m, int c, double budget, const int32_t *out, const int *out_len,
			  int *idx, int k, NtgRng *rng)
{
	int			kept = 0;

	for (int i = 0; i < k; i++)
	{
		int			row = idx[i];
		int			r = ntg_copy_index_count(m->copies, c, out + (size_t) row * m->max_len,
											 out_len[row]);

		if (r > 0 && ntg_rng_double(rng) >= ntg_copy_keep_probability(m->copies, c, r, budget))
			idx[kept++] = row;
	}
	return kept;
}

int
ntg_model_sample(NtgModel *model, int class_index, int n, const NtgSampleOptions *opts,
				 NtgRng *rng, int32_t *out, int *out_len, NtgError *err)
{
	const NtgModelKind *kind = model->kind;
	int			g = ntg_sample_option_index(kind, "copy_guard"),
				b = ntg_sample_option_index(kind, "copy_budget");
	int			N = model->max_len;
	int		   *idx,
			   *len2;
	int32_t    *out2;
	int			k,
				rc;
	int64_t		draws = n,
				stalled = 0;

	if ((rc = kind->sample(model, class_index, n, opts, rng, out, out_len, err)) != NTG_OK ||
		g < 0 || opts->value[g] == 0.0 || n <= 0)
		return rc;
	if (model->copies == NULL || class_index >= model->copies->n_classes)
	{
		ntg_error(err, NTG_ERR_INVALID_ARG, "this model keeps no hashes of its training sequences");
		ntg_error_detail(err, "It was stored before copy_guard existed.");
		ntg_error_hint(err, "Train it again, or sample with copy_guard off.");
		return NTG_ERR_INVALID_ARG;
	}
	idx = ntg_malloc(sizeof(int) * n);
	len2 = ntg_malloc(sizeof(int) * n);
	out2 = ntg_malloc(sizeof(int32_t) * (size_t) n * N);
	if (idx == NULL || len2 == NULL || out2 == NULL)
	{
		rc = ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (int i = 0; i < n; i++)
		idx[i] = i;
	k = refuse_copies(model, class_index, b >= 0 ? opts->value[b] : 1.0, out, out_len, idx, n, rng);
	/* draw the refused rows again until none is left, for at most NTG_COPY_MAX_ROUNDS rounds, and
	 * give up when NTG_COPY_STALL * n draws in a row kept none (a model that only copies) */
	for (int round = 0; round < NTG_COPY_MAX_ROUNDS && k > 0 && stalled < (int64_t) NTG_COPY_STALL * n;
		 round++)
	{
		int			before = k;

		/* the refused rows, drawn again together (one stratified sample when stratified) */
		if ((rc = kind->sample(model, class_index, k, opts, rng, out2, len2, err)) != NTG_OK)
			goto done;
		for (int i = 0; i < k; i++)
		{
			memcpy(out + (size_t) idx[i] * N, out2 + (size_t) i * N, sizeof(int32_t) * N);
			out_len[idx[i]] = len2[i];
		}
		k = refuse_copies(model, class_index, b >= 0 ? opts->value[b] : 1.0, out, out_len, idx, k,
						  rng);
		stalled = k < before ? 0 : stalled + before;
		draws += before;
	}
	if (k > 0)
		ntg_log(NTG_LOG_WARNING, "%d of %d rows of class \"%s\" are copies of training rows after %lld draws",
				k, n, model->classes ? model->classes[class_index] : "?", (long long) draws);
done:
	ntg_free(idx);
	ntg_free(len2);
	ntg_free(out2);
	return rc;
}
