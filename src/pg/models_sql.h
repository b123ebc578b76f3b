/*
 * models_sql.h — what the generative-model SQL files share: reading a row of ntg.models and
 * turning its checked weights into a loaded model, with a small per-backend cache.
 */
#ifndef NTG_MODELS_SQL_H
#define NTG_MODELS_SQL_H

#include "postgres.h"

#include "models/generator.h"

/* A row of ntg.models as the loader needs it (allocated in the caller's context). */
typedef struct NtgModelRow
{
	char	   *name;
	char	   *kind;
	int64		version;
	char	   *tuple_id;		/* "xmin:ctid": differs for every version of the row */
	bytea	   *weights;		/* detoasted copy, or NULL when not asked for */
} NtgModelRow;

/* Read a row; with missing_ok, false when there is none, else a 42704 error. */
bool		ntg_pg_model_fetch(const char *name, bool with_weights, bool missing_ok,
							   NtgModelRow *row);

/* Raise the undefined_object error for a model name. */
void		ntg_pg_model_missing(const char *name) pg_attribute_noreturn();

/*
 * Load a generator from a fetched row into CurrentMemoryContext.  A row whose kind is not a
 * generator gives 42809; damaged, truncated or foreign weights, or a kind column that disagrees
 * with the weights, give XX001 (data_corrupted).
 */
NtgGenModel *ntg_pg_model_from_row(const NtgModelRow *row);

/* Same checks, but returning the problem instead of raising it (for describe_model). */
bool		ntg_pg_model_check_row(const NtgModelRow *row, char **problem);

/*
 * A loaded generator from the per-backend cache (keyed by name and row version), pinned until
 * `owner` is reset or deleted, so that a set-returning function can use it across calls.
 */
typedef struct NtgModelRef
{
	NtgGenModel *model;
	void	   *entry;			/* the cache entry (opaque) */
} NtgModelRef;

void		ntg_pg_model_acquire(const char *name, MemoryContext owner, NtgModelRef *ref);

/*
 * kind->sample() on a cached model.  Runs in the model's own memory context, because a model may
 * keep buffers made on first use (a KV cache); an error or cancel inside discards the entry, so a
 * half-built buffer is never used again.
 */
void		ntg_pg_model_sample(NtgModelRef *ref, int class_index, int n,
								const NtgSampleOptions *opts, NtgRng *rng, int32_t *out,
								int *out_len);

#endif							/* NTG_MODELS_SQL_H */
