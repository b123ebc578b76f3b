/*
 * seqset.h — a labeled set of PL sequences: what models train on, what metrics compare, what the
 * forest classifies.  Rows are (class index, signed payload lengths); values are int32 because
 * segmentation offload gives payloads above 32767.  Classes are kept sorted by name (strcmp), so
 * class indices do not depend on row order.
 *
 * Build with ntg_seqset_builder_*; read with ntg_seqset_row().
 */
#ifndef NTG_SEQSET_H
#define NTG_SEQSET_H

#include <stdint.h>

#include "common/ntg_core.h"

typedef struct NtgSeqSet
{
	int			n_rows;
	int			n_classes;
	char	  **classes;		/* n_classes names, sorted */
	int		   *row_class;		/* n_rows class indices */
	int64_t    *row_start;		/* n_rows + 1 offsets into values */
	int32_t    *values;			/* all rows' values, concatenated */
	int			max_len;		/* longest row */
} NtgSeqSet;

typedef struct NtgSeqSetBuilder NtgSeqSetBuilder;

NtgSeqSetBuilder *ntg_seqset_builder_new(void);	/* NULL when out of memory */
/* Append a row; label is copied. */
int			ntg_seqset_builder_add(NtgSeqSetBuilder *b, const char *label,
								   const int32_t *values, int len, NtgError *err);
/* Free a builder that will not be finished. */
void		ntg_seqset_builder_free(NtgSeqSetBuilder *b);
/* Finish: sorts classes, fills *out, frees the builder (also on failure). */
int			ntg_seqset_builder_finish(NtgSeqSetBuilder *b, NtgSeqSet *out, NtgError *err);

static inline const int32_t *
ntg_seqset_row(const NtgSeqSet *s, int i, int *len)
{
	*len = (int) (s->row_start[i + 1] - s->row_start[i]);
	return s->values + s->row_start[i];
}

/* Index of a class name, or -1. */
int			ntg_seqset_class_index(const NtgSeqSet *s, const char *name);
/* Number of rows per class: counts must hold n_classes ints. */
void		ntg_seqset_class_counts(const NtgSeqSet *s, int *counts);
void		ntg_seqset_free(NtgSeqSet *s);

/* (seqset_split.c) A copy of rows[0..n-1] of set, with all of set's classes. */
int			ntg_seqset_subset(const NtgSeqSet *set, const int *rows, int n, NtgSeqSet *out,
							  NtgError *err);
/*
 * Stratified hold-out: per class, round(fraction * rows) rows chosen with rng go to *held, the
 * rest to *kept; a class always keeps at least one row.  Both parts have all of set's classes
 * (in the same order) and keep the rows' original order.
 */
struct NtgRng;
int			ntg_seqset_split(const NtgSeqSet *set, double fraction, struct NtgRng *rng,
							 NtgSeqSet *kept, NtgSeqSet *held, NtgError *err);

#endif							/* NTG_SEQSET_H */
