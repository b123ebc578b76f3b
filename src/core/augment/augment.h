/*
 * augment.h — the two non-neural augmentation baselines (docs/definitions.md), on labeled PL sequences.
 *
 * Both produce, for each class c of the input set, per_class[c] synthetic rows of class c made from
 * the input rows of c only.  Rows of a class are first put in a canonical order (by values, then
 * length), and each class draws from its own random stream derived from the seed and the class
 * name, so the output for a class depends only on the seed and the multiset of that class's rows —
 * not on the order of the source query, nor on the other classes.
 *
 * SMOTE: a synthetic row interpolates between a base row x and one of its k nearest neighbours y
 * in the same class (squared Euclidean distance on the zero-padded sequences; ties by canonical
 * order), with one gap u ~ U[0, 1) for the whole row.  Rules that keep signs and lengths sane:
 *   - length L = round(len(x) + u * (len(y) - len(x))), between the two lengths;
 *   - position j present in both rows: magnitude round(|x_j| + u * (|y_j| - |x_j|)), with the sign
 *     (direction) of the nearer endpoint (x_j when u < 0.5, else y_j; the other one if that is 0),
 *     so a value never crosses or lands on zero when both endpoints are non-zero;
 *   - position j present in one row only: that row's value, unchanged;
 *   - rounding is half away from zero.
 * A class with fewer than 2 rows falls back to replication of its row.
 *
 * Fast Retransmit: copy a uniformly drawn row of the class; with probability p, and when the row
 * has at least 2 packets, delay one packet: draw i uniformly among the positions that have a later
 * packet (0 .. len-2) and d uniformly from 1..3, let j = min(i + d, len - 1), move the packet at i
 * to j and shift the packets i+1..j one step earlier.  Values, signs and length are kept (the row is
 * a permutation of its source).
 */
#ifndef NTG_AUGMENT_H
#define NTG_AUGMENT_H

#include <stdint.h>

#include "common/ntg_core.h"
#include "common/seqset.h"

/* A made row of class c (an index into set->classes); non-zero stops the generation. */
typedef int (*NtgAugmentEmit) (int c, const int32_t *values, int len, void *arg, NtgError *err);

/* The rows, streamed: emit is called for each, in class order; nothing is collected, so the
 * memory does not grow with the number of rows. */
int			ntg_smote_emit(const NtgSeqSet *set, const int *per_class, int k, uint64_t seed,
						   NtgAugmentEmit emit, void *arg, NtgError *err);
int			ntg_fast_retransmit_emit(const NtgSeqSet *set, const int *per_class, double p,
									 uint64_t seed, NtgAugmentEmit emit, void *arg, NtgError *err);

/* The same rows collected into a set.
 * per_class: n_classes counts (>= 0) indexed like set->classes.  k >= 1. */
int			ntg_smote(const NtgSeqSet *set, const int *per_class, int k, uint64_t seed,
					  NtgSeqSet *out, NtgError *err);
/* p in [0, 1]. */
int			ntg_fast_retransmit(const NtgSeqSet *set, const int *per_class, double p, uint64_t seed,
								NtgSeqSet *out, NtgError *err);

#endif							/* NTG_AUGMENT_H */
