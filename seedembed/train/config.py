"""Everything that defines a GAN training run, as a dataclass that round-trips through JSON.

Runtime choices that do not change the trained weights' meaning (device, progress bar, how
often to log) live in :class:`RunOptions` and are not part of a checkpoint's identity.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from seedembed.errors import ModelError
from seedembed.models.config import GanConfig, checked_dict


def check_lr(lr: Any) -> None:
    """A learning rate must be a finite number > 0: 0 would train nothing, silently."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf:
        raise ModelError(f"lr must be a finite number > 0, got {lr!r}")


#: schedule name -> the latent kind of each pass of an epoch (see :mod:`.schedules`)
SCHEDULES: dict[str, tuple[str, ...]] = {
    "lcg": ("prf",),
    "2steps": ("uniform", "prf"),
    "lcg+noise": ("prf+noise",),
    "uniform": ("uniform",),
}


@dataclass(frozen=True)
class TrainConfig:
    """A GAN training run: data, latent code, schedule, optimiser and its seed.

    ``prf`` is a PRF spec (stored canonical); ``schedule`` one of :data:`SCHEDULES`;
    ``noise_scale`` the half-width s of the U(-s, s) noise of ``lcg+noise``; ``limit`` keeps
    only the first N images; ``ema_half_life`` is in images; ``batch_size`` is global (split
    over processes), so a run means the same with 1 or 8 GPUs.
    """

    model: GanConfig = field(default_factory=GanConfig)
    dataset: str = "mnist"
    prf: str = "lcg-524287"
    schedule: str = "2steps"
    noise_scale: float = 0.1
    epochs: int = 20
    batch_size: int = 128
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    ema_half_life: float = 10_000.0
    seed: int = 0
    limit: int | None = None
    sample_seeds: tuple[int, ...] = tuple(range(64))

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ModelError(f"unknown schedule {self.schedule!r} (known: {', '.join(SCHEDULES)})")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ModelError(f"{name} must be an integer >= 1, got {value!r}")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 1):
            raise ModelError(f"limit must be an integer >= 1, got {self.limit!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ModelError(f"seed must be an integer >= 0, got {self.seed!r}")
        for name in ("noise_scale", "lr", "ema_half_life"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ModelError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.lr == 0:
            raise ModelError("lr must be > 0")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ModelError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if not self.sample_seeds:
            raise ModelError("sample_seeds must name at least one seed")
        if self.model.generator == "mlp" and self.batch_size < 2:
            raise ModelError("the mlp generator's batch norm needs batch_size >= 2")

    @property
    def passes(self) -> tuple[str, ...]:
        return SCHEDULES[self.schedule]

    def replace(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["model"] = self.model.to_dict()
        data["betas"] = list(self.betas)
        data["sample_seeds"] = list(self.sample_seeds)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a dict; unknown keys raise :class:`ModelError`."""
        data = checked_dict(cls, data, "training config")
        if "model" in data:
            data["model"] = GanConfig.from_dict(data["model"])
        for key in ("betas", "sample_seeds"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise ModelError(f"training config is not valid JSON: {exc}") from None


@dataclass
class RunOptions:
    """How to run (not what to train): device, stopping point, logging, data location.

    ``max_steps`` stops after that many steps in total (counting steps before a resume);
    ``amp`` (bf16 autocast) defaults to on for CUDA and is never used on the CPU;
    ``checkpoint_every`` adds checkpoints every N steps to the one at each epoch's end.
    """

    device: str | None = None
    max_steps: int | None = None
    data_root: str | None = None
    amp: bool | None = None
    channels_last: bool | None = None
    log_every: int = 50
    checkpoint_every: int | None = None
    tensorboard: bool = True
    progress: bool = True
    samples: bool = True
    key: bytes | None = None
