/*
 * jobs_sql.c — the SQL functions of background jobs (docs/jobs.md):
 *   ntg.submit(command, job_name, max_attempts)   queue a command, run as the calling role
 *   ntg.cancel_job(job_id)                        cancel a queued or running job
 *   ntg.job_progress()                            live progress of running jobs (ntg.job_status)
 *   ntg._jobs_check(command)                      the checks of submit, for ntg.schedule
 * Writes to ntg.jobs go through jobs_record.c's owner switch; who may see or cancel a job is
 * decided here, with the caller's own role: members of the job's owner role, superusers.
 */
#include "postgres.h"

#include <math.h>
#include <signal.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/float.h"

#include "jobs.h"
#include "ntg_glue.h"

#define MAX_ATTEMPTS 100

/* A syntax error points into the command, not into the statement that passed it (as SPI does). */
static void
command_error_callback(void *arg)
{
	int			pos = geterrposition();

	if (pos > 0)
	{
		errposition(0);
		internalerrposition(pos);
		internalerrquery((const char *) arg);
	}
	else
		errcontext("job command \"%s\"", (const char *) arg);
}

/* Refuse, before queueing, a command that cannot run as a job: empty, a syntax error (the
 * parser's own error), or transaction control, which its one transaction cannot take. */
static void
check_command(const char *command)
{
	List	   *stmts;
	ListCell   *lc;
	ErrorContextCallback cb;

	cb.callback = command_error_callback;
	cb.arg = (void *) command;
	cb.previous = error_context_stack;
	error_context_stack = &cb;
	stmts = raw_parser(command, RAW_PARSE_DEFAULT);
	error_context_stack = cb.previous;

	if (stmts == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("command must contain an SQL statement")));
	foreach(lc, stmts)
	{
		RawStmt    *raw = lfirst_node(RawStmt, lc);

		if (IsA(raw->stmt, TransactionStmt))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a job's command cannot control transactions"),
					 errdetail("A job runs its command in one transaction: BEGIN, COMMIT, ROLLBACK, "
							   "SAVEPOINT and PREPARE TRANSACTION are refused."),
					 errhint("Submit each transaction as a job of its own.")));
	}
}

PG_FUNCTION_INFO_V1(ntg_submit);
Datum
ntg_submit(PG_FUNCTION_ARGS)
{
	char	   *command;
	int32		max_attempts;
	Oid			types[5] = {TEXTOID, TEXTOID, REGROLEOID, BOOLOID, INT4OID};
	Datum		values[5];
	char		nulls[6] = "     ";
	NtgJobPriv	priv;
	bool		isnull;
	int64		job_id;

	/* arguments first, as every ntg function checks them: a NULL is 22004 with or without workers */
	command = ntg_pg_text_arg(fcinfo, 0, "command");
	ntg_pg_require_arg(fcinfo, 2, "max_attempts");
	ntg_jobs_require();
	max_attempts = PG_GETARG_INT32(2);
	if (max_attempts < 1 || max_attempts > MAX_ATTEMPTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_attempts must be between 1 and %d", MAX_ATTEMPTS)));
	if (!PG_ARGISNULL(1) && VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(1)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("job_name must not be empty"),
				 errhint("Pass NULL for a job without a name.")));
	check_command(command);

	values[0] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	nulls[0] = PG_ARGISNULL(1) ? 'n' : ' ';
	values[1] = CStringGetTextDatum(command);
	values[2] = ObjectIdGetDatum(GetUserId());
	values[3] = BoolGetDatum(superuser());
	values[4] = Int32GetDatum(max_attempts);
	ntg_jobs_priv_enter(&priv);
	SPI_connect();
	if (SPI_execute_with_args("INSERT INTO ntg.jobs (job_name, command, owner, owner_superuser,"
							  " max_attempts) VALUES ($1, $2, $3, $4, $5) RETURNING job_id",
							  5, types, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not queue the job");
	job_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	ntg_jobs_priv_exit(&priv);
	ntg_jobs_wake_at_commit();
	PG_RETURN_INT64(job_id);
}

/* Flag the running job's slot and interrupt its worker's command (as pg_cancel_backend does). */
static void
signal_worker(int64 job_id)
{
	pid_t		pid = 0;

	LWLockAcquire(ntg_jobs->lock, LW_SHARED);
	for (int i = 0; i < NTG_JOB_SLOTS; i++)
	{
		NtgJobSlot *s = &ntg_jobs->slots[i];

		if (s->dboid == MyDatabaseId && s->job_id == job_id &&
			(s->state == JOB_SLOT_RESERVED || s->state == JOB_SLOT_RUNNING))
		{
			SpinLockAcquire(&s->mutex);
			s->cancel_requested = true;
			pid = s->pid;
			SpinLockRelease(&s->mutex);
		}
	}
	LWLockRelease(ntg_jobs->lock);
	if (pid > 0 && kill(pid, SIGINT) != 0)
		ereport(WARNING,
				(errmsg("could not send a cancel request to job worker process %d: %m", (int) pid)));
}

PG_FUNCTION_INFO_V1(ntg_cancel_job);
Datum
ntg_cancel_job(PG_FUNCTION_ARGS)
{
	int64		job_id;
	Oid			caller = GetUserId();
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	NtgJobPriv	priv;
	bool		isnull;
	bool		found;
	Oid			owner = InvalidOid;
	char	   *state = NULL;

	ntg_pg_require_arg(fcinfo, 0, "job_id");
	ntg_jobs_require();
	job_id = PG_GETARG_INT64(0);
	values[0] = Int64GetDatum(job_id);

	ntg_jobs_priv_enter(&priv);
	SPI_connect();
	if (SPI_execute_with_args("SELECT owner::oid, state FROM ntg.jobs WHERE job_id = $1 FOR UPDATE",
							  1, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read ntg.jobs");
	found = SPI_processed == 1;
	if (found)
	{
		owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	}
	/* a job of another role is as absent as one that never was */
	if (!found || !has_privs_of_role(caller, owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("job " INT64_FORMAT " does not exist", job_id)));
	if (strcmp(state, "queued") == 0)
	{
		if (SPI_execute_with_args("UPDATE ntg.jobs SET state = 'cancelled', cancel_requested = true,"
								  " finished_at = clock_timestamp() WHERE job_id = $1",
								  1, types, values, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not cancel job " INT64_FORMAT, job_id);
	}
	else if (strcmp(state, "running") == 0)
	{
		if (SPI_execute_with_args("UPDATE ntg.jobs SET cancel_requested = true WHERE job_id = $1",
								  1, types, values, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not cancel job " INT64_FORMAT, job_id);
	}
	SPI_finish();
	ntg_jobs_priv_exit(&priv);
	if (strcmp(state, "running") == 0)
		signal_worker(job_id);
	PG_RETURN_BOOL(strcmp(state, "queued") == 0 || strcmp(state, "running") == 0);
}

static Datum
float_or_null(double v, bool *isnull)
{
	*isnull = isnan(v);
	return Float8GetDatum(v);
}

PG_FUNCTION_INFO_V1(ntg_job_progress);
Datum
ntg_job_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			caller = GetUserId();

	InitMaterializedSRF(fcinfo, 0);
	if (ntg_jobs == NULL)
		return (Datum) 0;		/* not preloaded: nothing runs */
	for (int i = 0; i < NTG_JOB_SLOTS; i++)
	{
		NtgJobSlot *s = &ntg_jobs->slots[i];
		NtgJobProgress p;
		int64		job_id = 0,
					run_id = 0;
		Oid			owner = InvalidOid;
		pid_t		pid = 0;
		bool		show;
		Datum		v[16];
		bool		n[16] = {0};

		LWLockAcquire(ntg_jobs->lock, LW_SHARED);
		show = (s->state == JOB_SLOT_RESERVED || s->state == JOB_SLOT_RUNNING) &&
			s->dboid == MyDatabaseId && s->run_id > 0;
		if (show)
		{
			job_id = s->job_id;
			run_id = s->run_id;
			owner = s->owner;
			SpinLockAcquire(&s->mutex);
			p = s->progress;
			pid = s->pid;
			SpinLockRelease(&s->mutex);
		}
		LWLockRelease(ntg_jobs->lock);
		if (!show || !has_privs_of_role(caller, owner))
			continue;
		p.phase[NTG_JOB_PHASE_LEN - 1] = '\0';
		p.message[NTG_JOB_MESSAGE_LEN - 1] = '\0';
		v[0] = Int64GetDatum(job_id);
		v[1] = Int64GetDatum(run_id);
		v[2] = Int32GetDatum(pid);
		n[2] = pid == 0;
		v[3] = CStringGetTextDatum(p.phase);
		v[4] = Int32GetDatum(p.epoch);
		v[5] = Int32GetDatum(p.epochs);
		n[4] = n[5] = p.epochs == 0;
		v[6] = float_or_null(p.loss, &n[6]);
		v[7] = float_or_null(p.val_loss, &n[7]);
		v[8] = Int32GetDatum(p.best_epoch);
		n[8] = p.best_epoch == 0;
		v[9] = Int64GetDatum(p.rows);
		n[9] = p.rows == 0;
		v[10] = Int32GetDatum(p.files_done);
		v[11] = Int32GetDatum(p.files_total);
		v[12] = Int64GetDatum(p.packets);
		v[13] = Int64GetDatum(p.biflows);
		n[10] = n[11] = n[12] = n[13] = p.files_total == 0;
		v[14] = CStringGetTextDatum(p.message);
		n[14] = p.message[0] == '\0';
		v[15] = TimestampTzGetDatum(p.updated_at);
		n[15] = p.updated_at == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(ntg_jobs_check);
Datum
ntg_jobs_check(PG_FUNCTION_ARGS)
{
	ntg_jobs_require();
	if (!PG_ARGISNULL(0))
		check_command(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}
