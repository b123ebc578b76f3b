#!/usr/bin/python3
"""bench/rf_parity.py — ntg's Random Forest against scikit-learn's RandomForestClassifier.

On the nDPI benchmark (30 label_app classes, first 10 signed PLs zero-padded), for 5 seeds: the same
stratified 80/20 split (sklearn's train_test_split) goes to both; both train with the defaults
(100 trees, gini, bootstrap, sqrt features) and the seed; the table shows macro F1 on the test rows
and training time (sklearn n_jobs=1 fit; ntg's core training time as stored in
ntg.models.train_seconds, and the whole rf_train call including reading the rows).  Then 1 M rows
are predicted through `SELECT count(ntg.rf_predict(...)) FROM big` against sklearn's predict on the
same rows.  Run: bash bench/rf_parity.sh [--seeds 5] [--predict-rows 1000000] [--criterion entropy]
[--max-features log2|N] [--min-samples-leaf N]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgserver import Server, ndpi_rows  # noqa: E402


def features(rows, n=10):
    X = np.zeros((len(rows), n), dtype=np.float32)
    for i, (_, pl) in enumerate(rows):
        X[i, :min(n, len(pl))] = pl[:n]
    return X


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--predict-rows", type=int, default=1_000_000)
    ap.add_argument("--criterion", default="gini", choices=["gini", "entropy"])
    ap.add_argument("--max-features", default="sqrt",
                    help='"sqrt", "log2" or an integer count (same on both sides)')
    ap.add_argument("--min-samples-leaf", type=int, default=1)
    args = ap.parse_args()
    rows = ndpi_rows(os.environ["NTG_SHARED_DATA"])
    labels = np.array([r[0] for r in rows])
    X = features(rows)
    print(f"nDPI benchmark: {len(rows)} biflows, {len(set(labels))} classes, 10 signed PLs")
    mf = int(args.max_features) if args.max_features.isdigit() else args.max_features
    settings = dict(criterion=args.criterion, max_features=mf, min_samples_leaf=args.min_samples_leaf)
    print(f"settings (both sides): 100 trees, {settings}")
    srv = Server()
    try:
        print(f"{'seed':>4} | {'sklearn F1':>10} | {'ntg F1':>7} | {'diff':>6} | {'sklearn fit s':>13} | "
              f"{'ntg train s':>11} | {'ntg rf_train s':>14}")
        res = []
        for seed in range(args.seeds):
            idx = np.arange(len(rows))
            tr, te = train_test_split(idx, test_size=0.2, stratify=labels, random_state=seed)
            clf = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1, **settings)
            t0 = time.perf_counter()
            clf.fit(X[tr], labels[tr])
            sk_fit = time.perf_counter() - t0
            sk_f1 = f1_score(labels[te], clf.predict(X[te]), average="macro")
            srv.load("tr", [rows[i] for i in tr])
            srv.load("te", [rows[i] for i in te])
            t0 = time.perf_counter()
            params = json.dumps(dict(settings, seed=seed))
            srv.psql(f"SELECT ntg.rf_train('p{seed}', 'SELECT label, pl FROM tr', '{params}')")
            call = time.perf_counter() - t0
            ntg_train = float(srv.psql(f"SELECT train_seconds FROM ntg.models WHERE name = 'p{seed}'"))
            ntg_f1 = float(srv.psql(f"SELECT f1 FROM ntg.rf_evaluate('p{seed}', 'SELECT label, pl FROM te') "
                                    "WHERE kind = 'macro avg'"))
            res.append((sk_f1, ntg_f1, sk_fit, ntg_train, call))
            print(f"{seed:>4} | {sk_f1:>10.4f} | {ntg_f1:>7.4f} | {100 * (ntg_f1 - sk_f1):>+6.2f} | "
                  f"{sk_fit:>13.3f} | {ntg_train:>11.3f} | {call:>14.3f}", flush=True)
        m = np.mean(np.array(res), axis=0)
        print(f"mean | {m[0]:>10.4f} | {m[1]:>7.4f} | {100 * (m[1] - m[0]):>+6.2f} | {m[2]:>13.3f} | "
              f"{m[3]:>11.3f} | {m[4]:>14.3f}")
        print("(diff in F1 points; ntg train s = core training time, rf_train s = whole call incl. "
              "reading the rows and storing the model)")

        n = args.predict_rows
        srv.psql(f"CREATE TABLE big AS SELECT pl FROM te, generate_series(1, ceil({n}.0 / "
                 f"(SELECT count(*) FROM te))::int) LIMIT {n}")
        srv.psql("VACUUM ANALYZE big")
        base = srv.psql("SELECT count(*) FROM big")
        t0 = time.perf_counter()
        srv.psql("SELECT count(pl) FROM big")
        scan = time.perf_counter() - t0
        t0 = time.perf_counter()
        got = srv.psql("SELECT count(ntg.rf_predict('p0', pl)) FROM big")
        ntg_pred = time.perf_counter() - t0
        tr, te = train_test_split(np.arange(len(rows)), test_size=0.2, stratify=labels, random_state=0)
        clf = RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1, **settings).fit(X[tr], labels[tr])
        Xb = X[np.resize(te, n)]
        t0 = time.perf_counter()
        clf.predict(Xb)
        sk_pred = time.perf_counter() - t0
        print()
        print(f"prediction of {int(got):,} rows (table of {int(base):,} rows; plain scan {scan:.2f} s):")
        print(f"  ntg  SELECT count(ntg.rf_predict('p0', pl)) FROM big : {ntg_pred:7.2f} s  "
              f"{n / ntg_pred:>12,.0f} rows/s")
        print(f"  sklearn predict(X) n_jobs=1 (numpy array in memory) : {sk_pred:7.2f} s  "
              f"{n / sk_pred:>12,.0f} rows/s")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
