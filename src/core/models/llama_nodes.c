/*
 * llama_nodes.c — decoded histories kept across sampling calls.
 *
 * A call that generates one row (ntg.generate(model, label, 1, seed), a LATERAL call per row)
 * decodes the row's tokens one position after another.  Traffic rows share their first packets,
 * so the same histories — <CLASS_c> t1 … tp — come back call after call; their keys, values and
 * next-token logits are kept here and copied back instead of being decoded again.  Only histories
 * decoded alone (one node at its position, as a one-row call decodes them) are kept and used, so
 * the numbers are the same bits a decode would give: sampling is unchanged, only faster.
 *
 * The store is an open-addressing table of at most LLAMA_NODE_STORE_BYTES; when it is full, new
 * histories are not kept.  A long statement of one-row calls fills it: at the default shape 8 MB
 * held 768 histories, full after ~500 calls, and 32 MB (3,072) made 6,000 calls decode 20 % fewer
 * steps and one-row calls ~8 % faster over 12,000 calls in one backend; its memory is faulted in
 * only as histories are kept (below), so short sessions do not pay for it.  Training clears it
 * (the weights change).  Records are appended in the order histories are kept, and the memory
 * ahead of them is faulted in LLAMA_NODE_POPULATE bytes at a time (ntg_mem_populate): written one
 * record at a time into fresh pages, each 4 kB page costs a page fault, which on a virtual machine
 * took more time than the decode step it saved (~5 faults per one-row call, ~13 us each, against
 * ~0.2 ms for the call).
 */
#include "models/llama.h"

#include <string.h>

#define LLAMA_NODE_STORE_BYTES ((size_t) 32 << 20)
#define LLAMA_NODE_MAX_DEPTH 3		/* deeper histories come back too rarely to keep */
#define LLAMA_NODE_POPULATE ((size_t) 256 << 10)

struct LlamaNodeStore
{
	int			used;			/* histories kept (first: tests read it) */
	int			slots;			/* power of 2 */
	int			max_used;		/* below slots: keeps probes short; records allocated */
	int			populated;		/* records whose memory is faulted in */
	size_t		record;			/* floats per record: K and V of every layer, then logits */
	int32_t    *keys;			/* [slots][key_ints]: class, depth (0 = free), record, tokens */
	float	   *data;			/* [max_used][record], in the order kept */
};

#define KEY_RECORD 2			/* a key's int holding its record's index */
#define KEY_TOKENS 3			/* ints of a key before its tokens */

/* ints per key: kept histories are at most LLAMA_NODE_MAX_DEPTH tokens long */
static size_t
key_ints(const LlamaModel *m)
{
	return KEY_TOKENS + (size_t) (m->cfg.max_len < LLAMA_NODE_MAX_DEPTH ? m->cfg.max_len :
								  LLAMA_NODE_MAX_DEPTH);
}

static uint64_t
key_hash(int cls, const int32_t *tokens, int p)
{
	uint64_t	h = 1469598103934665603u ^ (uint64_t) cls;

	for (int i = 0; i < p; i++)
		h = (h ^ (uint32_t) tokens[i]) * 1099511628211u;
	return h ^ (h >> 29);
}

static LlamaNodeStore *
store(LlamaModel *m)
{
	LlamaNodeStore *st = m->nodes;
	size_t		record = 2 * (size_t) m->cfg.n_layers * m->cfg.dim + (size_t) m->tok.n_values + 1;
	size_t		per_slot = record * sizeof(float) + key_ints(m) * sizeof(int32_t);
	int			slots = 1;

	if (st != NULL)
		return st;
	while ((size_t) slots * 2 * per_slot <= LLAMA_NODE_STORE_BYTES)
		slots *= 2;
	if (slots < 16)
		return NULL;			/* a model this large gains little from a few slots */
	st = ntg_calloc(1, sizeof(LlamaNodeStore));
	if (st == NULL)
		return NULL;
	st->slots = slots;
	st->max_used = slots * 3 / 4;
	st->record = record;
	st->keys = ntg_calloc((size_t) slots * key_ints(m), sizeof(int32_t));
	st->data = ntg_malloc((size_t) st->max_used * record * sizeof(float));
	if (st->keys == NULL || st->data == NULL)
	{
		ntg_free(st->keys), ntg_free(st->data), ntg_free(st);
		return NULL;
	}
	m->nodes = st;
	return st;
}

/* The slot holding (cls, tokens[0..p)), or the free slot where it would go; -1 when full. */
static int
find(const LlamaModel *m, const LlamaNodeStore *st, int cls, const int32_t *tokens, int p)
{
	size_t		ki = key_ints(m);
	int			i = (int) (key_hash(cls, tokens, p) & (uint64_t) (st->slots - 1));

	for (int probe = 0; probe < st->slots; probe++, i = (i + 1) & (st->slots - 1))
	{
		const int32_t *k = st->keys + (size_t) i * ki;

		if (k[1] == 0)
			return i;
		if (k[0] == cls && k[1] == p && memcmp(k + KEY_TOKENS, tokens, p * sizeof(int32_t)) == 0)
			return i;
	}
	return -1;
}

const float *
llama_node_get(LlamaModel *m, int cls, const int32_t *tokens, int p)
{
	LlamaNodeStore *st = m->nodes;
	int			i;

	if (st == NULL || p < 1 || p > m->cfg.max_len || p > LLAMA_NODE_MAX_DEPTH)
		return NULL;
	i = find(m, st, cls, tokens, p);
	if (i < 0 || st->keys[(size_t) i * key_ints(m) + 1] == 0)
		return NULL;
	return st->data + (size_t) st->keys[(size_t) i * key_ints(m) + KEY_RECORD] * st->record;
}

/* Fault in the memory of record r and those after it, a stretch at a time. */
static void
populate_for(LlamaNodeStore *st, int r)
{
	size_t		bytes = st->record * sizeof(float);
	int			step = (int) (LLAMA_NODE_POPULATE / bytes) + 1;
	int			upto;

	if (r < st->populated)
		return;
	upto = st->populated + step < st->max_used ? st->populated + step : st->max_used;
	ntg_mem_populate(st->data + (size_t) st->populated * st->record,
					 (size_t) (upto - st->populated) * bytes);
	st->populated = upto;
}

void
llama_node_put(LlamaModel *m, int cls, const int32_t *tokens, int p, const float *kv_per_layer[],
			   const float *logits)
{
	LlamaNodeStore *st = store(m);
	size_t		ki = key_ints(m);
	int			C = m->cfg.dim,
				L = m->cfg.n_layers;
	int32_t    *k;
	float	   *d;
	int			i;

	if (st == NULL || p < 1 || p > m->cfg.max_len || p > LLAMA_NODE_MAX_DEPTH ||
		st->used >= st->max_used)
		return;
	if ((i = find(m, st, cls, tokens, p)) < 0)
		return;
	k = st->keys + (size_t) i * ki;
	if (k[1] != 0)
		return;					/* kept already */
	k[0] = cls;
	k[1] = p;
	k[KEY_RECORD] = st->used;
	memcpy(k + KEY_TOKENS, tokens, p * sizeof(int32_t));
	populate_for(st, st->used);
	d = st->data + (size_t) st->used * st->record;
	for (int l = 0; l < 2 * L; l++)
		memcpy(d + (size_t) l * C, kv_per_layer[l], C * sizeof(float));
	memcpy(d + (size_t) 2 * L * C, logits, (st->record - 2 * (size_t) L * C) * sizeof(float));
	st->used++;
}

void
llama_node_forget(LlamaModel *m)
{
	LlamaNodeStore *st = m->nodes;

	if (st == NULL)
		return;
	memset(st->keys, 0, (size_t) st->slots * key_ints(m) * sizeof(int32_t));
	st->used = 0;
}

void
llama_node_free(LlamaModel *m)
{
	LlamaNodeStore *st = m->nodes;

	if (st == NULL)
		return;
	ntg_free(st->keys);
	ntg_free(st->data);
	ntg_free(st);
	m->nodes = NULL;
}

int
llama_node_count(const LlamaModel *m)
{
	return m->nodes != NULL ? m->nodes->used : 0;
}
