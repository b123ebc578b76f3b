/*
 * model_weights.c — what every neural kind does with its parameter buffer (nn/nn.h) at the model
 * level, written once: quantize it in place (kind->quantize), and make it trainable
 * (kind->train_epoch on a new or loaded model).
 */
#include "models/model.h"
#include "nn/nn.h"

#include <string.h>

int
ntg_model_quantize_params(NtgModel *model, NnParams *p, int mode, NtgError *err)
{
	int			rc;

	if ((rc = nn_params_quantize(p, mode, err)) != NTG_OK)
		return rc;
	model->quantization = mode;
	model->weights = p->data;
	model->n_weights = p->count;
	return NTG_OK;
}

int
ntg_model_trainable_params(NtgModel *model, NnParams *p, int *fresh, NtgError *err)
{
	*fresh = 0;
	if (p->quant != NN_QUANT_NONE)
	{
		ntg_error(err, NTG_ERR_UNSUPPORTED, "a quantized model cannot be trained further");
		ntg_error_hint(err, "Train the float model further, then quantize it again.");
		return NTG_ERR_UNSUPPORTED;
	}
	if (p->borrowed)
	{
		/* weights that point into a stored value are read-only: train on a copy of them */
		float	   *own = ntg_malloc_aligned(p->count * sizeof(float));

		if (own == NULL)
			return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		memcpy(own, p->data, p->count * sizeof(float));
		p->data = own;
		p->borrowed = 0;
		model->weights = own;
	}
	if (p->grad == NULL)
	{
		p->grad = ntg_calloc(p->count, sizeof(float));
		p->m = ntg_calloc(p->count, sizeof(float));
		p->v = ntg_calloc(p->count, sizeof(float));
		if (p->grad == NULL || p->m == NULL || p->v == NULL)
			return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		p->grad_clean = 1;
		*fresh = 1;
	}
	return NTG_OK;
}
