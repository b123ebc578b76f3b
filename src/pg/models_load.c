/*
 * models_load.c — stored generator -> loaded model: fetch the row of ntg.models through SPI (with
 * the caller's privileges), check the weights with the core loader, and keep a few loaded models
 * per backend so that many small ntg.generate() calls do not parse megabytes each time.
 *
 * Cache key: the model name plus the row's identity (xmin, ctid) and version column.  Any UPDATE
 * of the row gives a new (xmin, ctid), so a stale entry is never used, even for a hand-made UPDATE
 * of the weights; rows rolled back never come back with the same xmin.  Entries live in their own
 * memory contexts under TopMemoryContext; an entry in use by a running scan is pinned.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "models_sql.h"
#include "ntg_glue.h"

#define MODEL_CACHE_SLOTS 4

typedef struct CacheEntry
{
	MemoryContext cxt;			/* NULL: slot free */
	char	   *name;
	char	   *tuple_id;
	int64		version;
	NtgGenModel *model;
	int			pins;
	bool		transient;		/* not in a slot: freed at unpin */
	bool		broken;			/* an error hit it while in use: never reuse */
	uint64		last_used;
} CacheEntry;

static CacheEntry cache[MODEL_CACHE_SLOTS];
static uint64 use_clock = 0;

void
ntg_pg_model_missing(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("model \"%s\" does not exist", name),
			 errhint("ntg.list_models() lists the stored models.")));
	pg_unreachable();
}

/* Saved plans of the two lookups: small ntg.generate() calls should not parse and plan them. */
static SPIPlanPtr
lookup_plan(bool with_weights)
{
	static SPIPlanPtr plans[2];
	static const char *const sql[2] = {
		"SELECT kind, version, xmin::text || ':' || ctid::text FROM ntg.models WHERE name = $1",
		"SELECT kind, version, xmin::text || ':' || ctid::text, weights FROM ntg.models WHERE name = $1"
	};
	Oid			argtypes[1] = {TEXTOID};
	SPIPlanPtr *slot = &plans[with_weights ? 1 : 0];

	if (*slot == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql[with_weights ? 1 : 0], 1, argtypes);

		if (plan == NULL)
			elog(ERROR, "could not prepare a query on ntg.models: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		*slot = plan;
	}
	return *slot;
}

bool
ntg_pg_model_fetch(const char *name, bool with_weights, bool missing_ok, NtgModelRow *row)
{
	MemoryContext callercxt = CurrentMemoryContext;
	Datum		args[1];
	bool		found;

	args[0] = CStringGetTextDatum(name);
	SPI_connect();
	if (SPI_execute_plan(lookup_plan(with_weights), args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read ntg.models: %s", SPI_result_code_string(SPI_result));
	found = SPI_processed > 0;
	if (found)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(callercxt);

		row->name = pstrdup(name);
		row->kind = SPI_getvalue(tup, desc, 1);
		row->version = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		row->tuple_id = SPI_getvalue(tup, desc, 3);
		row->weights = NULL;
		if (with_weights)
		{
			Datum		w = SPI_getbinval(tup, desc, 4, &isnull);

			if (!isnull)
				row->weights = (bytea *) PG_DETOAST_DATUM_COPY(w);
		}
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	if (!found && !missing_ok)
		ntg_pg_model_missing(name);
	return found;
}

/* The kind named inside the weights, when they parse as a container (else NULL). */
static char *
weights_kind(const bytea *w)
{
	NtgBlob		blob;
	NtgError	err;
	char	   *kind;

	if (w == NULL ||
		ntg_blob_parse((const uint8_t *) VARDATA_ANY(w), VARSIZE_ANY_EXHDR(w), &blob, &err) != NTG_OK)
		return NULL;
	kind = pstrdup(blob.kind);
	ntg_blob_free(&blob);
	return kind;
}

static void
kind_mismatch(const NtgModelRow *row, const char *weights_kind, int *sqlstate, char **msg)
{
	*sqlstate = ERRCODE_DATA_CORRUPTED;
	*msg = psprintf("model \"%s\" cannot be loaded: its kind column says \"%s\" but its weights hold a \"%s\" model",
					row->name, row->kind, weights_kind);
}

/* Load a row, or say what is wrong with it (SQLSTATE, message, detail); NULL on a problem. */
static NtgGenModel *
load_row(const NtgModelRow *row, int *sqlstate, char **msg, char **detail)
{
	NtgGenModel *model = NULL;
	NtgError	err;
	int			rc;

	*msg = *detail = NULL;
	if (ntg_gen_kind_find(row->kind) == NULL)
	{
		/* Weights of another kind under this kind's name are damage, not a wrong request. */
		char	   *wk = weights_kind(row->weights);

		if (wk != NULL && strcmp(wk, row->kind) != 0)
		{
			kind_mismatch(row, wk, sqlstate, msg);
			return NULL;
		}
		*sqlstate = ERRCODE_WRONG_OBJECT_TYPE;
		*msg = psprintf("model \"%s\" is not a generator", row->name);
		*detail = psprintf("Its kind is \"%s\"; generator kinds are: %s.", row->kind,
						   ntg_gen_kind_names());
		return NULL;
	}
	if (row->weights == NULL)
	{
		*sqlstate = ERRCODE_DATA_CORRUPTED;
		*msg = psprintf("model \"%s\" has no weights", row->name);
		return NULL;
	}
	rc = ntg_gen_model_from_bytes((const uint8_t *) VARDATA_ANY(row->weights),
								  VARSIZE_ANY_EXHDR(row->weights), &model, &err);
	if (rc != NTG_OK)
	{
		*sqlstate = ntg_pg_errcode(err.code);
		*msg = psprintf("model \"%s\" cannot be loaded: %s", row->name, err.msg);
		if (err.detail[0])
			*detail = pstrdup(err.detail);
		return NULL;
	}
	if (strcmp(model->kind->name, row->kind) != 0)
	{
		kind_mismatch(row, model->kind->name, sqlstate, msg);
		model->kind->destroy(model);
		return NULL;
	}
	return model;
}

NtgGenModel *
ntg_pg_model_from_row(const NtgModelRow *row)
{
	int			sqlstate;
	char	   *msg,
			   *detail;
	NtgGenModel *model = load_row(row, &sqlstate, &msg, &detail);

	if (model == NULL)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg_internal("%s", msg),
				 detail ? errdetail_internal("%s", detail) : 0,
				 sqlstate == ERRCODE_DATA_CORRUPTED
				 ? errhint("Train it again with ntg.train(..., replace => true), or restore the row from a backup.")
				 : 0));
	return model;
}

bool
ntg_pg_model_check_row(const NtgModelRow *row, char **problem)
{
	int			sqlstate;
	char	   *msg,
			   *detail;
	NtgGenModel *model = load_row(row, &sqlstate, &msg, &detail);

	if (model == NULL)
	{
		*problem = detail ? psprintf("%s (%s)", msg, detail) : msg;
		return false;
	}
	model->kind->destroy(model);
	*problem = NULL;
	return true;
}

/* ---- cache --------------------------------------------------------------------------------- */

static void
entry_free(CacheEntry *e)
{
	/* The model's memory is all in e->cxt (ntg_malloc allocates in the current context). */
	if (e->cxt != NULL)
		MemoryContextDelete(e->cxt);
	if (e->transient)
		pfree(e);
	else
		memset(e, 0, sizeof(*e));
}

static void
entry_unpin(void *arg)
{
	CacheEntry *e = (CacheEntry *) arg;

	Assert(e->pins > 0);
	if (--e->pins == 0 && (e->transient || e->broken))
		entry_free(e);
}

static CacheEntry *
cache_lookup(const NtgModelRow *row)
{
	for (int i = 0; i < MODEL_CACHE_SLOTS; i++)
	{
		CacheEntry *e = &cache[i];

		if (e->cxt == NULL || strcmp(e->name, row->name) != 0)
			continue;
		if (!e->broken && strcmp(e->tuple_id, row->tuple_id) == 0 && e->version == row->version)
			return e;
		if (e->pins == 0)
			entry_free(e);		/* stale: the row changed since */
	}
	return NULL;
}

/* A free slot (evicting the least recently used unpinned entry), or a transient entry. */
static CacheEntry *
cache_slot(void)
{
	CacheEntry *victim = NULL;
	CacheEntry *e;

	for (int i = 0; i < MODEL_CACHE_SLOTS; i++)
	{
		if (cache[i].cxt == NULL)
			return &cache[i];
		if (cache[i].pins == 0 && (victim == NULL || cache[i].last_used < victim->last_used))
			victim = &cache[i];
	}
	if (victim != NULL)
	{
		entry_free(victim);
		return victim;
	}
	e = MemoryContextAllocZero(TopMemoryContext, sizeof(CacheEntry));
	e->transient = true;
	return e;
}

static CacheEntry *
cache_fill(CacheEntry *e, const NtgModelRow *row)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "ntg model cache",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);

	PG_TRY();
	{
		e->model = ntg_pg_model_from_row(row);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		if (e->transient)
			pfree(e);
		PG_RE_THROW();
	}
	PG_END_TRY();
	e->name = pstrdup(row->name);
	e->tuple_id = pstrdup(row->tuple_id);
	e->version = row->version;
	MemoryContextSwitchTo(old);
	e->cxt = cxt;
	MemoryContextSetIdentifier(cxt, e->name);
	return e;
}

void
ntg_pg_model_acquire(const char *name, MemoryContext owner, NtgModelRef *ref)
{
	NtgModelRow row;
	CacheEntry *e;
	MemoryContextCallback *cb;

	ntg_pg_model_fetch(name, false, false, &row);
	e = cache_lookup(&row);
	if (e == NULL)
	{
		/* Read the weights; the row may have changed in between, so key on what we read. */
		ntg_pg_model_fetch(name, true, false, &row);
		e = cache_lookup(&row);
		if (e == NULL)
			e = cache_fill(cache_slot(), &row);
		if (row.weights != NULL)
			pfree(row.weights);
	}
	e->last_used = ++use_clock;
	cb = MemoryContextAlloc(owner, sizeof(MemoryContextCallback));
	cb->func = entry_unpin;
	cb->arg = e;
	e->pins++;
	MemoryContextRegisterResetCallback(owner, cb);
	ref->model = e->model;
	ref->entry = e;
}

void
ntg_pg_model_sample(NtgModelRef *ref, int class_index, int n, const NtgSampleOptions *opts,
					NtgRng *rng, int32_t *out, int *out_len)
{
	CacheEntry *e = (CacheEntry *) ref->entry;
	MemoryContext old = MemoryContextSwitchTo(e->cxt);
	NtgError	err;
	int			rc = NTG_OK;

	PG_TRY();
	{
		rc = ref->model->kind->sample(ref->model, class_index, n, opts, rng, out, out_len, &err);
	}
	PG_CATCH();
	{
		e->broken = true;
		MemoryContextSwitchTo(old);
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	if (rc != NTG_OK)
	{
		e->broken = true;
		ntg_pg_raise(&err);
	}
}
