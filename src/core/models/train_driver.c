/*
 * train_driver.c — the training loop of every model kind (train_driver.h).
 */
#include "models/train_driver.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int64_t
seqset_bytes(const NtgSeqSet *s)
{
	int64_t		values = s->n_rows > 0 ? s->row_start[s->n_rows] : 0;

	return values * 4 + (int64_t) s->n_rows * 12 + (int64_t) s->n_classes * 32;
}

/* The driver's own keys: validation and patience (kinds with a validation loss), sampling
 * defaults (generators).  A kind without the capability leaves them unread, so that they are
 * refused as unknown, naming the kind. */
static int
read_driver_params(NtgTraining *t, NtgParams *params, NtgError *err)
{
	const NtgModelKind *kind = t->kind;
	int64_t		patience = 0;
	int			rc;

	if (kind->caps & NTG_CAP_VALIDATION)
	{
		if ((rc = ntg_params_double(params, "validation", 0.0, 0.0, 0.5, &t->validation, err)) != NTG_OK ||
			(rc = ntg_params_int(params, "patience", 0, 0, 100000, &patience, err)) != NTG_OK)
			return rc;
		t->patience = (int) patience;
		if (t->patience > 0 && t->validation == 0.0)
		{
			ntg_error(err, NTG_ERR_INVALID_ARG, "hyperparameter \"patience\" needs \"validation\" above 0");
			ntg_error_detail(err, "Early stopping watches the loss on held-out rows.");
			return NTG_ERR_INVALID_ARG;
		}
	}
	if (kind->caps & NTG_CAP_GENERATE)
	{
		NtgParams	sampling;

		ntg_sample_options_defaults(kind, 0, &t->model_sampling);
		if ((rc = ntg_params_take_prefix(params, "sampling.", &sampling, err)) == NTG_OK)
			rc = ntg_sample_options_apply(kind, &sampling, &t->model_sampling, err);
		ntg_params_free(&sampling);
		if (rc != NTG_OK)
			return rc;
	}
	return NTG_OK;
}

static int
check_memory(NtgTraining *t, const NtgTrainLimits *limits, NtgError *err)
{
	double		mb = t->estimated_bytes / 1048576.0;

	if (limits == NULL || limits->max_bytes <= 0 || t->estimated_bytes <= limits->max_bytes)
		return NTG_OK;
	ntg_error(err, NTG_ERR_LIMIT, "training this model would take about %.1f MB of memory", mb);
	ntg_error_detail(err, "The limit is %.0f MB (%s).", limits->max_bytes / 1048576.0,
					 limits->limit_name ? limits->limit_name : "memory limit");
	ntg_error_hint(err, "Ask for a smaller model (its size hyperparameters) or train on fewer rows, or ask an administrator to raise the limit.");
	return NTG_ERR_LIMIT;
}

/* Hold out the validation rows, seeded by the model's seed, so that a seed reproduces them. */
static int
split_rows(NtgTraining *t, NtgError *err)
{
	NtgSeqSet	kept;
	NtgRng		rng;
	int			rc;

	if (t->validation == 0.0)
		return NTG_OK;
	ntg_rng_seed(&rng, t->plan.seed ^ UINT64_C(0x76616c6964));	/* "valid" */
	if ((rc = ntg_seqset_split(&t->train, t->validation, &rng, &kept, &t->held, err)) != NTG_OK)
		return rc;
	ntg_seqset_free(&t->train);
	t->train = kept;
	if (t->held.n_rows == 0)
	{
		ntg_error(err, NTG_ERR_INVALID_ARG, "hyperparameter \"validation\" = %g holds out no row",
				  t->validation);
		ntg_error_detail(err, "The fraction of each class's rows rounds to none, and every class keeps at least one row to train on.");
		ntg_error_hint(err, "Use a larger fraction or more rows, or leave \"validation\" out.");
		return NTG_ERR_INVALID_ARG;
	}
	return NTG_OK;
}

/* Refuse held-out rows the model can score none of, before the first epoch: what is scorable
 * depends on the vocabulary only, which create() fixed. */
static int
check_scorable(NtgTraining *t, NtgError *err)
{
	double		loss;
	int64_t		scored;
	int			rc;

	if (t->held.n_rows == 0)
		return NTG_OK;
	if ((rc = t->kind->eval_loss(t->model, &t->held, &loss, &scored, err)) != NTG_OK)
		return rc;
	if (scored == 0)
	{
		ntg_error(err, NTG_ERR_INVALID_ARG, "the validation rows have nothing the model can score");
		ntg_error_detail(err, "Their first values never occur in the training rows.");
		return NTG_ERR_INVALID_ARG;
	}
	return NTG_OK;
}

int
ntg_training_prepare(NtgTraining *t, const NtgModelKind *kind, NtgParams *params,
					 NtgSeqSet *rows, const NtgTrainLimits *limits, NtgError *err)
{
	int			rc;
	char		what[64];

	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->train = *rows;
	memset(rows, 0, sizeof(*rows));
	ntg_mem_reset_peak();
	t->mem_start = ntg_mem_live();
	if (t->train.n_rows == 0)
		rc = ntg_error(err, NTG_ERR_INVALID_ARG, "the training set is empty");
	else if ((rc = read_driver_params(t, params, err)) == NTG_OK &&
			 (rc = kind->estimate(params, &t->train, &t->plan, err)) == NTG_OK)
	{
		t->estimated_bytes = t->plan.bytes + 2 * seqset_bytes(&t->train);
		rc = check_memory(t, limits, err);
	}
	if (rc == NTG_OK)
		rc = split_rows(t, err);
	if (rc == NTG_OK)
		rc = kind->create(params, &t->train, &t->model, &t->plan, err);
	snprintf(what, sizeof(what), "model kind \"%s\"", kind->name);
	if (rc == NTG_OK)
		rc = ntg_params_check_used(params, what, err);
	if (rc == NTG_OK && t->model != NULL)
	{
		t->model->sampling = t->model_sampling;
		rc = ntg_sample_options_check(t->model, &t->model_sampling, err);
	}
	/* generators that offer copy control keep hashes of the rows they train on */
	if (rc == NTG_OK && t->model != NULL && ntg_sample_option_index(kind, "copy_guard") >= 0 &&
		(t->model->copies = ntg_copy_index_build(&t->train)) == NULL)
		rc = ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if (rc == NTG_OK)
		rc = check_scorable(t, err);
	if (rc != NTG_OK)
		ntg_training_free(t);
	return rc;
}

/* Stop with an error when the epoch's loss or the weights are not finite: a diverged model is
 * never stored. */
static int
check_finite(NtgTraining *t, int e, NtgError *err)
{
	const NtgModel *m = t->model;
	int			bad = (t->kind->caps & NTG_CAP_EPOCHS) && !isfinite(t->losses[e]);

	for (size_t i = 0; !bad && i < m->n_weights; i++)
		bad = !isfinite(m->weights[i]);
	if (!bad)
		return NTG_OK;
	ntg_error(err, NTG_ERR_INVALID_ARG, "training diverged in epoch %d: the loss or a weight is not finite",
			  e + 1);
	ntg_error_detail(err, "Nothing was stored.");
	ntg_error_hint(err, "Lower \"lr\" or set \"grad_clip\" (0 turns clipping off).");
	return NTG_ERR_INVALID_ARG;
}

/* Held-out loss after an epoch; keeps a copy of the weights when it is the best so far. */
static int
track_validation(NtgTraining *t, int e, NtgError *err)
{
	int64_t		scored;
	int			rc;

	if ((rc = t->kind->eval_loss(t->model, &t->held, &t->val_losses[e], &scored, err)) != NTG_OK)
		return rc;
	if (t->best_epoch == 0 || t->val_losses[e] < t->val_losses[t->best_epoch - 1])
	{
		ntg_free(t->best);
		t->best = NULL;
		if ((rc = ntg_model_save(t->model, &t->best, &t->best_len, err)) != NTG_OK)
			return rc;
		t->best_epoch = e + 1;
	}
	return NTG_OK;
}

static void
report_epoch(NtgTraining *t, int e, double seconds, const NtgTrainHooks *hooks)
{
	NtgEpochReport r;

	r.epoch = e + 1;
	r.epochs = t->plan.epochs;
	r.loss = t->losses[e];
	r.val_loss = t->val_losses ? t->val_losses[e] : NAN;
	r.seconds = seconds;
	r.best_epoch = t->best_epoch;
	if (t->quiet)
		;
	else if (!(t->kind->caps & NTG_CAP_EPOCHS))
		ntg_log(NTG_LOG_NOTICE, "trained in %.1f s", seconds);
	else if (t->val_losses != NULL)
		ntg_log(NTG_LOG_NOTICE, "epoch %d/%d: loss %.4f, validation loss %.4f, %.1f s", r.epoch,
				r.epochs, r.loss, r.val_loss, seconds);
	else
		ntg_log(NTG_LOG_NOTICE, "epoch %d/%d: loss %.4f, %.1f s", r.epoch, r.epochs, r.loss,
				seconds);
	if (hooks != NULL && hooks->epoch_done != NULL)
		hooks->epoch_done(&r, hooks->arg);
}

/* Put the best epoch's weights back (saved by track_validation). */
static int
restore_best(NtgTraining *t, NtgError *err)
{
	NtgModel   *model;
	int			rc;

	if (t->best == NULL || t->best_epoch == t->epochs_run)
		return NTG_OK;
	if ((rc = ntg_model_from_bytes_of(t->kind, t->best, t->best_len, &model, err)) != NTG_OK)
		return rc;
	ntg_model_destroy(t->model);
	t->model = model;
	if (!t->quiet)
		ntg_log(NTG_LOG_NOTICE, "keeping the weights of epoch %d, the lowest validation loss (%.4f)",
			t->best_epoch, t->val_losses[t->best_epoch - 1]);
	return NTG_OK;
}

int
ntg_training_run(NtgTraining *t, const NtgTrainHooks *hooks, NtgError *err)
{
	int			epochs = t->plan.epochs;
	double		start = now_seconds(),
				in_epochs = 0.0;
	NtgRng		rng;
	int			rc = NTG_OK;

	t->quiet = hooks != NULL && hooks->quiet;
	if (t->held.n_rows > 0 && !t->quiet)
		ntg_log(NTG_LOG_NOTICE, "training on %d rows, %d held out for validation", t->train.n_rows,
				t->held.n_rows);
	ntg_rng_seed(&rng, t->plan.seed);
	t->losses = ntg_calloc(epochs > 0 ? epochs : 1, sizeof(double));
	if (t->held.n_rows > 0)
		t->val_losses = ntg_calloc(epochs > 0 ? epochs : 1, sizeof(double));
	if (t->losses == NULL || (t->held.n_rows > 0 && t->val_losses == NULL))
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if ((rc = ntg_model_set_device(t->model, hooks != NULL ? hooks->device : NTG_DEVICE_CPU,
								   err)) != NTG_OK)
		return rc;
	t->on_device = t->model->device != NULL;
	if (t->on_device && !t->quiet)
		ntg_log(NTG_LOG_NOTICE, "training on %s", ntg_model_device_name(t->model));
	for (int e = 0; e < epochs && rc == NTG_OK; e++)
	{
		double		t0 = now_seconds(),
					t1;

		ntg_check_interrupts();
		rc = t->kind->train_epoch(t->model, &t->train, e, &rng, &t->losses[e], err);
		t1 = now_seconds();
		in_epochs += t1 - t0;
		if (rc != NTG_OK)
			break;
		t->epochs_run = e + 1;
		if ((rc = check_finite(t, e, err)) != NTG_OK)
			break;
		if (t->val_losses != NULL && (rc = track_validation(t, e, err)) != NTG_OK)
			break;
		report_epoch(t, e, now_seconds() - t0, hooks);
		if (t->patience > 0 && t->epochs_run - t->best_epoch >= t->patience)
		{
			t->stopped_early = 1;
			if (!t->quiet)
				ntg_log(NTG_LOG_NOTICE,
						"stopping after epoch %d: the validation loss has not improved for %d epoch%s",
						t->epochs_run, t->patience, t->patience == 1 ? "" : "s");
			break;
		}
	}
	ntg_check_interrupts();
	if (rc == NTG_OK)
		rc = restore_best(t, err);
	if (rc == NTG_OK && t->kind->finish_training != NULL)
		rc = t->kind->finish_training(t->model, err);
	t->seconds = now_seconds() - start;
	t->epoch_seconds = t->epochs_run > 0 ? in_epochs / t->epochs_run : 0.0;
	t->peak_bytes = ntg_mem_peak() - t->mem_start;
	return rc;
}

int
ntg_training_save(NtgTraining *t, uint8_t **out, size_t *out_len, NtgError *err)
{
	int			rc = ntg_model_save(t->model, out, out_len, err);

	/* the saved value exists beside the model: part of what training took */
	if (ntg_mem_peak() - t->mem_start > t->peak_bytes)
		t->peak_bytes = ntg_mem_peak() - t->mem_start;
	return rc;
}

char *
ntg_training_config_json(const NtgTraining *t)
{
	char	   *kind_json = t->kind->config_json(t->model);
	char	   *sampling = NULL;
	char		extra[256];
	char	   *out;
	const char *close;
	size_t		len;

	if (kind_json == NULL || (close = strrchr(kind_json, '}')) == NULL)
	{
		ntg_free(kind_json);
		return NULL;
	}
	extra[0] = '\0';
	if (t->validation > 0.0)
		snprintf(extra, sizeof(extra), ", \"validation\": %.17g, \"patience\": %d",
				 t->validation, t->patience);
	if ((t->kind->caps & NTG_CAP_GENERATE) &&
		(sampling = ntg_sample_options_json(t->kind, &t->model->sampling)) == NULL)
	{
		ntg_free(kind_json);
		return NULL;
	}
	len = (close - kind_json) + strlen(extra) + (sampling ? strlen(sampling) + 16 : 0) + 2;
	if ((out = ntg_malloc(len)) != NULL)
		snprintf(out, len, "%.*s%s%s%s}", (int) (close - kind_json), kind_json, extra,
				 sampling ? ", \"sampling\": " : "", sampling ? sampling : "");
	ntg_free(kind_json);
	ntg_free(sampling);
	return out;
}

void
ntg_training_free(NtgTraining *t)
{
	ntg_model_destroy(t->model);
	ntg_seqset_free(&t->train);
	ntg_seqset_free(&t->held);
	ntg_free(t->losses);
	ntg_free(t->val_losses);
	ntg_free(t->best);
	memset(t, 0, sizeof(*t));
}
