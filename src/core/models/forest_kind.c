/*
 * forest_kind.c — "random_forest" behind the model-kind interface.  A forest grows in one pass:
 * the training driver runs one epoch, in which the trees are grown; there is no loss.
 */
#include "models/forest_kind.h"

#include <math.h>
#include <string.h>

/*
 * kind->estimate: per tree at most 2 rows - 1 nodes (16 bytes in the node tables and 8 in the
 * packed form) and at most one leaf entry per row (8 bytes), plus the training matrix and the
 * per-node work arrays of one tree (the rows' features, sort keys and sample weights).
 */
static int
forest_estimate(NtgParams *params, const NtgSeqSet *train, NtgTrainPlan *plan, NtgError *err)
{
	NtgForestConfig cfg;
	int64_t		rows = train->n_rows;
	int			rc;

	if ((rc = ntg_forest_config_from_params(params, &cfg, err)) != NTG_OK)
		return rc;
	plan->epochs = 1;
	plan->seed = cfg.seed;
	plan->bytes = (int64_t) cfg.n_estimators * (rows * 2 * 24 + rows * 8) +
		rows * (int64_t) cfg.n_features * 4 * 3 + rows * 64 +
		(int64_t) train->n_classes * 64 + ((int64_t) 64 << 10);
	return NTG_OK;
}

static void
forest_destroy(NtgModel *model)
{
	ForestModel *m = (ForestModel *) model;

	if (m == NULL)
		return;
	ntg_forest_free(&m->forest);
	ntg_model_free_classes(&m->base);
	ntg_free(m->stored_config);
	ntg_free(m);
}

static int
forest_create(NtgParams *params, const NtgSeqSet *train, NtgModel **model, NtgTrainPlan *plan,
			  NtgError *err)
{
	ForestModel *m;
	int			rc;

	*model = NULL;
	if ((m = ntg_calloc(1, sizeof(ForestModel))) == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	m->base.kind = &ntg_forest_kind;
	if ((rc = ntg_forest_config_from_params(params, &m->cfg, err)) != NTG_OK ||
		(rc = ntg_model_copy_classes(&m->base, train->classes, train->n_classes, err)) != NTG_OK)
	{
		m->base.n_classes = train->n_classes;
		forest_destroy(&m->base);
		return rc;
	}
	m->base.n_classes = train->n_classes;
	m->base.max_len = m->cfg.n_features;
	plan->epochs = 1;
	plan->seed = m->cfg.seed;
	*model = &m->base;
	return NTG_OK;
}

/* The one "epoch": grow the trees.  The forest keeps its own copy of the class names. */
static int
forest_train_epoch(NtgModel *model, const NtgSeqSet *train, int epoch, NtgRng *rng,
				   double *mean_loss, NtgError *err)
{
	ForestModel *m = (ForestModel *) model;
	int			rc;

	*mean_loss = NAN;
	ntg_forest_free(&m->forest);
	if ((rc = ntg_forest_train(train, &m->cfg, &m->forest, err)) != NTG_OK)
		return rc;
	m->base.n_params = m->forest.n_nodes;
	m->base.epochs_done = 1;
	return NTG_OK;
}

static void
forest_predict_proba(const NtgModel *model, const int32_t *values, int len, double *proba)
{
	ntg_forest_predict_proba(ntg_forest_of(model), values, len, proba);
}

static int
forest_save(NtgModel *model, NtgBlob *blob, NtgError *err)
{
	ForestModel *m = (ForestModel *) model;

	char	   *config;
	int			rc;

	if (m->forest.n_trees == 0)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "the random forest has not been trained");
	if ((rc = ntg_forest_to_blob(&m->forest, blob, err)) != NTG_OK || m->stored_config == NULL)
		return rc;
	/* a loaded forest keeps the configuration it was trained with (the tensors do not hold it) */
	if ((config = ntg_strdup(m->stored_config)) == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	ntg_blob_take_config(blob, config);
	return NTG_OK;
}

static int
forest_load(const NtgBlob *blob, NtgModel **model, NtgError *err)
{
	ForestModel *m;
	int			rc;

	*model = NULL;
	if ((m = ntg_calloc(1, sizeof(ForestModel))) == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	m->base.kind = &ntg_forest_kind;
	if ((rc = ntg_forest_from_blob(blob, &m->forest, err)) != NTG_OK)
	{
		forest_destroy(&m->base);
		return rc;
	}
	m->cfg = m->forest.config;
	m->base.n_classes = m->forest.n_classes;
	m->base.max_len = m->forest.n_features;
	m->base.n_params = m->forest.n_nodes;
	m->base.epochs_done = 1;
	if ((rc = ntg_model_copy_classes(&m->base, m->forest.classes, m->forest.n_classes, err)) != NTG_OK ||
		(m->stored_config = ntg_strdup(blob->config ? blob->config : "{}")) == NULL)
	{
		forest_destroy(&m->base);
		return rc != NTG_OK ? rc : ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	*model = &m->base;
	return NTG_OK;
}

static char *
forest_config_json(const NtgModel *model)
{
	const ForestModel *m = (const ForestModel *) model;

	return m->stored_config ? ntg_strdup(m->stored_config) : ntg_forest_config_json(&m->cfg);
}

const NtgModelKind ntg_forest_kind = {
	.name = NTG_FOREST_KIND,
	.summary = "Random Forest classifier of payload-length sequences (scikit-learn's algorithm)",
	.family = NTG_FAMILY_CLASSIFIER,
	.caps = NTG_CAP_CLASSIFY,
	.tiny_hyperparams = "{\"n_estimators\": 5}",
	.estimate = forest_estimate,
	.create = forest_create,
	.train_epoch = forest_train_epoch,
	.predict_proba = forest_predict_proba,
	.save = forest_save,
	.load = forest_load,
	.config_json = forest_config_json,
	.destroy = forest_destroy,
};
