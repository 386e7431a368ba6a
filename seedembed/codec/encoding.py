"""An encoding: the seeds of some images plus what is needed to check they decode right."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from seedembed.codec import format as fmt
from seedembed.errors import FormatError
from seedembed.train.checkpoint import atomic_write_bytes


@dataclass(eq=False)
class Encoding:
    """Seeds (N, n) for N images, tied to one model by its fingerprint.

    ``bits`` is the exact payload per image, what the .seed file spends on it (n seeds of
    ceil(log2 m) bits); the header (model fingerprint, PRF spec, geometry, names) is shared
    by all the images of a file.
    """

    seeds: torch.Tensor
    fingerprint: str
    prf_spec: str
    geometry: tuple[int, int, int]
    bits_per_seed: int
    names: list[str] | None = None
    #: search diagnostics, not stored in files
    strategy: str | None = field(default=None, compare=False)
    image_mse: torch.Tensor | None = field(default=None, compare=False, repr=False)
    seconds: float | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        self.seeds = torch.as_tensor(self.seeds, dtype=torch.int64)
        if self.seeds.ndim == 1:
            self.seeds = self.seeds[:, None]
        self.geometry = tuple(int(v) for v in self.geometry)  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        """Same stored content: seeds, model, PRF, geometry, bits and names."""
        if not isinstance(other, Encoding):
            return NotImplemented
        return torch.equal(self.seeds, other.seeds) and (
            self.fingerprint,
            self.prf_spec,
            self.geometry,
            self.bits_per_seed,
            self.names,
        ) == (other.fingerprint, other.prf_spec, other.geometry, other.bits_per_seed, other.names)

    __hash__ = None  # type: ignore[assignment]  # mutable, holds a tensor

    @property
    def weights(self) -> None:
        """Weighted seeds (noise composition) are not part of format version 1."""
        return None

    @property
    def n_images(self) -> int:
        return int(self.seeds.shape[0])

    @property
    def bits(self) -> int:
        """Payload bits per image."""
        return int(self.seeds.shape[1]) * self.bits_per_seed

    def to_bytes(self) -> bytes:
        return fmt.dumps(
            fmt.SeedFile(
                fingerprint=self.fingerprint,
                prf_spec=self.prf_spec,
                geometry=self.geometry,
                seeds=self.seeds.numpy().astype(np.uint64),
                bits_per_seed=self.bits_per_seed,
                names=self.names,
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Encoding:
        f = fmt.loads(data)
        if int(f.seeds.max(initial=0)) >= 2**63:
            raise FormatError(".seed file holds a seed beyond 2^63")
        return cls(
            seeds=torch.from_numpy(f.seeds.astype(np.int64)),
            fingerprint=f.fingerprint,
            prf_spec=f.prf_spec,
            geometry=f.geometry,
            bits_per_seed=f.bits_per_seed,
            names=f.names,
        )

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the .seed file atomically; an existing file is kept unless ``overwrite``."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise FormatError(f"{path} exists; refusing to overwrite it (use --force)")
        data = self.to_bytes()
        try:
            atomic_write_bytes(data, path)
        except OSError as exc:
            raise FormatError(f"cannot write {path}: {exc.strerror or exc}") from None
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Encoding:
        path = Path(path)
        try:
            size = path.stat().st_size
            if size > 2**31:
                raise FormatError(f"{path}: {size} bytes is too large for a .seed file")
            data = path.read_bytes()
        except OSError as exc:
            raise FormatError(f"cannot read {path}: {exc.strerror or exc}") from None
        try:
            return cls.from_bytes(data)
        except FormatError as exc:
            raise FormatError(f"{path}: {exc}") from None
