#!/usr/bin/python3
"""bench/research/gen_tune.py — choose a generator kind's settings on a validation split, for any
kind of the registry (llama_tune.py is the llama's own, older version of this script).

The split is llama_tune.py's: per class of the 30 nDPI classes, the test split (the first 20 % of
rows by hash) is left out entirely, the next 20 % of the rest are the held-out (validation) rows,
the remainder the inner training rows.  gen_core_bench (the plain-C core, through the training
driver as ntg.train) trains the kind with the given hyperparameters and, every K epochs, generates
as many rows per class as the inner training split has, for each value of one sampling option.
One table row per (model seed, epoch, option value), against the held-out rows:

    held loss    the kind's held-out loss (kind->eval_loss) after that epoch
    d <metric>   JSD(synthetic, held) - JSD(inner train, held), num_packets, 1gram, 2gram, markov
    max d        the largest of the four (the selection rule of docs/research/llama-quality.md:
                 the smallest max d among settings whose size-matched leakage is at most the
                 held-out rows' own)
    leakage      leakage(synthetic, inner train): all rows / size-matched (the first |held| rows
                 of each class)
    TSTR ratio   macro F1 on held of a Random Forest fit on synthetic / fit on inner train
--split test runs the same on the full training split against the test split, for a setting
already chosen.  With several --seeds, a last block gives the mean over the seeds per (epoch,
value).

usage: bench/research/gen_tune.py --kind cvae [--epochs 60] [--every 10] [--seeds 1,2]
                                  [--param KEY=VALUE]... [--sample NAME=V1,V2] [--gen-seed 1]
"""
import argparse
import os
import subprocess
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
sys.path[:0] = [HERE, BENCH]
from llama_quality import macro, read_rows, write_rows  # noqa: E402
from llama_tune import KEYS, load_splits, ndpi_data, rf_macro_f1  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", required=True)
    ap.add_argument("--split", choices=["validation", "test"], default="validation")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--gen-seed", type=int, default=1)
    ap.add_argument("--param", action="append", default=[], help="KEY=VALUE hyperparameter")
    ap.add_argument("--sample", default=None, help="NAME=V1,V2: a sampling option's values")
    a = ap.parse_args()
    data = ndpi_data()
    if data is None:
        return
    train, held = load_splits(data, a.split)
    classes = sorted(train)
    tag = "%d.%s" % (os.getpid(), a.split)
    tr_path, held_path, gen = ("/tmp/ntg_gtune_train.%s.tsv" % tag, "/tmp/ntg_gtune_held.%s.tsv" % tag,
                               "/tmp/ntg_gtune_synth.%s" % tag)
    write_rows(tr_path, train, classes)
    write_rows(held_path, held, classes)
    subprocess.run(["make", "-s", "-C", HERE, os.path.join(HERE, "out", "gen_core_bench")], check=True,
                   stdout=subprocess.DEVNULL)
    ref = macro(held, train, classes)
    leak_ref = macro(train, held, classes)["leakage"]
    f1_ref = rf_macro_f1(train, held, 1)
    print("%s tuning on the %s split: %d classes, %d training / %d held-out rows; %s; generation seed %d"
          % (a.kind, a.split, len(classes), sum(map(len, train.values())), sum(map(len, held.values())),
             " ".join(a.param) or "defaults", a.gen_seed))
    print("reference (train vs held-out): " + ", ".join("%s %.3f" % (k, ref[k]) for k in KEYS)
          + ", leakage %.3f" % leak_ref + (", RF macro F1 %.3f" % f1_ref if f1_ref else ""))
    opt = a.sample.split("=")[0] if a.sample else "sampling"
    head = "| seed | epoch | %s | held loss | d num_packets | d 1gram | d 2gram | d markov | max d | leakage all / size-matched | TSTR ratio |" % opt
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    means = defaultdict(list)
    for seed in [int(s) for s in a.seeds.split(",")]:
        cmd = [os.path.join(HERE, "out", "gen_core_bench"), "--kind", a.kind, "--tsv", tr_path,
               "--held", held_path, "--gen-out", gen, "--gen-every", str(a.every),
               "--gen-seed", str(a.gen_seed), "--param", "epochs=%d" % a.epochs, "--param", "seed=%d" % seed]
        for kv in a.param:
            cmd += ["--param", kv]
        if a.sample:
            cmd += ["--sample", a.sample]
        out = subprocess.run(cmd, check=True, env=env, stdout=subprocess.PIPE, text=True).stdout
        held_loss = {}
        for line in out.splitlines():
            f = line.split()
            if f[0] == "epoch":
                held_loss[int(f[1])] = float(f[5])
        values = a.sample.split("=")[1].split(",") if a.sample else ["default"]
        for e in range(a.every, a.epochs + 1, a.every):
            for v in values:
                path = "%s.e%d.v%s" % (gen, e, "%g" % float(v) if a.sample else v)
                synth = read_rows(path)
                os.unlink(path)
                got = macro(held, synth, classes)
                d = [got[k] - ref[k] for k in KEYS]
                leak = macro(train, synth, classes)["leakage"]
                small = macro(train, {c: synth[c][:len(held[c])] for c in classes}, classes)["leakage"]
                f1 = rf_macro_f1(synth, held, 1)
                ratio = f1 / f1_ref if f1 is not None else float("nan")
                row = d + [max(d), leak, small, ratio, held_loss.get(e, float("nan"))]
                means[(e, v)].append(row)
                print("| %d | %d | %s | %.4f | %+.3f | %+.3f | %+.3f | %+.3f | %+.3f | %.3f / %.3f | %.3f |"
                      % (seed, e, v, row[8], *d, max(d), leak, small, ratio))
                sys.stdout.flush()
    if len(a.seeds.split(",")) > 1:
        print()
        print("mean over seeds " + a.seeds)
        print(head.replace("| seed ", ""))
        print("|" + "---|" * (head.count("|") - 2))
        for (e, v), rows in sorted(means.items(), key=lambda kv: (kv[0][0], kv[0][1])):
            m = [sum(r[i] for r in rows) / len(rows) for i in range(9)]
            print("| %d | %s | %.4f | %+.3f | %+.3f | %+.3f | %+.3f | %+.3f | %.3f / %.3f | %.3f |"
                  % (e, v, m[8], *m[:8]))
    os.unlink(tr_path)
    os.unlink(held_path)


if __name__ == "__main__":
    main()
