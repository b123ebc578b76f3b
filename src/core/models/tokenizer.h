/*
 * tokenizer.h — the token vocabulary of the sequence models (llama, mamba), per docs/definitions.md:
 * one token per signed PL value that occurs in the training rows (sorted by value), then <EOS>,
 * <PAD>, and one <CLASS_c> per class.  Token ids:
 *
 *   0 .. n_values-1         the values, ascending
 *   n_values                <EOS>
 *   n_values + 1            <PAD>
 *   n_values + 2 + c        <CLASS_c>, c = 0 .. n_classes-1
 *
 * Values and EOS come first so that "every token a sampler may emit" is the prefix
 * 0 .. n_values, and a model can compute logits for that prefix only.
 */
#ifndef NTG_TOKENIZER_H
#define NTG_TOKENIZER_H

#include <stdint.h>

#include "common/ntg_core.h"
#include "common/seqset.h"

#define NTG_TOK_MAX_VALUES	(1 << 20)

typedef struct NtgTokenizer
{
	int			n_values;
	int32_t    *values;			/* ntg_malloc'd, strictly ascending */
	int			n_classes;
} NtgTokenizer;

static inline int
ntg_tok_eos(const NtgTokenizer *t)
{
	return t->n_values;
}

static inline int
ntg_tok_pad(const NtgTokenizer *t)
{
	return t->n_values + 1;
}

static inline int
ntg_tok_class(const NtgTokenizer *t, int c)
{
	return t->n_values + 2 + c;
}

static inline int
ntg_tok_vocab_size(const NtgTokenizer *t)
{
	return t->n_values + 2 + t->n_classes;
}

/* Vocabulary of the first max_len values of every row of train. */
int			ntg_tok_build(NtgTokenizer *t, const NtgSeqSet *train, int max_len, NtgError *err);
/* Adopt a stored vocabulary after checking it is strictly ascending (NTG_ERR_CORRUPT if not);
 * values is copied. */
int			ntg_tok_from_values(NtgTokenizer *t, const int32_t *values, int n_values,
								int n_classes, NtgError *err);
/* Token of a value, or -1 when the value is not in the vocabulary. */
int			ntg_tok_value_token(const NtgTokenizer *t, int32_t value);
/*
 * Encode a training row as model inputs and next-token targets:
 *   inputs  = <CLASS_c> v1 .. vk         targets = v1 .. vk <EOS>
 * with k = min(len, max_len); a row longer than max_len has no <EOS> (it does not end there),
 * so it gives k inputs and k targets.  Returns the number of inputs (= targets), or -1 when a
 * value is not in the vocabulary.  inputs and targets need max_len + 1 slots.
 */
int			ntg_tok_encode_row(const NtgTokenizer *t, int class_index, const int32_t *values,
							   int len, int max_len, int32_t *inputs, int32_t *targets);
void		ntg_tok_free(NtgTokenizer *t);

#endif							/* NTG_TOKENIZER_H */
