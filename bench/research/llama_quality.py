#!/usr/bin/python3
"""Fidelity check of the plain-C llama on the nDPI benchmark (the quality condition of
docs/research/llama-quality.md, core level).

Stratified 80/20 split of the 30 recommended label_app classes of ndpi/flows.tsv of the benchmark data (docs/data.md)
(payload flows, fuzz/garbage pcaps and NA/Unknown left out), train bench/research/out/llama_core_bench on
the training split, generate as many rows per class as the training split has, and compare, per
docs/definitions.md (macro over classes, JSD in log base 2):
    JSD(synthetic, test) vs JSD(train, test) for num_packets, 1-gram, 2-gram, markov,
    leakage(synthetic, train) vs leakage(test, train).
The SQL-level benchmark (ntg.fidelity) is the reference; this script exists to tune the core.

usage: bench/research/llama_quality.py [--epochs 10] [--batch-size 32] [--seed 1] [--lr 0.001]
                              [--param KEY=NUMBER]...
"""
import argparse
import csv
import math
import os
import random
import re
import subprocess
import sys
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))


def jsd(p, q):
    keys = set(p) | set(q)
    sp, sq = sum(p.values()), sum(q.values())
    if sp == 0 or sq == 0:
        return 1.0 if sp != sq else 0.0
    out = 0.0
    for k in keys:
        a, b = p.get(k, 0) / sp, q.get(k, 0) / sq
        m = (a + b) / 2
        if a > 0:
            out += 0.5 * a * math.log2(a / m)
        if b > 0:
            out += 0.5 * b * math.log2(b / m)
    return out


def metrics(real, synth):
    """real, synth: lists of tuples (one class). Returns dict of the four JSDs and leakage."""
    r = {}
    r["num_packets"] = jsd(Counter(len(x) for x in real), Counter(len(x) for x in synth))
    r["1gram"] = jsd(Counter(v for x in real for v in x), Counter(v for x in synth for v in x))
    r["2gram"] = jsd(Counter(p for x in real for p in zip(x, x[1:])),
                     Counter(p for x in synth for p in zip(x, x[1:])))

    def trans(rows):
        t = defaultdict(Counter)
        for x in rows:
            for i, v in enumerate(x):
                t[v][x[i + 1] if i + 1 < len(x) else "END"] += 1
        return t
    tr, ts = trans(real), trans(synth)
    tot = sum(sum(c.values()) for c in tr.values())
    r["markov"] = sum(sum(c.values()) / tot * (jsd(c, ts[s]) if s in ts else 1.0)
                      for s, c in tr.items()) if tot else 0.0
    a, b = set(real), set(synth)
    r["leakage"] = len(a & b) / len(a | b) if a | b else 0.0
    return r


def macro(real, synth, classes):
    keys = ["num_packets", "1gram", "2gram", "markov", "leakage"]
    acc = {k: 0.0 for k in keys}
    for c in classes:
        m = metrics(real[c], synth[c])
        for k in keys:
            acc[k] += m[k] / len(classes)
    return acc


def write_rows(path, rows, classes):
    """rows: {class: [sequence, ...]} as label<TAB>comma-separated values (llama_core_bench --tsv)."""
    with open(path, "w") as f:
        for c in classes:
            for x in rows[c]:
                f.write("%s\t%s\n" % (c, ",".join(map(str, x))))


def read_rows(path):
    """The rows llama_core_bench --gen-out writes, as {class: [tuple, ...]}."""
    rows = defaultdict(list)
    for line in open(path):
        c, _, pl = line.rstrip("\n").partition("\t")
        rows[c].append(tuple(int(v) for v in pl.split(",") if v))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--param", action="append", default=[], help="KEY=NUMBER hyperparameter")
    a = ap.parse_args()
    data = os.path.join(os.environ.get("NTG_SHARED_DATA") or os.path.join(HERE, "..", "..", "..", "shared", "data"),
                        "ndpi")
    if not os.path.exists(os.path.join(data, "flows.tsv")):
        sys.exit("%s is absent (set NTG_SHARED_DATA): nothing to measure" % data)
    classes = [l.split("\t")[0] for l in open(os.path.join(data, "recommended_classes_min30.txt"))
               if l.strip() and not l.startswith("#")]
    bad = re.compile(r"fuzz|badpackets|garbage|malformed|crash|ossfuzz", re.I)
    rows = defaultdict(list)
    for r in csv.DictReader(open(os.path.join(data, "flows.tsv")), delimiter="\t"):
        if r["label_app"] in classes and r["first10_signed_payload"] and not bad.search(r["pcap"]):
            rows[r["label_app"]].append(tuple(int(v) for v in r["first10_signed_payload"].split(",")))
    rng = random.Random(a.seed)
    train, test = {}, {}
    for c in classes:
        xs = rows[c][:]
        rng.shuffle(xs)
        k = int(round(0.8 * len(xs)))
        train[c], test[c] = xs[:k], xs[k:]
    tr_path, gen_path = "/tmp/ntg_quality_train.tsv", "/tmp/ntg_quality_synth.tsv"
    write_rows(tr_path, train, classes)
    subprocess.run(["make", "-s", "-C", HERE], check=True, stdout=subprocess.DEVNULL)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    subprocess.run([os.path.join(HERE, "out", "llama_core_bench"), "--tsv", tr_path, "--epochs", str(a.epochs),
                    "--batch-size", str(a.batch_size), "--seed", str(a.seed), "--lr", str(a.lr),
                    "--samples", "1", "--gen-out", gen_path] + [x for kv in a.param for x in ("--param", kv)],
                   check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    synth = read_rows(gen_path)
    ref = macro(test, train, classes)
    got = macro(test, synth, classes)
    leak_train = macro(train, synth, classes)["leakage"]
    leak_test = macro(train, test, classes)["leakage"]
    print("llama core quality: %d classes, %d train / %d test rows, %d epochs, batch %d, seed %d"
          % (len(classes), sum(map(len, train.values())), sum(map(len, test.values())), a.epochs,
             a.batch_size, a.seed))
    print("%-16s %14s %14s %s" % ("metric", "synth vs test", "train vs test", "goal"))
    for k in ["num_packets", "1gram", "2gram", "markov"]:
        print("%-16s %14.3f %14.3f %s" % ("jsd_" + k, got[k], ref[k], "ok" if got[k] <= ref[k] else "MISSED"))
    print("%-16s %14.3f %14.3f %s" % ("leakage/train", leak_train, leak_test,
                                       "ok" if leak_train <= leak_test else "MISSED"))


if __name__ == "__main__":
    main()
