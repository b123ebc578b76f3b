/*
 * forest_cache.c — forests loaded from ntg.models, cached per backend.
 *
 * An entry per model name lives in TopMemoryContext for the life of the backend; its forest lives
 * in a child context that is replaced whenever the stored value changes.  The key is checked with
 * one small query (the row version's xmin and ctid, `version`, the value's length and its stored
 * CRC, i.e. its last 4 bytes) each time a caller asks — once per statement for rf_predict — so any
 * UPDATE of the row, even one that forgets to bump `version` or damages the bytes, is seen (and
 * the new value checked) by the next statement.  A forest is loaded in a context under the
 * caller's and moved under TopMemoryContext only once it has passed every check, so a damaged value
 * or a cancel during loading leaks nothing.  Entries are never freed while the backend lives (a
 * running statement may hold a pointer to one); a changed model replaces the forest inside its
 * entry.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "forest_glue.h"
#include "ntg_glue.h"

typedef struct ForestCacheEntry
{
	struct ForestCacheEntry *next;
	char	   *name;
	int64		version;
	int64		length;
	uint32		crc;
	char		tuple_id[64];	/* xmin and ctid of the row version loaded */
	MemoryContext cxt;			/* holds forest; NULL when nothing is loaded */
	NtgForest	forest;
} ForestCacheEntry;

static ForestCacheEntry *forest_cache = NULL;

void
ntg_forest_raise_load(const char *name, const NtgError *err)
{
	ereport(ERROR,
			(errcode(ntg_pg_errcode(err->code)),
			 name ? errmsg("cannot load random forest \"%s\": %s", name, err->msg) :
			 errmsg("cannot load random forest: %s", err->msg),
			 err->detail[0] ? errdetail_internal("%s", err->detail) : 0,
			 err->code == NTG_ERR_CORRUPT && name ?
			 errhint("Train the model again with ntg.rf_train(..., replace => true).") : 0));
	pg_unreachable();
}

/* The entry for name; a new one only when create (so unknown names leave nothing behind). */
static ForestCacheEntry *
cache_entry(const char *name, bool create)
{
	ForestCacheEntry *e;

	for (e = forest_cache; e != NULL; e = e->next)
		if (strcmp(e->name, name) == 0)
			return e;
	if (!create)
		return NULL;
	e = MemoryContextAllocZero(TopMemoryContext, sizeof(ForestCacheEntry));
	e->name = MemoryContextStrdup(TopMemoryContext, name);
	e->next = forest_cache;
	forest_cache = e;
	return e;
}

static uint32
tail_crc(bytea *b)
{
	const uint8 *p = (const uint8 *) VARDATA_ANY(b);
	Size		n = VARSIZE_ANY_EXHDR(b);

	if (n < 4)
		return 0;
	p += n - 4;
	return (uint32) p[0] | (uint32) p[1] << 8 | (uint32) p[2] << 16 | (uint32) p[3] << 24;
}

/* Load weights into e (the caller holds an SPI connection; callercxt is outside SPI). */
static void
load_into(ForestCacheEntry *e, bytea *weights, int64 version, const char *tuple_id,
		  MemoryContext callercxt)
{
	MemoryContext cxt = AllocSetContextCreate(callercxt, "ntg random forest", ALLOCSET_DEFAULT_SIZES),
				old = MemoryContextSwitchTo(cxt);
	NtgForest	f;
	NtgError	err;
	int			rc;

	rc = ntg_forest_load((const uint8_t *) VARDATA_ANY(weights), VARSIZE_ANY_EXHDR(weights), &f, &err);
	MemoryContextSwitchTo(old);
	if (rc != NTG_OK)
	{
		MemoryContextDelete(cxt);
		ntg_forest_raise_load(e->name, &err);
	}
	MemoryContextSetParent(cxt, TopMemoryContext);
	if (e->cxt != NULL)
		MemoryContextDelete(e->cxt);
	e->cxt = cxt;
	e->forest = f;
	e->version = version;
	e->length = VARSIZE_ANY_EXHDR(weights);
	e->crc = tail_crc(weights);
	strlcpy(e->tuple_id, tuple_id, sizeof(e->tuple_id));
}

const NtgForest *
ntg_forest_by_name(const char *name)
{
	MemoryContext callercxt = CurrentMemoryContext;
	ForestCacheEntry *e = cache_entry(name, false);
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(name)};
	bool		isnull;
	char	   *kind;
	int64		version,
				length;
	uint32		crc = 0;
	char	   *tuple_id;

	SPI_connect();
	if (SPI_execute_with_args("SELECT kind, version, octet_length(weights), "
							  "substring(weights FROM greatest(octet_length(weights) - 3, 1)), "
							  "xmin::text || ctid::text FROM ntg.models WHERE name = $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up model \"%s\"", name);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", name),
				 errhint("Train one with ntg.rf_train('%s', ...); SELECT name FROM ntg.models lists the models.",
						 name)));
	kind = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (strcmp(kind, NTG_FOREST_KIND) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model \"%s\" is not a random forest", name),
				 errdetail("Its kind is %s.", kind)));
	version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	length = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull);

		if (!isnull)
		{
			bytea	   *t = DatumGetByteaPP(d);

			if (VARSIZE_ANY_EXHDR(t) == 4)
				crc = tail_crc(t);
		}
	}
	tuple_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);
	if (e == NULL)
		e = cache_entry(name, true);
	if (e->cxt == NULL || e->version != version || e->length != length || e->crc != crc ||
		strcmp(e->tuple_id, tuple_id) != 0)
	{
		if (SPI_execute_with_args("SELECT weights, version, xmin::text || ctid::text "
								  "FROM ntg.models WHERE name = $1",
								  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT ||
			SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s\" does not exist", name)));
		{
			Datum		w = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

			version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
			tuple_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
			load_into(e, DatumGetByteaPP(w), version, tuple_id, callercxt);
		}
	}
	SPI_finish();
	return &e->forest;
}

int
ntg_pl_array_prefix(ArrayType *arr, int32 *buf, int max, const char *argname)
{
	int			n;
	Oid			elemtype = ARR_ELEMTYPE(arr);

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", argname)));
	if (ARR_HASNULL(arr) && array_contains_nulls(arr))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not contain null values", argname)));
	n = ARR_NDIM(arr) == 0 ? 0 : ARR_DIMS(arr)[0];
	if (n > max)
		n = max;
	if (elemtype == INT2OID)
	{
		const int16 *v = (const int16 *) ARR_DATA_PTR(arr);

		for (int i = 0; i < n; i++)
			buf[i] = v[i];
	}
	else if (elemtype == INT4OID)
		memcpy(buf, ARR_DATA_PTR(arr), sizeof(int32) * n);
	else
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s must be of type smallint[] or integer[]", argname)));
	return n;
}
