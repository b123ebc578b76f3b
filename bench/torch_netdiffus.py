#!/usr/bin/python3
"""PyTorch reference of ntg's netdiffus generator, for the efficiency benchmark.

The same U-Net (the class of test/reference/netdiffus_ref.py, which test/unit/test_netdiffus_golden.c
shows computes what the C kind computes: forward, gradients and sampling chains) at ntg's default
shape: base channels 32, 4 levels with channels 32/64/64/64, attention at the 4x4 and 2x2 levels
and in the middle (4 heads), group norm with 8 groups, N = 10 images padded to 16 x 16; the same
cosine schedule of T = 1000 steps; the same training step (a uniform step per row, the class
dropped with probability 0.1, MSE of the predicted noise over the N x N pixels, AdamW lr 1e-3,
betas 0.9/0.999, eps 1e-8, no weight decay, global-norm clipping at 1.0, 5 % warm-up then cosine
to 0.1 lr) at the same batch size; the same sampler (DDIM over `steps` evenly spaced steps, or DDPM
with --ddpm, x0 clipped to [-1, 1]), one row at a time and a class's rows at once.  One thread.

usage: torch_netdiffus.py --tsv FILE [--epochs 1] [--batch-size 64] [--steps 50] [--samples 20]
                          [--single 4] [--ddpm] [--seed 1]
prints ONE JSON line: {"s_per_epoch", "ms_per_sample_single", "ms_per_sample_batched",
                       "model_bytes", "params", "final_loss", "peak_rss_mb", and the same times as
                       process CPU time: "cpu_s_per_epoch", "cpu_ms_per_sample_single",
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
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "reference"))
from netdiffus_ref import UNet, gasf, schedule  # noqa: E402

N, S, T = 10, 16, 1000


def read_tsv(path):
    rows = []
    with open(path) as f:
        for line in f:
            label, _, pl = line.rstrip("\n").partition("\t")
            rows.append((label, [int(v) for v in pl.split(",") if v]))
    return rows


def clocks():
    return time.perf_counter(), time.process_time()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsv", required=True)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--samples", type=int, default=20, help="rows per class generated together")
    ap.add_argument("--single", type=int, default=4, help="rows per class generated one at a time")
    ap.add_argument("--ddpm", action="store_true", help="DDPM ancestral steps instead of DDIM")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)

    rows = read_tsv(a.tsv)
    classes = sorted({l for l, _ in rows})
    cls = torch.tensor([classes.index(l) for l, _ in rows])
    padded = [r[:N] + [0] * (N - len(r[:N])) for _, r in rows]
    lo, hi = min(min(r) for r in padded), max(max(r) for r in padded)
    x0 = torch.from_numpy(np.stack([gasf(r, N, lo, hi) for _, r in rows]).astype(np.float32))
    cfg = dict(base=32, levels=4, max_mult=2, attn_from=2, heads=4, groups=8, N=N, T=T,
               n_classes=len(classes))
    net = UNet(cfg)
    abar = torch.from_numpy(schedule(T, True))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    steps_per_epoch = (len(rows) + a.batch_size - 1) // a.batch_size
    total = steps_per_epoch * a.epochs
    warm = total // 20

    def lr_at(step):
        if warm > 0 and step < warm:
            return (step + 1) / warm
        p = min((step - warm) / max(total - warm, 1), 1.0)
        return 0.1 + 0.45 * (1 + math.cos(math.pi * p))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)

    w0, c0 = clocks()
    loss_v = 0.0
    for _ in range(a.epochs):
        order = torch.from_numpy(rng.permutation(len(rows)))
        for b0 in range(0, len(rows), a.batch_size):
            idx = order[b0:b0 + a.batch_size]
            B = len(idx)
            t = torch.randint(0, T, (B,))
            c = torch.where(torch.rand(B) < 0.1, torch.full((B,), len(classes)), cls[idx])
            noise = torch.randn(B, N, N)
            ab = abar[t].float()[:, None, None]
            xt = torch.zeros(B, 1, S, S)
            xt[:, 0, :N, :N] = ab.sqrt() * x0[idx] + (1 - ab).sqrt() * noise
            pred = net(xt, t, c)
            loss = ((pred[:, 0, :N, :N] - noise) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            loss_v = loss.item()
    w1, c1 = clocks()

    tau = [int(math.floor(k * (T - 1) / (a.steps - 1) + 0.5)) for k in range(a.steps)] if a.steps > 1 else [T - 1]

    def ddim(c, n):
        """DDIM (eta 0) over tau, or with --ddpm ancestral DDPM steps (posterior variance)."""
        x = torch.zeros(n, 1, S, S)
        x[:, 0, :N, :N] = torch.randn(n, N, N)
        cc = torch.full((n,), c, dtype=torch.long)
        with torch.no_grad():
            for k in reversed(range(len(tau))):
                t = tau[k]
                ab = float(abar[t])
                abp = float(abar[tau[k - 1]]) if k > 0 else 1.0
                eps = net(x, torch.full((n,), t, dtype=torch.long), cc)
                x0p = ((x - math.sqrt(1 - ab) * eps) / math.sqrt(ab)).clamp(-1, 1)
                if a.ddpm:
                    beta = 1 - ab / abp
                    x = (math.sqrt(abp) * beta / (1 - ab)) * x0p + (math.sqrt(1 - beta) * (1 - abp) / (1 - ab)) * x
                    if k > 0:
                        x = x + math.sqrt(beta * (1 - abp) / (1 - ab)) * torch.randn_like(x)
                else:
                    e = (x - math.sqrt(ab) * x0p) / math.sqrt(1 - ab)
                    x = math.sqrt(abp) * x0p + math.sqrt(1 - abp) * e
                x[:, :, N:, :] = 0
                x[:, :, :, N:] = 0
        return x

    net.eval()
    w2, c2 = clocks()
    for c in range(len(classes) if a.samples else 0):
        ddim(c, a.samples)
    w3, c3 = clocks()
    for c in range(len(classes)):
        for _ in range(a.single):
            ddim(c, 1)
    w4, c4 = clocks()

    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)
    nb, ns = a.samples * len(classes), a.single * len(classes)
    print(json.dumps({
        "s_per_epoch": (w1 - w0) / max(a.epochs, 1), "cpu_s_per_epoch": (c1 - c0) / max(a.epochs, 1),
        "ms_per_sample_batched": 1e3 * (w3 - w2) / nb if nb else 0.0,
        "cpu_ms_per_sample_batched": 1e3 * (c3 - c2) / nb if nb else 0.0,
        "ms_per_sample_single": 1e3 * (w4 - w3) / ns if ns else 0.0,
        "cpu_ms_per_sample_single": 1e3 * (c4 - c3) / ns if ns else 0.0,
        "model_bytes": buf.getbuffer().nbytes, "params": sum(p.numel() for p in net.parameters()),
        "final_loss": loss_v, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "steps": a.steps}))


if __name__ == "__main__":
    main()
