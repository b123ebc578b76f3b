#!/usr/bin/python3
"""test/reference/netdiffus_ref.py — an independent PyTorch implementation of the netdiffus
generator (docs/netdiffus.md), which writes the golden file test/unit/golden/netdiffus_ref.h that
test/unit/test_netdiffus_golden.c compares the C kind with.

It builds the U-Net from its description (channels-first, torch.nn layers), fills every weight
with seeded random values (none zero, so that every gradient path is exercised), and writes, for a
fixed tiny model (base channels 2, 3 levels, attention from level 1, 2 heads, 2 groups, N = 5 padded
to 8 x 8, T = 50, 3 classes) and batch:

  nd_config, nd_t, nd_cls        the configuration, the batch's steps and classes (3 = no class)
  nd_weights                     every tensor (name, values) in the C kind's order and layouts
                                 (convolutions [OC, kh, kw, C])
  nd_rows, nd_lo, nd_hi          rows and the scaling whose GASF images are nd_x0
  nd_x0, nd_noise                [B, N, N] the images (numpy, float64) and the noise
  nd_pred                        [B, S, S] the predicted noise for x_t = sqrt(abar_t) x0 +
                                 sqrt(1 - abar_t) noise
  nd_loss                        the sum over rows of the MSE over the N x N pixels
  nd_grads                       d(loss / B) / d(weights), a table like nd_weights
  nd_abar_cosine, nd_abar_linear the two noise schedules' alphas_cumprod (T values)
  nd_img_mean, nd_img_std        [N, N] the per-pixel standardization of the rows' images
  nd_ddim                        [3, N, N] DDIM (eta 0, guidance 1.5, 4 steps) images of class 1
                                 from the C kind's generator seeded 123 (xoshiro256**, reproduced
                                 here), under that standardization
  nd_ddpm                        [2, N, N] DDPM (3 steps, no guidance) images of class 2, seed 77
  nd_ddim_quad                   [2, N, N] DDIM (6 steps spaced quadratically, x0 not clipped) of
                                 class 0, seed 9
  nd_tau_quad                    the 50 steps of 1000 a quadratic spacing takes

usage: /usr/bin/python3 test/reference/netdiffus_ref.py   (torch 1.13, numpy)
"""
import math
import os

import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden import Header, unit_dir  # noqa: E402

CFG = dict(base=2, levels=3, max_mult=2, attn_from=1, heads=2, groups=2, N=5, T=50, n_classes=3)
ROWS = [(0, [100, -200, 300]), (2, [-1448, 1448, -1448, 1448, 52]), (1, [])]
LO, HI = -1448, 1448
T_STEPS = [0, 17, 49]
CLS = [0, 2, 3]          # 3 = the "no class" embedding


# ---- the C kind's random generator (common/rng.c), for the sampling goldens ----
M64 = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return x, z ^ (z >> 31)


class Rng:
    def __init__(self, seed=None, state=None):
        if state is None:
            s, x = [], seed & M64
            for _ in range(4):
                x, v = splitmix64(x)
                s.append(v)
            state = s
        self.s = list(state)

    def u64(self):
        s = self.s
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M64
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def split(self, stream):
        x = self.u64() ^ ((stream * 0xD1342543DE82EF95) & M64)
        st = []
        for _ in range(4):
            x, v = splitmix64(x)
            st.append(v)
        return Rng(state=st)

    def double(self):
        return (self.u64() >> 11) * 2.0 ** -53

    def normal(self):
        u1 = 1.0 - self.double()
        u2 = self.double()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


# ---- schedule ----
def schedule(T, cosine):
    betas = []
    for t in range(T):
        if cosine:
            s = 0.008
            f0 = math.cos((t / T + s) / (1 + s) * math.pi / 2)
            f1 = math.cos(((t + 1) / T + s) / (1 + s) * math.pi / 2)
            b = min(1 - (f1 * f1) / (f0 * f0), 0.999)
        else:
            sc = 1000.0 / T
            b = min(sc * 1e-4 + (sc * 0.02 - sc * 1e-4) * (t / (T - 1)), 0.999)
        betas.append(b)
    return np.cumprod(1.0 - np.array(betas, dtype=np.float64))


# ---- the network ----
class ResBlock(torch.nn.Module):
    def __init__(self, c, oc, e, g):
        super().__init__()
        self.gn1 = torch.nn.GroupNorm(g, c, eps=1e-5)
        self.conv1 = torch.nn.Conv2d(c, oc, 3, padding=1)
        self.emb = torch.nn.Linear(e, oc)
        self.gn2 = torch.nn.GroupNorm(g, oc, eps=1e-5)
        self.conv2 = torch.nn.Conv2d(oc, oc, 3, padding=1)
        self.skip = torch.nn.Conv2d(c, oc, 1) if c != oc else None

    def forward(self, x, semb):
        h = self.conv1(F.silu(self.gn1(x)))
        h = h + self.emb(semb)[:, :, None, None]
        h = self.conv2(F.silu(self.gn2(h)))
        return h + (self.skip(x) if self.skip is not None else x)

    def named(self, prefix):
        out = [(prefix + ".gn1.w", self.gn1.weight), (prefix + ".gn1.b", self.gn1.bias),
               (prefix + ".conv1.w", self.conv1.weight), (prefix + ".conv1.b", self.conv1.bias),
               (prefix + ".emb.w", self.emb.weight), (prefix + ".emb.b", self.emb.bias),
               (prefix + ".gn2.w", self.gn2.weight), (prefix + ".gn2.b", self.gn2.bias),
               (prefix + ".conv2.w", self.conv2.weight), (prefix + ".conv2.b", self.conv2.bias)]
        if self.skip is not None:
            out += [(prefix + ".skip.w", self.skip.weight), (prefix + ".skip.b", self.skip.bias)]
        return out


class Attn(torch.nn.Module):
    def __init__(self, c, heads, g):
        super().__init__()
        self.heads = heads
        self.gn = torch.nn.GroupNorm(g, c, eps=1e-5)
        self.qkv = torch.nn.Linear(c, 3 * c)
        self.proj = torch.nn.Linear(c, c)

    def forward(self, x):
        B, C, H, W = x.shape
        hs = C // self.heads
        n = self.gn(x).permute(0, 2, 3, 1).reshape(B, H * W, C)
        qkv = self.qkv(n).reshape(B, H * W, 3, self.heads, hs)
        q, k, v = (qkv[:, :, i].permute(0, 2, 1, 3) for i in range(3))   # [B, NH, P, HS]
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hs), dim=-1)
        y = (att @ v).permute(0, 2, 1, 3).reshape(B, H * W, C)
        out = self.proj(y).reshape(B, H, W, C).permute(0, 3, 1, 2)
        return x + out

    def named(self, prefix):
        return [(prefix + ".gn.w", self.gn.weight), (prefix + ".gn.b", self.gn.bias),
                (prefix + ".qkv.w", self.qkv.weight), (prefix + ".qkv.b", self.qkv.bias),
                (prefix + ".proj.w", self.proj.weight), (prefix + ".proj.b", self.proj.bias)]


class UNet(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        base, L, g, e = c["base"], c["levels"], c["groups"], 4 * c["base"]
        self.c = c
        self.ch = [base * min(2 ** l, c["max_mult"]) for l in range(L)]
        self.attn = [l >= c["attn_from"] for l in range(L)]
        self.time1 = torch.nn.Linear(base, e)
        self.time2 = torch.nn.Linear(e, e)
        self.class_emb = torch.nn.Embedding(c["n_classes"] + 1, e)
        self.conv_in = torch.nn.Conv2d(1, base, 3, padding=1)
        self.down, self.down_attn, self.up, self.up_attn = (torch.nn.ModuleList() for _ in range(4))
        h = base
        for l in range(L):
            self.down.append(ResBlock(h, self.ch[l], e, g))
            h = self.ch[l]
            self.down_attn.append(Attn(h, c["heads"], g) if self.attn[l] else torch.nn.Identity())
        self.mid1, self.mid_attn, self.mid2 = ResBlock(h, h, e, g), Attn(h, c["heads"], g), ResBlock(h, h, e, g)
        ups, up_attn = [], []
        for l in reversed(range(L)):
            ups.append(ResBlock(h + self.ch[l], self.ch[l], e, g))
            h = self.ch[l]
            up_attn.append(Attn(h, c["heads"], g) if self.attn[l] else torch.nn.Identity())
        self.up.extend(reversed(ups))           # indexed by level
        self.up_attn.extend(reversed(up_attn))
        self.out_gn = torch.nn.GroupNorm(g, base, eps=1e-5)
        self.conv_out = torch.nn.Conv2d(base, 1, 3, padding=1)

    def forward(self, x, t, cls):
        base = self.c["base"]
        half = base // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / half)
        args = t.to(torch.float64)[:, None] * freqs[None]
        tsin = torch.cat([torch.cos(args), torch.sin(args)], dim=1).float()
        emb = self.time2(F.silu(self.time1(tsin))) + self.class_emb(cls)
        semb = F.silu(emb)
        h = self.conv_in(x)
        skips = []
        for l in range(len(self.ch)):
            if l > 0:
                h = F.avg_pool2d(h, 2)
            h = self.down_attn[l](self.down[l](h, semb))
            skips.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, semb)), semb)
        for l in reversed(range(len(self.ch))):
            h = self.up_attn[l](self.up[l](torch.cat([h, skips[l]], dim=1), semb))
            if l > 0:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
        return self.conv_out(F.silu(self.out_gn(h)))

    def named(self):
        """(name, tensor) in the C kind's declaration order (netdiffus.c, declare_all)."""
        out = [("time.w1", self.time1.weight), ("time.b1", self.time1.bias),
               ("time.w2", self.time2.weight), ("time.b2", self.time2.bias),
               ("class_emb", self.class_emb.weight), ("in.w", self.conv_in.weight),
               ("in.b", self.conv_in.bias)]
        for l in range(len(self.ch)):
            out += self.down[l].named("down.%d.res" % l)
            if self.attn[l]:
                out += self.down_attn[l].named("down.%d.attn" % l)
        out += self.mid1.named("mid.res1") + self.mid_attn.named("mid.attn") + self.mid2.named("mid.res2")
        for l in reversed(range(len(self.ch))):
            out += self.up[l].named("up.%d.res" % l)
            if self.attn[l]:
                out += self.up_attn[l].named("up.%d.attn" % l)
        out += [("out.gn.w", self.out_gn.weight), ("out.gn.b", self.out_gn.bias),
                ("out.w", self.conv_out.weight), ("out.b", self.conv_out.bias)]
        return out


def c_layout(t):
    """A torch tensor in the C kind's layout: convolutions [OC, C, kh, kw] -> [OC, kh, kw, C]."""
    t = t.detach()
    if t.dim() == 4:
        t = t.permute(0, 2, 3, 1)
    return t.contiguous().reshape(-1).numpy().astype(np.float32)


def gasf(row, N, lo, hi):
    v = np.array(list(row)[:N] + [0] * (N - min(len(row), N)), dtype=np.float64)
    x = np.clip((v - lo) / (hi - lo), 0.0, 1.0)
    phi = np.arccos(x)
    return np.cos(phi[:, None] + phi[None, :])


def image_scale(x0):
    """Per-pixel mean and std (population, floored at 1e-3) of the training images."""
    x = x0.astype(np.float64)
    mean = x.mean(axis=0)
    std = np.sqrt(np.maximum((x * x).mean(axis=0) - mean * mean, 0.0))
    return mean.astype(np.float32), np.maximum(std, 1e-3).astype(np.float32)


def spaced(T, steps, power):
    """netdiffus_spaced_steps: (T - 1) (k / (steps - 1))^power rounded, strictly increasing."""
    if steps <= 1:
        return [T - 1]
    tau = [int(math.floor((T - 1) * (k / (steps - 1)) ** power + 0.5)) for k in range(steps)]
    for k in range(1, steps):
        tau[k] = max(tau[k], tau[k - 1] + 1)
    tau[-1] = T - 1
    for k in range(steps - 2, -1, -1):
        tau[k] = min(tau[k], tau[k + 1] - 1)
    return tau


def sample(net, c, n, seed, steps, ddim, guidance, abar, mean, std, clip=True, power=1.0):
    """The C kind's netdiffus_sample_images: per-row streams, x0 clipped to the standardized image
    of [-1, 1], DDIM or DDPM steps, then back from the standardized form."""
    N, T = CFG["N"], CFG["T"]
    S = 8
    rng = Rng(seed)
    rows = [rng.split(r) for r in range(n)]
    x = torch.zeros(n, 1, S, S, dtype=torch.float32)
    for r in range(n):
        for i in range(N):
            for j in range(N):
                x[r, 0, i, j] = rows[r].normal()
    tau = spaced(T, steps, power)
    for k in reversed(range(steps)):
        t = tau[k]
        ab = abar[t]
        abp = abar[tau[k - 1]] if k > 0 else 1.0
        with torch.no_grad():
            tt = torch.full((n,), t, dtype=torch.long)
            ec = net(x, tt, torch.full((n,), c, dtype=torch.long))
            if guidance > 0:
                eu = net(x, tt, torch.full((n,), CFG["n_classes"], dtype=torch.long))
                eps = (1 + guidance) * ec - guidance * eu
            else:
                eps = ec
        xd, ed = x.double(), eps.double()
        lo = torch.zeros(1, 1, S, S, dtype=torch.float64)
        hi = torch.zeros(1, 1, S, S, dtype=torch.float64)
        lo[0, 0, :N, :N] = torch.from_numpy((-1.0 - mean.astype(np.float64)) / std.astype(np.float64))
        hi[0, 0, :N, :N] = torch.from_numpy((1.0 - mean.astype(np.float64)) / std.astype(np.float64))
        x0 = (xd - math.sqrt(1 - ab) * ed) / math.sqrt(ab)
        if clip:
            x0 = torch.maximum(torch.minimum(x0, hi), lo)
        e = (xd - math.sqrt(ab) * x0) / math.sqrt(1 - ab)
        if ddim:
            nxt = math.sqrt(abp) * x0 + math.sqrt(max(1 - abp, 0.0)) * e
            sigma = 0.0
        else:
            beta = 1 - ab / abp
            sigma = math.sqrt(beta * (1 - abp) / (1 - ab)) if k > 0 else 0.0
            nxt = math.sqrt(abp) * beta / (1 - ab) * x0 + math.sqrt(1 - beta) * (1 - abp) / (1 - ab) * xd
        new = torch.zeros_like(x)
        for r in range(n):
            for i in range(N):
                for j in range(N):
                    z = rows[r].normal() if sigma > 0 else 0.0
                    new[r, 0, i, j] = float(nxt[r, 0, i, j] + sigma * z)
        x = new
    return (x[:, 0, :N, :N].numpy() * std + mean).astype(np.float32)


def main():
    torch.manual_seed(20240601)
    net = UNet(CFG)
    named = net.named()
    assert len({id(t) for _, t in named}) == sum(1 for _ in net.parameters()), "every parameter named once"
    with torch.no_grad():
        for name, t in named:
            if ".gn" in name and name.endswith(".w"):
                t.copy_(1.0 + 0.1 * torch.randn_like(t))
            else:
                t.copy_(0.2 * torch.randn_like(t))
    N, S, B = CFG["N"], 8, len(ROWS)
    abar = schedule(CFG["T"], True)
    x0 = np.stack([gasf(r, N, LO, HI) for _, r in ROWS]).astype(np.float32)
    noise = np.random.default_rng(5).standard_normal((B, N, N)).astype(np.float32)
    xt = torch.zeros(B, 1, S, S)
    for b, t in enumerate(T_STEPS):
        ca, cn = np.float32(math.sqrt(abar[t])), np.float32(math.sqrt(1 - abar[t]))
        xt[b, 0, :N, :N] = torch.from_numpy(ca * x0[b] + cn * noise[b])
    pred = net(xt, torch.tensor(T_STEPS), torch.tensor(CLS))
    per_row = ((pred[:, 0, :N, :N] - torch.from_numpy(noise)) ** 2).mean(dim=(1, 2))
    net.zero_grad()
    (per_row.sum() / B).backward()

    out = Header(os.path.join(unit_dir(), "netdiffus_ref.h"), "test/reference/netdiffus_ref.py",
                 "The netdiffus U-Net, its schedules, loss, gradients and sampling chains, from an\n"
                 "independent PyTorch implementation (float32), for test/unit/test_netdiffus_golden.c.")
    out.ints("nd_config", [CFG[k] for k in ("base", "levels", "max_mult", "attn_from", "heads",
                                            "groups", "N", "T", "n_classes")])
    out.ints("nd_t", T_STEPS)
    out.ints("nd_cls", CLS)
    out.ints("nd_rows", [v for c, r in ROWS for v in [c, len(r)] + r])
    out.scalar("nd_lo", LO, "int")
    out.scalar("nd_hi", HI, "int")
    for table, grads in (("nd_weights", False), ("nd_grads", True)):
        entries = []
        for i, (name, t) in enumerate(named):
            v = c_layout(t.grad if grads else t)
            out.doubles("%s_%d" % (table, i), v, 12 if grads else 9)
            entries.append((name, "%s_%d" % (table, i), len(v)))
        out.table(table, entries)
    out.doubles("nd_x0", x0.reshape(-1), 9)
    out.doubles("nd_noise", noise.reshape(-1), 9)
    out.doubles("nd_pred", pred.detach()[:, 0].reshape(-1).numpy())
    out.scalar("nd_loss", per_row.sum().item())
    out.doubles("nd_abar_cosine", abar, 17)
    out.doubles("nd_abar_linear", schedule(CFG["T"], False), 17)
    mean, std = image_scale(x0)
    out.doubles("nd_img_mean", mean.reshape(-1), 9)
    out.doubles("nd_img_std", std.reshape(-1), 9)
    out.doubles("nd_ddim", sample(net, 1, 3, 123, 4, True, 1.5, abar, mean, std).reshape(-1))
    out.doubles("nd_ddpm", sample(net, 2, 2, 77, 3, False, 0.0, abar, mean, std).reshape(-1))
    out.doubles("nd_ddim_quad", sample(net, 0, 2, 9, 6, True, 0.0, abar, mean, std, clip=False,
                                       power=2.0).reshape(-1))
    out.ints("nd_tau_quad", spaced(1000, 50, 2.0))
    out.write()
    print("%d tensors, %d weights, loss %.6f" % (len(named), sum(t.numel() for _, t in named),
                                                 per_row.sum().item()))


if __name__ == "__main__":
    main()
