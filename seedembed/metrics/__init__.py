"""Image-quality metrics, per image, on images in [0, 1].

SSIM is torchmetrics' (11x11 Gaussian window, sigma 1.5, the Wang et al. setting that
../shared/reference/numbers.md uses). MSE is given on both scales because the thesis' MNIST
tables use the [-1, 1] scale of a tanh generator: MSE[-1,1] = 4 MSE[0,1].
"""

from __future__ import annotations

import torch
from torchmetrics.functional.image import structural_similarity_index_measure


def _check(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"need two (N, C, H, W) batches of one shape, got {x.shape}, {y.shape}")


def mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image MSE on the [0, 1] scale, shape (N,)."""
    _check(x, y)
    return (x.float() - y.float()).pow(2).flatten(1).mean(1)


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB for images in [0, 1] (inf for identical images)."""
    return -10.0 * torch.log10(mse(x, y))


def ssim(x: torch.Tensor, y: torch.Tensor, *, crop: int = 0) -> torch.Tensor:
    """Per-image SSIM, 11x11 Gaussian window, sigma 1.5, data range 1.

    ``crop`` = 0 averages the SSIM map over the whole image (torchmetrics). ``crop`` = 5
    averages it over the interior only, as skimage's ``structural_similarity`` does (it drops
    (win_size - 1) / 2 pixels at each edge); ../shared/reference/numbers.md measured its limits
    that way. On MNIST the black borders score 1, so the whole-image mean reads higher (0.81
    against 0.75 for the nearest training image).
    """
    _check(x, y)
    _, full = structural_similarity_index_measure(
        x.float(),
        y.float(),
        gaussian_kernel=True,
        sigma=1.5,
        kernel_size=11,
        data_range=1.0,
        reduction="none",
        return_full_image=True,
    )
    if crop:
        full = full[..., crop:-crop, crop:-crop]
    return full.flatten(1).mean(1)
