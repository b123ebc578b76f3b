/*
 * models_admin_sql.c — ntg.describe_model(), ntg.rename_model(), ntg.drop_model().
 * (ntg.list_models() is plain SQL in sql/ext/20_models.sql.)  Rows a role may not see (row
 * security on ntg.models) do not exist for these functions.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "common/blob.h"
#include "models_sql.h"
#include "ntg_glue.h"

/* Columns of describe_model() that come straight from the table, in its OUT order. */
#define DESCRIBE_SQL \
	"SELECT name, kind, owner::pg_catalog.text, version, NULL::pg_catalog.int4, config, classes," \
	" train_rows, epochs, loss_history, validation_loss, best_epoch, train_seconds," \
	" epoch_seconds, train_peak_bytes, parameters, bytes, NULL::pg_catalog.bool," \
	" NULL::pg_catalog.text, created_at, updated_at, weights" \
	" FROM ntg.models WHERE name OPERATOR(pg_catalog.=) $1"
#define DESCRIBE_COLS 21
#define DESCRIBE_FORMAT	4		/* format_version, valid, problem: computed here */
#define DESCRIBE_VALID	17
#define DESCRIBE_PROBLEM 18

/* Format version from the header, or -1 when the value does not even start like a model. */
static int
format_version(const bytea *w)
{
	const uint8 *p = (const uint8 *) VARDATA_ANY(w);

	if (VARSIZE_ANY_EXHDR(w) < 12 || memcmp(p, NTG_BLOB_MAGIC, 8) != 0)
		return -1;
	return (int) (p[8] | p[9] << 8 | p[10] << 16 | (uint32) p[11] << 24);
}

PG_FUNCTION_INFO_V1(ntg_describe_model_v2);
Datum
ntg_describe_model_v2(PG_FUNCTION_ARGS)
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
	NtgModelRow row;

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
	values[DESCRIBE_FORMAT] = Int32GetDatum(fv);
	nulls[DESCRIBE_FORMAT] = fv < 0;
	/* the same checks as loading it, for every kind */
	row.name = name;
	row.kind = TextDatumGetCString(values[1]);
	row.version = DatumGetInt64(values[3]);
	row.tuple_id = NULL;
	row.weights = weights;
	values[DESCRIBE_VALID] = BoolGetDatum(ntg_pg_model_check_row(&row, &problem));
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
	PreventCommandIfReadOnly("ntg.rename_model()");
	ntg_pg_model_fetch(name, false, false, &row);
	if (strcmp(name, new_name) != 0 && ntg_pg_model_fetch(new_name, false, true, &row))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("model \"%s\" already exists", new_name)));
	if (modify("UPDATE ntg.models SET name = $2, updated_at = pg_catalog.now()"
			   " WHERE name OPERATOR(pg_catalog.=) $1",
			   2, types, args, SPI_OK_UPDATE) == 0)
		ntg_pg_model_missing(name);	/* dropped concurrently */
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ntg_drop_model);
Datum
ntg_drop_model(PG_FUNCTION_ARGS)
{
	char	   *name = ntg_pg_text_arg(fcinfo, 0, "model");
	bool		if_exists;
	Oid			types[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(name)};

	ntg_pg_require_arg(fcinfo, 1, "if_exists");
	if_exists = PG_GETARG_BOOL(1);
	PreventCommandIfReadOnly("ntg.drop_model()");
	if (modify("DELETE FROM ntg.models WHERE name OPERATOR(pg_catalog.=) $1", 1, types, args,
			   SPI_OK_DELETE) > 0)
		PG_RETURN_BOOL(true);
	if (!if_exists)
		ntg_pg_model_missing(name);
	ereport(NOTICE,
			(errmsg("model \"%s\" does not exist, skipping", name)));
	PG_RETURN_BOOL(false);
}
