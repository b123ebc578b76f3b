/*
 * models_train_sql.c — ntg.train(name, kind, source, hyperparams, replace).
 *
 * Everything training allocates (the rows, the model, optimizer state, the saved bytes) lives in
 * one memory context that is deleted at the end; an error or a cancel (the core checks for
 * interrupts per batch, the glue between epochs) unwinds through the transaction, which deletes
 * it too.  The row is written into ntg.models only after the last epoch, in the same transaction,
 * so a cancelled training leaves the table as it was.
 *
 * With the hyperparameter "validation" = f > 0, a stratified fraction f of the rows is held out
 * (the model never trains on it, and its vocabulary comes from the other rows); after each epoch
 * the held-out loss is measured, and the weights of the epoch with the lowest one are what is
 * stored.  "patience" = p > 0 stops training once p epochs in a row have not improved on it.
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
	int			epochs;			/* epochs run */
	double	   *losses;
	double	   *val_losses;		/* per epoch run; NULL without validation */
	int			best_epoch;		/* epoch of the stored weights (1-based); 0 without validation */
	double		seconds;
} TrainOutcome;

/* The glue's own hyperparameters (every kind trains epoch by epoch). */
typedef struct ValidationOptions
{
	double		fraction;		/* "validation": rows held out per class; 0 = none */
	int			patience;		/* "patience": epochs without improvement before stopping */
} ValidationOptions;

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
read_validation_options(NtgParams *params, ValidationOptions *v)
{
	NtgError	err;
	int64_t		patience;

	NTG_PG_CHECK(ntg_params_double(params, "validation", 0.0, 0.0, 0.5, &v->fraction, &err), &err);
	NTG_PG_CHECK(ntg_params_int(params, "patience", 0, 0, 100000, &patience, &err), &err);
	v->patience = (int) patience;
	if (v->patience > 0 && v->fraction == 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparameter \"patience\" needs \"validation\" above 0"),
				 errdetail("Early stopping watches the loss on held-out rows.")));
}

/*
 * Hold out the validation rows, seeded by the "seed" hyperparameter (read again by create(),
 * which owns its default) so that a seed reproduces the split.
 */
static void
split_rows(NtgParams *params, const ValidationOptions *v, NtgSeqSet *set, NtgSeqSet *held)
{
	NtgSeqSet	kept;
	NtgRng		rng;
	NtgError	err;
	int64_t		seed;

	memset(held, 0, sizeof(*held));
	if (v->fraction == 0.0)
		return;
	NTG_PG_CHECK(ntg_params_int(params, "seed", 42, 0, PG_INT64_MAX, &seed, &err), &err);
	ntg_rng_seed(&rng, (uint64_t) seed ^ UINT64CONST(0x76616c6964));	/* "valid" */
	NTG_PG_CHECK(ntg_seqset_split(set, v->fraction, &rng, &kept, held, &err), &err);
	if (held->n_rows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparameter \"validation\" = %g holds out no row", v->fraction),
				 errdetail("The fraction of each class's rows rounds to none, and every class keeps at least one row to train on."),
				 errhint("Use a larger fraction or more rows, or leave \"validation\" out.")));
	ntg_seqset_free(set);
	*set = kept;
}

/*
 * Refuse held-out rows the model can score none of, before the first epoch rather than after it:
 * what is scorable depends on the vocabulary only, which create() fixed, so the untrained model
 * answers as the trained one would.
 */
static void
check_validation_scorable(const TrainOutcome *out, const NtgSeqSet *held)
{
	NtgError	err;
	double		loss;
	int64_t		scored;

	NTG_PG_CHECK(out->kind->eval_loss(out->model, held, &loss, &scored, &err), &err);
	if (scored == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the validation rows have nothing the model can score"),
				 errdetail("Their first values never occur in the training rows.")));
}

/* Held-out loss after an epoch; keeps a copy of the weights when it is the best so far. */
static void
track_validation(TrainOutcome *out, const NtgSeqSet *held, int e, uint8_t **best, size_t *best_len)
{
	NtgError	err;
	int64_t		scored;

	NTG_PG_CHECK(out->kind->eval_loss(out->model, held, &out->val_losses[e], &scored, &err), &err);
	if (out->best_epoch == 0 || out->val_losses[e] < out->val_losses[out->best_epoch - 1])
	{
		if (*best != NULL)
			ntg_free(*best);
		NTG_PG_CHECK(out->kind->save(out->model, best, best_len, &err), &err);
		out->best_epoch = e + 1;
	}
}

static void
report_epoch(const TrainOutcome *out, int e, int epochs, double seconds)
{
	if (!ntg_progress)
		return;
	if (out->val_losses != NULL)
		ereport(NOTICE,
				(errmsg("epoch %d/%d: loss %.4f, validation loss %.4f, %.1f s", e + 1, epochs,
						out->losses[e], out->val_losses[e], seconds)));
	else
		ereport(NOTICE,
				(errmsg("epoch %d/%d: loss %.4f, %.1f s", e + 1, epochs, out->losses[e],
						seconds)));
}

/* Put the best epoch's weights back (they were saved by track_validation). */
static void
restore_best(TrainOutcome *out, uint8_t *best, size_t best_len)
{
	NtgGenModel *model;
	NtgError	err;

	if (best == NULL || out->best_epoch == out->epochs)
		return;
	NTG_PG_CHECK(ntg_gen_model_from_bytes(best, best_len, &model, &err), &err);
	out->kind->destroy(out->model);
	out->model = model;
	if (ntg_progress)
		ereport(NOTICE,
				(errmsg("keeping the weights of epoch %d, the lowest validation loss (%.4f)",
						out->best_epoch, out->val_losses[out->best_epoch - 1])));
}

static void
train_loop(TrainOutcome *out, const NtgSeqSet *set, const NtgSeqSet *held,
		   const NtgTrainOptions *topts, const ValidationOptions *v)
{
	NtgRng		rng;
	NtgError	err;
	double		start = now_seconds();
	uint8_t    *best = NULL;
	size_t		best_len = 0;

	ntg_rng_seed(&rng, topts->seed);
	out->losses = palloc0(sizeof(double) * Max(topts->epochs, 1));
	if (held->n_rows > 0)
		out->val_losses = palloc0(sizeof(double) * Max(topts->epochs, 1));
	for (int e = 0; e < topts->epochs; e++)
	{
		double		t0 = now_seconds();

		CHECK_FOR_INTERRUPTS();
		NTG_PG_CHECK(out->kind->train_epoch(out->model, set, e, &rng, &out->losses[e], &err),
					 &err);
		out->epochs = e + 1;
		if (out->val_losses != NULL)
			track_validation(out, held, e, &best, &best_len);
		report_epoch(out, e, topts->epochs, now_seconds() - t0);
		if (v->patience > 0 && out->epochs - out->best_epoch >= v->patience)
		{
			if (ntg_progress)
				ereport(NOTICE,
						(errmsg_plural("stopping after epoch %d: the validation loss has not improved for %d epoch",
									   "stopping after epoch %d: the validation loss has not improved for %d epochs",
									   v->patience, out->epochs, v->patience)));
			break;
		}
	}
	CHECK_FOR_INTERRUPTS();
	restore_best(out, best, best_len);
	out->seconds = now_seconds() - start;
}

/* The kind's config JSON object with the glue's validation hyperparameters added. */
static char *
config_with_validation(const char *json, const ValidationOptions *v)
{
	const char *close = strrchr(json, '}');

	if (close == NULL)
		elog(ERROR, "model config is not a JSON object");
	return psprintf("%.*s, \"validation\": %.17g, \"patience\": %d}", (int) (close - json), json,
					v->fraction, v->patience);
}

/* Collect, create, train and save, all in CurrentMemoryContext. */
static void
train_model(TrainOutcome *out, const char *source, Jsonb *hyper)
{
	NtgSeqSet	set,
				held;
	NtgParams	params;
	NtgTrainOptions topts = {0};
	ValidationOptions v;
	NtgError	err;

	ntg_pg_params_from_jsonb(hyper, &params);
	read_validation_options(&params, &v);
	ntg_pg_collect_seqs(source, "source", &set);
	check_rows(&set);
	split_rows(&params, &v, &set, &held);
	out->train_rows = set.n_rows;
	NTG_PG_CHECK(out->kind->create(&params, &set, &out->model, &topts, &out->config_json, &err),
				 &err);
	NTG_PG_CHECK(ntg_params_check_used(&params, out->kind->name, &err), &err);
	if (held.n_rows > 0)
	{
		check_validation_scorable(out, &held);
		out->config_json = config_with_validation(out->config_json, &v);
	}
	if (held.n_rows > 0 && ntg_progress)
		ereport(NOTICE,
				(errmsg("training on %d rows, %d held out for validation", set.n_rows,
						held.n_rows)));
	train_loop(out, &set, &held, &topts, &v);
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
		" loss_history, train_seconds, parameters, validation_loss, best_epoch)"
		" VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
	static const char *upsert_tail =
		" ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, config = EXCLUDED.config,"
		" classes = EXCLUDED.classes, weights = EXCLUDED.weights, train_rows = EXCLUDED.train_rows,"
		" epochs = EXCLUDED.epochs, loss_history = EXCLUDED.loss_history,"
		" train_seconds = EXCLUDED.train_seconds, parameters = EXCLUDED.parameters,"
		" validation_loss = EXCLUDED.validation_loss, best_epoch = EXCLUDED.best_epoch,"
		" version = m.version + 1, updated_at = now()";
	Oid			types[12] = {TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, BYTEAOID, INT8OID,
							 INT4OID, FLOAT8ARRAYOID, FLOAT8OID, INT8OID, FLOAT8ARRAYOID, INT4OID};
	Datum		values[12];
	char		nulls[12];
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
	memset(nulls, ' ', sizeof(nulls));
	values[10] = o->val_losses ? float8_array(o->val_losses, o->epochs) : (Datum) 0;
	values[11] = Int32GetDatum(o->best_epoch);
	if (o->val_losses == NULL)
		nulls[10] = 'n';
	if (o->best_epoch == 0)
		nulls[11] = 'n';

	SPI_connect();
	rc = SPI_execute_with_args(sql, 12, types, values, nulls, false, 1);
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
	Datum		v[12];
	bool		nulls[12] = {0};
	int			stored = o->best_epoch > 0 ? o->best_epoch : o->epochs;	/* the weights' epoch */

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);
	v[0] = CStringGetTextDatum(name);
	v[1] = CStringGetTextDatum(o->kind->name);
	v[2] = Int64GetDatum(version);
	v[3] = Int32GetDatum(o->model->n_classes);
	v[4] = Int64GetDatum(o->train_rows);
	v[5] = Int32GetDatum(o->epochs);
	v[6] = Float8GetDatum(stored > 0 ? o->losses[stored - 1] : 0);
	nulls[6] = stored == 0;
	v[7] = Int64GetDatum(o->model->n_params);
	v[8] = Int64GetDatum((int64) o->n_bytes);
	v[9] = Float8GetDatum(o->seconds);
	v[10] = Float8GetDatum(o->best_epoch > 0 ? o->val_losses[o->best_epoch - 1] : 0);
	nulls[10] = o->best_epoch == 0;
	v[11] = Int32GetDatum(o->best_epoch);
	nulls[11] = o->best_epoch == 0;
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
