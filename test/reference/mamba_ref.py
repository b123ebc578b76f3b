#!/usr/bin/python3
"""An independent PyTorch implementation of ntg's mamba generator, and its golden outputs.

The architecture of src/core/models/mamba*.c, written from the Mamba paper (Gu & Dao 2023) and the
reference "mamba_simple" block, with the selective scan as a plain loop over time (what a user
without the fused CUDA kernels runs): token embedding, n_layers x [RMSNorm, mixer, residual], final
RMSNorm, untied output head, where the mixer is

    [u | z] = in_proj(x); u = silu(causal depthwise conv1d(u)); [dt | B | C] = x_proj(u)
    delta = softplus(dt_proj(dt) + bias); A = -exp(A_log)
    h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t;  y_t = C_t . h_t + D u_t
    out = out_proj(y * silu(z))

Rows are right-padded; the padding comes last and the model is causal, so it changes no counted
output.  bench/torch_mamba.py imports this module for the efficiency benchmark.

The vocabulary and the rows' tokens follow docs/models.md: the sorted distinct values among the
first max_len values of the training rows, then <EOS>, <PAD>, one <CLASS_c> per class; a row is
<CLASS_c> v1 .. vk -> v1 .. vk <EOS>, without <EOS> when it is longer than max_len.

Run as a script, it writes test/unit/golden/mamba_ref.h: a tiny model's weights (drawn here from a
seeded NumPy generator, as float32 values both sides use exactly, under ntg's tensor names), a batch
of rows of different lengths, and what this implementation computes for them in float64: the
logits at every position, the mean cross-entropy and the gradient of every tensor.
test/unit/test_ref_mamba.c loads the weights into ntg's model by name and compares.

usage: /usr/bin/python3 test/reference/mamba_ref.py
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Mixer(nn.Module):
    def __init__(self, dim, inner, state, conv, dt_rank):
        super().__init__()
        self.inner, self.state, self.conv, self.dt_rank = inner, state, conv, dt_rank
        self.in_proj = nn.Linear(dim, 2 * inner, bias=False)
        self.conv1d = nn.Conv1d(inner, inner, conv, groups=inner, padding=conv - 1, bias=True)
        self.x_proj = nn.Linear(inner, dt_rank + 2 * state, bias=False)
        self.dt_proj = nn.Linear(dt_rank, inner, bias=True)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, state + 1, dtype=torch.float32)).repeat(inner, 1))
        self.D = nn.Parameter(torch.ones(inner))
        self.out_proj = nn.Linear(inner, dim, bias=False)

    def ssm_inputs(self, u):
        dbc = self.x_proj(u)
        dt, B, C = dbc.split([self.dt_rank, self.state, self.state], dim=-1)
        return F.softplus(self.dt_proj(dt)), B, C

    def forward(self, x):
        # x [batch, T, dim]
        T = x.shape[1]
        u, z = self.in_proj(x).chunk(2, dim=-1)
        u = F.silu(self.conv1d(u.transpose(1, 2))[..., :T].transpose(1, 2))
        delta, B, C = self.ssm_inputs(u)
        A = -torch.exp(self.A_log)
        h = torch.zeros(x.shape[0], self.inner, self.state, dtype=x.dtype)
        ys = []
        for t in range(T):
            dA = torch.exp(delta[:, t, :, None] * A)
            h = dA * h + delta[:, t, :, None] * B[:, t, None, :] * u[:, t, :, None]
            ys.append((h * C[:, t, None, :]).sum(-1))
        y = torch.stack(ys, dim=1) + u * self.D
        return self.out_proj(y * F.silu(z))

    def step(self, x, conv_state, ssm_state):
        """One token for every row: x [batch, dim]; conv_state [batch, inner, conv] and
        ssm_state [batch, inner, state] are updated in place (the reference's recurrent mode)."""
        u, z = self.in_proj(x).chunk(2, dim=-1)
        conv_state.copy_(torch.roll(conv_state, shifts=-1, dims=-1))
        conv_state[:, :, -1] = u
        u = F.silu((conv_state * self.conv1d.weight[:, 0, :]).sum(-1) + self.conv1d.bias)
        delta, B, C = self.ssm_inputs(u)
        A = -torch.exp(self.A_log)
        ssm_state.copy_(torch.exp(delta[..., None] * A) * ssm_state + delta[..., None] * B[:, None, :] * u[..., None])
        y = (ssm_state * C[:, None, :]).sum(-1) + u * self.D
        return self.out_proj(y * F.silu(z))


class Block(nn.Module):
    def __init__(self, dim, inner, state, conv, dt_rank):
        super().__init__()
        self.norm = RMSNorm(dim)
        self.mixer = Mixer(dim, inner, state, conv, dt_rank)

    def forward(self, x):
        return x + self.mixer(self.norm(x))


class Mamba(nn.Module):
    def __init__(self, vocab, dim=72, inner=144, layers=4, state=16, conv=4, dt_rank=None):
        super().__init__()
        dt_rank = dt_rank or math.ceil(dim / 16)
        self.tok_embeddings = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList([Block(dim, inner, state, conv, dt_rank) for _ in range(layers)])
        self.norm = RMSNorm(dim)
        self.output = nn.Linear(dim, vocab, bias=False)

    def forward(self, idx):
        x = self.tok_embeddings(idx)
        for blk in self.layers:
            x = blk(x)
        return self.output(self.norm(x))

    def ntg_tensors(self):
        """(ntg name, parameter) in ntg's order (src/core/models/mamba.c)."""
        out = [("tok_embeddings", self.tok_embeddings.weight)]
        for i, blk in enumerate(self.layers):
            m, p = blk.mixer, "layers.%d." % i
            out += [(p + "norm", blk.norm.weight), (p + "mixer.in_proj", m.in_proj.weight),
                    (p + "mixer.conv1d.weight", m.conv1d.weight), (p + "mixer.conv1d.bias", m.conv1d.bias),
                    (p + "mixer.x_proj", m.x_proj.weight), (p + "mixer.dt_proj.weight", m.dt_proj.weight),
                    (p + "mixer.dt_proj.bias", m.dt_proj.bias), (p + "mixer.A_log", m.A_log),
                    (p + "mixer.D", m.D), (p + "mixer.out_proj", m.out_proj.weight)]
        return out + [("norm", self.norm.weight), ("output", self.output.weight)]

    @torch.no_grad()
    def generate(self, cls_tok, n, max_len, n_drawable, eos, gen):
        """n rows of one class at once, recurrently (a state per row, no prefix recomputed);
        finished rows leave the batch.  Returns a list of token lists."""
        head = self.output.weight[:n_drawable]
        mixers = [blk.mixer for blk in self.layers]
        conv = [torch.zeros(n, m.inner, m.conv) for m in mixers]
        ssm = [torch.zeros(n, m.inner, m.state) for m in mixers]
        tok = torch.full((n,), cls_tok, dtype=torch.long)
        rows = [[] for _ in range(n)]
        alive = torch.arange(n)
        for _ in range(max_len):
            x = self.tok_embeddings(tok)
            for blk, cs, ss in zip(self.layers, conv, ssm):
                x = x + blk.mixer.step(blk.norm(x), cs, ss)
            logits = self.norm(x) @ head.t()
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
            alive, tok = alive[keep_t], nxt[keep_t]
            conv = [c[keep_t] for c in conv]
            ssm = [s[keep_t] for s in ssm]
        return rows


# ---- golden outputs ------------------------------------------------------------------------------

# The tiny model of test/unit/test_ref_mamba.c: state 8 (one vector of the AVX2 scan kernels),
# conv width 3 and dt_rank 2 given explicitly (not ceil(dim / 16)), so that a mix-up of the conv
# taps or of x_proj's column groups (dt, B, C) shows.
DIM, INNER, LAYERS, STATE, CONV, DT_RANK = 8, 12, 2, 8, 3, 2
# The training set that fixes the vocabulary (and max_len = its longest row, 5).
CLASSES = ["alpha", "beta"]
TRAIN = [("alpha", [100, -200, 300, -40, 52]), ("alpha", [100, -200]), ("beta", [-5, 7, 1448]),
         ("beta", []), ("alpha", [300, 300, -200])]
# The batch: a row of max_len values, one cut to max_len, short ones, an empty one.
BATCH = [("alpha", [100, -200, 300, -40, 52]), ("beta", [-5, 7, 1448, 100, -200, 300, 7]),
         ("alpha", [300, 300, -200]), ("beta", []), ("beta", [7, -5])]


def vocabulary():
    max_len = max(len(r) for _, r in TRAIN)
    return max_len, sorted({v for _, r in TRAIN for v in r[:max_len]})


def encode(values, max_len, cls, row):
    tok = {v: i for i, v in enumerate(values)}
    eos, cls_tok = len(values), len(values) + 2 + CLASSES.index(cls)
    k = min(len(row), max_len)
    inputs = [cls_tok] + [tok[v] for v in row[:k]]
    targets = [tok[v] for v in row[:k]]
    if len(row) <= max_len:
        targets.append(eos)
    return inputs[:len(targets)], targets


def golden():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from golden import Header, unit_dir

    torch.set_default_dtype(torch.float64)
    max_len, values = vocabulary()
    vocab = len(values) + 2 + len(CLASSES)
    model = Mamba(vocab, DIM, INNER, LAYERS, STATE, CONV, DT_RANK)
    rng = np.random.RandomState(20241203)
    tensors = model.ntg_tensors()
    weights = {}
    with torch.no_grad():
        for name, p in tensors:
            # float32 values, which both sides then use exactly
            if name.endswith("A_log"):
                w = np.log(rng.uniform(0.3, 3.0, size=p.shape))
            elif name.endswith("norm"):
                w = 1.0 + 0.2 * rng.standard_normal(p.shape)
            else:
                w = 0.5 * rng.standard_normal(p.shape)
            weights[name] = w.astype(np.float32)
            p.copy_(torch.from_numpy(weights[name].astype(np.float64)))
    rows = [encode(values, max_len, c, r) for c, r in BATCH]
    # each row is its own sequence
    logits = [model(torch.tensor([inp]))[0] for inp, _ in rows]
    targets = torch.tensor([t for _, tg in rows for t in tg])
    loss = F.cross_entropy(torch.cat(logits), targets, reduction="mean")
    loss.backward()

    out = Header(os.path.join(unit_dir(), "mamba_ref.h"), "test/reference/mamba_ref.py",
                 "torch %s, float64: a mamba of dim %d, inner %d, %d layers, state %d, conv %d,\n"
                 "dt_rank %d, vocabulary %d; weights (inputs), the batch's tokens, logits, mean loss\n"
                 "and the gradient of the mean loss for every tensor."
                 % (torch.__version__, DIM, INNER, LAYERS, STATE, CONV, DT_RANK, vocab))
    for key, v in (("dim", DIM), ("inner", INNER), ("layers", LAYERS), ("state", STATE),
                   ("conv", CONV), ("dt_rank", DT_RANK), ("vocab", vocab), ("max_len", max_len)):
        out.scalar("mamba_ref_" + key, v, "int")
    out.ints("mamba_ref_values", values)
    # rows as (class index, length, values...) for the training set and the batch
    for name, rows_ in (("train", TRAIN), ("batch", BATCH)):
        flat = []
        for c, r in rows_:
            flat += [CLASSES.index(c), len(r)] + r
        out.scalar("mamba_ref_n_%s" % name, len(rows_), "int")
        out.ints("mamba_ref_%s_rows" % name, flat)
    out.ints("mamba_ref_len", [len(inp) for inp, _ in rows])
    out.ints("mamba_ref_tokens", [t for inp, _ in rows for t in inp])
    out.ints("mamba_ref_targets", [t for _, tg in rows for t in tg])
    out.doubles("mamba_ref_logits", torch.cat(logits).detach().flatten().tolist())
    out.scalar("mamba_ref_loss", float(loss))
    entries_w, entries_g = [], []
    for i, (name, p) in enumerate(tensors):
        out.doubles("mamba_ref_w%d" % i, weights[name].flatten().tolist(), digits=9)
        out.doubles("mamba_ref_g%d" % i, p.grad.flatten().tolist())
        entries_w.append((name, "mamba_ref_w%d" % i, p.numel()))
        entries_g.append((name, "mamba_ref_g%d" % i, p.numel()))
    out.table("mamba_ref_weights", entries_w)
    out.table("mamba_ref_grads", entries_g)
    out.write()


if __name__ == "__main__":
    golden()
