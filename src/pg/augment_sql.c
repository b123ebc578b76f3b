/*
 * augment_sql.c — ntg.smote and ntg.fast_retransmit: synthetic (label, pl integer[]) rows from the
 * rows of a source query (rules in src/core/augment/augment.h).
 *
 * pl is integer[] rather than smallint[]: real captures carry payloads above 32767 (segmentation
 * offload), and both baselines copy or interpolate source values.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "augment/augment.h"
#include "common/seqset.h"
#include "ntg_glue.h"

typedef enum AugmentKind
{
	AUGMENT_SMOTE,
	AUGMENT_FAST_RETRANSMIT
} AugmentKind;

/* Rows to make per class: rows_per_class each, or (top_up) what is missing to reach it. */
static int *
per_class_counts(const NtgSeqSet *set, int rows_per_class, bool top_up)
{
	int		   *counts = palloc0(sizeof(int) * (set->n_classes > 0 ? set->n_classes : 1));

	ntg_seqset_class_counts(set, counts);
	for (int c = 0; c < set->n_classes; c++)
	{
		if (top_up && counts[c] >= rows_per_class)
			ereport(NOTICE,
					(errmsg("class \"%s\" already has %d rows: no synthetic rows added",
							set->classes[c], counts[c])));
		counts[c] = top_up ? Max(0, rows_per_class - counts[c]) : rows_per_class;
	}
	return counts;
}

/* Each row goes straight into the result's tuplestore (which spills to disk when large). */
typedef struct EmitState
{
	ReturnSetInfo *rsinfo;
	const NtgSeqSet *set;
	Datum	   *elems;			/* max_len datums */
	MemoryContext rowcxt;		/* reset per row */
} EmitState;

static int
emit_row(int c, const int32_t *row, int len, void *arg, NtgError *err)
{
	EmitState  *st = (EmitState *) arg;
	MemoryContext old = MemoryContextSwitchTo(st->rowcxt);
	Datum		v[2];
	bool		nulls[2] = {false, false};

	for (int j = 0; j < len; j++)
		st->elems[j] = Int32GetDatum(row[j]);
	v[0] = CStringGetTextDatum(st->set->classes[c]);
	v[1] = PointerGetDatum(construct_array(st->elems, len, INT4OID, sizeof(int32), true, TYPALIGN_INT));
	tuplestore_putvalues(st->rsinfo->setResult, st->rsinfo->setDesc, v, nulls);
	MemoryContextSwitchTo(old);
	MemoryContextReset(st->rowcxt);
	return NTG_OK;
}

static Datum
augment(FunctionCallInfo fcinfo, AugmentKind kind)
{
	static const char *const names[2][5] = {
		{"train_query", "rows_per_class", "seed", "k", "top_up"},
		{"train_query", "rows_per_class", "seed", "p", "top_up"}};
	char	   *source;
	int32		rows_per_class;
	uint64		seed;
	bool		top_up;
	NtgSeqSet	set;
	NtgError	err;
	int		   *counts;
	EmitState	st;

	for (int i = 0; i < 5; i++)
		ntg_pg_require_arg(fcinfo, i, names[kind == AUGMENT_SMOTE ? 0 : 1][i]);
	source = text_to_cstring(PG_GETARG_TEXT_PP(0));
	rows_per_class = PG_GETARG_INT32(1);
	seed = (uint64) PG_GETARG_INT64(2);
	top_up = PG_GETARG_BOOL(4);

	if (rows_per_class < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rows_per_class must not be negative")));
	if (kind == AUGMENT_SMOTE && (PG_GETARG_INT32(3) < 1 || PG_GETARG_INT32(3) > 64))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be between 1 and 64")));
	if (kind == AUGMENT_FAST_RETRANSMIT &&
		!(PG_GETARG_FLOAT8(3) >= 0.0 && PG_GETARG_FLOAT8(3) <= 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("p must be between 0 and 1")));
	ntg_pg_collect_seqs(source, "train_query", &set);
	counts = per_class_counts(&set, rows_per_class, top_up);
	InitMaterializedSRF(fcinfo, 0);
	st.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	st.set = &set;
	st.elems = palloc(sizeof(Datum) * Max(set.max_len, 1));
	st.rowcxt = AllocSetContextCreate(CurrentMemoryContext, "ntg augment row", ALLOCSET_SMALL_SIZES);
	if (kind == AUGMENT_SMOTE)
		NTG_PG_CHECK(ntg_smote_emit(&set, counts, PG_GETARG_INT32(3), seed, emit_row, &st, &err), &err);
	else
		NTG_PG_CHECK(ntg_fast_retransmit_emit(&set, counts, PG_GETARG_FLOAT8(3), seed, emit_row, &st,
											  &err), &err);
	MemoryContextDelete(st.rowcxt);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(ntg_smote_sql);
Datum
ntg_smote_sql(PG_FUNCTION_ARGS)
{
	return augment(fcinfo, AUGMENT_SMOTE);
}

PG_FUNCTION_INFO_V1(ntg_fast_retransmit_sql);
Datum
ntg_fast_retransmit_sql(PG_FUNCTION_ARGS)
{
	return augment(fcinfo, AUGMENT_FAST_RETRANSMIT);
}
