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

Run as a script, it writes test/reference/mamba_golden.txt: a tiny model's weights (drawn here from
a seeded NumPy generator, in ntg's tensor order and names), a batch of rows of different lengths,
and what this implementation computes for them in float64 -- the mean cross-entropy, the log-softmax
of every position, and the gradient of the loss with respect to every weight.  test/unit/
test_mamba.c loads the same weights into ntg's model and compares.

usage: /usr/bin/python3 test/reference/mamba_ref.py [--out test/reference/mamba_golden.txt]
"""
import argparse
import math
import os

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

# The tiny model: vocabulary of 5 values, <EOS> 5, <PAD> 6, classes 7 and 8; dt_rank given
# explicitly (not ceil(dim / 16)) so that a mix-up of the x_proj column groups shows.
SHAPE = dict(vocab=9, dim=8, inner=12, layers=2, state=3, conv=3, dt_rank=2)
ROWS = [([7, 4, 1, 3], [4, 1, 3, 5]), ([8, 2, 0], [2, 0, 5]), ([7], [5]), ([8, 0, 0, 2, 4], [0, 0, 2, 4, 5])]
PAD = 6


def golden(path):
    torch.set_default_dtype(torch.float64)
    s = SHAPE
    model = Mamba(s["vocab"], s["dim"], s["inner"], s["layers"], s["state"], s["conv"], s["dt_rank"])
    rng = np.random.default_rng(20241203)
    tensors = model.ntg_tensors()
    with torch.no_grad():
        for name, p in tensors:
            # float32-representable values, so that ntg starts from exactly these weights
            w = rng.normal(0.0, 0.5, size=p.shape).astype(np.float32)
            if name.endswith("A_log"):
                w = np.log(rng.uniform(0.3, 3.0, size=p.shape)).astype(np.float32)
            elif name.endswith("norm") or name == "norm":
                w = (1.0 + 0.3 * w).astype(np.float32)
            p.copy_(torch.from_numpy(w.astype(np.float64)))
    T = max(len(x) for x, _ in ROWS)
    inp = torch.full((len(ROWS), T), PAD, dtype=torch.long)
    tgt = torch.full((len(ROWS), T), -1, dtype=torch.long)
    for j, (x, y) in enumerate(ROWS):
        inp[j, :len(x)] = torch.tensor(x)
        tgt[j, :len(y)] = torch.tensor(y)
    logits = model(inp)
    loss = F.cross_entropy(logits.reshape(-1, s["vocab"]), tgt.reshape(-1), ignore_index=-1)
    loss.backward()
    logp = F.log_softmax(logits, dim=-1)
    with open(path, "w") as f:
        f.write("# written by test/reference/mamba_ref.py (PyTorch %s, float64); do not edit\n" % torch.__version__)
        f.write("shape %d %d %d %d %d %d %d\n" % tuple(s[k] for k in ("vocab", "dim", "inner", "layers", "state", "conv", "dt_rank")))
        f.write("rows %d\n" % len(ROWS))
        for x, y in ROWS:
            f.write("row %d %s %s\n" % (len(x), " ".join(map(str, x)), " ".join(map(str, y))))
        for name, p in tensors:
            f.write("weight %s %d %s\n" % (name, p.numel(), " ".join("%.9g" % v for v in p.detach().reshape(-1).tolist())))
        f.write("loss %.17g\n" % float(loss))
        for j, (x, _) in enumerate(ROWS):
            for t in range(len(x)):
                f.write("logprobs %s\n" % " ".join("%.17g" % v for v in logp[j, t].tolist()))
        for name, p in tensors:
            f.write("grad %s %d %s\n" % (name, p.numel(), " ".join("%.17g" % v for v in p.grad.reshape(-1).tolist())))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "mamba_golden.txt"))
    golden(ap.parse_args().out)


if __name__ == "__main__":
    main()
