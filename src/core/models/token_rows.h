/*
 * token_rows.h — training rows as the inputs and targets of a token generator (llama, mamba):
 * packing a batch of rows without padding, and the token-noise augmentation.  Shared so that
 * every token kind trains on exactly the same encoding.
 */
#ifndef NTG_TOKEN_ROWS_H
#define NTG_TOKEN_ROWS_H

#include "common/rng.h"
#include "common/seqset.h"
#include "models/tokenizer.h"

/*
 * Encode rows idx[0..S-1] of set (rows of the model's classes, names in classes) back to back
 * into tokens/targets (ntg_tok_encode_row: <CLASS_c> v1 .. vk / v1 .. vk <EOS>) and their
 * lengths into len; *packed = rows encoded.  A value outside the vocabulary is an error for
 * training rows; with scoring set (held-out rows) it ends the row instead: the values before it
 * are scored, without an <EOS>, and a row whose first value is unknown is left out.
 * tokens and targets need S * (max_len + 1) slots.
 */
int			ntg_tok_pack_rows(const NtgTokenizer *tok, char *const *classes, int n_classes,
							  int max_len, const NtgSeqSet *set, const int *idx, int S,
							  int scoring, int32_t *tokens, int32_t *targets, int *len,
							  int *packed, NtgError *err);

/*
 * Token noise: replace each input after <CLASS_c> by <PAD> with probability p (32-bit draws
 * from rng, one per input); targets are kept.  This is "blank noising" (Xie et al., Data
 * Noising as Smoothing in Neural Network Language Models, ICLR 2017): the model must also
 * predict from histories with gaps, which acts like backing off to shorter contexts.  <PAD>
 * never occurs as an input elsewhere, and generation never blanks anything.
 */
void		ntg_tok_blank_inputs(const NtgTokenizer *tok, double p, NtgRng *rng,
								 int32_t *tokens, const int *len, int S);

#endif							/* NTG_TOKEN_ROWS_H */
