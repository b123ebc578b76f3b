/*
 * model.h — the one interface every model kind implements, and the registry of kinds.
 *
 * A kind (llama, random_forest, and the kinds to come) is a table of callbacks with capability
 * flags, in the manner of PostgreSQL's index access methods: the flags say what a kind can do,
 * and the callbacks of what it cannot do are NULL.  Everything above the kinds — the training
 * driver (train_driver.h), storage (model_io.c), sampling options (sample_options.c), the SQL
 * glue, the conformance tests — is written once against this table:
 *
 *   create / estimate / train_epoch     training (epoch by epoch; a one-shot trainer has 1 epoch)
 *   eval_loss                           NTG_CAP_VALIDATION: held-out loss, early stopping
 *   sample                              NTG_CAP_GENERATE: synthetic rows of a class
 *   predict_proba                       NTG_CAP_CLASSIFY: class probabilities of a sequence
 *   save / load / config_json / destroy storage, description, release
 *
 * Ownership: a model and everything it holds is allocated with ntg_malloc (so, in a backend, in
 * the memory context current at create/load time); destroy() frees it.
 */
#ifndef NTG_MODEL_H
#define NTG_MODEL_H

#include <stdint.h>

#include "common/blob.h"
#include "common/ntg_core.h"
#include "common/params.h"
#include "common/rng.h"
#include "common/seqset.h"
#include "nn/nn_quant.h"

typedef struct NtgModelKind NtgModelKind;

/* What a kind is, for users (ntg.model_kinds()) and for the choice of default code paths. */
typedef enum NtgModelFamily
{
	NTG_FAMILY_TOKEN = 0,		/* autoregressive over value tokens (llama, mamba) */
	NTG_FAMILY_DIFFUSION,		/* denoising diffusion on an image form of the sequence */
	NTG_FAMILY_LATENT,			/* latent-variable generator (a VAE) */
	NTG_FAMILY_CLASSIFIER		/* a classifier of sequences (random_forest) */
} NtgModelFamily;

/* Capability flags; a flag is set exactly when its callback is present (tested). */
#define NTG_CAP_GENERATE	0x01	/* sample() */
#define NTG_CAP_CLASSIFY	0x02	/* predict_proba() */
#define NTG_CAP_VALIDATION	0x04	/* eval_loss(): held-out loss and early stopping */
#define NTG_CAP_EPOCHS		0x08	/* trains in several epochs with a loss per epoch */
#define NTG_CAP_QUANTIZE	0x10	/* quantize(): int8 weights (nn/nn_quant.h) */
#define NTG_CAP_DEVICE		0x20	/* set_device(): trains and samples on a CUDA device too */

/*
 * Where the work of a kind with NTG_CAP_DEVICE runs (the setting ntg.device in SQL):
 *   CPU   always on the CPU (the reference; what a zeroed struct means)
 *   AUTO  on the CUDA device when one is usable, else on the CPU, silently
 *   CUDA  on the CUDA device; NTG_ERR_NO_DEVICE when none is usable
 * Kinds without NTG_CAP_DEVICE run on the CPU under every mode.  The stored bytes of a model
 * never depend on where it was trained: a model trained on one device samples on the other.
 */
typedef enum NtgDeviceMode
{
	NTG_DEVICE_CPU = 0,
	NTG_DEVICE_AUTO,
	NTG_DEVICE_CUDA
} NtgDeviceMode;

struct NnDeviceApi;

/* ---- sampling options ---------------------------------------------------------------------- */

#define NTG_MAX_SAMPLE_OPTIONS 12

/*
 * A sampling option a generator kind accepts (ntg.generate's options, and the defaults a model
 * stores at training time under the hyperparameter "sampling").  Numbers are checked against
 * [min, max] (min excluded when min_open); integer options also for being whole.
 */
typedef enum NtgOptionType
{
	NTG_OPTION_NUMBER = 0,
	NTG_OPTION_INTEGER,
	NTG_OPTION_BOOL
} NtgOptionType;

typedef struct NtgOptionSpec
{
	const char *name;
	NtgOptionType type;
	double		dflt;			/* what a new model stores unless training says otherwise */
	double		legacy;			/* what a model stored without sampling defaults uses */
	double		min;
	double		max;
	int			min_open;		/* min itself is refused */
	const char *help;			/* one line, for ntg.model_kinds() and errors */
} NtgOptionSpec;

/* Resolved values, one per spec entry of the model's kind, in spec order. */
typedef struct NtgSampleOptions
{
	int			n;
	double		value[NTG_MAX_SAMPLE_OPTIONS];
} NtgSampleOptions;

/* ---- models -------------------------------------------------------------------------------- */

/*
 * The training sequences of a generator, as 64-bit hashes with their counts per class (copy_guard.c):
 * what the sampling options copy_guard / copy_budget compare generated rows with.  Built by the
 * training driver from the rows trained on, stored with the model ("sampling.copies" tensors).
 */
typedef struct NtgCopyIndex
{
	int			n_classes;
	int			n;				/* distinct (class, sequence) pairs */
	int32_t    *offsets;		/* n_classes + 1: class c's entries are [offsets[c], offsets[c+1]) */
	uint64_t   *hashes;			/* n, ascending within a class */
	int32_t    *counts;			/* n, >= 1: training rows with that sequence */
	int32_t    *count_of_counts;	/* n_classes x 3: distinct sequences seen 0 (unused), 1, 2 times */
} NtgCopyIndex;

/* Every model struct starts with this, so generic code reads classes and sizes of any kind. */
typedef struct NtgModel
{
	const NtgModelKind *kind;
	int			n_classes;
	char	  **classes;		/* class names, sorted as in the training NtgSeqSet */
	int			max_len;		/* N: longest sequence generated / features classified */
	int64_t		n_params;		/* trainable parameters (tree nodes for a forest) */
	int			epochs_done;
	/* neural kinds: the flat parameter buffer, so that generic code can check it (finite) */
	const float *weights;
	size_t		n_weights;
	NtgSampleOptions sampling;	/* generators: the defaults this model samples with */
	const struct NnDeviceApi *device;	/* where train_epoch / sample run; NULL: the CPU */
	int			quantization;	/* NN_QUANT_NONE (float32), _WEIGHT_ONLY or _DYNAMIC */
	NtgCopyIndex *copies;		/* generators: hashes of the training sequences, or NULL (a model
								 * stored before they were kept); freed by ntg_model_destroy */
} NtgModel;

/* What estimate() and create() tell the training driver. */
typedef struct NtgTrainPlan
{
	int			epochs;			/* epochs to run; a one-shot trainer says 1 */
	uint64_t	seed;			/* the model's "seed" hyperparameter (shuffles, dropout, split) */
	int64_t		bytes;			/* estimate(): most memory creating and training would take */
} NtgTrainPlan;

struct NtgModelKind
{
	const char *name;			/* [a-z0-9_]: "llama" */
	const char *summary;		/* one line */
	NtgModelFamily family;
	unsigned	caps;			/* NTG_CAP_* */
	const NtgOptionSpec *sample_options;	/* generators; NULL otherwise */
	int			n_sample_options;
	/* flat JSON object of hyperparameters for the smallest sensible model: what the conformance
	 * suite trains (test/unit/test_conformance.c, test/tap/conformance.t) */
	const char *tiny_hyperparams;

	/*
	 * The plan for these hyperparameters and rows, with plan->bytes = the most memory creating
	 * the model and training it would take (weights, gradients, optimizer state, activations,
	 * buffers): called BEFORE anything is allocated, so that the driver can refuse a model
	 * beyond the caller's limit.  Reads the hyperparameters as create() does and refuses invalid
	 * ones the same way.
	 */
	int			(*estimate) (NtgParams *params, const NtgSeqSet *train, NtgTrainPlan *plan,
							 NtgError *err);

	/*
	 * Build an untrained model for this training set: reads the hyperparameters it knows from
	 * params (the driver then refuses unknown keys) and fills *plan.
	 */
	int			(*create) (NtgParams *params, const NtgSeqSet *train, NtgModel **model,
						   NtgTrainPlan *plan, NtgError *err);

	/* One pass over train (shuffled with rng).  *mean_loss = average training loss, or NaN for
	 * a kind without a loss.  Calls ntg_check_interrupts() at least once per batch. */
	int			(*train_epoch) (NtgModel *model, const NtgSeqSet *train, int epoch,
								NtgRng *rng, double *mean_loss, NtgError *err);

	/*
	 * Optional: called once when training is over and the model has its final weights (the best
	 * epoch's, when validation chose one), before it is saved; a kind puts its weights in the
	 * form it keeps them (llama: rounded to float16 values, nn.h).
	 */
	int			(*finish_training) (NtgModel *model, NtgError *err);

	/*
	 * NTG_CAP_VALIDATION: mean loss per scored target over set's rows, without training.  set has
	 * the model's classes.  *scored = targets scored (0: nothing scorable, *mean_loss 0).
	 */
	int			(*eval_loss) (NtgModel *model, const NtgSeqSet *set, double *mean_loss,
							  int64_t *scored, NtgError *err);

	/* NTG_CAP_GENERATE: n rows of class class_index into out (n x model->max_len int32,
	 * row-major) and out_len (n lengths, 0..max_len). opts were checked against the spec. */
	int			(*sample) (NtgModel *model, int class_index, int n,
						   const NtgSampleOptions *opts, NtgRng *rng,
						   int32_t *out, int *out_len, NtgError *err);

	/*
	 * Generators, optional (NULL: nothing to check): refuse sampling options this model cannot
	 * honour, beyond the spec's ranges (a netdiffus trained without its no-class input cannot be
	 * guided).  Called on the defaults training stores and on every call's options, through
	 * ntg_sample_options_check(); NTG_ERR_INVALID_ARG with the reason.
	 */
	int			(*check_sampling) (const NtgModel *model, const NtgSampleOptions *opts,
								   NtgError *err);

	/* NTG_CAP_CLASSIFY: probabilities of the n_classes classes for one sequence. */
	void		(*predict_proba) (const NtgModel *model, const int32_t *values, int len,
								  double *proba);

	/* Describe the model into blob: ntg_blob_init() with the kind's name and config JSON, then
	 * its tensors (model_io.c adds the generic ones and serializes).  Data added with
	 * ntg_blob_add() must live as long as the model; temporaries go in with ntg_blob_add_copy(). */
	int			(*save) (NtgModel *model, NtgBlob *blob, NtgError *err);

	/* Rebuild from a parsed, checksum-verified blob of this kind: must still check every size
	 * and value it relies on (NTG_ERR_CORRUPT on any mismatch), never trust the bytes. */
	int			(*load) (const NtgBlob *blob, NtgModel **model, NtgError *err);

	/* The full configuration (defaults filled in) as an ntg_malloc'd JSON object. */
	char	   *(*config_json) (const NtgModel *model);

	/*
	 * NTG_CAP_QUANTIZE: replace the model's matrices by int8 ones, in place (mode
	 * NN_QUANT_WEIGHT_ONLY or NN_QUANT_DYNAMIC; nn/nn_quant.h), and set model->quantization.  A
	 * quantized model only changes mode.  Its save() then stores the int8 form and its load()
	 * reads it back (nn/nn_store.h does both for a parameter buffer); it samples through the
	 * int8 path and refuses train_epoch().  Called through ntg_model_quantize().
	 */
	int			(*quantize) (NtgModel *model, int mode, NtgError *err);

	void		(*destroy) (NtgModel *model);

	/*
	 * NTG_CAP_DEVICE: run train_epoch, eval_loss and sample on dev (a device from nn_device.h)
	 * from now on, or on the CPU (dev NULL), moving what must move (weights, optimizer state)
	 * and setting model->device.  The model's host weights are what save() stores: a kind keeps
	 * them current after every epoch.  Called through ntg_model_set_device.
	 */
	int			(*set_device) (NtgModel *model, const struct NnDeviceApi *dev, NtgError *err);
};

/* ---- registry (registry.c) ------------------------------------------------------------------ */

int			ntg_model_kind_count(void);
const NtgModelKind *ntg_model_kind_at(int i);
const NtgModelKind *ntg_model_kind_find(const char *name);
/* Comma-separated names of the kinds with all of caps (0: every kind), for hints; static. */
const char *ntg_model_kind_names(unsigned caps);
const char *ntg_model_family_name(NtgModelFamily family);

/* ---- storage (model_io.c) ------------------------------------------------------------------- */

/* Serialize a model (kind->save plus the generic parts: sampling defaults). ntg_malloc'd. */
int			ntg_model_save(NtgModel *model, uint8_t **out, size_t *out_len, NtgError *err);
/* Parse bytes (container, kind, generic parts) and load: the one entry point for stored models. */
int			ntg_model_from_bytes(const uint8_t *buf, size_t len, NtgModel **model,
								 NtgError *err);
/* The same, but the model may keep pointers into buf instead of copying its weights: the caller
 * keeps buf alive, unchanged, as long as the model (a cache of loaded models does). */
int			ntg_model_from_bytes_borrow(const uint8_t *buf, size_t len, NtgModel **model,
										NtgError *err);
/* The same for bytes that must hold a model of this kind (registered or not). */
int			ntg_model_from_bytes_of(const NtgModelKind *kind, const uint8_t *buf, size_t len,
									NtgModel **model, NtgError *err);
void		ntg_model_destroy(NtgModel *model);
/* kind->quantize() after the checks every kind shares: the capability (NTG_ERR_UNSUPPORTED,
 * naming the kinds that can) and the mode (NTG_ERR_INVALID_ARG). */
int			ntg_model_quantize(NtgModel *model, int mode, NtgError *err);
/* A classifier's most probable class for a sequence (the first on ties); proba is scratch for
 * n_classes doubles and holds the probabilities afterwards. */
int			ntg_model_classify(const NtgModel *model, const int32_t *values, int len,
							   double *proba);

/* A copy of n class names into model->classes. */
int			ntg_model_copy_classes(NtgModel *model, char *const *classes, int n, NtgError *err);
void		ntg_model_free_classes(NtgModel *model);

/* ---- devices (model_device.c) ---------------------------------------------------------------- */

/* The device mode resolves to now: *dev NULL for the CPU.  AUTO without a usable device is the
 * CPU (NTG_OK); CUDA without one is NTG_ERR_NO_DEVICE saying why, with a hint. */
int			ntg_device_resolve(NtgDeviceMode mode, const struct NnDeviceApi **dev, NtgError *err);
/* Run model's device-capable work where mode says (kinds without NTG_CAP_DEVICE: on the CPU,
 * whatever the mode).  Under AUTO, a device that fails to take the model (out of device memory)
 * leaves it on the CPU with a warning, once per process. */
int			ntg_model_set_device(NtgModel *model, NtgDeviceMode mode, NtgError *err);
/* "cpu", or "cuda (<device name>)"; for progress lines */
const char *ntg_model_device_name(const NtgModel *model);

/* ---- sampling with copy control (copy_guard.c) --------------------------------------------- */

/*
 * n rows of a class through kind->sample, with the generic sampling options applied: with
 * copy_guard, a row that equals a training sequence seen once in its class is kept with
 * probability min(1, copy_budget * 2 N(2) / N(1)) (Good-Turing, docs/models.md) and drawn again
 * otherwise: the refused rows are drawn again together, round after round, for at most
 * NTG_COPY_MAX_ROUNDS rounds and until NTG_COPY_STALL * n draws in a row keep none (a model that
 * emits nothing but copies); rows still refused then are kept, with a warning.  The one entry point
 * for sampling.
 */
#define NTG_COPY_MAX_ROUNDS 100000
#define NTG_COPY_STALL 50
int			ntg_model_sample(NtgModel *model, int class_index, int n,
							 const NtgSampleOptions *opts, NtgRng *rng, int32_t *out,
							 int *out_len, NtgError *err);
/* The index of the training rows set (classes as the model's); NULL when out of memory. */
NtgCopyIndex *ntg_copy_index_build(const NtgSeqSet *set);
void		ntg_copy_index_free(NtgCopyIndex *ix);
/* Training rows of class c equal to values[0..len); 0 for none. */
int			ntg_copy_index_count(const NtgCopyIndex *ix, int c, const int32_t *values, int len);
/* The probability that a copy of a sequence seen r times in class c is kept, at copy_budget b:
 * min(1, b * 2 N(2) / N(1)) for r = 1, 1 otherwise. */
double		ntg_copy_keep_probability(const NtgCopyIndex *ix, int c, int r, double b);
/* Store the index in blob ("sampling.copies" tensors) / read it back, checked (NTG_ERR_CORRUPT). */
int			ntg_copy_index_save(const NtgCopyIndex *ix, NtgBlob *blob, NtgError *err);
int			ntg_copy_index_load(const NtgBlob *blob, int n_classes, NtgCopyIndex **out,
								NtgError *err);

/* ---- sampling options (sample_options.c) --------------------------------------------------- */

/* The spec defaults (new models) or legacy values (models stored without defaults). */
void		ntg_sample_options_defaults(const NtgModelKind *kind, int legacy,
										NtgSampleOptions *out);
/* Apply the keys of params over *opts, checking each against the kind's spec: an unknown key
 * or a value out of range is NTG_ERR_INVALID_ARG naming the accepted options.  Marks keys used. */
int			ntg_sample_options_apply(const NtgModelKind *kind, NtgParams *params,
									 NtgSampleOptions *opts, NtgError *err);
/* ---- a neural kind's parameter buffer (model_weights.c) ------------------------------------ */

struct NnParams;
/* kind->quantize for a model whose weights are one parameter buffer: nn_params_quantize, then
 * the model's mode and weights view. */
int			ntg_model_quantize_params(NtgModel *model, struct NnParams *p, int mode, NtgError *err);
/* Before training: refuse a quantized buffer (NTG_ERR_UNSUPPORTED, "a quantized model cannot be
 * trained further"), copy weights borrowed from a stored value, and give a loaded model its
 * gradient and Adam buffers (*fresh = 1: the kind then resets its optimizer). */
int			ntg_model_trainable_params(NtgModel *model, struct NnParams *p, int *fresh,
									   NtgError *err);

/* The model-specific check of options (kind->check_sampling), when the kind has one. */
int			ntg_sample_options_check(const NtgModel *model, const NtgSampleOptions *opts,
									 NtgError *err);
/* Index of an option in the kind's spec, or -1. */
int			ntg_sample_option_index(const NtgModelKind *kind, const char *name);
/* {"temperature": 1, ...} of every option; ntg_malloc'd. */
char	   *ntg_sample_options_json(const NtgModelKind *kind, const NtgSampleOptions *opts);
/* "temperature, top_k, ..." for errors; static per kind. */
const char *ntg_sample_option_names(const NtgModelKind *kind);

#endif							/* NTG_MODEL_H */
