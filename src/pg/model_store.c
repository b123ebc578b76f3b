/*
 * model_store.c — the one path that writes a row of ntg.models, for every kind.
 *
 * Rows belong to a role (column owner, by default the role that trained the model) and row
 * security lets members of that role see, replace, rename and drop them (sql/ext/05_models.sql).
 * Before any training the write is tried in a subtransaction that is rolled back, so that every
 * refusal the final INSERT would meet — read-only transaction, missing privilege, a row-security
 * policy, a name that is taken (also by a model the caller cannot see) — comes before the work,
 * with the same messages as after it.  A stored model's bytes are written to its model file too.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "models_sql.h"
#include "ntg_glue.h"

#define STORE_COLS 14

static const char *const insert_sql =
	"INSERT INTO ntg.models AS m (name, kind, config, classes, weights, train_rows, epochs,"
	" loss_history, validation_loss, best_epoch, train_seconds, epoch_seconds, train_peak_bytes,"
	" parameters) VALUES ($1, $2, $3::pg_catalog.jsonb, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
	" $13, $14)";
static const char *const upsert_tail =
	" ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, config = EXCLUDED.config,"
	" classes = EXCLUDED.classes, weights = EXCLUDED.weights, train_rows = EXCLUDED.train_rows,"
	" epochs = EXCLUDED.epochs, loss_history = EXCLUDED.loss_history,"
	" validation_loss = EXCLUDED.validation_loss, best_epoch = EXCLUDED.best_epoch,"
	" train_seconds = EXCLUDED.train_seconds, epoch_seconds = EXCLUDED.epoch_seconds,"
	" train_peak_bytes = EXCLUDED.train_peak_bytes, parameters = EXCLUDED.parameters,"
	" version = m.version OPERATOR(pg_catalog.+) 1, updated_at = pg_catalog.now()";

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

/* The statement's parameters for a model (all NULL-able columns handled). */
static void
bind(const char *name, const NtgStoredModel *m, Datum *v, char *nulls)
{
	bytea	   *weights = palloc(VARHDRSZ + m->n_bytes);

	SET_VARSIZE(weights, VARHDRSZ + m->n_bytes);
	if (m->n_bytes > 0)
		memcpy(VARDATA(weights), m->bytes, m->n_bytes);
	memset(nulls, ' ', STORE_COLS);
	v[0] = CStringGetTextDatum(name);
	v[1] = CStringGetTextDatum(m->kind);
	v[2] = CStringGetTextDatum(m->config_json);
	v[3] = text_array(m->classes, m->n_classes);
	v[4] = PointerGetDatum(weights);
	v[5] = Int64GetDatum(m->train_rows);
	v[6] = Int32GetDatum(m->epochs);
	nulls[6] = m->epochs > 0 ? ' ' : 'n';
	nulls[7] = m->losses != NULL && m->epochs > 0 ? ' ' : 'n';
	v[7] = nulls[7] == ' ' ? float8_array(m->losses, m->epochs) : (Datum) 0;
	nulls[8] = m->val_losses != NULL && m->epochs > 0 ? ' ' : 'n';
	v[8] = nulls[8] == ' ' ? float8_array(m->val_losses, m->epochs) : (Datum) 0;
	v[9] = Int32GetDatum(m->best_epoch);
	nulls[9] = m->best_epoch > 0 ? ' ' : 'n';
	v[10] = Float8GetDatum(m->train_seconds);
	v[11] = Float8GetDatum(m->epoch_seconds);
	nulls[11] = m->epoch_seconds >= 0 ? ' ' : 'n';
	v[12] = Int64GetDatum(m->peak_bytes);
	nulls[12] = m->peak_bytes >= 0 ? ' ' : 'n';
	v[13] = Int64GetDatum(m->parameters);
}

/* Turn what the INSERT met into ntg's own message for a model name (or rethrow it). */
static void
raise_store_error(ErrorData *edata, const char *name, bool replace)
{
	NtgModelRow row;

	if (edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION)
	{
		bool		visible = ntg_pg_model_fetch(name, false, true, &row);

		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("model \"%s\" already exists", name),
				 visible ? 0 : errdetail("It belongs to a role whose models you cannot see."),
				 visible ? errhint("Pass replace => true to overwrite it, or drop it with ntg.drop_model().") : 0));
	}
	if (edata->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to store model \"%s\"", name),
				 errdetail_internal("%s", edata->message),
				 errhint(replace ?
						 "Storing needs INSERT and UPDATE on ntg.models, and replacing a model needs membership in the role that owns it." :
						 "Storing needs INSERT on ntg.models.")));
	ReThrowError(edata);
}

/*
 * The stored bytes go to the row version's model file now, while they are in memory, so that no
 * backend has to read them back out of the table (model_files.c).  Should the transaction abort,
 * the file names a row version nobody will see, and ntg.model_file_cache's bound removes it in time.
 */
static void
write_model_file(const char *name, const NtgStoredModel *m, int64 version, char *row_id)
{
	NtgModelRow row = {0};

	row.name = unconstify(char *, name);
	row.kind = unconstify(char *, m->kind);
	row.version = version;
	row.tuple_id = row_id;
	row.length = m->n_bytes;
	ntg_pg_model_file_store(&row, m->bytes, m->n_bytes);
}

/*
 * Run the INSERT (upsert with replace) in a subtransaction: rolled back for a trial, kept
 * otherwise; failures become raise_store_error()'s messages.  Returns the stored version.
 */
static int64
run_store(const char *name, const NtgStoredModel *m, bool replace, bool trial)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Oid			types[STORE_COLS] = {TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, BYTEAOID, INT8OID,
		INT4OID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, INT4OID, FLOAT8OID, FLOAT8OID, INT8OID, INT8OID};
	Datum		values[STORE_COLS];
	char		nulls[STORE_COLS];
	char	   *sql = psprintf("%s%s RETURNING m.version, %s", insert_sql,
								 replace ? upsert_tail : "", NTG_MODEL_ROW_ID);
	int64		version = 0;
	char	   *row_id = NULL;

	bind(name, m, values, nulls);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		int			nestlevel;
		bool		isnull;

		SPI_connect();
		/* Stored models compress well; lz4 (when the server has it) is far faster than pglz. */
		nestlevel = NewGUCNestLevel();
		(void) set_config_option("default_toast_compression", "lz4", PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, DEBUG1, false);
		if (SPI_execute_with_args(sql, STORE_COLS, types, values, nulls, false, 1) !=
			SPI_OK_INSERT_RETURNING || SPI_processed != 1)
			elog(ERROR, "could not store model \"%s\"", name);
		version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
											  &isnull));
		row_id = MemoryContextStrdup(cxt, SPI_getvalue(SPI_tuptable->vals[0],
													   SPI_tuptable->tupdesc, 2));
		AtEOXact_GUC(true, nestlevel);
		SPI_finish();
		if (trial)
			RollbackAndReleaseCurrentSubTransaction();
		else
			ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		raise_store_error(edata, name, replace);
	}
	PG_END_TRY();
	if (!trial)
		write_model_file(name, m, version, row_id);
	return version;
}

void
ntg_pg_model_check_storable(const char *name, const char *kind, bool replace, const char *cmdname)
{
	NtgStoredModel probe = {0};

	PreventCommandIfReadOnly(cmdname);
	if (name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name must not be empty")));
	probe.kind = kind;
	probe.config_json = "{}";
	probe.epoch_seconds = -1;
	probe.peak_bytes = -1;
	(void) run_store(name, &probe, replace, true);
}

int64
ntg_pg_model_store(const char *name, const NtgStoredModel *m, bool replace)
{
	return run_store(name, m, replace, false);
}
