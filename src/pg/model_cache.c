/*
 * model_cache.c — stored model -> loaded model, for every kind: fetch the row of ntg.models
 * through SPI (with the caller's privileges and row security), check the weights with the core
 * loader, and keep loaded models per backend so that many small calls (ntg.generate of a few
 * rows, ntg.rf_predict per row) do not parse megabytes each time.
 *
 * Key: the model name plus the row's identity (xmin, ctid) and version column.  Any UPDATE of the
 * row gives a new (xmin, ctid), so a stale entry is never used, even after a hand-made UPDATE;
 * rows rolled back never come back with the same xmin.  The row is looked up (one saved plan,
 * no weights) on every acquire, so a model a role may not see is never served from the cache.
 *
 * Bound: entries live in their own memory contexts under TopMemoryContext; the least recently
 * used unpinned entries are evicted while the cache holds more than ntg.model_cache_size.  An
 * entry in use (pinned by a running statement) is never freed under it; a model too large for the
 * cache is loaded for its statement alone.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/snapmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "models_sql.h"
#include "ntg_glue.h"

#define MAX_ENTRIES 16

typedef struct CacheEntry
{
	MemoryContext cxt;			/* NULL: slot free */
	char	   *name;
	char	   *tuple_id;
	int64		version;
	NtgModel   *model;
	Size		bytes;			/* memory of the loaded model */
	int			pins;
	bool		transient;		/* not in a slot: freed at unpin */
	bool		broken;			/* an error hit it while in use: never reuse */
	uint64		last_used;
} CacheEntry;

static CacheEntry cache[MAX_ENTRIES];
static uint64 use_clock = 0;

int			ntg_model_cache_kb = 256 * 1024;

/* ---- rows ----------------------------------------------------------------------------------- */

/* Saved plans of the two lookups: small calls should not parse and plan them each time. */
static SPIPlanPtr
lookup_plan(bool with_weights)
{
	static SPIPlanPtr plans[2];
	static const char *const sql[2] = {
		"SELECT kind, version, " NTG_MODEL_ROW_ID ","
		" pg_catalog.octet_length(weights) FROM ntg.models WHERE name OPERATOR(pg_catalog.=) $1",
		"SELECT kind, version, " NTG_MODEL_ROW_ID ","
		" pg_catalog.octet_length(weights), weights"
		" FROM ntg.models WHERE name OPERATOR(pg_catalog.=) $1"
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
		row->length = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
		if (isnull)
			row->length = 0;
		row->weights = NULL;
		if (with_weights)
		{
			Datum		w = SPI_getbinval(tup, desc, 5, &isnull);

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

void
ntg_pg_model_missing(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("model \"%s\" does not exist", name),
			 errhint("ntg.list_models() lists the models you can see.")));
	pg_unreachable();
}

/* What a capability is called in "model \"m\" is a KIND model, which cannot ...". */
static const char *
cap_verb(unsigned cap)
{
	return cap == NTG_CAP_GENERATE ? "generate rows" :
		cap == NTG_CAP_CLASSIFY ? "classify rows" :
		cap == NTG_CAP_QUANTIZE ? "be quantized" : "do this";
}

void
ntg_pg_model_require(const char *name, const NtgModelKind *kind, unsigned caps)
{
	if ((kind->caps & caps) == caps)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_WRONG_OBJECT_TYPE),
			 errmsg("model \"%s\" is a %s model, which cannot %s", name, kind->name,
					cap_verb(caps & ~kind->caps)),
			 errhint("Kinds that can: %s.", ntg_model_kind_names(caps))));
}

/* ---- loading -------------------------------------------------------------------------------- */

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

/*
 * Load a row into CurrentMemoryContext, or say what is wrong with it; NULL on a problem.  With
 * borrow the model may point into row->weights, which the caller then keeps as long as the model.
 */
static NtgModel *
load_row(const NtgModelRow *row, bool borrow, char **msg, char **detail)
{
	NtgModel   *model = NULL;
	NtgError	err;
	char	   *wk;

	*msg = *detail = NULL;
	if (row->weights == NULL)
	{
		*msg = psprintf("model \"%s\" has no weights", row->name);
		return NULL;
	}
	if ((borrow ? ntg_model_from_bytes_borrow : ntg_model_from_bytes)
		((const uint8_t *) VARDATA_ANY(row->weights), VARSIZE_ANY_EXHDR(row->weights), &model,
		 &err) != NTG_OK)
	{
		*msg = psprintf("model \"%s\" cannot be loaded: %s", row->name, err.msg);
		if (err.detail[0])
			*detail = pstrdup(err.detail);
		return NULL;
	}
	if (strcmp(model->kind->name, row->kind) != 0)
	{
		wk = weights_kind(row->weights);
		*msg = psprintf("model \"%s\" cannot be loaded: its kind column says \"%s\" but its weights hold a \"%s\" model",
						row->name, row->kind, wk ? wk : model->kind->name);
		ntg_model_destroy(model);
		return NULL;
	}
	return model;
}

static NtgModel *
model_from_row(const NtgModelRow *row, bool borrow)
{
	char	   *msg,
			   *detail;
	NtgModel   *model = load_row(row, borrow, &msg, &detail);

	if (model == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg_internal("%s", msg),
				 detail ? errdetail_internal("%s", detail) : 0,
				 errhint("Train it again with replace => true, or restore the row from a backup.")));
	return model;
}

NtgModel *
ntg_pg_model_from_row(const NtgModelRow *row)
{
	return model_from_row(row, false);
}

bool
ntg_pg_model_check_row(const NtgModelRow *row, char **problem)
{
	char	   *msg,
			   *detail;
	NtgModel   *model = load_row(row, false, &msg, &detail);

	if (model == NULL)
	{
		*problem = detail ? psprintf("%s (%s)", msg, detail) : msg;
		return false;
	}
	ntg_model_destroy(model);
	*problem = NULL;
	return true;
}

NtgModel *
ntg_pg_model_from_bytea(bytea *b)
{
	NtgModel   *model;
	NtgError	err;

	if (ntg_model_from_bytes((const uint8_t *) VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), &model,
							 &err) != NTG_OK)
		ereport(ERROR,
				(errcode(ntg_pg_errcode(err.code)),
				 errmsg("model value cannot be loaded: %s", err.msg),
				 err.detail[0] ? errdetail_internal("%s", err.detail) : 0));
	return model;
}

/* ---- cache ---------------------------------------------------------------------------------- */

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
	for (int i = 0; i < MAX_ENTRIES; i++)
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

static Size
cache_bytes(void)
{
	Size		total = 0;

	for (int i = 0; i < MAX_ENTRIES; i++)
		if (cache[i].cxt != NULL)
			total += cache[i].bytes;
	return total;
}

/* Evict least recently used unpinned entries until `need` more bytes fit the limit. */
static void
cache_make_room(Size need)
{
	Size		limit = (Size) ntg_model_cache_kb * 1024;

	while (cache_bytes() + need > limit)
	{
		CacheEntry *victim = NULL;

		for (int i = 0; i < MAX_ENTRIES; i++)
			if (cache[i].cxt != NULL && cache[i].pins == 0 &&
				(victim == NULL || cache[i].last_used < victim->last_used))
				victim = &cache[i];
		if (victim == NULL)
			return;
		entry_free(victim);
	}
}

/* Where a freshly loaded model of `bytes` goes: a free slot (after eviction), or transient. */
static CacheEntry *
cache_place(Size bytes)
{
	CacheEntry *e;

	if (bytes <= (Size) ntg_model_cache_kb * 1024)
	{
		cache_make_room(bytes);
		if (cache_bytes() + bytes <= (Size) ntg_model_cache_kb * 1024)
		{
			CacheEntry *victim = NULL;

			for (int i = 0; i < MAX_ENTRIES; i++)
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
		}
	}
	e = MemoryContextAllocZero(TopMemoryContext, sizeof(CacheEntry));
	e->transient = true;
	return e;
}

/* The model in a mapped model file, or NULL when there is no usable file (a damaged or foreign
 * one is removed). */
static NtgModel *
load_mapped(const NtgModelRow *meta, MemoryContext cxt)
{
	const uint8 *mapped = ntg_pg_model_file_map(meta, meta->length, cxt);
	NtgModel   *model;
	NtgError	err;

	if (mapped == NULL)
		return NULL;
	if (ntg_model_from_bytes_borrow(mapped, meta->length, &model, &err) == NTG_OK)
	{
		if (strcmp(model->kind->name, meta->kind) == 0)
			return model;
		ntg_model_destroy(model);
	}
	ntg_pg_model_file_forget(meta, meta->length);
	return NULL;
}

/*
 * The row's weights moved to a copy that starts at a cache-line boundary (a detoasted bytea's
 * data starts 4 bytes into its allocation): the model computes from them in place, and the
 * stored tensors are aligned relative to the value's start (ntg_blob_align_last).
 */
static void
align_weights(NtgModelRow *row)
{
	Size		len = VARSIZE_ANY_EXHDR(row->weights);
	char	   *block = palloc_extended(len + NTG_BLOB_ALIGN + VARHDRSZ, MCXT_ALLOC_HUGE);
	bytea	   *aligned = (bytea *) (TYPEALIGN(NTG_BLOB_ALIGN, block + VARHDRSZ) - VARHDRSZ);

	SET_VARSIZE(aligned, len + VARHDRSZ);
	memcpy(VARDATA(aligned), VARDATA_ANY(row->weights), len);
	pfree(row->weights);
	row->weights = aligned;		/* inside block: freed with its context, never by pfree */
}

/*
 * The model of a row version into cxt, pointing into its bytes (no second copy of its tensors):
 * the bytes of the server's model file when there is one (model_files.c; mapped, shared with the
 * other backends), else the row's weights read from the table, which are then written to a model
 * file for the next backends and this one.  *key is the row version the model is of; key->weights
 * is NULL when the model reads a mapped file.
 */
static NtgModel *
load_into(const char *name, const NtgModelRow *meta, MemoryContext cxt, NtgModelRow *key)
{
	NtgModel   *model = load_mapped(meta, cxt);

	if (model != NULL)
	{
		*key = *meta;
		return model;
	}
	/* an error deletes cxt with its parent, the statement's context */
	ntg_pg_model_fetch(name, true, false, key);
	/* a damaged row's file fails load_mapped's checks: then the row's error comes below */
	ntg_pg_model_file_store(key, (const uint8 *) VARDATA_ANY(key->weights),
							VARSIZE_ANY_EXHDR(key->weights));
	if ((model = load_mapped(key, cxt)) != NULL)
	{
		pfree(key->weights);	/* the shared file replaces this backend's copy */
		key->weights = NULL;
		return model;
	}
	align_weights(key);
	return model_from_row(key, true);
}

/* Load a model into a new context; place it in the cache (or transiently) once it passed. */
static CacheEntry *
cache_fill(const char *name, const NtgModelRow *meta)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "ntg model",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	NtgModelRow key;
	NtgModel   *model;
	CacheEntry *e;
	Size		bytes;

	model = load_into(name, meta, cxt, &key);
	MemoryContextSwitchTo(old);
	/* a mapped file counts too: it is what the model reads */
	bytes = MemoryContextMemAllocated(cxt, true) + (key.weights == NULL ? key.length : 0);
	e = cache_place(bytes);
	MemoryContextSetParent(cxt, TopMemoryContext);
	e->cxt = cxt;
	e->model = model;
	e->bytes = bytes;
	e->name = MemoryContextStrdup(cxt, key.name);
	e->tuple_id = MemoryContextStrdup(cxt, key.tuple_id);
	e->version = key.version;
	MemoryContextSetIdentifier(cxt, e->name);
	return e;
}

/*
 * A model whose kind column names a kind that cannot do what is asked: 42809, unless its weights
 * hold another kind, which is damage (XX001, as loading it would say).  Nothing is loaded.
 */
static void
refuse_unable(NtgModelRow *row, unsigned need_caps)
{
	const NtgModelKind *kind = ntg_model_kind_find(row->kind);
	char	   *wk;

	if (kind == NULL || (kind->caps & need_caps) == need_caps)
		return;
	ntg_pg_model_fetch(row->name, true, false, row);
	wk = weights_kind(row->weights);
	if (wk != NULL && strcmp(wk, row->kind) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("model \"%s\" cannot be loaded: its kind column says \"%s\" but its weights hold a \"%s\" model",
						row->name, row->kind, wk),
				 errhint("Train it again with replace => true, or restore the row from a backup.")));
	ntg_pg_model_require(row->name, kind, need_caps);
}

/*
 * The row lookup a statement has made already.  One execution of a statement reads ntg.models
 * through one snapshot, so many small calls at one place of it (a LATERAL ntg.generate per row,
 * ntg.rf_predict per row) see the same row version and look the model up once.  The memo belongs
 * to the call site's statement: the memory context its function calls live in (fn_mcxt, the
 * executor's query context), and is forgotten when that context is reset or deleted, so it never
 * outlives the statement, nor is it mistaken for a later statement's whose context or snapshot
 * happens to reuse the same address.  The transaction, command, role and the active snapshot's
 * contents (its bounds, command and in-progress transactions) are compared too: a call that runs
 * under another of them, such as a PL/pgSQL loop whose statements each take a new snapshot, looks
 * the row up again.
 */
#define MEMO_MAX_XIDS 32			/* snapshots with more in-progress transactions: no memo */

typedef struct LookupMemo
{
	MemoryContext statement;	/* NULL: nothing remembered */
	char		name[NAMEDATALEN * 2];
	LocalTransactionId lxid;
	CommandId	cid;
	Snapshot	snapshot;
	TransactionId snapshot_xmin;
	TransactionId snapshot_xmax;
	CommandId	snapshot_cid;
	uint32		snapshot_xcnt;
	int32		snapshot_subxcnt;
	bool		snapshot_suboverflowed;
	TransactionId snapshot_xip[MEMO_MAX_XIDS];
	TransactionId snapshot_subxip[MEMO_MAX_XIDS];
	Oid			role;
	CacheEntry *entry;
	char		tuple_id[64];
} LookupMemo;

static LookupMemo memo;

/* snap sees what the remembered snapshot saw: same bounds, command and in-progress xids */
static bool
memo_same_snapshot(Snapshot snap)
{
	return memo.snapshot_xmin == snap->xmin && memo.snapshot_xmax == snap->xmax &&
		memo.snapshot_cid == snap->curcid && memo.snapshot_xcnt == snap->xcnt &&
		memo.snapshot_subxcnt == snap->subxcnt &&
		memo.snapshot_suboverflowed == snap->suboverflowed &&
		memcmp(memo.snapshot_xip, snap->xip, snap->xcnt * sizeof(TransactionId)) == 0 &&
		memcmp(memo.snapshot_subxip, snap->subxip, snap->subxcnt * sizeof(TransactionId)) == 0;
}

static CacheEntry *
memo_lookup(MemoryContext statement, const char *name)
{
	Snapshot	snap = ActiveSnapshotSet() ? GetActiveSnapshot() : NULL;
	CacheEntry *e = memo.entry;

	if (statement == NULL || memo.statement != statement || e == NULL || snap == NULL ||
		memo.snapshot != snap || !memo_same_snapshot(snap) ||
		memo.lxid != MyProc->lxid || memo.cid != GetCurrentCommandId(false) ||
		memo.role != GetUserId() || strcmp(memo.name, name) != 0)
		return NULL;
	/* the entry may have been evicted or replaced since */
	if (e->cxt == NULL || e->broken || strcmp(e->name, name) != 0 ||
		strcmp(e->tuple_id, memo.tuple_id) != 0)
		return NULL;
	return e;
}

/* The statement's context is going away (reset or deleted): its memo goes with it. */
static void
memo_forget(void *arg)
{
	if (memo.statement == (MemoryContext) arg)
	{
		memo.statement = NULL;
		memo.entry = NULL;
	}
}

static void
memo_remember(MemoryContext statement, const char *name, CacheEntry *e)
{
	Snapshot	snap = ActiveSnapshotSet() ? GetActiveSnapshot() : NULL;

	memo.entry = NULL;
	if (statement == NULL)
		return;
	if (statement != memo.statement)
	{
		MemoryContextCallback *cb;

		/* once per context, even when calls of two statements take turns (nested queries) */
		for (cb = statement->reset_cbs; cb != NULL; cb = cb->next)
			if (cb->func == memo_forget && cb->arg == statement)
				break;
		if (cb == NULL)
		{
			cb = MemoryContextAlloc(statement, sizeof(MemoryContextCallback));
			cb->func = memo_forget;
			cb->arg = statement;
			MemoryContextRegisterResetCallback(statement, cb);
		}
		memo.statement = statement;
	}
	if (snap == NULL || strlen(name) >= sizeof(memo.name) ||
		strlen(e->tuple_id) >= sizeof(memo.tuple_id) || snap->xcnt > MEMO_MAX_XIDS ||
		snap->subxcnt < 0 || snap->subxcnt > MEMO_MAX_XIDS)
		return;
	strcpy(memo.name, name);
	strcpy(memo.tuple_id, e->tuple_id);
	memo.lxid = MyProc->lxid;
	memo.cid = GetCurrentCommandId(false);
	memo.snapshot = snap;
	memo.snapshot_xmin = snap->xmin;
	memo.snapshot_xmax = snap->xmax;
	memo.snapshot_cid = snap->curcid;
	memo.snapshot_xcnt = snap->xcnt;
	memo.snapshot_subxcnt = snap->subxcnt;
	memo.snapshot_suboverflowed = snap->suboverflowed;
	memcpy(memo.snapshot_xip, snap->xip, snap->xcnt * sizeof(TransactionId));
	memcpy(memo.snapshot_subxip, snap->subxip, snap->subxcnt * sizeof(TransactionId));
	memo.role = GetUserId();
	memo.entry = e;
}

void
ntg_pg_model_acquire(const char *name, unsigned need_caps, MemoryContext owner,
					 MemoryContext statement, NtgModelRef *ref)
{
	NtgModelRow row;
	CacheEntry *e;
	MemoryContextCallback *cb;

	if ((e = memo_lookup(statement, name)) == NULL)
	{
		ntg_pg_model_fetch(name, false, false, &row);
		refuse_unable(&row, need_caps);
		e = cache_lookup(&row);
		if (e == NULL)
			e = cache_fill(name, &row);
		memo_remember(statement, name, e);
	}
	ntg_pg_model_require(name, e->model->kind, need_caps);
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

	if (ref->model->kind->caps & NTG_CAP_DEVICE)
		ntg_pg_device_check();	/* 'cuda' without a device: the cached model stays good */
	PG_TRY();
	{
		/* in the model's context: its device buffers live and die with the entry */
		rc = ntg_model_set_device(ref->model, ntg_pg_device_mode(), &err);
		if (rc == NTG_OK)
			rc = ntg_model_sample(ref->model, class_index, n, opts, rng, out, out_len, &err);
	}
	PG_CATCH();
	{
		e->broken = true;
		MemoryContextSwitchTo(old);
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	/* buffers a model makes on first use (a KV cache) count towards the bound */
	e->bytes = Max(e->bytes, MemoryContextMemAllocated(e->cxt, true));
	if (rc != NTG_OK)
	{
		e->broken = true;
		ntg_pg_raise(&err);
	}
}
