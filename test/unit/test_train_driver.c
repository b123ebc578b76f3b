/*
 * test_train_driver.c — the training driver (models/train_driver.c) on a scripted mock kind:
 * the losses and held-out losses it reports are given per epoch, so that early stopping, the
 * choice of the best epoch's weights, the divergence check and the memory limit can be checked
 * exactly, independently of any real model.
 */
#include <math.h>
#include <string.h>

#include "models/train_driver.h"
#include "unit.h"

#define MAX_EPOCHS 16

/* What the mock does, per epoch; its single weight is set to the epoch number (1-based). */
static double script_loss[MAX_EPOCHS];
static double script_val[MAX_EPOCHS];
static float script_weight[MAX_EPOCHS];	/* 0: the epoch number */

typedef struct MockModel
{
	NtgModel	base;
	float		w;
} MockModel;

static const NtgModelKind mock_kind;

static int
mock_estimate(NtgParams *p, const NtgSeqSet *train, NtgTrainPlan *plan, NtgError *err)
{
	int64_t		epochs;
	int			rc = ntg_params_int(p, "epochs", 3, 1, MAX_EPOCHS, &epochs, err);

	plan->epochs = (int) epochs;
	plan->seed = 1;
	plan->bytes = 4096;
	return rc;
}

static int
mock_create(NtgParams *p, const NtgSeqSet *train, NtgModel **model, NtgTrainPlan *plan,
			NtgError *err)
{
	MockModel  *m = ntg_calloc(1, sizeof(MockModel));
	int			rc = mock_estimate(p, train, plan, err);

	m->base.kind = &mock_kind;
	m->base.n_classes = train->n_classes;
	m->base.max_len = 1;
	m->base.n_params = 1;
	m->base.weights = &m->w;
	m->base.n_weights = 1;
	ntg_model_copy_classes(&m->base, train->classes, train->n_classes, err);
	*model = &m->base;
	return rc;
}

static int
mock_train_epoch(NtgModel *model, const NtgSeqSet *train, int epoch, NtgRng *rng,
				 double *loss, NtgError *err)
{
	MockModel  *m = (MockModel *) model;

	m->w = script_weight[epoch] != 0 ? script_weight[epoch] : (float) (epoch + 1);
	*loss = script_loss[epoch];
	m->base.epochs_done = epoch + 1;
	return NTG_OK;
}

static int
mock_eval_loss(NtgModel *model, const NtgSeqSet *set, double *loss, int64_t *scored,
			   NtgError *err)
{
	*loss = script_val[model->epochs_done > 0 ? model->epochs_done - 1 : 0];
	*scored = 1;
	return NTG_OK;
}

static int
mock_save(NtgModel *model, NtgBlob *blob, NtgError *err)
{
	MockModel  *m = (MockModel *) model;
	uint32_t	d = 1;
	int32_t		done = m->base.epochs_done;
	int			rc;

	ntg_blob_init(blob, "mock", "{}");
	rc = ntg_blob_add_copy(blob, "w", NTG_DTYPE_F32, 1, &d, &m->w, err);
	if (rc == NTG_OK)
		rc = ntg_blob_add_copy(blob, "epochs_done", NTG_DTYPE_I32, 1, &d, &done, err);
	if (rc == NTG_OK)
		rc = ntg_blob_add_classes(blob, "classes", m->base.classes, m->base.n_classes, err);
	return rc;
}

static void
mock_destroy(NtgModel *model)
{
	ntg_model_free_classes(model);
	ntg_free(model);
}

static int
mock_load(const NtgBlob *blob, NtgModel **model, NtgError *err)
{
	MockModel  *m = ntg_calloc(1, sizeof(MockModel));
	int32_t		done;
	const NtgBlobTensor *t = ntg_blob_find(blob, "classes");
	int			n = 0;

	for (uint64_t i = 0; t != NULL && i < t->nbytes; i++)
		n += ((const char *) t->data)[i] == '\0';
	m->base.kind = &mock_kind;
	m->base.n_classes = n;
	m->base.max_len = 1;
	m->base.weights = &m->w;
	m->base.n_weights = 1;
	if (ntg_blob_read_tensor(blob, "w", NTG_DTYPE_F32, 1, &m->w, err) != NTG_OK ||
		ntg_blob_read_tensor(blob, "epochs_done", NTG_DTYPE_I32, 1, &done, err) != NTG_OK ||
		ntg_blob_read_classes(blob, "classes", n, &m->base.classes, err) != NTG_OK)
	{
		mock_destroy(&m->base);
		return NTG_ERR_CORRUPT;
	}
	m->base.epochs_done = done;
	*model = &m->base;
	return NTG_OK;
}

/* What the driver's call of finish_training saw: how many calls, and the weight then. */
static int	finished_calls;
static float finished_w;

static int
mock_finish(NtgModel *model, NtgError *err)
{
	finished_calls++;
	finished_w = ((MockModel *) model)->w;
	return NTG_OK;
}

static char *
mock_config(const NtgModel *model)
{
	return ntg_strdup("{\"mock\": 1}");
}

static const NtgModelKind mock_kind = {
	.name = "mock",
	.summary = "scripted losses",
	.family = NTG_FAMILY_TOKEN,
	.caps = NTG_CAP_VALIDATION | NTG_CAP_EPOCHS,
	.tiny_hyperparams = "{}",
	.estimate = mock_estimate,
	.create = mock_create,
	.train_epoch = mock_train_epoch,
	.eval_loss = mock_eval_loss,
	.save = mock_save,
	.load = mock_load,
	.config_json = mock_config,
	.finish_training = mock_finish,
	.destroy = mock_destroy,
};

static void
rows(NtgSeqSet *s)
{
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgError	err = {0};
	int32_t		v[1] = {5};

	for (int i = 0; i < 20; i++)
		ntg_seqset_builder_add(b, i % 2 ? "x" : "y", v, 1, &err);
	ntg_seqset_builder_finish(b, s, &err);
}

static int
run(const char *extra_key, double extra, int epochs, NtgTraining *t, NtgError *err)
{
	NtgParams	p = {0};
	NtgSeqSet	s;
	int			rc;

	rows(&s);
	ntg_params_add_integer(&p, "epochs", epochs, err);
	if (extra_key != NULL)
		ntg_params_add_number(&p, extra_key, extra, err);
	if (extra_key != NULL && strcmp(extra_key, "patience") == 0)
		ntg_params_add_number(&p, "validation", 0.2, err);
	rc = ntg_training_prepare(t, &mock_kind, &p, &s, NULL, err);
	if (rc == NTG_OK)
		rc = ntg_training_run(t, NULL, err);
	ntg_params_free(&p);
	return rc;
}

int
main(void)
{
	NtgTraining t;
	NtgError	err = {0};		/* printed by checks whose call may not have set it */
	double		losses[] = {3, 2, 1.5, 1.2, 1.1, 1.0, 0.9};
	double		val[] = {3, 2, 2.5, 2.6, 2.7, 2.8, 2.9};

	memcpy(script_loss, losses, sizeof(losses));
	memcpy(script_val, val, sizeof(val));

	/* early stopping: best held-out loss at epoch 2, patience 2 -> stop after epoch 4 */
	finished_calls = 0;
	ok(run("patience", 2, 7, &t, &err) == NTG_OK, "trains with validation and patience");
	ok(finished_calls == 1 && finished_w == 2.0f,
	   "finish_training runs once, on the best epoch's weights (%d calls, w %g)", finished_calls,
	   finished_w);
	is_int(t.epochs_run, 4, "stops after patience epochs without improvement");
	is_int(t.best_epoch, 2, "the best epoch is the lowest held-out loss");
	ok(t.stopped_early, "says it stopped early");
	is_double(((MockModel *) t.model)->w, 2.0, 0, "the weights of epoch 2 are put back");
	is_double(t.val_losses[1], 2.0, 0, "held-out losses are recorded per epoch");
	is_int(t.held.n_rows, 4, "validation 0.2 holds out 2 of each class's 10 rows");
	is_int(t.train.n_rows, 16, "and trains on the rest");
	ntg_training_free(&t);

	/* without validation every epoch runs and the last weights stay */
	ok(run(NULL, 0, 5, &t, &err) == NTG_OK && t.epochs_run == 5 && t.best_epoch == 0 &&
	   ((MockModel *) t.model)->w == 5.0f && t.val_losses == NULL, "no validation: all epochs, last weights");
	ok(t.epoch_seconds >= 0 && t.seconds >= t.epoch_seconds * t.epochs_run * 0.999,
	   "epoch time is a part of the whole");
	ntg_training_free(&t);

	/* divergence: a non-finite loss, or weight, stops training with an error naming the epoch */
	script_loss[2] = NAN;
	memset(&err, 0, sizeof(err));
	finished_calls = 0;
	ok(run(NULL, 0, 5, &t, &err) == NTG_ERR_INVALID_ARG && strstr(err.msg, "epoch 3") != NULL &&
	   strstr(err.hint, "lr") != NULL, "a NaN loss in epoch 3 is refused: %s", err.msg);
	is_int(finished_calls, 0, "a failed run does not finish the model");
	ntg_training_free(&t);		/* a failed run leaves what it made to the caller */
	script_loss[2] = 1.5;
	script_weight[1] = INFINITY;
	memset(&err, 0, sizeof(err));
	ok(run(NULL, 0, 5, &t, &err) == NTG_ERR_INVALID_ARG && strstr(err.msg, "epoch 2") != NULL,
	   "an infinite weight after epoch 2 is refused: %s", err.msg);
	ntg_training_free(&t);
	script_weight[1] = 0;

	/* patience needs validation; the limit refuses before anything is created */
	{
		NtgParams	p = {0};
		NtgSeqSet	s;
		NtgTrainLimits lim = {1000, "the test limit"};

		rows(&s);
		ntg_params_add_integer(&p, "patience", 2, &err);
		ok(ntg_training_prepare(&t, &mock_kind, &p, &s, NULL, &err) == NTG_ERR_INVALID_ARG &&
		   strstr(err.msg, "patience"), "patience without validation is refused");
		ntg_params_free(&p);
		rows(&s);
		memset(&p, 0, sizeof(p));
		ok(ntg_training_prepare(&t, &mock_kind, &p, &s, &lim, &err) == NTG_ERR_LIMIT &&
		   strstr(err.detail, "the test limit") != NULL, "an estimate above the limit is refused: %s",
		   err.msg);
		rows(&s);
		ntg_params_add_number(&p, "validation", 0.01, &err);
		ok(ntg_training_prepare(&t, &mock_kind, &p, &s, NULL, &err) == NTG_ERR_INVALID_ARG &&
		   strstr(err.msg, "holds out no row") && err.hint[0] != '\0',
		   "a fraction that holds out nothing is refused, with a hint");
		ntg_params_free(&p);
	}
	return done_testing();
}
