/*
 * nn_qparams.c — a parameter buffer whose marked matrices are int8 (nn.h, "quantized
 * parameters"), and the two entry points through which a model reads such matrices: nn_matmul
 * and nn_embed, float or int8 as the buffer is.
 *
 * Layout of quantized params: data holds the tensors that stay float (norms, biases, whatever was
 * not marked) and the _STORED ones, dequantized, at offsets counted among themselves; each int8
 * tensor has its own q and scale pointers (into p->qowned, or into a stored value the model
 * borrows) and, for a matrix that is multiplied, a packed copy for the kernels (nn_quant.h).
 */
#include "nn/nn.h"
#include "nn/nn_simd.h"

#include <math.h>
#include <string.h>

void
nn_params_mark_quantizable(NnParams *p, int i, int how)
{
	if (i >= 0 && i < p->n_tensors && p->tensors[i].ndim == 2 &&
		p->tensors[i].dims[1] <= NN_QMAX_IN)
		p->tensors[i].quantizable = how;
}

int
nn_params_quantizable(const NnParams *p, int64_t *n_params)
{
	int			n = 0;
	int64_t		count = 0;

	for (int i = 0; i < p->n_tensors; i++)
		if (p->tensors[i].quantizable)
		{
			n++;
			count += (int64_t) p->tensors[i].count;
		}
	if (n_params != NULL)
		*n_params = count;
	return n;
}

void
nn_params_quant_layout(NnParams *p, int mode)
{
	size_t		f = 0,
				q = 0,
				rows = 0;

	p->quant = mode;
	for (int i = 0; i < p->n_tensors; i++)
	{
		NnTensor   *t = &p->tensors[i];

		if (mode != NN_QUANT_NONE && t->quantizable)
		{
			t->offset = q;
			q += t->count;
			rows += (size_t) t->dims[0];
		}
		if (mode == NN_QUANT_NONE || !t->quantizable || t->quantizable == NN_QUANTIZE_STORED)
		{
			t->offset = f;
			f += t->count;
		}
	}
	p->count = f;
	p->qcount = q;
	p->qrows = rows;
}

void
nn_params_quant_attach(NnParams *p, int i, const int8_t *q, const float *scale)
{
	p->tensors[i].q = q;
	p->tensors[i].scale = scale;
}

int
nn_params_quant_ready(NnParams *p)
{
	int			max_c = 1;

	for (int i = 0; i < p->n_tensors; i++)
	{
		NnTensor   *t = &p->tensors[i];

		if (t->quantizable != NN_QUANTIZE_MATMUL || t->pack != NULL)
			continue;
		if ((t->pack = ntg_calloc(1, sizeof(NnQPack))) == NULL ||
			nn_qpack_build(t->pack, t->q, t->scale, t->dims[0], t->dims[1]) != NTG_OK)
			return NTG_ERR_NOMEM;
		if (t->dims[1] > max_c)
			max_c = t->dims[1];
	}
	/* dynamic mode: NN_QCHUNK rows of quantized activations */
	if (p->qscratch == NULL && (p->qscratch = ntg_malloc(nn_qacts_bytes(NN_QCHUNK, max_c))) == NULL)
		return NTG_ERR_NOMEM;
	return NTG_OK;
}

void
nn_params_quant_free(NnParams *p)
{
	for (int i = 0; i < p->n_tensors; i++)
	{
		NnTensor   *t = &p->tensors[i];

		if (t->pack != NULL)
		{
			nn_qpack_free(t->pack);
			ntg_free(t->pack);
		}
		t->pack = NULL;
		t->q = NULL;
		t->scale = NULL;
	}
	ntg_free(p->qowned);
	ntg_free(p->qscratch);
	p->qowned = NULL;
	p->qscratch = NULL;
}

int
nn_params_dequantize_stored(NnParams *p, int i)
{
	const NnTensor *t = &p->tensors[i];
	float	   *w = p->data + t->offset;
	int			finite = 1;

	for (int r = 0; r < t->dims[0]; r++)
		for (int c = 0; c < t->dims[1]; c++)
		{
			size_t		k = (size_t) r * t->dims[1] + c;

			w[k] = (float) t->q[k] * t->scale[r];
			finite &= isfinite(w[k]) != 0;
		}
	return finite;
}

/* Float params -> int8 marked tensors, float buffer of the rest (and of the _STORED tensors,
 * dequantized: the values a load of the stored copy gives). */
static int
quantize_float(NnParams *p, int mode, NtgError *err)
{
	const float *old = p->data;
	size_t	   *old_off = ntg_malloc(sizeof(size_t) * (p->n_tensors + 1));
	float	   *data;
	int8_t	   *q;
	float	   *scales;
	size_t		row = 0,
				qpos = 0;

	if (old_off == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	for (int i = 0; i < p->n_tensors; i++)
		old_off[i] = p->tensors[i].offset;
	nn_params_quant_layout(p, mode);
	/* scales first (4-byte aligned), then the int8 weights */
	p->qowned = ntg_malloc(p->qrows * sizeof(float) + p->qcount + 1);
	data = ntg_malloc_aligned((p->count + 1) * sizeof(float));
	if (p->qowned == NULL || data == NULL)
	{
		ntg_free(old_off);
		ntg_free_aligned(data);
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	scales = (float *) p->qowned;
	q = (int8_t *) (scales + p->qrows);
	for (int i = 0; i < p->n_tensors; i++)
	{
		NnTensor   *t = &p->tensors[i];

		if (t->quantizable)
		{
			nn_quantize_rows(q + qpos, scales + row, old + old_off[i], t->dims[0], t->dims[1]);
			nn_params_quant_attach(p, i, q + qpos, scales + row);
			qpos += t->count;
			row += (size_t) t->dims[0];
		}
		if (!nn_tensor_int8_only(p, t))
			memcpy(data + t->offset, old + old_off[i], t->count * sizeof(float));
	}
	ntg_free(old_off);
	if (!p->borrowed)
		ntg_free_aligned(p->data);
	p->data = data;
	p->borrowed = 0;
	for (int i = 0; i < p->n_tensors; i++)
		if (p->tensors[i].quantizable == NN_QUANTIZE_STORED)
			(void) nn_params_dequantize_stored(p, i);	/* finite: from finite floats */
	/* a quantized model is not trained: no gradients, no optimizer state */
	ntg_free(p->grad), ntg_free(p->m), ntg_free(p->v);
	p->grad = p->m = p->v = NULL;
	if (nn_params_quant_ready(p) != NTG_OK)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	return NTG_OK;
}

int
nn_params_quantize(NnParams *p, int mode, NtgError *err)
{
	if (mode != NN_QUANT_WEIGHT_ONLY && mode != NN_QUANT_DYNAMIC)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "unknown quantization mode %d", mode);
	if (nn_params_quantizable(p, NULL) == 0)
		return ntg_error(err, NTG_ERR_UNSUPPORTED, "the model has no matrix that int8 can replace");
	nn_params_half_drop(p);		/* the int8 weights replace what it copied */
	if (p->quant != NN_QUANT_NONE)
	{
		p->quant = mode;		/* the same int8 weights, multiplied another way */
		return NTG_OK;
	}
	return quantize_float(p, mode, err);
}

/* ---- reading the weights ------------------------------------------------------------------- */

void
nn_matmul(float *out, const float *inp, NnParams *p, int t, int N, int C, int OC)
{
	int			level;

	if (N == 1 && p->half != NULL && p->tensors[t].quantizable == NN_QUANTIZE_MATMUL)
	{
		nn_matvec_half(out, p->half + p->tensors[t].offset, inp, OC, C);
		return;
	}
	if (!nn_tensor_int8_only(p, &p->tensors[t]))
	{
		linear_forward(out, inp, p->data + p->tensors[t].offset, N, C, OC);
		return;
	}
	level = nn_qsimd_level();
	for (int n0 = 0; n0 < N; n0 += NN_QCHUNK)
	{
		int			nb = N - n0 < NN_QCHUNK ? N - n0 : NN_QCHUNK;
		const float *x = inp + (size_t) n0 * C;
		float	   *o = out + (size_t) n0 * OC;
		NnQActs		a;

		if (p->quant == NN_QUANT_DYNAMIC)
			nn_quantize_acts(&a, p->qscratch, x, nb, C);
		/* rows r0 .. OC - 1 come from tensor i and the ones after it */
		for (int i = t, r0 = 0; r0 < OC && i < p->n_tensors; i++)
		{
			NnQPack		part = *p->tensors[i].pack;

			part.OC = OC - r0 < part.OC ? OC - r0 : part.OC;
			part.blocks = (part.OC + NN_QBLOCK - 1) / NN_QBLOCK;
			if (p->quant == NN_QUANT_DYNAMIC)
				nn_qgemm_dynamic(o + r0, OC, &a, &part, level);
			else
				nn_qgemm_weight_only(o + r0, OC, x, nb, &part, level);
			r0 += part.OC;
		}
	}
}

void
nn_embed(float *out, const int32_t *tok, const NnParams *p, int t, int N, int C)
{
	const NnTensor *e = &p->tensors[t];

	if (!nn_tensor_int8_only(p, e))
	{
		embedding_forward(out, tok, p->data + e->offset, N, C);
		return;
	}
	for (int n = 0; n < N; n++)
	{
		const int8_t *row = e->q + (size_t) tok[n] * C;
		float		s = e->scale[tok[n]];
		float	   *o = out + (size_t) n * C;

		for (int i = 0; i < C; i++)
			o[i] = (float) row[i] * s;
	}
}
