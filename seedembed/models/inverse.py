"""The inverse generator E: image (N, C, H, W) in [-1, 1] -> latent sequence (N, L) in [-1, 1].

E is the mirror of the DCGAN discriminator (stride-2 4x4 convolutions, leaky ReLU, each
halving of the resolution doubling the channels) with batch norm after every convolution but
the first, and a linear head to the ``latent_length`` symbols. It is trained by regression on
(G(z), z) pairs (:mod:`seedembed.train.inverse`) and its output seeds the seed search.

Output range: the head is linear and the result is **clamped** to [-1, 1], not squashed by a
tanh. Every target symbol lies in [-1, 1] (PRF symbols and U(-1, 1) latents), and clamping is the
projection onto that box, which never increases the distance to any point inside it; a tanh
would instead need unbounded pre-activations to reach the +-1 symbols an LCG emits and shrinks
the gradient exactly there. Training regresses the unclamped output (:meth:`raw`), so no
symbol ever sits in the zero-gradient region of a clamp.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from seedembed.errors import ModelError
from seedembed.models.config import checked_dict, resolution_plan
from seedembed.models.dcgan import _init_dcgan
from seedembed.models.summary import count_parameters


@dataclass(frozen=True)
class InverseConfig:
    """Architecture of an inverse generator; ``width`` = channels after the first convolution."""

    image_size: int = 28
    channels: int = 1
    latent_length: int = 25
    width: int = 32

    def __post_init__(self) -> None:
        for name in ("image_size", "channels", "latent_length", "width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ModelError(f"{name} must be an integer >= 1, got {value!r}")
        if self.channels not in (1, 3):
            raise ModelError(f"channels must be 1 (grey) or 3 (RGB), got {self.channels}")
        resolution_plan(self.image_size)

    @classmethod
    def for_generator(cls, gan_config: Any, width: int = 32) -> InverseConfig:
        """The inverse of a generator with this :class:`~seedembed.models.GanConfig`."""
        return cls(gan_config.image_size, gan_config.channels, gan_config.latent_length, width)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InverseConfig:
        """Build from a dict, rejecting unknown keys."""
        return cls(**checked_dict(cls, data, "inverse config"))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> InverseConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(f"inverse config is not valid JSON: {exc}") from None
        return cls.from_dict(data)


class InverseGenerator(nn.Module):
    """Image (N, C, H, W) in [-1, 1] -> latent sequence (N, latent_length) in [-1, 1]."""

    def __init__(self, config: InverseConfig) -> None:
        super().__init__()
        self.config = config
        s0, n = resolution_plan(config.image_size)
        layers: list[nn.Module] = []
        c_in, c = config.channels, config.width
        for i in range(n):
            # No batch norm on the first layer (as in DCGAN's discriminator): it would
            # normalise away the image's own contrast.
            layers.append(nn.Conv2d(c_in, c, 4, 2, 1, bias=i == 0))
            if i:
                layers.append(nn.BatchNorm2d(c))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c_in, c = c, c * 2
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(c_in * s0 * s0, config.latent_length)
        self.apply(_init_dcgan)

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """The unclamped latent estimate, what training regresses."""
        return self.head(self.body(x).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.raw(x).clamp(-1.0, 1.0)

    def parameter_count(self) -> int:
        return count_parameters(self)

    def describe(self) -> str:
        """One line for logs: architecture and size."""
        cfg = self.config
        return (
            f"inverse generator: {cfg.channels}x{cfg.image_size}x{cfg.image_size} -> "
            f"{cfg.latent_length} symbols, width {cfg.width}, "
            f"{self.parameter_count():,} parameters"
        )
