/*
 * forest_int.h — internals shared by the forest's source files: the growable node arrays a forest
 * is built into before it becomes an NtgForest.
 */
#ifndef NTG_FOREST_INT_H
#define NTG_FOREST_INT_H

#include "forest/forest.h"

typedef struct NtgForestBuf
{
	int			n_trees;
	int32_t    *tree_start;		/* n_trees + 1 */
	int			n_nodes,
				cap_nodes;
	int32_t    *feature,
			   *threshold,
			   *left,
			   *right;
	int			n_entries,
				cap_entries;
	int32_t    *leaf_class;
	float	   *leaf_prob;
} NtgForestBuf;

int			ntg_forestbuf_init(NtgForestBuf *b, int n_trees, NtgError *err);
/* Append a node (a leaf with no entries until ntg_forestbuf_leaf); its index in *node. */
int			ntg_forestbuf_node(NtgForestBuf *b, int *node, NtgError *err);
/* Make node a leaf with the class distribution cnt / wsum (classes with cnt > 0 only). */
int			ntg_forestbuf_leaf(NtgForestBuf *b, int node, const double *cnt, int K, double wsum,
							   NtgError *err);
/* Move the arrays into *out with copies of the class names; frees b in every case. */
int			ntg_forestbuf_finish(NtgForestBuf *b, const NtgSeqSet *set, const NtgForestConfig *cfg,
								 NtgForest *out, NtgError *err);
void		ntg_forestbuf_free(NtgForestBuf *b);

#endif							/* NTG_FOREST_INT_H */
