/*
 * models_train_sql.c — ntg.train(name, kind, source, hyperparams, replace).
 *
 * Everything training allocates (the rows, the model, optimizer state, the saved bytes) lives in
 * one memory context that is deleted at the end; an error or a cancel (the core checks for
 * interrupts per batch, the glue between epochs) unwinds through the transaction, which deletes
 * it too.  The row is written into ntg.models only after the last epoch, in the same transaction,
 * so a cancelled training leaves the table as it was.
 */
#include "postgres.h"

#include <time.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "common/params.h"
#include "common/seqset.h"
#include "models/generator.h"
#include "models_sql.h"
#include "ntg_glue.h"

/* What one training produced, ready to be stored. */
typedef struct TrainOutcome
{
	const NtgGenKind *kind;
	NtgGenModel *model;
	char	   *config_json;
	uint8_t    *bytes;
	size_t		n_bytes;
	int			train_rows;
	int			epochs;
	double	   *losses;
	double		seconds;
} TrainOutcome;

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const NtgGenKind *
find_kind(const char *kind)
{
	const NtgGenKind *k = ntg_gen_kind_find(kind);

	if (k == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown model kind \"%s\"", kind),
				 errhint("Known kinds: %s.", ntg_gen_kind_names())));
	return k;
}

/* Refuse before training what would be refused after it. */
static void
check_name_free(const char *name, bool replace)
{
	NtgModelRow row;

	if (name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name must not be empty")));
	if (!replace && ntg_pg_model_fetch(name, false, true, &row))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("model \"%s\" already exists", name),
				 errhint("Pass replace => true to overwrite it, or drop it with ntg.drop_model().")));
}

static void
check_rows(const NtgSeqSet *set)
{
	int64		values = set->n_rows > 0 ? set->row_start[set->n_rows] : 0;

	if (set->n_rows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source returned no rows"),
				 errdetail("A model needs at least one (label, pl) row to learn from.")));
	if (values == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("every pl array of source is empty"),
				 errdetail("A model learns payload lengths; %d rows carried none.", set->n_rows)));
}

static void
train_loop(TrainOutcome *out, const NtgSeqSet *set, const NtgTrainOptions *topts)
{
	NtgRng		rng;
	NtgError	err;
	double		start = now_seconds();

	ntg_rng_seed(&rng, topts->seed);
	out->epochs = topts->epochs;
	out->losses = palloc0(sizeof(double) * Max(topts->epochs, 1));
	for (int e = 0; e < topts->epochs; e++)
	{
		double		t0 = now_seconds();

		CHECK_FOR_INTERRUPTS();
		NTG_PG_CHECK(out->kind->train_epoch(out->model, set, e, &rng, &out->losses[e], &err),
					 &err);
		if (ntg_progress)
			ereport(NOTICE,
					(errmsg("epoch %d/%d: loss %.4f, %.1f s", e + 1, topts->epochs,
							out->losses[e], now_seconds() - t0)));
	}
	CHECK_FOR_INTERRUPTS();
	out->seconds = now_seconds() - start;
}

/* Collect, create, train and save, all in CurrentMemoryContext. */
static void
train_model(TrainOutcome *out, const char *source, Jsonb *hyper)
{
	NtgSeqSet	set;
	NtgParams	params;
	NtgTrainOptions topts = {0};
	NtgError	err;

	ntg_pg_params_from_jsonb(hyper, &params);
	ntg_pg_collect_seqs(source, "source", &set);
	check_rows(&set);
	out->train_rows = set.n_rows;
	NTG_PG_CHECK(out->kind->create(&params, &set, &out->model, &topts, &out->config_json, &err),
				 &err);
	NTG_PG_CHECK(ntg_params_check_used(&params, out->kind->name, &err), &err);
	train_loop(out, &set, &topts);
	NTG_PG_CHECK(out->kind->save(out->model, &out->bytes, &out->n_bytes, &err), &err);
}

static Datum
text_array(char **items, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = CStringGetTextDatum(items[i]);
	return PointerGetDatum(construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT));
}

static Datum
float8_array(const double *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Float8GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* INSERT (or, with replace, overwrite and bump the version); returns the stored version. */
static int64
store_model(const char *name, const TrainOutcome *o, bool replace)
{
	static const char *insert_sql =
		"INSERT INTO ntg.models AS m (name, kind, config, classes, weights, train_rows, epochs,"
		" loss_history, train_seconds, parameters)"
		" VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9, $10)";
	static const char *upsert_tail =
		" ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, config = EXCLUDED.config,"
		" classes = EXCLUDED.classes, weights = EXCLUDED.weights, train_rows = EXCLUDED.train_rows,"
		" epochs = EXCLUDED.epochs, loss_history = EXCLUDED.loss_history,"
		" train_seconds = EXCLUDED.train_seconds, parameters = EXCLUDED.parameters,"
		" version = m.version + 1, updated_at = now()";
	Oid			types[10] = {TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, BYTEAOID, INT8OID,
							 INT4OID, FLOAT8ARRAYOID, FLOAT8OID, INT8OID};
	Datum		values[10];
	bytea	   *weights = palloc(VARHDRSZ + o->n_bytes);
	char	   *sql = psprintf("%s%s RETURNING m.version", insert_sql, replace ? upsert_tail : "");
	int			rc;
	bool		isnull;
	int64		version;

	SET_VARSIZE(weights, VARHDRSZ + o->n_bytes);
	memcpy(VARDATA(weights), o->bytes, o->n_bytes);
	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(o->kind->name);
	values[2] = CStringGetTextDatum(o->config_json);
	values[3] = text_array(o->model->classes, o->model->n_classes);
	values[4] = PointerGetDatum(weights);
	values[5] = Int64GetDatum(o->train_rows);
	values[6] = Int32GetDatum(o->epochs);
	values[7] = float8_array(o->losses, o->epochs);
	values[8] = Float8GetDatum(o->seconds);
	values[9] = Int64GetDatum(o->model->n_params);

	SPI_connect();
	rc = SPI_execute_with_args(sql, 10, types, values, NULL, false, 1);
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not store the model: %s", SPI_result_code_string(rc));
	version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return version;
}

static Datum
train_result(FunctionCallInfo fcinfo, const char *name, const TrainOutcome *o, int64 version)
{
	TupleDesc	desc;
	Datum		v[10];
	bool		nulls[10] = {0};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);
	v[0] = CStringGetTextDatum(name);
	v[1] = CStringGetTextDatum(o->kind->name);
	v[2] = Int64GetDatum(version);
	v[3] = Int32GetDatum(o->model->n_classes);
	v[4] = Int64GetDatum(o->train_rows);
	v[5] = Int32GetDatum(o->epochs);
	v[6] = Float8GetDatum(o->epochs > 0 ? o->losses[o->epochs - 1] : 0);
	nulls[6] = o->epochs == 0;
	v[7] = Int64GetDatum(o->model->n_params);
	v[8] = Int64GetDatum((int64) o->n_bytes);
	v[9] = Float8GetDatum(o->seconds);
	return HeapTupleGetDatum(heap_form_tuple(desc, v, nulls));
}

PG_FUNCTION_INFO_V1(ntg_train);
Datum
ntg_train(PG_FUNCTION_ARGS)
{
	char	   *name = ntg_pg_text_arg(fcinfo, 0, "name");
	char	   *kind = ntg_pg_text_arg(fcinfo, 1, "kind");
	char	   *source = ntg_pg_text_arg(fcinfo, 2, "source");
	Jsonb	   *hyper = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	bool		replace = PG_ARGISNULL(4) ? false : PG_GETARG_BOOL(4);
	MemoryContext callercxt = CurrentMemoryContext;
	MemoryContext traincxt;
	TrainOutcome o = {0};
	int64		version;
	Datum		result;

	/* Refuse up front what the INSERT at the end would refuse after all the work. */
	PreventCommandIfReadOnly("ntg.train()");
	o.kind = find_kind(kind);
	check_name_free(name, replace);

	traincxt = AllocSetContextCreate(callercxt, "ntg train", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(traincxt);
	train_model(&o, source, hyper);
	version = store_model(name, &o, replace);
	MemoryContextSwitchTo(callercxt);
	result = train_result(fcinfo, name, &o, version);
	MemoryContextDelete(traincxt);
	PG_RETURN_DATUM(result);
}
