/*
 * fidelity.h — the six fidelity metrics of a synthetic sequence set against a real one, per class
 * and macro-averaged over the classes of the real set (definitions: docs/definitions.md, docs/metrics.md).
 *
 *   jsd_num_packets  JSD of the sequence-length histograms
 *   jsd_1gram        JSD of the signed-PL value histograms (all positions together)
 *   jsd_2gram        JSD of the histograms of consecutive pairs (x[t], x[t+1])
 *   jsd_markov       per source value s of the real rows, JSD of the next-value distributions (END is a
 *                    next value); s absent from the synthetic rows scores 1; weights = real count of s
 *   uniq_align       |distinct/rows (real) - distinct/rows (synthetic)|
 *   leakage          Jaccard similarity of the sets of distinct sequences
 *
 * JSD uses log base 2, so every value lies in [0, 1].  Conventions where a definition has nothing
 * to compare (the same everywhere: an empty histogram is a point mass on "nothing"):
 *   - two empty histograms have JSD 0, an empty against a non-empty one JSD 1 (e.g. 2-grams of
 *     classes whose rows all have fewer than 2 values; Markov when the real rows have no values);
 *   - a class of the real set with no synthetic rows scores the worst value 1 for the four JSDs and
 *     uniq_align, and leakage 0 (the Jaccard similarity with an empty set); it stays in the macro
 *     average and is counted in n_missing;
 *   - a class with synthetic rows only is reported with NaN values and left out of the average.
 */
#ifndef NTG_FIDELITY_H
#define NTG_FIDELITY_H

#include "common/ntg_core.h"
#include "common/seqset.h"

typedef enum NtgMetric
{
	NTG_METRIC_JSD_NUM_PACKETS = 0,
	NTG_METRIC_JSD_1GRAM,
	NTG_METRIC_JSD_2GRAM,
	NTG_METRIC_JSD_MARKOV,
	NTG_METRIC_UNIQ_ALIGN,
	NTG_METRIC_LEAKAGE,
	NTG_N_METRICS
} NtgMetric;

/* "jsd_num_packets", ... (the names the SQL functions return). */
const char *ntg_metric_name(int metric);

typedef struct NtgClassFidelity
{
	const char *label;			/* points into the real or synthetic set's class names */
	int			real_rows;
	int			synthetic_rows;
	double		value[NTG_N_METRICS];	/* NaN when real_rows == 0 */
} NtgClassFidelity;

typedef struct NtgFidelity
{
	int			n_classes;		/* union of both sets' classes, sorted by name */
	NtgClassFidelity *classes;
	double		macro[NTG_N_METRICS];	/* mean over the classes with real rows */
	int			n_real_classes;
	int			n_missing;		/* real classes without synthetic rows */
	int			n_extra;		/* synthetic classes without real rows */
} NtgFidelity;

/*
 * Compare synthetic with real.  The real set must have at least one row (NTG_ERR_INVALID_ARG
 * otherwise).  Labels in *out point into real/synthetic: keep both alive while reading it.
 */
int			ntg_fidelity_compute(const NtgSeqSet *real, const NtgSeqSet *synthetic,
								 NtgFidelity *out, NtgError *err);
void		ntg_fidelity_free(NtgFidelity *f);

/* JSD (log2) of two count vectors over the same outcomes; 0/1 conventions for empty ones as above. */
double		ntg_jsd_counts(const int64_t *a, const int64_t *b, int n);

#endif							/* NTG_FIDELITY_H */
