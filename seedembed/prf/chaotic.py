"""Chaotic maps in float64: Henon, logistic and tent.

Seed s in range(2**bits) sets the initial state u = (s + 0.5) / 2**bits in (0, 1), which the
map's own affine transform takes into its domain; with ``burn=0`` (the default) the first
symbol is that state, so the map is invertible by rounding, as the thesis requires of a PRF.
Each map's states are normalised into [-1, 1] by a fixed affine map of its invariant interval.

Tent-map collapse: with mu = 2 every step x -> 2x or 2 - 2x is exact in binary floating point
and shifts one mantissa bit out, so any float64 start reaches the fixed point 0 within about
55 steps. mu must therefore be strictly below 2 (default 1.99999): the product then rounds,
the bits do not drain, and the orbit stays chaotic.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from seedembed.errors import PrfError
from seedembed.prf.base import Prf, as_float64_rows
from seedembed.prf.iid import _check_bits


def _check_real(name: str, value: object, lo: float, hi: float, *, hi_open=False) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise PrfError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < lo or v > hi or (hi_open and v >= hi):
        bound = f"[{lo}, {hi})" if hi_open else f"[{lo}, {hi}]"
        raise PrfError(f"{name} must be in {bound}, got {value!r}")
    return v


def _check_burn(burn: object) -> int:
    if isinstance(burn, bool) or not isinstance(burn, (int, np.integer)) or burn < 0:
        raise PrfError(f"burn must be an integer >= 0, got {burn!r}")
    return int(burn)


class _ChaoticMap(Prf):
    """Shared seed handling: seed -> u in (0, 1) -> initial state; burn-in; inversion."""

    #: interval [lo, hi] of the map's states that is scaled onto [-1, 1]
    lo: float = 0.0
    hi: float = 1.0
    #: interval the initial state x0 is drawn from (u in (0, 1) maps affinely onto it)
    init_lo: float = 0.0
    init_hi: float = 1.0

    def __init__(self, bits: int, burn: int) -> None:
        self.seed_bits = _check_bits(bits)
        self.burn = _check_burn(burn)

    @property
    def invertible(self) -> bool:  # type: ignore[override]
        return self.burn == 0

    @property
    def size(self) -> int:
        return 2**self.seed_bits

    def _u(self, seeds: np.ndarray) -> np.ndarray:
        return (seeds.astype(np.float64) + 0.5) / self.size

    def _scale(self, x: np.ndarray) -> np.ndarray:
        return np.clip(2.0 * (x - self.lo) / (self.hi - self.lo) - 1.0, -1.0, 1.0)

    def _initial(self, u: np.ndarray) -> np.ndarray:
        return self.init_lo + u * (self.init_hi - self.init_lo)

    def _sequences_f64(self, seeds: np.ndarray, length: int) -> np.ndarray:
        state = self._start(self._initial(self._u(seeds)))
        for _ in range(self.burn):
            state = self._step(state)
        out = np.empty((seeds.size, length), dtype=np.float64)
        for j in range(length):
            out[:, j] = self._scale(state[0])
            if j + 1 < length:
                state = self._step(state)
        return out

    def _start(self, x0: np.ndarray) -> tuple[np.ndarray, ...]:
        return (x0,)

    def _step(self, state: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        raise NotImplementedError

    def invert(self, sequences):
        """Seeds from the first symbol: unscale it to x0, then x0 -> u -> s = round(u 2^bits - 0.5).

        Exact in float64, and in float32 while bits <= 20 (the float32 error of a symbol,
        2^-25, stays far below half a seed step once scaled).
        """
        if self.burn:
            raise PrfError(f"{self.spec} has a burn-in, so its first symbol is not the seed")
        v = as_float64_rows(sequences)[:, 0]
        x0 = self.lo + (v + 1.0) / 2.0 * (self.hi - self.lo)
        u = (x0 - self.init_lo) / (self.init_hi - self.init_lo)
        s = np.rint(u * self.size - 0.5)
        return torch.from_numpy(np.clip(s, 0, self.size - 1).astype(np.int64))


class Henon(_ChaoticMap):
    """Henon map x_{n+1} = 1 - a x_n^2 + b x_{n-1} (default a = 1.4, b = 0.3).

    The start is (x_0, x_{-1}) = (x0, 0) with x0 in [-1, 1], inside the basin of the attractor
    for the classic parameters (every seed of the default 2^20 space was run for 1,000 steps
    without escaping; a test re-checks a subset). Starting at (x0, x0) instead lets about 1.5%
    of seeds near x0 = 0.97 escape to infinity. Symbols scale [-1.5, 1.5] onto [-1, 1] (the
    classic attractor spans about [-1.285, 1.273], so nothing is clipped there).
    """

    family = "henon"
    lo, hi = -1.5, 1.5
    init_lo, init_hi = -1.0, 1.0

    def __init__(self, a: float = 1.4, b: float = 0.3, bits: int = 20, burn: int = 0) -> None:
        self.a = _check_real("henon a", a, 0.0, 2.0)
        self.b = _check_real("henon b", b, -1.0, 1.0)
        super().__init__(bits, burn)

    @property
    def spec(self) -> str:
        return f"henon:a={self.a!r},b={self.b!r},bits={self.seed_bits},burn={self.burn}"

    def _start(self, x0):
        return (x0, np.zeros_like(x0))

    def _step(self, state):
        x, x_prev = state
        return (1.0 - self.a * x * x + self.b * x_prev, x)


class Logistic(_ChaoticMap):
    """Logistic map x_{n+1} = r x_n (1 - x_n) on (0, 1), default r = 4 (fully chaotic)."""

    family = "logistic"

    def __init__(self, r: float = 4.0, bits: int = 20, burn: int = 0) -> None:
        self.r = _check_real("logistic r", r, 0.0, 4.0)
        super().__init__(bits, burn)

    @property
    def spec(self) -> str:
        return f"logistic:r={self.r!r},bits={self.seed_bits},burn={self.burn}"

    def _step(self, state):
        (x,) = state
        return (self.r * x * (1.0 - x),)


class Tent(_ChaoticMap):
    """Tent map x_{n+1} = mu min(x_n, 1 - x_n) on (0, 1), mu in (1, 2) (default 1.99999)."""

    family = "tent"

    def __init__(self, mu: float = 1.99999, bits: int = 20, burn: int = 0) -> None:
        mu_f = _check_real("tent mu", mu, 1.0, 2.0, hi_open=True)
        if mu_f <= 1.0:
            raise PrfError(f"tent mu must be in (1, 2), got {mu!r}")
        self.mu = mu_f
        super().__init__(bits, burn)

    @property
    def spec(self) -> str:
        return f"tent:mu={self.mu!r},bits={self.seed_bits},burn={self.burn}"

    def _step(self, state):
        (x,) = state
        return (self.mu * np.minimum(x, 1.0 - x),)
