"""Linear congruential generator latents, x_{n+1} = (a x_n + c) mod m, seed = x_0.

The recurrence runs in int64 (exact while (m-1)^2 + m < 2^63, i.e. m <= 3,037,000,499; larger
moduli fall back to Python integers). A state x is normalised to the latent symbol
(2x - (m-1)) / (m-1), one correctly rounded float64 division, so 0 -> -1 and m-1 -> 1 on every
machine. This module also holds the LCG analyses: Hull-Dobell, cycle structure, spectral test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from seedembed.errors import PrfError
from seedembed.prf.base import Prf, SeedsLike, as_float64_rows, as_seed_array, check_length

#: Largest modulus for which a*x + c stays inside int64.
INT64_SAFE_M = 3_037_000_499
#: Largest modulus whose states a float64 symbol still tells apart (used by invert).
MAX_INVERT_M = 2**52


class Lcg(Prf):
    """LCG latent code with parameters (a, c, m); the seed space is range(m)."""

    family = "lcg"
    invertible = True

    def __init__(self, a: int, c: int, m: int, *, name: str | None = None) -> None:
        for key, value in (("a", a), ("c", c), ("m", m)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise PrfError(f"LCG parameter {key} must be an integer, got {value!r}")
        a, c, m = int(a), int(c), int(m)
        if m <= 1:
            raise PrfError(f"LCG modulus m must be > 1, got {m}")
        if not 0 <= a < m:
            raise PrfError(f"LCG multiplier a must be in [0, m) = [0, {m}), got {a}")
        if not 0 <= c < m:
            raise PrfError(f"LCG increment c must be in [0, m) = [0, {m}), got {c}")
        self.a, self.c, self.m = a, c, m
        self.name = name

    @property
    def spec(self) -> str:
        return f"lcg:a={self.a},c={self.c},m={self.m}"

    @property
    def size(self) -> int:
        return self.m

    # -- the recurrence ---------------------------------------------------------------------
    def states(self, seeds: SeedsLike, length: int) -> np.ndarray:
        """Integer states x_0 .. x_{length-1} of each seed, shape (N, length)."""
        length = check_length(length)
        x = as_seed_array(seeds, self.m)
        if self.m <= INT64_SAFE_M:
            out = np.empty((x.size, length), dtype=np.int64)
            x = x.astype(np.int64)
        else:
            out = np.empty((x.size, length), dtype=object)
            x = x.astype(object)
        for j in range(length):
            out[:, j] = x
            x = (self.a * x + self.c) % self.m
        return out

    def normalize(self, states: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Integer states -> float64 symbols (2x - (m-1)) / (m-1) in [-1, 1]."""
        if isinstance(states, torch.Tensor):
            return (2 * states - (self.m - 1)).to(torch.float64) / (self.m - 1)
        num = 2 * np.asarray(states) - (self.m - 1)
        return num.astype(np.float64) / (self.m - 1)

    def denormalize(self, symbols: np.ndarray | torch.Tensor) -> np.ndarray:
        """Float symbols -> real-valued states (x = (v + 1)(m - 1) / 2), not rounded."""
        v = as_float64_rows(symbols) if not np.isscalar(symbols) else np.float64(symbols)
        return (v + 1.0) * (self.m - 1) / 2.0

    def _sequences_f64(self, seeds: np.ndarray, length: int) -> np.ndarray:
        return self.normalize(self.states(seeds, length))

    def sequences(self, seeds, length, *, dtype=torch.float32, device=None) -> torch.Tensor:
        length = check_length(length)
        arr = as_seed_array(seeds, self.m)
        if self.m > INT64_SAFE_M:
            return super().sequences(arr, length, dtype=dtype, device=device)
        x = torch.from_numpy(arr.astype(np.int64)).to(device)
        return self._run(x, length, dtype)

    def _table(self, length: int, *, dtype: torch.dtype, device) -> torch.Tensor:
        if self.m > INT64_SAFE_M:
            return super()._table(length, dtype=dtype, device=device)
        x = torch.arange(self.m, dtype=torch.int64, device=device)
        return self._run(x, length, dtype)

    def _run(self, x: torch.Tensor, length: int, dtype: torch.dtype) -> torch.Tensor:
        """Vectorised recurrence over all seeds at once, no loop over seeds.

        Per symbol: normalise the int64 states in a float64 buffer ((2x - (m-1)) is exact, then
        one correctly rounded division), write the column, advance the states in place.
        """
        out = torch.empty((x.numel(), length), dtype=dtype, device=x.device)
        x = x.clone()
        buf = torch.empty(x.shape, dtype=torch.float64, device=x.device)
        scale = float(self.m - 1)
        for j in range(length):
            buf.copy_(x)
            out[:, j].copy_(buf.mul_(2.0).sub_(self.m - 1).div_(scale))
            if j + 1 < length:
                x.mul_(self.a).add_(self.c).remainder_(self.m)
        return out

    def invert(self, sequences: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Seeds from sequences: the first symbol, denormalised and rounded to a state.

        Exact for sequences this PRF produced: in float64 while m <= 2^52 (larger moduli are
        refused: a float64 symbol no longer determines the state), in float32 while
        m <= 2^24 (a float32 symbol then sits within 2^-25 of its true value, well inside half
        a state). Only the first symbol is read; noisy latents need a seed search instead.
        """
        if self.m > MAX_INVERT_M:
            raise PrfError(
                f"{self.spec}: with m > 2^52 a float symbol does not determine the state, "
                "so the seed cannot be recovered from the latent"
            )
        rows = as_float64_rows(sequences)
        states = np.rint((rows[:, 0] + 1.0) * (self.m - 1) / 2.0)
        return torch.from_numpy(np.clip(states, 0, self.m - 1).astype(np.int64))


# -- analyses ---------------------------------------------------------------------------------
def _prime_factors(n: int) -> list[int]:
    factors, p = [], 2
    while p * p <= n:
        if n % p == 0:
            factors.append(p)
            while n % p == 0:
                n //= p
        p += 1
    if n > 1:
        factors.append(n)
    return factors


@dataclass
class HullDobell:
    """The Hull-Dobell theorem: an LCG has full period m iff all three conditions hold."""

    c_coprime_m: bool
    primes_divide_a_minus_1: bool
    four_divides_a_minus_1_if_four_divides_m: bool
    failing_primes: list[int] = field(default_factory=list)

    @property
    def full_period(self) -> bool:
        return (
            self.c_coprime_m
            and self.primes_divide_a_minus_1
            and self.four_divides_a_minus_1_if_four_divides_m
        )


def hull_dobell(a: int, c: int, m: int) -> HullDobell:
    """Check the three Hull-Dobell conditions for (a, c, m)."""
    primes = _prime_factors(m)
    failing = [p for p in primes if (a - 1) % p != 0]
    return HullDobell(
        c_coprime_m=math.gcd(c, m) == 1,
        primes_divide_a_minus_1=not failing,
        four_divides_a_minus_1_if_four_divides_m=(m % 4 != 0) or ((a - 1) % 4 == 0),
        failing_primes=failing,
    )


#: Largest modulus whose cycle structure is computed (a few int64 arrays of m entries).
MAX_CYCLE_M = 2**26


@dataclass
class CycleStructure:
    """Cycles of the map x -> (a x + c) mod m over all m states."""

    cycle_lengths: dict[int, int]  # cycle length -> number of cycles of that length
    tail_states: int  # states not on any cycle (only when gcd(a, m) > 1)

    @property
    def n_cycles(self) -> int:
        return sum(self.cycle_lengths.values())

    @property
    def longest(self) -> int:
        return max(self.cycle_lengths)


def cycle_structure(a: int, c: int, m: int) -> CycleStructure:
    """Cycle structure of the LCG map, by pointer doubling over all m states (no state loop).

    After K doublings with 2^K >= m, f^(2^K)(x) lies on a cycle for every x, and the minimum
    over x's first 2^K successors labels that cycle; counting states per label gives lengths.
    """
    if m > MAX_CYCLE_M:
        raise PrfError(f"cycle structure is computed for m <= {MAX_CYCLE_M:,}, got m = {m:,}")
    states = np.arange(m, dtype=np.int64)
    jump = (a * states + c) % m
    label = np.minimum(states, jump)
    for _ in range(max(1, math.ceil(math.log2(m)))):
        label = np.minimum(label, label[jump])
        jump = jump[jump]
    on_cycle = np.zeros(m, dtype=bool)
    on_cycle[jump] = True
    _, counts = np.unique(label[on_cycle], return_counts=True)
    lengths, n = np.unique(counts, return_counts=True)
    return CycleStructure(
        cycle_lengths={int(k): int(v) for k, v in zip(lengths, n, strict=True)},
        tail_states=int(m - on_cycle.sum()),
    )


@dataclass
class SpectralTest2D:
    """Knuth's two-dimensional spectral test (TAOCP vol. 2, 3.3.4).

    Pairs (x_n, x_{n+1}) / m lie on parallel lines 1/nu2 apart; mu2 = pi nu2^2 / m is Knuth's
    figure of merit (>= 0.1 passes, >= 1 is very good). The lattice is independent of c.
    """

    nu2: float
    shortest_dual_vector: tuple[int, int]
    mu2: float

    @property
    def line_spacing(self) -> float:
        return 1.0 / self.nu2


def spectral_test_2d(a: int, m: int) -> SpectralTest2D:
    """Shortest non-zero (u1, u2) with u1 + a u2 = 0 (mod m), by Lagrange-Gauss reduction."""
    u, v = (m, 0), (-(a % m), 1)

    def norm2(w: tuple[int, int]) -> int:
        return w[0] * w[0] + w[1] * w[1]

    if norm2(u) < norm2(v):
        u, v = v, u
    while True:
        # v is the shorter vector; reduce u against v exactly (integer arithmetic)
        dot = u[0] * v[0] + u[1] * v[1]
        q = (2 * dot + norm2(v)) // (2 * norm2(v))  # round(dot / |v|^2)
        u = (u[0] - q * v[0], u[1] - q * v[1])
        if norm2(u) >= norm2(v):
            break
        u, v = v, u
    nu2 = math.sqrt(norm2(v))
    return SpectralTest2D(nu2=nu2, shortest_dual_vector=v, mu2=math.pi * norm2(v) / m)
