#!/usr/bin/python3
"""Side by side: ntg's plain-C llama core vs the PyTorch reference on the efficiency protocol.

Runs bench/research/out/llama_core_bench and bench/torch_llama.py (same TSV, epochs, batch size, samples,
seed, one thread each) for every batch size asked, and prints one table with the ratios
(PyTorch / ntg: > 1 means ntg is faster or smaller) and the paper's Table III figures for
reference.  Times are shown as wall clock and as process CPU time; on a machine shared with other
jobs the CPU time is the steadier of the two, and the ratios are computed on it.

usage: bench/research/llama_vs_torch.py [--tsv /tmp/ntg_protocol.tsv] [--batch-sizes 1,32] [--epochs 10]
                               [--torch-epochs-b1 N] [--samples 100] [--seed 1]
The TSV is made by bench/research/make_protocol_tsv.py when missing (needs the benchmark data, docs/data.md).
--torch-epochs-b1 lets the slow PyTorch batch-1 run do fewer epochs (s/epoch is per epoch).
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PAPER = {"s_per_epoch": 36.81, "ms_per_sample_single": 31.21, "model_mb": 7.9, "mem_mb": 393}


def run(cmd):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsv", default="/tmp/ntg_protocol.tsv")
    ap.add_argument("--batch-sizes", default="1,32")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--torch-epochs-b1", type=int, default=0)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if not os.path.exists(a.tsv):
        subprocess.run([sys.executable, os.path.join(HERE, "make_protocol_tsv.py"), "--out", a.tsv], check=True)
    subprocess.run(["make", "-s", "-C", HERE], check=True, stdout=subprocess.DEVNULL)
    rows = []
    for b in [int(x) for x in a.batch_sizes.split(",")]:
        common = ["--tsv", a.tsv, "--batch-size", str(b), "--samples", str(a.samples), "--seed", str(a.seed)]
        te = a.torch_epochs_b1 if (b == 1 and a.torch_epochs_b1 > 0) else a.epochs
        c = run([os.path.join(HERE, "out", "llama_core_bench"), "--epochs", str(a.epochs)] + common)
        t = run(["/usr/bin/python3", os.path.join(os.path.dirname(HERE), "torch_llama.py"), "--epochs", str(te)] + common)
        rows.append((b, te, c, t))

    print("llama efficiency protocol: %s, %d samples/class, seed %d, one thread each" % (a.tsv, a.samples, a.seed))
    print("%-34s %12s %12s %9s %12s" % ("metric", "ntg (C)", "PyTorch", "ratio", "paper (GPU)"))

    def line(name, cv, tv, paper="", fmt="%12.3f", ratio=True):
        r = ("%8.1fx" % (tv / cv)) if ratio and cv > 0 else "%9s" % ""
        print("%-34s %s %s %s %12s" % (name, fmt % cv, fmt % tv, r, paper))

    for b, te, c, t in rows:
        tag = "batch %d" % b
        line("train s/epoch CPU (%s)" % tag, c["cpu_s_per_epoch"], t["cpu_s_per_epoch"],
             PAPER["s_per_epoch"] if b == 1 else "")
        line("train s/epoch wall (%s)" % tag, c["s_per_epoch"], t["s_per_epoch"], ratio=False)
        line("final loss (%s; torch %d ep)" % (tag, te), c["final_loss"], t["final_loss"], ratio=False, fmt="%12.4f")
    c, t = rows[-1][2], rows[-1][3]
    line("generate ms/sample CPU, one by one", c["cpu_ms_per_sample_single"], t["cpu_ms_per_sample_single"],
         PAPER["ms_per_sample_single"])
    line("generate ms/sample wall, one by one", c["ms_per_sample_single"], t["ms_per_sample_single"], ratio=False)
    line("generate ms/sample CPU, batched", c["cpu_ms_per_sample_batched"], t["cpu_ms_per_sample_batched"])
    line("generate ms/sample wall, batched", c["ms_per_sample_batched"], t["ms_per_sample_batched"], ratio=False)
    line("model MB (float32)", c["model_bytes"] / 1e6, t["model_bytes"] / 1e6, PAPER["model_mb"])
    line("parameters", c["params"], t["params"], fmt="%12d", ratio=False)
    line("peak process memory MB", c["peak_rss_mb"], t["peak_rss_mb"], PAPER["mem_mb"], fmt="%12.1f")
    print("(batched = all %d rows of a class through the KV cache together; generation rows are from the"
          " model trained at batch %d)" % (a.samples, rows[-1][0]))


if __name__ == "__main__":
    main()
