/*
 * nn_params.c — the flat parameter buffer: named tensors are (offset, count) views into one
 * allocation; gradients and Adam moments have the same layout.
 */
#include "nn/nn.h"

#include <string.h>

int
nn_params_declare(NnParams *p, const char *name, int ndim, int d0, int d1, int decay)
{
	NnTensor   *t;

	if (p->n_tensors == p->cap)
	{
		int			cap = p->cap == 0 ? 32 : p->cap * 2;
		NnTensor   *grown = ntg_realloc(p->tensors, cap * sizeof(NnTensor));

		if (grown == NULL)
			return -1;
		p->tensors = grown;
		p->cap = cap;
	}
	t = &p->tensors[p->n_tensors];
	memset(t, 0, sizeof(*t));
	strncpy(t->name, name, NN_MAX_NAME - 1);
	t->ndim = ndim;
	t->dims[0] = d0;
	t->dims[1] = ndim > 1 ? d1 : 1;
	t->count = (size_t) d0 * (ndim > 1 ? d1 : 1);
	t->offset = p->count;
	t->decay = decay;
	p->count += t->count;
	return p->n_tensors++;
}

int
nn_params_alloc(NnParams *p, int with_grad)
{
	p->data = ntg_calloc_aligned(p->count, sizeof(float));
	if (p->data == NULL)
		return NTG_ERR_NOMEM;
	if (with_grad)
	{
		p->grad = ntg_calloc(p->count, sizeof(float));
		p->m = ntg_calloc(p->count, sizeof(float));
		p->v = ntg_calloc(p->count, sizeof(float));
		if (p->grad == NULL || p->m == NULL || p->v == NULL)
			return NTG_ERR_NOMEM;
		p->grad_clean = 1;
	}
	return NTG_OK;
}

void
nn_params_borrow(NnParams *p, const float *data)
{
	p->data = (float *) data;
	p->borrowed = 1;
}

float *
nn_params_ptr(const NnParams *p, int index)
{
	if (nn_tensor_int8_only(p, &p->tensors[index]))
		return NULL;			/* int8: nn_matmul / nn_embed read it */
	return p->data + p->tensors[index].offset;
}

void
nn_params_free(NnParams *p)
{
	nn_params_quant_free(p);
	nn_params_half_drop(p);
	ntg_free(p->tensors);
	if (!p->borrowed)
		ntg_free_aligned(p->data);
	ntg_free(p->grad);
	ntg_free(p->m);
	ntg_free(p->v);
	memset(p, 0, sizeof(*p));
}

void
nn_params_zero_grad(NnParams *p)
{
	if (p->grad != NULL && !p->grad_clean)
		memset(p->grad, 0, p->count * sizeof(float));
	p->grad_clean = 1;
}

void
nn_params_init_normal(NnParams *p, int i, NtgRng *rng, float std, float fill)
{
	float	   *w = nn_params_ptr(p, i);
	size_t		n = p->tensors[i].count;

	for (size_t j = 0; j < n; j++)
		w[j] = std > 0.0f ? (float) (ntg_rng_normal(rng) * std) : fill;
}
