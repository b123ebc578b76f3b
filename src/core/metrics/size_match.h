/*
 * size_match.h — fidelity between sets of equal size per class (docs/metrics.md, "Size-matched
 * comparison").
 *
 * uniq_align and leakage depend on how many rows each side has (a larger set has more distinct
 * sequences, and a Jaccard similarity of distinct sets grows with them), and the JSDs of sparse
 * histograms are biased upwards on small samples.  Two sets of different sizes therefore differ
 * on these metrics even when they come from the same traffic.  A size-matched comparison first
 * cuts, per class, the larger side down to the smaller side's row count.
 *
 * The cut is a uniform sample without replacement that depends only on the seed and on the
 * multiset of rows (not on their order): every row gets the key
 *
 *   key = splitmix64(fnv1a64(seed as 8 bytes | label | 0x00 | len as 4 bytes | values as 4 bytes
 *                            each | occurrence as 8 bytes))       (integers little-endian)
 *
 * where occurrence counts the earlier copies of the same (label, values) row (0 for the first),
 * so that copies of one sequence get independent keys; a class keeps its rows of the smallest
 * keys.  test/reference/fidelity_ref.py computes the same cut independently.
 */
#ifndef NTG_SIZE_MATCH_H
#define NTG_SIZE_MATCH_H

#include <stdint.h>

#include "common/ntg_core.h"
#include "common/seqset.h"
#include "metrics/fidelity.h"

/* The key of a row (above). */
uint64_t	ntg_row_key(uint64_t seed, const char *label, const int32_t *values, int len,
						uint64_t occurrence);

/*
 * Per class c of set, keep keep[c] rows (all of them when keep[c] < 0 or >= the class's rows),
 * those of the smallest keys; *out has all of set's classes, rows in set's order.
 */
int			ntg_seqset_cut(const NtgSeqSet *set, const int *keep, uint64_t seed, NtgSeqSet *out,
						   NtgError *err);

/*
 * Cut a and b so that every class that both have has min(rows in a, rows in b) rows on either
 * side; a class on one side only is kept whole.
 */
int			ntg_seqset_match_sizes(const NtgSeqSet *a, const NtgSeqSet *b, uint64_t seed,
								   NtgSeqSet *a_out, NtgSeqSet *b_out, NtgError *err);

/*
 * Synthetic rows against fresh real rows: how close to unseen real traffic a synthetic set S comes,
 * compared with the real training rows R it was made from, and whether it copies R more often than
 * unseen real traffic T repeats it.  Per class of R (macro average over R's classes):
 *
 *   four JSDs, uniq_align   real: metric(R', T)   synthetic: metric(S', T), where R' and S' are R and
 *                           S cut to equal size per class (ntg_seqset_match_sizes); the metric is
 *                           computed with R' (S') in the real rows' place, JSD(X, T) as written
 *   leakage                 real: leakage(T'', R)  synthetic: leakage(S'', R), where T'' and S'' are
 *                           T and S cut to equal size per class
 *
 * A class of R without synthetic rows scores 1 on the JSDs and uniq_align and 0 on leakage on the
 * synthetic side (as ntg_fidelity_compute scores it) and keeps T whole on the real side; it is
 * counted in n_missing.  R must have at least one row.
 */
typedef struct NtgFidelityGap
{
	double		real[NTG_N_METRICS];
	double		synthetic[NTG_N_METRICS];
	int			n_classes;		/* classes of R */
	int			n_missing;		/* classes of R without synthetic rows */
	int			n_untested;		/* classes of R without test rows */
} NtgFidelityGap;

int			ntg_fidelity_gap_compute(const NtgSeqSet *train, const NtgSeqSet *test,
									 const NtgSeqSet *synthetic, uint64_t seed,
									 NtgFidelityGap *out, NtgError *err);

#endif							/* NTG_SIZE_MATCH_H */
