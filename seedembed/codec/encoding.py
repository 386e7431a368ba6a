"""An encoding: the seeds of some images plus what is needed to check they decode right."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from seedembed.codec import format as fmt
from seedembed.errors import CheckpointError, FormatError
from seedembed.train.checkpoint import atomic_write_bytes

#: largest .seed file read (parsing holds about 3.4x its size as int64 seeds)
MAX_FILE_BYTES = 256 * 2**20


@dataclass(eq=False)
class Encoding:
    """Seeds (N, n) for N images, tied to one model by its fingerprint.

    ``bits`` is the exact payload per image, what the .seed file spends on it: n seeds of
    ceil(log2 m) bits, plus, for weighted seeds (noise composition), a float16 scale and n
    codes of ``weight_bits`` bits. The header (model fingerprint, PRF spec, geometry, names)
    is shared by all the images of a file.
    """

    seeds: torch.Tensor
    fingerprint: str
    prf_spec: str
    geometry: tuple[int, int, int]
    bits_per_seed: int
    names: list[str] | None = None
    #: weighted seeds (noise composition): integer codes (N, n) and float16 scales (N,)
    codes: torch.Tensor | None = None
    scales: torch.Tensor | None = None
    weight_bits: int = 0
    #: search diagnostics, not stored in files
    strategy: str | None = field(default=None, compare=False)
    image_mse: torch.Tensor | None = field(default=None, compare=False, repr=False)
    seconds: float | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        self.seeds = torch.as_tensor(self.seeds, dtype=torch.int64)
        if self.seeds.ndim == 1:
            self.seeds = self.seeds[:, None]
        self.geometry = tuple(int(v) for v in self.geometry)  # type: ignore[assignment]
        if (self.codes is None) != (self.scales is None) or (self.codes is None) == bool(
            self.weight_bits
        ):
            raise FormatError("weighted seeds need codes, scales and weight bits together")
        if self.codes is not None:
            self.codes = torch.as_tensor(self.codes, dtype=torch.int64)
            self.scales = torch.as_tensor(self.scales).to(torch.float16)
            if self.codes.shape != self.seeds.shape or self.scales.shape != self.seeds.shape[:1]:
                raise FormatError("weight codes and scales do not match the seeds' shape")

    def __eq__(self, other: object) -> bool:
        """Same stored content: seeds, model, PRF, geometry, bits and names."""
        if not isinstance(other, Encoding):
            return NotImplemented
        if self.weighted != other.weighted:
            return False
        if self.weighted and not (
            torch.equal(self.codes, other.codes)
            and torch.equal(self.scales.view(torch.int16), other.scales.view(torch.int16))
        ):
            return False
        return torch.equal(self.seeds, other.seeds) and (
            self.fingerprint,
            self.prf_spec,
            self.geometry,
            self.bits_per_seed,
            self.names,
            self.weight_bits,
        ) == (
            other.fingerprint,
            other.prf_spec,
            other.geometry,
            other.bits_per_seed,
            other.names,
            other.weight_bits,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, holds a tensor

    @property
    def weighted(self) -> bool:
        return self.codes is not None

    @property
    def weights(self) -> torch.Tensor | None:
        """The float64 weights (N, n) of weighted seeds, exactly as decoding uses them."""
        if self.codes is None:
            return None
        from seedembed.compose.quant import dequantize

        return dequantize(self.codes, self.scales, self.weight_bits)

    @property
    def n_images(self) -> int:
        return int(self.seeds.shape[0])

    @property
    def bits(self) -> int:
        """Payload bits per image."""
        return fmt.image_bits(int(self.seeds.shape[1]), self.bits_per_seed, self.weight_bits)

    def to_bytes(self) -> bytes:
        return fmt.dumps(
            fmt.SeedFile(
                fingerprint=self.fingerprint,
                prf_spec=self.prf_spec,
                geometry=self.geometry,
                seeds=self.seeds.numpy().astype(np.uint64),
                bits_per_seed=self.bits_per_seed,
                names=self.names,
                scales=None if self.scales is None else self.scales.numpy(),
                codes=None if self.codes is None else self.codes.numpy(),
                weight_bits=self.weight_bits,
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
            codes=None if f.codes is None else torch.from_numpy(f.codes),
            scales=None if f.scales is None else torch.from_numpy(f.scales.copy()),
            weight_bits=f.weight_bits,
        )

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the .seed file atomically; an existing file is kept unless ``overwrite``."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise FormatError(f"{path} exists; refusing to overwrite it (use --force)")
        data = self.to_bytes()
        try:
            atomic_write_bytes(data, path)
        except CheckpointError as exc:  # the writer's one-line reason, as a format error
            raise FormatError(str(exc)) from None
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Encoding:
        path = Path(path)
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise FormatError(
                    f"{path}: {size} bytes is too large for a .seed file "
                    f"(limit {MAX_FILE_BYTES // 2**20} MiB, about 100 million 19-bit seeds)"
                )
            data = path.read_bytes()
        except OSError as exc:
            raise FormatError(f"cannot read {path}: {exc.strerror or exc}") from None
        try:
            return cls.from_bytes(data)
        except FormatError as exc:
            raise FormatError(f"{path}: {exc}") from None
