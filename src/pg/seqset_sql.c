/*
 * seqset_sql.c — read (label, pl) rows from a user query into a core sequence set.
 * Every SQL function that trains, compares or classifies takes its rows through here, so the
 * checks on the query's shape and values live in one place.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"

#include "common/seqset.h"
#include "ntg_glue.h"

#define FETCH_BATCH 1000

static bool
is_text_type(Oid typid)
{
	return typid == TEXTOID || typid == VARCHAROID || typid == BPCHAROID || typid == NAMEOID;
}

static void
check_columns(TupleDesc tupdesc, const char *argname)
{
	Oid			label_type,
				pl_type;

	if (tupdesc->natts != 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s must return two columns (label, pl)", argname),
				 errdetail_plural("It returns %d column.", "It returns %d columns.",
								  tupdesc->natts, tupdesc->natts)));
	label_type = SPI_gettypeid(tupdesc, 1);
	pl_type = SPI_gettypeid(tupdesc, 2);
	if (!is_text_type(label_type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("label column of %s must be of type text, not %s", argname,
						format_type_be(label_type)),
				 errhint("Cast the label to text in the query.")));
	if (pl_type != INT2ARRAYOID && pl_type != INT4ARRAYOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("pl column of %s must be of type smallint[] or integer[], not %s", argname,
						format_type_be(pl_type))));
}

/* Copy one array datum into values (palloc'd in the current context); returns its length. */
static int
array_to_int32(Datum d, Oid elemtype, const char *argname, int32 **values)
{
	ArrayType  *arr = DatumGetArrayTypeP(d);
	int			n;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("pl arrays of %s must have one dimension", argname)));
	if (array_contains_nulls(arr))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pl arrays of %s must not contain null values", argname)));
	n = ARR_NDIM(arr) == 0 ? 0 : ARR_DIMS(arr)[0];
	*values = palloc(sizeof(int32) * (n > 0 ? n : 1));
	if (elemtype == INT2OID)
	{
		int16	   *src = (int16 *) ARR_DATA_PTR(arr);

		for (int i = 0; i < n; i++)
			(*values)[i] = src[i];
	}
	else
		memcpy(*values, ARR_DATA_PTR(arr), sizeof(int32) * n);
	return n;
}

/* What collecting has taken so far, against the caller's limit. */
typedef struct CollectBudget
{
	int64		max_bytes;		/* <= 0: no limit */
	const char *limit_name;
	int64		bytes;
} CollectBudget;

static void
collect_charge(CollectBudget *b, const char *argname, int n, size_t label_len)
{
	b->bytes += (int64) n * 4 + (int64) label_len + 32;
	if (b->max_bytes > 0 && b->bytes > b->max_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the rows of %s take more than %lld MB", argname,
						(long long) (b->max_bytes >> 20)),
				 errdetail("The limit is %s.", b->limit_name)));
}

static void
add_batch(SPITupleTable *tuptable, uint64 nrows, const char *argname, Oid elemtype,
		  NtgSeqSetBuilder *builder, MemoryContext rowcxt, CollectBudget *budget)
{
	for (uint64 i = 0; i < nrows; i++)
	{
		HeapTuple	tup = tuptable->vals[i];
		bool		label_null,
					pl_null;
		Datum		label = SPI_getbinval(tup, tuptable->tupdesc, 1, &label_null);
		Datum		pl = SPI_getbinval(tup, tuptable->tupdesc, 2, &pl_null);
		MemoryContext old;
		int32	   *values;
		int			n;
		NtgError	err;
		char	   *label_str;

		if (label_null || pl_null)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s returned a null %s", argname, label_null ? "label" : "pl array")));
		old = MemoryContextSwitchTo(rowcxt);
		/* name is a fixed-length C string, not a varlena: never detoast it */
		if (SPI_gettypeid(tuptable->tupdesc, 1) == NAMEOID)
			label_str = pstrdup(NameStr(*DatumGetName(label)));
		else
			label_str = TextDatumGetCString(label);
		/* character(n) pads with spaces that are not part of the value (as its cast to text) */
		if (SPI_gettypeid(tuptable->tupdesc, 1) == BPCHAROID)
		{
			int			len = strlen(label_str);

			while (len > 0 && label_str[len - 1] == ' ')
				label_str[--len] = '\0';
		}
		n = array_to_int32(pl, elemtype, argname, &values);
		MemoryContextSwitchTo(old);
		collect_charge(budget, argname, n, strlen(label_str));
		/* The builder lives in the caller's context (current here). */
		NTG_PG_CHECK(ntg_seqset_builder_add(builder, label_str, values, n, &err), &err);
		MemoryContextReset(rowcxt);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * The query must be one plain SELECT: no data-modifying statement or CTE (the rows would be
 * read-only anyway, and a DELETE would fail with a confusing message), no row locks.
 */
static void
check_select(SPIPlanPtr plan, const char *argname)
{
	List	   *sources = SPI_plan_get_plan_sources(plan);
	bool		ok = list_length(sources) == 1;

	if (ok)
	{
		CachedPlanSource *ps = (CachedPlanSource *) linitial(sources);
		ListCell   *lc;

		ok = ps->commandTag == CMDTAG_SELECT && list_length(ps->query_list) == 1;
		foreach(lc, ps->query_list)
		{
			Query	   *q = lfirst_node(Query, lc);

			ok = ok && q->commandType == CMD_SELECT && q->utilityStmt == NULL &&
				!q->hasModifyingCTE && q->rowMarks == NIL;
		}
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a single SELECT that returns rows", argname),
				 errdetail("Data-modifying statements, row locks and several statements are not accepted.")));
}

void
ntg_pg_collect_seqs(const char *query, const char *argname, NtgSeqSet *out)
{
	ntg_pg_collect_seqs_limited(query, argname, 0, NULL, out);
}

void
ntg_pg_collect_seqs_limited(const char *query, const char *argname, int64 max_bytes,
							const char *limit_name, NtgSeqSet *out)
{
	MemoryContext callercxt = CurrentMemoryContext;
	MemoryContext rowcxt;
	NtgSeqSetBuilder *builder;
	SPIPlanPtr	plan;
	Portal		portal;
	Oid			elemtype = InvalidOid;
	NtgError	err;
	CollectBudget budget = {max_bytes, limit_name, 0};

	if (query == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", argname)));
	builder = ntg_seqset_builder_new();
	if (builder == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	rowcxt = AllocSetContextCreate(callercxt, "ntg seqset row", ALLOCSET_SMALL_SIZES);

	SPI_connect();
	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("could not prepare %s: %s", argname,
						SPI_result_code_string(SPI_result))));
	check_select(plan, argname);
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, FETCH_BATCH);
		if (elemtype == InvalidOid)
		{
			check_columns(SPI_tuptable->tupdesc, argname);
			elemtype = SPI_gettypeid(SPI_tuptable->tupdesc, 2) == INT2ARRAYOID ? INT2OID : INT4OID;
		}
		if (SPI_processed == 0)
			break;
		{
			MemoryContext old = MemoryContextSwitchTo(callercxt);

			add_batch(SPI_tuptable, SPI_processed, argname, elemtype, builder, rowcxt, &budget);
			MemoryContextSwitchTo(old);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();

	NTG_PG_CHECK(ntg_seqset_builder_finish(builder, out, &err), &err);
	MemoryContextDelete(rowcxt);
}

/*
 * Before a caller's query is spliced into a larger statement: it must be one plain SELECT
 * (check_select) of `columns` columns, and with columns == 2 a (label, pl) query (check_columns).
 * Errors as ntg_pg_collect_seqs() gives them.
 */
void
ntg_pg_check_query(const char *query, const char *argname, int columns)
{
	SPIPlanPtr	plan;
	CachedPlanSource *ps;

	SPI_connect();
	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("could not prepare %s: %s", argname,
						SPI_result_code_string(SPI_result))));
	check_select(plan, argname);
	ps = (CachedPlanSource *) linitial(SPI_plan_get_plan_sources(plan));
	if (columns == 2)
		check_columns(ps->resultDesc, argname);
	else if (ps->resultDesc->natts != columns)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s must return %d columns", argname, columns),
				 errdetail_plural("It returns %d column.", "It returns %d columns.",
								  ps->resultDesc->natts, ps->resultDesc->natts)));
	SPI_freeplan(plan);
	SPI_finish();
}
