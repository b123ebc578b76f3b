/*
 * nn_store.h — the stored form of a parameter buffer (nn_store.c): what a neural kind's save and
 * load call for its weights, float or quantized, so that every kind stores int8 the same way.
 *
 *   save:  nn_params_save(blob, &m->params, err)
 *   load:  nn_params_stored_mode(blob, &mode, err);     the layout: declare the tensors (no
 *          nn_params_quant_layout(&p, mode);            buffers), mark the quantizable ones
 *          nn_params_check_stored(blob, &p)             types and shapes, before allocating
 *          ntg_blob_kind_tensors(blob) == nn_params_stored_tensors(&p) + the kind's own
 *          nn_params_load(blob, &p, err)                buffers (borrowed when blob->borrow
 *                                                       allows), values checked
 */
#ifndef NTG_NN_STORE_H
#define NTG_NN_STORE_H

#include "common/blob.h"
#include "nn/nn.h"

/* Add every tensor of p to blob (pointing at p's buffers: keep p alive until serialized). */
int			nn_params_save(NtgBlob *blob, const NnParams *p, NtgError *err);
/* The quantization mode a stored value says (NN_QUANT_NONE when it says none). */
int			nn_params_stored_mode(const NtgBlob *blob, int *mode, NtgError *err);
/* Tensors of the blob that p's layout takes. */
int			nn_params_stored_tensors(const NnParams *p);
/* Whether the blob holds every tensor of p's layout with its type and shape. */
int			nn_params_check_stored(const NtgBlob *blob, const NnParams *p);
/* Allocate (or borrow) p's buffers and read the checked tensors into them; values are checked:
 * NTG_ERR_CORRUPT on a non-finite weight or scale, a scale <= 0, an int8 weight of -128. */
int			nn_params_load(const NtgBlob *blob, NnParams *p, NtgError *err);

#endif							/* NTG_NN_STORE_H */
