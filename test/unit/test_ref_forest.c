/*
 * test_ref_forest.c — the Random Forest at the algorithm level, against scikit-learn.
 *
 * 1. Parity (golden file from test/reference/forest_ref.py): with the randomness removed — one
 *    tree, bootstrap off (or a bootstrap draw given to both sides: sklearn as sample weights, ntg as
 *    repeated rows), max_features = all — ntg grows the same tree as sklearn's
 *    DecisionTreeClassifier: the same nodes in the same depth-first order, the same feature and
 *    threshold at every split, and the same class probabilities on random rows, the training rows
 *    and rows on both sides of every threshold.  sklearn breaks ties between features by a random
 *    feature order; the script only keeps data without such ties (see its comment), so the
 *    comparison is exact.  Probabilities within 1e-6 (ntg stores them as float).
 *    The scenarios pin defaults: "defaults" sets nothing but bootstrap and max_features, and the
 *    script checked that min_samples_leaf 2 or min_samples_split 3 would change its predictions;
 *    the depth-3 scenario leaves the criterion at its default and entropy would change it.
 *
 * 2. Defaults that act through randomness, against independent arithmetic:
 *    - bootstrap on by default: with every row its own class, a tree has one leaf per distinct row
 *      of its bootstrap sample, on average n (1 - (1 - 1/n)^n) of n rows (0.634 n for n = 200);
 *      without bootstrap, n.
 *    - max_features "sqrt" by default, used per node: when one feature of 10 separates the
 *      classes and the other 9 do not, a tree's root splits on it exactly when it is among the 3
 *      features drawn for the root, with probability 3/10.
 *    - 100 trees by default.
 */
#include <stdlib.h>
#include <string.h>

#include "common/params.h"
#include "common/rng.h"
#include "common/seqset.h"
#include "forest/forest.h"
#include "unit.h"
#include "golden/forest_ref.h"

static const char *const classes[] = {"dns", "tls", "video"};

/* "key=value;..." into hyperparameters: true/false are booleans, numbers numbers, else strings. */
static void
parse_params(const char *spec, NtgParams *p)
{
	char		buf[256];
	NtgError	err = {0};

	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *kv = strtok(buf, ";"); kv != NULL; kv = strtok(NULL, ";"))
	{
		char	   *v = strchr(kv, '='),
				   *end;
		double		num;

		*v++ = '\0';
		num = strtod(v, &end);
		if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
			ntg_params_add_bool(p, kv, strcmp(v, "true") == 0, &err);
		else if (*end == '\0')
			ntg_params_add_number(p, kv, num, &err);
		else
			ntg_params_add_string(p, kv, v, &err);
	}
}

/* The golden rows, each repeated by its bootstrap count when boot is set. */
static void
golden_rows(int boot, NtgSeqSet *set)
{
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgError	err = {0};

	for (int r = 0, off = 0; r < forest_ref_n_rows; r++)
	{
		const int32_t *row = forest_ref_rows + off;
		int			times = boot ? forest_ref_boot_counts[r] : 1;

		for (int k = 0; k < times; k++)
			ntg_seqset_builder_add(b, classes[row[0]], row + 2, row[1], &err);
		off += 2 + row[1];
	}
	ntg_seqset_builder_finish(b, set, &err);
}

static void
test_scenario(const GoldenForest *g)
{
	NtgParams	p = {0};
	NtgForestConfig cfg;
	NtgForest	f;
	NtgSeqSet	set;
	NtgError	err = {0};
	int			same_tree,
				wrong_class = 0,
				n = forest_ref_n_query + g->n_probes;
	double		worst = 0.0;

	parse_params(g->params, &p);
	golden_rows(g->boot, &set);
	if (!ok(ntg_forest_config_from_params(&p, &cfg, &err) == NTG_OK &&
			ntg_forest_train(&set, &cfg, &f, &err) == NTG_OK, "%s: train", g->name))
	{
		printf("# %s\n", err.msg);
		return;
	}
	is_int(f.n_nodes, g->n_nodes, "%s: as many nodes as sklearn's tree", g->name);
	same_tree = f.n_nodes == g->n_nodes;
	for (int i = 0; same_tree && i < f.n_nodes; i++)
		same_tree = f.feature[i] == g->tree[2 * i] &&
			(f.feature[i] < 0 || f.threshold[i] == g->tree[2 * i + 1]);
	ok(same_tree, "%s: the same feature and threshold at every node", g->name);
	for (int q = 0; q < n; q++)
	{
		const int32_t *x = q < forest_ref_n_query ? forest_ref_query + 4 * q :
			g->probes + 4 * (q - forest_ref_n_query);
		const double *want = g->proba + 3 * q;
		double		proba[3];
		int			best = 0;

		ntg_forest_predict_proba(&f, x, 4, proba);
		for (int k = 0; k < 3; k++)
		{
			worst = unit_worst(worst, fabs(proba[k] - want[k]));
			if (want[k] > want[best])
				best = k;
		}
		wrong_class += ntg_forest_predict(&f, x, 4, proba) != best;
	}
	ok(worst < 1e-6, "%s: class probabilities of %d rows match (worst error %.2g)", g->name, n,
	   worst);
	is_int(wrong_class, 0, "%s: predicted classes match", g->name);
	ntg_forest_free(&f);
	ntg_seqset_free(&set);
	ntg_params_free(&p);
}

/* Trees of a forest trained on set with the given hyperparameters. */
static int
train(const NtgSeqSet *set, const char *spec, NtgForest *f)
{
	NtgParams	p = {0};
	NtgForestConfig cfg;
	NtgError	err = {0};
	int			rc;

	parse_params(spec, &p);
	rc = ntg_forest_config_from_params(&p, &cfg, &err);
	if (rc == NTG_OK)
		rc = ntg_forest_train(set, &cfg, f, &err);
	ntg_params_free(&p);
	return rc;
}

static double
mean_leaves(const NtgForest *f)
{
	long		leaves = 0;

	for (int i = 0; i < f->n_nodes; i++)
		leaves += f->feature[i] < 0;
	return (double) leaves / f->n_trees;
}

static void
test_bootstrap_default(void)
{
	const int	n = 200;
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgSeqSet	set;
	NtgForest	f;
	NtgError	err = {0};
	NtgRng		rng;
	double		expected = n * (1.0 - pow(1.0 - 1.0 / n, n));

	ntg_rng_seed(&rng, 3);
	for (int i = 0; i < n; i++)
	{
		int32_t		row[10];
		char		label[16];

		for (int k = 0; k < 10; k++)
			row[k] = (int32_t) ntg_rng_below(&rng, 3000) - 1500;
		snprintf(label, sizeof(label), "c%03d", i);
		ntg_seqset_builder_add(b, label, row, 10, &err);
	}
	ntg_seqset_builder_finish(b, &set, &err);
	ok(train(&set, "seed=1", &f) == NTG_OK, "default forest on %d rows of %d classes", n, n);
	is_int(f.n_trees, 100, "100 trees by default");
	/* sd of one tree's count ~4.4 rows, of the mean over 100 trees ~0.44 */
	is_double(mean_leaves(&f), expected, 3.0,
			  "bootstrap by default: a tree sees %.1f distinct rows on average, n(1 - (1 - 1/n)^n) = %.1f",
			  mean_leaves(&f), expected);
	ntg_forest_free(&f);
	ok(train(&set, "seed=1;bootstrap=false;n_estimators=5", &f) == NTG_OK &&
	   mean_leaves(&f) == n, "without bootstrap every tree sees every row");
	ntg_forest_free(&f);
	ntg_seqset_free(&set);
}

/* Trees among f's whose root splits on feature 0. */
static int
roots_on_first(const NtgForest *f)
{
	int			count = 0;

	for (int t = 0; t < f->n_trees; t++)
		count += f->feature[f->tree_start[t]] == 0;
	return count;
}

static void
test_max_features_default(void)
{
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgSeqSet	set;
	NtgForest	f;
	NtgError	err = {0};
	NtgRng		rng;
	int			trees = 400,
				k;
	double		sd = sqrt(trees * 0.3 * 0.7);

	/* feature 0 decides the class; features 1..9 are noise with many distinct values */
	ntg_rng_seed(&rng, 4);
	for (int i = 0; i < 300; i++)
	{
		int32_t		row[10];

		for (int j = 0; j < 10; j++)
			row[j] = (int32_t) ntg_rng_below(&rng, 2000) - 1000;
		ntg_seqset_builder_add(b, row[0] > 0 ? "up" : "down", row, 10, &err);
	}
	ntg_seqset_builder_finish(b, &set, &err);
	ok(train(&set, "seed=2;n_estimators=400", &f) == NTG_OK, "forest of 400 trees, 10 features");
	k = roots_on_first(&f);
	ok(fabs(k - 0.3 * trees) < 3.5 * sd,
	   "max_features sqrt(10) = 3 by default: %d of %d roots split on the deciding feature "
	   "(expected %.0f +- %.0f)", k, trees, 0.3 * trees, 3.5 * sd);
	ntg_forest_free(&f);
	ok(train(&set, "seed=2;n_estimators=40;max_features=all", &f) == NTG_OK &&
	   roots_on_first(&f) == 40, "with max_features all, every root splits on it");
	ntg_forest_free(&f);
	ntg_seqset_free(&set);
}

int
main(void)
{
	for (size_t i = 0; i < sizeof(forest_ref_scenarios) / sizeof(forest_ref_scenarios[0]); i++)
		test_scenario(&forest_ref_scenarios[i]);
	test_bootstrap_default();
	test_max_features_default();
	return done_testing();
}
