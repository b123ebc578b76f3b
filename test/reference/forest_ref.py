#!/usr/bin/python3
"""Golden decision trees for test/unit/test_ref_forest.c, grown by scikit-learn's
DecisionTreeClassifier (what RandomForestClassifier grows per tree) on committed rows.

Randomness removed: ntg grows one tree with bootstrap off and max_features = all, which is a plain
CART tree; a bootstrap draw is emulated by giving sklearn the draw's counts as sample_weight (what
its forest does) and ntg the rows repeated that many times (ntg merges identical rows into one
weighted row, which is the same thing).

What remains random in sklearn is the order in which a node visits features, which decides ties
between features: two candidate splits on different features with the same impurity improvement.
This script finds every node's best splits by its own exhaustive search (numpy) and refuses a
scenario in which any node of the tree has such a tie (relative margin 1e-9), so that the tree is
the same in any feature order; the search must also agree with the split sklearn chose.  One
kind of tie is allowed: mirror images on one feature with integer weights (a node A B A split as
A | B A or A B | A), which both implementations compute to the same bits and break alike: they
scan a feature upwards and keep a split only when it is strictly better, so the lowest threshold
wins.  Any other near-tie (within rounding) is refused, since rounding could break it either way.  The rows are drawn from a seeded
generator, and the first seed whose scenarios are all tie-free is used.  Ties are unavoidable in
full-depth trees on several features (two rows of different classes can be told apart by any
feature in which they differ), so the full-depth scenarios use one feature and the several-feature
ones limit the depth or the leaf size.

Each scenario also checks that it can tell the pinned defaults apart: changing min_samples_leaf
to 2, the criterion, or dropping the sample weights must change sklearn's predictions on the
query rows, else the scenario would not pin them.

The golden file holds the rows, the query rows, and per scenario ntg's hyperparameters, the tree
(feature, floor(threshold) per node in sklearn's depth-first order) and sklearn's predict_proba on
the query rows.
"""
import os
import sys

import numpy as np
import sklearn
from sklearn.tree import DecisionTreeClassifier

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden import Header, unit_dir  # noqa: E402

N_FEATURES = 4
CLASSES = ["dns", "tls", "video"]


def draw_rows(seed):
    """~90 rows of up to 4 signed PLs in 3 classes that overlap; some rows repeat exactly."""
    rng = np.random.RandomState(seed)
    rows, labels = [], []
    for i in range(84):
        c = rng.randint(3)
        n = rng.randint(2, N_FEATURES + 1)
        base = [(-60, 200), (300, 900), (700, 1400)][c]
        row = [int(rng.randint(*base))]
        for _ in range(n - 1):
            row.append(int(rng.randint(-1400, 1400)) if rng.rand() < 0.6 else
                       int(rng.randint(base[0], base[1])) * (-1 if rng.rand() < 0.5 else 1))
        rows.append(row)
        labels.append(c)
    for i in rng.choice(len(rows), 6, replace=False):  # exact repeats, one with another class
        rows.append(list(rows[i]))
        labels.append(labels[i] if i % 2 else (labels[i] + 1) % 3)
    return rows, labels


def matrix(rows, n):
    X = np.zeros((len(rows), n), dtype=np.float64)
    for i, r in enumerate(rows):
        X[i, :min(n, len(r))] = r[:n]
    return X


def proxies(X, y, w, idx, msl, criterion, class_w):
    """Every valid split of node samples idx: (proxy, feature, threshold, left and right class
    weights)."""
    out = []
    wy = w[idx] * class_w[y[idx]]
    for f in range(X.shape[1]):
        order = np.argsort(X[idx, f], kind="stable")
        xs, ys, ws = X[idx, f][order], y[idx][order], wy[order]
        total = np.bincount(ys, weights=ws, minlength=3)
        left = np.zeros(3)
        for p in range(len(xs) - 1):
            left[ys[p]] += ws[p]
            if xs[p + 1] == xs[p] or p + 1 < msl or len(xs) - p - 1 < msl:
                continue
            right = total - left
            wl, wr = left.sum(), right.sum()
            if criterion == "gini":
                proxy = (left ** 2).sum() / wl + (right ** 2).sum() / wr
            else:
                def ent(c, s):
                    q = c[c > 0] / s
                    return -(q * np.log(q)).sum()
                proxy = -wl * ent(left, wl) - wr * ent(right, wr)
            out.append((proxy, f, (xs[p] + xs[p + 1]) / 2.0, tuple(left), tuple(right)))
    return out


def check_tree(clf, X, y, w, msl, criterion, class_w):
    """Every split node has one best split, up to mirror images, which sklearn chose; False when
    it has ties that ntg and sklearn could break differently, or when sklearn split a pure node
    (with class weights, rounding can leave a pure node's impurity above DBL_EPSILON in sklearn;
    ntg adds up the same weights in another order and sees it pure)."""
    integral = np.array_equal(w * class_w[y], np.round(w * class_w[y]))
    t = clf.tree_
    stack = [(0, np.arange(len(y))[w > 0])]
    while stack:
        node, idx = stack.pop()
        if t.children_left[node] < 0:
            continue
        if len(set(y[idx])) == 1:
            return False  # split although pure: rounding of non-integer weights, ntg is exact
        cands = proxies(X, y, w, idx, msl, criterion, class_w)
        top = max(c[0] for c in cands)
        tied = sorted((c for c in cands if top - c[0] <= 1e-9 * abs(top)), key=lambda c: c[2])
        best = tied[0]
        for c in tied[1:]:
            if c[1] != best[1] or not integral or (c[3], c[4]) != (best[4], best[3]):
                return False
        if best[1] != t.feature[node] or abs(best[2] - t.threshold[node]) > 1e-9:
            raise SystemExit("node %d: the search disagrees with sklearn" % node)
        go_left = X[idx, t.feature[node]] <= t.threshold[node]
        stack += [(t.children_left[node], idx[go_left]), (t.children_right[node], idx[~go_left])]
    return True


# name, ntg hyperparameters, sklearn arguments, features, bootstrap-like weights, and the changes
# of sklearn arguments that must change the predictions (the defaults the scenario pins;
# "weights": fitting without the sample weights)
SCENARIOS = [
    ("defaults, one feature", {"n_features": 1}, {}, 1, False,
     [{"min_samples_leaf": 2}, {"min_samples_split": 3}]),
    ("four features, depth 3", {"n_features": 4, "max_depth": 3}, {"max_depth": 3}, 4, False,
     [{"criterion": "entropy"}]),
    ("entropy, min_samples_leaf 4, min_samples_split 10",
     {"n_features": 4, "criterion": "entropy", "min_samples_leaf": 4, "min_samples_split": 10},
     {"criterion": "entropy", "min_samples_leaf": 4, "min_samples_split": 10}, 4, False, []),
    ("class_weight balanced, one feature", {"n_features": 1, "class_weight": "balanced"},
     {"class_weight": "balanced"}, 1, False, [{"class_weight": None}]),
    ("a bootstrap draw as weights, one feature", {"n_features": 1}, {}, 1, True, ["weights"]),
]


def fit(X, y, w, kw):
    return DecisionTreeClassifier(random_state=0, **kw).fit(X, y, sample_weight=w)


def build(seed):
    rows, labels = draw_rows(seed)
    y = np.array(labels)
    rng = np.random.RandomState(seed + 1000)
    counts = np.bincount(rng.randint(len(rows), size=len(rows)), minlength=len(rows)).astype(float)
    qrng = np.random.RandomState(seed + 2000)
    query = [[int(v) for v in qrng.randint(-1500, 1500, size=N_FEATURES)] for _ in range(150)]
    query += [r + [0] * (N_FEATURES - len(r)) for r in rows]
    done = []
    for name, params, kw, n, boot, pins in SCENARIOS:
        X = matrix(rows, n)
        w = counts if boot else np.ones(len(rows))
        clf = fit(X, y, w, kw)
        cw = np.ones(3)
        if kw.get("class_weight") == "balanced":
            cw = len(y) / (3.0 * np.bincount(y, minlength=3))
        if not check_tree(clf, X, y, w, kw.get("min_samples_leaf", 1), kw.get("criterion", "gini"), cw):
            return None
        t = clf.tree_
        # probe both sides of every threshold as well
        probes = []
        for f, thr in zip(t.feature, t.threshold):
            if f >= 0:
                for v in (np.floor(thr), np.floor(thr) + 1):
                    r = [0] * N_FEATURES
                    r[f] = int(v)
                    probes.append(r)
        Q = matrix(query + probes, n)
        proba = clf.predict_proba(Q)
        # the scenario must tell the pinned settings apart
        for pin in pins:
            alt = fit(X, y, None, kw) if pin == "weights" else fit(X, y, w, dict(kw, **pin))
            if np.array_equal(alt.predict_proba(Q), proba):
                return None
        done.append((name, params, n, boot, t, probes, proba))
    return rows, labels, counts, query, done


def main():
    for seed in range(1, 500):
        built = build(seed)
        if built is not None:
            break
    else:
        raise SystemExit("no tie-free seed found")
    rows, labels, counts, query, done = built
    out = Header(os.path.join(unit_dir(), "forest_ref.h"), "test/reference/forest_ref.py",
                 "scikit-learn %s DecisionTreeClassifier, rows from seed %d: %d scenarios.\n"
                 "Rows: (class, length, values...); query rows: random ones, then the training\n"
                 "rows; per scenario: ntg hyperparameters, the tree in sklearn's node order\n"
                 "(feature, floor(threshold); feature -1 = leaf), probe rows on both sides of\n"
                 "every threshold, sklearn's class probabilities for the query and probe rows."
                 % (sklearn.__version__, seed, len(done)))
    out.scalar("forest_ref_n_rows", len(rows), "int")
    flat = []
    for c, r in zip(labels, rows):
        flat += [c, len(r)] + r
    out.ints("forest_ref_rows", flat)
    out.ints("forest_ref_boot_counts", counts)
    out.scalar("forest_ref_n_query", len(query), "int")
    out.ints("forest_ref_query", [v for r in query for v in r])
    entries = []
    for k, (name, params, n, boot, t, probes, proba) in enumerate(done):
        p = "forest_ref_s%d_" % k
        out.ints(p + "tree", [v for f, thr in zip(t.feature, t.threshold)
                              for v in ((int(f), int(np.floor(thr))) if f >= 0 else (-1, 0))])
        out.ints(p + "probes", [v for r in probes for v in r])
        out.doubles(p + "proba", proba.flatten())
        hp = ";".join("%s=%s" % kv for kv in dict(params, bootstrap="false", max_features="all",
                                                   n_estimators=1).items())
        entries.append('\t{"%s", "%s", %d, %d, %d, %s, %d, %s, %s},'
                       % (name, hp, boot, t.node_count, len(probes), p + "tree", n,
                          p + "probes", p + "proba"))
    out.parts.append("static const GoldenForest forest_ref_scenarios[] = {\n%s\n};\n"
                     % "\n".join(entries))
    out.write()


if __name__ == "__main__":
    main()
