#!/usr/bin/python3
"""bench/research/copy_control.py — sampling-time copy control, tried offline on the validation split.

A generator that fits the pair structure of short flows (2-grams, Markov transitions) also
reproduces its rare training rows.  This script asks whether refusing part of those copies at
sampling time keeps the fit and brings the size-matched leakage down to what a fresh real sample
shows (docs/research/generator-quality.md, "Copy control at sampling time").

  train  trains the plain-C llama (bench/research/out/llama_core_bench) on the inner training
         split (llama_tune.py's validation split), and every K epochs writes a POOL of F times as
         many rows per class as the inner training split has (NTG_BENCH_GEN_FACTOR), into DIR.
  eval   scores each pool file under each acceptance rule: the rows of the pool are taken in
         order, a row equal to a training row of its class seen r times is kept with probability
         a(r) (a seeded coin), others are kept, until the class has as many rows as the inner
         training split — rejection sampling, as a sampler that redraws refused rows would do.

Rules (a(r) for a copy of a training sequence seen r times):
  none         a = 1
  single:Q     a(1) = Q, a(r > 1) = 1
  gt           Good-Turing: a(r) = min(1, r* / r), r* = (r + 1) N(r+1) / N(r) from the class's own
               count-of-counts (N(r) distinct training sequences seen r times), for r < 5; 1 above
  gtpool       the same with count-of-counts pooled over all classes
Prints per (file, rule): JSD gaps to the validation rows (synthetic - inner train; jsd_markov both
ways round), leakage (size-matched: the first |validation| rows per class), TSTR ratio, and the
perfect generator's spread (halves of the inner training split) as the scale.

usage: copy_control.py train DIR [--epochs 40] [--every 10] [--factor 10] [--seed 1]
                                 [--stratified 1] [--param KEY=NUMBER]...
       copy_control.py eval DIR... [--rules none,single:0.25,gt] [--halvings 20]
"""
import argparse
import glob
import os
import random
import subprocess
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from llama_quality import macro, read_rows, write_rows  # noqa: E402
from llama_tune import KEYS, load_splits, ndpi_data, rf_macro_f1  # noqa: E402


def train(a):
    data = ndpi_data()
    if data is None:
        return
    tr, _ = load_splits(data, "validation")
    classes = sorted(tr)
    os.makedirs(a.dir, exist_ok=True)
    tsv = os.path.join(a.dir, "train.tsv")
    write_rows(tsv, tr, classes)
    subprocess.run(["make", "-s", "-C", HERE], check=True, stdout=subprocess.DEVNULL)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", NTG_BENCH_GEN_FACTOR=str(a.factor))
    with open(os.path.join(a.dir, "setting"), "w") as f:
        f.write("epochs %d every %d seed %d stratified %d %s\n"
                % (a.epochs, a.every, a.seed, a.stratified, " ".join(a.param)))
    subprocess.run([os.path.join(HERE, "out", "llama_core_bench"), "--tsv", tsv, "--epochs", str(a.epochs),
                    "--seed", str(a.seed), "--samples", "1", "--gen-out", os.path.join(a.dir, "pool"),
                    "--gen-every", str(a.every), "--stratified", str(a.stratified),
                    "--temperatures", a.temperatures]
                   + [x for kv in a.param for x in ("--param", kv)],
                   check=True, env=env, stdout=subprocess.DEVNULL)


def accept_fn(rule, train, classes):
    """{class: function(r) -> acceptance probability of a copy of a sequence seen r times}."""
    def gt(counts, b=1.0):
        nr = Counter(counts.values())
        return lambda r: 1.0 if r >= 5 or nr.get(r, 0) == 0 else min(1.0, b * (r + 1) * nr.get(r + 1, 0) / nr[r] / r)
    if rule == "none":
        return {c: (lambda r: 1.0) for c in classes}
    if rule.startswith("single:"):
        q = float(rule.split(":")[1])
        return {c: (lambda r, q=q: q if r == 1 else 1.0) for c in classes}
    if rule == "gt":
        return {c: gt(Counter(train[c])) for c in classes}
    if rule.startswith("gt1"):  # Good-Turing for sequences seen once only: gt1 or gt1:B
        b = float(rule[4:]) if rule.startswith("gt1:") else 1.0

        def one(counts, b=b):
            nr = Counter(counts.values())
            return lambda r: 1.0 if r != 1 else min(1.0, b * 2 * nr.get(2, 0) / nr[1])
        return {c: one(Counter(train[c])) for c in classes}
    if rule.startswith("gt:"):  # gt:B, copy_budget B
        return {c: gt(Counter(train[c]), float(rule[3:])) for c in classes}
    if rule == "gtpool":
        pooled = Counter()
        for c in classes:
            pooled.update(Counter(Counter(train[c]).values()))
        f = gt({i: r for i, r in enumerate(r for r, k in pooled.items() for _ in range(k))})
        return {c: f for c in classes}
    raise SystemExit("unknown rule " + rule)


def thin(pool, train, classes, rule, seed):
    """Rule "R+novel": a refused copy is replaced by the next row that copies no training row.
    "R+len": by the next kept row of the same length; "R+lenfirst": of the same length and first
    value (else of the same length, once the pool has no more of them)."""
    mode = rule.split("+")[1] if "+" in rule else ""
    acc = accept_fn(rule.split("+")[0], train, classes)
    rng = random.Random(seed)
    out, refused = {}, 0
    for c in classes:
        counts = Counter(train[c])
        want, kept, pending = len(train[c]), [], Counter()
        keyf = {"len": lambda x: len(x), "lenfirst": lambda x: (len(x), x[:1])}.get(mode)
        for x in pool[c]:
            r = counts.get(x, 0)
            if mode == "novel" and pending and r == 0:
                pending["any"] -= 1
                pending += Counter()
                kept.append(x)
            elif mode == "novel" and pending:
                continue
            elif r == 0 or rng.random() < acc[c](r):
                if keyf is None or not pending or pending[keyf(x)] > 0:
                    if keyf is not None and pending[keyf(x)] > 0:
                        pending[keyf(x)] -= 1
                        pending += Counter()
                    kept.append(x)
                else:
                    continue  # a kept row that no refused slot of its kind waits for
            else:
                refused += 1
                pending["any" if mode == "novel" else keyf(x) if keyf else None] += 1
                if keyf is None and mode != "novel":
                    pending = Counter()
                continue
            if len(kept) == want:
                break
        # slots whose kind the pool never gave again: fill with the pool's kept rows in order
        if len(kept) < want and keyf is not None:
            for x in pool[c]:
                if len(kept) == want:
                    break
                r = counts.get(x, 0)
                if r == 0 or rng.random() < acc[c](r):
                    kept.append(x)
        out[c] = kept
    return out, refused


def score(synth, train, held, classes):
    """JSD gaps (S - R) with held as the real rows, jsd_markov with S / R as the real rows, leakage."""
    got, ref = macro(held, synth, classes), macro(held, train, classes)
    rev = macro(synth, held, classes)["markov"] - macro(train, held, classes)["markov"]
    small = macro(train, {c: synth[c][:len(held[c])] for c in classes}, classes)["leakage"]
    return [got[k] - ref[k] for k in KEYS] + [rev], small


def evaluate(a):
    data = ndpi_data()
    if data is None:
        return
    train, held = load_splits(data, "validation")
    classes = sorted(train)
    leak_ref = macro(train, held, classes)["leakage"]
    f1_ref = rf_macro_f1(train, held, 1)
    perfect = []
    for s in range(a.halvings):
        rng = random.Random(1000 + s)
        hr, hs = {}, {}
        for c in classes:
            rows = list(train[c])
            rng.shuffle(rows)
            h = len(rows) // 2
            hr[c], hs[c] = rows[:h], rows[h:2 * h]
        perfect.append(score(hs, hr, held, classes))
    sd = [(sum((p[0][i] - sum(q[0][i] for q in perfect) / len(perfect)) ** 2 for p in perfect)
           / max(len(perfect) - 1, 1)) ** 0.5 for i in range(5)]
    print("validation split: %d inner training / %d validation rows; validation rows' leakage %.3f, RF F1 %.3f"
          % (sum(map(len, train.values())), sum(map(len, held.values())), leak_ref, f1_ref or 0))
    print("perfect generator's spread (sd of %d halvings): " % a.halvings
          + " / ".join("%.3f" % x for x in sd) + " (num_packets / 1gram / 2gram / markov / markov as real)")
    print("| pool | rule | d num_packets | d 1gram | d 2gram | d markov | d markov (S as real) | size-matched | TSTR | rows refused |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for d in a.dirs:
        for path in sorted(glob.glob(os.path.join(d, "pool.e*")), key=lambda p: int(p.split(".e")[1].split(".")[0])):
            pool = read_rows(path)
            for rule in a.rules.split(","):
                synth, refused = thin(pool, train, classes, rule, 7)
                short = sum(len(train[c]) - len(synth[c]) for c in classes)
                gaps, small = score(synth, train, held, classes)
                f1 = rf_macro_f1(synth, held, 1)
                print("| %s %s | %s | %s | %.3f | %.3f | %d%s |" % (
                    os.path.basename(d), os.path.basename(path).split(".")[1], rule,
                    " | ".join("%+.3f" % g for g in gaps), small, f1 / f1_ref if f1 else 0,
                    refused, " (%d short)" % short if short else ""))
                sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("dir")
    t.add_argument("--epochs", type=int, default=40)
    t.add_argument("--every", type=int, default=10)
    t.add_argument("--factor", type=int, default=10)
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--stratified", type=int, default=1)
    t.add_argument("--temperatures", default="1")
    t.add_argument("--param", action="append", default=[])
    e = sub.add_parser("eval")
    e.add_argument("dirs", nargs="+")
    e.add_argument("--rules", default="none,single:0.25,gt,gtpool")
    e.add_argument("--halvings", type=int, default=20)
    a = ap.parse_args()
    train(a) if a.cmd == "train" else evaluate(a)


if __name__ == "__main__":
    main()
