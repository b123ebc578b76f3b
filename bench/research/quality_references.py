#!/usr/bin/python3
"""bench/research/quality_references.py — how two reference "generators" fare on the quality condition
(docs/research/llama-quality.md).

The condition compares a synthetic set S with the real training split R against the real test
split T: JSD(S, T) <= JSD(R, T) for num_packets, 1gram, 2gram and markov, and
leakage(S, R) <= leakage(T, R).  Two generators whose behaviour is known put it in scale:

  perfect generator  rows drawn from the real distribution itself.  Per class the training split is
                     shuffled and halved: the first half plays R, the second half (as many rows)
                     plays S, a fresh real sample — what a generator that learnt the traffic
                     exactly would emit.  Repeated over --splits shuffles.
  bootstrap copier   S = as many rows per class as R has, drawn with replacement from R itself:
                     a generator that memorised its training rows exactly and draws them
                     independently.  Repeated over --seeds seeds, against the full training split.

For each it prints the JSD differences S - R, both leakages (all rows, and size-matched: the first
|T| rows of S per class) and how often the whole condition holds; jsd_markov also in the train-as-real
orientation (S and R passed as the real rows).  Last, jsd_markov of R against T either way round,
on this split and five random ones, which shows which orientation the reference 0.495 is.  Same split and metrics as
bench/llama_quality.sh (bench/make_rows.py hash order; llama_quality.py's macro metrics).

usage: bench/research/quality_references.py [--splits 100] [--seeds 10]
"""
import argparse
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from llama_quality import macro  # noqa: E402
from llama_tune import KEYS, load_splits, ndpi_data  # noqa: E402


def score(synth, train, test, classes):
    """(JSD differences S - R, leakage S, size-matched leakage S, leakage T, markov difference S - R
    in the train-as-real orientation), leakages vs R.  jsd_markov is not symmetric: the first four pass
    T as the real rows; the last passes S and R as real (ntg.fidelity(R, T), the reference 0.495)."""
    got, ref = macro(test, synth, classes), macro(test, train, classes)
    leak = macro(train, synth, classes)["leakage"]
    small = macro(train, {c: synth[c][:len(test[c])] for c in classes}, classes)["leakage"]
    train_as_real = macro(train, test, classes)
    rev = macro(synth, test, classes)["markov"] - train_as_real["markov"]
    return [got[k] - ref[k] for k in KEYS], leak, small, train_as_real["leakage"], rev


def summarize(name, runs):
    n = len(runs)
    jsd_ok = [all(d <= 0 for d in r[0]) for r in runs]
    # the same with jsd_markov in the train-as-real orientation
    jsd_ok_rev = [all(d <= 0 for d in r[0][:3]) and r[4] <= 0 for r in runs]
    full_rev = sum(ok and r[1] <= r[3] for ok, r in zip(jsd_ok_rev, runs))
    rev = sum(r[4] for r in runs) / n
    rev_sd = (sum((r[4] - rev) ** 2 for r in runs) / max(n - 1, 1)) ** 0.5
    full = sum(ok and r[1] <= r[3] for ok, r in zip(jsd_ok, runs))
    fair = sum(ok and r[2] <= r[3] for ok, r in zip(jsd_ok, runs))
    mean = [sum(r[0][i] for r in runs) / n for i in range(len(KEYS))]
    sd = [(sum((r[0][i] - mean[i]) ** 2 for r in runs) / max(n - 1, 1)) ** 0.5 for i in range(len(KEYS))]
    print("| %s | %d | %s | %.3f | %.3f | %.3f | %d | %d | %d | %+.3f ± %.3f | %d | %d |"
          % (name, n, " | ".join("%+.3f ± %.3f" % (m, d) for m, d in zip(mean, sd)),
             sum(r[1] for r in runs) / n,
             sum(r[2] for r in runs) / n, sum(r[3] for r in runs) / n, sum(jsd_ok), full, fair,
             rev, rev_sd, sum(jsd_ok_rev), full_rev))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--splits", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=10)
    a = ap.parse_args()
    data = ndpi_data()
    if data is None:
        return
    train, test = load_splits(data, "test")
    classes = sorted(train)
    perfect = []
    for s in range(a.splits):
        rng = random.Random(1000 + s)
        half_r, half_s = {}, {}
        for c in classes:
            rows = list(train[c])
            rng.shuffle(rows)
            h = len(rows) // 2
            half_r[c], half_s[c] = rows[:h], rows[h:2 * h]
        perfect.append(score(half_s, half_r, test, classes))
    copier = []
    for s in range(a.seeds):
        rng = random.Random(s)
        copier.append(score({c: [rng.choice(train[c]) for _ in train[c]] for c in classes},
                            train, test, classes))
    print("the quality condition for two reference generators (%d classes; %d training / %d test rows)"
          % (len(classes), sum(map(len, train.values())), sum(map(len, test.values()))))
    print("mean ± standard deviation over runs; the last three columns count runs where the JSD conditions hold, and where")
    print("the leakage condition holds too, over all rows and size-matched; then jsd_markov in the train-as-real orientation")
    print("(S and R passed as the real rows) and the two counts with it")
    print("| generator | runs | d num_packets | d 1gram | d 2gram | d markov | leakage S | size-matched | leakage T "
          "| JSDs hold | all hold | all hold, size-matched | d markov, train as real | JSDs hold | all hold |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    summarize("perfect generator (a fresh real sample; R = half the training split)", perfect)
    summarize("bootstrap copier (training rows drawn with replacement)", copier)
    print()
    print("jsd_markov of the training rows against the test rows, either passed as the real rows"
          " (the reference figure is 0.495, on another split)")
    print("| split | ntg.fidelity(test, train) | ntg.fidelity(train, test) |")
    print("|---|---|---|")
    splits = [("hash order (bench/make_rows.py)", train, test)]
    for s in range(5):
        rng, tr, te = random.Random(s), {}, {}
        for c in classes:
            rows = train[c] + test[c]
            rng.shuffle(rows)
            k = round(0.2 * len(rows))
            te[c], tr[c] = rows[:k], rows[k:]
        splits.append(("random 80/20, seed %d" % s, tr, te))
    for name, tr, te in splits:
        print("| %s | %.3f | %.3f |" % (name, macro(te, tr, classes)["markov"], macro(tr, te, classes)["markov"]))


if __name__ == "__main__":
    main()
