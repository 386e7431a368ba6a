"""The architecture of a GAN as a small dataclass that round-trips through JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from seedembed.errors import ModelError


def checked_dict(cls: type, data: Any, what: str) -> dict[str, Any]:
    """``data`` as a dict of ``cls``'s fields, or :class:`ModelError` naming ``what``.

    Unknown keys are refused: a typo in a config must not be silently dropped.
    """
    if not isinstance(data, dict):
        raise ModelError(f"{what} must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - {f.name for f in fields(cls)})
    if unknown:
        raise ModelError(f"unknown {what} keys: {', '.join(unknown)}")
    return dict(data)


def resolution_plan(image_size: int) -> tuple[int, int]:
    """(start resolution, number of 2x upsamplings) for a square image size.

    The generator starts at s0 in [3, 7] and doubles n >= 1 times: 28 = 7 * 2^2,
    64 = 4 * 2^4, 32 = 4 * 2^3. Sizes that do not factor so raise :class:`ModelError`.
    """
    s0, n = image_size, 0
    while s0 > 7 and s0 % 2 == 0:
        s0, n = s0 // 2, n + 1
    if n < 1 or s0 < 3 or s0 > 7:
        raise ModelError(f"image size {image_size} is not s0 * 2^n with s0 in 3..7 and n >= 1")
    return s0, n


#: generator architectures: the DCGAN (default), the StyleGAN-style one (models/style.py) and
#: the fully connected one (models/mlp.py)
GENERATORS = ("dcgan", "style", "mlp")


@dataclass(frozen=True)
class GanConfig:
    """A generator/discriminator pair: DCGAN-style by default, or ``generator="style"``.

    ``g_width``/``d_width`` are the channel counts at full resolution; each halving of the
    resolution doubles them. Width 64 (the DCGAN default) is kept for MNIST too: it trains
    60,000 images in about 40 s on a 2-core CPU at batch 128 (benchmarks/train_throughput.py),
    inside the 2-minute goal with room for a busy machine; width 32 is 2.3x faster.
    ``minibatch_std`` gives D StyleGAN's minibatch standard deviation: one extra feature, the
    spread of each group of 4 images, so that D sees a collapsed batch as fake; the style
    generator collapses without it. ``generator`` and ``minibatch_std`` are left out of
    :meth:`to_dict` at their defaults, so the configs, and therefore the fingerprints, of every
    model made before the options existed stay the same.
    """

    image_size: int = 28
    channels: int = 1
    latent_length: int = 25
    g_width: int = 64
    d_width: int = 64
    spectral_norm: bool = True
    generator: str = "dcgan"
    minibatch_std: bool = False

    def __post_init__(self) -> None:
        for name in ("image_size", "channels", "latent_length", "g_width", "d_width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ModelError(f"{name} must be an integer >= 1, got {value!r}")
        if self.channels not in (1, 3):
            raise ModelError(f"channels must be 1 (grey) or 3 (RGB), got {self.channels}")
        for name in ("spectral_norm", "minibatch_std"):
            if not isinstance(getattr(self, name), bool):
                raise ModelError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.generator not in GENERATORS:
            raise ModelError(
                f"generator must be one of {', '.join(GENERATORS)}, got {self.generator!r}"
            )
        if self.generator == "style" and self.g_width < 2:
            raise ModelError(f"the style generator needs g_width >= 2, got {self.g_width}")
        resolution_plan(self.image_size)

    @classmethod
    def mnist(cls, **overrides: Any) -> GanConfig:
        """28x28 grey, 25-symbol latent (the thesis' MNIST setting)."""
        return cls(**{"image_size": 28, "channels": 1, "latent_length": 25, **overrides})

    @classmethod
    def anime(cls, **overrides: Any) -> GanConfig:
        """64x64 RGB, 100-symbol latent, DCGAN width 64 (the thesis' anime setting)."""
        base = {"image_size": 64, "channels": 3, "latent_length": 100}
        return cls(**{**base, **overrides})

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["generator"] == "dcgan":  # the configs of older models had no such key
            del data["generator"]
        if not data["minibatch_std"]:
            del data["minibatch_std"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GanConfig:
        """Build from a dict, rejecting unknown keys."""
        return cls(**checked_dict(cls, data, "model config"))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GanConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(f"model config is not valid JSON: {exc}") from None
        return cls.from_dict(data)
