/*
 * forest_glue.h — what the forest's SQL files share: loading a forest by model name through the
 * per-backend cache, and reading a PL array argument.
 */
#ifndef NTG_FOREST_GLUE_H
#define NTG_FOREST_GLUE_H

#include "postgres.h"

#include "utils/array.h"

#include "forest/forest.h"

/*
 * The forest stored under `name` in ntg.models, from the backend's cache.  The cache key is the
 * row's version, the value's length and its container checksum (the last 4 bytes), looked up with
 * one query per call; the forest itself is loaded (and fully checked) only when that key changes.
 * The result stays valid until the next call for the same name.
 */
const NtgForest *ntg_forest_by_name(const char *name);

/* The first `max` values of a smallint[]/integer[] into buf; returns how many (argname in errors). */
int			ntg_pl_array_prefix(ArrayType *arr, int32 *buf, int max, const char *argname);

/* Train a forest on the rows of a query (an empty set is an error); rows and seconds of training
 * come back for the model table. */
void		ntg_forest_fit(const char *source, const NtgForestConfig *cfg, NtgForest *f,
						   int64 *rows, double *seconds);

/* Turn a forest load failure into an error naming the model. */
void		ntg_forest_raise_load(const char *name, const NtgError *err) pg_attribute_noreturn();

#endif							/* NTG_FOREST_GLUE_H */
