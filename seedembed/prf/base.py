"""The interface every pseudorandom latent code implements.

A PRF maps an integer seed to a sequence of symbols in [-1, 1] that becomes a GAN latent. The
symbols are computed in integer or float64 arithmetic and only rounded to the requested dtype at
the end, so a seed gives the same latent on every machine (the test vectors pin this).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import torch

from seedembed.errors import PrfError

SeedsLike = int | Sequence[int] | np.ndarray | torch.Tensor

#: Largest table (rows x length) that :meth:`Prf.table` builds: 2**31 float32 values, 8 GiB.
MAX_TABLE_VALUES = 2**31


def as_seed_array(seeds: SeedsLike, size: int | None) -> np.ndarray:
    """Validate seeds and return them as a 1-D ``int64``/``uint64`` numpy array.

    Seeds must be integers (Python ints, integer numpy arrays or integer tensors) inside the
    seed space ``[0, size)``; anything else raises :class:`PrfError` rather than being
    silently rounded or wrapped.
    """
    if isinstance(seeds, torch.Tensor):
        if seeds.is_floating_point() or seeds.is_complex() or seeds.dtype == torch.bool:
            raise PrfError(f"seeds must be integers, got a tensor of dtype {seeds.dtype}")
        arr = seeds.detach().cpu().numpy().reshape(-1)
    elif isinstance(seeds, (bool, np.bool_)):
        raise PrfError("seeds must be integers, got a bool")
    elif isinstance(seeds, (int, np.integer)):
        arr = np.asarray([int(seeds)], dtype=object)
    else:
        arr = np.asarray(seeds)
        if arr.dtype == object or arr.dtype.kind not in "iu":
            items = arr.reshape(-1).tolist()
            bad = [s for s in items if isinstance(s, bool) or not isinstance(s, (int, np.integer))]
            if bad:
                raise PrfError(f"seeds must be integers, got {bad[0]!r}")
            arr = np.asarray([int(s) for s in items], dtype=object)
        arr = arr.reshape(-1)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or (size is not None and hi >= size):
        bound = f"[0, {size - 1}]" if size is not None else "[0, inf)"
        bad = lo if lo < 0 else hi
        raise PrfError(f"seed {bad} is outside the seed space {bound}")
    if hi < 2**63:
        return arr.astype(np.int64)
    if hi < 2**64:
        return arr.astype(np.uint64)
    raise PrfError(f"seed {hi} does not fit in 64 bits")


def check_length(length: int) -> int:
    """Return ``length`` as an int, or raise :class:`PrfError` if it is not an integer >= 1."""
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)):
        raise PrfError(f"length must be an integer >= 1, got {length!r}")
    if length < 1:
        raise PrfError(f"length must be an integer >= 1, got {length}")
    return int(length)


class Prf(ABC):
    """A pseudorandom function from integer seeds to latent sequences in [-1, 1].

    Subclasses implement :meth:`_sequences_f64` (float64 numpy, shape (N, length)); the
    public methods validate input and convert. Finite seed spaces expose ``size`` and
    :meth:`table`; invertible PRFs implement :meth:`invert`.
    """

    #: short family name used in spec strings ("lcg", "uniform", ...)
    family: str = ""
    #: True when :meth:`invert` recovers the seed from a sequence.
    invertible: bool = False

    @property
    @abstractmethod
    def spec(self) -> str:
        """Canonical spec string; ``seedembed.prf.get(prf.spec)`` rebuilds an equal PRF."""

    @property
    def size(self) -> int | None:
        """Number of seeds (the seed space is ``range(size)``), or None when unbounded."""
        return None

    @property
    def bits(self) -> float | None:
        """Bits needed to store one seed: log2(size)."""
        return None if self.size is None else math.log2(self.size)

    @property
    def stored_bits(self) -> int | None:
        """Bits a seed takes when bit-packed: ceil(log2(size))."""
        return None if self.size is None else max(1, math.ceil(math.log2(self.size)))

    @abstractmethod
    def _sequences_f64(self, seeds: np.ndarray, length: int) -> np.ndarray:
        """Float64 sequences (N, length) in [-1, 1] for validated seeds."""

    def sequences(
        self,
        seeds: SeedsLike,
        length: int,
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Latent sequences of the given seeds: a float tensor (N, length) in [-1, 1]."""
        length = check_length(length)
        arr = as_seed_array(seeds, self.size)
        out = self._sequences_f64(arr, length)
        return torch.from_numpy(np.ascontiguousarray(out)).to(dtype=dtype, device=device)

    def table(
        self,
        length: int,
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Every seed's sequence, row s for seed s: a tensor (size, length)."""
        length = check_length(length)
        if self.size is None:
            raise PrfError(f"{self.spec} has an unbounded seed space: it has no table")
        if self.size * length > MAX_TABLE_VALUES:
            raise PrfError(
                f"the table of {self.spec} at length {length} would hold "
                f"{self.size * length:,} values (limit {MAX_TABLE_VALUES:,})"
            )
        return self._table(length, dtype=dtype, device=device)

    def _table(self, length: int, *, dtype: torch.dtype, device) -> torch.Tensor:
        """Default table: the sequences of all seeds, in chunks to bound float64 memory."""
        assert self.size is not None
        out = torch.empty((self.size, length), dtype=dtype, device=device)
        chunk = max(1, 2**22 // length)
        for start in range(0, self.size, chunk):
            seeds = np.arange(start, min(self.size, start + chunk), dtype=np.int64)
            rows = torch.from_numpy(self._sequences_f64(seeds, length))
            out[start : start + len(seeds)] = rows.to(dtype=dtype, device=device)
        return out

    def invert(self, sequences: torch.Tensor | np.ndarray) -> torch.Tensor:
        """The seeds (int64 tensor, shape (N,)) whose sequences these are."""
        raise PrfError(f"{self.spec} is not invertible")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Prf) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash(self.spec)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"


def as_float64_rows(sequences: torch.Tensor | np.ndarray) -> np.ndarray:
    """Sequences given to :meth:`Prf.invert` as a float64 array (N, L), validated."""
    if isinstance(sequences, torch.Tensor):
        arr = sequences.detach().cpu().to(torch.float64).numpy()
    else:
        arr = np.asarray(sequences, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise PrfError(f"sequences must have shape (N, length >= 1), got {tuple(arr.shape)}")
    if not np.all(np.isfinite(arr)):
        raise PrfError("sequences contain NaN or infinite values")
    return arr
