/*
 * radar.h — an SVG radar chart of the six fidelity metrics (the paper's Fig. 2 layout) from numbers.
 *
 * Six axes, clockwise from the top in NtgMetric order.  Every metric is "lower is better", so the
 * radial scale is inverted: 0 lies on the outer edge and `scale` at the centre, and a point sits at
 * radius R·(1 − min(v, scale)/scale).  A larger polygon is better.  Leakage is plotted the same way
 * (low leakage = novel sequences = outer edge), as in the paper.
 */
#ifndef NTG_RADAR_H
#define NTG_RADAR_H

#include "common/ntg_core.h"
#include "metrics/fidelity.h"

/* Largest number of polygons in one chart. */
#define NTG_RADAR_MAX_SETS 64

/*
 * values: n_sets rows of NTG_N_METRICS numbers in [0, 1] (NtgMetric order); names: n_sets labels
 * for the legend (any text: escaped for XML); title may be NULL.  scale > 0 fixes the value at the
 * centre; scale <= 0 picks the smallest of 0.05, 0.1, 0.2, 0.25, 0.5, 1 that holds every value.
 * On success *svg is a NUL-terminated document from ntg_malloc.
 */
int			ntg_radar_svg(int n_sets, const char *const *names, const double *values,
						  const char *title, double scale, char **svg, NtgError *err);

/* The automatic scale for a maximum value (exposed for tests). */
double		ntg_radar_auto_scale(double max_value);

#endif							/* NTG_RADAR_H */
