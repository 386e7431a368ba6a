"""One GAN training step: a discriminator update, then a generator update, then the EMA.

Losses are the non-saturating logistic ones of Goodfellow et al. (2014) as used by
stylegan2-ada: D minimises softplus(D(fake)) + softplus(-D(real)), G minimises
softplus(-D(fake)). The fake batch is generated once and reused by both updates (the DCGAN
recipe), which saves a generator forward pass per step.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from seedembed.models.ema import update_ema


def unwrap(module: nn.Module) -> nn.Module:
    """The network inside a DistributedDataParallel wrapper (or the module itself)."""
    return module.module if hasattr(module, "module") else module


@dataclass
class GanNets:
    """The trained networks: G and D (DDP-wrapped when distributed), the EMA copy, optimisers."""

    G: nn.Module
    D: nn.Module
    G_ema: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    ema_beta: float

    @property
    def g_module(self) -> nn.Module:
        return unwrap(self.G)

    @property
    def d_module(self) -> nn.Module:
        return unwrap(self.D)


def autocast_for(device: torch.device, amp: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (no loss scaling needed, unlike fp16); nothing elsewhere."""
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def gan_step(nets: GanNets, real: torch.Tensor, z: torch.Tensor, amp: bool = False) -> torch.Tensor:
    """Train D then G on one batch; returns detached [D loss, G loss, D(real), D(fake)] means.

    D is updated through its DDP wrapper (its gradients are averaged over processes); during
    the G update D is frozen and called unwrapped, so only G's gradients are synchronised.
    """
    n = real.shape[0]
    with autocast_for(real.device, amp):
        fake = nets.G(z)
        logits = nets.D(torch.cat([real, fake.detach()]), split=n).float()
    d_real, d_fake = logits[:n], logits[n:]
    d_loss = F.softplus(d_fake).mean() + F.softplus(-d_real).mean()
    nets.opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    nets.opt_d.step()

    d = nets.d_module
    d.requires_grad_(False)
    try:
        with autocast_for(real.device, amp):
            g_logits = d(fake).float()
        g_loss = F.softplus(-g_logits).mean()
        nets.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        nets.opt_g.step()
    finally:
        d.requires_grad_(True)

    update_ema(nets.G_ema, nets.g_module, nets.ema_beta)
    return torch.stack(
        [d_loss.detach(), g_loss.detach(), d_real.mean().detach(), d_fake.mean().detach()]
    )


STAT_NAMES = ("loss/D", "loss/G", "D/real_logit", "D/fake_logit")
