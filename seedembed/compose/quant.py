"""The weights of a composition as the .seed file stores them: a per-image scale and k-bit codes.

``w_i = scale * q_i / (2^(k-1) - 1)`` with integer codes ``q_i`` in ``[-(2^(k-1) - 1),
2^(k-1) - 1]`` (symmetric, so 0 and +-scale are exact) and ``scale`` a float16. Decoding is
float64 arithmetic on those stored integers, so every machine gets the same weights, bit for
bit. A weight beyond the scale is clamped to it: the encoder's residual sees the clamped value.
"""

from __future__ import annotations

import numpy as np
import torch

from seedembed.errors import SearchError

MIN_WEIGHT_BITS, MAX_WEIGHT_BITS = 2, 16
#: bits of the per-image scale (an IEEE float16)
SCALE_BITS = 16
#: the most seeds per image a file can hold (one unsigned byte)
MAX_COMPOSE = 255


def check_weight_bits(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not MIN_WEIGHT_BITS <= k <= MAX_WEIGHT_BITS:
        raise SearchError(
            f"weight bits must be an integer in [{MIN_WEIGHT_BITS}, {MAX_WEIGHT_BITS}], got {k!r}"
        )
    return k


def check_compose(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_COMPOSE:
        raise SearchError(f"compose must be an integer in [1, {MAX_COMPOSE}], got {n!r}")
    return n


def levels(k: int) -> int:
    """The largest code magnitude of k-bit weights."""
    return 2 ** (k - 1) - 1


def payload_bits(n: int, bits_per_seed: int, k: int) -> int:
    """Exact bits per image of n weighted seeds: n (seed + code) + one scale."""
    return n * (bits_per_seed + k) + SCALE_BITS


def scale_for(weights: torch.Tensor) -> torch.Tensor:
    """Per row the float16 scale covering every |weight| (the max, rounded up to float16)."""
    peak = weights.detach().abs().amax(1).double().cpu().numpy()
    half = peak.astype(np.float16)
    low = half.astype(np.float64) < peak
    half[low] = np.nextafter(half[low], np.float16(np.inf))
    half = np.minimum(half, np.finfo(np.float16).max)
    return torch.from_numpy(half)


def quantize(weights: torch.Tensor, scales: torch.Tensor, k: int) -> torch.Tensor:
    """Integer codes (N, n) of weights (N, n) under per-row float16 scales (N,)."""
    top = levels(k)
    s = scales.to(torch.float64).to(weights.device)[:, None]
    q = torch.where(s > 0, weights.double() / s.clamp_min(1e-300) * top, torch.zeros_like(s))
    return q.round().clamp_(-top, top).long()


def dequantize(codes: torch.Tensor, scales: torch.Tensor, k: int) -> torch.Tensor:
    """Float64 weights (N, n) of stored codes and scales: the one formula decoding uses."""
    s = scales.to(torch.float16).to(torch.float64).to(codes.device)[:, None]
    return s * codes.to(torch.float64) / levels(k)
