/*
 * experiments_sql.c — the entry points of the functions whose logic is PL/pgSQL and that read a
 * caller's query: the experiments (ntg.split, ntg.synthesize, ntg.tstr, ntg.augment_sweep,
 * ntg.line_chart_svg), the privacy-utility chart ntg.frontier_svg and ntg.pcap_classes.
 *
 * Their logic is PL/pgSQL (sql/ext/45_experiments.sql), and every PL/pgSQL function of ntg pins
 * its search_path, so that nothing it calls can be redefined by whoever controls a schema on the
 * caller's path.  A caller's query, though, must be read with the caller's own path: these C
 * entry points (which run under the caller's settings) check each query (one plain SELECT, the
 * right columns), run it once into a temporary table of their own, and call the pinned
 * implementation with the tables instead of the texts.  NULL arguments are refused here (22004).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "ntg_glue.h"

#define MAX_ARGS 8

/* How an entry point passes each of its arguments on. */
typedef enum ArgKind
{
	ARG_VALUE,					/* as it is */
	ARG_ROWS,					/* a (label, pl) query: a table of (label text, pl integer[]) */
	ARG_COLUMNS					/* a query of the entry's `columns`: a table of them */
} ArgKind;

typedef struct Entry
{
	const char *impl;			/* the pinned implementation */
	int			nargs;
	const char *argname[MAX_ARGS];
	ArgKind		kind[MAX_ARGS];
	bool		returns_set;
	int			n_columns;		/* ARG_COLUMNS: names and types of the query's columns */
	const char *column[4];
	const char *type[4];
} Entry;

/* A temporary table name no caller uses, quoted. */
static char *
scratch_name(const char *argname)
{
	return psprintf("ntg_%s_%016llx", argname,
					(unsigned long long) pg_prng_uint64(&pg_global_prng_state));
}

/* The (label, pl) rows of a scratch table checked as ntg_pg_collect_seqs() checks them. */
static void
check_rows(const char *table, const char *argname)
{
	char	   *sql = psprintf("SELECT pg_catalog.bool_or(label IS NULL), pg_catalog.bool_or(pl IS NULL),"
							   " pg_catalog.bool_or(pg_catalog.array_ndims(pl) OPERATOR(pg_catalog.>) 1),"
							   " pg_catalog.bool_or(CASE WHEN pg_catalog.array_ndims(pl) OPERATOR(pg_catalog.>) 1"
							   " THEN false ELSE pg_catalog.array_position(pl, NULL) IS NOT NULL END)"
							   " FROM %s", table);
	bool		bad[4] = {0};

	SPI_connect();
	/* not read-only: the rows were written by this transaction's previous command */
	if (SPI_execute(sql, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not check the rows of %s", argname);
	for (int i = 0; i < 4; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &isnull);

		bad[i] = !isnull && DatumGetBool(d);
	}
	SPI_finish();
	if (bad[0] || bad[1])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s returned a null %s", argname, bad[0] ? "label" : "pl array")));
	if (bad[2])
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("pl arrays of %s must have one dimension", argname)));
	if (bad[3])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pl arrays of %s must not contain null values", argname)));
}

/* Run a caller's query once into a new temporary table; its qualified, quoted name. */
static char *
materialize(const Entry *e, const char *query, const char *argname, ArgKind kind)
{
	char	   *name = psprintf("pg_temp.%s", quote_identifier(scratch_name(argname)));
	StringInfoData sql;

	ntg_pg_check_query(query, argname, kind == ARG_ROWS ? 2 : e->n_columns);
	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TEMP TABLE %s ON COMMIT DROP AS SELECT", name);
	if (kind == ARG_ROWS)
		appendStringInfo(&sql, " s.label::pg_catalog.text AS label, s.pl::pg_catalog.int4[] AS pl"
						 " FROM (%s\n) AS s(label, pl)", query);
	else
	{
		for (int i = 0; i < e->n_columns; i++)
			appendStringInfo(&sql, "%s s.%s::%s AS %s", i ? "," : "", e->column[i], e->type[i],
							 e->column[i]);
		appendStringInfo(&sql, " FROM (%s\n) AS s(", query);
		for (int i = 0; i < e->n_columns; i++)
			appendStringInfo(&sql, "%s%s", i ? ", " : "", e->column[i]);
		appendStringInfoChar(&sql, ')');
	}
	SPI_connect();
	if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not read %s", argname);
	SPI_finish();
	if (kind == ARG_ROWS)
		check_rows(name, argname);
	return name;
}

/* Copy the implementation's rows into the caller's tuplestore, through a cursor. */
static void
return_rows(FunctionCallInfo fcinfo, Portal portal)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext callercxt = CurrentMemoryContext;

	for (;;)
	{
		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			MemoryContext old = MemoryContextSwitchTo(callercxt);

			tuplestore_puttuple(rsinfo->setResult, SPI_tuptable->vals[i]);
			MemoryContextSwitchTo(old);
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
}

static Datum
run_entry(FunctionCallInfo fcinfo, const Entry *e)
{
	Oid			types[MAX_ARGS];
	Datum		values[MAX_ARGS];
	StringInfoData sql;
	MemoryContext callercxt = CurrentMemoryContext;
	Portal		portal;
	Datum		result = (Datum) 0;
	bool		isnull = true;

	for (int i = 0; i < e->nargs; i++)
		ntg_pg_require_arg(fcinfo, i, e->argname[i]);
	if (e->returns_set)
		InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT * FROM %s(", e->impl);
	for (int i = 0; i < e->nargs; i++)
	{
		values[i] = PG_GETARG_DATUM(i);
		types[i] = get_fn_expr_argtype(fcinfo->flinfo, i);
		if (e->kind[i] != ARG_VALUE)
		{
			values[i] = CStringGetTextDatum(materialize(e, TextDatumGetCString(values[i]),
														e->argname[i], e->kind[i]));
			types[i] = TEXTOID;
		}
		appendStringInfo(&sql, "%s$%d%s", i ? ", " : "", i + 1,
						 e->kind[i] != ARG_VALUE ? "::pg_catalog.regclass" : "");
	}
	appendStringInfoChar(&sql, ')');
	SPI_connect();
	portal = SPI_cursor_open_with_args(NULL, sql.data, e->nargs, types, values, NULL, false, 0);
	if (e->returns_set)
		return_rows(fcinfo, portal);
	else
	{
		SPI_cursor_fetch(portal, true, 1);
		if (SPI_processed == 1)
		{
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
			MemoryContext old = MemoryContextSwitchTo(callercxt);

			if (!isnull)
				result = datumCopy(d, false, -1);
			MemoryContextSwitchTo(old);
		}
	}
	SPI_cursor_close(portal);
	SPI_finish();
	if (e->returns_set)
		return (Datum) 0;
	if (isnull)
		PG_RETURN_NULL();
	return result;
}

static const Entry split_entry = {
	"ntg._split_rows", 3, {"query", "test_fraction", "seed"},
	{ARG_ROWS, ARG_VALUE, ARG_VALUE}, true
};
static const Entry synthesize_entry = {
	"ntg._synthesize_rows", 6, {"generator", "train_query", "rows_per_class", "seed", "top_up", "options"},
	{ARG_VALUE, ARG_ROWS, ARG_VALUE, ARG_VALUE, ARG_VALUE, ARG_VALUE}, true
};
static const Entry tstr_entry = {
	"ntg._tstr_rows", 6, {"train_query", "test_query", "generators", "hyperparams", "seed", "options"},
	{ARG_ROWS, ARG_ROWS, ARG_VALUE, ARG_VALUE, ARG_VALUE, ARG_VALUE}, true
};
static const Entry sweep_entry = {
	"ntg._augment_sweep_rows", 7,
	{"train_query", "test_query", "generators", "fractions", "hyperparams", "seed", "options"},
	{ARG_ROWS, ARG_ROWS, ARG_VALUE, ARG_VALUE, ARG_VALUE, ARG_VALUE, ARG_VALUE}, true
};
static const Entry chart_entry = {
	"ntg._line_chart_points", 4, {"query", "title", "x_label", "y_label"},
	{ARG_COLUMNS, ARG_VALUE, ARG_VALUE, ARG_VALUE}, false,
	3, {"series", "x", "y"}, {"pg_catalog.text", "pg_catalog.float8", "pg_catalog.float8"}
};
static const Entry frontier_entry = {
	"ntg._frontier_points", 3, {"query", "real_leakage", "title"},
	{ARG_COLUMNS, ARG_VALUE, ARG_VALUE}, false,
	3, {"name", "tstr_ratio", "leakage"}, {"pg_catalog.text", "pg_catalog.float8", "pg_catalog.float8"}
};
static const Entry pcap_classes_entry = {
	"ntg._pcap_classes_rows", 1, {"query"}, {ARG_COLUMNS}, false,
	3, {"label", "protocol", "server_port"}, {"pg_catalog.text", "pg_catalog.int4", "pg_catalog.int4"}
};

PG_FUNCTION_INFO_V1(ntg_split);
Datum
ntg_split(PG_FUNCTION_ARGS)
{
	return run_entry(fcinfo, &split_entry);
}

PG_FUNCTION_INFO_V1(ntg_synthesize);
Datum
ntg_synthesize(PG_FUNCTION_ARGS)
{
	return run_entry(fcinfo, &synthesize_entry);
}

PG_FUNCTION_INFO_V1(ntg_tstr);
Datum
ntg_tstr(PG_FUNCTION_ARGS)
{
	return run_entry(fcinfo, &tstr_entry);
}

PG_FUNCTION_INFO_V1(ntg_augment_sweep);
Datum
ntg_augment_sweep(PG_FUNCTION_ARGS)
{
	return run_entry(fcinfo, &sweep_entry);
}

PG_FUNCTION_INFO_V1(ntg_line_chart_svg);
Datum
ntg_line_chart_svg(PG_FUNCTION_ARGS)
{
	return run_entry(fcinfo, &chart_entry);
}

PG_FUNCTION_INFO_V1(ntg_frontier_svg);
Datum
ntg_frontier_svg(PG_FUNCTION_ARGS)
{
	return run_entry(fcinfo, &frontier_entry);
}

PG_FUNCTION_INFO_V1(ntg_pcap_classes);
Datum
ntg_pcap_classes(PG_FUNCTION_ARGS)
{
	return run_entry(fcinfo, &pcap_classes_entry);
}
