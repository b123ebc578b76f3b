/*
 * test_size_match.c — the seeded cut of a set to given row counts per class, size-matched sets,
 * and the comparison of synthetic rows with fresh real rows (metrics/size_match.h).
 */
#include <string.h>

#include "common/seqset.h"
#include "metrics/fidelity.h"
#include "metrics/size_match.h"
#include "unit.h"

typedef struct Row
{
	const char *label;
	int			len;
	int32_t		v[3];
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

/* Rows of class c: count of each value sequence (len 1, value v) over the whole set. */
static int
count_value(const NtgSeqSet *s, const char *label, int32_t v)
{
	int			c = ntg_seqset_class_index(s, label),
				n = 0;

	for (int i = 0; i < s->n_rows; i++)
	{
		int			len;
		const int32_t *row = ntg_seqset_row(s, i, &len);

		n += s->row_class[i] == c && len == 1 && row[0] == v;
	}
	return n;
}

/* The key's definition, checked against values computed independently (Python, from the text of
 * size_match.h): a change of the byte layout breaks the reference in fidelity_ref.py too. */
static void
test_keys(void)
{
	int32_t		v[] = {517, -1400, 40000};
	int32_t		w[] = {INT32_MIN};

	ok(ntg_row_key(0, "a", NULL, 0, 0) == UINT64_C(0x62e30465fc7acf41), "key of an empty row");
	ok(ntg_row_key(7, "zoom", v, 3, 2) == UINT64_C(0xb42ee9741e9a8c9b), "key with values, occurrence 2");
	ok(ntg_row_key(UINT64_C(9223372036854775813), "\xc3\xa4", w, 1, 0) == UINT64_C(0xe444f893950bc984),
	   "key of a UTF-8 label, a large seed and INT32_MIN");
	ok(ntg_row_key(1, "a", v, 3, 0) != ntg_row_key(1, "a", v, 3, 1), "copies get different keys");
	ok(ntg_row_key(1, "a", v, 3, 0) != ntg_row_key(2, "a", v, 3, 0), "the seed changes the key");
}

/*
 * 40 rows of class "x": value 1 twenty times, 2 .. 21 once each; 10 rows of "y".  Cut x to 10 and
 * keep y whole.
 */
static void
test_cut(void)
{
	Row			rows[50],
				rev[50];
	NtgSeqSet	set,
				set_rev,
				cut,
				cut_rev,
				cut2;
	NtgError	err = {0};
	int			keep[2],
				ones = 0,
				same = 1;

	for (int i = 0; i < 40; i++)
		rows[i] = (Row) {"x", 1, {i < 20 ? 1 : i - 18}};
	for (int i = 40; i < 50; i++)
		rows[i] = (Row) {"y", 2, {i, -i}};
	for (int i = 0; i < 50; i++)
		rev[i] = rows[49 - i];
	make_set(rows, 50, &set);
	make_set(rev, 50, &set_rev);
	keep[ntg_seqset_class_index(&set, "x")] = 10;
	keep[ntg_seqset_class_index(&set, "y")] = -1;
	ok(ntg_seqset_cut(&set, keep, 3, &cut, &err) == NTG_OK, "cut");
	ok(ntg_seqset_cut(&set_rev, keep, 3, &cut_rev, &err) == NTG_OK, "cut of the rows in reverse order");
	is_int(cut.n_rows, 20, "10 rows of x and the 10 of y");
	is_int(cut.n_classes, 2, "classes kept");
	for (int v = 1; v <= 21; v++)
		same &= count_value(&cut, "x", v) == count_value(&cut_rev, "x", v);
	ok(same, "the cut depends on the rows, not on their order");
	ones = count_value(&cut, "x", 1);
	ok(ones > 0 && ones < 10, "copies of one row are spread over kept and dropped (%d of 10 kept)", ones);
	keep[ntg_seqset_class_index(&set, "x")] = 100;
	ok(ntg_seqset_cut(&set, keep, 3, &cut2, &err) == NTG_OK && cut2.n_rows == 50,
	   "keep above the class's rows keeps it whole");
	ntg_seqset_free(&cut2);
	/* over many seeds, each row of x is kept about a quarter of the time, copies too */
	{
		int			kept1 = 0,
					kept_single = 0;

		keep[ntg_seqset_class_index(&set, "x")] = 10;
		for (int seed = 0; seed < 400; seed++)
		{
			if (ntg_seqset_cut(&set, keep, seed, &cut2, &err) != NTG_OK)
				break;
			kept1 += count_value(&cut2, "x", 1);
			kept_single += count_value(&cut2, "x", 2);
			ntg_seqset_free(&cut2);
		}
		/* expected 400 * 10 * 20/40 = 2000 copies of value 1 and 400 * 10/40 = 100 of value 2 */
		ok(kept1 > 1850 && kept1 < 2150, "uniform: copies of 1 kept %d times (expected 2000)", kept1);
		ok(kept_single > 70 && kept_single < 130, "uniform: the single row 2 kept %d times (expected 100)",
		   kept_single);
	}
	ntg_seqset_free(&cut);
	ntg_seqset_free(&cut_rev);
	ntg_seqset_free(&set);
	ntg_seqset_free(&set_rev);
}

static void
test_match_sizes(void)
{
	Row			a[] = {{"p", 1, {1}}, {"p", 1, {2}}, {"p", 1, {3}}, {"q", 1, {4}}, {"only_a", 1, {5}}};
	Row			b[] = {{"p", 1, {1}}, {"q", 1, {4}}, {"q", 1, {6}}, {"q", 1, {7}}, {"only_b", 1, {8}},
	{"only_b", 1, {9}}};
	NtgSeqSet	sa,
				sb,
				ca,
				cb;
	NtgError	err = {0};
	int			na[4],
				nb[4];

	make_set(a, 5, &sa);
	make_set(b, 6, &sb);
	ok(ntg_seqset_match_sizes(&sa, &sb, 0, &ca, &cb, &err) == NTG_OK, "match sizes");
	ntg_seqset_class_counts(&ca, na);
	ntg_seqset_class_counts(&cb, nb);
	is_int(na[ntg_seqset_class_index(&ca, "p")], 1, "p: a cut to b's 1 row");
	is_int(nb[ntg_seqset_class_index(&cb, "q")], 1, "q: b cut to a's 1 row");
	is_int(na[ntg_seqset_class_index(&ca, "only_a")], 1, "a class of a only is kept");
	is_int(nb[ntg_seqset_class_index(&cb, "only_b")], 2, "a class of b only is kept");
	is_int(count_value(&ca, "q", 4), 1, "q of a untouched");
	ntg_seqset_free(&sa);
	ntg_seqset_free(&sb);
	ntg_seqset_free(&ca);
	ntg_seqset_free(&cb);
}

/*
 * The comparison with fresh real rows on sets where the cut cannot matter: the training rows R and
 * the synthetic rows S have the same size per class, and the test rows T as many as S's cut.
 */
static void
test_gap(void)
{
	/* R: a = {1,2},{1,2},{3}; T: a = {1,2}; S: a = {1,2},{1,2},{1,2} (a copier of the common row);
	 * class b: R {7}, T {7}, S none (missing) */
	Row			r[] = {{"a", 2, {1, 2}}, {"a", 2, {1, 2}}, {"a", 1, {3}}, {"b", 1, {7}}};
	Row			t[] = {{"a", 2, {1, 2}}, {"b", 1, {7}}};
	Row			s[] = {{"a", 2, {1, 2}}, {"a", 2, {1, 2}}, {"a", 2, {1, 2}}};
	NtgSeqSet	R,
				T,
				S,
				Sa;
	NtgFidelity fr,
				fs,
				lt,
				ls;
	NtgFidelityGap g;
	NtgError	err = {0};

	make_set(r, 4, &R);
	make_set(t, 2, &T);
	make_set(s, 3, &S);
	make_set(s, 1, &Sa);
	ok(ntg_fidelity_gap_compute(&R, &T, &S, 5, &g, &err) == NTG_OK, "gap");
	is_int(g.n_classes, 2, "over R's classes");
	is_int(g.n_missing, 1, "b has no synthetic rows");
	is_int(g.n_untested, 0, "every class has test rows");
	/* the real side is fidelity(R, T) per class: R and S have 3 rows in a, so R is not cut */
	ntg_fidelity_compute(&R, &T, &fr, &err);
	ntg_fidelity_compute(&S, &T, &fs, &err);
	for (int m = 0; m < NTG_METRIC_LEAKAGE; m++)
	{
		is_double(g.real[m], fr.macro[m], 1e-12, "real %s = fidelity(R, T)", ntg_metric_name(m));
		/* class a from fidelity(S, T), class b scores 1 */
		is_double(g.synthetic[m], (fs.classes[0].value[m] + 1.0) / 2, 1e-12,
				  "synthetic %s: a from fidelity(S, T), b scores 1", ntg_metric_name(m));
	}
	/* leakage: T has 1 row of a, so S is cut to 1 row ({1,2}); b: T whole against R, S nothing */
	ntg_fidelity_compute(&R, &T, &lt, &err);
	ntg_fidelity_compute(&R, &Sa, &ls, &err);
	is_double(g.real[NTG_METRIC_LEAKAGE], lt.macro[NTG_METRIC_LEAKAGE], 1e-12, "real leakage = leakage(T, R)");
	is_double(g.real[NTG_METRIC_LEAKAGE], (0.5 + 1.0) / 2, 1e-12, "a: {1,2} of {1,2},{3}; b: {7} of {7}");
	is_double(g.synthetic[NTG_METRIC_LEAKAGE], (0.5 + 0.0) / 2, 1e-12,
			  "synthetic leakage: S cut to 1 row in a; b missing scores 0");
	ntg_fidelity_free(&fr);
	ntg_fidelity_free(&fs);
	ntg_fidelity_free(&lt);
	ntg_fidelity_free(&ls);
	{
		NtgSeqSet	empty = {0};

		ok(ntg_fidelity_gap_compute(&empty, &T, &S, 5, &g, &err) == NTG_ERR_INVALID_ARG,
		   "an empty training set is refused");
	}
	ntg_seqset_free(&R);
	ntg_seqset_free(&T);
	ntg_seqset_free(&S);
	ntg_seqset_free(&Sa);
}

int
main(void)
{
	test_keys();
	test_cut();
	test_match_sizes();
	test_gap();
	return done_testing();
}
