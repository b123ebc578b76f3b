/*
 * forest_eval_sql.c — ntg.rf_evaluate, ntg.rf_confusion and ntg.rf_fit_evaluate: a classifier
 * (a model of a kind that can classify: random_forest) against the rows of a test query.
 *
 * Labels are the sorted union of the model's classes and the test rows' labels, so a test label the
 * model never saw is reported (with recall 0) and the scores follow scikit-learn's
 * classification_report over the labels that occur among actual or predicted values.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "common/params.h"
#include "common/seqset.h"
#include "forest/forest.h"
#include "models/train_driver.h"
#include "models_sql.h"
#include "ntg_glue.h"

typedef struct Confusion
{
	int			n;
	char	  **labels;
	int64	   *cm;				/* n x n, actual-major */
} Confusion;

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static int
label_index(const Confusion *c, const char *name)
{
	char	  **hit = bsearch(&name, c->labels, c->n, sizeof(char *), cmp_names);

	return hit ? (int) (hit - c->labels) : -1;
}

/* Predict every test row and count (actual, predicted) pairs. */
static void
confusion(const NtgModel *f, const NtgSeqSet *test, Confusion *c)
{
	int		   *model_map,
			   *test_map,
				m = 0;
	double	   *proba;

	c->labels = palloc(sizeof(char *) * (f->n_classes + test->n_classes));
	for (int k = 0; k < f->n_classes; k++)
		c->labels[m++] = f->classes[k];
	for (int k = 0; k < test->n_classes; k++)
		c->labels[m++] = test->classes[k];
	qsort(c->labels, m, sizeof(char *), cmp_names);
	c->n = 0;
	for (int i = 0; i < m; i++)
		if (c->n == 0 || strcmp(c->labels[c->n - 1], c->labels[i]) != 0)
			c->labels[c->n++] = c->labels[i];
	model_map = palloc(sizeof(int) * f->n_classes);
	test_map = palloc(sizeof(int) * test->n_classes);
	for (int k = 0; k < f->n_classes; k++)
		model_map[k] = label_index(c, f->classes[k]);
	for (int k = 0; k < test->n_classes; k++)
		test_map[k] = label_index(c, test->classes[k]);
	c->cm = palloc0(sizeof(int64) * c->n * c->n);
	proba = palloc(sizeof(double) * f->n_classes);
	for (int i = 0; i < test->n_rows; i++)
	{
		int			len;
		const int32 *row = ntg_seqset_row(test, i, &len);
		int			pred = ntg_model_classify(f, row, len, proba);

		c->cm[(size_t) test_map[test->row_class[i]] * c->n + model_map[pred]]++;
		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
}

static void
test_confusion(const NtgModel *f, FunctionCallInfo fcinfo, int argno, Confusion *c)
{
	NtgSeqSet	test;

	ntg_pg_require_arg(fcinfo, argno, "test_query");
	ntg_pg_collect_seqs(text_to_cstring(PG_GETARG_TEXT_PP(argno)), "test_query", &test);
	if (test.n_rows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("test set is empty"),
				 errdetail("The query given as test_query returned no rows.")));
	confusion(f, &test, c);
}

static void
put_row(ReturnSetInfo *rsinfo, const char *kind, const char *label, double p, double r,
		double f1, int64 support, bool with_pr)
{
	Datum		v[6];
	bool		nulls[6] = {false, label == NULL, !with_pr, !with_pr, false, false};

	v[0] = CStringGetTextDatum(kind);
	v[1] = label ? CStringGetTextDatum(label) : (Datum) 0;
	v[2] = Float8GetDatum(p);
	v[3] = Float8GetDatum(r);
	v[4] = Float8GetDatum(f1);
	v[5] = Int64GetDatum(support);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
}

/* Rows (kind, label, precision, recall, f1, support): one per label, then accuracy, macro avg and
 * weighted avg (label NULL; accuracy has only f1 = accuracy and support). */
static void
report_rows(FunctionCallInfo fcinfo, const Confusion *c)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	NtgClassReport r;
	NtgError	err;

	InitMaterializedSRF(fcinfo, 0);
	NTG_PG_CHECK(ntg_class_report(c->cm, c->n, &r, &err), &err);
	for (int i = 0; i < r.n_labels; i++)
		put_row(rsinfo, "class", c->labels[r.label[i]], r.precision[i], r.recall[i], r.f1[i],
				r.support[i], true);
	put_row(rsinfo, "accuracy", NULL, 0, 0, r.accuracy, r.total, false);
	put_row(rsinfo, "macro avg", NULL, r.macro_precision, r.macro_recall, r.macro_f1, r.total, true);
	put_row(rsinfo, "weighted avg", NULL, r.weighted_precision, r.weighted_recall, r.weighted_f1,
			r.total, true);
	ntg_class_report_free(&r);
}

/* The classifier named by argument 0, pinned for the statement. */
static const NtgModel *
classifier_arg(FunctionCallInfo fcinfo)
{
	NtgModelRef ref;

	ntg_pg_require_arg(fcinfo, 0, "model");
	ntg_pg_model_acquire(text_to_cstring(PG_GETARG_TEXT_PP(0)), NTG_CAP_CLASSIFY,
						 CurrentMemoryContext, NULL, &ref);
	return ref.model;
}

PG_FUNCTION_INFO_V1(ntg_rf_evaluate);
Datum
ntg_rf_evaluate(PG_FUNCTION_ARGS)
{
	Confusion	c;

	test_confusion(classifier_arg(fcinfo), fcinfo, 1, &c);
	report_rows(fcinfo, &c);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(ntg_rf_confusion);
Datum
ntg_rf_confusion(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Confusion	c;

	test_confusion(classifier_arg(fcinfo), fcinfo, 1, &c);
	InitMaterializedSRF(fcinfo, 0);
	for (int a = 0; a < c.n; a++)
		for (int p = 0; p < c.n; p++)
		{
			Datum		v[3];
			bool		nulls[3] = {false, false, false};

			if (c.cm[(size_t) a * c.n + p] == 0)
				continue;
			v[0] = CStringGetTextDatum(c.labels[a]);
			v[1] = CStringGetTextDatum(c.labels[p]);
			v[2] = Int64GetDatum(c.cm[(size_t) a * c.n + p]);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
		}
	return (Datum) 0;
}

/* Train a forest on the rows of a query through the training driver, without storing it. */
static NtgModel *
fit_forest(const char *query, Jsonb *hyper)
{
	NtgTraining t;
	NtgSeqSet	rows;
	NtgParams	params;
	NtgTrainLimits limits;
	NtgError	err;
	NtgModel   *model;
	NtgTrainHooks quiet = {NULL, NULL, 1};

	limits.max_bytes = (int64) ntg_training_memory_limit_kb * 1024;
	limits.limit_name = "ntg.training_memory_limit";
	ntg_pg_params_from_jsonb(hyper, &params);
	ntg_pg_collect_seqs_limited(query, "train_query", limits.max_bytes, limits.limit_name, &rows);
	if (rows.n_rows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("train_query returned no rows"),
				 errdetail("A model needs at least one (label, pl) row to learn from.")));
	NTG_PG_CHECK(ntg_training_prepare(&t, ntg_model_kind_find("random_forest"), &params, &rows,
									  &limits, &err), &err);
	NTG_PG_CHECK(ntg_training_run(&t, &quiet, &err), &err);
	model = t.model;
	t.model = NULL;
	ntg_training_free(&t);
	return model;
}

PG_FUNCTION_INFO_V1(ntg_rf_fit_evaluate);
Datum
ntg_rf_fit_evaluate(PG_FUNCTION_ARGS)
{
	Confusion	c;
	NtgModel   *f;

	ntg_pg_require_arg(fcinfo, 0, "train_query");
	ntg_pg_require_arg(fcinfo, 2, "hyperparams");
	f = fit_forest(text_to_cstring(PG_GETARG_TEXT_PP(0)), PG_GETARG_JSONB_P(2));
	test_confusion(f, fcinfo, 1, &c);
	report_rows(fcinfo, &c);
	ntg_model_destroy(f);
	return (Datum) 0;
}
