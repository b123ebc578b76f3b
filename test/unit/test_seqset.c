/*
 * test_seqset.c — labeled sequence sets and hyperparameters.
 */
#include <string.h>

#include "common/params.h"
#include "common/seqset.h"
#include "unit.h"

static void
test_seqset(void)
{
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgSeqSet	s;
	NtgError	err;
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

static void
test_params(void)
{
	NtgParams	p = {0};
	NtgError	err;
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
	test_params();
	return done_testing();
}
