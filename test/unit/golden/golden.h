/*
 * golden.h — the shape of the golden files in this directory: named constant arrays computed by an
 * independent implementation (the scripts in test/reference: PyTorch, scikit-learn, NumPy), which the unit
 * tests compare ntg with.  The files are generated; regenerate them, never edit them.
 */
#ifndef NTG_GOLDEN_H
#define NTG_GOLDEN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* One named tensor of a golden file (tables end with name NULL). */
typedef struct GoldenArray
{
	const char *name;
	int			count;
	const double *v;
} GoldenArray;

/* One decision-tree scenario of forest_ref.h: hyperparameters "key=value;...", whether the rows
 * are repeated by the bootstrap counts, sklearn's tree as (feature, floor(threshold)) per node in
 * its depth-first order (feature -1: a leaf), the scenario's probe rows (4 values each) and
 * sklearn's class probabilities for the file's query rows followed by the probes. */
typedef struct GoldenForest
{
	const char *name;
	const char *params;
	int			boot;
	int			n_nodes;
	int			n_probes;
	const int32_t *tree;
	int			n_features;
	const int32_t *probes;
	const double *proba;
} GoldenForest;

static inline const GoldenArray *
golden_find(const GoldenArray *table, const char *name)
{
	for (; table->name != NULL; table++)
		if (strcmp(table->name, name) == 0)
			return table;
	return NULL;
}

#endif							/* NTG_GOLDEN_H */
