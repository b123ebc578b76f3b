/*
 * train_driver.h — training any model kind, in plain C: the one loop that ntg.train, the
 * benchmarks and the background workers share.
 *
 *   NtgTraining t;
 *   ntg_training_prepare(&t, kind, &params, &rows, &limits, &err);   checks, split, create
 *   ntg_training_run(&t, &hooks, &err);                               epochs (cancellable)
 *   ntg_training_save(&t, &bytes, &len, &err);                        the stored value
 *   ntg_training_free(&t);
 *
 * The driver reads its own hyperparameters from the same object as the kind:
 *   validation  0..0.5  fraction of each class's rows held out (NTG_CAP_VALIDATION kinds)
 *   patience    0..     stop after this many epochs without a better held-out loss
 *   sampling    {...}   generators: the sampling options the model stores as its defaults
 * Validation keeps the weights of the epoch with the lowest held-out loss.  A loss or a weight
 * that is not finite stops training with an error naming the epoch (nothing is stored).
 * Progress goes to ntg_log() (one line per epoch, and first a line naming the CUDA device when
 * the epochs run on one: hooks->device) and to hooks->epoch_done for structured consumers; interrupts are checked at least once per batch by the kinds and between epochs here.
 */
#ifndef NTG_TRAIN_DRIVER_H
#define NTG_TRAIN_DRIVER_H

#include "models/model.h"

typedef struct NtgTrainLimits
{
	int64_t		max_bytes;		/* refuse a training whose estimate is larger; <= 0: no limit */
	const char *limit_name;		/* how the caller calls the limit, for the error ("ntg.x") */
} NtgTrainLimits;

typedef struct NtgEpochReport
{
	int			epoch;			/* 1-based */
	int			epochs;			/* planned */
	double		loss;			/* NaN for a kind without a loss */
	double		val_loss;		/* NaN without validation */
	double		seconds;		/* of this epoch, validation included */
	int			best_epoch;		/* so far; 0 without validation */
} NtgEpochReport;

typedef struct NtgTrainHooks
{
	void		(*epoch_done) (const NtgEpochReport *r, void *arg);
	void	   *arg;
	int			quiet;			/* no progress lines (a training inside an experiment) */
	NtgDeviceMode device;		/* where a kind with NTG_CAP_DEVICE trains; NULL hooks: CPU */
} NtgTrainHooks;

typedef struct NtgTraining
{
	const NtgModelKind *kind;
	NtgModel   *model;
	NtgSeqSet	train;			/* rows trained on (owned) */
	NtgSeqSet	held;			/* held-out rows (owned; empty without validation) */
	double		validation;
	int			patience;
	NtgTrainPlan plan;
	NtgSampleOptions model_sampling;	/* the sampling defaults the model will store */
	int64_t		estimated_bytes;
	int64_t		mem_start;		/* core memory held when training began */
	/* results */
	int			epochs_run;
	double	   *losses;			/* epochs_run training losses (NaN without a loss) */
	double	   *val_losses;		/* epochs_run held-out losses; NULL without validation */
	int			best_epoch;		/* epoch of the kept weights (validation); 0 otherwise */
	int			stopped_early;
	double		seconds;		/* wall clock of the whole run */
	double		epoch_seconds;	/* mean time of one training pass (validation excluded) */
	int64_t		peak_bytes;		/* most core memory held during the run, above the start */
	int			quiet;			/* from the hooks of the run */
	int			on_device;		/* the epochs ran on a CUDA device */
	uint8_t    *best;			/* saved weights of the best epoch so far */
	size_t		best_len;
} NtgTraining;

/*
 * Take ownership of rows, read the driver's and the kind's hyperparameters, refuse unknown ones
 * and a model whose estimated memory is beyond limits, hold out the validation rows (seeded by
 * the model's seed), create the model.  Nothing is trained yet.  On failure t holds nothing.
 */
int			ntg_training_prepare(NtgTraining *t, const NtgModelKind *kind, NtgParams *params,
								 NtgSeqSet *rows, const NtgTrainLimits *limits, NtgError *err);
int			ntg_training_run(NtgTraining *t, const NtgTrainHooks *hooks, NtgError *err);
/* The trained model as stored bytes (ntg_malloc'd). */
int			ntg_training_save(NtgTraining *t, uint8_t **out, size_t *out_len, NtgError *err);
/* The kind's configuration with the driver's keys (validation, patience, sampling) added. */
char	   *ntg_training_config_json(const NtgTraining *t);
void		ntg_training_free(NtgTraining *t);

#endif							/* NTG_TRAIN_DRIVER_H */
