/*
 * test_seqset.c — labeled sequence sets and hyperparameters.
 */
#include <string.h>

#include "common/params.h"
#include "common/rng.h"
#include "common/seqset.h"
#include "unit.h"

static void
test_seqset(void)
{
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgSeqSet	s;
	NtgError	err = {0};
	int32_t		r1[] = {100, -200, 300};
	int32_t		r2[] = {-40000};
	int			len,
				counts[3];
	const int32_t *row;
	char		label[16];

	ok(ntg_seqset_builder_add(b, "zoom", r1, 3, &err) == NTG_OK, "add a row");
	ok(ntg_seqset_builder_add(b, "dns", r2, 1, &err) == NTG_OK, "add a row of another class");
	ok(ntg_seqset_builder_add(b, "zoom", NULL, 0, &err) == NTG_OK, "add an empty row");
	/* Enough distinct labels to force the intern table to grow. */
	for (int i = 0; i < 100; i++)
	{
		snprintf(label, sizeof(label), "c%03d", i);
		ntg_seqset_builder_add(b, label, r1, 1, &err);
	}
	ok(ntg_seqset_builder_finish(b, &s, &err) == NTG_OK, "finish");
	is_int(s.n_rows, 103, "row count");
	is_int(s.n_classes, 102, "class count");
	ok(strcmp(s.classes[0], "c000") == 0 && strcmp(s.classes[100], "dns") == 0 &&
	   strcmp(s.classes[101], "zoom") == 0, "classes are sorted by name");
	row = ntg_seqset_row(&s, 0, &len);
	ok(len == 3 && row[1] == -200 && s.row_class[0] == 101, "first row kept values and class");
	row = ntg_seqset_row(&s, 1, &len);
	ok(len == 1 && row[0] == -40000, "values beyond smallint survive");
	ntg_seqset_row(&s, 2, &len);
	is_int(len, 0, "empty row has length 0");
	is_int(s.max_len, 3, "max_len");
	is_int(ntg_seqset_class_index(&s, "dns"), 100, "class lookup");
	is_int(ntg_seqset_class_index(&s, "nope"), -1, "unknown class");
	{
		int			all[102];

		ntg_seqset_class_counts(&s, all);
		counts[0] = all[101];
		ok(counts[0] == 2 && all[100] == 1, "class counts");
	}
	ntg_seqset_free(&s);
}

/* Build a set: class "a" with n_a rows (row i = {i, -i}), "b" with n_b, "c" with 1. */
static void
split_fixture(NtgSeqSet *s, int n_a, int n_b)
{
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgError	err = {0};

	for (int i = 0; i < n_a + n_b; i++)
	{
		int32_t		row[2] = {i, -i};

		ntg_seqset_builder_add(b, i % 3 == 0 && i / 3 < n_b ? "b" : "a", row, 1 + i % 2, &err);
	}
	ntg_seqset_builder_add(b, "c", NULL, 0, &err);
	ntg_seqset_builder_finish(b, s, &err);
}

/* Row values as a key (rows of the fixture are distinct by their first value, or empty). */
static int
row_key(const NtgSeqSet *s, int r)
{
	int			len;
	const int32_t *v = ntg_seqset_row(s, r, &len);

	return len > 0 ? v[0] : -1;
}

static void
test_split(void)
{
	NtgSeqSet	s,
				kept,
				held,
				kept2,
				held2;
	NtgRng		rng;
	NtgError	err = {0};
	int			counts[3],
				held_counts[3],
				seen[200] = {0},
				ordered = 1,
				same = 1,
				other = 0;

	split_fixture(&s, 70, 30);
	ntg_rng_seed(&rng, 9);
	ok(ntg_seqset_split(&s, 0.2, &rng, &kept, &held, &err) == NTG_OK, "split");
	ok(kept.n_classes == 3 && held.n_classes == 3 && strcmp(held.classes[2], "c") == 0,
	   "both parts keep every class, also one with no held-out row");
	ntg_seqset_class_counts(&kept, counts);
	ntg_seqset_class_counts(&held, held_counts);
	ok(held_counts[0] == 14 && held_counts[1] == 6 && held_counts[2] == 0,
	   "per class, round(0.2 * rows) are held out (%d, %d, %d)", held_counts[0], held_counts[1],
	   held_counts[2]);
	ok(counts[0] == 56 && counts[1] == 24 && counts[2] == 1, "the rest are kept, and a one-row class keeps its row");
	for (int r = 0; r < kept.n_rows; r++)
		seen[row_key(&kept, r) + 1]++;
	for (int r = 0; r < held.n_rows; r++)
		seen[row_key(&held, r) + 1]++;
	for (int i = 0; i < 101; i++)
		same &= seen[i] == 1;
	ok(same, "every row lands in exactly one part");
	for (int r = 1; r < held.n_rows; r++)
		ordered &= row_key(&held, r - 1) < row_key(&held, r);
	ok(ordered, "rows keep their original order");
	{
		int			len;
		const int32_t *v = ntg_seqset_row(&held, 0, &len);
		int			i = v[0];

		ok(len == 1 + i % 2 && (len == 1 || v[1] == -i) &&
		   strcmp(held.classes[held.row_class[0]], i % 3 == 0 && i / 3 < 30 ? "b" : "a") == 0,
		   "a held-out row keeps its values and class");
	}
	ntg_rng_seed(&rng, 9);
	ntg_seqset_split(&s, 0.2, &rng, &kept2, &held2, &err);
	same = held2.n_rows == held.n_rows;
	for (int r = 0; same && r < held.n_rows; r++)
		same = row_key(&held, r) == row_key(&held2, r);
	ok(same, "the same generator state holds out the same rows");
	ntg_seqset_free(&kept2);
	ntg_seqset_free(&held2);
	ntg_rng_seed(&rng, 10);
	ntg_seqset_split(&s, 0.2, &rng, &kept2, &held2, &err);
	for (int r = 0; r < held.n_rows && r < held2.n_rows; r++)
		other |= row_key(&held, r) != row_key(&held2, r);
	ok(other, "another state, other rows");
	ntg_seqset_free(&kept2);
	ntg_seqset_free(&held2);
	ntg_seqset_free(&kept);
	ntg_seqset_free(&held);
	ok(ntg_seqset_split(&s, 0.0, &rng, &kept, &held, &err) == NTG_OK && held.n_rows == 0 &&
	   kept.n_rows == s.n_rows, "fraction 0 holds out nothing");
	ntg_seqset_free(&kept);
	ntg_seqset_free(&held);
	ntg_seqset_free(&s);
}

static void
test_params(void)
{
	NtgParams	p = {0};
	NtgError	err = {0};
	int64_t		i;
	double		d;
	int			flag;
	const char *str;
	static const char *const kinds[] = {"gini", "entropy", NULL};

	ntg_params_add_number(&p, "epochs", 40, &err);
	ntg_params_add_number(&p, "lr", 0.5, &err);
	ntg_params_add_bool(&p, "bootstrap", 0, &err);
	ntg_params_add_string(&p, "criterion", "entropy", &err);
	ok(ntg_params_int(&p, "epochs", 10, 1, 1000, &i, &err) == NTG_OK && i == 40, "int read");
	ok(ntg_params_int(&p, "batch_size", 32, 1, 1000, &i, &err) == NTG_OK && i == 32, "int default");
	ok(ntg_params_int(&p, "lr", 1, 1, 10, &i, &err) == NTG_ERR_INVALID_ARG &&
	   strstr(err.msg, "must be an integer"), "a fraction is not an integer");
	ok(ntg_params_double(&p, "lr", 1e-3, 0, 0.1, &d, &err) == NTG_ERR_INVALID_ARG &&
	   strstr(err.msg, "between"), "out of range is refused");
	ok(ntg_params_bool(&p, "bootstrap", 1, &flag, &err) == NTG_OK && flag == 0, "bool read");
	ok(ntg_params_string(&p, "criterion", "gini", kinds, &str, &err) == NTG_OK &&
	   strcmp(str, "entropy") == 0, "string read");
	ok(ntg_params_check_used(&p, "llama", &err) == NTG_OK, "all keys used");
	ntg_params_add_number(&p, "epoch", 3, &err);
	ok(ntg_params_check_used(&p, "llama", &err) == NTG_ERR_INVALID_ARG &&
	   strcmp(err.msg, "unknown hyperparameter \"epoch\" for llama") == 0, "a misspelt key is refused");
	ntg_params_free(&p);
}

int
main(void)
{
	test_seqset();
	test_split();
	test_params();
	return done_testing();
}
