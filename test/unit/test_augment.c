/*
 * test_augment.c — SMOTE and Fast Retransmit: counts, classes, sign and length rules, seeds,
 * independence from row order, and pinned output for a seed.
 */
#include <stdlib.h>
#include <string.h>

#include "augment/augment.h"
#include "common/seqset.h"
#include "unit.h"

static const int32_t A1[] = {100, -1400, 60},
			A2[] = {120, -1300, 80, -5},
			A3[] = {90, -1500},
			A4[] = {-50, 10, 10},
			B1[] = {-30, 200};

static void
make_set(NtgSeqSet *s, int reversed)
{
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgError	err = {0};
	const int32_t *rows[] = {A1, A2, A3, A4, B1};
	const int	lens[] = {3, 4, 2, 3, 2};
	const char *labels[] = {"a", "a", "a", "a", "b"};

	for (int k = 0; k < 5; k++)
	{
		int			i = reversed ? 4 - k : k;

		ntg_seqset_builder_add(b, labels[i], rows[i], lens[i], &err);
	}
	ntg_seqset_builder_finish(b, s, &err);
}

static int
same_sets(const NtgSeqSet *x, const NtgSeqSet *y)
{
	if (x->n_rows != y->n_rows)
		return 0;
	for (int i = 0; i < x->n_rows; i++)
	{
		int			lx,
					ly;
		const int32_t *rx = ntg_seqset_row(x, i, &lx),
				   *ry = ntg_seqset_row(y, i, &ly);

		if (lx != ly || memcmp(rx, ry, sizeof(int32_t) * lx) != 0 ||
			strcmp(x->classes[x->row_class[i]], y->classes[y->row_class[i]]) != 0)
			return 0;
	}
	return 1;
}

static void
test_smote(void)
{
	NtgSeqSet	s,
				r,
				out,
				again;
	NtgError	err = {0};
	int			per_class[2] = {200, 3};
	int			lengths_ok = 1,
				signs_ok = 1,
				a_rows = 0;

	make_set(&s, 0);
	ok(ntg_smote(&s, per_class, 5, 42, &out, &err) == NTG_OK, "smote");
	is_int(out.n_rows, 203, "rows per class as asked");
	for (int i = 0; i < out.n_rows; i++)
	{
		int			len;
		const int32_t *row = ntg_seqset_row(&out, i, &len);

		if (strcmp(out.classes[out.row_class[i]], "b") == 0)
		{
			/* one row only: replication */
			signs_ok &= len == 2 && row[0] == -30 && row[1] == 200;
			continue;
		}
		a_rows++;
		lengths_ok &= len >= 2 && len <= 4;
		for (int j = 0; j < len; j++)
			signs_ok &= row[j] != 0;
		/* the first two positions have the same sign in every "a" row but A4 */
		if (row[0] > 0)
			signs_ok &= row[0] >= 50 && row[0] <= 120;
	}
	is_int(a_rows, 200, "class a got its rows");
	ok(lengths_ok, "lengths stay between the class's shortest and longest rows");
	ok(signs_ok, "no value lands on zero, magnitudes stay between endpoints, single rows replicate");
	ok(ntg_smote(&s, per_class, 5, 42, &again, &err) == NTG_OK && same_sets(&out, &again),
	   "same seed, same rows");
	ntg_seqset_free(&again);
	make_set(&r, 1);
	ok(ntg_smote(&r, per_class, 5, 42, &again, &err) == NTG_OK && same_sets(&out, &again),
	   "row order of the source does not matter");
	ntg_seqset_free(&again);
	ntg_smote(&s, per_class, 5, 43, &again, &err);
	ok(!same_sets(&out, &again), "another seed, other rows");
	ntg_seqset_free(&again);
	{
		/* pinned: the first synthetic row of class a for seed 42 */
		int			len;
		const int32_t *row = ntg_seqset_row(&out, 0, &len);

		ok(len == 3 && row[0] == -60 && row[1] == 190 && row[2] == 20,
		   "seed 42 pins the first row: A4 towards A1 with the sign of the nearer A4");
	}
	per_class[0] = -1;
	ok(ntg_smote(&s, per_class, 5, 42, &again, &err) == NTG_ERR_INVALID_ARG, "negative count refused");
	per_class[0] = 1;
	ok(ntg_smote(&s, per_class, 0, 42, &again, &err) == NTG_ERR_INVALID_ARG, "k = 0 refused");
	ntg_seqset_free(&out);
	ntg_seqset_free(&r);
	ntg_seqset_free(&s);
}

/* Whether y is x with one packet moved 1..3 places later (or x itself). */
static int
one_delay(const int32_t *x, const int32_t *y, int len)
{
	if (memcmp(x, y, sizeof(int32_t) * len) == 0)
		return 1;
	for (int i = 0; i < len - 1; i++)
		for (int d = 1; d <= 3 && i + d < len; d++)
		{
			int32_t		t[8];

			memcpy(t, x, sizeof(int32_t) * len);
			memmove(t + i, t + i + 1, sizeof(int32_t) * d);
			t[i + d] = x[i];
			if (memcmp(t, y, sizeof(int32_t) * len) == 0)
				return 1;
		}
	return 0;
}

static void
test_fast_retransmit(void)
{
	NtgSeqSet	s,
				out,
				again;
	NtgError	err = {0};
	int			per_class[2] = {300, 5};
	int			valid = 1,
				moved = 0;
	const int32_t *src[] = {A1, A2, A3, A4};
	const int	lens[] = {3, 4, 2, 3};

	make_set(&s, 0);
	ok(ntg_fast_retransmit(&s, per_class, 0.5, 9, &out, &err) == NTG_OK, "fast retransmit");
	is_int(out.n_rows, 305, "rows per class as asked");
	for (int i = 0; i < out.n_rows; i++)
	{
		int			len,
					found = 0;
		const int32_t *row = ntg_seqset_row(&out, i, &len);

		if (strcmp(out.classes[out.row_class[i]], "b") == 0)
		{
			found = one_delay(B1, row, 2) && len == 2;
			valid &= found;
			continue;
		}
		for (int k = 0; k < 4 && !found; k++)
			if (lens[k] == len && one_delay(src[k], row, len))
			{
				found = 1;
				moved += memcmp(src[k], row, sizeof(int32_t) * len) != 0;
			}
		valid &= found;
	}
	ok(valid, "every row is a source row of its class with at most one packet delayed");
	ok(moved > 90 && moved < 210, "about half the rows are changed (%d of 300)", moved);
	ok(ntg_fast_retransmit(&s, per_class, 0.5, 9, &again, &err) == NTG_OK && same_sets(&out, &again),
	   "same seed, same rows");
	ntg_seqset_free(&again);
	ntg_fast_retransmit(&s, per_class, 0.0, 9, &again, &err);
	moved = 0;
	for (int i = 0; i < again.n_rows; i++)
	{
		int			len,
					same = 0;
		const int32_t *row = ntg_seqset_row(&again, i, &len);

		for (int k = 0; k < 4; k++)
			same |= lens[k] == len && memcmp(src[k], row, sizeof(int32_t) * len) == 0;
		same |= len == 2 && memcmp(B1, row, sizeof(B1)) == 0;
		moved += !same;
	}
	is_int(moved, 0, "p = 0 copies rows unchanged");
	ntg_seqset_free(&again);
	ok(ntg_fast_retransmit(&s, per_class, 1.5, 9, &again, &err) == NTG_ERR_INVALID_ARG, "p > 1 refused");
	ntg_seqset_free(&out);
	ntg_seqset_free(&s);
}

int
main(void)
{
	test_smote();
	test_fast_retransmit();
	return done_testing();
}
