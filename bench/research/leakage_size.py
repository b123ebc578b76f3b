#!/usr/bin/python3
"""bench/research/leakage_size.py — how leakage (Jaccard of distinct-sequence sets) depends on the number of rows.

On the validation split of bench/research/llama_tune.py (per class: the test split is the first 20 % of rows by
hash, the validation split the next 20 %, the inner training split the rest), prints macro leakage
against the inner training split of:
  - the validation rows;
  - the validation and test rows together (real rows, about twice as many);
  - an empirical first-order Markov chain per class (start, transitions, end, all counted on the inner
    training rows), sampled with as many rows per class as the inner training split has, seed 1;
and, for the same chain, the four JSDs against the validation rows beside the inner training rows'.

usage: bench/research/leakage_size.py
"""
import os
import random
import sys
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from llama_quality import macro  # noqa: E402
from llama_tune import KEYS, load_splits, ndpi_data  # noqa: E402


def markov_chain_rows(rows, n, rng, max_len=10):
    nxt = defaultdict(Counter)
    for x in rows:
        prev = "START"
        for v in list(x) + ["END"]:
            nxt[prev][v] += 1
            prev = v
    out = []
    for _ in range(n):
        x, prev = [], "START"
        while len(x) < max_len:
            vals, weights = zip(*nxt[prev].items())
            prev = rng.choices(vals, weights)[0]
            if prev == "END":
                break
            x.append(prev)
        out.append(tuple(x))
    return out


def main():
    data = ndpi_data()
    if data is None:
        return
    train, val = load_splits(data, "validation")
    _, test = load_splits(data, "test")
    classes = sorted(train)
    rng = random.Random(1)
    chain = {c: markov_chain_rows(train[c], len(train[c]), rng) for c in classes}
    both = {c: val[c] + test[c] for c in classes}
    print("leakage against the inner training split (%d rows), macro over %d classes"
          % (sum(map(len, train.values())), len(classes)))
    print("| rows compared | rows | leakage |")
    print("|---|---|---|")
    for name, rows in (("validation (real)", val), ("validation + test (real)", both),
                       ("first-order Markov chain of the inner training rows", chain)):
        print("| %s | %d | %.3f |" % (name, sum(map(len, rows.values())), macro(train, rows, classes)["leakage"]))
    ref, got = macro(val, train, classes), macro(val, chain, classes)
    print()
    print("JSD against the validation rows: inner training rows / Markov chain")
    for k in KEYS:
        print("  %-12s %.3f / %.3f" % (k, ref[k], got[k]))


if __name__ == "__main__":
    main()
