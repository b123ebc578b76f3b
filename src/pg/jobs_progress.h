/*
 * jobs_progress.h — the progress sink: long operations publish what they are doing here as well
 * as in their NOTICE lines.  Inside a background job worker it lands in the job's shared-memory
 * slot, which ntg.job_status shows to other sessions; in any other backend every call is a no-op.
 */
#ifndef NTG_JOBS_PROGRESS_H
#define NTG_JOBS_PROGRESS_H

#include "models/train_driver.h"

/* A progress line (the text of an ntg_log NOTICE or INFO). */
void		ntg_job_progress_message(const char *msg);

/* Hooks for ntg_training_run() that publish each epoch (and t's row count now); NULL outside a
 * job worker, which leaves the training exactly as without hooks. */
const NtgTrainHooks *ntg_job_train_hooks(const NtgTraining *t);

/* An import's totals so far. */
void		ntg_job_progress_import(int files_done, int files_total, int64_t packets,
									int64_t biflows);

#endif							/* NTG_JOBS_PROGRESS_H */
