/*
 * jobs_worker.c — one background worker per job run (jobs.h).  It connects to the job's database
 * as the job's owner role, so that the command has that role's privileges and nothing more, and
 * runs the command in one transaction through SPI.  The run's success is recorded in that same
 * transaction (both commit or neither); a failure is recorded in a new one after the rollback.
 * If the worker dies before recording anything, its scheduler records the last error it saw
 * (kept in the slot by an emit_log_hook); if it is killed outright the server restarts, and the
 * run is reported as interrupted.  Progress goes to the slot through the sink (jobs_progress.c).
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "tcop/dest.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "jobs.h"

PGDLLEXPORT void ntg_job_worker_main(Datum arg);

#define RESULT_MAX	1000		/* bytes of the first result row kept in ntg.job_runs.result */

NtgJobSlot *ntg_job_my_slot = NULL;

static int	my_slot;
static int64 my_run_id;
static Oid	my_db;
static emit_log_hook_type prev_emit_log_hook = NULL;

typedef struct JobRow
{
	int64		job_id;
	char	   *command;
	bool		owner_superuser;
	bool		cancel_requested;
	int32		attempt;
	bool		is_superuser;	/* the session's role, now (a catalog lookup: in load_job) */
} JobRow;

/* Keeps the first row of the last statement that returned rows, as text; drops the others. */
typedef struct FirstRow
{
	DestReceiver pub;
	MemoryContext cxt;
	char	   *text;
} FirstRow;

static void
worker_detach(int code, Datum arg)
{
	NtgJobSlot *s = &ntg_jobs->slots[my_slot];
	bool		exited = false;

	ntg_job_my_slot = NULL;
	LWLockAcquire(ntg_jobs->lock, LW_EXCLUSIVE);
	if (s->run_id == my_run_id && s->state == JOB_SLOT_RUNNING)
	{
		s->state = JOB_SLOT_EXITED;
		exited = true;
	}
	LWLockRelease(ntg_jobs->lock);
	if (exited)
		ntg_jobs_wake_database(my_db);
}

/* The last ERROR or FATAL this process reports, for its scheduler should it exit unrecorded. */
static void
worker_emit_log(ErrorData *edata)
{
	NtgJobSlot *s = ntg_job_my_slot;

	if (s != NULL && edata->elevel >= ERROR && edata->message != NULL)
	{
		int			len = pg_mbcliplen(edata->message, strlen(edata->message),
									   NTG_JOB_ERROR_LEN - 1);

		SpinLockAcquire(&s->mutex);
		memcpy(s->error, edata->message, len);
		s->error[len] = '\0';
		SpinLockRelease(&s->mutex);
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

static void
first_row_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	((FirstRow *) self)->text = NULL;
}

static bool
first_row_receive(TupleTableSlot *slot, DestReceiver *self)
{
	FirstRow   *r = (FirstRow *) self;
	TupleDesc	desc = slot->tts_tupleDescriptor;
	MemoryContext old;
	StringInfoData s;
	int			shown = 0;

	if (r->text != NULL)
		return true;
	old = MemoryContextSwitchTo(r->cxt);
	initStringInfo(&s);
	slot_getallattrs(slot);
	for (int i = 0; i < desc->natts && s.len < RESULT_MAX; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Oid			out;
		bool		varlena;

		if (att->attisdropped)
			continue;
		if (shown++ > 0)
			appendStringInfoString(&s, ", ");
		if (desc->natts > 1)
			appendStringInfo(&s, "%s=", NameStr(att->attname));
		if (slot->tts_isnull[i])
			appendStringInfoString(&s, "NULL");
		else
		{
			getTypeOutputInfo(att->atttypid, &out, &varlena);
			appendStringInfoString(&s, OidOutputFunctionCall(out, slot->tts_values[i]));
		}
	}
	s.data[pg_mbcliplen(s.data, s.len, RESULT_MAX)] = '\0';
	r->text = s.data;
	MemoryContextSwitchTo(old);
	return true;
}

static void
first_row_shutdown(DestReceiver *self)
{
}

static void
first_row_destroy(DestReceiver *self)
{
}

/* Read the run's job and mark the run as started by this process; false if it is not ours. */
static bool
load_job(JobRow *job, MemoryContext cxt)
{
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2] = {Int64GetDatum(my_run_id), Int32GetDatum(MyProcPid)};
	NtgJobPriv	priv;
	bool		found = false;
	bool		isnull;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	ntg_jobs_priv_enter(&priv);
	if (SPI_execute_with_args("UPDATE ntg.job_runs r SET pid = $2, started_at = clock_timestamp()"
							  "  FROM ntg.jobs j"
							  " WHERE r.run_id = $1 AND r.state = 'running' AND j.job_id = r.job_id"
							  " RETURNING j.job_id, j.command, j.owner_superuser,"
							  "           j.cancel_requested, r.attempt",
							  2, types, values, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not read ntg job run " INT64_FORMAT, my_run_id);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		found = true;
		job->job_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		job->command = MemoryContextStrdup(cxt, SPI_getvalue(tup, desc, 2));
		job->owner_superuser = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		job->cancel_requested = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
		job->attempt = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));
	}
	ntg_jobs_priv_exit(&priv);
	job->is_superuser = superuser();
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return found;
}

static char *
my_progress_json(void)
{
	NtgJobProgress p;

	ntg_jobs_slot_progress(ntg_job_my_slot, &p);
	return ntg_jobs_progress_json(&p);
}

static void
set_recorded(void)
{
	SpinLockAcquire(&ntg_job_my_slot->mutex);
	ntg_job_my_slot->recorded = true;
	SpinLockRelease(&ntg_job_my_slot->mutex);
}

/* Record a failure (or cancellation) in a transaction of its own; interrupts held meanwhile. */
static void
record_failure(const JobRow *job, bool cancelled, const NtgJobError *e)
{
	const char *state;

	HOLD_INTERRUPTS();
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	state = ntg_jobs_finish_run(my_run_id, cancelled, e, my_progress_json());
	PopActiveSnapshot();
	CommitTransactionCommand();
	set_recorded();
	RESUME_INTERRUPTS();
	ereport(LOG,
			(errmsg("ntg job " INT64_FORMAT " (attempt %d) %s: %s", job->job_id, job->attempt,
					cancelled ? "was cancelled" : "failed", e->message),
			 state[0] ? errdetail("The job's state is now \"%s\".", state) : 0));
}

/* Run the command; its success is recorded in its own transaction. */
static void
run_command(const JobRow *job, MemoryContext cxt)
{
	FirstRow	dest;
	SPIExecuteOptions opts;
	int			rc;

	memset(&dest, 0, sizeof(dest));
	dest.pub.receiveSlot = first_row_receive;
	dest.pub.rStartup = first_row_startup;
	dest.pub.rShutdown = first_row_shutdown;
	dest.pub.rDestroy = first_row_destroy;
	dest.pub.mydest = DestNone;
	dest.cxt = cxt;
	memset(&opts, 0, sizeof(opts));
	opts.dest = (DestReceiver *) &dest;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	debug_query_string = job->command;
	pgstat_report_activity(STATE_RUNNING, job->command);
	rc = SPI_execute_extended(job->command, &opts);
	if (rc < 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the job's command could not run: %s", SPI_result_code_string(rc)),
				 rc == SPI_ERROR_TRANSACTION ?
				 errdetail("A job runs its command in one transaction, which the command cannot end.") : 0));
	ntg_jobs_succeed_run(my_run_id, dest.text, my_progress_json());
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	debug_query_string = NULL;
	pgstat_report_activity(STATE_IDLE, NULL);
	pgstat_report_stat(true);
	set_recorded();
}

static void
run_job(void)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "ntg job", ALLOCSET_SMALL_SIZES);
	JobRow		job;
	char		appname[64];
	bool		cancel;

	if (!load_job(&job, cxt))
	{
		set_recorded();			/* closed by someone else meanwhile: nothing to record */
		return;
	}
	snprintf(appname, sizeof(appname), "ntg job " INT64_FORMAT " attempt %d", job.job_id,
			 job.attempt);
	/* the setting, not only the activity view: the command may read it */
	SetConfigOption("application_name", appname, PGC_USERSET, PGC_S_SESSION);
	SpinLockAcquire(&ntg_job_my_slot->mutex);
	strlcpy(ntg_job_my_slot->progress.phase, "running", NTG_JOB_PHASE_LEN);
	cancel = ntg_job_my_slot->cancel_requested || job.cancel_requested;
	SpinLockRelease(&ntg_job_my_slot->mutex);

	if (cancel)
	{
		NtgJobError e = {"cancelled before it started", NULL, NULL, NULL};

		record_failure(&job, true, &e);
		return;
	}
	if (job.is_superuser && !job.owner_superuser)
	{
		NtgJobError e = {"the job's owner is a superuser now but was not when it submitted the job",
			"A job never runs with more privileges than its owner had; submit it again.",
		NULL, "42501"};

		record_failure(&job, false, &e);
		return;
	}

	PG_TRY();
	{
		run_command(&job, cxt);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		NtgJobError e;
		bool		cancelled;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		debug_query_string = NULL;
		pgstat_report_activity(STATE_IDLE, NULL);
		SpinLockAcquire(&ntg_job_my_slot->mutex);
		cancelled = ntg_job_my_slot->cancel_requested && edata->sqlerrcode == ERRCODE_QUERY_CANCELED;
		SpinLockRelease(&ntg_job_my_slot->mutex);
		e.message = edata->message;
		e.detail = edata->detail;
		e.hint = edata->hint;
		e.sqlstate = unpack_sql_state(edata->sqlerrcode);
		record_failure(&job, cancelled, &e);
	}
	PG_END_TRY();
}

void
ntg_job_worker_main(Datum arg)
{
	NtgJobSlot *s;
	Oid			owner;
	bool		mine;

	my_slot = DatumGetInt32(arg);
	memcpy(&my_run_id, MyBgworkerEntry->bgw_extra, sizeof(int64));
	memcpy(&my_db, MyBgworkerEntry->bgw_extra + sizeof(int64), sizeof(Oid));
	memcpy(&owner, MyBgworkerEntry->bgw_extra + sizeof(int64) + sizeof(Oid), sizeof(Oid));
	pqsignal(SIGTERM, die);		/* SIGINT cancels the command, as in any backend */

	s = &ntg_jobs->slots[my_slot];
	LWLockAcquire(ntg_jobs->lock, LW_EXCLUSIVE);
	mine = s->state == JOB_SLOT_RESERVED && s->run_id == my_run_id && s->dboid == my_db;
	if (mine)
	{
		s->state = JOB_SLOT_RUNNING;
		SpinLockAcquire(&s->mutex);
		s->pid = MyProcPid;
		SpinLockRelease(&s->mutex);
	}
	LWLockRelease(ntg_jobs->lock);
	if (!mine)
		proc_exit(0);
	before_shmem_exit(worker_detach, 0);
	ntg_job_my_slot = s;
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = worker_emit_log;

	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(my_db, owner, 0);
	run_job();
	proc_exit(0);
}
