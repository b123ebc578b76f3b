/*
 * models_train_sql.c — ntg.train(model, kind, train_query, hyperparams, replace) for every kind,
 * and ntg.rf_train(), the same for kind random_forest.
 *
 * The loop itself is the core's training driver (models/train_driver.h); this file does what
 * only the server can: every check that needs no trained model first (read-only transaction,
 * privileges and row security on ntg.models, a taken name, the memory the hyperparameters ask
 * for against ntg.training_memory_limit), then the rows through a cursor, the training with its
 * NOTICE lines, and the one INSERT at the end (model_store.c).
 *
 * Everything training allocates lives in one memory context that is deleted at the end; an error
 * or a cancel (the core checks for interrupts per batch) unwinds through the transaction, which
 * deletes it too, and the row is written only after the last epoch, so a cancelled training leaves
 * ntg.models as it was.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "common/params.h"
#include "common/seqset.h"
#include "models/train_driver.h"
#include "jobs_progress.h"
#include "models_sql.h"
#include "ntg_glue.h"

int			ntg_training_memory_limit_kb = 1024 * 1024;

static const NtgModelKind *
find_kind(const char *kind)
{
	const NtgModelKind *k = ntg_model_kind_find(kind);

	if (k == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown model kind \"%s\"", kind),
				 errhint("Known kinds: %s.", ntg_model_kind_names(0))));
	return k;
}

/* Collect the rows, prepare and run the training, save: all in CurrentMemoryContext. */
static void
train_model(NtgTraining *t, const NtgModelKind *kind, const char *query, Jsonb *hyper,
			uint8_t **bytes, size_t *n_bytes)
{
	NtgSeqSet	rows;
	NtgParams	params;
	NtgTrainLimits limits;
	NtgError	err;

	limits.max_bytes = (int64) ntg_training_memory_limit_kb * 1024;
	limits.limit_name = "ntg.training_memory_limit";
	ntg_pg_params_from_jsonb(hyper, &params);
	ntg_pg_collect_seqs_limited(query, "train_query", limits.max_bytes, limits.limit_name, &rows);
	if (rows.n_rows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("train_query returned no rows"),
				 errdetail("A model needs at least one (label, pl) row to learn from.")));
	if (rows.row_start[rows.n_rows] == 0 && (kind->caps & NTG_CAP_GENERATE))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("every pl array of train_query is empty"),
				 errdetail("A generator learns payload lengths; %d rows carried none.", rows.n_rows)));
	NTG_PG_CHECK(ntg_training_prepare(t, kind, &params, &rows, &limits, &err), &err);
	NTG_PG_CHECK(ntg_training_run(t, ntg_job_train_hooks(t), &err), &err);
	NTG_PG_CHECK(ntg_training_save(t, bytes, n_bytes, &err), &err);
}

static Datum
train_result(FunctionCallInfo fcinfo, const char *name, const NtgTraining *t, size_t n_bytes,
			 int64 version)
{
	TupleDesc	desc;
	Datum		v[14];
	bool		nulls[14] = {0};
	int			stored = t->best_epoch > 0 ? t->best_epoch : t->epochs_run;	/* weights' epoch */
	bool		epochs = (t->kind->caps & NTG_CAP_EPOCHS) != 0;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);
	v[0] = CStringGetTextDatum(name);
	v[1] = CStringGetTextDatum(t->kind->name);
	v[2] = Int64GetDatum(version);
	v[3] = Int32GetDatum(t->model->n_classes);
	v[4] = Int64GetDatum(t->train.n_rows);
	v[5] = Int32GetDatum(t->epochs_run);
	nulls[5] = !epochs;
	v[6] = Float8GetDatum(stored > 0 ? t->losses[stored - 1] : 0);
	nulls[6] = !epochs || stored == 0;
	v[7] = Int64GetDatum(t->model->n_params);
	v[8] = Int64GetDatum((int64) n_bytes);
	v[9] = Float8GetDatum(t->seconds);
	v[10] = Float8GetDatum(t->best_epoch > 0 ? t->val_losses[t->best_epoch - 1] : 0);
	nulls[10] = t->best_epoch == 0;
	v[11] = Int32GetDatum(t->best_epoch);
	nulls[11] = t->best_epoch == 0;
	v[12] = Float8GetDatum(t->epoch_seconds);
	nulls[12] = !epochs;
	v[13] = Int64GetDatum(t->peak_bytes);
	return HeapTupleGetDatum(heap_form_tuple(desc, v, nulls));
}

static int64
store(const char *name, const NtgTraining *t, const uint8_t *bytes, size_t n_bytes, bool replace)
{
	NtgStoredModel m = {0};
	bool		epochs = (t->kind->caps & NTG_CAP_EPOCHS) != 0;

	m.kind = t->kind->name;
	m.config_json = ntg_training_config_json(t);
	if (m.config_json == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	m.classes = t->model->classes;
	m.n_classes = t->model->n_classes;
	m.bytes = bytes;
	m.n_bytes = n_bytes;
	m.train_rows = t->train.n_rows;
	m.epochs = epochs ? t->epochs_run : 0;
	m.losses = epochs ? t->losses : NULL;
	m.val_losses = t->val_losses;
	m.best_epoch = t->best_epoch;
	m.train_seconds = t->seconds;
	m.epoch_seconds = epochs ? t->epoch_seconds : -1;
	m.peak_bytes = t->peak_bytes;
	m.parameters = t->model->n_params;
	return ntg_pg_model_store(name, &m, replace);
}

static Datum
train_and_store(FunctionCallInfo fcinfo, const char *name, const NtgModelKind *kind,
				const char *query, Jsonb *hyper, bool replace, const char *cmdname)
{
	MemoryContext callercxt = CurrentMemoryContext;
	MemoryContext traincxt;
	NtgTraining t;
	uint8_t    *bytes;
	size_t		n_bytes;
	int64		version;
	Datum		result;

	ntg_pg_model_check_storable(name, kind->name, replace, cmdname);
	traincxt = AllocSetContextCreate(callercxt, "ntg train", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(traincxt);
	train_model(&t, kind, query, hyper, &bytes, &n_bytes);
	version = store(name, &t, bytes, n_bytes, replace);
	MemoryContextSwitchTo(callercxt);
	result = train_result(fcinfo, name, &t, n_bytes, version);
	MemoryContextDelete(traincxt);
	return result;
}

PG_FUNCTION_INFO_V1(ntg_train);
Datum
ntg_train(PG_FUNCTION_ARGS)
{
	char	   *name = ntg_pg_text_arg(fcinfo, 0, "model");
	char	   *kind = ntg_pg_text_arg(fcinfo, 1, "kind");
	char	   *query = ntg_pg_text_arg(fcinfo, 2, "train_query");
	Jsonb	   *hyper;
	bool		replace;

	ntg_pg_require_arg(fcinfo, 3, "hyperparams");
	ntg_pg_require_arg(fcinfo, 4, "replace");
	hyper = PG_GETARG_JSONB_P(3);
	replace = PG_GETARG_BOOL(4);
	PG_RETURN_DATUM(train_and_store(fcinfo, name, find_kind(kind), query, hyper, replace,
									"ntg.train()"));
}

PG_FUNCTION_INFO_V1(ntg_rf_train_v2);
Datum
ntg_rf_train_v2(PG_FUNCTION_ARGS)
{
	char	   *name = ntg_pg_text_arg(fcinfo, 0, "model");
	char	   *query = ntg_pg_text_arg(fcinfo, 1, "train_query");
	Jsonb	   *hyper;
	bool		replace;

	ntg_pg_require_arg(fcinfo, 2, "hyperparams");
	ntg_pg_require_arg(fcinfo, 3, "replace");
	hyper = PG_GETARG_JSONB_P(2);
	replace = PG_GETARG_BOOL(3);
	PG_RETURN_DATUM(train_and_store(fcinfo, name, find_kind("random_forest"), query, hyper,
									replace, "ntg.rf_train()"));
}
