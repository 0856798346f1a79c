#!/usr/bin/env python3
"""The CLoE network of a model folder's config.json, built in PyTorch, timed on the CPU.

This is the baseline the Rust network is compared with (issue 10): the same architecture (encoders,
weight-shared expert decoder, region head, MEC/REC consistency, gating MLP, weighted multiscale fusion,
fusion decoder, contrastive heads), the same shapes and the same losses (WCE + soft Dice of the fusion
and of every expert, MEC, REC, L_contrast), trained with AdamW. It times

  * a forward of a whole case (default 80x88x80, the padded 2 mm crop of Brats18_2013_11_1 that
    `cloe bench` uses) with every modality, and
  * a training step of `--batch` patches of the config's patch size with every modality and all losses,

as medians of `--runs` runs after one warm-up, on `--threads` threads. Weights are random: the timing of
a network does not depend on them. Run it beside `cloe bench` on the same machine, one after the other:

    pip install torch
    python3 benches/pytorch_reference.py models/brats/config.json --threads 2
    cloe bench ../shared/data/brats2018/Brats18_2013_11_1 --device cpu --patch 48

Not run in CI (PyTorch is not a dependency of the project).
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvBlock(nn.Module):
    """conv (k³, stride s) → InstanceNorm (no affine) → LeakyReLU, as `model::blocks::ConvBlock`."""

    def __init__(self, c_in, c_out, k, stride, slope):
        super().__init__()
        self.conv = nn.Conv3d(c_in, c_out, k, stride=stride, padding=k // 2)
        self.norm = nn.InstanceNorm3d(c_out, affine=False, eps=1e-5)
        self.slope = slope

    def forward(self, x):
        return F.leaky_relu(self.norm(self.conv(x)), self.slope)


class EncoderLevel(nn.Module):
    def __init__(self, c_in, c_out, stride, slope):
        super().__init__()
        self.entry = ConvBlock(c_in, c_out, 3, stride, slope)
        self.res_a = ConvBlock(c_out, c_out, 3, 1, slope)
        self.res_b = ConvBlock(c_out, c_out, 3, 1, slope)

    def forward(self, x):
        x = self.entry(x)
        return x + self.res_b(self.res_a(x))


class Encoder(nn.Module):
    def __init__(self, c, slope):
        super().__init__()
        self.levels = nn.ModuleList(
            EncoderLevel(1 if l == 0 else c << (l - 1), c << l, 1 if l == 0 else 2, slope)
            for l in range(4)
        )

    def forward(self, x):
        f = []
        for level in self.levels:
            x = level(x)
            f.append(x)
        return f


class Decoder(nn.Module):
    def __init__(self, c, classes, slope):
        super().__init__()
        self.levels = nn.ModuleList()
        for l in (3, 2, 1):
            hi, lo = c << l, c << (l - 1)
            self.levels.append(
                nn.ModuleDict(
                    dict(
                        reduce=ConvBlock(hi, lo, 3, 1, slope),
                        merge=ConvBlock(2 * lo, lo, 3, 1, slope),
                        out=ConvBlock(lo, lo, 1, 1, slope),
                    )
                )
            )
        self.head = nn.Conv3d(c, classes, 1)

    def forward(self, f):
        x = f[3]
        for level, skip in zip(self.levels, (f[2], f[1], f[0])):
            up = level["reduce"](F.interpolate(x, scale_factor=2, mode="trilinear", align_corners=False))
            x = level["out"](level["merge"](torch.cat([up, skip], 1)))
        return self.head(x)


class ContrastHead(nn.Module):
    def __init__(self, deep, content, style):
        super().__init__()
        self.content = nn.Conv3d(deep, content, 1)
        self.style = nn.Linear(deep, 2 * style)
        self.film = nn.Linear(style, content)
        self.recon = nn.Conv3d(content, 1, 1)
        self.style_dim = style

    def forward(self, f4):
        content = self.content(f4)
        stats = self.style(f4.flatten(2).mean(2))
        mu, logvar = stats[:, : self.style_dim], stats[:, self.style_dim :].clamp(-10, 10)
        style = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        scale = self.film(style)[:, :, None, None, None]
        return content, mu, logvar, style, self.recon(content * (scale + 1))


def cosine(a, b, eps):
    a, b = a.flatten(1), b.flatten(1)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + eps)


class CloeNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c, slope = cfg["channels"], cfg["leaky_slope"]
        self.cfg = cfg
        self.encoders = nn.ModuleList(Encoder(c, slope) for _ in range(cfg["modalities"]))
        self.expert_decoder = Decoder(c, cfg["classes"], slope)
        self.fusion_decoder = Decoder(c, cfg["classes"], slope)
        self.region_head = nn.Conv3d(c, 1, 1)
        h = cfg["gate_hidden"]
        self.gate = nn.Sequential(nn.Linear(2, h), nn.ReLU(), nn.Linear(h, 1))
        self.contrast = ContrastHead(8 * c, cfg["content_channels"], cfg["style_dim"])

    def forward(self, inputs):
        """inputs: one [B, 1, D, H, W] tensor per modality, all available."""
        eps = self.cfg["cosine_eps"]
        experts = []
        for m, x in enumerate(inputs):
            f = self.encoders[m](x)
            experts.append((f, torch.softmax(self.expert_decoder(f), 1)))
        a = len(experts)
        region = torch.sigmoid(self.region_head(sum(f[0] for f, _ in experts) / a))
        probs = [p for _, p in experts]
        regional = [p * region for p in probs]
        pairs = [(i, j) for i in range(a) for j in range(i + 1, a)]
        sg = {(i, j): cosine(probs[i], probs[j], eps) for i, j in pairs}
        sr = {(i, j): cosine(regional[i], regional[j], eps) for i, j in pairs}
        sim = lambda s, i, j: s[(min(i, j), max(i, j))]
        u = torch.stack([sum(sim(sg, m, k) for k in range(a) if k != m) / (a - 1) for m in range(a)], 1)
        v = torch.stack([sum(sim(sr, m, k) for k in range(a) if k != m) / (a - 1) for m in range(a)], 1)
        mec = sum(1 - s for s in sg.values()).mean() / len(pairs)
        rec = sum(1 - s for s in sr.values()).mean() / len(pairs)
        w = torch.softmax(self.gate(torch.stack([u, v], 2)).squeeze(2), 1)
        fused = [sum(f[l] * w[:, j, None, None, None, None] for j, (f, _) in enumerate(experts)) for l in range(4)]
        fused_probs = torch.softmax(self.fusion_decoder(fused), 1)
        return experts, fused_probs, region, w, mec, rec


def weighted_ce(p, y):
    weight = 1 - y.flatten(2).mean(2)[:, :, None, None, None]
    return -(y * p.clamp(0.005, 1).log() * weight).sum(1).mean()


def soft_dice(p, y):
    inter = (p * y).flatten(2).sum(2)
    den = p.flatten(2).sum(2) + y.flatten(2).sum(2)
    return 1 - ((2 * inter + 1e-5) / (den + 1e-5)).mean()


def ssim(a, b):
    a, b = a.flatten(1), b.flatten(1)
    ma, mb = a.mean(1, keepdim=True), b.mean(1, keepdim=True)
    da, db = a - ma, b - mb
    va, vb, cov = (da * da).mean(1), (db * db).mean(1), (da * db).mean(1)
    ma, mb = ma.squeeze(1), mb.squeeze(1)
    return (2 * ma * mb + 1e-4) * (2 * cov + 9e-4) / ((ma**2 + mb**2 + 1e-4) * (va + vb + 9e-4))


def cloe_loss(net, out, inputs, target):
    lw = net.cfg["loss"]
    experts, probs, _, _, mec, rec = out
    seg = weighted_ce(probs, target) + soft_dice(probs, target)
    exp = sum(weighted_ce(p, target) + soft_dice(p, target) for _, p in experts)
    ecl = exp + lw["eta"] * (mec + lw["lambda_rec"] * rec)
    codes = [net.contrast(f[3]) for f, _ in experts]
    a = len(codes)
    content = style = 0
    for i in range(a):
        for j in range(i + 1, a):
            content = content + F.softplus(-lw["tau"] * ssim(codes[i][0], codes[j][0])).mean()
            style = style + F.softplus(lw["tau"] * cosine(codes[i][3], codes[j][3], 1e-8)).mean()
    n = max(1, a * (a - 1) // 2)
    recon = kl = 0
    for (content_i, mu, logvar, _, r), x in zip(codes, inputs):
        f = x.shape[2] // r.shape[2]
        recon = recon + (r - F.avg_pool3d(x, f)).abs().mean()
        kl = kl - 0.5 * (1 + logvar - mu**2 - logvar.exp()).mean()
    contrast = content / n + style / n + lw["gamma"] * (recon / a + lw["kl"] * kl / a)
    return seg + lw["alpha"] * ecl + lw["beta"] * contrast


def median_time(runs, f):
    f()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("config", help="a model folder's config.json")
    ap.add_argument("--dims", type=int, nargs=3, default=[80, 88, 80], help="D H W of the whole-case forward")
    ap.add_argument("--patch", type=int, help="training patch side (default: the config's)")
    ap.add_argument("--batch", type=int, default=1, help="patches per training step")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = json.load(open(args.config))
    net = CloeNet(cfg)
    m, k = cfg["modalities"], cfg["classes"]

    case = [torch.randn(1, 1, *args.dims) for _ in range(m)]
    net.eval()

    def forward():
        with torch.no_grad():
            net(case)[3].sum().item()

    forward_s = median_time(args.runs, forward)

    p = args.patch or cfg["patch"]
    patches = [torch.randn(args.batch, 1, p, p, p) for _ in range(m)]
    target = F.one_hot(torch.zeros(args.batch, p, p, p, dtype=torch.long), k).permute(0, 4, 1, 2, 3).float()
    net.train()
    optim = torch.optim.AdamW(net.parameters(), lr=2e-4, weight_decay=1e-4)

    def step():
        optim.zero_grad(set_to_none=True)
        loss = cloe_loss(net, net(patches), patches, target)
        loss.backward()
        optim.step()
        loss.item()

    step_s = median_time(args.runs, step)
    figures = dict(
        torch=torch.__version__,
        threads=args.threads,
        case_dims=args.dims,
        forward_seconds=forward_s,
        patch=p,
        batch=args.batch,
        step_seconds=step_s,
    )
    if args.json:
        print(json.dumps(figures))
    else:
        d = "x".join(map(str, args.dims))
        print(f"PyTorch {torch.__version__}, {args.threads} threads, config {args.config}")
        print(f"  forward, {m} modalities, {d}            median {forward_s:.3f} s")
        print(f"  training step, {m} modalities, {args.batch} x {p}^3  median {step_s:.3f} s")


if __name__ == "__main__":
    main()
