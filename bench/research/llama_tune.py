#!/usr/bin/python3
"""bench/research/llama_tune.py — choose llama training length and sampling temperature on a validation split.

The quality protocol (bench/llama_quality.sh, docs/research/llama-quality.md) scores synthetic rows against the real test
split.  Choosing epochs or temperature by those test figures would tune on the test set, so this
script carves a validation split out of the training split instead — the same stratified hash order
as bench/make_rows.py: per class, the test split is the first 20 % of rows by hash, the validation
split the next 20 % of the remaining rows — trains the plain-C core (bench/research/out/llama_core_bench) on
what is left, generates as many rows per class as that inner training split has, every K epochs at
each temperature, and prints one table row per (epoch, temperature):

    JSD(synthetic, validation) - JSD(inner train, validation)   for the four JSDs (<= 0 is the goal)
    leakage(synthetic, inner train) and leakage(validation, inner train), and size-matched:
            leakage(the first |validation| synthetic rows of each class, inner train)
    TSTR ratio: macro F1 on validation of a Random Forest fit on synthetic / fit on inner train
                (scikit-learn, if installed)
    unseen: the part of jsd_markov due to source values that occur in the class's training rows
            and in the held-out rows but never in the synthetic rows (each scores 1, weighted by
            its held-out frequency); the training rows have 0 by construction

--rows-factor F generates F times as many rows (a diagnostic: how far the model's distribution
itself is from the held-out rows, with less sampling noise; leakage and TSTR are then not
comparable with the reference).

--split test runs the same on the full training split against the test split (the figures
bench/llama_quality.sh reports, through SQL), for a setting already chosen.

--kind KIND tunes another generator kind of the registry (mamba) the same way, with its own
defaults (llama_core_bench --kind).

usage: bench/research/llama_tune.py [--split validation|test] [--epochs 30] [--every 5]
                           [--temperatures 0.9,1.0,1.1] [--seed 1] [--param KEY=NUMBER]...
                           [--kind llama]
"""
import argparse
import os
import subprocess
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
sys.path[:0] = [HERE, BENCH]
from llama_quality import macro, read_rows, write_rows  # noqa: E402
from make_rows import hash_ordered_rows  # noqa: E402

KEYS = ["num_packets", "1gram", "2gram", "markov"]


def ndpi_data():
    """The nDPI benchmark folder ($NTG_SHARED_DATA/ndpi, docs/data.md), or None, said, if absent."""
    data = os.path.join(os.environ.get("NTG_SHARED_DATA") or os.path.join(BENCH, "..", "..", "shared", "data"),
                        "ndpi")
    if not os.path.exists(os.path.join(data, "flows.tsv")):
        print("skipped: %s/flows.tsv is absent (set NTG_SHARED_DATA)" % data)
        return None
    return data


def load_splits(data, split):
    """(training rows, held-out rows) per class: the test split or the validation split."""
    by_class = hash_ordered_rows(os.path.join(data, "flows.tsv"),
                                 os.path.join(data, "recommended_classes_min30.txt"))
    train, held = {}, {}
    for label in sorted(by_class):
        rows = [tuple(pl) for pl in by_class[label]]
        n_test = round(0.2 * len(rows))
        test, rest = rows[:n_test], rows[n_test:]
        if split == "test":
            train[label], held[label] = rest, test
        else:
            n_val = round(0.2 * len(rest))
            train[label], held[label] = rest[n_val:], rest[:n_val]
    return train, held


def rf_macro_f1(train, test, seed):
    try:
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.metrics import f1_score
    except ImportError:
        return None

    def xy(rows):
        x, y = [], []
        for c, seqs in rows.items():
            for s in seqs:
                x.append(list(s[:10]) + [0] * (10 - len(s[:10])))
                y.append(c)
        return x, y
    xtr, ytr = xy(train)
    xte, yte = xy(test)
    rf = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1).fit(xtr, ytr)
    return f1_score(yte, rf.predict(xte), average="macro")


def unseen_sources(train, held, synth, classes):
    """Macro over classes: held-out transition mass of source values seen in the class's training
    rows but never in its synthetic rows."""
    total = 0.0
    for c in classes:
        seen_train = {v for x in train[c] for v in x}
        seen_synth = {v for x in synth[c] for v in x}
        counts = Counter(v for x in held[c] for v in x)
        n = sum(counts.values())
        if n:
            total += sum(k for v, k in counts.items() if v in seen_train and v not in seen_synth) / n
    return total / len(classes)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=["validation", "test"], default="validation")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--every", type=int, default=5)
    ap.add_argument("--temperatures", default="1.0")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stratified", type=int, default=0, help="1: stratified draws (generator.h)")
    ap.add_argument("--rows-factor", type=int, default=1, help="generate F times as many rows")
    ap.add_argument("--param", action="append", default=[], help="KEY=NUMBER hyperparameter")
    ap.add_argument("--kind", default="llama", help="generator kind (llama, mamba)")
    a = ap.parse_args()
    data = ndpi_data()
    if data is None:
        return
    train, held = load_splits(data, a.split)
    classes = sorted(train)
    tag = "%d.%s" % (os.getpid(), a.split)
    tr_path, gen = "/tmp/ntg_tune_train.%s.tsv" % tag, "/tmp/ntg_tune_synth.%s" % tag
    write_rows(tr_path, train, classes)
    subprocess.run(["make", "-s", "-C", HERE], check=True, stdout=subprocess.DEVNULL)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", NTG_BENCH_GEN_FACTOR=str(a.rows_factor))
    subprocess.run([os.path.join(HERE, "out", "llama_core_bench"), "--tsv", tr_path,
                    "--epochs", str(a.epochs), "--batch-size", str(a.batch_size), "--seed", str(a.seed),
                    "--samples", "1", "--gen-out", gen, "--gen-every", str(a.every),
                    "--temperatures", a.temperatures,
                    "--stratified", str(a.stratified), "--kind", a.kind]
                   + [x for kv in a.param for x in ("--param", kv)],
                   check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ref = macro(held, train, classes)
    leak_ref = macro(train, held, classes)["leakage"]
    f1_ref = rf_macro_f1(train, held, a.seed)
    print("%s tuning on the %s split: %d classes, %d training / %d held-out rows, batch %d, seed %d, %s%s"
          % (a.kind, a.split, len(classes), sum(map(len, train.values())), sum(map(len, held.values())),
             a.batch_size, a.seed, " ".join(a.param) or "defaults",
             ", stratified draws" if a.stratified else ""))
    print("reference (train vs held-out): " + ", ".join("%s %.3f" % (k, ref[k]) for k in KEYS)
          + ", leakage %.3f" % leak_ref + (", RF macro F1 %.3f" % f1_ref if f1_ref else ""))
    print("| epoch | T | d num_packets | d 1gram | d 2gram | d markov | leakage synth / held | size-matched | TSTR ratio | unseen | all <= |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for e in range(a.every, a.epochs + 1, a.every):
        for t in a.temperatures.split(","):
            path = "%s.e%d.t%s" % (gen, e, t)
            synth = read_rows(path)
            os.unlink(path)
            got = macro(held, synth, classes)
            leak = macro(train, synth, classes)["leakage"]
            # size-matched: per class, the first len(held) synthetic rows (rows come in random order)
            leak_small = macro(train, {c: synth[c][:len(held[c])] for c in classes}, classes)["leakage"]
            f1 = rf_macro_f1(synth, held, a.seed)
            ok = all(got[k] <= ref[k] for k in KEYS) and leak <= leak_ref and \
                (f1 is None or f1 >= 0.95 * f1_ref)
            print("| %d | %s | %+.3f | %+.3f | %+.3f | %+.3f | %.3f / %.3f | %.3f | %s | %.3f | %s |"
                  % (e, t, *(got[k] - ref[k] for k in KEYS), leak, leak_ref, leak_small,
                     "%.3f" % (f1 / f1_ref) if f1 is not None else "-",
                     unseen_sources(train, held, synth, classes), "yes" if ok else "no"))
            sys.stdout.flush()
    os.unlink(tr_path)


if __name__ == "__main__":
    main()
