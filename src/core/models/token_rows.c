/*
 * token_rows.c — packing training rows for the token generators, and token noise
 * (token_rows.h).
 */
#include "models/token_rows.h"

#include <string.h>

/* Leading values of a row that are in the vocabulary. */
static int
known_prefix(const NtgTokenizer *tok, const int32_t *row, int len)
{
	int			u = 0;

	while (u < len && ntg_tok_value_token(tok, row[u]) >= 0)
		u++;
	return u;
}

int
ntg_tok_pack_rows(const NtgTokenizer *tok, char *const *classes, int n_classes, int max_len,
				  const NtgSeqSet *set, const int *idx, int S, int scoring, int32_t *tokens,
				  int32_t *targets, int *len, int *packed, NtgError *err)
{
	int			N = 0;

	*packed = 0;
	for (int s = 0; s < S; s++)
	{
		int			rl;
		const int32_t *row = ntg_seqset_row(set, idx[s], &rl);
		int			cls = set->row_class[idx[s]];
		int			k;

		if (cls < 0 || cls >= n_classes || strcmp(set->classes[cls], classes[cls]) != 0)
			return ntg_error(err, NTG_ERR_INVALID_ARG,
							 "training rows do not have the model's classes");
		if (scoring && (k = known_prefix(tok, row, rl)) < rl && k < max_len)
		{
			if (k == 0)
				continue;
			/* as a row cut after k values: k inputs and targets, no <EOS> */
			k = ntg_tok_encode_row(tok, cls, row, k + 1, k, tokens + N, targets + N);
		}
		else
			k = ntg_tok_encode_row(tok, cls, row, rl, max_len, tokens + N, targets + N);
		if (k < 0)
			return ntg_error(err, NTG_ERR_INVALID_ARG,
							 "a training row holds a value outside the model's vocabulary");
		len[(*packed)++] = k;
		N += k;
	}
	return NTG_OK;
}

void
ntg_tok_blank_inputs(const NtgTokenizer *tok, double p, NtgRng *rng, int32_t *tokens,
					 const int *len, int S)
{
	uint32_t	cut = (uint32_t) (p * 4294967296.0);
	int			pad = ntg_tok_pad(tok);

	for (int s = 0, off = 0; s < S; off += len[s], s++)
		for (int t = 1; t < len[s]; t++)
			if ((uint32_t) (ntg_rng_u64(rng) >> 32) < cut)
				tokens[off + t] = pad;
}
