"""The latent a weighted seed list stands for: ``z = w_1 PRF(s_1) + ... + w_n PRF(s_n)``.

Computed in float64 numpy, one term at a time in the stored order, each product and sum
rounded once: the same bits on every machine (no fused or reordered reductions), rounded to
float32 only at the end. Encoders and decoders both call :func:`composed_latents`, so the latent
an encoder judged is exactly the one a decoder rebuilds.
"""

from __future__ import annotations

import numpy as np
import torch

from seedembed import prf as prf_mod


def composed_latents(
    prf: prf_mod.Prf, seeds: torch.Tensor, weights: torch.Tensor, length: int
) -> torch.Tensor:
    """Float32 latents (N, length) of seeds (N, n) with float64 weights (N, n)."""
    n_img, n = seeds.shape
    seqs = prf.sequences(seeds.reshape(-1).cpu(), length, dtype=torch.float64).numpy()
    seqs = seqs.reshape(n_img, n, length)
    w = weights.detach().cpu().to(torch.float64).numpy()
    z = np.zeros((n_img, length), dtype=np.float64)
    for i in range(n):
        term = np.multiply(w[:, i : i + 1], seqs[:, i])
        z = np.add(z, term)
    return torch.from_numpy(z.astype(np.float32))
