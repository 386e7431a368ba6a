"""DCGAN-style generator and discriminator for any square size s0 * 2^n (28, 32, 64, ...).

Generator: latent (N, L) -> linear -> (c0, s0, s0) -> n transposed convs (4x4, stride 2) with
batch norm and ReLU -> tanh image in [-1, 1]. Discriminator: the mirror with leaky ReLU and
spectral norm on every layer (Miyato et al. 2018), which bounds D's Lipschitz constant and keeps
the small-batch CPU runs as stable as the large-batch GPU runs without tuning a gradient
penalty.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from seedembed.models.config import GanConfig, resolution_plan


def _init_dcgan(module: nn.Module) -> None:
    """The DCGAN initialisation: N(0, 0.02) weights, N(1, 0.02) batch-norm scales."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Generator(nn.Module):
    """Latent sequence (N, latent_length) in about [-1, 1] -> image (N, C, H, W) in [-1, 1]."""

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        s0, n = resolution_plan(config.image_size)
        c0 = config.g_width * 2 ** (n - 1)
        self.start = (c0, s0)
        self.fc = nn.Linear(config.latent_length, c0 * s0 * s0, bias=False)
        layers: list[nn.Module] = [nn.BatchNorm2d(c0), nn.ReLU(inplace=True)]
        c = c0
        for _ in range(n - 1):
            layers += [
                nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c // 2),
                nn.ReLU(inplace=True),
            ]
            c //= 2
        layers += [nn.ConvTranspose2d(c, config.channels, 4, 2, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)
        self.apply(_init_dcgan)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        c0, s0 = self.start
        return self.body(self.fc(z).view(-1, c0, s0, s0))


class Discriminator(nn.Module):
    """Image (N, C, H, W) in [-1, 1] -> one real/fake logit per image, shape (N,)."""

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        s0, n = resolution_plan(config.image_size)
        norm = spectral_norm if config.spectral_norm else (lambda m: m)
        layers: list[nn.Module] = []
        c_in, c = config.channels, config.d_width
        for _ in range(n):
            layers += [norm(nn.Conv2d(c_in, c, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
            c_in, c = c, c * 2
        self.body = nn.Sequential(*layers)
        self.minibatch_std = config.minibatch_std
        self.head = norm(nn.Linear((c_in + self.minibatch_std) * s0 * s0, 1))
        self.apply(_init_dcgan)

    def forward(self, x: torch.Tensor, split: int | None = None) -> torch.Tensor:
        """``split``: the batch is x[:split] (real) then x[split:] (fake), as the training loops
        call it; the minibatch statistic is taken within each part, never across."""
        h = self.body(x)
        if self.minibatch_std:
            parts = [h] if split is None else [h[:split], h[split:]]
            h = torch.cat([minibatch_std(p) for p in parts if len(p)])
        return self.head(h.flatten(1)).squeeze(1)


def minibatch_std(h: torch.Tensor, group: int = 4) -> torch.Tensor:
    """``h`` (N, C, H, W) with one more channel: the mean standard deviation of the features
    over each group of ``group`` consecutive rows, broadcast to the group's rows (Karras et al.,
    2018). A remainder of N / ``group`` joins the last group, so any N >= 2 keeps a statistic
    (a single row has none: its channel is sqrt(1e-8))."""
    n, c, hh, ww = h.shape
    gid = torch.arange(n, device=h.device) // group
    if n >= group:
        gid.clamp_(max=n // group - 1)
    k = int(gid[-1]) + 1
    x = h.float().flatten(1)
    count = torch.bincount(gid, minlength=k).unsqueeze(1).float()
    mean = torch.zeros(k, x.shape[1], device=h.device).index_add_(0, gid, x) / count
    var = torch.zeros_like(mean).index_add_(0, gid, (x - mean[gid]).pow(2)) / count
    y = var.add(1e-8).sqrt().mean(1)[gid].to(h.dtype)
    return torch.cat([h, y.view(n, 1, 1, 1).expand(n, 1, hh, ww)], 1)
