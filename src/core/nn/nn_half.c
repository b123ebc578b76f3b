/*
 * nn_half.c — float16 copies of a model's multiplied matrices (nn.h, "float16 copies of the
 * weights"): rounding the weights to float16 values at the end of training, and the copy that
 * one-row products read instead of the float32 weights.
 *
 * Only the tensors marked NN_QUANTIZE_MATMUL are concerned: they are the ones read through
 * nn_matmul, whose one-row product (nn_matvec_half) gives the float32 product's bits when every
 * weight is a float16 value.  The copy keeps the float32 buffer's offsets, so a product over
 * adjacent tensors (llama's wq, wk, wv) reads them as one matrix, as it does in float32.
 */
#include "nn/nn.h"
#include "nn/nn_simd.h"

#include <math.h>

/* float16's largest finite value, 65504, plus half its ulp: from there on a value rounds to
 * infinity */
#define HALF_OVERFLOW 65520.0f

static int
half_copied(const NnTensor *t)
{
	return t->quantizable == NN_QUANTIZE_MATMUL;
}

int
nn_params_round_half(NnParams *p)
{
	int			rounded = 0;

	if (p->quant != NN_QUANT_NONE || p->data == NULL || p->borrowed)
		return 0;
	nn_params_half_drop(p);
	for (int i = 0; i < p->n_tensors; i++)
	{
		const NnTensor *t = &p->tensors[i];
		float	   *w = p->data + t->offset;
		size_t		k = 0;

		if (!half_copied(t))
			continue;
		while (k < t->count && fabsf(w[k]) < HALF_OVERFLOW)
			k++;
		if (k < t->count)
			continue;			/* a value float16 cannot hold: this tensor stays float32 */
		nn_to_half(NULL, w, w, t->count);
		rounded++;
	}
	return rounded;
}

int
nn_params_are_half(const NnParams *p)
{
	int			any = 0;

	if (p->quant != NN_QUANT_NONE || p->data == NULL)
		return 0;
	for (int i = 0; i < p->n_tensors; i++)
	{
		const NnTensor *t = &p->tensors[i];

		if (!half_copied(t))
			continue;
		any = 1;
		if (!nn_to_half(NULL, NULL, p->data + t->offset, t->count))
			return 0;
	}
	return any;
}

int
nn_params_half_prepare(NnParams *p)
{
	uint16_t   *half;
	int			any = 0;

	if (p->half_state != 0)
		return p->half_state > 0;
	p->half_state = -1;			/* unless every tensor converts exactly below */
	if (p->quant != NN_QUANT_NONE || p->data == NULL ||
		(half = ntg_malloc_aligned(p->count * sizeof(uint16_t))) == NULL)
		return 0;				/* out of memory: the float32 weights serve as well, only slower */
	/* one pass converts and checks: a model of float32 values stops at its first multiplied tensor */
	for (int i = 0; i < p->n_tensors; i++)
	{
		const NnTensor *t = &p->tensors[i];

		if (!half_copied(t))
			continue;
		any = 1;
		if (!nn_to_half(half + t->offset, NULL, p->data + t->offset, t->count))
		{
			ntg_free_aligned(half);
			return 0;
		}
	}
	if (!any)
	{
		ntg_free_aligned(half);
		return 0;
	}
	p->half = half;
	p->half_state = 1;
	return 1;
}

void
nn_params_half_drop(NnParams *p)
{
	ntg_free_aligned(p->half);
	p->half = NULL;
	p->half_state = 0;
}
