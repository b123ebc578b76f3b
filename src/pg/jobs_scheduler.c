/*
 * jobs_scheduler.c — the scheduler of one database (jobs.h): connected as the bootstrap superuser
 * to do ntg's bookkeeping there, it
 *   - marks as failed (retried while attempts remain) every run the tables show as running that
 *     no live slot holds: after a server restart or crash, those are the runs that were
 *     interrupted; a run whose worker never began goes back to the queue instead;
 *   - claims queued jobs, oldest first, while ntg.max_job_workers allows, checks each owner role
 *     (still there, may log in and connect, no superuser unless it was one when it submitted) and
 *     starts a worker connected as that role;
 *   - reaps the slots of exited workers, recording the outcome of one that died before it could;
 *   - exits when nothing of its database is queued or running.
 * It runs only ntg's own statements; the job's command runs in the worker, as the owner.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "jobs.h"

PGDLLEXPORT void ntg_job_scheduler_main(Datum arg);

#define ORPHAN_TIMEOUT_MS	60000	/* a reserved slot whose scheduler died, never attached */

static int	my_entry;
static Oid	my_db;
static bool attached = false;
static BackgroundWorkerHandle *handles[NTG_JOB_SLOTS];

typedef struct Job
{
	int64		job_id;
	int64		run_id;
	Oid			owner;
	bool		owner_superuser;
} Job;

/* Runs one transaction around ntg's own statements (SPI connected, a snapshot pushed). */
static void
begin_tx(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
commit_tx(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
}

static void
scheduler_detach(int code, Datum arg)
{
	NtgJobDatabase *db = &ntg_jobs->dbs[my_entry];

	if (!attached)
		return;					/* the launcher sees the handle stopped and resets the entry */
	LWLockAcquire(ntg_jobs->lock, LW_EXCLUSIVE);
	if (db->dboid == my_db && db->scheduler == MyProc)
	{
		db->state = JOB_DB_IDLE;
		db->scheduler = NULL;
	}
	LWLockRelease(ntg_jobs->lock);
	if (ntg_jobs->launcher != NULL)
		SetLatch(&ntg_jobs->launcher->procLatch);
}

/* Leave when nothing new was asked for since the last look; false: look again. */
static bool
try_exit(void)
{
	NtgJobDatabase *db = &ntg_jobs->dbs[my_entry];
	bool		leave = true;

	LWLockAcquire(ntg_jobs->lock, LW_EXCLUSIVE);
	if (db->wanted)
	{
		db->wanted = false;
		leave = false;
	}
	else
	{
		db->state = JOB_DB_IDLE;
		db->scheduler = NULL;
	}
	LWLockRelease(ntg_jobs->lock);
	return leave;
}

static void
finish(int64 run_id, bool cancelled, const char *message, const char *detail, const char *hint,
	   const char *progress_json)
{
	NtgJobError e = {message, detail, hint, NULL};

	(void) ntg_jobs_finish_run(run_id, cancelled, &e, progress_json);
}

/*
 * Put a claimed job back in the queue as if it had never been claimed: its run is deleted and the
 * attempt not counted.  Only for a run whose worker never began (no command of it ran).  In the
 * caller's transaction.
 */
static void
requeue_run(int64 run_id, int64 job_id)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(run_id), Int64GetDatum(job_id)};

	if (SPI_execute_with_args("WITH r AS (DELETE FROM ntg.job_runs WHERE run_id = $1) "
							  "UPDATE ntg.jobs SET state = 'queued', attempts = attempts - 1,"
							  " started_at = CASE WHEN attempts = 1 THEN NULL ELSE started_at END"
							  " WHERE job_id = $2",
							  2, types, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not requeue ntg job " INT64_FORMAT, job_id);
}

/*
 * Runs left 'running' that no slot holds were interrupted by a restart or crash.  One whose
 * worker never began (job_runs.pid is set by the worker first thing) ran nothing: a job claimed
 * while the server was stopping, whose worker the postmaster no longer started.  That job goes
 * back to the queue, unless its cancel was asked for meanwhile.  The others failed.
 */
static void
mark_interrupted(void)
{
	int64		live[NTG_JOB_SLOTS];
	int			n_live;
	Datum	   *elems;
	ArrayType  *arr;
	Oid			types[1] = {INT8ARRAYOID};
	Datum		values[1];
	int64	   *runs;
	int64	   *jobs;
	bool	   *never_began;
	int			n;

	begin_tx();
	n_live = ntg_jobs_live_runs(my_db, live, NTG_JOB_SLOTS);
	elems = palloc(sizeof(Datum) * (n_live + 1));
	for (int i = 0; i < n_live; i++)
		elems[i] = Int64GetDatum(live[i]);
	arr = construct_array(elems, n_live, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	values[0] = PointerGetDatum(arr);
	if (SPI_execute_with_args("SELECT r.run_id, r.job_id, r.pid IS NULL AND NOT j.cancel_requested"
							  "  FROM ntg.job_runs r JOIN ntg.jobs j ON j.job_id = r.job_id"
							  " WHERE r.state = 'running' AND r.run_id <> ALL ($1) ORDER BY r.run_id",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read ntg.job_runs");
	n = (int) SPI_processed;
	runs = palloc(sizeof(int64) * (n + 1));
	jobs = palloc(sizeof(int64) * (n + 1));
	never_began = palloc(sizeof(bool) * (n + 1));
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		runs[i] = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		jobs[i] = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		never_began[i] = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
	}
	for (int i = 0; i < n; i++)
	{
		if (never_began[i])
		{
			requeue_run(runs[i], jobs[i]);
			ereport(LOG, (errmsg("ntg job " INT64_FORMAT " is queued again: the server stopped "
								 "before its worker began", jobs[i])));
			continue;
		}
		finish(runs[i], false, "interrupted by a server restart",
			   "The server stopped or crashed while the run was going; nothing it did was kept.",
			   NULL, NULL);
		ereport(LOG, (errmsg("ntg job run " INT64_FORMAT " was interrupted by a server restart",
							 runs[i])));
	}
	commit_tx();
}

static AclResult
connect_aclcheck(Oid role)
{
#if PG_VERSION_NUM >= 160000
	return object_aclcheck(DatabaseRelationId, MyDatabaseId, role, ACL_CONNECT);
#else
	return pg_database_aclcheck(MyDatabaseId, role, ACL_CONNECT);
#endif
}

/* Why owner may not run a job now, or NULL.  Error text in *detail. */
static const char *
owner_problem(const Job *job, const char **detail)
{
	HeapTuple	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(job->owner));
	Form_pg_authid role;
	const char *problem = NULL;

	*detail = NULL;
	if (!HeapTupleIsValid(tup))
	{
		*detail = "The role that submitted the job was dropped.";
		return psprintf("role with OID %u does not exist", job->owner);
	}
	role = (Form_pg_authid) GETSTRUCT(tup);
	if (role->rolsuper && !job->owner_superuser)
	{
		problem = psprintf("role \"%s\" is a superuser now but was not when the job was submitted",
						   NameStr(role->rolname));
		*detail = "A job never runs with more privileges than its owner had; submit it again.";
	}
	else if (!role->rolcanlogin)
	{
		problem = psprintf("role \"%s\" is not permitted to log in", NameStr(role->rolname));
		*detail = "A job runs in a session of its owner role, which needs the LOGIN attribute.";
	}
	else if (!role->rolsuper && connect_aclcheck(job->owner) != ACLCHECK_OK)
	{
		problem = psprintf("role \"%s\" may not connect to database \"%s\"",
						   NameStr(role->rolname), get_database_name(MyDatabaseId));
		*detail = "A job runs in a session of its owner role, which needs CONNECT on the database.";
	}
	ReleaseSysCache(tup);
	return problem;
}

/* A free slot reserved for this database, or -1 (all taken, or ntg.max_job_workers reached). */
static int
reserve_slot(void)
{
	int			used = 0;
	int			free_slot = -1;

	LWLockAcquire(ntg_jobs->lock, LW_EXCLUSIVE);
	for (int i = 0; i < NTG_JOB_SLOTS; i++)
	{
		if (ntg_jobs->slots[i].state != JOB_SLOT_FREE)
			used++;
		else if (free_slot < 0)
			free_slot = i;
	}
	if (used >= ntg_max_job_workers)
		free_slot = -1;
	if (free_slot >= 0)
	{
		NtgJobSlot *s = &ntg_jobs->slots[free_slot];

		s->state = JOB_SLOT_RESERVED;
		s->dboid = my_db;
		s->owner = InvalidOid;
		s->job_id = 0;
		s->run_id = 0;
		s->reserved_at = GetCurrentTimestamp();
		SpinLockAcquire(&s->mutex);
		s->pid = 0;
		s->cancel_requested = false;
		s->recorded = false;
		s->error[0] = '\0';
		memset(&s->progress, 0, sizeof(s->progress));
		strlcpy(s->progress.phase, "starting", NTG_JOB_PHASE_LEN);
		s->progress.loss = s->progress.val_loss = get_float8_nan();
		s->progress.updated_at = s->reserved_at;
		SpinLockRelease(&s->mutex);
	}
	LWLockRelease(ntg_jobs->lock);
	return free_slot;
}

static void
release_slot(int i)
{
	NtgJobSlot *s = &ntg_jobs->slots[i];

	LWLockAcquire(ntg_jobs->lock, LW_EXCLUSIVE);
	s->state = JOB_SLOT_FREE;
	s->dboid = InvalidOid;
	s->job_id = s->run_id = 0;
	LWLockRelease(ntg_jobs->lock);
	if (handles[i] != NULL)
	{
		pfree(handles[i]);
		handles[i] = NULL;
	}
}

static const char *const CLAIM_SQL =
"UPDATE ntg.jobs j SET state = 'running', attempts = j.attempts + 1,"
"       started_at = coalesce(j.started_at, clock_timestamp()), finished_at = NULL"
" WHERE j.job_id = (SELECT job_id FROM ntg.jobs WHERE state = 'queued' AND NOT cancel_requested"
"                    ORDER BY job_id LIMIT 1 FOR UPDATE SKIP LOCKED)"
" RETURNING j.job_id, j.owner::oid, j.owner_superuser, j.attempts";

static const char *const RUN_SQL =
"INSERT INTO ntg.job_runs (job_id, attempt, state, started_at)"
" VALUES ($1, $2, 'running', clock_timestamp()) RETURNING run_id";

/* Claim the oldest queued job into slot; false when none is queued.  Commits. */
static bool
claim(int slot, Job *job)
{
	bool		isnull;
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2];
	int32		attempt;
	const char *problem;
	const char *detail;

	begin_tx();
	if (SPI_execute(CLAIM_SQL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not claim an ntg job");
	if (SPI_processed == 0)
	{
		commit_tx();
		return false;
	}
	job->job_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	job->owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	job->owner_superuser = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	attempt = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
	values[0] = Int64GetDatum(job->job_id);
	values[1] = Int32GetDatum(attempt);
	if (SPI_execute_with_args(RUN_SQL, 2, types, values, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not record an ntg job run");
	job->run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	problem = owner_problem(job, &detail);
	if (problem != NULL)
	{
		finish(job->run_id, false, problem, detail, NULL, NULL);
		job->run_id = 0;		/* closed already: no worker */
	}
	else
	{
		/* before the commit makes the run visible, so that no scheduler takes it as interrupted */
		LWLockAcquire(ntg_jobs->lock, LW_EXCLUSIVE);
		ntg_jobs->slots[slot].job_id = job->job_id;
		ntg_jobs->slots[slot].run_id = job->run_id;
		ntg_jobs->slots[slot].owner = job->owner;
		LWLockRelease(ntg_jobs->lock);
	}
	commit_tx();
	return true;
}

/* Put a claimed job back as it was (no worker could be started). */
static void
unclaim(const Job *job)
{
	begin_tx();
	requeue_run(job->run_id, job->job_id);
	commit_tx();
}

static bool
start_worker(int slot, const Job *job)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "ntg");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "ntg_job_worker_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "ntg job " INT64_FORMAT, job->job_id);
	snprintf(w.bgw_type, BGW_MAXLEN, "ntg job worker");
	w.bgw_main_arg = Int32GetDatum(slot);
	memcpy(w.bgw_extra, &job->run_id, sizeof(int64));
	memcpy(w.bgw_extra + sizeof(int64), &my_db, sizeof(Oid));
	memcpy(w.bgw_extra + sizeof(int64) + sizeof(Oid), &job->owner, sizeof(Oid));
	w.bgw_notify_pid = MyProcPid;
	return RegisterDynamicBackgroundWorker(&w, &handles[slot]);
}

/* Start workers for queued jobs while slots allow.  Returns whether jobs wait for a slot. */
static bool
launch(void)
{
	for (;;)
	{
		Job			job;
		int			slot;

		CHECK_FOR_INTERRUPTS();
		slot = reserve_slot();
		if (slot < 0 && ntg_max_job_workers == 0)
			return false;		/* paused: the launcher calls us again on a reload */
		if (slot < 0)
		{
			bool		waiting;

			begin_tx();
			if (SPI_execute("SELECT 1 FROM ntg.jobs WHERE state = 'queued' AND NOT cancel_requested LIMIT 1",
							true, 0) != SPI_OK_SELECT)
				elog(ERROR, "could not read ntg.jobs");
			waiting = SPI_processed > 0;
			commit_tx();
			return waiting;
		}
		if (!claim(slot, &job))
		{
			release_slot(slot);
			return false;
		}
		if (job.run_id == 0)
		{
			release_slot(slot);		/* refused by owner_problem(), recorded */
			continue;
		}
		if (!start_worker(slot, &job))
		{
			static TimestampTz last_warning = 0;
			TimestampTz now = GetCurrentTimestamp();

			unclaim(&job);
			release_slot(slot);
			if (TimestampDifferenceExceeds(last_warning, now, 60000))
			{
				ereport(WARNING,
						(errmsg("could not start an ntg job worker"),
						 errdetail("Jobs wait in the queue until a background worker slot is free."),
						 errhint("Raise max_worker_processes.")));
				last_warning = now;
			}
			return true;
		}
	}
}

/*
 * Reap the slots of this database whose worker exited (or never started): record the outcome of
 * a worker that could not, free the slot.  Returns whether a slot of this database is still live.
 */
static bool
reap(void)
{
	bool		live = false;
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; i < NTG_JOB_SLOTS; i++)
	{
		NtgJobSlot *s = &ntg_jobs->slots[i];
		bool		gone = false;
		bool		started = true;
		int64		run_id;
		bool		recorded;
		bool		cancelled;
		NtgJobProgress p;
		char		error[NTG_JOB_ERROR_LEN];

		/* states change under the lock held exclusively: they hold still while we look */
		LWLockAcquire(ntg_jobs->lock, LW_SHARED);
		if (s->state == JOB_SLOT_FREE || s->dboid != my_db)
		{
			LWLockRelease(ntg_jobs->lock);
			continue;
		}
		if (s->state == JOB_SLOT_EXITED)
			gone = true;
		else if (s->state == JOB_SLOT_RESERVED)
		{
			pid_t		pid;

			/* stopped and never attached (attaching needs the lock we hold); a slot reserved
			 * by a scheduler that died is taken back after a while */
			if (handles[i] != NULL && s->run_id > 0)
				gone = GetBackgroundWorkerPid(handles[i], &pid) == BGWH_STOPPED;
			else
				gone = TimestampDifferenceExceeds(s->reserved_at, now, ORPHAN_TIMEOUT_MS);
			started = false;
		}
		run_id = s->run_id;
		SpinLockAcquire(&s->mutex);
		recorded = s->recorded;
		cancelled = s->cancel_requested;
		p = s->progress;
		strlcpy(error, s->error, sizeof(error));
		SpinLockRelease(&s->mutex);
		LWLockRelease(ntg_jobs->lock);
		if (!gone)
		{
			live = true;
			continue;
		}
		if (!recorded && run_id > 0)
		{
			begin_tx();
			if (!started)
				finish(run_id, cancelled, "the job worker did not start", NULL,
					   "See the server log.", NULL);
			else
				finish(run_id, cancelled,
					   error[0] ? error : "the job worker exited before recording an outcome",
					   error[0] ? "The job worker exited with this error." : NULL,
					   "See the server log.", ntg_jobs_progress_json(&p));
			commit_tx();
		}
		release_slot(i);
	}
	return live;
}

void
ntg_job_scheduler_main(Datum arg)
{
	NtgJobDatabase *db;

	my_entry = DatumGetInt32(arg);
	memcpy(&my_db, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	before_shmem_exit(scheduler_detach, 0);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(my_db, InvalidOid, 0);
	pgstat_report_appname("ntg job scheduler");

	db = &ntg_jobs->dbs[my_entry];
	LWLockAcquire(ntg_jobs->lock, LW_EXCLUSIVE);
	if (db->dboid != my_db || db->state != JOB_DB_LAUNCHING)
	{
		LWLockRelease(ntg_jobs->lock);
		proc_exit(0);
	}
	db->state = JOB_DB_RUNNING;
	db->scheduler = MyProc;
	db->wanted = false;
	attached = true;
	LWLockRelease(ntg_jobs->lock);
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (!ntg_jobs_installed())
	{
		CommitTransactionCommand();
		(void) try_exit();
		proc_exit(0);
	}
	CommitTransactionCommand();

	mark_interrupted();
	for (;;)
	{
		bool		live;
		bool		waiting;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		live = reap();
		waiting = launch();
		if (!live && !waiting)
		{
			/* a worker started by launch() holds a slot now: look before leaving */
			live = reap();
			if (!live && try_exit())
				proc_exit(0);
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
