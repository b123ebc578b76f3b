#!/usr/bin/python3
"""PyTorch reference of ntg's cvae generator, for the efficiency benchmark and the research scripts.

Same architecture as src/core/models/cvae*.c (docs/cvae.md):

    encoder  [emb_in[x_0] .. emb_in[x_{N-1}], onehot(c)] -> 500 -> ReLU -> 250 -> ReLU -> (mu, logvar) [2 x 20]
             x_t is the value token at position t, or <PAD> (= n_values) beyond the row's length
    z        mu + exp(logvar / 2) * eps,  eps ~ N(0, I)
    decoder  [z, onehot(c)] -> 250 -> ReLU -> 500 -> ReLU -> h
             length head:  h -> N + 1 logits (the row's length, 0..N)
             value heads:  h -> N x E  (one E-vector per position), then per position a shared
                           output layer E -> n_values logits (the observed-value vocabulary)

Every layer is nn.Linear (weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default),
the embedding N(0, 1).  Loss per row: cross-entropy of the length + cross-entropy of each of its
values + beta * KL(q(z|x,c) || N(0, I)); the optimizer's objective is the mean over the batch's rows,
beta rising linearly from 0 over the first kl_anneal epochs.  AdamW (lr, betas 0.9/0.999, eps
1e-8, weight decay on matrices only), global-norm clipping when grad_clip > 0.  Generation draws
z ~ N(0, (latent_temperature)^2 I) and then the length and each value from their softmaxes at
temperature; batched (all rows of a class in one pass) or one row at a time.  One thread.

output="continuous" is the alternative output representation measured by
bench/research/cvae_output.py (not what ntg builds): the value heads are replaced by one number
per position, s(x) = sign(x) log(1 + |x|) / log(1 + max |x|), with a Gaussian likelihood of a
learnt standard deviation per position; generation takes the decoder's mean and maps it to the
nearest observed value.

usage: torch_cvae.py --tsv FILE [--epochs 10] [--batch-size 32] [--samples 100] [--seed 1]
prints ONE JSON line: {"s_per_epoch", "ms_per_sample_single", "ms_per_sample_batched",
                       "model_bytes", "params", "final_loss", "peak_rss_mb", and the same times
                       as process CPU time: "cpu_s_per_epoch", "cpu_ms_per_sample_single",
                       "cpu_ms_per_sample_batched"}
"""
import argparse
import bisect
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


class Vocab:
    """The sorted distinct values among the first max_len values of the training rows."""

    def __init__(self, rows, max_len):
        self.max_len = min(max_len, max((len(r) for _, r in rows), default=0)) or 1
        self.values = sorted({v for _, r in rows for v in r[:self.max_len]})
        self.index = {v: i for i, v in enumerate(self.values)}
        self.classes = sorted({c for c, _ in rows})
        self.cindex = {c: i for i, c in enumerate(self.classes)}
        top = max((abs(v) for v in self.values), default=1)
        self.scale = math.log1p(top) or 1.0
        self.scaled = [self.squash(v) for v in self.values]

    def squash(self, v):
        return math.copysign(math.log1p(abs(v)), v) / self.scale

    def nearest(self, s, cls=None):
        """The observed value (of class cls's rows, with class_snap) whose squashed form is
        nearest to s (ties: the smaller)."""
        values, scaled = (self.values, self.scaled) if cls is None else self.by_class[cls]
        i = bisect.bisect_left(scaled, s)
        if i == 0:
            return values[0]
        if i == len(scaled):
            return values[-1]
        return values[i] if scaled[i] - s < s - scaled[i - 1] else values[i - 1]

    def class_snap(self, rows):
        """Snap to the values of each class's own rows (the continuous output's variant)."""
        self.by_class = {}
        for ci, c in enumerate(self.classes):
            vs = sorted({v for cc, r in rows if cc == c for v in r[:self.max_len]}) or self.values
            self.by_class[ci] = (vs, [self.squash(v) for v in vs])

    def encode(self, rows):
        """(class index, tokens [N] with <PAD> = n_values beyond the row, length) tensors."""
        n, N, pad = len(rows), self.max_len, len(self.values)
        cls = torch.tensor([self.cindex[c] for c, _ in rows], dtype=torch.long)
        tok = torch.full((n, N), pad, dtype=torch.long)
        length = torch.zeros(n, dtype=torch.long)
        for j, (_, r) in enumerate(rows):
            k = min(len(r), N)
            length[j] = k
            if k:
                tok[j, :k] = torch.tensor([self.index[v] for v in r[:k]])
        return cls, tok, length


class CVAE(nn.Module):
    def __init__(self, n_values, n_classes, max_len, hidden1=500, hidden2=250, latent=20,
                 embed_dim=32, output="categorical"):
        super().__init__()
        self.V, self.C, self.N, self.Z, self.E = n_values, n_classes, max_len, latent, embed_dim
        self.output = output
        self.emb_in = nn.Embedding(n_values + 1, embed_dim)
        self.enc1 = nn.Linear(max_len * embed_dim + n_classes, hidden1)
        self.enc2 = nn.Linear(hidden1, hidden2)
        self.enc3 = nn.Linear(hidden2, 2 * latent)
        self.dec1 = nn.Linear(latent + n_classes, hidden2)
        self.dec2 = nn.Linear(hidden2, hidden1)
        self.len_head = nn.Linear(hidden1, max_len + 1)
        if output == "categorical":
            self.pos_head = nn.Linear(hidden1, max_len * embed_dim)
            self.val_out = nn.Linear(embed_dim, n_values)
        else:
            self.val_head = nn.Linear(hidden1, max_len)
            self.log_sigma = nn.Parameter(torch.zeros(max_len))

    def encode(self, cls, tok):
        x = torch.cat((self.emb_in(tok).flatten(1), F.one_hot(cls, self.C).float()), 1)
        h = F.relu(self.enc2(F.relu(self.enc1(x))))
        mu, logvar = self.enc3(h).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z, cls):
        h = F.relu(self.dec2(F.relu(self.dec1(torch.cat((z, F.one_hot(cls, self.C).float()), 1)))))
        len_logits = self.len_head(h)
        if self.output == "categorical":
            return len_logits, self.val_out(self.pos_head(h).view(-1, self.N, self.E))
        return len_logits, self.val_head(h)

    def row_losses(self, cls, tok, length, eps, squashed=None):
        """Per row: (reconstruction negative log-likelihood, KL)."""
        mu, logvar = self.encode(cls, tok)
        z = mu + torch.exp(0.5 * logvar) * eps
        len_logits, out = self.decode(z, cls)
        rec = F.cross_entropy(len_logits, length, reduction="none")
        mask = (torch.arange(self.N)[None, :] < length[:, None]).float()
        if self.output == "categorical":
            tgt = tok.clamp(max=self.V - 1)
            ce = F.cross_entropy(out.reshape(-1, self.V), tgt.reshape(-1), reduction="none")
            rec = rec + (ce.view(-1, self.N) * mask).sum(1)
        else:
            nll = 0.5 * ((squashed - out) / torch.exp(self.log_sigma)) ** 2 + self.log_sigma \
                + 0.5 * math.log(2 * math.pi)
            rec = rec + (nll * mask).sum(1)
        kl = 0.5 * (mu * mu + torch.exp(logvar) - 1.0 - logvar).sum(1)
        return rec, kl

    @torch.no_grad()
    def sample(self, cls_index, n, vocab, gen, latent_temperature=1.0, temperature=1.0,
               class_snap=False):
        """n rows of one class in one pass: lists of values."""
        z = torch.randn(n, self.Z, generator=gen) * latent_temperature
        cls = torch.full((n,), cls_index, dtype=torch.long)
        len_logits, out = self.decode(z, cls)
        length = torch.multinomial(F.softmax(len_logits / temperature, -1), 1, generator=gen)[:, 0]
        if self.output == "categorical":
            probs = F.softmax(out.reshape(-1, self.V) / temperature, -1)
            val = torch.multinomial(probs, 1, generator=gen).view(n, self.N).tolist()
            return [[vocab.values[t] for t in val[j][:int(length[j])]] for j in range(n)]
        out = out.tolist()
        snap = cls_index if class_snap else None
        return [[vocab.nearest(s, snap) for s in out[j][:int(length[j])]] for j in range(n)]


def squashed_targets(vocab, tok):
    table = torch.tensor(vocab.scaled + [0.0])
    return table[tok]


def make_optimizer(model, lr, weight_decay):
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and not n.startswith("emb")]
    rest = [p for n, p in model.named_parameters() if not (p.dim() == 2 and not n.startswith("emb"))]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": rest, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.999), eps=1e-8)


def train_epoch(model, opt, vocab, data, epoch, batch_size, beta, kl_anneal, grad_clip, gen):
    """One epoch over data = (cls, tok, length[, squashed]); returns the negative ELBO per target."""
    cls, tok, length = data[:3]
    n = len(cls)
    perm = torch.randperm(n, generator=gen)
    steps = (n + batch_size - 1) // batch_size
    tot, cnt = 0.0, 0
    model.train()
    for s, b0 in enumerate(range(0, n, batch_size)):
        idx = perm[b0:b0 + batch_size]
        if kl_anneal > 0:
            w = beta * min(1.0, (epoch * steps + s + 1) / (kl_anneal * steps))
        else:
            w = beta
        eps = torch.randn(len(idx), model.Z, generator=gen)
        sq = squashed_targets(vocab, tok[idx]) if model.output != "categorical" else None
        rec, kl = model.row_losses(cls[idx], tok[idx], length[idx], eps, sq)
        loss = (rec + w * kl).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        tot += float((rec + kl).sum())
        cnt += int(length[idx].sum()) + len(idx)
    return tot / max(cnt, 1)


@torch.no_grad()
def eval_loss(model, vocab, data, seed=0):
    """Negative ELBO (beta = 1, one draw of z per row) per target (values + the length)."""
    cls, tok, length = data[:3]
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    eps = torch.randn(len(cls), model.Z, generator=gen)
    sq = squashed_targets(vocab, tok) if model.output != "categorical" else None
    rec, kl = model.row_losses(cls, tok, length, eps, sq)
    return float((rec + kl).sum()) / (int(length.sum()) + len(cls))


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
    ap.add_argument("--beta", type=float, default=1.0)
    ap.add_argument("--kl-anneal", type=int, default=0)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--embed-dim", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)

    rows = read_tsv(a.tsv)
    vocab = Vocab(rows, a.max_len)
    data = vocab.encode(rows)
    model = CVAE(len(vocab.values), len(vocab.classes), vocab.max_len, embed_dim=a.embed_dim)
    opt = make_optimizer(model, a.lr, a.weight_decay)
    t0, c0 = time.perf_counter(), time.process_time()
    loss = 0.0
    for e in range(a.epochs):
        loss = train_epoch(model, opt, vocab, data, e, a.batch_size, a.beta, a.kl_anneal,
                           a.grad_clip, gen)
        print("epoch %d loss %.4f (%.2f s)" % (e + 1, loss, time.perf_counter() - t0), file=sys.stderr)
    train_s, train_c = time.perf_counter() - t0, time.process_time() - c0

    model.eval()
    t0, c0 = time.perf_counter(), time.process_time()
    for ci in range(len(vocab.classes)):
        for _ in range(a.samples):
            model.sample(ci, 1, vocab, gen)
    single_s, single_c = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    for ci in range(len(vocab.classes)):
        model.sample(ci, a.samples, vocab, gen)
    batched_s, batched_c = time.perf_counter() - t0, time.process_time() - c0

    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    n_gen = a.samples * len(vocab.classes)
    print(json.dumps({
        "s_per_epoch": round(train_s / max(a.epochs, 1), 4),
        "ms_per_sample_single": round(single_s * 1e3 / n_gen, 4),
        "ms_per_sample_batched": round(batched_s * 1e3 / n_gen, 4),
        "model_bytes": buf.getbuffer().nbytes,
        "params": sum(p.numel() for p in model.parameters()),
        "final_loss": round(loss, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "cpu_s_per_epoch": round(train_c / max(a.epochs, 1), 4),
        "cpu_ms_per_sample_single": round(single_c * 1e3 / n_gen, 4),
        "cpu_ms_per_sample_batched": round(batched_c * 1e3 / n_gen, 4),
    }))


if __name__ == "__main__":
    main()
