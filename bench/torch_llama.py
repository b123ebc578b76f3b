#!/usr/bin/python3
"""PyTorch reference of ntg's llama generator, for the efficiency benchmark.

Same architecture as src/core/models/llama*.c: token embedding, n_layers x [RMSNorm, causal
multi-head attention with interleaved rotary positions (theta 10000), residual, RMSNorm, SwiGLU
MLP (w2(silu(w1 x) * w3 x)), residual], final RMSNorm, untied output head, no biases.  Same
vocabulary (sorted distinct values of the training rows' first max_len values, then <EOS>, <PAD>,
one <CLASS> per class), same rows (<CLASS> v1..vk <EOS>, right-padded with <PAD> to the longest
row of the batch, <PAD> targets ignored; or, with --packed, concatenated without padding into one
sequence per batch under a block-diagonal causal mask, rotary positions restarting at every row,
which is what ntg computes), same optimizer (AdamW lr 1e-3, betas 0.9/0.999, eps
1e-8, weight decay 0.01 on matrices only, global-norm clipping at 1.0, 5 % linear warm-up then
cosine to 0.1 lr), same batch size.  Generation uses a KV cache and evaluates the head for the
value tokens and <EOS> only, one row at a time and all rows of a class at once; finished rows
leave the batch.  One thread (torch.set_num_threads(1), OPENBLAS_NUM_THREADS=1 unless set).

usage: torch_llama.py --tsv FILE [--epochs 10] [--batch-size 32] [--samples 100] [--seed 1]
                      [--packed] [--train-only]
prints ONE JSON line: {"s_per_epoch", "ms_per_sample_single", "ms_per_sample_batched",
                       "model_bytes", "params", "final_loss", "peak_rss_mb", and the same
                       times as process CPU time: "cpu_s_per_epoch", "cpu_ms_per_sample_single",
                       "cpu_ms_per_sample_batched"; "positions_padded", "positions_packed": token
                       positions per epoch with padding (batch size x longest row, summed over
                       the batches) and without (the rows' lengths)}
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
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(max_t, hs, theta=10000.0):
    freqs = theta ** (-torch.arange(0, hs, 2, dtype=torch.float64) / hs)
    ang = torch.arange(max_t, dtype=torch.float64)[:, None] * freqs[None, :]
    return torch.cos(ang).float(), torch.sin(ang).float()


def apply_rope(x, cos, sin):
    # x [B, T, NH, HS]; pairs (2i, 2i+1) rotated by angle pos * theta^(-2i/HS)
    a, b = x[..., 0::2], x[..., 1::2]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.stack((a * c - b * s, a * s + b * c), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, dim, hidden, nh):
        super().__init__()
        self.nh, self.hs = nh, dim // nh
        self.attention_norm = RMSNorm(dim)
        self.wq = nn.Linear(dim, dim, bias=False)
        self.wk = nn.Linear(dim, dim, bias=False)
        self.wv = nn.Linear(dim, dim, bias=False)
        self.wo = nn.Linear(dim, dim, bias=False)
        self.ffn_norm = RMSNorm(dim)
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)

    def attend(self, x, cos, sin, cache=None, mask=None):
        B, T, C = x.shape
        h = self.attention_norm(x)
        q = apply_rope(self.wq(h).view(B, T, self.nh, self.hs), cos, sin)
        k = apply_rope(self.wk(h).view(B, T, self.nh, self.hs), cos, sin)
        v = self.wv(h).view(B, T, self.nh, self.hs)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if cache is not None:
            if cache[0] is not None:
                k = torch.cat((cache[0], k), dim=2)
                v = torch.cat((cache[1], v), dim=2)
            cache[0], cache[1] = k, v
        att = (q @ k.transpose(-2, -1)) / math.sqrt(self.hs)
        if mask is None and (cache is None or T > 1):
            mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        if mask is not None:
            att = att.masked_fill(mask, float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return x + self.wo(y.transpose(1, 2).reshape(B, T, C))

    def forward(self, x, cos, sin, cache=None, mask=None):
        x = self.attend(x, cos, sin, cache, mask)
        h = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


class Llama(nn.Module):
    def __init__(self, vocab, dim=160, hidden=320, layers=4, nh=8, max_t=11):
        super().__init__()
        self.tok_embeddings = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList([Block(dim, hidden, nh) for _ in range(layers)])
        self.norm = RMSNorm(dim)
        self.output = nn.Linear(dim, vocab, bias=False)
        self.cos, self.sin = rope_tables(max_t, dim // nh)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith(("wo.weight", "w2.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx, pos=None, mask=None):
        """idx [B, T]; pos [T] rotary positions (default 0..T-1); mask [T, T], True = not seen
        (default causal)."""
        T = idx.shape[1]
        cos, sin = (self.cos[:T], self.sin[:T]) if pos is None else (self.cos[pos], self.sin[pos])
        x = self.tok_embeddings(idx)
        for blk in self.layers:
            x = blk(x, cos, sin, mask=mask)
        return self.output(self.norm(x))

    @torch.no_grad()
    def generate(self, cls_tok, n, max_len, n_drawable, eos, gen):
        """n rows of one class at once; returns a list of token lists."""
        head = self.output.weight[:n_drawable]
        caches = [[None, None] for _ in self.layers]
        idx = torch.full((n, 1), cls_tok, dtype=torch.long)
        rows = [[] for _ in range(n)]
        alive = torch.arange(n)
        for pos in range(max_len):
            x = self.tok_embeddings(idx)
            c, s = self.cos[pos:pos + 1], self.sin[pos:pos + 1]
            for blk, cache in zip(self.layers, caches):
                x = blk(x, c, s, cache)
            logits = self.norm(x[:, -1]) @ head.t()
            nxt = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=gen)[:, 0]
            keep = []
            for j, t in enumerate(nxt.tolist()):
                r = int(alive[j])
                if t == eos:
                    continue
                rows[r].append(t)
                if len(rows[r]) < max_len:
                    keep.append(j)
            if not keep:
                break
            keep_t = torch.tensor(keep, dtype=torch.long)
            alive = alive[keep_t]
            idx = nxt[keep_t][:, None]
            for cache in caches:
                cache[0], cache[1] = cache[0][keep_t], cache[1][keep_t]
        return rows


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
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--max-len", type=int, default=10)
    ap.add_argument("--packed", action="store_true", help="train on packed rows, no padding")
    ap.add_argument("--train-only", action="store_true", help="skip generation")
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

    model = Llama(vocab, max_t=N + 1)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
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
    positions = [0, 0]  # per epoch: padded, packed
    for epoch in range(a.epochs):
        perm = torch.randperm(len(seqs)).tolist()
        tot, cnt = 0.0, 0
        for b0 in range(0, len(seqs), a.batch_size):
            batch = [seqs[i] for i in perm[b0:b0 + a.batch_size]]
            T = max(len(x) for x, _ in batch)
            if epoch == 0:
                positions[0] += len(batch) * T
                positions[1] += sum(len(x) for x, _ in batch)
            if a.packed:
                inp = torch.tensor([[t for x, _ in batch for t in x]])
                tgt = torch.tensor([t for _, y in batch for t in y])
                pos = torch.tensor([p for x, _ in batch for p in range(len(x))])
                row = torch.tensor([j for j, (x, _) in enumerate(batch) for _ in x])
                mask = (row[:, None] != row[None, :]) | torch.ones(len(row), len(row), dtype=torch.bool).triu(1)
                logits = model(inp, pos, mask)
                loss = F.cross_entropy(logits[0], tgt)
            else:
                inp = torch.full((len(batch), T), pad, dtype=torch.long)
                tgt = torch.full((len(batch), T), pad, dtype=torch.long)
                for j, (x, y) in enumerate(batch):
                    inp[j, :len(x)] = torch.tensor(x)
                    tgt[j, :len(y)] = torch.tensor(y)
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
    single_s = single_c = batched_s = batched_c = 0.0
    if not a.train_only:
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
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "cpu_s_per_epoch": round(train_c / max(a.epochs, 1), 4),
        "cpu_ms_per_sample_single": round(single_c * 1e3 / n_gen, 4),
        "cpu_ms_per_sample_batched": round(batched_c * 1e3 / n_gen, 4),
        "positions_padded": positions[0],
        "positions_packed": positions[1],
    }))


if __name__ == "__main__":
    main()
