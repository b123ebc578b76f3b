/*
 * metrics_sql.c — SQL functions of the fidelity metrics and the radar chart:
 *   ntg.fidelity(real_query, synthetic_query, size_matched, seed)
 *                                                        -> (metric, value), macro-averaged
 *   ntg.fidelity_by_class(real_query, synthetic_query, size_matched, seed)
 *                                                        -> (label, metric, value, real_rows, synthetic_rows)
 *   ntg.fidelity_gap(train_query, test_query, synthetic_query, seed)
 *                                                        -> (metric, real_value, synthetic_value, difference)
 *   ntg.fidelity_radar(real_query, synthetic_queries[], names[], title, scale) -> SVG text
 *   ntg.fidelity_radar_svg(names[], metric_values[][], title, scale)           -> SVG text
 * The queries run through ntg_pg_collect_seqs (checks of columns and values there); the work is
 * in the core (src/core/metrics).
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "common/seqset.h"
#include "metrics/fidelity.h"
#include "metrics/radar.h"
#include "metrics/size_match.h"
#include "ntg_glue.h"

#define LIST_CLASSES 10			/* class names listed in a warning's detail */

static char *
text_arg(FunctionCallInfo fcinfo, int i)
{
	return PG_ARGISNULL(i) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(i));
}

/* "a, b, c and N more": the real classes without synthetic rows, or (extra) the reverse. */
static char *
class_list(const NtgFidelity *f, bool extra)
{
	StringInfoData s;
	int			listed = 0,
				more = 0;

	initStringInfo(&s);
	for (int c = 0; c < f->n_classes; c++)
	{
		const NtgClassFidelity *k = &f->classes[c];

		if (extra ? k->real_rows != 0 : (k->real_rows == 0 || k->synthetic_rows != 0))
			continue;
		if (listed++ < LIST_CLASSES)
			appendStringInfo(&s, "%s%s", listed > 1 ? ", " : "", k->label);
		else
			more++;
	}
	if (more > 0)
		appendStringInfo(&s, " and %d more", more);
	return s.data;
}

/* A class on one side only is never dropped silently. */
static void
report_unmatched(const NtgFidelity *f)
{
	if (f->n_missing > 0)
		ereport(WARNING,
				(errmsg_plural("%d of %d real classes has no synthetic rows",
							   "%d of %d real classes have no synthetic rows",
							   f->n_missing, f->n_missing, f->n_real_classes),
				 errdetail("Without synthetic rows: %s.  Such a class scores 1 on the four JSDs "
						   "and uniq_align and 0 on leakage, and counts in the macro average.",
						   class_list(f, false))));
	if (f->n_extra > 0)
		ereport(NOTICE,
				(errmsg_plural("%d synthetic class does not occur in the real set",
							   "%d synthetic classes do not occur in the real set",
							   f->n_extra, f->n_extra),
				 errdetail("Not in the real set: %s.  Classes without real rows are left out of the macro average.",
						   class_list(f, true))));
}

/* The real set, which must not be empty; allocated in CurrentMemoryContext. */
static NtgSeqSet *
collect_real(const char *real_query)
{
	NtgSeqSet  *real = palloc0(sizeof(NtgSeqSet));

	ntg_pg_collect_seqs(real_query, "real_query", real);
	if (real->n_rows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("real_query returned no rows"),
				 errdetail("Fidelity is measured against the classes of the real set.")));
	return real;
}

/*
 * Run the synthetic query and compare.  Everything is allocated in CurrentMemoryContext (the
 * synthetic set, whose class names the result's labels may point into, too).
 */
static void
compare(const NtgSeqSet *real, const char *synthetic_query, NtgFidelity *f)
{
	NtgSeqSet  *synth = palloc0(sizeof(NtgSeqSet));
	NtgError	err;

	ntg_pg_collect_seqs(synthetic_query, "synthetic_query", synth);
	NTG_PG_CHECK(ntg_fidelity_compute(real, synth, f, &err), &err);
	report_unmatched(f);
}

static void
compute_fidelity(const char *real_query, const char *synthetic_query, NtgFidelity *f)
{
	compare(collect_real(real_query), synthetic_query, f);
}

/*
 * The 0.2.0 entry points: arguments 2 and 3 are size_matched and seed.  With size_matched, every
 * class of both sets is cut to the smaller side's row count first (size_match.h).  A database
 * still at 0.1.0 calls ntg_fidelity / ntg_fidelity_by_class, which never read them.
 */
static void
compute_fidelity_v2(FunctionCallInfo fcinfo, NtgFidelity *f)
{
	NtgSeqSet  *real,
			   *synth,
			   *real_cut,
			   *synth_cut;
	NtgError	err;
	bool		size_matched;
	uint64		seed;

	ntg_pg_require_arg(fcinfo, 0, "real_query");
	ntg_pg_require_arg(fcinfo, 1, "synthetic_query");
	ntg_pg_require_arg(fcinfo, 2, "size_matched");
	ntg_pg_require_arg(fcinfo, 3, "seed");
	size_matched = PG_GETARG_BOOL(2);
	seed = (uint64) PG_GETARG_INT64(3);
	if (!size_matched)
	{
		compute_fidelity(text_arg(fcinfo, 0), text_arg(fcinfo, 1), f);
		return;
	}
	real = collect_real(text_arg(fcinfo, 0));
	synth = palloc0(sizeof(NtgSeqSet));
	ntg_pg_collect_seqs(text_arg(fcinfo, 1), "synthetic_query", synth);
	real_cut = palloc0(sizeof(NtgSeqSet));
	synth_cut = palloc0(sizeof(NtgSeqSet));
	NTG_PG_CHECK(ntg_seqset_match_sizes(real, synth, seed, real_cut, synth_cut, &err), &err);
	NTG_PG_CHECK(ntg_fidelity_compute(real_cut, synth_cut, f, &err), &err);
	report_unmatched(f);
}

static Datum
value_datum(double v, bool *isnull)
{
	*isnull = isnan(v);
	return Float8GetDatum(*isnull ? 0.0 : v);
}

PG_FUNCTION_INFO_V1(ntg_fidelity);
Datum
ntg_fidelity(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext work = AllocSetContextCreate(CurrentMemoryContext, "ntg fidelity",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	NtgFidelity f;

	InitMaterializedSRF(fcinfo, 0);
	old = MemoryContextSwitchTo(work);
	compute_fidelity(text_arg(fcinfo, 0), text_arg(fcinfo, 1), &f);
	MemoryContextSwitchTo(old);
	for (int m = 0; m < NTG_N_METRICS; m++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum(ntg_metric_name(m));
		values[1] = value_datum(f.macro[m], &nulls[1]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	MemoryContextDelete(work);
	return (Datum) 0;
}

/* The six macro averages of f as (metric, value) rows. */
static void
return_macro(FunctionCallInfo fcinfo, const NtgFidelity *f)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	for (int m = 0; m < NTG_N_METRICS; m++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum(ntg_metric_name(m));
		values[1] = value_datum(f->macro[m], &nulls[1]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

PG_FUNCTION_INFO_V1(ntg_fidelity_v2);
Datum
ntg_fidelity_v2(PG_FUNCTION_ARGS)
{
	MemoryContext work = AllocSetContextCreate(CurrentMemoryContext, "ntg fidelity",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	NtgFidelity f;

	InitMaterializedSRF(fcinfo, 0);
	old = MemoryContextSwitchTo(work);
	compute_fidelity_v2(fcinfo, &f);
	MemoryContextSwitchTo(old);
	return_macro(fcinfo, &f);
	MemoryContextDelete(work);
	return (Datum) 0;
}

/* f's per-class values as (label, metric, value, real_rows, synthetic_rows) rows. */
static void
return_by_class(FunctionCallInfo fcinfo, const NtgFidelity *f)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	for (int c = 0; c < f->n_classes; c++)
	{
		const NtgClassFidelity *k = &f->classes[c];

		for (int m = 0; m < NTG_N_METRICS; m++)
		{
			Datum		values[5];
			bool		nulls[5] = {false, false, false, false, false};

			values[0] = CStringGetTextDatum(k->label);
			values[1] = CStringGetTextDatum(ntg_metric_name(m));
			values[2] = value_datum(k->value[m], &nulls[2]);
			values[3] = Int32GetDatum(k->real_rows);
			values[4] = Int32GetDatum(k->synthetic_rows);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
}

PG_FUNCTION_INFO_V1(ntg_fidelity_by_class_v2);
Datum
ntg_fidelity_by_class_v2(PG_FUNCTION_ARGS)
{
	MemoryContext work = AllocSetContextCreate(CurrentMemoryContext, "ntg fidelity",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	NtgFidelity f;

	InitMaterializedSRF(fcinfo, 0);
	old = MemoryContextSwitchTo(work);
	compute_fidelity_v2(fcinfo, &f);
	MemoryContextSwitchTo(old);
	return_by_class(fcinfo, &f);
	MemoryContextDelete(work);
	return (Datum) 0;
}

/*
 * ntg.fidelity_gap: the synthetic rows against fresh real rows (size_match.h), one row per metric:
 * (metric, real_value, synthetic_value, difference = synthetic_value - real_value).
 */
PG_FUNCTION_INFO_V1(ntg_fidelity_gap);
Datum
ntg_fidelity_gap(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext work = AllocSetContextCreate(CurrentMemoryContext, "ntg fidelity",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	NtgSeqSet  *train,
			   *test,
			   *synth;
	NtgFidelityGap g;
	NtgError	err;

	ntg_pg_require_arg(fcinfo, 0, "train_query");
	ntg_pg_require_arg(fcinfo, 1, "test_query");
	ntg_pg_require_arg(fcinfo, 2, "synthetic_query");
	ntg_pg_require_arg(fcinfo, 3, "seed");
	InitMaterializedSRF(fcinfo, 0);
	old = MemoryContextSwitchTo(work);
	train = palloc0(sizeof(NtgSeqSet));
	test = palloc0(sizeof(NtgSeqSet));
	synth = palloc0(sizeof(NtgSeqSet));
	ntg_pg_collect_seqs(text_arg(fcinfo, 0), "train_query", train);
	if (train->n_rows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("train_query returned no rows"),
				 errdetail("The comparison is made over the classes of the training rows.")));
	ntg_pg_collect_seqs(text_arg(fcinfo, 1), "test_query", test);
	ntg_pg_collect_seqs(text_arg(fcinfo, 2), "synthetic_query", synth);
	NTG_PG_CHECK(ntg_fidelity_gap_compute(train, test, synth, (uint64) PG_GETARG_INT64(3), &g, &err), &err);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
	if (g.n_missing > 0)
		ereport(WARNING,
				(errmsg_plural("%d of %d training classes has no synthetic rows",
							   "%d of %d training classes have no synthetic rows",
							   g.n_missing, g.n_missing, g.n_classes),
				 errdetail("Such a class scores 1 on the four JSDs and uniq_align and 0 on leakage on the synthetic side.")));
	if (g.n_untested > 0)
		ereport(WARNING,
				(errmsg_plural("%d of %d training classes has no test rows",
							   "%d of %d training classes have no test rows",
							   g.n_untested, g.n_untested, g.n_classes),
				 errdetail("Such a class scores 1 on the four JSDs and uniq_align on both sides.")));
	for (int m = 0; m < NTG_N_METRICS; m++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = CStringGetTextDatum(ntg_metric_name(m));
		values[1] = Float8GetDatum(g.real[m]);
		values[2] = Float8GetDatum(g.synthetic[m]);
		values[3] = Float8GetDatum(g.synthetic[m] - g.real[m]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(ntg_fidelity_by_class);
Datum
ntg_fidelity_by_class(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext work = AllocSetContextCreate(CurrentMemoryContext, "ntg fidelity",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	NtgFidelity f;

	InitMaterializedSRF(fcinfo, 0);
	old = MemoryContextSwitchTo(work);
	compute_fidelity(text_arg(fcinfo, 0), text_arg(fcinfo, 1), &f);
	MemoryContextSwitchTo(old);
	for (int c = 0; c < f.n_classes; c++)
	{
		const NtgClassFidelity *k = &f.classes[c];

		for (int m = 0; m < NTG_N_METRICS; m++)
		{
			Datum		values[5];
			bool		nulls[5] = {false, false, false, false, false};

			values[0] = CStringGetTextDatum(k->label);
			values[1] = CStringGetTextDatum(ntg_metric_name(m));
			values[2] = value_datum(k->value[m], &nulls[2]);
			values[3] = Int32GetDatum(k->real_rows);
			values[4] = Int32GetDatum(k->synthetic_rows);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	MemoryContextDelete(work);
	return (Datum) 0;
}

/* Elements of a one-dimensional text[] argument (NULL elements as NULL); returns the count. */
static int
text_array(ArrayType *arr, const char *argname, char ***out)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", argname)));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	*out = palloc0(sizeof(char *) * (n > 0 ? n : 1));
	for (int i = 0; i < n; i++)
		(*out)[i] = nulls[i] ? NULL : TextDatumGetCString(elems[i]);
	return n;
}

/* Legend names: the given ones (same count, no NULLs) or "synthetic 1", "synthetic 2", ... */
static char **
legend_names(FunctionCallInfo fcinfo, int argno, int n_sets)
{
	char	  **names;
	int			n;

	if (PG_ARGISNULL(argno))
	{
		names = palloc(sizeof(char *) * n_sets);
		for (int k = 0; k < n_sets; k++)
			names[k] = psprintf("synthetic %d", k + 1);
		return names;
	}
	n = text_array(PG_GETARG_ARRAYTYPE_P(argno), "names", &names);
	if (n != n_sets)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("names must have one element per synthetic set"),
				 errdetail("Synthetic queries: %d; names: %d.", n_sets, n)));
	for (int k = 0; k < n; k++)
		if (names[k] == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("names must not contain null values")));
	return names;
}

/* NULL: automatic; otherwise the value at the centre of the chart. */
static double
scale_arg(FunctionCallInfo fcinfo, int argno)
{
	double		scale;

	if (PG_ARGISNULL(argno))
		return 0.0;
	scale = PG_GETARG_FLOAT8(argno);
	if (!(scale > 0.0 && scale <= 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("scale must be greater than 0 and at most 1"),
				 errhint("Leave scale null to choose it from the values.")));
	return scale;
}

static text *
render(int n_sets, char **names, const double *values, const char *title, double scale)
{
	char	   *svg;
	NtgError	err;

	NTG_PG_CHECK(ntg_radar_svg(n_sets, (const char *const *) names, values, title, scale, &svg,
							   &err), &err);
	return cstring_to_text(svg);
}

PG_FUNCTION_INFO_V1(ntg_fidelity_radar);
Datum
ntg_fidelity_radar(PG_FUNCTION_ARGS)
{
	char	   *real_query = text_arg(fcinfo, 0);
	char	  **queries;
	char	  **names;
	double	   *values;
	NtgSeqSet  *real;
	int			n_sets;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("synthetic_queries must not be null")));
	n_sets = text_array(PG_GETARG_ARRAYTYPE_P(1), "synthetic_queries", &queries);
	if (n_sets < 1 || n_sets > NTG_RADAR_MAX_SETS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("synthetic_queries must have 1 to %d elements, not %d",
						NTG_RADAR_MAX_SETS, n_sets)));
	names = legend_names(fcinfo, 2, n_sets);
	(void) scale_arg(fcinfo, 4);	/* check it before the queries run */
	values = palloc(sizeof(double) * NTG_N_METRICS * n_sets);
	for (int k = 0; k < n_sets; k++)
		if (queries[k] == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("synthetic_queries must not contain null values")));
	real = collect_real(real_query);
	for (int k = 0; k < n_sets; k++)
	{
		/* one synthetic set in memory at a time */
		MemoryContext work = AllocSetContextCreate(CurrentMemoryContext, "ntg fidelity",
												   ALLOCSET_DEFAULT_SIZES);
		MemoryContext old = MemoryContextSwitchTo(work);
		NtgFidelity f;

		compare(real, queries[k], &f);
		memcpy(values + k * NTG_N_METRICS, f.macro, sizeof(f.macro));
		MemoryContextSwitchTo(old);
		MemoryContextDelete(work);
	}
	PG_RETURN_TEXT_P(render(n_sets, names, values, text_arg(fcinfo, 3), scale_arg(fcinfo, 4)));
}

/* metric_values: n rows of six (2-D n x 6, or 1-D with 6·n elements), no NULLs. */
static double *
metric_values(ArrayType *arr, int n_sets)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	double	   *v;

	if (ARR_NDIM(arr) > 2 || (ARR_NDIM(arr) == 2 && ARR_DIMS(arr)[1] != NTG_N_METRICS))
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("metric_values must have one row of %d values per set", NTG_N_METRICS)));
	deconstruct_array(arr, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
	if (n != NTG_N_METRICS * n_sets)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("metric_values must have one row of %d values per set", NTG_N_METRICS),
				 errdetail("Names: %d; metric values: %d; expected: %d.", n_sets, n,
						   NTG_N_METRICS * n_sets)));
	v = palloc(sizeof(double) * (n > 0 ? n : 1));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("metric_values must not contain null values")));
		v[i] = DatumGetFloat8(elems[i]);
	}
	return v;
}

PG_FUNCTION_INFO_V1(ntg_fidelity_radar_svg);
Datum
ntg_fidelity_radar_svg(PG_FUNCTION_ARGS)
{
	char	  **names;
	int			n_sets;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("names and metric_values must not be null")));
	n_sets = text_array(PG_GETARG_ARRAYTYPE_P(0), "names", &names);
	for (int k = 0; k < n_sets; k++)
		if (names[k] == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("names must not contain null values")));
	PG_RETURN_TEXT_P(render(n_sets, names, metric_values(PG_GETARG_ARRAYTYPE_P(1), n_sets),
							text_arg(fcinfo, 2), scale_arg(fcinfo, 3)));
}
