#!/usr/bin/python3
"""PyTorch reference of ntg's mamba generator, for the efficiency benchmark (bench/mamba_efficiency.sh).

The model is test/reference/mamba_ref.py's (the independent implementation the unit tests compare
ntg with): the architecture of src/core/models/mamba*.c with the selective scan as a plain loop
over time, which is what a user without Mamba's fused CUDA kernels runs.  Same vocabulary
(sorted distinct values of the training rows' first max_len values, then <EOS>, <PAD>, one
<CLASS> per class), same rows (<CLASS> v1..vk <EOS>, right-padded with <PAD> to the longest row
of the batch, <PAD> targets ignored), same optimizer (AdamW, betas 0.9/0.999, eps 1e-8, weight
decay 0.01 on matrices but A_log, global-norm clipping at 1.0, 5 % linear warm-up then cosine to
0.1 lr), same batch size.  Generation is recurrent (mamba_ref.Mamba.generate: a convolution window
and a scan state per row, no prefix recomputed), evaluates the head for the value tokens and <EOS>
only, one row at a time and all rows of a class at once; finished rows leave the batch.  One
thread (torch.set_num_threads(1), OPENBLAS_NUM_THREADS=1 unless set).

usage: torch_mamba.py --tsv FILE [--epochs 10] [--batch-size 32] [--samples 100] [--seed 1] [--lr 0.002]
prints ONE JSON line: {"s_per_epoch", "ms_per_sample_single", "ms_per_sample_batched",
                       "model_bytes", "params", "final_loss", "peak_rss_mb", "positions_padded",
                       "positions_packed" (token positions per epoch computed / needed), and the same
                       times as process CPU time: "cpu_s_per_epoch", "cpu_ms_per_sample_single",
                       "cpu_ms_per_sample_batched"}
"""
import argparse
import io
import json
import math
import os
import resource
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "reference"))
from mamba_ref import Mamba  # noqa: E402


def read_tsv(path):
    rows = []
    with open(path) as f:
        for line in f:
            label, _, pl = line.rstrip("\n").partition("\t")
            rows.append((label, [int(v) for v in pl.split(",") if v != ""]))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsv", required=True)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--max-len", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)

    data = read_tsv(a.tsv)
    classes = sorted({c for c, _ in data})
    N = min(a.max_len, max(len(r) for _, r in data)) or 1
    values = sorted({v for _, r in data for v in r[:N]})
    tok = {v: i for i, v in enumerate(values)}
    eos, pad = len(values), len(values) + 1
    vocab = len(values) + 2 + len(classes)
    cls_tok = {c: len(values) + 2 + i for i, c in enumerate(classes)}
    seqs = []
    for c, r in data:
        inp = [cls_tok[c]] + [tok[v] for v in r[:N]]
        tgt = [tok[v] for v in r[:N]] + ([eos] if len(r) <= N else [])
        seqs.append((inp[:len(tgt)], tgt))

    model = Mamba(vocab)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and not n.endswith("A_log")]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2 or n.endswith("A_log")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    steps = a.epochs * ((len(seqs) + a.batch_size - 1) // a.batch_size)
    warm = steps // 20

    def lr_at(s):
        if warm > 0 and s < warm:
            return (s + 1) / warm
        p = min(1.0, (s - warm) / max(1, steps - warm))
        return 0.1 + 0.45 * (1 + math.cos(math.pi * p))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    t0, c0 = time.perf_counter(), time.process_time()
    loss_v = 0.0
    positions = [0, 0]            # per epoch: computed (padded), needed (the rows' own tokens)
    for _ in range(a.epochs):
        perm = torch.randperm(len(seqs)).tolist()
        tot, cnt = 0.0, 0
        for b0 in range(0, len(seqs), a.batch_size):
            batch = [seqs[i] for i in perm[b0:b0 + a.batch_size]]
            T = max(len(x) for x, _ in batch)
            inp = torch.full((len(batch), T), pad, dtype=torch.long)
            tgt = torch.full((len(batch), T), pad, dtype=torch.long)
            for j, (x, y) in enumerate(batch):
                inp[j, :len(x)] = torch.tensor(x)
                tgt[j, :len(y)] = torch.tensor(y)
            positions[0] += len(batch) * T
            positions[1] += sum(len(x) for x, _ in batch)
            logits = model(inp)
            loss = F.cross_entropy(logits.view(-1, vocab), tgt.view(-1), ignore_index=pad)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            n = int((tgt != pad).sum())
            tot += float(loss) * n
            cnt += n
        loss_v = tot / max(cnt, 1)
        print("epoch loss %.4f (%.2f s)" % (loss_v, time.perf_counter() - t0), file=sys.stderr)
    train_s, train_c = time.perf_counter() - t0, time.process_time() - c0

    gen = torch.Generator().manual_seed(a.seed + 1)
    model.eval()
    t0, c0 = time.perf_counter(), time.process_time()
    for c in classes:
        for _ in range(a.samples):
            model.generate(cls_tok[c], 1, N, len(values) + 1, eos, gen)
    single_s, single_c = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    for c in classes:
        model.generate(cls_tok[c], a.samples, N, len(values) + 1, eos, gen)
    batched_s, batched_c = time.perf_counter() - t0, time.process_time() - c0

    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    n_gen = a.samples * len(classes)
    print(json.dumps({
        "s_per_epoch": round(train_s / max(a.epochs, 1), 4),
        "ms_per_sample_single": round(single_s * 1e3 / n_gen, 4),
        "ms_per_sample_batched": round(batched_s * 1e3 / n_gen, 4),
        "model_bytes": buf.getbuffer().nbytes,
        "params": sum(p.numel() for p in model.parameters()),
        "final_loss": round(loss_v, 4),
        "positions_padded": positions[0] // max(a.epochs, 1),
        "positions_packed": positions[1] // max(a.epochs, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "cpu_s_per_epoch": round(train_c / max(a.epochs, 1), 4),
        "cpu_ms_per_sample_single": round(single_c * 1e3 / n_gen, 4),
        "cpu_ms_per_sample_batched": round(batched_c * 1e3 / n_gen, 4),
    }))


if __name__ == "__main__":
    main()
