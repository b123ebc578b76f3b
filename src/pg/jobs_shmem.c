/*
 * jobs_shmem.c — the jobs' shared memory, their setting ntg.max_job_workers, and how a backend
 * wakes the scheduler of its database when it commits a submitted job.
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "jobs.h"

NtgJobsShared *ntg_jobs = NULL;
int			ntg_max_job_workers = 2;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static bool wake_pending = false;

static void
jobs_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(NtgJobsShared)));
	RequestNamedLWLockTranche("ntg_jobs", 1);
}

/* In the postmaster, at start and again after every crash (fresh, zeroed memory then). */
static void
jobs_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ntg_jobs = ShmemInitStruct("ntg jobs", sizeof(NtgJobsShared), &found);
	if (!found)
	{
		memset(ntg_jobs, 0, sizeof(NtgJobsShared));
		ntg_jobs->lock = &(GetNamedLWLockTranche("ntg_jobs"))->lock;
		for (int i = 0; i < NTG_JOB_SLOTS; i++)
			SpinLockInit(&ntg_jobs->slots[i].mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* From _PG_init: the setting always; shared memory and the launcher only when preloading. */
void
ntg_jobs_init(void)
{
	DefineCustomIntVariable("ntg.max_job_workers",
							"Most background job workers running at once, server-wide.",
							"Jobs beyond it wait in the queue; 0 pauses every job.  Needs ntg in "
							"shared_preload_libraries, and room in max_worker_processes.",
							&ntg_max_job_workers, 2, 0, NTG_JOB_SLOTS,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = jobs_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = jobs_shmem_startup;
	ntg_jobs_register_launcher();
}

/* ERROR 55000 unless the jobs' shared memory exists, i.e. ntg was preloaded. */
void
ntg_jobs_require(void)
{
	if (ntg_jobs == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ntg background jobs are not available"),
				 errdetail("Jobs run in background workers, which ntg can start only when the "
						   "server loaded it at start."),
				 errhint("Add ntg to shared_preload_libraries and restart the server.")));
}

/*
 * Tell dboid's scheduler that there is something to look at (a new job, a worker that exited),
 * or the launcher that the database wants a scheduler.  Never fails: with no free database entry
 * the launcher is asked to visit every database.
 */
void
ntg_jobs_wake_database(Oid dboid)
{
	NtgJobDatabase *db = NULL;
	Latch	   *latch = NULL;

	if (ntg_jobs == NULL)
		return;
	LWLockAcquire(ntg_jobs->lock, LW_EXCLUSIVE);
	for (int i = 0; i < NTG_JOB_DATABASES && db == NULL; i++)
		if (ntg_jobs->dbs[i].dboid == dboid)
			db = &ntg_jobs->dbs[i];
	for (int i = 0; i < NTG_JOB_DATABASES && db == NULL; i++)
		if (ntg_jobs->dbs[i].dboid == InvalidOid)
		{
			db = &ntg_jobs->dbs[i];
			memset(db, 0, sizeof(*db));
			db->dboid = dboid;
		}
	if (db == NULL)
		ntg_jobs->rescan = true;
	else
	{
		db->wanted = true;
		if (db->state == JOB_DB_RUNNING && db->scheduler != NULL)
			latch = &db->scheduler->procLatch;
	}
	if (latch == NULL && ntg_jobs->launcher != NULL)
		latch = &ntg_jobs->launcher->procLatch;
	LWLockRelease(ntg_jobs->lock);
	if (latch != NULL)
		SetLatch(latch);
}

/* A job submitted in this transaction becomes visible at commit: wake the scheduler then. */
static void
jobs_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_pending)
			{
				wake_pending = false;
				ntg_jobs_wake_database(MyDatabaseId);
			}
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			wake_pending = false;
			break;
		default:
			break;
	}
}

void
ntg_jobs_wake_at_commit(void)
{
	static bool registered = false;

	if (!registered)
	{
		RegisterXactCallback(jobs_xact_callback, NULL);
		registered = true;
	}
	wake_pending = true;
}

/* The runs of dboid that a slot holds (reserved, running or not yet reaped): up to max. */
int
ntg_jobs_live_runs(Oid dboid, int64 *run_ids, int max)
{
	int			n = 0;

	LWLockAcquire(ntg_jobs->lock, LW_SHARED);
	for (int i = 0; i < NTG_JOB_SLOTS && n < max; i++)
	{
		NtgJobSlot *s = &ntg_jobs->slots[i];

		if (s->state != JOB_SLOT_FREE && s->dboid == dboid && s->run_id > 0)
			run_ids[n++] = s->run_id;
	}
	LWLockRelease(ntg_jobs->lock);
	return n;
}

/* A consistent copy of a slot's progress. */
void
ntg_jobs_slot_progress(NtgJobSlot *slot, NtgJobProgress *out)
{
	SpinLockAcquire(&slot->mutex);
	*out = slot->progress;
	SpinLockRelease(&slot->mutex);
}
