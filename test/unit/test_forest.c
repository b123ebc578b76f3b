/*
 * test_forest.c — the Random Forest core: fitting, determinism, configuration, serialization and
 * its damage checks, and the classification report.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/params.h"
#include "common/rng.h"
#include "common/seqset.h"
#include "forest/forest.h"
#include "unit.h"

/* Recompute the container's CRC-32C (its last four bytes) after an edit. */
static void
fix_crc(uint8_t *buf, size_t len)
{
	uint32_t	crc = ntg_crc32c(0, buf, len - 4);

	for (int i = 0; i < 4; i++)
		buf[len - 4 + i] = (uint8_t) (crc >> (8 * i));
}

/* Three classes told apart by the sign of the first packet and the size of the second. */
static void
make_set(NtgSeqSet *s, int n_per_class, uint64_t seed)
{
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgError	err = {0};
	NtgRng		rng;

	ntg_rng_seed(&rng, seed);
	for (int i = 0; i < n_per_class; i++)
	{
		int32_t		a[3] = {100 + (int) ntg_rng_below(&rng, 50), -1400, 60};
		int32_t		c[2] = {-(int) (30 + ntg_rng_below(&rng, 20)), 200};
		int32_t		d[4] = {100 + (int) ntg_rng_below(&rng, 50), 40 + (int) ntg_rng_below(&rng, 10), 5, 5};

		ntg_seqset_builder_add(b, "alpha", a, 3, &err);
		ntg_seqset_builder_add(b, "beta", c, 2, &err);
		ntg_seqset_builder_add(b, "gamma", d, 4, &err);
	}
	ntg_seqset_builder_finish(b, s, &err);
}

static void
default_config(NtgForestConfig *cfg, int trees, uint64_t seed)
{
	NtgParams	p = {0};
	NtgError	err = {0};

	ntg_params_add_number(&p, "n_estimators", trees, &err);
	ntg_params_add_number(&p, "seed", (double) seed, &err);
	ntg_forest_config_from_params(&p, cfg, &err);
	ntg_params_free(&p);
}

static void
test_config(void)
{
	NtgParams	p = {0};
	NtgForestConfig cfg;
	NtgError	err = {0};
	char	   *json;

	ok(ntg_forest_config_from_params(&p, &cfg, &err) == NTG_OK, "empty hyperparameters");
	ok(cfg.n_features == 10 && cfg.n_estimators == 100 && cfg.max_features == 3 &&
	   cfg.bootstrap && cfg.max_depth == 0 && cfg.min_samples_split == 2 &&
	   cfg.min_samples_leaf == 1 && cfg.criterion == NTG_CRITERION_GINI,
	   "defaults are sklearn's (sqrt of 10 features = 3)");
	json = ntg_forest_config_json(&cfg);
	ok(strstr(json, "\"max_features\": \"sqrt\"") && strstr(json, "\"max_depth\": null"),
	   "config JSON names every default");
	ntg_free(json);
	ntg_params_add_number(&p, "max_features", 0.5, &err);
	ntg_params_add_string(&p, "criterion", "entropy", &err);
	ok(ntg_forest_config_from_params(&p, &cfg, &err) == NTG_OK && cfg.max_features == 5 &&
	   cfg.criterion == NTG_CRITERION_ENTROPY, "fractional max_features and entropy");
	ntg_params_free(&p);
	memset(&p, 0, sizeof(p));
	ntg_params_add_string(&p, "max_features", "log2", &err);
	ntg_params_add_number(&p, "n_features", 20, &err);
	ok(ntg_forest_config_from_params(&p, &cfg, &err) == NTG_OK && cfg.max_features == 4,
	   "log2 of 20 features = 4");
	ntg_params_free(&p);
	memset(&p, 0, sizeof(p));
	ntg_params_add_number(&p, "max_features", 11, &err);
	ok(ntg_forest_config_from_params(&p, &cfg, &err) == NTG_ERR_INVALID_ARG,
	   "max_features above n_features is refused");
	ntg_params_free(&p);
	memset(&p, 0, sizeof(p));
	ntg_params_add_number(&p, "n_trees", 5, &err);
	ok(ntg_forest_config_from_params(&p, &cfg, &err) == NTG_ERR_INVALID_ARG &&
	   strstr(err.msg, "n_trees"), "unknown key is refused: %s", err.msg);
	ntg_params_free(&p);
	memset(&p, 0, sizeof(p));
	ntg_params_add_number(&p, "min_samples_split", 1, &err);
	ok(ntg_forest_config_from_params(&p, &cfg, &err) == NTG_ERR_INVALID_ARG,
	   "min_samples_split 1 is refused");
	ntg_params_free(&p);
}

static void
test_fit(void)
{
	NtgSeqSet	s;
	NtgForestConfig cfg;
	NtgForest	f,
				g;
	NtgError	err = {0};
	int			wrong = 0;
	double		proba[3];

	make_set(&s, 30, 1);
	default_config(&cfg, 20, 7);
	ok(ntg_forest_train(&s, &cfg, &f, &err) == NTG_OK, "train");
	is_int(f.n_trees, 20, "tree count");
	is_int(f.n_classes, 3, "class count");
	for (int i = 0; i < s.n_rows; i++)
	{
		int			len;
		const int32_t *row = ntg_seqset_row(&s, i, &len);

		wrong += ntg_forest_predict(&f, row, len, proba) != s.row_class[i];
	}
	is_int(wrong, 0, "separable training rows are all classified correctly");
	{
		NtgSeqSet	t;

		make_set(&t, 20, 99);
		wrong = 0;
		for (int i = 0; i < t.n_rows; i++)
		{
			int			len;
			const int32_t *row = ntg_seqset_row(&t, i, &len);

			wrong += ntg_forest_predict(&f, row, len, proba) != t.row_class[i];
		}
		is_int(wrong, 0, "unseen rows of the same classes are classified correctly");
		ntg_seqset_free(&t);
	}
	{
		int32_t		x[2] = {-35, 200};

		ntg_forest_predict_proba(&f, x, 2, proba);
		is_double(proba[0] + proba[1] + proba[2], 1.0, 1e-9, "probabilities sum to 1");
		ok(proba[1] > 0.9, "a clear beta row has a high beta probability");
	}
	/* Same seed: same forest; another seed: another forest. */
	{
		uint8_t    *a,
				   *b;
		size_t		la,
					lb;

		ok(ntg_forest_train(&s, &cfg, &g, &err) == NTG_OK, "train again");
		ntg_forest_serialize(&f, &a, &la, &err);
		ntg_forest_serialize(&g, &b, &lb, &err);
		ok(la == lb && memcmp(a, b, la) == 0, "same seed gives the same bytes");
		ntg_forest_free(&g);
		ntg_free(b);
		cfg.seed = 8;
		ntg_forest_train(&s, &cfg, &g, &err);
		ntg_forest_serialize(&g, &b, &lb, &err);
		ok(la != lb || memcmp(a, b, la) != 0, "another seed gives another forest");
		ntg_forest_free(&g);
		ntg_free(a);
		ntg_free(b);
	}
	/* Merging duplicate rows (the default) grows the same trees as keeping every copy. */
	{
		NtgSeqSet	d;
		NtgForest	m1,
					m2;
		uint8_t    *a,
				   *b;
		size_t		la,
					lb;

		NtgSeqSetBuilder *nb = ntg_seqset_builder_new();
		NtgRng		r;
		const char *names[3] = {"x", "y", "z"};

		/* few distinct values and noisy classes: many duplicates, impure nodes */
		ntg_rng_seed(&r, 5);
		for (int i = 0; i < 600; i++)
		{
			int32_t		v[3] = {(int) ntg_rng_below(&r, 4), -(int) ntg_rng_below(&r, 3),
				(int) ntg_rng_below(&r, 2)};
			int			c = (int) ((v[0] + ntg_rng_below(&r, 3)) % 3);

			ntg_seqset_builder_add(nb, names[c], v, 3, &err);
		}
		ntg_seqset_builder_finish(nb, &d, &err);
		cfg.seed = 11;
		ntg_forest_train(&d, &cfg, &m1, &err);
		cfg.no_merge_duplicates = 1;
		ntg_forest_train(&d, &cfg, &m2, &err);
		cfg.no_merge_duplicates = 0;
		ntg_forest_serialize(&m1, &a, &la, &err);
		ntg_forest_serialize(&m2, &b, &lb, &err);
		ok(la == lb && memcmp(a, b, la) == 0, "merging duplicate rows gives the same forest");
		ntg_free(a);
		ntg_free(b);
		ntg_forest_free(&m1);
		ntg_forest_free(&m2);
		ntg_seqset_free(&d);
	}
	/* A depth limit of 1 gives stumps. */
	cfg.max_depth = 1;
	ntg_forest_train(&s, &cfg, &g, &err);
	ok(g.n_nodes <= 3 * g.n_trees, "max_depth 1 gives at most 3 nodes per tree");
	ntg_forest_free(&g);
	ntg_forest_free(&f);
	ntg_seqset_free(&s);
	{
		NtgSeqSet	empty = {0};

		ok(ntg_forest_train(&empty, &cfg, &f, &err) == NTG_ERR_INVALID_ARG &&
		   strcmp(err.msg, "training set is empty") == 0, "an empty training set is refused");
	}
}

/* Whether a loaded forest can be walked: a few rows get probabilities in [0, 1] that sum to 1. */
static int
walks(const NtgForest *f)
{
	static const int32_t rows[3][3] = {{120, -1400, 60}, {-52, 52, 0}, {1448, 1448, -1448}};
	double	   *p = malloc(sizeof(double) * f->n_classes);
	int			good = p != NULL;

	for (int r = 0; r < 3 && good; r++)
	{
		double		sum = 0;

		ntg_forest_predict_proba(f, rows[r], 3, p);
		for (int c = 0; c < f->n_classes; c++)
		{
			good &= p[c] >= 0 && p[c] <= 1;
			sum += p[c];
		}
		good &= fabs(sum - 1) <= 1e-3;
	}
	free(p);
	return good;
}

static void
test_serialization(void)
{
	NtgSeqSet	s;
	NtgForestConfig cfg;
	NtgForest	f,
				g;
	NtgError	err = {0};
	uint8_t    *buf;
	size_t		len;
	int			same = 1,
				refused = 0,
				loaded_valid = 0,
				tried = 0;

	make_set(&s, 10, 3);
	default_config(&cfg, 3, 5);
	ntg_forest_train(&s, &cfg, &f, &err);
	ok(ntg_forest_serialize(&f, &buf, &len, &err) == NTG_OK, "serialize");
	ok(ntg_forest_load(buf, len, &g, &err) == NTG_OK, "load");
	ok(g.n_trees == f.n_trees && g.n_nodes == f.n_nodes && g.n_classes == 3 &&
	   strcmp(g.classes[2], "gamma") == 0, "round trip keeps the shape and the classes");
	for (int i = 0; i < s.n_rows; i++)
	{
		int			l;
		const int32_t *row = ntg_seqset_row(&s, i, &l);
		double		p1[3],
					p2[3];

		ntg_forest_predict_proba(&f, row, l, p1);
		ntg_forest_predict_proba(&g, row, l, p2);
		same &= memcmp(p1, p2, sizeof(p1)) == 0;
	}
	ok(same, "round trip gives the same probabilities");
	ok(g.packed != NULL, "a trained forest walks packed 8-byte nodes");
	/* the plain-array walk (used when nodes cannot be packed) gives the same answers */
	ntg_free(g.packed);
	g.packed = NULL;
	for (int i = 0; i < s.n_rows; i++)
	{
		int			l;
		const int32_t *row = ntg_seqset_row(&s, i, &l);
		double		p1[3],
					p2[3];

		ntg_forest_predict_proba(&f, row, l, p1);
		ntg_forest_predict_proba(&g, row, l, p2);
		same &= memcmp(p1, p2, sizeof(p1)) == 0;
	}
	ok(same, "packed and plain walks agree");
	ntg_forest_free(&g);

	for (size_t cut = 0; cut < len; cut++)
		refused += ntg_forest_load(buf, cut, &g, &err) != NTG_OK;
	is_int(refused, (long long) len, "every truncation is refused");
	refused = 0;
	for (size_t i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit++)
		{
			int			rc;

			buf[i] ^= (uint8_t) (1 << bit);
			rc = ntg_forest_load(buf, len, &g, &err);
			tried++;
			if (rc != NTG_OK)
				refused += err.code == NTG_ERR_CORRUPT || err.code == NTG_ERR_UNSUPPORTED;
			else
			{
				loaded_valid += walks(&g);
				ntg_forest_free(&g);
			}
			buf[i] ^= (uint8_t) (1 << bit);
		}
	is_int(refused + loaded_valid, tried, "every bit flip is refused as corrupt or loads a valid forest");
	ok(refused == tried, "the checksum refuses all %d bit flips", tried);
	ntg_free(buf);

	/* A forged forest with a valid checksum but a child pointing backwards. */
	{
		int32_t		saved;
		int			split = -1;

		for (int i = 0; i < f.n_nodes && split < 0; i++)
			if (f.feature[i] >= 0)
				split = i;
		saved = f.left[split];
		f.left[split] = split;
		ntg_forest_serialize(&f, &buf, &len, &err);
		ok(ntg_forest_load(buf, len, &g, &err) == NTG_ERR_CORRUPT && strstr(err.detail, "child"),
		   "a cycle is refused: %s", err.detail);
		ntg_free(buf);
		f.left[split] = saved;
		saved = f.feature[split];
		f.feature[split] = 10;
		ntg_forest_serialize(&f, &buf, &len, &err);
		ok(ntg_forest_load(buf, len, &g, &err) == NTG_ERR_CORRUPT && strstr(err.detail, "feature"),
		   "a feature index beyond N is refused");
		ntg_free(buf);
		f.feature[split] = saved;
		f.leaf_prob[0] = 0.25f;
		ntg_forest_serialize(&f, &buf, &len, &err);
		ok(ntg_forest_load(buf, len, &g, &err) == NTG_ERR_CORRUPT, "a leaf not summing to 1 is refused");
		ntg_free(buf);
		f.leaf_prob[0] = 1.0f;
		/* a tree offset beyond the node table in the middle (found by the loader fuzz target:
		 * the first tree's nodes were walked up to it before the bad offset was seen) */
		saved = f.tree_start[1];
		f.tree_start[1] = f.n_nodes + 1000;
		ntg_forest_serialize(&f, &buf, &len, &err);
		ok(ntg_forest_load(buf, len, &g, &err) == NTG_ERR_CORRUPT &&
		   strcmp(err.detail, "A tree has no nodes.") == 0,
		   "a tree offset beyond the node table is refused before any tree is walked: %s", err.detail);
		ntg_free(buf);
		f.tree_start[1] = saved;
	}
	/* Every bit flip again with the checksum recomputed, so the structural checks are reached:
	 * each must be refused as corrupt or load a forest whose every walk stays inside it (run
	 * under AddressSanitizer to see an out-of-bounds read). */
	ntg_forest_serialize(&f, &buf, &len, &err);
	refused = loaded_valid = tried = 0;
	for (size_t i = 0; i + 4 < len; i++)
		for (int bit = 0; bit < 8; bit++)
		{
			uint8_t		orig_crc[4];
			int			rc;

			memcpy(orig_crc, buf + len - 4, 4);
			buf[i] ^= (uint8_t) (1 << bit);
			fix_crc(buf, len);
			rc = ntg_forest_load(buf, len, &g, &err);
			tried++;
			if (rc != NTG_OK)
				refused += err.code == NTG_ERR_CORRUPT || err.code == NTG_ERR_UNSUPPORTED;
			else
			{
				loaded_valid += walks(&g);
				ntg_forest_free(&g);
			}
			buf[i] ^= (uint8_t) (1 << bit);
			memcpy(buf + len - 4, orig_crc, 4);
		}
	is_int(refused + loaded_valid, tried,
		   "every bit flip with the checksum recomputed is refused as corrupt or loads a valid forest (%d loaded)",
		   loaded_valid);
	ntg_free(buf);
	ntg_forest_free(&f);
	ntg_seqset_free(&s);
}

static void
test_report(void)
{
	/* actual x predicted over 3 labels; label 2 is never seen nor predicted */
	int64_t		cm[9] = {3, 1, 0,
						 2, 4, 0,
						 0, 0, 0};
	NtgClassReport r;
	NtgError	err = {0};

	ok(ntg_class_report(cm, 3, &r, &err) == NTG_OK, "report");
	is_int(r.n_labels, 2, "labels absent from both sides are left out");
	is_double(r.precision[0], 3.0 / 5, 1e-12, "precision");
	is_double(r.recall[0], 3.0 / 4, 1e-12, "recall");
	is_double(r.f1[1], 2 * (4.0 / 5) * (4.0 / 6) / (4.0 / 5 + 4.0 / 6), 1e-12, "f1");
	is_double(r.accuracy, 0.7, 1e-12, "accuracy");
	is_double(r.macro_f1, (r.f1[0] + r.f1[1]) / 2, 1e-12, "macro f1");
	is_double(r.weighted_f1, r.f1[0] * 0.4 + r.f1[1] * 0.6, 1e-12, "weighted f1");
	ntg_class_report_free(&r);
}

int
main(void)
{
	test_config();
	test_fit();
	test_serialization();
	test_report();
	return done_testing();
}
