/*
 * forest_sql.c — ntg.rf_train and the prediction functions of the Random Forest.
 *
 * rf_predict(name, pl) is STABLE: it reads ntg.models, so within one statement it sees one version
 * of the model, and it is parallel safe (a read-only lookup).  The forest is looked up once per
 * statement (kept in fn_extra) and loaded once per backend and model version (forest_cache.c).
 * rf_predict_model(weights, pl) takes the model value itself and is IMMUTABLE.
 */
#include "postgres.h"

#include <time.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "common/params.h"
#include "common/seqset.h"
#include "forest/forest.h"
#include "forest_glue.h"
#include "ntg_glue.h"

/* ---- training ----------------------------------------------------------------------------- */

/* Parse hyperparameters (argument i, NULL = defaults) into cfg. */
static void
forest_config_arg(FunctionCallInfo fcinfo, int i, NtgForestConfig *cfg)
{
	NtgParams	params;
	NtgError	err;

	ntg_pg_params_from_jsonb(PG_ARGISNULL(i) ? NULL : PG_GETARG_JSONB_P(i), &params);
	NTG_PG_CHECK(ntg_forest_config_from_params(&params, cfg, &err), &err);
}

/* Collect the rows of a query and refuse an empty set. */
static void
collect_nonempty(const char *query, const char *argname, NtgSeqSet *set)
{
	ntg_pg_collect_seqs(query, argname, set);
	if (set->n_rows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("training set is empty"),
				 errdetail("The query given as %s returned no rows.", argname)));
}

void
ntg_forest_fit(const char *source, const NtgForestConfig *cfg, NtgForest *f, int64 *rows,
			   double *seconds)
{
	NtgSeqSet	set;
	NtgError	err;
	struct timespec t0,
				t1;

	collect_nonempty(source, "source", &set);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	NTG_PG_CHECK(ntg_forest_train(&set, cfg, f, &err), &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*rows = set.n_rows;
	*seconds = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
	ntg_seqset_free(&set);
}

static bool
model_exists(const char *name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(name)};

	SPI_execute_with_args("SELECT 1 FROM ntg.models WHERE name = $1", 1, argtypes, args, NULL,
						  false, 1);
	return SPI_processed > 0;
}

static Datum
text_array(char **items, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * n);

	for (int i = 0; i < n; i++)
		d[i] = CStringGetTextDatum(items[i]);
	return PointerGetDatum(construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT));
}

static void
store_model(const char *name, bool replace, const NtgForest *f, int64 rows, double seconds)
{
	static const char *insert_sql =
		"INSERT INTO ntg.models AS m (name, kind, config, classes, weights, train_rows, train_seconds, parameters) "
		"VALUES ($1, '" NTG_FOREST_KIND "', $2::jsonb, $3, $4, $5, $6, $7) ";
	static const char *upsert_tail =
		"ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, config = excluded.config, "
		"classes = excluded.classes, weights = excluded.weights, train_rows = excluded.train_rows, "
		"epochs = NULL, loss_history = NULL, validation_loss = NULL, best_epoch = NULL, train_seconds = excluded.train_seconds, "
		"parameters = excluded.parameters, version = m.version + 1, updated_at = now()";
	Oid			argtypes[7] = {TEXTOID, TEXTOID, TEXTARRAYOID, BYTEAOID, INT8OID, FLOAT8OID, INT8OID};
	Datum		args[7];
	uint8_t    *buf;
	size_t		len;
	bytea	   *weights;
	char	   *config = ntg_forest_config_json(&f->config);
	NtgError	err;
	int			nestlevel;

	NTG_PG_CHECK(ntg_forest_serialize(f, &buf, &len, &err), &err);
	weights = palloc(VARHDRSZ + len);
	SET_VARSIZE(weights, VARHDRSZ + len);
	memcpy(VARDATA(weights), buf, len);
	args[0] = CStringGetTextDatum(name);
	args[1] = CStringGetTextDatum(config);
	args[2] = text_array(f->classes, f->n_classes);
	args[3] = PointerGetDatum(weights);
	args[4] = Int64GetDatum(rows);
	args[5] = Float8GetDatum(seconds);
	args[6] = Int64GetDatum((int64) f->n_nodes);

	SPI_connect();
	/*
	 * Node tables compress well, and pglz takes longer over a few MB than growing the trees did; lz4
	 * (when the server has it) is an order of magnitude faster.  Set for this INSERT only, as a
	 * function's SET clause would.
	 */
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("default_toast_compression", "lz4", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, DEBUG1, false);
	if (!replace && model_exists(name))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("model \"%s\" already exists", name),
				 errhint("Pass replace => true to overwrite it.")));
	if (SPI_execute_with_args(psprintf("%s%s", insert_sql, replace ? upsert_tail : ""),
							  7, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not store model \"%s\"", name);
	AtEOXact_GUC(true, nestlevel);
	SPI_finish();
}

PG_FUNCTION_INFO_V1(ntg_rf_train);
Datum
ntg_rf_train(PG_FUNCTION_ARGS)
{
	NtgForestConfig cfg;
	NtgForest	f;
	char	   *name;
	int64		rows;
	double		seconds;

	ntg_pg_require_arg(fcinfo, 0, "name");
	ntg_pg_require_arg(fcinfo, 1, "source");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name must not be empty")));
	forest_config_arg(fcinfo, 2, &cfg);
	ntg_forest_fit(text_to_cstring(PG_GETARG_TEXT_PP(1)), &cfg, &f, &rows, &seconds);
	store_model(name, !PG_ARGISNULL(3) && PG_GETARG_BOOL(3), &f, rows, seconds);
	PG_RETURN_INT64((int64) f.n_nodes);
}

/* ---- prediction --------------------------------------------------------------------------- */

/* What rf_predict keeps in fn_extra for the rest of the statement. */
typedef struct PredictState
{
	char	   *name;
	const NtgForest *forest;
	Datum		model_datum;	/* rf_predict_model: the argument last seen */
	int64		model_len;
	uint32		model_crc;
	MemoryContext model_cxt;
	NtgForest	model;
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

/* The forest named by argument 0, looked up once per statement and name. */
static const NtgForest *
forest_arg(FunctionCallInfo fcinfo)
{
	PredictState *st = predict_state(fcinfo);
	text	   *t = PG_GETARG_TEXT_PP(0);
	int			len = VARSIZE_ANY_EXHDR(t);

	if (st->name == NULL || (int) strlen(st->name) != len || memcmp(st->name, VARDATA_ANY(t), len) != 0)
	{
		char	   *name = text_to_cstring(t);

		st->forest = ntg_forest_by_name(name);
		st->name = MemoryContextStrdup(fcinfo->flinfo->fn_mcxt, name);
	}
	return st->forest;
}

/* The forest in a bytea argument 0, parsed once per statement and distinct value. */
static const NtgForest *
forest_bytea_arg(FunctionCallInfo fcinfo)
{
	PredictState *st = predict_state(fcinfo);
	Datum		d = PG_GETARG_DATUM(0);
	bytea	   *b;
	const uint8 *p;
	int64		len;
	uint32		crc;

	if (st->model_cxt != NULL && d == st->model_datum)
		return &st->model;
	b = DatumGetByteaPP(d);
	len = VARSIZE_ANY_EXHDR(b);
	p = (const uint8 *) VARDATA_ANY(b);
	crc = len >= 4 ? (uint32) p[len - 4] | (uint32) p[len - 3] << 8 | (uint32) p[len - 2] << 16 |
		(uint32) p[len - 1] << 24 : 0;
	if (st->model_cxt == NULL || len != st->model_len || crc != st->model_crc)
	{
		MemoryContext cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "ntg random forest",
												  ALLOCSET_DEFAULT_SIZES),
					old = MemoryContextSwitchTo(cxt);
		NtgError	err;
		int			rc = ntg_forest_load(p, len, &st->model, &err);

		MemoryContextSwitchTo(old);
		if (rc != NTG_OK)
		{
			MemoryContextDelete(cxt);
			st->model_cxt = NULL;
			ntg_forest_raise_load(NULL, &err);
		}
		if (st->model_cxt != NULL)
			MemoryContextDelete(st->model_cxt);
		st->model_cxt = cxt;
		st->model_len = len;
		st->model_crc = crc;
	}
	st->model_datum = d;
	return &st->model;
}

static int
predict_arg(const NtgForest *f, FunctionCallInfo fcinfo)
{
	PredictState *st = predict_state(fcinfo);
	int32		buf[NTG_FOREST_MAX_FEATURES];
	int			n = ntg_pl_array_prefix(PG_GETARG_ARRAYTYPE_P(1), buf, f->n_features, "pl");

	/* scratch for the class probabilities, kept for the statement */
	if (st->n_proba < f->n_classes)
	{
		st->proba = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(double) * f->n_classes);
		st->n_proba = f->n_classes;
	}
	return ntg_forest_predict(f, buf, n, st->proba);
}

PG_FUNCTION_INFO_V1(ntg_rf_predict);
Datum
ntg_rf_predict(PG_FUNCTION_ARGS)
{
	const NtgForest *f = forest_arg(fcinfo);

	PG_RETURN_TEXT_P(cstring_to_text(f->classes[predict_arg(f, fcinfo)]));
}

PG_FUNCTION_INFO_V1(ntg_rf_predict_model);
Datum
ntg_rf_predict_model(PG_FUNCTION_ARGS)
{
	const NtgForest *f = forest_bytea_arg(fcinfo);

	PG_RETURN_TEXT_P(cstring_to_text(f->classes[predict_arg(f, fcinfo)]));
}

/* {"class": probability, ...} for every class of the model, in class order. */
static Datum
proba_jsonb(const NtgForest *f, FunctionCallInfo fcinfo)
{
	int32		buf[NTG_FOREST_MAX_FEATURES];
	int			n = ntg_pl_array_prefix(PG_GETARG_ARRAYTYPE_P(1), buf, f->n_features, "pl");
	double	   *p = palloc(sizeof(double) * f->n_classes);
	StringInfoData s;

	ntg_forest_predict_proba(f, buf, n, p);
	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	for (int k = 0; k < f->n_classes; k++)
	{
		if (k > 0)
			appendStringInfoString(&s, ", ");
		escape_json(&s, f->classes[k]);
		appendStringInfo(&s, ": %.6g", p[k]);
	}
	appendStringInfoChar(&s, '}');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data));
}

PG_FUNCTION_INFO_V1(ntg_rf_predict_proba);
Datum
ntg_rf_predict_proba(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(proba_jsonb(forest_arg(fcinfo), fcinfo));
}

PG_FUNCTION_INFO_V1(ntg_rf_predict_proba_model);
Datum
ntg_rf_predict_proba_model(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(proba_jsonb(forest_bytea_arg(fcinfo), fcinfo));
}
