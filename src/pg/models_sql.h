/*
 * models_sql.h — what the model SQL files share: reading a row of ntg.models, turning its
 * checked weights into a loaded model (model_cache.c, one bounded per-backend cache for every
 * kind), and writing a row (model_store.c, the one path that stores a model of any kind).
 */
#ifndef NTG_MODELS_SQL_H
#define NTG_MODELS_SQL_H

#include "postgres.h"

#include "utils/guc.h"
#include "utils/jsonb.h"

#include "models/model.h"

/* A row of ntg.models as the loader needs it (allocated in the caller's context). */
typedef struct NtgModelRow
{
	char	   *name;
	char	   *kind;
	int64		version;
	char	   *tuple_id;		/* NTG_MODEL_ROW_ID: differs for every version of the row */
	int64		length;			/* bytes of the weights (read without detoasting them) */
	bytea	   *weights;		/* detoasted copy, or NULL when not asked for */
} NtgModelRow;

/*
 * The identity of a row version of ntg.models, as SQL over the row's columns: "xmin:ctid:updated"
 * (updated_at in microseconds).  xmin and ctid differ for every version; updated_at tells apart
 * two versions that got the same transaction ID and place because a crash lost the first before
 * its WAL reached disk (a model file is written when the row is stored, before the commit).
 */
#define NTG_MODEL_ROW_ID \
	"xmin::pg_catalog.text OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) ctid::pg_catalog.text" \
	" OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) (EXTRACT(epoch FROM updated_at)" \
	" OPERATOR(pg_catalog.*) 1000000)::pg_catalog.int8::pg_catalog.text"

/* Read a row; with missing_ok, false when there is none, else a 42704 error. */
bool		ntg_pg_model_fetch(const char *name, bool with_weights, bool missing_ok,
							   NtgModelRow *row);

/* Raise the undefined_object error for a model name. */
void		ntg_pg_model_missing(const char *name) pg_attribute_noreturn();

/* 42809 when the kind lacks one of caps (NTG_CAP_GENERATE, NTG_CAP_CLASSIFY, NTG_CAP_QUANTIZE),
 * naming the kinds that have them. */
void		ntg_pg_model_require(const char *name, const NtgModelKind *kind, unsigned caps);

/*
 * Load a fetched row into CurrentMemoryContext.  Damaged, truncated or foreign weights, an
 * unknown kind, or a kind column that disagrees with the weights give XX001 (data_corrupted).
 */
NtgModel   *ntg_pg_model_from_row(const NtgModelRow *row);

/* Same checks, but returning the problem instead of raising it (for describe_model). */
bool		ntg_pg_model_check_row(const NtgModelRow *row, char **problem);

/* A model given as its stored value (the *_model(bytea, ...) functions); errors as above. */
NtgModel   *ntg_pg_model_from_bytea(bytea *b);

/*
 * A loaded model from the per-backend cache, pinned until `owner` is reset or deleted, so that
 * a set-returning function or a statement can use it across calls.  need_caps: what the caller
 * will ask of it (42809 otherwise).  statement: the call site's statement context
 * (fcinfo->flinfo->fn_mcxt), whose later calls then skip the row lookup (NULL: always look up).
 */
typedef struct NtgModelRef
{
	NtgModel   *model;
	void	   *entry;			/* the cache entry (opaque) */
} NtgModelRef;

void		ntg_pg_model_acquire(const char *name, unsigned need_caps, MemoryContext owner,
								 MemoryContext statement, NtgModelRef *ref);

/*
 * kind->sample() on a cached model.  Runs in the model's own memory context, because a model may
 * keep buffers made on first use (a KV cache); an error or cancel inside discards the entry, so a
 * half-built buffer is never used again.
 */
void		ntg_pg_model_sample(NtgModelRef *ref, int class_index, int n,
								const NtgSampleOptions *opts, NtgRng *rng, int32_t *out,
								int *out_len);

/* The model's stored sampling defaults with a call's options (jsonb object) over them; an
 * unknown option or a value out of range is 22023, naming the accepted options. */
void		ntg_pg_sample_options(const NtgModel *m, Jsonb *options, NtgSampleOptions *out);

/* ---- model files (model_files.c) ----------------------------------------------------------- */

/* The bytes of a row version's model file, mapped read-only until `owner` goes; NULL if none. */
const uint8 *ntg_pg_model_file_map(const NtgModelRow *row, int64 len, MemoryContext owner);
/* Write a row version's bytes to its model file (a cache: failures are silent). */
void		ntg_pg_model_file_store(const NtgModelRow *row, const uint8 *data, int64 len);
/* Remove a row version's model file (found damaged). */
void		ntg_pg_model_file_forget(const NtgModelRow *row, int64 len);
/* GUC ntg.model_file_cache (kB): total size of the model files. */
extern int	ntg_model_file_cache_kb;

/* GUC ntg.model_cache_size (kB): memory of loaded models a backend keeps. */
extern int	ntg_model_cache_kb;
/* GUC ntg.training_memory_limit (kB): most memory a training may be estimated to take. */
extern int	ntg_training_memory_limit_kb;

/* ---- devices (device_sql.c) ---------------------------------------------------------------- */

/* GUC ntg.device: an NtgDeviceMode (auto, cpu, cuda) */
extern int	ntg_device_mode;
extern const struct config_enum_entry ntg_device_options[];
/* The setting (and, the first time, where the kernels library is: the server's library directory). */
NtgDeviceMode ntg_pg_device_mode(void);
/* 55000 now, before any work, when ntg.device is 'cuda' and no device is usable. */
void		ntg_pg_device_check(void);

/* ---- storing (model_store.c) --------------------------------------------------------------- */

/* Everything a row of ntg.models holds besides its name. */
typedef struct NtgStoredModel
{
	const char *kind;
	const char *config_json;
	char	  **classes;
	int			n_classes;
	const uint8_t *bytes;
	size_t		n_bytes;
	int64		train_rows;
	int			epochs;			/* 0: NULL (a kind without epochs) */
	const double *losses;		/* epochs values, or NULL */
	const double *val_losses;	/* epochs values, or NULL */
	int			best_epoch;		/* 0: NULL */
	double		train_seconds;
	double		epoch_seconds;	/* < 0: NULL */
	int64		peak_bytes;		/* < 0: NULL */
	int64		parameters;
} NtgStoredModel;

/*
 * Before any work: may the caller store a model under `name`?  Refuses a read-only transaction,
 * an empty name, a missing INSERT (UPDATE with replace) privilege or row-security policy, and an
 * existing name without replace (or with replace, a model of a role the caller is not a member
 * of), by trying the write in a subtransaction that is rolled back.
 */
void		ntg_pg_model_check_storable(const char *name, const char *kind, bool replace,
										const char *cmdname);

/* INSERT (or with replace, overwrite and bump the version); returns the stored version. */
int64		ntg_pg_model_store(const char *name, const NtgStoredModel *m, bool replace);

#endif							/* NTG_MODELS_SQL_H */
