/*
 * models_quantize_sql.c — ntg.quantize(model, new_model, mode, replace): a stored model with its
 * matrices in int8 (weight_only or dynamic, nn/nn_quant.h), stored as another row of ntg.models
 * (or over the same one with replace).
 *
 * The work is the core's (ntg_model_quantize, then the kind's save); this file checks what it can
 * before loading anything (arguments, the kind's capability from the kind column, the right to
 * store under new_model), loads the source with the checks every load runs (damage is XX001),
 * and stores the result through the one storing path (model_store.c).  The new row keeps the
 * source's training record (rows, epochs, losses, times, owner rules as for any new row) and its
 * config with "quantization" added, which ntg.list_models() and ntg.describe_model() show.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "models_sql.h"
#include "ntg_glue.h"

/* What the new row copies from the source row. */
#define RECORD_SQL \
	"SELECT (config OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('quantization', $2))::pg_catalog.text," \
	" train_rows, epochs, loss_history, validation_loss, best_epoch, train_seconds, epoch_seconds," \
	" train_peak_bytes, parameters FROM ntg.models WHERE name OPERATOR(pg_catalog.=) $1"

/* A float8[] column as n doubles (NULL unless it has exactly n elements and no NULL). */
static double *
doubles(Datum d, bool isnull, int n)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			count;
	double	   *v;

	if (isnull || n <= 0)
		return NULL;
	arr = DatumGetArrayTypeP(d);
	if (ARR_NDIM(arr) != 1)
		return NULL;
	deconstruct_array(arr, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &count);
	if (count != n)
		return NULL;
	v = palloc(sizeof(double) * n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			return NULL;
		v[i] = DatumGetFloat8(elems[i]);
	}
	return v;
}

/* The source row's record into m (in CurrentMemoryContext). */
static void
source_record(const char *name, const char *mode, NtgStoredModel *m)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2] = {CStringGetTextDatum(name), CStringGetTextDatum(mode)};
	Datum		v[10];
	bool		n[10];

	SPI_connect();
	if (SPI_execute_with_args(RECORD_SQL, 2, types, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read ntg.models");
	if (SPI_processed == 0)
		ntg_pg_model_missing(name);	/* dropped since it was loaded */
	heap_deform_tuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, v, n);
	MemoryContextSwitchTo(cxt);
	m->config_json = TextDatumGetCString(v[0]);
	m->train_rows = n[1] ? 0 : DatumGetInt64(v[1]);
	m->epochs = n[2] ? 0 : DatumGetInt32(v[2]);
	m->losses = doubles(v[3], n[3], m->epochs);
	m->val_losses = doubles(v[4], n[4], m->epochs);
	m->best_epoch = n[5] ? 0 : DatumGetInt32(v[5]);
	m->train_seconds = n[6] ? 0 : DatumGetFloat8(v[6]);
	m->epoch_seconds = n[7] ? -1 : DatumGetFloat8(v[7]);
	m->peak_bytes = n[8] ? -1 : DatumGetInt64(v[8]);
	m->parameters = n[9] ? 0 : DatumGetInt64(v[9]);
	SPI_finish();
}

static int
parse_mode(const char *mode)
{
	int			m = nn_quant_mode_parse(mode);

	if (m < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown quantization mode \"%s\"", mode),
				 errhint("Modes: weight_only (int8 weights, float activations), dynamic (int8 weights and activations).")));
	return m;
}

PG_FUNCTION_INFO_V1(ntg_quantize);
Datum
ntg_quantize(PG_FUNCTION_ARGS)
{
	char	   *name = ntg_pg_text_arg(fcinfo, 0, "model");
	char	   *new_name = ntg_pg_text_arg(fcinfo, 1, "new_model");
	char	   *mode_name = ntg_pg_text_arg(fcinfo, 2, "mode");
	MemoryContext callercxt = CurrentMemoryContext;
	MemoryContext workcxt;
	const NtgModelKind *kind;
	NtgModelRow row;
	NtgModel   *model;
	NtgStoredModel m = {0};
	NtgError	err;
	uint8_t    *bytes;
	size_t		n_bytes;
	int64		version;
	int			mode;
	bool		replace;
	TupleDesc	desc;
	Datum		v[7];
	bool		nulls[7] = {0};

	ntg_pg_require_arg(fcinfo, 3, "replace");
	replace = PG_GETARG_BOOL(3);
	mode = parse_mode(mode_name);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	/* before any work: the source exists and its kind can be quantized; new_model is storable */
	ntg_pg_model_fetch(name, false, false, &row);
	if ((kind = ntg_model_kind_find(row.kind)) != NULL)
		ntg_pg_model_require(name, kind, NTG_CAP_QUANTIZE);
	ntg_pg_model_check_storable(new_name, row.kind, replace, "ntg.quantize()");

	workcxt = AllocSetContextCreate(callercxt, "ntg quantize", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(workcxt);
	ntg_pg_model_fetch(name, true, false, &row);
	model = ntg_pg_model_from_row(&row);	/* a copy of its own: quantized in place */
	ntg_pg_model_require(name, model->kind, NTG_CAP_QUANTIZE);
	NTG_PG_CHECK(ntg_model_quantize(model, mode, &err), &err);
	NTG_PG_CHECK(ntg_model_save(model, &bytes, &n_bytes, &err), &err);
	source_record(name, mode_name, &m);
	m.kind = model->kind->name;
	m.classes = model->classes;
	m.n_classes = model->n_classes;
	m.bytes = bytes;
	m.n_bytes = n_bytes;
	version = ntg_pg_model_store(new_name, &m, replace);

	MemoryContextSwitchTo(callercxt);
	desc = BlessTupleDesc(desc);
	v[0] = CStringGetTextDatum(new_name);
	v[1] = CStringGetTextDatum(model->kind->name);
	v[2] = CStringGetTextDatum(nn_quant_mode_name(mode));
	v[3] = Int64GetDatum(version);
	v[4] = Int64GetDatum(model->n_params);
	v[5] = Int64GetDatum((int64) n_bytes);
	v[6] = Int64GetDatum(row.length);
	MemoryContextDelete(workcxt);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, v, nulls)));
}
