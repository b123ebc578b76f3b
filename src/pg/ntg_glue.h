/*
 * ntg_glue.h — what the SQL glue files share: turning core errors into ereport(), and running
 * core code with its hooks pointed at the current memory context and CHECK_FOR_INTERRUPTS().
 */
#ifndef NTG_GLUE_H
#define NTG_GLUE_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/jsonb.h"

#include "common/ntg_core.h"

/* ereport(ERROR) 22004 "<argname> must not be null" when argument i is NULL. */
void		ntg_pg_require_arg(FunctionCallInfo fcinfo, int i, const char *argname);
/* Text argument i as a C string; a NULL is refused as by ntg_pg_require_arg(). */
char	   *ntg_pg_text_arg(FunctionCallInfo fcinfo, int i, const char *argname);

/* Map a core status to its SQLSTATE. */
int			ntg_pg_errcode(NtgStatus code);

/* ereport(ERROR) for a core error (uses err->code, err->msg and err->detail). */
void		ntg_pg_raise(const NtgError *err) pg_attribute_noreturn();

/* ntg_pg_raise() when status != NTG_OK. */
#define NTG_PG_CHECK(status, err) \
	do { if ((status) != NTG_OK) ntg_pg_raise(err); } while (0)

/* Point the core's allocator at CurrentMemoryContext (palloc; freed with the context on error),
 * its interrupt hook at CHECK_FOR_INTERRUPTS() and its log lines at ereport.  Done in _PG_init. */
void		ntg_pg_install_hooks(void);

/*
 * Run a user query that returns (label, pl) — label of a text type, pl int2[] or int4[] — and
 * collect its rows into a sequence set allocated in CurrentMemoryContext.  `argname` names the
 * argument in error messages ("source", "real_query", ...).  Rows stream through a cursor.
 * Errors: wrong column count or types (42804), NULL label, NULL array or NULL element (22004),
 * multidimensional array (2202E).
 */
struct NtgSeqSet;
void		ntg_pg_collect_seqs(const char *query, const char *argname, struct NtgSeqSet *out);
/* The same, refusing (54000) rows that take more than max_bytes (> 0), named limit_name. */
void		ntg_pg_collect_seqs_limited(const char *query, const char *argname, int64 max_bytes,
										const char *limit_name, struct NtgSeqSet *out);

/* Refuse (as ntg_pg_collect_seqs would) a query that is not one plain SELECT of `columns`
 * columns; with 2, of the (label, pl) types. */
void		ntg_pg_check_query(const char *query, const char *argname, int columns);

/* Convert a jsonb object of hyperparameters (NULL allowed: empty; one level of nested objects
 * becomes "outer.inner" keys) into core params. */
struct NtgParams;
void		ntg_pg_params_from_jsonb(Jsonb *j, struct NtgParams *out);
/* The same for a flat object of sampling options given as argument argname. */
void		ntg_pg_options_from_jsonb(Jsonb *j, const char *argname, struct NtgParams *out);

/* Whether NOTICE progress lines from long operations are shown (GUC ntg.progress). */
extern bool ntg_progress;

#endif							/* NTG_GLUE_H */
