/*
 * forest_train.c — growing the trees of a Random Forest the way scikit-learn's
 * DepthFirstTreeBuilder + BestSplitter do (see forest.h), on integer features.
 *
 * Per tree: bootstrap counts become sample weights (rows drawn zero times are left out, so
 * min_samples_* count distinct rows, as in sklearn); each node draws candidate features in random
 * order until max_features non-constant ones were evaluated, remembering constant features for the
 * subtree; every boundary between distinct sorted values is a candidate split.
 */
#include "forest/forest.h"
#include "forest/forest_int.h"

#include <float.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "common/rng.h"

/* One pending node of the depth-first build. */
typedef struct StackItem
{
	int			start,
				end,
				depth,
				parent,
				is_left,
				n_constant;
} StackItem;

/* Everything one tree's growth needs; scratch arrays are reused across nodes and trees. */
typedef struct Grower
{
	const int32_t *X;			/* column-major: X[f * n + i] */
	int			n;
	int			N;
	const int  *y;
	int			K;
	const NtgForestConfig *cfg;
	double	   *w;				/* per-row weight of this tree */
	int		   *samples;
	int			n_samples;
	uint64_t   *keys;
	int		   *features;
	int		   *constant_features;
	double	   *cnt,
			   *cnt_left,
			   *cnt_right;
	StackItem  *stack;
	int			stack_cap;
	NtgRng		rng;
	NtgForestBuf *out;
	int		   *group;			/* merge_duplicates: representative row of each row, else NULL */
} Grower;

typedef struct Split
{
	int			feature;
	int32_t		threshold;
	int			pos;			/* rows going left */
	double		proxy;
} Split;

/* ---- sorting (keys are unique: value in the high word, row in the low word) --------------- */

static void
sort_keys(uint64_t *a, int n)
{
	while (n > 16)
	{
		uint64_t	p,
					t;
		int			i = 0,
					j = n - 1,
					m = n / 2;

		/* median of three as pivot */
		if (a[m] < a[0])
			t = a[m], a[m] = a[0], a[0] = t;
		if (a[j] < a[0])
			t = a[j], a[j] = a[0], a[0] = t;
		if (a[j] < a[m])
			t = a[j], a[j] = a[m], a[m] = t;
		p = a[m];
		while (i <= j)
		{
			while (a[i] < p)
				i++;
			while (a[j] > p)
				j--;
			if (i <= j)
			{
				t = a[i], a[i] = a[j], a[j] = t;
				i++, j--;
			}
		}
		/* recurse into the smaller part, loop on the larger: depth stays O(log n) */
		if (j + 1 < n - i)
		{
			sort_keys(a, j + 1);
			a += i;
			n -= i;
		}
		else
		{
			sort_keys(a + i, n - i);
			n = j + 1;
		}
	}
	for (int i = 1; i < n; i++)
	{
		uint64_t	v = a[i];
		int			k = i - 1;

		while (k >= 0 && a[k] > v)
		{
			a[k + 1] = a[k];
			k--;
		}
		a[k + 1] = v;
	}
}

static inline uint64_t
make_key(int32_t v, int row)
{
	return ((uint64_t) ((uint32_t) v ^ 0x80000000u) << 32) | (uint32_t) row;
}

static inline int32_t
key_value(uint64_t k)
{
	return (int32_t) ((uint32_t) (k >> 32) ^ 0x80000000u);
}

/* ---- impurity ----------------------------------------------------------------------------- */

static inline double
xlogx(double x)
{
	return x > 0 ? x * log(x) : 0.0;
}

static double
node_impurity(const Grower *g, const double *cnt, double wsum)
{
	double		s = 0;

	if (wsum <= 0)
		return 0;
	if (g->cfg->criterion == NTG_CRITERION_GINI)
	{
		for (int k = 0; k < g->K; k++)
			s += cnt[k] * cnt[k];
		return 1.0 - s / (wsum * wsum);
	}
	for (int k = 0; k < g->K; k++)
		if (cnt[k] > 0)
			s -= (cnt[k] / wsum) * log2(cnt[k] / wsum);
	return s;
}

/*
 * Evaluate every boundary of one sorted feature; update *best when a split scores higher.
 * Gini proxy: sum_L(c^2)/wL + sum_R(c^2)/wR; entropy proxy: S_L - wL log wL + S_R - wR log wR
 * with S = sum c log c.  Both rank splits as sklearn's proxy_impurity_improvement does.
 */
static void
scan_feature(Grower *g, int f, int m, double wsum, Split *best)
{
	const int	gini = g->cfg->criterion == NTG_CRITERION_GINI;
	const int	msl = g->cfg->min_samples_leaf;
	double		aL = 0,
				aR = 0,
				wL = 0,
				wR = wsum;

	memset(g->cnt_left, 0, sizeof(double) * g->K);
	memcpy(g->cnt_right, g->cnt, sizeof(double) * g->K);
	for (int k = 0; k < g->K; k++)
		aR += gini ? g->cnt[k] * g->cnt[k] : xlogx(g->cnt[k]);
	for (int p = 0; p < m - 1; p++)
	{
		int			row = (int) (g->keys[p] & 0xffffffffu);
		int			c = g->y[row];
		double		wt = g->w[row],
					cl = g->cnt_left[c],
					cr = g->cnt_right[c];
		int32_t		v0,
					v1;
		double		proxy;

		if (gini)
		{
			aL += (cl + wt) * (cl + wt) - cl * cl;
			aR += (cr - wt) * (cr - wt) - cr * cr;
		}
		else
		{
			aL += xlogx(cl + wt) - xlogx(cl);
			aR += xlogx(cr - wt) - xlogx(cr);
		}
		g->cnt_left[c] = cl + wt;
		g->cnt_right[c] = cr - wt;
		wL += wt;
		wR -= wt;
		v0 = key_value(g->keys[p]);
		v1 = key_value(g->keys[p + 1]);
		if (v1 == v0)
			continue;
		if (p + 1 < msl || m - (p + 1) < msl)
			continue;
		if (wL <= 0 || wR <= 0)
			continue;
		proxy = gini ? aL / wL + aR / wR : aL - xlogx(wL) + aR - xlogx(wR);
		if (proxy > best->proxy)
		{
			best->proxy = proxy;
			best->feature = f;
			best->threshold = (int32_t) floor(((double) v0 + (double) v1) / 2.0);
			best->pos = p + 1;
		}
	}
}

/*
 * Find the best split of samples[start, end) (sklearn's BestSplitter.node_split).  Returns 1 with
 * the samples partitioned (left first) when a split exists.  *n_constant is updated for children.
 */
static int
node_split(Grower *g, int start, int end, double wsum, int *n_constant, Split *split)
{
	int		   *features = g->features,
			   *constants = g->constant_features;
	int			m = end - start,
				f_i = g->N,
				n_known = *n_constant,
				n_total = n_known,
				n_found = 0,
				n_drawn = 0,
				n_visited = 0;
	Split		best = {-1, 0, 0, -DBL_MAX};

	while (f_i > n_total &&
		   (n_visited < g->cfg->max_features || n_visited <= n_found + n_drawn))
	{
		int			f_j,
					cur,
					tmp;
		const int32_t *col;

		n_visited++;
		f_j = n_drawn + (int) ntg_rng_below(&g->rng, (uint64_t) (f_i - n_found - n_drawn));
		if (f_j < n_known)
		{
			tmp = features[n_drawn], features[n_drawn] = features[f_j], features[f_j] = tmp;
			n_drawn++;
			continue;
		}
		f_j += n_found;
		cur = features[f_j];
		col = g->X + (size_t) cur * g->n;
		for (int p = 0; p < m; p++)
		{
			int			row = g->samples[start + p];

			g->keys[p] = make_key(col[row], row);
		}
		sort_keys(g->keys, m);
		if (key_value(g->keys[m - 1]) == key_value(g->keys[0]))
		{
			features[f_j] = features[n_total];
			features[n_total] = cur;
			n_found++;
			n_total++;
			continue;
		}
		f_i--;
		tmp = features[f_i], features[f_i] = features[f_j], features[f_j] = tmp;
		scan_feature(g, cur, m, wsum, &best);
	}
	/* keep the order of known constants for siblings; record the newly found ones */
	memcpy(features, constants, sizeof(int) * n_known);
	memcpy(constants + n_known, features + n_known, sizeof(int) * n_found);
	*n_constant = n_total;
	if (best.feature < 0)
		return 0;
	{
		const int32_t *col = g->X + (size_t) best.feature * g->n;
		int			i = start,
					j = end - 1;

		while (i <= j)
		{
			if (col[g->samples[i]] <= best.threshold)
				i++;
			else
			{
				int			t = g->samples[i];

				g->samples[i] = g->samples[j];
				g->samples[j--] = t;
			}
		}
		if (i - start != best.pos)
			return 0;			/* cannot happen: the threshold separates exactly pos rows */
	}
	*split = best;
	return 1;
}

/* ---- one tree ----------------------------------------------------------------------------- */

static int
push(Grower *g, int *top, StackItem it, NtgError *err)
{
	if (*top + 1 >= g->stack_cap)
	{
		int			cap = g->stack_cap * 2;
		StackItem  *s = ntg_realloc(g->stack, sizeof(StackItem) * cap);

		if (s == NULL)
			return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		g->stack = s;
		g->stack_cap = cap;
	}
	g->stack[++(*top)] = it;	/* slot 0 is scratch: items start at 1 */
	return NTG_OK;
}

static int
grow_tree(Grower *g, NtgError *err)
{
	const NtgForestConfig *cfg = g->cfg;
	int			top = 0,
				rc;

	for (int f = 0; f < g->N; f++)
		g->features[f] = f;
	rc = push(g, &top, (StackItem) {0, g->n_samples, 0, -1, 0, 0}, err);
	while (rc == NTG_OK && top > 0)
	{
		StackItem	it = g->stack[top--];
		int			m = it.end - it.start,
					node,
					is_leaf,
					n_constant = it.n_constant;
		double		wsum = 0;
		Split		split;

		ntg_check_interrupts();
		memset(g->cnt, 0, sizeof(double) * g->K);
		for (int p = it.start; p < it.end; p++)
		{
			int			row = g->samples[p];

			g->cnt[g->y[row]] += g->w[row];
			wsum += g->w[row];
		}
		is_leaf = (cfg->max_depth > 0 && it.depth >= cfg->max_depth) ||
			m < cfg->min_samples_split || m < 2 * cfg->min_samples_leaf ||
			node_impurity(g, g->cnt, wsum) <= DBL_EPSILON;
		if (!is_leaf)
			is_leaf = !node_split(g, it.start, it.end, wsum, &n_constant, &split);
		if ((rc = ntg_forestbuf_node(g->out, &node, err)) != NTG_OK)
			break;
		if (it.parent >= 0)
		{
			if (it.is_left)
				g->out->left[it.parent] = node;
			else
				g->out->right[it.parent] = node;
		}
		if (is_leaf)
		{
			rc = ntg_forestbuf_leaf(g->out, node, g->cnt, g->K, wsum, err);
			continue;
		}
		{
			int			pos = split.pos;

			g->out->feature[node] = split.feature;
			g->out->threshold[node] = split.threshold;
			/* right first so that the left child is grown next (node order as in sklearn) */
			rc = push(g, &top, (StackItem) {it.start + pos, it.end, it.depth + 1, node, 0, n_constant}, err);
			if (rc == NTG_OK)
				rc = push(g, &top, (StackItem) {it.start, it.start + pos, it.depth + 1, node, 1, n_constant}, err);
		}
	}
	return rc;
}

/* ---- the forest --------------------------------------------------------------------------- */

/* Bootstrap counts times class weights into g->w; rows with weight 0 are left out of samples. */
static void
draw_weights(Grower *g, const double *class_w, double *sub_w, int *sub_cnt)
{
	const NtgForestConfig *cfg = g->cfg;

	if (cfg->bootstrap)
	{
		memset(g->w, 0, sizeof(double) * g->n);
		for (int i = 0; i < g->n; i++)
			g->w[ntg_rng_below(&g->rng, (uint64_t) g->n)] += 1.0;
	}
	else
		for (int i = 0; i < g->n; i++)
			g->w[i] = 1.0;
	if (cfg->class_weight == NTG_CLASS_WEIGHT_BALANCED)
		for (int i = 0; i < g->n; i++)
			g->w[i] *= class_w[g->y[i]];
	else if (cfg->class_weight == NTG_CLASS_WEIGHT_BALANCED_SUBSAMPLE)
	{
		/* sklearn: "balanced" over the bootstrap draw (with repeats), classes present only */
		double		total = 0;
		int			present = 0;

		memset(sub_cnt, 0, sizeof(int) * g->K);
		for (int i = 0; i < g->n; i++)
			sub_cnt[g->y[i]] += (int) g->w[i];
		for (int k = 0; k < g->K; k++)
		{
			total += sub_cnt[k];
			present += sub_cnt[k] > 0;
		}
		for (int k = 0; k < g->K; k++)
			sub_w[k] = sub_cnt[k] > 0 ? total / ((double) present * sub_cnt[k]) : 0;
		for (int i = 0; i < g->n; i++)
			g->w[i] *= sub_w[g->y[i]];
	}
	if (g->group != NULL)
		for (int i = 0; i < g->n; i++)
			if (g->group[i] != i && g->w[i] != 0)
			{
				g->w[g->group[i]] += g->w[i];
				g->w[i] = 0;
			}
	g->n_samples = 0;
	for (int i = 0; i < g->n; i++)
		if (g->w[i] != 0)
			g->samples[g->n_samples++] = i;
}

/*
 * Rows with the same class and the same features are interchangeable for the split search: one
 * row carrying their summed weight gives the same impurities, thresholds and random draws.  The
 * only difference is in counting rows, so merging is done only when the row-count limits cannot
 * see it (min_samples_split 2 and min_samples_leaf 1, the defaults): a node holding copies of one
 * row is then a leaf either way (pure, or with no split).  The trees are identical; the work per
 * node shrinks with the number of duplicates (large on real traffic).
 */
static const Grower *sort_grower;

static int
cmp_rows(const void *a, const void *b)
{
	int			i = *(const int *) a,
				j = *(const int *) b;
	const Grower *g = sort_grower;

	if (g->y[i] != g->y[j])
		return g->y[i] < g->y[j] ? -1 : 1;
	for (int f = 0; f < g->N; f++)
	{
		int32_t		x = g->X[(size_t) f * g->n + i],
					z = g->X[(size_t) f * g->n + j];

		if (x != z)
			return x < z ? -1 : 1;
	}
	return (i > j) - (i < j);
}

static int
find_duplicates(Grower *g, NtgError *err)
{
	int		   *order = ntg_malloc(sizeof(int) * (size_t) g->n);

	g->group = ntg_malloc(sizeof(int) * (size_t) g->n);
	if (order == NULL || g->group == NULL)
	{
		ntg_free(order);
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	for (int i = 0; i < g->n; i++)
		order[i] = i;
	sort_grower = g;
	qsort(order, g->n, sizeof(int), cmp_rows);
	sort_grower = NULL;
	for (int k = 0, rep = 0; k < g->n; k++)
	{
		int			i = order[k],
					same = k > 0 && g->y[i] == g->y[rep];

		for (int f = 0; f < g->N && same; f++)
			same = g->X[(size_t) f * g->n + i] == g->X[(size_t) f * g->n + rep];
		if (!same)
			rep = i;
		g->group[i] = rep;
	}
	ntg_free(order);
	return NTG_OK;
}

static int
grower_init(Grower *g, const NtgSeqSet *set, const NtgForestConfig *cfg, NtgForestBuf *out,
			NtgError *err)
{
	int32_t    *X;
	int			n = set->n_rows,
				N = cfg->n_features;

	memset(g, 0, sizeof(*g));
	g->n = n;
	g->N = N;
	g->K = set->n_classes;
	g->cfg = cfg;
	g->y = set->row_class;
	g->out = out;
	g->stack_cap = 64;
	X = ntg_calloc((size_t) n * N, sizeof(int32_t));
	g->X = X;
	g->w = ntg_calloc(n, sizeof(double));
	g->samples = ntg_calloc(n, sizeof(int));
	g->keys = ntg_calloc(n, sizeof(uint64_t));
	g->features = ntg_calloc(N, sizeof(int));
	g->constant_features = ntg_calloc(N, sizeof(int));
	g->cnt = ntg_calloc(g->K, sizeof(double));
	g->cnt_left = ntg_calloc(g->K, sizeof(double));
	g->cnt_right = ntg_calloc(g->K, sizeof(double));
	g->stack = ntg_calloc(g->stack_cap, sizeof(StackItem));
	if (!X || !g->w || !g->samples || !g->keys || !g->features || !g->constant_features ||
		!g->cnt || !g->cnt_left || !g->cnt_right || !g->stack)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
	{
		int			len;
		const int32_t *row = ntg_seqset_row(set, i, &len);

		for (int f = 0; f < N && f < len; f++)
			X[(size_t) f * n + i] = row[f];
	}
	return NTG_OK;
}

static void
grower_free(Grower *g)
{
	ntg_free((void *) g->X);
	ntg_free(g->w);
	ntg_free(g->samples);
	ntg_free(g->keys);
	ntg_free(g->features);
	ntg_free(g->constant_features);
	ntg_free(g->cnt);
	ntg_free(g->cnt_left);
	ntg_free(g->cnt_right);
	ntg_free(g->stack);
	ntg_free(g->group);
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int
ntg_forest_train(const NtgSeqSet *set, const NtgForestConfig *cfg, NtgForest *out, NtgError *err)
{
	Grower		g;
	NtgForestBuf buf;
	NtgRng		master;
	double	   *class_w = NULL,
			   *sub_w = NULL;
	int		   *counts = NULL;
	int			rc;
	double		t0 = now_seconds(),
				last_log = t0;

	memset(out, 0, sizeof(*out));
	if (set->n_rows <= 0 || set->n_classes <= 0)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "training set is empty");
	if (cfg->n_features < 1 || cfg->max_features < 1 || cfg->max_features > cfg->n_features)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "invalid forest configuration");
	rc = ntg_forestbuf_init(&buf, cfg->n_estimators, err);
	if (rc == NTG_OK)
		rc = grower_init(&g, set, cfg, &buf, err);
	else
		memset(&g, 0, sizeof(g));
	class_w = ntg_calloc(set->n_classes, sizeof(double));
	sub_w = ntg_calloc(set->n_classes, sizeof(double));
	counts = ntg_calloc(set->n_classes, sizeof(int));
	if (rc == NTG_OK && (!class_w || !sub_w || !counts))
		rc = ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if (rc == NTG_OK && cfg->min_samples_split == 2 && cfg->min_samples_leaf == 1 &&
		!cfg->no_merge_duplicates)
		rc = find_duplicates(&g, err);
	if (rc == NTG_OK)
	{
		ntg_seqset_class_counts(set, counts);
		for (int k = 0; k < set->n_classes; k++)
			class_w[k] = counts[k] > 0 ?
				(double) set->n_rows / ((double) set->n_classes * counts[k]) : 0;
	}
	ntg_rng_seed(&master, cfg->seed);
	for (int t = 0; rc == NTG_OK && t < cfg->n_estimators; t++)
	{
		ntg_rng_split(&master, (uint64_t) t, &g.rng);
		draw_weights(&g, class_w, sub_w, counts);
		buf.tree_start[t] = buf.n_nodes;
		rc = grow_tree(&g, err);
		if (now_seconds() - last_log > 5.0)
		{
			last_log = now_seconds();
			ntg_log(NTG_LOG_INFO, "random forest: %d of %d trees grown in %.1f s",
					t + 1, cfg->n_estimators, last_log - t0);
		}
	}
	if (rc == NTG_OK)
	{
		buf.tree_start[cfg->n_estimators] = buf.n_nodes;
		rc = ntg_forestbuf_finish(&buf, set, cfg, out, err);
	}
	else
		ntg_forestbuf_free(&buf);
	grower_free(&g);
	ntg_free(class_w);
	ntg_free(sub_w);
	ntg_free(counts);
	return rc;
}
