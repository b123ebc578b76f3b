/*
 * test_metrics.c — fidelity metrics and the radar chart, on hand-computed inputs.
 */
#include <string.h>

#include "common/seqset.h"
#include "metrics/fidelity.h"
#include "metrics/radar.h"
#include "unit.h"

typedef struct Row
{
	const char *label;
	int			len;
	int32_t		v[4];
} Row;

static void
make_set(const Row *rows, int n, NtgSeqSet *out)
{
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgError	err = {0};

	for (int i = 0; i < n; i++)
		ntg_seqset_builder_add(b, rows[i].label, rows[i].v, rows[i].len, &err);
	ntg_seqset_builder_finish(b, out, &err);
}

static int
count(const char *hay, const char *needle)
{
	int			n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* The worked example of docs/metrics.md and sql/metrics.sql. */
static void
test_hand_computed(void)
{
	Row			r[] = {{"a", 2, {1, 2}}, {"a", 1, {1}}};
	Row			s[] = {{"a", 2, {1, 2}}, {"a", 1, {2}}};
	NtgSeqSet	real,
				synth;
	NtgFidelity f;
	NtgError	err = {0};

	make_set(r, 2, &real);
	make_set(s, 2, &synth);
	ok(ntg_fidelity_compute(&real, &synth, &f, &err) == NTG_OK, "compute");
	is_double(f.macro[NTG_METRIC_JSD_NUM_PACKETS], 0.0, 1e-12, "same lengths: jsd 0");
	is_double(f.macro[NTG_METRIC_JSD_1GRAM], 5.0 / 3.0 - log2(3.0), 1e-12, "1-gram: 5/3 - log2 3");
	is_double(f.macro[NTG_METRIC_JSD_2GRAM], 0.0, 1e-12, "2-gram: the one pair matches");
	/* s=1: P=(2:1/2, END:1/2) Q=(2:1) -> 0.311278; s=2: END only on both sides -> 0; weights 2, 1 */
	is_double(f.macro[NTG_METRIC_JSD_MARKOV],
			  2.0 / 3.0 * 0.5 * ((0.5 * log2(0.5 / 0.75) + 0.5 * log2(2.0)) + log2(1 / 0.75)),
			  1e-12, "markov weighted by real source counts");
	is_double(f.macro[NTG_METRIC_UNIQ_ALIGN], 0.0, 1e-12, "uniq_align 0");
	is_double(f.macro[NTG_METRIC_LEAKAGE], 1.0 / 3.0, 1e-12, "leakage 1/3");
	ntg_fidelity_free(&f);
	ok(ntg_fidelity_compute(&real, &real, &f, &err) == NTG_OK &&
	   f.macro[0] == 0 && f.macro[1] == 0 && f.macro[2] == 0 && f.macro[3] == 0 &&
	   f.macro[4] == 0 && f.macro[5] == 1, "a set against itself: 0,0,0,0,0 and leakage 1");
	ntg_fidelity_free(&f);
	ntg_seqset_free(&real);
	ntg_seqset_free(&synth);
}

static void
test_edge_cases(void)
{
	/* class e: empty sequences only on the real side; b: real only; z: synthetic only */
	Row			r[] = {{"e", 0, {0}}, {"e", 0, {0}}, {"b", 1, {5}}, {"c", 1, {7}}};
	Row			s[] = {{"e", 0, {0}}, {"e", 1, {3}}, {"z", 1, {1}}, {"c", 1, {-7}}};
	NtgSeqSet	real,
				synth,
				empty;
	NtgFidelity f;
	NtgError	err = {0};
	NtgClassFidelity *b,
			   *c,
			   *e,
			   *z;

	make_set(r, 4, &real);
	make_set(s, 4, &synth);
	ok(ntg_fidelity_compute(&real, &synth, &f, &err) == NTG_OK, "compute with edge cases");
	is_int(f.n_classes, 4, "union of classes");
	is_int(f.n_real_classes, 3, "real classes");
	is_int(f.n_missing, 1, "one real class without synthetic rows");
	is_int(f.n_extra, 1, "one synthetic-only class");
	b = &f.classes[0];
	c = &f.classes[1];
	e = &f.classes[2];
	z = &f.classes[3];
	ok(strcmp(b->label, "b") == 0 && strcmp(z->label, "z") == 0, "classes sorted by name");
	ok(b->value[0] == 1 && b->value[3] == 1 && b->value[4] == 1 && b->value[5] == 0,
	   "missing class scores 1 (leakage 0)");
	ok(isnan(z->value[0]) && z->real_rows == 0 && z->synthetic_rows == 1, "synthetic-only class is NaN");
	/* e: lengths {0:2} vs {0:1,1:1}: p=(1,0) q=(1/2,1/2) */
	is_double(e->value[NTG_METRIC_JSD_NUM_PACKETS],
			  0.5 * (log2(1 / 0.75) + 0.5 * log2(0.5 / 0.75) + 0.5 * log2(2.0)), 1e-12,
			  "empty sequences count as length 0");
	is_double(e->value[NTG_METRIC_JSD_1GRAM], 1.0, 0, "no real values vs some: 1");
	is_double(e->value[NTG_METRIC_JSD_2GRAM], 0.0, 0, "no pairs on either side: 0");
	is_double(e->value[NTG_METRIC_JSD_MARKOV], 1.0, 0, "no real sources, synthetic has some: 1");
	is_double(e->value[NTG_METRIC_UNIQ_ALIGN], 0.5, 1e-12, "uniq 1/2 vs 2/2");
	is_double(e->value[NTG_METRIC_LEAKAGE], 0.5, 1e-12, "empty sequence shared: 1/2");
	ok(c->value[1] == 1 && c->value[3] == 1 && c->value[5] == 0 && c->value[0] == 0,
	   "disjoint one-row class: jsd 1, leakage 0");
	is_double(f.macro[NTG_METRIC_LEAKAGE], (0 + 0 + 0.5) / 3, 1e-12, "macro over real classes");
	ntg_fidelity_free(&f);

	make_set(r, 0, &empty);
	ok(ntg_fidelity_compute(&empty, &synth, &f, &err) == NTG_ERR_INVALID_ARG &&
	   strcmp(err.msg, "the real set has no rows") == 0, "empty real set refused");
	ok(ntg_fidelity_compute(&real, &empty, &f, &err) == NTG_OK && f.n_missing == 3 &&
	   f.macro[0] == 1, "empty synthetic set: every class missing");
	ntg_fidelity_free(&f);
	ntg_seqset_free(&real);
	ntg_seqset_free(&synth);
	ntg_seqset_free(&empty);
}

static int	interrupt_calls = 0;

static void
count_interrupt(void)
{
	interrupt_calls++;
}

/* Large values, negative values and many distinct values force map growth. */
static void
test_growth(void)
{
	NtgSeqSetBuilder *br = ntg_seqset_builder_new(),
			   *bs = ntg_seqset_builder_new();
	NtgSeqSet	real,
				synth;
	NtgFidelity f;
	NtgError	err = {0};

	for (int i = 0; i < 20000; i++)
	{
		int32_t		v[3] = {i * 7 - 70000, -i, i % 3 == 0 ? INT32_MIN : INT32_MAX};

		ntg_seqset_builder_add(br, i % 2 ? "x" : "y", v, 1 + i % 3, &err);
		ntg_seqset_builder_add(bs, i % 2 ? "x" : "y", v, 1 + i % 3, &err);
	}
	ntg_seqset_builder_finish(br, &real, &err);
	ntg_seqset_builder_finish(bs, &synth, &err);
	ntg_set_interrupt_hook(count_interrupt);
	ok(ntg_fidelity_compute(&real, &synth, &f, &err) == NTG_OK, "compute 20000 rows");
	ntg_set_interrupt_hook(NULL);
	/* 2 classes x 2 sides x 10000 rows, checked every 4096 rows in each of 3 passes, + per class */
	ok(interrupt_calls >= 12, "long loops check for interrupts (%d calls)", interrupt_calls);
	ok(f.macro[0] == 0 && f.macro[1] == 0 && f.macro[2] == 0 && f.macro[3] == 0 &&
	   f.macro[4] == 0 && f.macro[5] == 1, "identical large sets: 0 and leakage 1");
	ntg_fidelity_free(&f);
	ntg_seqset_free(&real);
	ntg_seqset_free(&synth);
}

static void
test_jsd_counts(void)
{
	int64_t		a[] = {1, 0},
				b[] = {0, 3},
				z[] = {0, 0};

	is_double(ntg_jsd_counts(a, b, 2), 1.0, 1e-15, "disjoint supports: 1");
	is_double(ntg_jsd_counts(a, a, 2), 0.0, 0, "identical: 0");
	is_double(ntg_jsd_counts(z, z, 2), 0.0, 0, "both empty: 0");
	is_double(ntg_jsd_counts(a, z, 2), 1.0, 0, "one empty: 1");
}

static void
test_radar(void)
{
	const char *names[] = {"llama <&> \"x\"", "cvae"};
	double		v[12] = {0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.1, 0.2, 0.3, 0.35, 0.4, 0.1};
	char	   *svg;
	NtgError	err = {0};

	ok(ntg_radar_svg(2, names, v, "t<1>", 0, &svg, &err) == NTG_OK, "radar svg");
	ok(strncmp(svg, "<?xml", 5) == 0 && strstr(svg, "</svg>\n") != NULL, "a whole document");
	is_int(count(svg, "class=\"axis\""), 6, "six axes");
	is_int(count(svg, "class=\"series\""), 2, "one polygon per set");
	ok(strstr(svg, "llama &lt;&amp;&gt; &quot;x&quot;") != NULL && strstr(svg, "t&lt;1&gt;"),
	   "names and title escaped");
	ok(strstr(svg, "<\"x\"") == NULL, "no raw markup from names");
	ntg_free(svg);
	is_double(ntg_radar_auto_scale(0.4), 0.5, 0, "auto scale 0.4 -> 0.5");
	is_double(ntg_radar_auto_scale(0.0), 0.05, 0, "auto scale 0 -> 0.05");
	v[3] = 1.5;
	ok(ntg_radar_svg(2, names, v, NULL, 0, &svg, &err) == NTG_ERR_INVALID_ARG, "value > 1 refused");
	v[3] = NAN;
	ok(ntg_radar_svg(2, names, v, NULL, 0, &svg, &err) == NTG_ERR_INVALID_ARG, "NaN refused");
	ok(ntg_radar_svg(0, names, v, NULL, 0, &svg, &err) == NTG_ERR_INVALID_ARG, "no sets refused");
}

int
main(void)
{
	test_hand_computed();
	test_edge_cases();
	test_growth();
	test_jsd_counts();
	test_radar();
	return done_testing();
}
