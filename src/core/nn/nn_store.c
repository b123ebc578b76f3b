/*
 * nn_store.c — a parameter buffer in the checked container (common/blob.h), float or quantized,
 * for every neural kind:
 *
 *   <name>          f32 [d0] or [d0, d1]   a float tensor
 *   <name>          i8  [d0, d1]           a quantized matrix: q in [-127, 127]
 *   <name>.scale    f32 [d0]               and its per-row scales, finite and > 0
 *   quantization    i32 [1]                NN_QUANT_WEIGHT_ONLY or _DYNAMIC; absent: float
 *
 * A tensor marked NN_QUANTIZE_STORED is stored as int8 like the others and read back into the
 * float buffer, dequantized.
 *
 * Which tensors are int8 follows from the mode and the kind's marks (nn_params_mark_quantizable),
 * so the loader knows every tensor's type and shape before it reads one: a value that disagrees
 * anywhere is refused (NTG_ERR_CORRUPT), as is a weight that is not finite, a scale that is not
 * positive, or an int8 weight of -128 (never written: quantization is symmetric).
 */
#include "nn/nn_store.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define QUANT_TENSOR "quantization"

static int
corrupt(NtgError *err, const char *what)
{
	return ntg_error(err, NTG_ERR_CORRUPT, "model data is corrupt: %s", what);
}

static void
scale_name(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s.scale", name);
}

static int
is_int8(const NnParams *p, const NnTensor *t)
{
	return p->quant != NN_QUANT_NONE && t->quantizable;
}

int
nn_params_save(NtgBlob *blob, const NnParams *p, NtgError *err)
{
	uint32_t	dims[2];
	char		name[NN_MAX_NAME + 8];
	int			rc = NTG_OK,
				first_float = 1;

	/*
	 * The float tensors follow each other in the params' order, the run starting on a cache line:
	 * a loaded model may compute from them in place (borrow_floats), and one-row products read
	 * aligned rows ~10 % faster.  int8 matrices are not aligned: their rows (dim bytes) rarely
	 * keep a cache-line boundary, and a tiny model would pay up to 56 bytes for each.
	 */
	for (int i = 0; rc == NTG_OK && i < p->n_tensors; i++)
	{
		const NnTensor *t = &p->tensors[i];

		dims[0] = (uint32_t) t->dims[0];
		dims[1] = (uint32_t) t->dims[1];
		if (!is_int8(p, t))
		{
			rc = ntg_blob_add(blob, t->name, NTG_DTYPE_F32, t->ndim, dims, p->data + t->offset, err);
			if (first_float)
				ntg_blob_align_last(blob);
			first_float = 0;
		}
		else
		{
			rc = ntg_blob_add(blob, t->name, NTG_DTYPE_I8, 2, dims, t->q, err);
			scale_name(name, sizeof(name), t->name);
			if (rc == NTG_OK)
				rc = ntg_blob_add(blob, name, NTG_DTYPE_F32, 1, dims, t->scale, err);
		}
	}
	if (rc == NTG_OK && p->quant != NN_QUANT_NONE)
	{
		int32_t		mode = p->quant;

		dims[0] = 1;
		rc = ntg_blob_add_copy(blob, QUANT_TENSOR, NTG_DTYPE_I32, 1, dims, &mode, err);
	}
	return rc;
}

int
nn_params_stored_mode(const NtgBlob *blob, int *mode, NtgError *err)
{
	const NtgBlobTensor *t = ntg_blob_find(blob, QUANT_TENSOR);
	int32_t		v;

	*mode = NN_QUANT_NONE;
	if (t == NULL)
		return NTG_OK;
	if (t->dtype != NTG_DTYPE_I32 || t->ndim != 1 || t->dims[0] != 1)
		return corrupt(err, "the quantization mode is malformed");
	memcpy(&v, t->data, sizeof(v));
	if (v != NN_QUANT_WEIGHT_ONLY && v != NN_QUANT_DYNAMIC)
		return corrupt(err, "unknown quantization mode");
	*mode = v;
	return NTG_OK;
}

int
nn_params_stored_tensors(const NnParams *p)
{
	int			n = p->n_tensors;

	for (int i = 0; i < p->n_tensors; i++)
		n += is_int8(p, &p->tensors[i]);
	return n + (p->quant != NN_QUANT_NONE);
}

static int
shape_is(const NtgBlobTensor *bt, NtgDtype dtype, int ndim, int d0, int d1)
{
	return bt != NULL && bt->dtype == dtype && bt->ndim == ndim && bt->dims[0] == (uint32_t) d0 &&
		(ndim == 1 || bt->dims[1] == (uint32_t) d1);
}

int
nn_params_check_stored(const NtgBlob *blob, const NnParams *p)
{
	char		name[NN_MAX_NAME + 8];

	for (int i = 0; i < p->n_tensors; i++)
	{
		const NnTensor *t = &p->tensors[i];
		const NtgBlobTensor *bt = ntg_blob_find(blob, t->name);

		if (!is_int8(p, t))
		{
			if (!shape_is(bt, NTG_DTYPE_F32, t->ndim, t->dims[0], t->dims[1]))
				return 0;
			continue;
		}
		scale_name(name, sizeof(name), t->name);
		if (!shape_is(bt, NTG_DTYPE_I8, 2, t->dims[0], t->dims[1]) ||
			!shape_is(ntg_blob_find(blob, name), NTG_DTYPE_F32, 1, t->dims[0], 0))
			return 0;
	}
	return 1;
}

/*
 * Point p's float data at the stored tensors when every float tensor directly follows the one
 * before it, in the params' own order (how nn_params_save writes a float model: each tensor a
 * multiple of 8 bytes, so no padding between them); false when they do not (then they are
 * copied).  nn_params_check_stored() has verified types and shapes.
 */
static int
borrow_floats(const NtgBlob *blob, NnParams *p)
{
	const uint8_t *base = NULL;

	for (int i = 0; i < p->n_tensors; i++)
	{
		const NnTensor *t = &p->tensors[i];
		const NtgBlobTensor *bt;

		if (is_int8(p, t))
		{
			if (!nn_tensor_int8_only(p, t))
				return 0;		/* its floats are written at load: own the buffer */
			continue;
		}
		bt = ntg_blob_find(blob, t->name);
		if (base == NULL)
			base = (const uint8_t *) bt->data - t->offset * sizeof(float);
		if ((const uint8_t *) bt->data != base + t->offset * sizeof(float))
			return 0;
	}
	if (base == NULL)
		return 0;
	nn_params_borrow(p, (const float *) base);
	return 1;
}

static int
load_floats(const NtgBlob *blob, NnParams *p, NtgError *err)
{
	if (!(blob->borrow && borrow_floats(blob, p)) && nn_params_alloc(p, 0) != NTG_OK)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	for (int i = 0; i < p->n_tensors; i++)
	{
		const NnTensor *t = &p->tensors[i];
		const float *w = p->data + t->offset;

		if (is_int8(p, t))
			continue;
		if (!p->borrowed &&
			ntg_blob_read_tensor(blob, t->name, NTG_DTYPE_F32, t->count, p->data + t->offset,
								 err) != NTG_OK)
			return NTG_ERR_CORRUPT;
		for (size_t j = 0; j < t->count; j++)
			if (!isfinite(w[j]))
				return corrupt(err, "a weight is not finite");
	}
	return NTG_OK;
}

/* Check tensor i's stored int8 weights and scales; attach them (copied into dst when not NULL). */
static int
load_int8(const NtgBlob *blob, NnParams *p, int i, int8_t *dst_q, float *dst_s, NtgError *err)
{
	const NnTensor *t = &p->tensors[i];
	char		name[NN_MAX_NAME + 8];
	const NtgBlobTensor *bq = ntg_blob_find(blob, t->name),
			   *bs;
	const int8_t *q = (const int8_t *) bq->data;
	const float *s;

	scale_name(name, sizeof(name), t->name);
	bs = ntg_blob_find(blob, name);
	s = (const float *) bs->data;
	if (dst_s != NULL)
	{
		memcpy(dst_q, q, t->count);
		memcpy(dst_s, s, (size_t) t->dims[0] * sizeof(float));
		q = dst_q;
		s = dst_s;
	}
	for (int r = 0; r < t->dims[0]; r++)
		if (!(isfinite(s[r]) && s[r] > 0.0f))
			return corrupt(err, "a quantization scale is not a finite positive number");
	for (size_t j = 0; j < t->count; j++)
		if (q[j] < -NN_QUANT_MAX)
			return corrupt(err, "an int8 weight is out of range");
	nn_params_quant_attach(p, i, q, s);
	return NTG_OK;
}

int
nn_params_load(const NtgBlob *blob, NnParams *p, NtgError *err)
{
	int8_t	   *q = NULL;
	float	   *s = NULL;
	size_t		row = 0,
				qpos = 0;
	int			rc;

	if ((rc = load_floats(blob, p, err)) != NTG_OK || p->quant == NN_QUANT_NONE)
		return rc;
	if (!blob->borrow)
	{
		if ((p->qowned = ntg_malloc(p->qrows * sizeof(float) + p->qcount + 1)) == NULL)
			return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		s = (float *) p->qowned;
		q = (int8_t *) (s + p->qrows);
	}
	for (int i = 0; i < p->n_tensors; i++)
	{
		const NnTensor *t = &p->tensors[i];

		if (!is_int8(p, t))
			continue;
		rc = load_int8(blob, p, i, q ? q + qpos : NULL, s ? s + row : NULL, err);
		if (rc != NTG_OK)
			return rc;
		if (t->quantizable == NN_QUANTIZE_STORED && !nn_params_dequantize_stored(p, i))
			return corrupt(err, "a weight is not finite");
		qpos += t->count;
		row += (size_t) t->dims[0];
	}
	if (nn_params_quant_ready(p) != NTG_OK)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	return NTG_OK;
}
