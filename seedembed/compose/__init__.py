"""Noise composition: an image stored as n weighted seeds, ``z = sum_i w_i PRF(s_i)``.

    >>> comp = pursue(latents, table, n=10, weight_bits=8, method="omp")   # doctest: +SKIP
    >>> z = comp.latents(prf, length)                                      # doctest: +SKIP

:mod:`.pursuit` finds the seeds (matching pursuit over the PRF table), :mod:`.quant` stores the
weights (a float16 scale and k-bit codes per image), :mod:`.latent` rebuilds the latent bit for
bit. ``Codec.encode(images, compose=n, weight_bits=k)`` is the front door.
"""

from seedembed.compose.encoder import ComposeSettings, compose_images
from seedembed.compose.latent import composed_latents
from seedembed.compose.pursuit import METHODS, Composition, pursue, refine_weights
from seedembed.compose.quant import (
    MAX_WEIGHT_BITS,
    MIN_WEIGHT_BITS,
    SCALE_BITS,
    check_compose,
    check_weight_bits,
    dequantize,
    payload_bits,
    quantize,
    scale_for,
)

__all__ = [
    "MAX_WEIGHT_BITS",
    "METHODS",
    "MIN_WEIGHT_BITS",
    "SCALE_BITS",
    "ComposeSettings",
    "Composition",
    "check_compose",
    "check_weight_bits",
    "compose_images",
    "composed_latents",
    "dequantize",
    "payload_bits",
    "pursue",
    "quantize",
    "refine_weights",
    "scale_for",
]
