/*
 * jobs_record.c — the bookkeeping of jobs in ntg.jobs and ntg.job_runs.
 *
 * Plain roles may read their own rows there (row security) but not write them: a job's state is
 * written only by ntg's own code, as the owner of those tables, the way a REFRESH MATERIALIZED
 * VIEW runs as the view's owner (a local user-id change inside a security-restricted operation,
 * search_path pinned).  What runs as the job's owner is the job's command, nothing else.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "jobs.h"

/* ntg.job_runs of this database, or InvalidOid (ntg absent, or older than its jobs). */
static Oid
job_runs_relid(void)
{
	Oid			nsp = get_namespace_oid("ntg", true);

	return OidIsValid(nsp) ? get_relname_relid("job_runs", nsp) : InvalidOid;
}

bool
ntg_jobs_installed(void)
{
	return OidIsValid(job_runs_relid());
}

static Oid
jobs_table_owner(void)
{
	Oid			relid = job_runs_relid();
	HeapTuple	tup;
	Oid			owner;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table ntg.job_runs does not exist"),
				 errhint("Update the extension: ALTER EXTENSION ntg UPDATE.")));
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

void
ntg_jobs_priv_enter(NtgJobPriv *p)
{
	GetUserIdAndSecContext(&p->save_user, &p->save_sec);
	SetUserIdAndSecContext(jobs_table_owner(),
						   p->save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	p->guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

void
ntg_jobs_priv_exit(NtgJobPriv *p)
{
	AtEOXact_GUC(false, p->guc_level);
	SetUserIdAndSecContext(p->save_user, p->save_sec);
}

static const char *const FINISH_SQL =
"WITH run AS ("
"  UPDATE ntg.job_runs SET state = $2, finished_at = clock_timestamp(), error = $3,"
"         error_detail = $4, error_hint = $5, sqlstate = $6,"
"         progress = coalesce($7::jsonb, progress)"
"   WHERE run_id = $1 AND state = 'running' RETURNING job_id) "
"UPDATE ntg.jobs j SET"
"  state = CASE WHEN $2 = 'cancelled' OR j.cancel_requested THEN 'cancelled'"
"               WHEN j.attempts < j.max_attempts THEN 'queued' ELSE 'failed' END,"
"  finished_at = CASE WHEN $2 <> 'cancelled' AND NOT j.cancel_requested"
"                      AND j.attempts < j.max_attempts THEN NULL ELSE clock_timestamp() END,"
"  error = $3"
"  FROM run WHERE j.job_id = run.job_id RETURNING j.state";

const char *
ntg_jobs_finish_run(int64 run_id, bool cancelled, const NtgJobError *e, const char *progress_json)
{
	Oid			types[7] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[7];
	char		nulls[8] = "       ";
	NtgJobPriv	priv;
	const char *state = "";
	MemoryContext caller = CurrentMemoryContext;

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(cancelled ? "cancelled" : "failed");
	values[2] = CStringGetTextDatum(e->message ? e->message : "unknown error");
#define OPT_TEXT(i, s) \
	do { if (s) values[i] = CStringGetTextDatum(s); else nulls[i] = 'n'; } while (0)
	OPT_TEXT(3, e->detail);
	OPT_TEXT(4, e->hint);
	OPT_TEXT(5, e->sqlstate);
	OPT_TEXT(6, progress_json);
#undef OPT_TEXT

	ntg_jobs_priv_enter(&priv);
	SPI_connect();
	if (SPI_execute_with_args(FINISH_SQL, 7, types, values, nulls, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not record the outcome of job run " INT64_FORMAT, run_id);
	if (SPI_processed == 1)
		state = MemoryContextStrdup(caller, SPI_getvalue(SPI_tuptable->vals[0],
														 SPI_tuptable->tupdesc, 1));
	SPI_finish();
	ntg_jobs_priv_exit(&priv);
	return state;
}

static void
json_int(StringInfo s, const char *key, int64 v)
{
	appendStringInfo(s, "%s\"%s\": " INT64_FORMAT, s->len > 1 ? ", " : "", key, v);
}

static void
json_float(StringInfo s, const char *key, double v)
{
	if (isfinite(v))
		appendStringInfo(s, "%s\"%s\": %.17g", s->len > 1 ? ", " : "", key, v);
}

static void
json_text(StringInfo s, const char *key, const char *v)
{
	if (v[0] == '\0')
		return;
	appendStringInfo(s, "%s\"%s\": ", s->len > 1 ? ", " : "", key);
	escape_json(s, v);
}

/* The progress a run ended with, for ntg.job_runs.progress: only what was reported. */
char *
ntg_jobs_progress_json(const NtgJobProgress *p)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	json_text(&s, "phase", p->phase);
	if (p->epochs > 0)
	{
		json_int(&s, "epoch", p->epoch);
		json_int(&s, "epochs", p->epochs);
		json_float(&s, "loss", p->loss);
		json_float(&s, "val_loss", p->val_loss);
		if (p->best_epoch > 0)
			json_int(&s, "best_epoch", p->best_epoch);
	}
	if (p->rows > 0)
		json_int(&s, "rows", p->rows);
	if (p->files_total > 0)
	{
		json_int(&s, "files_done", p->files_done);
		json_int(&s, "files_total", p->files_total);
		json_int(&s, "packets", p->packets);
		json_int(&s, "biflows", p->biflows);
	}
	json_text(&s, "message", p->message);
	appendStringInfoChar(&s, '}');
	return s.data;
}

static const char *const SUCCEED_SQL =
"WITH run AS ("
"  UPDATE ntg.job_runs SET state = 'succeeded', finished_at = clock_timestamp(), result = $2,"
"         progress = $3::jsonb"
"   WHERE run_id = $1 AND state = 'running' RETURNING job_id) "
"UPDATE ntg.jobs j SET state = 'succeeded', finished_at = clock_timestamp(), error = NULL"
"  FROM run WHERE j.job_id = run.job_id";

/* Record a run's success; in the transaction of its command, so that both commit or neither. */
void
ntg_jobs_succeed_run(int64 run_id, const char *result, const char *progress_json)
{
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[4] = "   ";
	NtgJobPriv	priv;

	values[0] = Int64GetDatum(run_id);
	if (result)
		values[1] = CStringGetTextDatum(result);
	else
		nulls[1] = 'n';
	values[2] = CStringGetTextDatum(progress_json);
	ntg_jobs_priv_enter(&priv);
	SPI_connect();
	if (SPI_execute_with_args(SUCCEED_SQL, 3, types, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record the outcome of job run " INT64_FORMAT, run_id);
	SPI_finish();
	ntg_jobs_priv_exit(&priv);
}
