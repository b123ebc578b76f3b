#!/usr/bin/python3
"""bench/research/netdiffus_tune.py — choose the netdiffus defaults on a validation split,
never on the test split (docs/netdiffus.md, "Benchmarks").

The split is bench/research/llama_tune.py's: per class of the 30 recommended nDPI classes, the test
split is the first 20 % of the rows in hash order (bench/make_rows.py), the validation split the next
20 % of the rest, and the model trains on what is left (the inner training split).  For every
generated set the script prints one table row, as llama_tune.py does:

    JSD(synthetic, validation) - JSD(inner train, validation)   for the four JSDs (<= 0 is the goal)
    leakage(synthetic, inner train) and leakage(validation, inner train), and size-matched:
            leakage(the first |validation| synthetic rows of each class, inner train)
    TSTR ratio: macro F1 on validation of a Random Forest fit on synthetic / fit on inner train
    seconds: the CPU time generation took, and ms per row

Two modes:
  train   --param K=V ... [--epochs E --every K] [--sample K=V ...] --save FILE
          trains bench/research/out/netdiffus_core_bench on the inner training split, generating
          every K epochs with the sampling options given (and at the end), and keeps the model
  sample  --load FILE --settings 'steps=20,guidance=0;steps=50,guidance=1;...'
          generates one set per setting (';'-separated, options ','-separated) from a kept model

--split test runs the same on the full training split against the test split, for a setting
already chosen (the figures bench/generator_quality.sh reports through SQL).

usage: bench/research/netdiffus_tune.py train [--split validation|test] [--seed 1] [--gen-seed 2]
           [--epochs 100] [--every 25] [--param K=V]... [--sample K=V]... [--save FILE]
       bench/research/netdiffus_tune.py sample --load FILE --settings S [--split ...] [--gen-seed 2]
       bench/research/netdiffus_tune.py score --files F1,F2 [--split ...]   (rows written by the tool)
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
sys.path[:0] = [HERE, BENCH]
from llama_quality import macro, read_rows, write_rows  # noqa: E402
from llama_tune import KEYS, load_splits, ndpi_data, rf_macro_f1  # noqa: E402

TOOL = os.path.join(HERE, "out", "netdiffus_core_bench")


def score(label, synth, train, held, classes, ref, leak_ref, f1_ref, seed, secs):
    got = macro(held, synth, classes)
    leak = macro(train, synth, classes)["leakage"]
    leak_small = macro(train, {c: synth[c][:len(held[c])] for c in classes}, classes)["leakage"]
    f1 = rf_macro_f1(synth, held, seed)
    n = sum(len(v) for v in synth.values())
    print("| %s | %+.3f | %+.3f | %+.3f | %+.3f | %.3f / %.3f | %.3f | %s | %s |"
          % (label, *(got[k] - ref[k] for k in KEYS), leak, leak_ref, leak_small,
             "%.3f" % (f1 / f1_ref) if f1 is not None else "-",
             "%.0f s, %.1f ms/row" % (secs, 1e3 * secs / n) if secs else "-"))
    sys.stdout.flush()


def run_tool(args, env):
    r = subprocess.run([TOOL] + args, check=True, env=env, stdout=subprocess.PIPE, stderr=None)
    return json.loads(r.stdout.decode().strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["train", "sample", "score"])
    ap.add_argument("--split", choices=["validation", "test"], default="validation")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gen-seed", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--every", type=int, default=0)
    ap.add_argument("--param", action="append", default=[])
    ap.add_argument("--sample", action="append", default=[])
    ap.add_argument("--save", default=None)
    ap.add_argument("--load", default=None)
    ap.add_argument("--settings", default="")
    ap.add_argument("--gen-fraction", type=float, default=1.0,
                    help="generate this part of the rows per class (TSTR then trains on fewer rows)")
    ap.add_argument("--files", default="", help="score: generated files (label<TAB>values), comma-separated")
    a = ap.parse_args()
    data = ndpi_data()
    if data is None:
        return
    train, held = load_splits(data, a.split)
    classes = sorted(train)
    tag = "%d.%s" % (os.getpid(), a.split)
    tr_path, gen = "/tmp/ntg_ndtune_train.%s.tsv" % tag, "/tmp/ntg_ndtune_synth.%s" % tag
    write_rows(tr_path, train, classes)
    subprocess.run(["make", "-s", "-C", HERE, TOOL], check=True, stdout=subprocess.DEVNULL)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    ref = macro(held, train, classes)
    leak_ref = macro(train, held, classes)["leakage"]
    f1_ref = rf_macro_f1(train, held, a.seed)
    print("netdiffus on the %s split: %d classes, %d training / %d held-out rows, seed %d, %s"
          % (a.split, len(classes), sum(map(len, train.values())), sum(map(len, held.values())),
             a.seed, " ".join(a.param) or "default hyperparameters"))
    print("reference (train vs held-out): " + ", ".join("%s %.3f" % (k, ref[k]) for k in KEYS)
          + ", leakage %.3f" % leak_ref + (", RF macro F1 %.3f" % f1_ref if f1_ref else ""))
    print("| setting | d num_packets | d 1gram | d 2gram | d markov | leakage synth / held | size-matched | TSTR ratio | generation |")
    print("|---|---|---|---|---|---|---|---|---|")
    sys.stdout.flush()
    common = ["--tsv", tr_path, "--gen-seed", str(a.gen_seed), "--gen-fraction", str(a.gen_fraction)]
    if a.mode == "score":
        for path in [f for f in a.files.split(",") if f]:
            score(os.path.basename(path), read_rows(path), train, held, classes, ref, leak_ref, f1_ref, a.seed, None)
    elif a.mode == "train":
        params = ["seed=%d" % a.seed] + (["epochs=%d" % a.epochs] if a.epochs else []) + a.param
        args = common + [x for kv in params for x in ("--param", kv)] + \
            [x for kv in a.sample for x in ("--sample", kv)] + ["--gen-out", gen]
        if a.every:
            args += ["--gen-every", str(a.every)]
        if a.save:
            args += ["--save", a.save]
        out = run_tool(args, env)
        print("# trained: %.1f s/epoch (%.1f s CPU), final loss %.4f, %d parameters"
              % (out["s_per_epoch"], out["cpu_s_per_epoch"], out["final_loss"], out["params"]))
        e = a.every
        while a.every and os.path.exists("%s.e%d" % (gen, e)):
            score("epoch %d %s" % (e, ",".join(a.sample)), read_rows("%s.e%d" % (gen, e)), train, held,
                  classes, ref, leak_ref, f1_ref, a.seed, None)
            os.unlink("%s.e%d" % (gen, e))
            e += a.every
        score("final %s" % ",".join(a.sample), read_rows(gen), train, held, classes, ref, leak_ref,
              f1_ref, a.seed, None)
        os.unlink(gen)
    else:
        for setting in [s for s in a.settings.split(";") if s.strip()]:
            opts = [kv.strip() for kv in setting.split(",") if kv.strip()]
            c0 = os.times()
            run_tool(common + ["--load", a.load, "--gen-out", gen] +
                     [x for kv in opts for x in ("--sample", kv)], env)
            c1 = os.times()
            secs = (c1.children_user + c1.children_system) - (c0.children_user + c0.children_system)
            score(",".join(opts), read_rows(gen), train, held, classes, ref, leak_ref, f1_ref, a.seed,
                  secs)
            os.unlink(gen)
    os.unlink(tr_path)


if __name__ == "__main__":
    main()
