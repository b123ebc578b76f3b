/*
 * generator.h — the one interface every generative model kind implements (llama now; mamba,
 * netdiffus and cvae later).  The SQL glue (src/pg/models_sql.c) only talks to this interface:
 * create from hyperparameters and a training set, train epoch by epoch, sample rows of a class,
 * save to / load from the checked container (common/blob.h).
 *
 * Ownership: a model and everything it holds is allocated with ntg_malloc (so, in a backend, in
 * the memory context current at create/load time); destroy() frees it.
 */
#ifndef NTG_GENERATOR_H
#define NTG_GENERATOR_H

#include <stdint.h>

#include "common/blob.h"
#include "common/ntg_core.h"
#include "common/params.h"
#include "common/rng.h"
#include "common/seqset.h"

typedef struct NtgGenKind NtgGenKind;

/* Every model struct starts with this, so the glue can read classes and sizes of any kind. */
typedef struct NtgGenModel
{
	const NtgGenKind *kind;
	int			n_classes;
	char	  **classes;		/* class names, sorted as in the training NtgSeqSet */
	int			max_len;		/* N: longest sequence generated (first N payload packets) */
	int64_t		n_params;		/* trainable parameters */
	int			epochs_done;
} NtgGenModel;

typedef struct NtgSampleOptions
{
	double		temperature;	/* > 0; 1 = the model's distribution */
	int			top_k;			/* 0 = off */
	double		top_p;			/* 1 = off */
	int			stratified;		/* 1: the rows of a batch are one stratified sample of the
								 * model's distribution (llama_sample.c); 0: independent rows */
} NtgSampleOptions;

typedef struct NtgTrainOptions
{
	int			epochs;			/* as read from params by create(); the glue loops over them */
	uint64_t	seed;
} NtgTrainOptions;

struct NtgGenKind
{
	const char *name;			/* "llama" */

	/*
	 * Build an untrained model for this training set: reads the hyperparameters it knows from
	 * params (the glue then refuses unknown keys), derives vocabulary/classes from train, and fills
	 * *topts (epochs, seed).  config_json receives an ntg_malloc'd JSON object of the full config
	 * (defaults filled in) for ntg.models.config.
	 */
	int			(*create) (NtgParams *params, const NtgSeqSet *train, NtgGenModel **model,
						   NtgTrainOptions *topts, char **config_json, NtgError *err);

	/* One pass over train (shuffled with rng); *mean_loss = average training loss.
	 * Calls ntg_check_interrupts() at least once per batch. */
	int			(*train_epoch) (NtgGenModel *model, const NtgSeqSet *train, int epoch,
								NtgRng *rng, double *mean_loss, NtgError *err);

	/*
	 * Mean loss per scored target over set's rows, without training (ntg.train's validation
	 * loss).  set must have the model's classes.  A value outside the model's vocabulary ends
	 * its row's scoring (the model cannot emit it); *scored = targets scored (0: *mean_loss 0).
	 */
	int			(*eval_loss) (NtgGenModel *model, const NtgSeqSet *set, double *mean_loss,
							  int64_t *scored, NtgError *err);

	/* Generate n rows of class class_index into out (n x model->max_len int32, row-major) and
	 * out_len (n lengths, 0..max_len). */
	int			(*sample) (NtgGenModel *model, int class_index, int n,
						   const NtgSampleOptions *opts, NtgRng *rng,
						   int32_t *out, int *out_len, NtgError *err);

	/* Serialize into the container (kind name, config JSON, named tensors incl. vocabulary and
	 * classes); *out is ntg_malloc'd. */
	int			(*save) (NtgGenModel *model, uint8_t **out, size_t *out_len, NtgError *err);

	/* Rebuild from a parsed, checksum-verified blob of this kind: must still check every size
	 * and value it relies on (NTG_ERR_CORRUPT on any mismatch), never trust the bytes. */
	int			(*load) (const NtgBlob *blob, NtgGenModel **model, NtgError *err);

	void		(*destroy) (NtgGenModel *model);
};

/* Registry of kinds (models/registry.c). */
const NtgGenKind *ntg_gen_kind_find(const char *name);
/* Comma-separated list of known kind names, for error hints. */
const char *ntg_gen_kind_names(void);

/* Parse bytes (checks container + kind) and load; the one entry point for stored models. */
int			ntg_gen_model_from_bytes(const uint8_t *buf, size_t len, NtgGenModel **model,
									 NtgError *err);

#endif							/* NTG_GENERATOR_H */
