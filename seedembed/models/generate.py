"""Seeds -> images through a generator, and image grids as PNG files."""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from seedembed import prf as prf_mod
from seedembed.prf.base import SeedsLike


@torch.no_grad()
def generate(
    generator: nn.Module,
    prf: prf_mod.Prf | str,
    seeds: SeedsLike,
    *,
    batch_size: int = 1024,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Images (N, C, H, W) in [-1, 1] (float32, CPU) of the PRF sequences of ``seeds``.

    The generator runs in eval mode (batch-norm running statistics), so an image depends on
    its seed alone, not on the other seeds of the batch. Bad seeds raise ``PrfError``.
    """
    prf = prf_mod.get(prf)
    length = generator.config.latent_length
    z = prf.sequences(seeds, length)
    if device is None:
        device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    try:
        out = [
            generator(z[i : i + batch_size].to(device)).float().cpu()
            for i in range(0, len(z), batch_size)
        ]
    finally:
        generator.train(was_training)
    if not out:
        c, s = generator.config.channels, generator.config.image_size
        return torch.empty((0, c, s, s))
    return torch.cat(out)


def image_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> Image.Image:
    """A PIL image of ``images`` (N, C, H, W) in [-1, 1] tiled ``nrow`` per row (default square)."""
    from torchvision.utils import make_grid

    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"expected images (N>=1, C, H, W), got {tuple(images.shape)}")
    nrow = nrow or max(1, math.ceil(math.sqrt(images.shape[0])))
    grid = make_grid(images.float().clamp(-1, 1) * 0.5 + 0.5, nrow=nrow, padding=padding)
    arr = grid.mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    if images.shape[1] == 1:
        return Image.fromarray(arr[:, :, 0], mode="L")
    return Image.fromarray(arr, mode="RGB")


def save_grid(images: torch.Tensor, path: str | os.PathLike, nrow: int | None = None) -> Path:
    """Write ``image_grid(images)`` as a PNG, atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        image_grid(images, nrow).save(tmp, format="PNG")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
