#!/usr/bin/python3
"""bench/research/cvae_output.py — the cvae's output representation, measured on a validation split.

Two ways for the cvae decoder to produce a row (bench/torch_cvae.py has both):
    categorical  per position a softmax over the observed-value vocabulary, plus a length head
    continuous   per position one number (the squashed value, Gaussian likelihood) mapped to the
                 nearest observed value, plus the same length head
Both share the encoder, the MLP shapes (Table I: 500/250, latent 20) and the training settings.

The validation split is llama_tune.py's: per class, the test split (first 20 % of rows by hash) is
left out entirely, the next 20 % of the rest are the held-out rows, the remainder the inner
training rows.  Every K epochs the model generates as many rows per class as the inner training
split has (z ~ N(0, I), temperature 1) and the script prints, against the held-out rows:

    JSD(synthetic, held) - JSD(inner train, held) for num_packets, 1gram, 2gram, markov
    leakage(synthetic, inner train), all rows and size-matched (the first |held| rows per class)
    TSTR ratio: macro F1 on held of a Random Forest fit on synthetic / fit on inner train

usage: bench/research/cvae_output.py [--output categorical,continuous] [--epochs 60] [--every 10]
                                     [--seeds 1] [--beta 1] [--kl-anneal 0] [--batch-size 32] ...
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
sys.path[:0] = [HERE, BENCH]
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import torch  # noqa: E402
from llama_quality import macro  # noqa: E402
from llama_tune import KEYS, load_splits, ndpi_data, rf_macro_f1  # noqa: E402
import torch_cvae as tc  # noqa: E402


def as_rows(split, classes):
    return [(c, list(x)) for c in classes for x in split[c]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--output", default="categorical,continuous")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--beta", type=float, default=1.0)
    ap.add_argument("--kl-anneal", type=int, default=0)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--embed-dim", type=int, default=32)
    ap.add_argument("--latent-temperatures", default="1.0")
    ap.add_argument("--class-snap", type=int, default=0,
                    help="1: the continuous output maps to the nearest value of the class's own rows")
    ap.add_argument("--split", choices=["validation", "test"], default="validation")
    a = ap.parse_args()
    data = ndpi_data()
    if data is None:
        return
    torch.set_num_threads(1)
    train, held = load_splits(data, a.split)
    classes = sorted(train)
    ref = macro(held, train, classes)
    leak_ref = macro(train, held, classes)["leakage"]
    f1_ref = rf_macro_f1(train, held, 1)
    print("cvae output representation on the %s split: %d classes, %d training / %d held-out rows; "
          "batch %d, lr %g, beta %g, kl_anneal %d, weight_decay %g, grad_clip %g, embed_dim %d"
          % (a.split, len(classes), sum(map(len, train.values())), sum(map(len, held.values())),
             a.batch_size, a.lr, a.beta, a.kl_anneal, a.weight_decay, a.grad_clip, a.embed_dim))
    print("reference (train vs held-out): " + ", ".join("%s %.3f" % (k, ref[k]) for k in KEYS)
          + ", leakage %.3f, RF macro F1 %.3f" % (leak_ref, f1_ref))
    print("continuous output mapped to the nearest value of %s" % ("the class's own rows" if a.class_snap else "all rows"))
    print("| output | seed | epoch | latent T | held-out loss | d num_packets | d 1gram | d 2gram | d markov "
          "| leakage all / size-matched | TSTR ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    tr_rows, held_rows = as_rows(train, classes), as_rows(held, classes)
    for output in a.output.split(","):
        for seed in [int(s) for s in a.seeds.split(",")]:
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            vocab = tc.Vocab(tr_rows, 10)
            vocab.class_snap(tr_rows)
            tr = vocab.encode(tr_rows)
            # held-out rows with a value the vocabulary lacks are not scored (the loss only)
            known = [(c, r) for c, r in held_rows if all(v in vocab.index for v in r[:vocab.max_len])]
            hd = vocab.encode(known)
            model = tc.CVAE(len(vocab.values), len(classes), vocab.max_len, embed_dim=a.embed_dim,
                            output=output)
            opt = tc.make_optimizer(model, a.lr, a.weight_decay)
            for e in range(a.epochs):
                tc.train_epoch(model, opt, vocab, tr, e, a.batch_size, a.beta, a.kl_anneal,
                               a.grad_clip, gen)
                if (e + 1) % a.every:
                    continue
                vloss = tc.eval_loss(model, vocab, hd)
                for lt in [float(t) for t in a.latent_temperatures.split(",")]:
                    g = torch.Generator().manual_seed(1000 + seed)
                    synth = {c: [tuple(r) for r in model.sample(ci, len(train[c]), vocab, g, lt,
                                                                    class_snap=bool(a.class_snap))]
                             for ci, c in enumerate(classes)}
                    got = macro(held, synth, classes)
                    leak = macro(train, synth, classes)["leakage"]
                    small = macro(train, {c: synth[c][:len(held[c])] for c in classes}, classes)["leakage"]
                    f1 = rf_macro_f1(synth, held, 1)
                    print("| %s | %d | %d | %g | %.4f | %+.3f | %+.3f | %+.3f | %+.3f | %.3f / %.3f | %.3f |"
                          % (output, seed, e + 1, lt, vloss, *(got[k] - ref[k] for k in KEYS), leak,
                             small, f1 / f1_ref))
                    sys.stdout.flush()


if __name__ == "__main__":
    main()
