/*
 * jobs_progress.c — the progress sink (jobs_progress.h): in a job worker, what long operations
 * report goes into the job's shared-memory slot, where ntg.job_status reads it from any session.
 * Outside a job worker ntg_job_my_slot is NULL and every function returns at once.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/float.h"
#include "utils/timestamp.h"

#include "jobs.h"
#include "jobs_progress.h"

void
ntg_job_progress_message(const char *msg)
{
	NtgJobSlot *s = ntg_job_my_slot;
	TimestampTz now;
	int			len;

	if (s == NULL)
		return;
	now = GetCurrentTimestamp();
	len = pg_mbcliplen(msg, strlen(msg), NTG_JOB_MESSAGE_LEN - 1);
	SpinLockAcquire(&s->mutex);
	memcpy(s->progress.message, msg, len);
	s->progress.message[len] = '\0';
	s->progress.updated_at = now;
	SpinLockRelease(&s->mutex);
}

static void
set_phase(NtgJobSlot *s, const char *phase)
{
	strlcpy(s->progress.phase, phase, NTG_JOB_PHASE_LEN);
}

static void
epoch_done(const NtgEpochReport *r, void *arg)
{
	NtgJobSlot *s = ntg_job_my_slot;
	TimestampTz now = GetCurrentTimestamp();

	if (s == NULL)
		return;
	SpinLockAcquire(&s->mutex);
	set_phase(s, "training");
	s->progress.epoch = r->epoch;
	s->progress.epochs = r->epochs;
	s->progress.loss = r->loss;
	s->progress.val_loss = r->val_loss;
	s->progress.best_epoch = r->best_epoch;
	s->progress.updated_at = now;
	SpinLockRelease(&s->mutex);
}

const NtgTrainHooks *
ntg_job_train_hooks(const NtgTraining *t)
{
	static const NtgTrainHooks hooks = {epoch_done, NULL, 0};
	NtgJobSlot *s = ntg_job_my_slot;
	TimestampTz now;

	if (s == NULL)
		return NULL;
	now = GetCurrentTimestamp();
	SpinLockAcquire(&s->mutex);
	set_phase(s, "training");
	s->progress.epoch = 0;
	s->progress.epochs = t->plan.epochs;
	s->progress.best_epoch = 0;
	s->progress.loss = s->progress.val_loss = get_float8_nan();
	s->progress.rows = t->train.n_rows;
	s->progress.updated_at = now;
	SpinLockRelease(&s->mutex);
	return &hooks;
}

void
ntg_job_progress_import(int files_done, int files_total, int64_t packets, int64_t biflows)
{
	NtgJobSlot *s = ntg_job_my_slot;
	TimestampTz now;

	if (s == NULL)
		return;
	now = GetCurrentTimestamp();
	SpinLockAcquire(&s->mutex);
	set_phase(s, "importing");
	s->progress.files_done = files_done;
	s->progress.files_total = files_total;
	s->progress.packets = packets;
	s->progress.biflows = biflows;
	s->progress.updated_at = now;
	SpinLockRelease(&s->mutex);
}
