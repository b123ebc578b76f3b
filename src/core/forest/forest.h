/*
 * forest.h — a Random Forest classifier on the first N signed PLs of a sequence (zero-padded),
 * following scikit-learn's RandomForestClassifier: CART trees grown to purity by default, Gini or
 * entropy, bootstrap rows as sample weights, max_features candidates per node drawn the way
 * sklearn's BestSplitter draws them, thresholds at midpoints, class probabilities averaged over
 * the trees and the first most probable class predicted.
 *
 * Features are integers, so a threshold is stored as floor((a + b) / 2) of the two neighbouring
 * values a < b: for integer x, "x <= floor(midpoint)" is exactly sklearn's "x <= midpoint".
 *
 * Trees live in flat arrays shared by the whole forest: node i is a split when feature[i] >= 0
 * (children left[i], right[i], both > i and inside the same tree) or a leaf whose class
 * distribution is leaf entries [left[i], left[i] + right[i]) of (leaf_class, leaf_prob).
 */
#ifndef NTG_FOREST_H
#define NTG_FOREST_H

#include <stddef.h>
#include <stdint.h>

#include "common/ntg_core.h"
#include "common/params.h"
#include "common/seqset.h"

#define NTG_FOREST_KIND			"random_forest"
#define NTG_FOREST_MAX_FEATURES 1024
#define NTG_FOREST_MAX_TREES	10000
#define NTG_FOREST_MAX_CLASSES	100000

typedef enum NtgCriterion
{
	NTG_CRITERION_GINI = 0,
	NTG_CRITERION_ENTROPY = 1
} NtgCriterion;

typedef enum NtgClassWeight
{
	NTG_CLASS_WEIGHT_NONE = 0,
	NTG_CLASS_WEIGHT_BALANCED = 1,
	NTG_CLASS_WEIGHT_BALANCED_SUBSAMPLE = 2
} NtgClassWeight;

typedef struct NtgForestConfig
{
	int			n_features;		/* N: first N signed PLs, zero-padded (default 10) */
	int			n_estimators;	/* trees (100) */
	NtgCriterion criterion;		/* gini */
	int			max_depth;		/* 0 = unlimited */
	int			min_samples_split;	/* 2 */
	int			min_samples_leaf;	/* 1 */
	char		max_features_spec[24];	/* "sqrt", "log2", "all", or a number as given */
	int			max_features;	/* resolved count, 1..n_features */
	int			bootstrap;		/* 1 */
	NtgClassWeight class_weight;	/* none */
	uint64_t	seed;			/* 0 */
	int			no_merge_duplicates;	/* tests only: grow without merging duplicate rows */
} NtgForestConfig;

/*
 * One node in 8 bytes, for prediction (the whole forest then fits the caches far better).  Used
 * when every left child directly follows its parent (how ntg grows trees) and right offsets fit:
 *   split: info = feature | (right - node) << 11, threshold;
 *   leaf:  info = 2047 | count << 11, threshold = the class when count == 1 (a pure leaf), else
 *          the first leaf entry.
 */
#define NTG_FOREST_LEAF_MARK 2047
typedef struct NtgForestNode
{
	int32_t		threshold;
	uint32_t	info;
} NtgForestNode;

typedef struct NtgForest
{
	int			n_features;
	int			n_classes;
	char	  **classes;		/* n_classes names (sorted, as in the training set) */
	int			n_trees;
	int32_t    *tree_start;		/* n_trees + 1 node offsets */
	int			n_nodes;
	int32_t    *feature;		/* -1 for a leaf */
	int32_t    *threshold;		/* go left when x <= threshold */
	int32_t    *left;			/* split: left child; leaf: first leaf entry */
	int32_t    *right;			/* split: right child; leaf: number of leaf entries */
	int			n_entries;
	int32_t    *leaf_class;
	float	   *leaf_prob;		/* per leaf sums to 1 */
	NtgForestConfig config;		/* as trained (informational after a load) */
	NtgForestNode *packed;		/* n_nodes, or NULL: then the walk uses the arrays above */
} NtgForest;

/* Fill cfg from hyperparameters (defaults = sklearn's) and refuse unknown keys. */
int			ntg_forest_config_from_params(NtgParams *p, NtgForestConfig *cfg, NtgError *err);
/* The configuration as a JSON object with every value filled in; ntg_malloc'd. */
char	   *ntg_forest_config_json(const NtgForestConfig *cfg);

/* Train on a labeled sequence set (at least one row). */
int			ntg_forest_train(const NtgSeqSet *set, const NtgForestConfig *cfg, NtgForest *out,
							 NtgError *err);

/* Class probabilities (n_classes) of one sequence; the sequence is cut/padded to n_features. */
void		ntg_forest_predict_proba(const NtgForest *f, const int32_t *values, int len,
									 double *proba);
/* Most probable class index (first on ties); proba is scratch for n_classes doubles (it holds the
 * probabilities afterwards). */
int			ntg_forest_predict(const NtgForest *f, const int32_t *values, int len, double *proba);

/* The forest's tensors into a blob being written / out of a parsed blob (everything checked). */
struct NtgBlob;
int			ntg_forest_to_blob(const NtgForest *f, struct NtgBlob *blob, NtgError *err);
int			ntg_forest_from_blob(const struct NtgBlob *blob, NtgForest *out, NtgError *err);
/* Serialize into an NTGMODEL container (kind "random_forest"); ntg_malloc'd buffer. */
int			ntg_forest_serialize(const NtgForest *f, uint8_t **out, size_t *out_len, NtgError *err);
/* Load from container bytes; everything is checked (NTG_ERR_CORRUPT on any inconsistency). */
int			ntg_forest_load(const uint8_t *buf, size_t len, NtgForest *out, NtgError *err);

/* Build f->packed from the node arrays when they allow it (done by training and loading). */
int			ntg_forest_pack(NtgForest *f, NtgError *err);
void		ntg_forest_free(NtgForest *f);

/* ---- metrics (sklearn's classification_report semantics) ----------------------------------- */

typedef struct NtgClassReport
{
	int			n_labels;		/* labels in the union of actual and predicted */
	int		   *label;			/* indices into the caller's label space, ascending */
	double	   *precision;
	double	   *recall;
	double	   *f1;
	int64_t    *support;
	double		accuracy;
	double		macro_precision,
				macro_recall,
				macro_f1;
	double		weighted_precision,
				weighted_recall,
				weighted_f1;
	int64_t		total;
} NtgClassReport;

/* From a confusion matrix cm[actual * n + predicted] over n labels. */
int			ntg_class_report(const int64_t *cm, int n, NtgClassReport *out, NtgError *err);
void		ntg_class_report_free(NtgClassReport *r);

#endif							/* NTG_FOREST_H */
