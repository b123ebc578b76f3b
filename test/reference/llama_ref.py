#!/usr/bin/python3
"""Golden forward and backward pass of a tiny llama for test/unit/test_ref_llama.c, computed by a
PyTorch model written here from the architecture description (docs/models.md, docs/nn.md), in
float64, not from ntg's code:

    x = tok_embeddings[tokens]
    per layer:  h = x + wo(attention(rope(wq(n)), rope(wk(n)), wv(n))),  n = rmsnorm(x) * attention_norm
                x = h + w2(silu(w1(n')) * w3(n')),                         n' = rmsnorm(h) * ffn_norm
    logits = output(rmsnorm(x) * norm)

rmsnorm(x) = x / sqrt(mean(x^2) + 1e-5); causal multi-head attention with scores q.k / sqrt(head
size); rotary positions on the pairs (2i, 2i+1) of every head of q and k, rotated by
pos * theta^(-2i / head_size) with theta = 10000 (ntg's default, which the test does not set);
untied output head; no biases.  Each row is its own sequence (positions from 0).  The loss is the
mean cross-entropy over the targets.

The vocabulary and the rows' tokens follow docs/models.md: the sorted distinct values among the
first max_len values of the training rows, then <EOS>, <PAD>, one <CLASS_c> per class; a row is
<CLASS_c> v1 .. vk -> v1 .. vk <EOS>, without <EOS> when it is longer than max_len.

The weights are drawn here (numpy, seeded) with a scale that makes attention sharp, so that
positions matter; they are written as float32 values that both sides use exactly.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden import Header, unit_dir  # noqa: E402

DIM, HIDDEN, LAYERS, HEADS, THETA, EPS = 8, 16, 2, 2, 10000.0, 1e-5
# The training set that fixes the vocabulary (and max_len = its longest row, 7).
CLASSES = ["alpha", "beta"]
TRAIN = [("alpha", [100, -200, 300, -40, 7, 52, -1448]), ("alpha", [100, -200]),
         ("beta", [-5, 7, 1448, -52]), ("beta", []), ("alpha", [300, 300, -200])]
# The batch: a row of max_len values, one cut to max_len, short ones, an empty one.
BATCH = [("alpha", [100, -200, 300, -40, 7, 52, -1448]),
         ("beta", [-5, 7, 1448, -52, 100, -200, 300, 7, 7]),
         ("alpha", [300, 300, -200]), ("beta", []), ("beta", [7, -5])]


def vocabulary():
    max_len = max(len(r) for _, r in TRAIN)
    values = sorted({v for _, r in TRAIN for v in r[:max_len]})
    return max_len, values


def encode(values, max_len, cls, row):
    tok = {v: i for i, v in enumerate(values)}
    eos, cls_tok = len(values), len(values) + 2 + CLASSES.index(cls)
    k = min(len(row), max_len)
    inputs = [cls_tok] + [tok[v] for v in row[:k]]
    targets = [tok[v] for v in row[:k]]
    if len(row) <= max_len:
        targets.append(eos)
    return inputs[:len(targets)], targets


def tensor_shapes(vocab):
    shapes = [("tok_embeddings", (vocab, DIM))]
    for layer in range(LAYERS):
        p = "layers.%d." % layer
        shapes += [(p + "attention_norm", (DIM,)), (p + "attention.wq", (DIM, DIM)),
                   (p + "attention.wk", (DIM, DIM)), (p + "attention.wv", (DIM, DIM)),
                   (p + "attention.wo", (DIM, DIM)), (p + "ffn_norm", (DIM,)),
                   (p + "feed_forward.w1", (HIDDEN, DIM)), (p + "feed_forward.w3", (HIDDEN, DIM)),
                   (p + "feed_forward.w2", (DIM, HIDDEN))]
    return shapes + [("norm", (DIM,)), ("output", (vocab, DIM))]


def draw_weights(vocab):
    rng = np.random.RandomState(20240611)
    weights = {}
    for name, shape in tensor_shapes(vocab):
        if len(shape) == 1:
            w = 1.0 + 0.2 * rng.standard_normal(shape)
        else:
            std = 1.0 if name == "tok_embeddings" else 0.5 if name.endswith(("wq", "wk", "output")) else 0.35
            w = std * rng.standard_normal(shape)
        weights[name] = w.astype(np.float32)
    return weights


def rmsnorm(x, w):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + EPS) * w


def rotate(x, hs):
    """x [T, heads, hs]: rotate pair (2i, 2i+1) at position t by t * THETA^(-2i/hs)."""
    T = x.shape[0]
    i = torch.arange(hs // 2, dtype=torch.float64)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * THETA ** (-2.0 * i / hs)[None, :]
    c, s = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack((a * c - b * s, a * s + b * c), dim=-1).reshape(x.shape)


def forward(P, tokens):
    T, hs = len(tokens), DIM // HEADS
    x = P["tok_embeddings"][torch.tensor(tokens)]
    causal = torch.ones(T, T, dtype=torch.bool).triu(1)
    for layer in range(LAYERS):
        p = "layers.%d." % layer
        n = rmsnorm(x, P[p + "attention_norm"])
        q = rotate((n @ P[p + "attention.wq"].T).view(T, HEADS, hs), hs)
        k = rotate((n @ P[p + "attention.wk"].T).view(T, HEADS, hs), hs)
        v = (n @ P[p + "attention.wv"].T).view(T, HEADS, hs)
        att = torch.einsum("thd,shd->hts", q, k) / math.sqrt(hs)
        att = F.softmax(att.masked_fill(causal, float("-inf")), dim=-1)
        y = torch.einsum("hts,shd->thd", att, v).reshape(T, DIM)
        h = x + y @ P[p + "attention.wo"].T
        n = rmsnorm(h, P[p + "ffn_norm"])
        x = h + (F.silu(n @ P[p + "feed_forward.w1"].T) * (n @ P[p + "feed_forward.w3"].T)) \
            @ P[p + "feed_forward.w2"].T
    return rmsnorm(x, P["norm"]) @ P["output"].T


def main():
    max_len, values = vocabulary()
    vocab = len(values) + 2 + len(CLASSES)
    weights = draw_weights(vocab)
    P = {k: torch.tensor(w.astype(np.float64), requires_grad=True) for k, w in weights.items()}
    rows = [encode(values, max_len, c, r) for c, r in BATCH]
    logits = [forward(P, inp) for inp, _ in rows]
    targets = torch.tensor([t for _, tg in rows for t in tg])
    loss = F.cross_entropy(torch.cat(logits), targets, reduction="mean")
    loss.backward()

    out = Header(os.path.join(unit_dir(), "llama_ref.h"), "test/reference/llama_ref.py",
                 "torch %s, float64: a llama of dim %d, hidden %d, %d layers, %d heads, theta %g,\n"
                 "vocabulary %d; weights (inputs), the batch's tokens, logits, mean loss and the\n"
                 "gradient of the mean loss for every tensor."
                 % (torch.__version__, DIM, HIDDEN, LAYERS, HEADS, THETA, vocab))
    out.scalar("llama_ref_dim", DIM, "int")
    out.scalar("llama_ref_hidden", HIDDEN, "int")
    out.scalar("llama_ref_layers", LAYERS, "int")
    out.scalar("llama_ref_heads", HEADS, "int")
    out.scalar("llama_ref_vocab", vocab, "int")
    out.scalar("llama_ref_max_len", max_len, "int")
    out.ints("llama_ref_values", values)
    # rows as (class index, length, values...) for the training set and the batch
    for name, rows_ in (("train", TRAIN), ("batch", BATCH)):
        flat = []
        for c, r in rows_:
            flat += [CLASSES.index(c), len(r)] + r
        out.scalar("llama_ref_n_%s" % name, len(rows_), "int")
        out.ints("llama_ref_%s_rows" % name, flat)
    out.ints("llama_ref_len", [len(inp) for inp, _ in rows])
    out.ints("llama_ref_tokens", [t for inp, _ in rows for t in inp])
    out.ints("llama_ref_targets", [t for _, tg in rows for t in tg])
    out.doubles("llama_ref_logits", torch.cat(logits).detach().flatten().tolist())
    out.scalar("llama_ref_loss", float(loss))
    entries_w, entries_g = [], []
    for i, (name, _) in enumerate(tensor_shapes(vocab)):
        out.doubles("llama_ref_w%d" % i, weights[name].flatten().tolist(), digits=9)
        out.doubles("llama_ref_g%d" % i, P[name].grad.flatten().tolist())
        entries_w.append((name, "llama_ref_w%d" % i, weights[name].size))
        entries_g.append((name, "llama_ref_g%d" % i, weights[name].size))
    out.table("llama_ref_weights", entries_w)
    out.table("llama_ref_grads", entries_g)
    out.write()


if __name__ == "__main__":
    main()
