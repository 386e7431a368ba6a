"""I.i.d. uniform and Gaussian latents, seeded and counter-addressed.

Symbol j of seed s is a hash of (s, j): SplitMix64's finaliser applied to s * 2^32 + j in
wrapping uint64 arithmetic. This is vectorised over every seed and symbol at once, independent
of numpy's generator streams, and bit-identical on every machine. Seeds live in
range(2**bits) (default 2**20 = 1,048,576 seeds, bits <= 32).
"""

from __future__ import annotations

import math

import numpy as np

from seedembed.errors import PrfError
from seedembed.prf.base import Prf

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 output function (Steele, Lea, Flood 2014) on a uint64 array."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def counter_uniform(seeds: np.ndarray, length: int, stream: int = 0) -> np.ndarray:
    """Float64 uniforms in (0, 1), shape (N, length): 53 hashed bits of (seed, stream, j)."""
    s = seeds.astype(np.uint64)[:, None] << np.uint64(32)
    j = np.arange(length, dtype=np.uint64)[None, :] | np.uint64(stream << 24)
    bits = splitmix64(s | j) >> np.uint64(11)
    return (bits.astype(np.float64) + 0.5) * 2.0**-53


def _check_bits(bits: object) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 32:
        raise PrfError(f"bits must be an integer in [1, 32], got {bits!r}")
    return int(bits)


class Uniform(Prf):
    """I.i.d. U(-1, 1) symbols: 2u - 1 with u the hashed uniform of (seed, position)."""

    family = "uniform"

    def __init__(self, bits: int = 20) -> None:
        self.seed_bits = _check_bits(bits)

    @property
    def spec(self) -> str:
        return f"uniform:bits={self.seed_bits}"

    @property
    def size(self) -> int:
        return 2**self.seed_bits

    def _sequences_f64(self, seeds: np.ndarray, length: int) -> np.ndarray:
        return 2.0 * counter_uniform(seeds, length) - 1.0


class Gaussian(Prf):
    """I.i.d. N(0, sigma^2) symbols clipped to [-1, 1].

    Box-Muller on two hashed uniforms in float64. The default sigma = 1/3 puts the clip at
    3 sigma, so 0.27% of symbols are clipped to +-1 and the rest are exactly Gaussian; the
    latent then has the same range as every other PRF here.
    """

    family = "gaussian"

    def __init__(self, bits: int = 20, sigma: float = 1.0 / 3.0) -> None:
        self.seed_bits = _check_bits(bits)
        sigma = float(sigma)
        if not (math.isfinite(sigma) and sigma > 0):
            raise PrfError(f"gaussian sigma must be a positive number, got {sigma}")
        self.sigma = sigma

    @property
    def spec(self) -> str:
        return f"gaussian:bits={self.seed_bits},sigma={self.sigma!r}"

    @property
    def size(self) -> int:
        return 2**self.seed_bits

    def _sequences_f64(self, seeds: np.ndarray, length: int) -> np.ndarray:
        u1 = counter_uniform(seeds, length, stream=1)
        u2 = counter_uniform(seeds, length, stream=2)
        z = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
        return np.clip(self.sigma * z, -1.0, 1.0)
