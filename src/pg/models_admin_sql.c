/*
 * models_admin_sql.c — ntg.describe_model(), ntg.rename_model(), ntg.drop_model().
 * (ntg.list_models() is plain SQL in sql/ext/20_models.sql.)
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "common/blob.h"
#include "models/generator.h"
#include "models_sql.h"
#include "ntg_glue.h"

/* Columns of describe_model() that come straight from the table, in its OUT order. */
#define DESCRIBE_SQL \
	"SELECT name, kind, version, NULL::integer, config, classes, train_rows, epochs," \
	" loss_history, validation_loss, best_epoch, train_seconds, parameters, bytes," \
	" NULL::boolean, NULL::text, created_at, updated_at, weights FROM ntg.models WHERE name = $1"
#define DESCRIBE_COLS 18
#define DESCRIBE_VALID	14		/* valid, problem: computed here */
#define DESCRIBE_PROBLEM 15

/* Format version from the header, or -1 when the value does not even start like a model. */
static int
format_version(const bytea *w)
{
	const uint8 *p = (const uint8 *) VARDATA_ANY(w);

	if (VARSIZE_ANY_EXHDR(w) < 12 || memcmp(p, NTG_BLOB_MAGIC, 8) != 0)
		return -1;
	return (int) (p[8] | p[9] << 8 | p[10] << 16 | (uint32) p[11] << 24);
}

/* valid/problem: a full load for generators, the container check for other kinds. */
static bool
check_weights(const char *name, const char *kind, int64 version, bytea *w, char **problem)
{
	NtgModelRow row = {(char *) name, (char *) kind, version, NULL, w};
	NtgBlob		blob;
	NtgError	err;

	if (ntg_gen_kind_find(kind) != NULL)
		return ntg_pg_model_check_row(&row, problem);
	if (ntg_blob_parse((const uint8_t *) VARDATA_ANY(w), VARSIZE_ANY_EXHDR(w), &blob, &err) != NTG_OK)
	{
		*problem = pstrdup(err.msg);
		return false;
	}
	if (strcmp(blob.kind, kind) != 0)
	{
		*problem = psprintf("its kind column says \"%s\" but its weights hold a \"%s\" model",
							kind, blob.kind);
		ntg_blob_free(&blob);
		return false;
	}
	ntg_blob_free(&blob);
	*problem = NULL;
	return true;
}

PG_FUNCTION_INFO_V1(ntg_describe_model);
Datum
ntg_describe_model(PG_FUNCTION_ARGS)
{
	char	   *name = ntg_pg_text_arg(fcinfo, 0, "model");
	MemoryContext callercxt = CurrentMemoryContext;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(name)};
	Datum		values[DESCRIBE_COLS + 1];
	bool		nulls[DESCRIBE_COLS + 1];
	TupleDesc	desc;
	HeapTuple	result;
	char	   *problem;
	int			fv;
	bytea	   *weights;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);

	SPI_connect();
	if (SPI_execute_with_args(DESCRIBE_SQL, 1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read ntg.models");
	if (SPI_processed == 0)
		ntg_pg_model_missing(name);
	heap_deform_tuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, values, nulls);
	weights = (bytea *) PG_DETOAST_DATUM(values[DESCRIBE_COLS]);
	fv = format_version(weights);
	values[3] = Int32GetDatum(fv);
	nulls[3] = fv < 0;
	values[DESCRIBE_VALID] = BoolGetDatum(check_weights(name, TextDatumGetCString(values[1]),
											DatumGetInt64(values[2]),
											weights,
											&problem));
	nulls[DESCRIBE_VALID] = false;
	if (problem != NULL)
	{
		values[DESCRIBE_PROBLEM] = CStringGetTextDatum(problem);
		nulls[DESCRIBE_PROBLEM] = false;
	}
	/* Copy out before SPI_finish frees the SPI memory. */
	MemoryContextSwitchTo(callercxt);
	result = heap_form_tuple(desc, values, nulls);
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(result));
}

/* Run one UPDATE/DELETE on ntg.models by name; returns the number of rows it touched. */
static uint64
modify(const char *sql, int nargs, Oid *types, Datum *args, int expect)
{
	uint64		n;

	SPI_connect();
	if (SPI_execute_with_args(sql, nargs, types, args, NULL, false, 0) != expect)
		elog(ERROR, "could not modify ntg.models");
	n = SPI_processed;
	SPI_finish();
	return n;
}

PG_FUNCTION_INFO_V1(ntg_rename_model);
Datum
ntg_rename_model(PG_FUNCTION_ARGS)
{
	char	   *name = ntg_pg_text_arg(fcinfo, 0, "model");
	char	   *new_name = ntg_pg_text_arg(fcinfo, 1, "new_name");
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2] = {CStringGetTextDatum(name), CStringGetTextDatum(new_name)};
	NtgModelRow row;

	if (new_name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name must not be empty")));
	ntg_pg_model_fetch(name, false, false, &row);
	if (strcmp(name, new_name) != 0 && ntg_pg_model_fetch(new_name, false, true, &row))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("model \"%s\" already exists", new_name)));
	if (modify("UPDATE ntg.models SET name = $2, updated_at = now() WHERE name = $1",
			   2, types, args, SPI_OK_UPDATE) == 0)
		ntg_pg_model_missing(name);	/* dropped concurrently */
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ntg_drop_model);
Datum
ntg_drop_model(PG_FUNCTION_ARGS)
{
	char	   *name = ntg_pg_text_arg(fcinfo, 0, "model");
	bool		if_exists = !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
	Oid			types[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(name)};

	if (modify("DELETE FROM ntg.models WHERE name = $1", 1, types, args, SPI_OK_DELETE) > 0)
		PG_RETURN_BOOL(true);
	if (!if_exists)
		ntg_pg_model_missing(name);
	ereport(NOTICE,
			(errmsg("model \"%s\" does not exist, skipping", name)));
	PG_RETURN_BOOL(false);
}
