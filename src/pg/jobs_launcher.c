/*
 * jobs_launcher.c — the one static background worker of the jobs: it starts a scheduler for each
 * database that wants one (jobs.h).  At its own start (server start, and after every crash) every
 * database wants one, so that the runs a restart interrupted are reported and queued jobs run;
 * after that a database wants one when a job is submitted there or a worker of it exits.
 *
 * It connects to no database (it reads pg_database only) and holds no transaction while waiting.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "jobs.h"

PGDLLEXPORT void ntg_job_launcher_main(Datum arg);

#define MAX_LAUNCHING		2		/* schedulers being started at once */

static BackgroundWorkerHandle *handles[NTG_JOB_DATABASES];
static Oid *pending = NULL;			/* databases to give a scheduler when an entry frees up */
static int	n_pending = 0;
static int	max_pending = 0;

void
ntg_jobs_register_launcher(void)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = 5;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "ntg");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "ntg_job_launcher_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "ntg job launcher");
	snprintf(w.bgw_type, BGW_MAXLEN, "ntg job launcher");
	RegisterBackgroundWorker(&w);
}

static void
launcher_detach(int code, Datum arg)
{
	LWLockAcquire(ntg_jobs->lock, LW_EXCLUSIVE);
	if (ntg_jobs->launcher == MyProc)
		ntg_jobs->launcher = NULL;
	LWLockRelease(ntg_jobs->lock);
}

static void
add_pending(Oid dboid)
{
	for (int i = 0; i < n_pending; i++)
		if (pending[i] == dboid)
			return;
	if (n_pending == max_pending)
	{
		max_pending = Max(16, max_pending * 2);
		pending = pending ? repalloc(pending, max_pending * sizeof(Oid))
			: MemoryContextAlloc(TopMemoryContext, max_pending * sizeof(Oid));
	}
	pending[n_pending++] = dboid;
}

/* Every database a scheduler could connect to (templates aside) becomes pending. */
static void
add_all_databases(void)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database d = (Form_pg_database) GETSTRUCT(tup);

		if (d->datallowconn && !d->datistemplate)
			add_pending(d->oid);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
}

static NtgJobDatabase *
find_entry(Oid dboid, bool create)
{
	for (int i = 0; i < NTG_JOB_DATABASES; i++)
		if (ntg_jobs->dbs[i].dboid == dboid)
			return &ntg_jobs->dbs[i];
	if (create)
		for (int i = 0; i < NTG_JOB_DATABASES; i++)
			if (ntg_jobs->dbs[i].dboid == InvalidOid)
			{
				memset(&ntg_jobs->dbs[i], 0, sizeof(NtgJobDatabase));
				ntg_jobs->dbs[i].dboid = dboid;
				return &ntg_jobs->dbs[i];
			}
	return NULL;
}

/* Under the lock: pending databases into entries, as far as entries are free. */
static void
take_pending(void)
{
	int			kept = 0;

	for (int i = 0; i < n_pending; i++)
	{
		NtgJobDatabase *db = find_entry(pending[i], true);

		if (db != NULL)
			db->wanted = true;
		else
			pending[kept++] = pending[i];
	}
	n_pending = kept;
}

static bool
start_scheduler(int entry, Oid dboid)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "ntg");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "ntg_job_scheduler_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "ntg job scheduler for database %u", dboid);
	snprintf(w.bgw_type, BGW_MAXLEN, "ntg job scheduler");
	w.bgw_main_arg = Int32GetDatum(entry);
	memcpy(w.bgw_extra, &dboid, sizeof(Oid));
	w.bgw_notify_pid = MyProcPid;
	if (handles[entry] != NULL)
		pfree(handles[entry]);
	handles[entry] = NULL;
	return RegisterDynamicBackgroundWorker(&w, &handles[entry]);
}

/*
 * One pass: forget schedulers that never started, start one for every database that wants one
 * (at most MAX_LAUNCHING starting at a time), free entries nobody needs.  Returns whether work is
 * left for a later pass.
 */
static bool
launch_pass(void)
{
	int			to_start[NTG_JOB_DATABASES];
	int			n_start = 0;
	int			launching = 0;
	bool		more = false;
	TimestampTz now = GetCurrentTimestamp();

	/* a scheduler that exited before attaching leaves its entry LAUNCHING: reset it */
	for (int i = 0; i < NTG_JOB_DATABASES; i++)
	{
		pid_t		pid;

		if (handles[i] != NULL && GetBackgroundWorkerPid(handles[i], &pid) == BGWH_STOPPED)
		{
			LWLockAcquire(ntg_jobs->lock, LW_EXCLUSIVE);
			if (ntg_jobs->dbs[i].state == JOB_DB_LAUNCHING)
				ntg_jobs->dbs[i].state = JOB_DB_IDLE;
			LWLockRelease(ntg_jobs->lock);
			pfree(handles[i]);
			handles[i] = NULL;
		}
	}

	LWLockAcquire(ntg_jobs->lock, LW_EXCLUSIVE);
	if (ntg_jobs->rescan)
	{
		ntg_jobs->rescan = false;
		LWLockRelease(ntg_jobs->lock);
		add_all_databases();
		LWLockAcquire(ntg_jobs->lock, LW_EXCLUSIVE);
	}
	take_pending();
	for (int i = 0; i < NTG_JOB_DATABASES; i++)
	{
		NtgJobDatabase *db = &ntg_jobs->dbs[i];

		if (db->state == JOB_DB_LAUNCHING && handles[i] == NULL)
			db->state = JOB_DB_IDLE;	/* started by an earlier launcher that died */
		if (db->state == JOB_DB_LAUNCHING)
			launching++;
	}
	for (int i = 0; i < NTG_JOB_DATABASES; i++)
	{
		NtgJobDatabase *db = &ntg_jobs->dbs[i];

		if (db->dboid == InvalidOid || db->state != JOB_DB_IDLE)
			continue;
		if (!db->wanted)
			db->dboid = InvalidOid; /* nobody needs it: free */
		else if (launching < MAX_LAUNCHING)
		{
			db->wanted = false;		/* the scheduler reads the queue when it starts */
			db->state = JOB_DB_LAUNCHING;
			to_start[n_start++] = i;
			launching++;
		}
		else
			more = true;
	}
	more = more || n_pending > 0 || launching > 0;
	for (int k = 0; k < n_start; k++)
	{
		int			i = to_start[k];
		Oid			dboid = ntg_jobs->dbs[i].dboid;

		LWLockRelease(ntg_jobs->lock);
		if (!start_scheduler(i, dboid))
		{
			static TimestampTz last_warning = 0;

			if (TimestampDifferenceExceeds(last_warning, now, 60000))
			{
				ereport(WARNING,
						(errmsg("could not start an ntg job scheduler"),
						 errhint("Raise max_worker_processes.")));
				last_warning = now;
			}
			handles[i] = NULL;
			LWLockAcquire(ntg_jobs->lock, LW_EXCLUSIVE);
			ntg_jobs->dbs[i].state = JOB_DB_IDLE;
			ntg_jobs->dbs[i].wanted = true;
		}
		else
			LWLockAcquire(ntg_jobs->lock, LW_EXCLUSIVE);
	}
	LWLockRelease(ntg_jobs->lock);
	return more;
}

void
ntg_job_launcher_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("ntg job launcher");

	LWLockAcquire(ntg_jobs->lock, LW_EXCLUSIVE);
	ntg_jobs->launcher = MyProc;
	LWLockRelease(ntg_jobs->lock);
	before_shmem_exit(launcher_detach, 0);

	add_all_databases();
	while (!ShutdownRequestPending)
	{
		bool		more;

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			/* ntg.max_job_workers may have risen from 0: look at every database again */
			add_all_databases();
		}
		more = launch_pass();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 more ? 500 : 10000, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	/* exit code 1: restarted after bgw_restart_time unless the server is shutting down */
	proc_exit(1);
}
