#!/usr/bin/python3
"""Golden forward and backward pass of a tiny cvae for test/unit/test_ref_cvae.c, computed by a
PyTorch model written here from the architecture description (docs/cvae.md), in float64, not from
ntg's code:

    x      = [emb_in[x_0], .., emb_in[x_{N-1}], onehot(c)]       x_t: value token, <PAD> beyond the row
    mu, lv = split(enc3(relu(enc2(relu(enc1(x))))))             every layer: W x + b
    z      = mu + exp(lv / 2) * eps
    h      = relu(dec2(relu(dec1([z, onehot(c)]))))
    length logits = len_head(h)                                 N + 1: lengths 0..N
    value logits at position t = val_out(pos_head(h)[t E:(t+1) E])

Loss of a row: -log softmax(length logits)[len] - sum_{t < len} log softmax(value logits_t)[x_t]
(a row cut before a value the vocabulary lacks scores -log P(length > len) instead of the length
term), KL = 1/2 sum (mu^2 + exp(lv) - 1 - lv); the objective is the mean over the rows of
rec + w * KL with w = the KL weight.

The vocabulary follows docs/cvae.md: the sorted distinct values among the first max_len values
of the training rows (max_len = the longest training row, capped at 10); <PAD> = n_values.

The weights and the latent draws are drawn here (numpy, seeded) and written as float32 values that
both sides use exactly.  Output: test/unit/golden/cvae_ref.h.

usage: /usr/bin/python3 test/reference/cvae_ref.py
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

H1, H2, Z, E = 10, 7, 3, 4
KL_WEIGHT = 0.6
CLASSES = ["alpha", "beta", "gamma"]
TRAIN = [("alpha", [100, -200, 300, -40, 7]), ("alpha", [100, -200]), ("beta", [-5, 7, 1448, -52]),
         ("beta", []), ("gamma", [300, 300, -200, 52, 52]), ("gamma", [-1448])]
# (class, values, at_least): a full row, a short one, an empty one, one longer than max_len (cut
# to it: the length term is "max_len"), and one scored up to a value the vocabulary lacks
# (at_least: its first two values, then "longer than 2").
BATCH = [("alpha", [100, -200, 300, -40, 7], 0), ("beta", [-5, 7], 0), ("gamma", [], 0),
         ("alpha", [300, -200, 52, 52, -1448, 100, 7], 0), ("beta", [1448, -52, 999, 7], 1)]


def vocabulary():
    max_len = min(10, max(len(r) for _, r in TRAIN))
    values = sorted({v for _, r in TRAIN for v in r[:max_len]})
    return max_len, values


def tensor_shapes(V, N, C):
    return [("emb_in.weight", (V + 1, E)),
            ("enc1.weight", (H1, N * E + C)), ("enc1.bias", (H1,)),
            ("enc2.weight", (H2, H1)), ("enc2.bias", (H2,)),
            ("enc3.weight", (2 * Z, H2)), ("enc3.bias", (2 * Z,)),
            ("dec1.weight", (H2, Z + C)), ("dec1.bias", (H2,)),
            ("dec2.weight", (H1, H2)), ("dec2.bias", (H1,)),
            ("len_head.weight", (N + 1, H1)), ("len_head.bias", (N + 1,)),
            ("pos_head.weight", (N * E, H1)), ("pos_head.bias", (N * E,)),
            ("val_out.weight", (V, E)), ("val_out.bias", (V,))]


def draw(V, N, C):
    rng = np.random.RandomState(20261203)
    weights = {}
    for name, shape in tensor_shapes(V, N, C):
        fan_in = shape[1] if len(shape) == 2 else None
        std = 1.0 if name.startswith("emb") else 0.6 if fan_in is None else 1.2 / np.sqrt(shape[1])
        weights[name] = (std * rng.standard_normal(shape)).astype(np.float32)
    eps = rng.standard_normal((len(BATCH), Z)).astype(np.float32)
    return weights, eps


def forward(P, N, C, V, rows, eps):
    """Per row: (mu|lv, length logits, value logits [len, V], rec, kl)."""
    out = []
    for (cls, values, at_least), e in zip(rows, eps):
        c = F.one_hot(torch.tensor(CLASSES.index(cls)), C).double()
        tok, ln, more = values
        x = torch.cat([P["emb_in.weight"][torch.tensor(tok)].reshape(-1), c])
        h = torch.relu(P["enc1.weight"] @ x + P["enc1.bias"])
        h = torch.relu(P["enc2.weight"] @ h + P["enc2.bias"])
        ml = P["enc3.weight"] @ h + P["enc3.bias"]
        mu, lv = ml[:Z], ml[Z:]
        z = mu + torch.exp(0.5 * lv) * e
        g = torch.relu(P["dec1.weight"] @ torch.cat([z, c]) + P["dec1.bias"])
        g = torch.relu(P["dec2.weight"] @ g + P["dec2.bias"])
        len_logits = P["len_head.weight"] @ g + P["len_head.bias"]
        pos = (P["pos_head.weight"] @ g + P["pos_head.bias"]).view(N, E)
        vlog = pos[:ln] @ P["val_out.weight"].T + P["val_out.bias"]
        lp = F.log_softmax(len_logits, 0)
        rec = -torch.logsumexp(lp[ln + 1:], 0) if more else -lp[ln]
        if ln:
            rec = rec - F.log_softmax(vlog, 1)[torch.arange(ln), torch.tensor(tok[:ln])].sum()
        kl = 0.5 * (mu * mu + torch.exp(lv) - 1.0 - lv).sum()
        out.append((ml, len_logits, vlog, z, rec, kl))
    return out


def encode(values, max_len, row, at_least):
    """Tokens [N] (<PAD> beyond the scored values), the number scored, whether "longer than"."""
    index = {v: i for i, v in enumerate(values)}
    k = min(len(row), max_len)
    known = 0
    while known < k and row[known] in index:
        known += 1
    assert bool(at_least) == (known < k)
    tok = [index[v] for v in row[:known]] + [len(values)] * (max_len - known)
    return tok, known, known < k


def c_array(ctype, name, items, per_line=8):
    body = ",\n".join("\t" + ", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line))
    return "static const %s %s[%d] = {\n%s\n};\n" % (ctype, name, max(1, len(items)), body or "\t0")


def doubles(name, values, digits=12):
    return c_array("double", name, ["%.*g" % (digits, float(v)) for v in values], 6)


def ints(name, values):
    return c_array("int32_t", name, ["%d" % int(v) for v in values], 12)


def main():
    N, values = vocabulary()
    V, C = len(values), len(CLASSES)
    w, eps = draw(V, N, C)
    P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in w.items()}
    enc = [encode(values, N, r, more) for _, r, more in BATCH]
    res = forward(P, N, C, V, [(c, e, m) for (c, _, m), e in zip(BATCH, enc)],
                  torch.tensor(eps, dtype=torch.float64))
    rec = torch.stack([r[4] for r in res])
    kl = torch.stack([r[5] for r in res])
    objective = (rec + KL_WEIGHT * kl).mean()
    objective.backward()

    parts = ["/*\n * cvae_ref.h — generated by test/reference/cvae_ref.py; do not edit.\n"
             " * A tiny cvae's weights (float32, exact), a batch, and PyTorch's float64 results.\n"
             " * Regenerate: /usr/bin/python3 test/reference/cvae_ref.py\n */\n",
             "#ifndef NTG_GOLDEN_CVAE_REF_H\n#define NTG_GOLDEN_CVAE_REF_H\n\n#include <stdint.h>\n"]
    parts.append("enum\n{\n\tcvae_ref_h1 = %d, cvae_ref_h2 = %d, cvae_ref_z = %d, cvae_ref_e = %d,\n"
                 "\tcvae_ref_max_len = %d, cvae_ref_n_values = %d, cvae_ref_n_classes = %d,\n"
                 "\tcvae_ref_n_train = %d, cvae_ref_n_batch = %d\n};\n" % (H1, H2, Z, E, N, V, C, len(TRAIN), len(BATCH)))
    parts.append("static const double cvae_ref_kl_weight = %.17g;\n" % KL_WEIGHT)
    parts.append("static const char *const cvae_ref_classes[] = {%s};\n"
                 % ", ".join('"%s"' % c for c in CLASSES))
    flat = []
    for c, r in TRAIN:
        flat += [CLASSES.index(c), len(r)] + r
    parts.append("/* training rows: class, length, values... */\n" + ints("cvae_ref_train", flat))
    flat = []
    for c, r, m in BATCH:
        flat += [CLASSES.index(c), len(r), m] + r
    parts.append("/* batch rows: class, length, at_least, values... */\n" + ints("cvae_ref_batch", flat))
    parts.append(ints("cvae_ref_values", values))
    parts.append(ints("cvae_ref_tokens", [t for tok, _, _ in enc for t in tok]))
    parts.append(ints("cvae_ref_scored", [k for _, k, _ in enc]))
    parts.append("/* the latent draws, [batch, Z] */\n" + doubles("cvae_ref_eps", eps.reshape(-1), 9))
    names = [n for n, _ in tensor_shapes(V, N, C)]
    for n in names:
        parts.append(doubles("cvae_ref_w_" + n.replace(".", "_"), w[n].reshape(-1), 9))
    parts.append("/* per row: mu | logvar [batch, 2Z], length logits [batch, N + 1], z [batch, Z] */\n"
                 + doubles("cvae_ref_ml", torch.cat([r[0] for r in res]).detach()))
    parts.append(doubles("cvae_ref_len_logits", torch.cat([r[1] for r in res]).detach()))
    parts.append(doubles("cvae_ref_z_out", torch.cat([r[3] for r in res]).detach()))
    parts.append("/* value logits of the scored positions, rows in order [sum of scored, V] */\n"
                 + doubles("cvae_ref_val_logits", torch.cat([r[2].reshape(-1) for r in res]).detach()))
    parts.append(doubles("cvae_ref_rec", rec.detach()))
    parts.append(doubles("cvae_ref_kl", kl.detach()))
    parts.append("static const double cvae_ref_objective = %.17g;\n" % float(objective))
    for n in names:
        parts.append(doubles("cvae_ref_g_" + n.replace(".", "_"), P[n].grad.reshape(-1)))
    parts.append("typedef struct CvaeRefTensor\n{\n\tconst char *name;\n\tint\t\t\tcount;\n"
                 "\tconst double *w;\n\tconst double *g;\n} CvaeRefTensor;\n")
    parts.append("static const CvaeRefTensor cvae_ref_tensors[] = {\n%s\n\t{NULL, 0, NULL, NULL}\n};\n"
                 % "\n".join('\t{"%s", %d, cvae_ref_w_%s, cvae_ref_g_%s},'
                             % (n, w[n].size, n.replace(".", "_"), n.replace(".", "_")) for n in names))
    parts.append("#endif\t\t\t\t\t\t\t/* NTG_GOLDEN_CVAE_REF_H */\n")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit", "golden", "cvae_ref.h")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(parts))
    print("wrote %s: objective %.6f" % (os.path.normpath(path), float(objective)))


if __name__ == "__main__":
    main()
