"""A fully connected generator: the "vanilla GAN" of Goodfellow et al. (2014) and of most MNIST
GAN tutorials, and the likeliest shape of the thesis' own (its slides name no architecture).

Latent (N, L) -> three hidden layers of 4, 8 and 16 x ``g_width`` units (256, 512, 1024 at
width 64) with leaky ReLU (0.2), batch norm on the second and third (as the PyTorch-GAN
``gan.py``: without it the first tries collapsed to a few digits) -> a linear layer to every
pixel -> tanh. There is no spatial prior: each codebook entry is a free combination of 1,024
learned images (docs/training.md, "A fully connected generator").
"""

from __future__ import annotations

from torch import Tensor, nn

from seedembed.models.config import GanConfig

HIDDEN = (4, 8, 16)  # hidden widths as multiples of g_width


class MlpGenerator(nn.Module):
    """Latent sequence (N, latent_length) in about [-1, 1] -> image (N, C, H, W) in [-1, 1]."""

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        c_in = config.latent_length
        for i, k in enumerate(HIDDEN):
            c = k * config.g_width
            layers += [nn.Linear(c_in, c, bias=i == 0)]
            layers += [nn.BatchNorm1d(c)] if i else []
            layers += [nn.LeakyReLU(0.2, inplace=True)]
            c_in = c
        self.shape = (config.channels, config.image_size, config.image_size)
        layers += [nn.Linear(c_in, config.channels * config.image_size**2), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.body(z).view(-1, *self.shape)
