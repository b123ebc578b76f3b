#!/usr/bin/python3
"""Golden AdamW trajectory for test/unit/test_ref_adamw.c, computed by torch.optim.AdamW and
torch.nn.utils.clip_grad_norm_ in float64 (not from ntg's code).

Six tensors of lengths 1, 7, 8, 9, 33 and 1029 cover every path of ntg's update kernel: the
8-lane AVX2 loop with and without a tail, and the scalar loop alone.  Weight decay applies to
some tensors only (ntg: matrices; here param groups with weight_decay 0).  Five steps with
bias correction, a learning rate that warms up for 2 steps and then follows the cosine, and a
gradient whose global norm is above the clipping threshold on steps 1 and 3 only.  One tensor's
gradient is ~1e-8, where eps = 1e-8 matters.

Weights and gradients come from one integer formula that both sides evaluate exactly
(see ref_value below and in the C test): the golden file holds only the results.

Convention check: torch's AdamW is w <- w (1 - lr wd) - lr m^ / (sqrt(v^) + eps), bias-corrected
m^ = m / (1 - b1^t), v^ = v / (1 - b2^t); ntg's (docs/nn.md) is the same formula
w -= lr m^ / (sqrt(v^) + eps) + lr wd w with the decay on the weight before the step, so the
torch optimizer is used as it is.  torch's clip scales by max_norm / (norm + 1e-6) when that is
below 1; ntg scales when norm > max_norm: the same except within 1e-6 of the threshold, which
these norms stay far from.
"""
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden import Header, unit_dir  # noqa: E402

LENGTHS = [1, 7, 8, 9, 33, 1029]
DECAY = [0, 1, 1, 0, 1, 1]
GRAD_SCALE = [1.0, 1e-8, 0.5, 2.0, 1e-3, 1.0]
STEP_FACTOR = [1.0, 3.0, 0.5, 2.0, 1.0]
LR, MIN_LR_RATIO, WARMUP, TOTAL = 0.01, 0.1, 2, 5
BETA1, BETA2, EPS, WD, CLIP = 0.9, 0.999, 1e-8, 0.1, 25.0


def ref_value(k, i, s, scale):
    """float32 value number i of tensor k at stage s (0: initial weights, t + 1: step t's
    gradient): a multiplicative hash of (k, i, s), 24 bits of it as u in [0, 1), then
    (2u - 1) * scale in double, rounded to float32 once."""
    h = (i * 2654435761 + s * 40503 + k * 2246822519) & 0xFFFFFFFF
    u = ((h >> 8) & 0xFFFFFF) / 16777216.0
    return np.float32((2.0 * u - 1.0) * scale)


def lr_at(step):
    """docs/nn.md: linear warm-up to LR over WARMUP steps, then cosine to MIN_LR_RATIO * LR."""
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    p = min(1.0, (step - WARMUP) / (TOTAL - WARMUP))
    floor = LR * MIN_LR_RATIO
    return floor + 0.5 * (LR - floor) * (1.0 + math.cos(math.pi * p))


def main():
    torch.set_default_dtype(torch.float64)
    params = [torch.tensor([float(ref_value(k, i, 0, 1.0)) for i in range(n)], requires_grad=True)
              for k, n in enumerate(LENGTHS)]
    groups = [{"params": [p], "weight_decay": WD if d else 0.0} for p, d in zip(params, DECAY)]
    opt = torch.optim.AdamW(groups, lr=LR, betas=(BETA1, BETA2), eps=EPS, foreach=False)
    norms, lrs = [], []
    for t in range(TOTAL):
        for k, p in enumerate(params):
            scale = GRAD_SCALE[k] * STEP_FACTOR[t]
            p.grad = torch.tensor([float(ref_value(k, i, t + 1, scale)) for i in range(len(p))])
        norms.append(float(torch.nn.utils.clip_grad_norm_(params, CLIP)))
        lrs.append(lr_at(t))
        for g in opt.param_groups:
            g["lr"] = lrs[-1]
        opt.step()
    out = Header(os.path.join(unit_dir(), "adamw_ref.h"), "test/reference/adamw_ref.py",
                 "torch %s, float64: %d AdamW steps over tensors of lengths %s.\n"
                 "Inputs: ref_value() in the script and the test; outputs: weights and moments\n"
                 "after the last step, the gradient norm (before clipping) and lr of every step."
                 % (torch.__version__, TOTAL, LENGTHS))
    entries = []
    for k, p in enumerate(params):
        st = opt.state[p]
        for what, val in (("w", p.detach()), ("m", st["exp_avg"]), ("v", st["exp_avg_sq"])):
            cname = "adamw_ref_%s%d" % (what, k)
            out.doubles(cname, val.tolist())
            entries.append(("%s%d" % (what, k), cname, len(p)))
    out.table("adamw_ref", entries)
    out.doubles("adamw_ref_norm", norms)
    out.doubles("adamw_ref_lr", lrs)
    out.write()


if __name__ == "__main__":
    main()
