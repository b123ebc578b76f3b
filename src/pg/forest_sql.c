/*
 * forest_sql.c — prediction with a stored classifier: ntg.rf_predict(model, pl),
 * ntg.rf_predict_proba(model, pl), and the same on the stored value itself (*_model(bytea, pl)).
 * Training is ntg.rf_train (models_train_sql.c), evaluation forest_eval_sql.c.
 *
 * rf_predict(model, pl) is STABLE: it reads ntg.models, so within one statement it sees one
 * version of the model, and it is parallel safe (a read-only lookup).  The model is acquired from
 * the per-backend cache once per statement (pinned in fn_extra) and loaded once per backend and
 * row version (model_cache.c).  rf_predict_model(model bytea, pl) takes the stored value itself
 * and is IMMUTABLE; it is parsed once per statement and distinct value.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "models_sql.h"
#include "ntg_glue.h"

#define MAX_FEATURES 1024

/* What the prediction functions keep in fn_extra for the rest of the statement. */
typedef struct PredictState
{
	char	   *name;			/* by name: the model acquired */
	NtgModelRef ref;
	Datum		model_datum;	/* by value: the argument last seen */
	int64		model_len;
	uint32		model_crc;
	MemoryContext model_cxt;
	NtgModel   *model;
	double	   *proba;			/* scratch of n_proba doubles */
	int			n_proba;
} PredictState;

static PredictState *
predict_state(FunctionCallInfo fcinfo)
{
	if (fcinfo->flinfo->fn_extra == NULL)
		fcinfo->flinfo->fn_extra = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
														  sizeof(PredictState));
	return (PredictState *) fcinfo->flinfo->fn_extra;
}

static void
require_args(FunctionCallInfo fcinfo)
{
	ntg_pg_require_arg(fcinfo, 0, "model");
	ntg_pg_require_arg(fcinfo, 1, "pl");
}

/* The classifier named by argument 0, acquired once per statement and name. */
static const NtgModel *
model_by_name(FunctionCallInfo fcinfo)
{
	PredictState *st = predict_state(fcinfo);
	text	   *t = PG_GETARG_TEXT_PP(0);
	int			len = VARSIZE_ANY_EXHDR(t);

	if (st->name == NULL || (int) strlen(st->name) != len || memcmp(st->name, VARDATA_ANY(t), len) != 0)
	{
		char	   *name = text_to_cstring(t);

		ntg_pg_model_acquire(name, NTG_CAP_CLASSIFY, fcinfo->flinfo->fn_mcxt,
							 fcinfo->flinfo->fn_mcxt, &st->ref);
		st->name = MemoryContextStrdup(fcinfo->flinfo->fn_mcxt, name);
	}
	return st->ref.model;
}

static uint32
tail_crc(const uint8 *p, int64 len)
{
	return len >= 4 ? (uint32) p[len - 4] | (uint32) p[len - 3] << 8 | (uint32) p[len - 2] << 16 |
		(uint32) p[len - 1] << 24 : 0;
}

/* The classifier in a bytea argument 0, parsed once per statement and distinct value. */
static const NtgModel *
model_by_value(FunctionCallInfo fcinfo)
{
	PredictState *st = predict_state(fcinfo);
	Datum		d = PG_GETARG_DATUM(0);
	bytea	   *b;
	int64		len;
	uint32		crc;

	if (st->model_cxt != NULL && d == st->model_datum)
		return st->model;
	b = DatumGetByteaPP(d);
	len = VARSIZE_ANY_EXHDR(b);
	crc = tail_crc((const uint8 *) VARDATA_ANY(b), len);
	if (st->model_cxt == NULL || len != st->model_len || crc != st->model_crc)
	{
		MemoryContext cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "ntg model value",
												  ALLOCSET_DEFAULT_SIZES),
					old = MemoryContextSwitchTo(cxt);
		NtgModel   *model;

		model = ntg_pg_model_from_bytea(b);	/* on error cxt goes with the statement */
		MemoryContextSwitchTo(old);
		if (!(model->kind->caps & NTG_CAP_CLASSIFY))
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("model value is a %s model, which cannot classify rows",
							model->kind->name),
					 errhint("Kinds that can: %s.", ntg_model_kind_names(NTG_CAP_CLASSIFY))));
		if (st->model_cxt != NULL)
			MemoryContextDelete(st->model_cxt);
		st->model_cxt = cxt;
		st->model = model;
		st->model_len = len;
		st->model_crc = crc;
	}
	st->model_datum = d;
	return st->model;
}

/* The first `max` values of a smallint[]/integer[] into buf; returns how many. */
static int
pl_prefix(ArrayType *arr, int32 *buf, int max)
{
	int			n;
	Oid			elemtype = ARR_ELEMTYPE(arr);

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("pl must be a one-dimensional array")));
	if (ARR_HASNULL(arr) && array_contains_nulls(arr))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pl must not contain null values")));
	n = ARR_NDIM(arr) == 0 ? 0 : ARR_DIMS(arr)[0];
	if (n > max)
		n = max;
	if (elemtype == INT2OID)
	{
		const int16 *v = (const int16 *) ARR_DATA_PTR(arr);

		for (int i = 0; i < n; i++)
			buf[i] = v[i];
	}
	else if (elemtype == INT4OID)
		memcpy(buf, ARR_DATA_PTR(arr), sizeof(int32) * n);
	else
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("pl must be of type smallint[] or integer[]")));
	return n;
}

/* Class probabilities of argument 1 under m, into the statement's scratch. */
static double *
probabilities(const NtgModel *m, FunctionCallInfo fcinfo, int *best)
{
	PredictState *st = predict_state(fcinfo);
	int32		buf[MAX_FEATURES];
	int			n = pl_prefix(PG_GETARG_ARRAYTYPE_P(1), buf, Min(m->max_len, MAX_FEATURES));

	if (st->n_proba < m->n_classes)
	{
		st->proba = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(double) * m->n_classes);
		st->n_proba = m->n_classes;
	}
	*best = ntg_model_classify(m, buf, n, st->proba);
	return st->proba;
}

static Datum
class_text(const NtgModel *m, FunctionCallInfo fcinfo)
{
	int			best;

	(void) probabilities(m, fcinfo, &best);
	return PointerGetDatum(cstring_to_text(m->classes[best]));
}

/* {"class": probability, ...} for every class of the model, in class order. */
static Datum
proba_jsonb(const NtgModel *m, FunctionCallInfo fcinfo)
{
	int			best;
	double	   *p = probabilities(m, fcinfo, &best);
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	for (int k = 0; k < m->n_classes; k++)
	{
		if (k > 0)
			appendStringInfoString(&s, ", ");
		escape_json(&s, m->classes[k]);
		appendStringInfo(&s, ": %.6g", p[k]);
	}
	appendStringInfoChar(&s, '}');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data));
}

PG_FUNCTION_INFO_V1(ntg_rf_predict);
Datum
ntg_rf_predict(PG_FUNCTION_ARGS)
{
	require_args(fcinfo);
	PG_RETURN_DATUM(class_text(model_by_name(fcinfo), fcinfo));
}

PG_FUNCTION_INFO_V1(ntg_rf_predict_model);
Datum
ntg_rf_predict_model(PG_FUNCTION_ARGS)
{
	require_args(fcinfo);
	PG_RETURN_DATUM(class_text(model_by_value(fcinfo), fcinfo));
}

PG_FUNCTION_INFO_V1(ntg_rf_predict_proba);
Datum
ntg_rf_predict_proba(PG_FUNCTION_ARGS)
{
	require_args(fcinfo);
	PG_RETURN_DATUM(proba_jsonb(model_by_name(fcinfo), fcinfo));
}

PG_FUNCTION_INFO_V1(ntg_rf_predict_proba_model);
Datum
ntg_rf_predict_proba_model(PG_FUNCTION_ARGS)
{
	require_args(fcinfo);
	PG_RETURN_DATUM(proba_jsonb(model_by_value(fcinfo), fcinfo));
}
