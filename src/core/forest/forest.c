/*
 * forest.c — the forest's configuration (hyperparameters with sklearn's defaults), its node
 * buffers, prediction by walking the flat node arrays, and freeing.
 */
#include "forest/forest.h"
#include "forest/forest_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- configuration ------------------------------------------------------------------------ */

/* max_features: "sqrt" (default, also "auto"), "log2", "all", an integer >= 1 (a count) or a
 * number in (0, 1) (a fraction of n_features, at least one feature), as sklearn reads them. */
static int
resolve_max_features(NtgParams *p, NtgForestConfig *cfg, NtgError *err)
{
	static const char *const names[] = {"sqrt", "auto", "log2", "all", NULL};
	const NtgParam *it = NULL;
	int			N = cfg->n_features;

	for (int i = 0; i < p->n; i++)
		if (strcmp(p->items[i].key, "max_features") == 0)
			it = &p->items[i];
	if (it == NULL || it->type == NTG_PARAM_STRING)
	{
		const char *s;
		int			rc = ntg_params_string(p, "max_features", "sqrt", names, &s, err);

		if (rc != NTG_OK)
			return rc;
		if (strcmp(s, "auto") == 0)
			s = "sqrt";
		snprintf(cfg->max_features_spec, sizeof(cfg->max_features_spec), "%s", s);
		if (strcmp(s, "sqrt") == 0)
			cfg->max_features = (int) sqrt((double) N);
		else if (strcmp(s, "log2") == 0)
			cfg->max_features = (int) log2((double) N);
		else
			cfg->max_features = N;
		if (cfg->max_features < 1)
			cfg->max_features = 1;
		return NTG_OK;
	}
	{
		double		v;
		int			rc = ntg_params_double(p, "max_features", 0, 1e-300, (double) N, &v, err);

		if (rc != NTG_OK)
			return ntg_error(err, NTG_ERR_INVALID_ARG,
							 "hyperparameter \"max_features\" must be \"sqrt\", \"log2\", \"all\", a fraction in (0, 1) or an integer between 1 and n_features (%d)",
							 N);
		if (v < 1)
			cfg->max_features = (int) (v * N) < 1 ? 1 : (int) (v * N);
		else if (v != floor(v))
			return ntg_error(err, NTG_ERR_INVALID_ARG,
							 "hyperparameter \"max_features\" must be a fraction below 1 or an integer");
		else
			cfg->max_features = (int) v;
		snprintf(cfg->max_features_spec, sizeof(cfg->max_features_spec), "%.17g", v);
	}
	return NTG_OK;
}

int
ntg_forest_config_from_params(NtgParams *p, NtgForestConfig *cfg, NtgError *err)
{
	static const char *const criteria[] = {"gini", "entropy", "log_loss", NULL};
	static const char *const weights[] = {"none", "balanced", "balanced_subsample", NULL};
	int64_t		v;
	const char *s;
	int			b,
				rc;

	memset(cfg, 0, sizeof(*cfg));
#define GET_INT(key, dflt, lo, hi, field) \
	do { if ((rc = ntg_params_int(p, key, dflt, lo, hi, &v, err)) != NTG_OK) return rc; \
		 cfg->field = (int) v; } while (0)
	GET_INT("n_features", 10, 1, NTG_FOREST_MAX_FEATURES, n_features);
	GET_INT("n_estimators", 100, 1, NTG_FOREST_MAX_TREES, n_estimators);
	GET_INT("max_depth", 0, 0, 100000, max_depth);
	GET_INT("min_samples_split", 2, 2, INT32_MAX, min_samples_split);
	GET_INT("min_samples_leaf", 1, 1, INT32_MAX, min_samples_leaf);
#undef GET_INT
	if ((rc = ntg_params_string(p, "criterion", "gini", criteria, &s, err)) != NTG_OK)
		return rc;
	cfg->criterion = strcmp(s, "gini") == 0 ? NTG_CRITERION_GINI : NTG_CRITERION_ENTROPY;
	if ((rc = ntg_params_bool(p, "bootstrap", 1, &b, err)) != NTG_OK)
		return rc;
	cfg->bootstrap = b;
	if ((rc = ntg_params_string(p, "class_weight", "none", weights, &s, err)) != NTG_OK)
		return rc;
	cfg->class_weight = strcmp(s, "balanced") == 0 ? NTG_CLASS_WEIGHT_BALANCED :
		strcmp(s, "balanced_subsample") == 0 ? NTG_CLASS_WEIGHT_BALANCED_SUBSAMPLE :
		NTG_CLASS_WEIGHT_NONE;
	if ((rc = ntg_params_int(p, "seed", 0, 0, INT64_C(9007199254740991), &v, err)) != NTG_OK)
		return rc;
	cfg->seed = (uint64_t) v;
	if ((rc = resolve_max_features(p, cfg, err)) != NTG_OK)
		return rc;
	return ntg_params_check_used(p, "model kind \"random_forest\"", err);
}

char *
ntg_forest_config_json(const NtgForestConfig *cfg)
{
	char		buf[640],
				depth[24],
				mf[40];

	if (cfg->max_depth > 0)
		snprintf(depth, sizeof(depth), "%d", cfg->max_depth);
	else
		snprintf(depth, sizeof(depth), "null");
	if (cfg->max_features_spec[0] >= 'a' && cfg->max_features_spec[0] <= 'z')
		snprintf(mf, sizeof(mf), "\"%s\"", cfg->max_features_spec);
	else
		snprintf(mf, sizeof(mf), "%s", cfg->max_features_spec);
	snprintf(buf, sizeof(buf),
			 "{\"n_features\": %d, \"n_estimators\": %d, \"criterion\": \"%s\", \"max_depth\": %s, "
			 "\"min_samples_split\": %d, \"min_samples_leaf\": %d, \"max_features\": %s, "
			 "\"max_features_count\": %d, \"bootstrap\": %s, \"class_weight\": \"%s\", \"seed\": %llu}",
			 cfg->n_features, cfg->n_estimators,
			 cfg->criterion == NTG_CRITERION_GINI ? "gini" : "entropy", depth,
			 cfg->min_samples_split, cfg->min_samples_leaf, mf, cfg->max_features,
			 cfg->bootstrap ? "true" : "false",
			 cfg->class_weight == NTG_CLASS_WEIGHT_BALANCED ? "balanced" :
			 cfg->class_weight == NTG_CLASS_WEIGHT_BALANCED_SUBSAMPLE ? "balanced_subsample" : "none",
			 (unsigned long long) cfg->seed);
	return ntg_strdup(buf);
}

/* ---- node buffers ------------------------------------------------------------------------- */

int
ntg_forestbuf_init(NtgForestBuf *b, int n_trees, NtgError *err)
{
	memset(b, 0, sizeof(*b));
	b->n_trees = n_trees;
	b->tree_start = ntg_calloc((size_t) n_trees + 1, sizeof(int32_t));
	if (b->tree_start == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	return NTG_OK;
}

static int
grow_i32(int32_t **a, int cap)
{
	int32_t    *p = ntg_realloc(*a, sizeof(int32_t) * (size_t) cap);

	if (p == NULL)
		return 0;
	*a = p;
	return 1;
}

int
ntg_forestbuf_node(NtgForestBuf *b, int *node, NtgError *err)
{
	if (b->n_nodes == b->cap_nodes)
	{
		int			cap = b->cap_nodes ? b->cap_nodes * 2 : 1024;

		if (b->cap_nodes >= INT32_MAX / 2)
			return ntg_error(err, NTG_ERR_INVALID_ARG, "random forest has too many nodes");
		if (!grow_i32(&b->feature, cap) || !grow_i32(&b->threshold, cap) ||
			!grow_i32(&b->left, cap) || !grow_i32(&b->right, cap))
			return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		b->cap_nodes = cap;
	}
	*node = b->n_nodes++;
	b->feature[*node] = -1;
	b->threshold[*node] = 0;
	b->left[*node] = 0;
	b->right[*node] = 0;
	return NTG_OK;
}

int
ntg_forestbuf_leaf(NtgForestBuf *b, int node, const double *cnt, int K, double wsum, NtgError *err)
{
	int			first = b->n_entries;

	for (int k = 0; k < K; k++)
	{
		if (cnt[k] <= 0)
			continue;
		if (b->n_entries == b->cap_entries)
		{
			int			cap = b->cap_entries ? b->cap_entries * 2 : 1024;
			float	   *p;

			if (b->cap_entries >= INT32_MAX / 2)
				return ntg_error(err, NTG_ERR_INVALID_ARG, "random forest has too many leaves");
			if (!grow_i32(&b->leaf_class, cap))
				return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
			p = ntg_realloc(b->leaf_prob, sizeof(float) * (size_t) cap);
			if (p == NULL)
				return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
			b->leaf_prob = p;
			b->cap_entries = cap;
		}
		b->leaf_class[b->n_entries] = k;
		b->leaf_prob[b->n_entries] = (float) (cnt[k] / wsum);
		b->n_entries++;
	}
	b->feature[node] = -1;
	b->left[node] = first;
	b->right[node] = b->n_entries - first;
	return NTG_OK;
}

void
ntg_forestbuf_free(NtgForestBuf *b)
{
	ntg_free(b->tree_start);
	ntg_free(b->feature);
	ntg_free(b->threshold);
	ntg_free(b->left);
	ntg_free(b->right);
	ntg_free(b->leaf_class);
	ntg_free(b->leaf_prob);
	memset(b, 0, sizeof(*b));
}

int
ntg_forestbuf_finish(NtgForestBuf *b, const NtgSeqSet *set, const NtgForestConfig *cfg,
					 NtgForest *out, NtgError *err)
{
	memset(out, 0, sizeof(*out));
	out->classes = ntg_calloc(set->n_classes, sizeof(char *));
	if (out->classes == NULL)
	{
		ntg_forestbuf_free(b);
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	out->n_classes = set->n_classes;
	for (int k = 0; k < set->n_classes; k++)
		if ((out->classes[k] = ntg_strdup(set->classes[k])) == NULL)
		{
			ntg_forestbuf_free(b);
			ntg_forest_free(out);
			return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		}
	out->n_features = cfg->n_features;
	out->n_trees = b->n_trees;
	out->tree_start = b->tree_start;
	out->n_nodes = b->n_nodes;
	out->feature = b->feature;
	out->threshold = b->threshold;
	out->left = b->left;
	out->right = b->right;
	out->n_entries = b->n_entries;
	out->leaf_class = b->leaf_class;
	out->leaf_prob = b->leaf_prob;
	out->config = *cfg;
	memset(b, 0, sizeof(*b));
	return ntg_forest_pack(out, err);
}

int
ntg_forest_pack(NtgForest *f, NtgError *err)
{
	ntg_free(f->packed);
	f->packed = NULL;
	for (int i = 0; i < f->n_nodes; i++)
		if (f->feature[i] >= 0 &&
			(f->left[i] != i + 1 || f->right[i] - i >= (1 << 21) || f->feature[i] >= NTG_FOREST_LEAF_MARK))
			return NTG_OK;		/* not packable: predict walks the plain arrays */
	f->packed = ntg_malloc(sizeof(NtgForestNode) * (size_t) (f->n_nodes > 0 ? f->n_nodes : 1));
	if (f->packed == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	for (int i = 0; i < f->n_nodes; i++)
	{
		NtgForestNode *nd = &f->packed[i];

		if (f->feature[i] >= 0)
		{
			nd->threshold = f->threshold[i];
			nd->info = (uint32_t) f->feature[i] | (uint32_t) (f->right[i] - i) << 11;
		}
		else
		{
			nd->threshold = f->right[i] == 1 ? f->leaf_class[f->left[i]] : f->left[i];
			nd->info = NTG_FOREST_LEAF_MARK | (uint32_t) f->right[i] << 11;
		}
	}
	return NTG_OK;
}

/* ---- prediction --------------------------------------------------------------------------- */

void
ntg_forest_predict_proba(const NtgForest *f, const int32_t *values, int len, double *proba)
{
	int32_t		x[NTG_FOREST_MAX_FEATURES];

	memset(proba, 0, sizeof(double) * f->n_classes);
	for (int i = 0; i < f->n_features; i++)
		x[i] = i < len ? values[i] : 0;
	for (int t = 0; t < f->n_trees; t++)
	{
		int			first,
					count;

		if (f->packed != NULL)
		{
			const NtgForestNode *nd = &f->packed[f->tree_start[t]];
			uint32_t	info = nd->info;

			while ((info & NTG_FOREST_LEAF_MARK) != NTG_FOREST_LEAF_MARK)
			{
				nd = x[info & NTG_FOREST_LEAF_MARK] <= nd->threshold ? nd + 1 : nd + (info >> 11);
				info = nd->info;
			}
			count = (int) (info >> 11);
			if (count == 1)
			{
				proba[nd->threshold] += 1.0;
				continue;
			}
			first = nd->threshold;
		}
		else
		{
			int			node = f->tree_start[t];

			while (f->feature[node] >= 0)
				node = x[f->feature[node]] <= f->threshold[node] ? f->left[node] : f->right[node];
			first = f->left[node];
			count = f->right[node];
		}
		for (int e = first; e < first + count; e++)
			proba[f->leaf_class[e]] += f->leaf_prob[e];
	}
	for (int k = 0; k < f->n_classes; k++)
		proba[k] /= f->n_trees;
}

int
ntg_forest_predict(const NtgForest *f, const int32_t *values, int len, double *proba)
{
	int			best = 0;

	ntg_forest_predict_proba(f, values, len, proba);
	for (int k = 1; k < f->n_classes; k++)
		if (proba[k] > proba[best])
			best = k;
	return best;
}

void
ntg_forest_free(NtgForest *f)
{
	if (f->classes)
		for (int k = 0; k < f->n_classes; k++)
			ntg_free(f->classes[k]);
	ntg_free(f->classes);
	ntg_free(f->tree_start);
	ntg_free(f->feature);
	ntg_free(f->threshold);
	ntg_free(f->left);
	ntg_free(f->right);
	ntg_free(f->leaf_class);
	ntg_free(f->leaf_prob);
	ntg_free(f->packed);
	memset(f, 0, sizeof(*f));
}
