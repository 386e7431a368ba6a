"""Exponential moving average of the generator weights (the model that gets shipped).

Averaging the weights over the last few thousand images removes most of the step-to-step
oscillation of GAN training (Karras et al.; Yazici et al. 2019); batch-norm statistics are
copied, not averaged, as in stylegan2-ada.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def make_ema(model: nn.Module) -> nn.Module:
    """A frozen copy of ``model`` in eval mode."""
    ema = copy.deepcopy(model).eval()
    ema.requires_grad_(False)
    return ema


def ema_beta(batch_size: int, half_life_images: float) -> float:
    """Per-step decay so that a weight's contribution halves every ``half_life_images``."""
    return 0.5 ** (batch_size / max(half_life_images, 1e-8))


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, beta: float) -> None:
    """ema <- beta * ema + (1 - beta) * model for parameters; buffers are copied."""
    ema_params = list(ema.parameters())
    params = [p.detach() for p in model.parameters()]
    torch._foreach_lerp_(ema_params, params, 1.0 - beta)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)
