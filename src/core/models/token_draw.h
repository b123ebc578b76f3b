/*
 * token_draw.h — drawing the next token of a batch of rows, shared by the token generators
 * (llama_sample.c, mamba_sample.c).
 *
 * Rows whose tokens so far are identical have identical next-token distributions, so a
 * generator keeps, per position, the DISTINCT histories of its rows ("nodes", a trie) and feeds
 * each node through the network once.  Given the logits of the U nodes of a position, one step
 * here turns them into sampling tables (temperature, top-k, top-p), lets every active row draw
 * its next token from its node's table (independently, or stratified over the rows of a node:
 * token_draw.c explains both), appends the values to the rows, ends the rows that drew <EOS>
 * or reached max_len, and groups the rows that go on into the nodes of the next position: node
 * c of the next position has the history of node child_parent[c] followed by child_tok[c].
 * The generator then computes those nodes from their parents (a KV cache entry, a state).
 */
#ifndef NTG_TOKEN_DRAW_H
#define NTG_TOKEN_DRAW_H

#include <stddef.h>
#include <stdint.h>

#include "common/ntg_core.h"
#include "common/rng.h"
#include "models/token_sampling.h"

typedef struct NtgTokenDraw
{
	int			cap;			/* rows (and so nodes) per batch */
	int			K;				/* drawable tokens: n_values + 1 (values, then <EOS>) */
	int			nact;			/* rows still going */
	double	   *cdf;			/* [cap, K]: cumulative kept probability mass per node */
	int		   *kept;			/* [cap, K]: token of each cdf entry (top-k / top-p order) */
	int		   *n_kept;			/* [cap] */
	int		   *order;			/* [K] sort scratch */
	int		   *row_node;		/* [cap] node of each active row */
	int		   *row_id;			/* [cap] */
	int		   *child_head;		/* [cap] first child (next position) of each node, or -1 */
	int		   *child_next;		/* [cap] next sibling of each next-position node */
	int		   *node_rows;		/* [cap] active rows at each node (stratified draws) */
	int		   *node_next;		/* [cap] next unused entry of the node's run in row_tok */
	int32_t    *row_tok;		/* [cap] drawn tokens, one run per node */
	int		   *child_parent;	/* [cap] node (current position) of each next-position node */
	int32_t    *child_tok;		/* [cap] token of each next-position node */
	void	   *block;
} NtgTokenDraw;

/* Bytes that ntg_token_draw_alloc takes for cap rows and K drawable tokens. */
size_t		ntg_token_draw_bytes(int cap, int K);
int			ntg_token_draw_alloc(NtgTokenDraw *d, int cap, int K);
void		ntg_token_draw_free(NtgTokenDraw *d);

/* Refuse options the spec lets through but drawing cannot use (checked values only). */
int			ntg_token_sampling_check(const NtgTokenSampling *o, NtgError *err);

/* Start nb <= cap rows at node 0 (the <CLASS_c> history): out (nb x N) zeroed, lengths 0. */
void		ntg_token_draw_begin(NtgTokenDraw *d, int nb, int32_t *out, int *out_len, int N);

/*
 * One position: node j's logits of the K drawable tokens at logits + j * K (overwritten) for
 * j < U; the active rows draw (rng), append values[token] to their row of out, and the rows that
 * go on are grouped into the next position's nodes.  Returns their number (child_parent,
 * child_tok); d->nact rows remain.
 */
int			ntg_token_draw_step(NtgTokenDraw *d, float *logits, int U,
								const NtgTokenSampling *o, NtgRng *rng, const int32_t *values,
								int32_t *out, int *out_len, int N);

#endif							/* NTG_TOKEN_DRAW_H */
