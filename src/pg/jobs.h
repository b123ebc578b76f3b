/*
 * jobs.h — background jobs: what the launcher, the per-database schedulers, the job workers and
 * the SQL functions share (docs/jobs.md).
 *
 * Processes, all started by the postmaster (ntg must be in shared_preload_libraries):
 *   launcher   one, static.  Connected to no database.  Starts a scheduler for a database when a
 *              job was submitted there (or, at its own start, for every database, so that runs a
 *              restart interrupted are reported and queued jobs run).
 *   scheduler  one per database while it has work, connected as the bootstrap superuser.  Marks
 *              interrupted runs, claims queued jobs (ntg.jobs), starts a worker for each, records
 *              the outcome of a worker that died, and exits when nothing is queued or running.
 *   worker     one per run, connected as the job's owner role: runs the command, publishes its
 *              progress in its slot, records its own outcome in ntg.job_runs.
 *
 * Shared memory: a slot per running job (progress, cancel flag, last error message) and a small
 * table of databases that want or have a scheduler.  The tables ntg.jobs and ntg.job_runs are
 * the record; shared memory is what is alive now (after a crash it is reset, and every run the
 * tables still show as running is then known to have been interrupted).
 */
#ifndef NTG_JOBS_H
#define NTG_JOBS_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/spin.h"

#define NTG_JOB_SLOTS		32		/* ntg.max_job_workers is at most this */
#define NTG_JOB_DATABASES	32		/* databases with a scheduler wanted or running at once */
#define NTG_JOB_PHASE_LEN	16
#define NTG_JOB_MESSAGE_LEN 256
#define NTG_JOB_ERROR_LEN	1024

typedef enum NtgJobSlotState
{
	JOB_SLOT_FREE = 0,
	JOB_SLOT_RESERVED,			/* a scheduler claimed a run for it; worker not attached yet */
	JOB_SLOT_RUNNING,			/* the worker attached */
	JOB_SLOT_EXITED				/* the worker exited; its scheduler has not reaped it yet */
} NtgJobSlotState;

/* Live progress of a run, as the view ntg.job_status shows it. */
typedef struct NtgJobProgress
{
	char		phase[NTG_JOB_PHASE_LEN];	/* starting, running, training, importing */
	int32		epoch;			/* training: epochs done, of epochs planned */
	int32		epochs;
	int32		best_epoch;
	double		loss;			/* NaN when not known */
	double		val_loss;
	int64		rows;			/* training rows */
	int32		files_done;		/* import: capture files done, of files to import */
	int32		files_total;
	int64		packets;		/* import: packets read, biflows written so far */
	int64		biflows;
	char		message[NTG_JOB_MESSAGE_LEN];	/* the last progress line */
	TimestampTz updated_at;
} NtgJobProgress;

typedef struct NtgJobSlot
{
	/* state and identity change under the jobs lock (exclusive) */
	NtgJobSlotState state;
	Oid			dboid;
	Oid			owner;
	int64		job_id;
	int64		run_id;
	TimestampTz reserved_at;
	/* the rest under mutex */
	slock_t		mutex;
	pid_t		pid;
	bool		cancel_requested;
	bool		recorded;		/* the worker wrote the run's outcome into ntg.job_runs */
	char		error[NTG_JOB_ERROR_LEN];	/* the last ERROR or FATAL the worker reported */
	NtgJobProgress progress;
} NtgJobSlot;

typedef enum NtgJobDbState
{
	JOB_DB_IDLE = 0,
	JOB_DB_LAUNCHING,			/* the launcher registered a scheduler for it */
	JOB_DB_RUNNING				/* the scheduler attached */
} NtgJobDbState;

typedef struct NtgJobDatabase
{
	Oid			dboid;			/* InvalidOid: entry free */
	bool		wanted;			/* something happened there since its scheduler last looked */
	NtgJobDbState state;
	PGPROC	   *scheduler;		/* when RUNNING */
} NtgJobDatabase;

typedef struct NtgJobsShared
{
	LWLock	   *lock;
	PGPROC	   *launcher;
	bool		rescan;			/* a wake-up found no free database entry: visit every database */
	NtgJobDatabase dbs[NTG_JOB_DATABASES];
	NtgJobSlot	slots[NTG_JOB_SLOTS];
} NtgJobsShared;

/* NULL unless ntg was loaded by shared_preload_libraries (jobs_shmem.c). */
extern NtgJobsShared *ntg_jobs;
extern int	ntg_max_job_workers;

/* jobs_shmem.c */
void		ntg_jobs_init(void);
void		ntg_jobs_require(void);
void		ntg_jobs_wake_database(Oid dboid);
void		ntg_jobs_wake_at_commit(void);
int			ntg_jobs_live_runs(Oid dboid, int64 *run_ids, int max);

/* jobs_launcher.c (the entry points ntg_job_*_main are declared in their own files, where
 * make finds them for the export list) */
void		ntg_jobs_register_launcher(void);

/* jobs_worker.c: the slot this process publishes progress into (NULL outside a job worker) */
extern NtgJobSlot *ntg_job_my_slot;

/* jobs_record.c: bookkeeping on ntg.jobs / ntg.job_runs as the owner of those tables */
typedef struct NtgJobPriv
{
	Oid			save_user;
	int			save_sec;
	int			guc_level;
} NtgJobPriv;

typedef struct NtgJobError
{
	const char *message;
	const char *detail;
	const char *hint;
	const char *sqlstate;		/* five characters, or NULL */
} NtgJobError;

void		ntg_jobs_priv_enter(NtgJobPriv *p);
void		ntg_jobs_priv_exit(NtgJobPriv *p);
bool		ntg_jobs_installed(void);
/* Close a run that is still 'running' as failed or cancelled and requeue its job when it has
 * attempts left (failed, not cancelled); returns the job's new state ("" when the run was no
 * longer running).  Runs in the current transaction, with the caller's SPI connection or not. */
const char *ntg_jobs_finish_run(int64 run_id, bool cancelled, const NtgJobError *e,
								const char *progress_json);
void		ntg_jobs_succeed_run(int64 run_id, const char *result, const char *progress_json);
char	   *ntg_jobs_progress_json(const NtgJobProgress *p);
void		ntg_jobs_slot_progress(NtgJobSlot *slot, NtgJobProgress *out);

#endif							/* NTG_JOBS_H */
