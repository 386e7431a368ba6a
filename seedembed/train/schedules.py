"""Latent codes of the thesis' training schedules, drawn from any PRF.

Each schedule is a list of passes over the data per epoch (:data:`.config.SCHEDULES`), and each
pass draws its latents one way:

* ``prf``: seeds uniform in [0, prf.size), latents = the PRF sequences of those seeds. This is
  what the codec decodes, so it is what the generator must render well (schedule ``lcg``).
* ``uniform``: i.i.d. U(-1, 1) symbols, the continuous law the LCG symbols imitate (schedule
  ``uniform``; the first pass of ``2steps``, which teaches G the space between PRF points).
* ``prf+noise``: PRF sequences plus i.i.d. U(-s, s) noise, s = ``noise_scale`` (default 0.1),
  **not clamped**. Uniform noise keeps the perturbation bounded and of the same family as the
  symbols; s = 0.1 moves a 25-symbol latent by about 0.29 in L2 (s * sqrt(L / 3)), small beside
  the distance between two seeds' sequences (about 4 for i.i.d. U(-1, 1) symbols), so G learns
  to be smooth around each seed without mixing seeds. Clamping to [-1, 1] would pile
  probability mass exactly on +-1 (a point mass no seed produces); unclamped latents reach
  at most 1 + s, a margin the generator handles like any other input.

All draws use one ``torch.Generator`` whose state goes into checkpoints, so a resumed run draws
exactly what the uninterrupted run would have drawn.
"""

from __future__ import annotations

import torch

from seedembed import prf as prf_mod

#: the latent kinds a pass can draw
KINDS = ("prf", "uniform", "prf+noise")

#: largest PRF table (seeds x symbols) kept on a CUDA device to index instead of recomputing
MAX_DEVICE_TABLE = 2**27


class LatentSampler:
    """Draws (n, length) latents of one kind on ``device`` from a given generator."""

    def __init__(
        self,
        prf: prf_mod.Prf,
        length: int,
        noise_scale: float,
        device: torch.device | str = "cpu",
    ) -> None:
        self.prf = prf
        self.length = length
        self.noise_scale = float(noise_scale)
        self.device = torch.device(device)
        # The PRF's own size; an unbounded space is sampled over 2^62 seeds.
        self.size = prf.size if prf.size is not None else 2**62
        self.table: torch.Tensor | None = None
        if (
            self.device.type == "cuda"
            and prf.size is not None
            and prf.size * length <= MAX_DEVICE_TABLE
        ):
            # Indexing a resident table avoids a host round trip (and a sync) per step.
            self.table = prf.table(length, device=self.device)

    def seeds(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """n seeds uniform in [0, size), int64, on the generator's device."""
        return torch.randint(0, self.size, (n,), generator=gen, device=gen.device)

    def sequences(self, seeds: torch.Tensor) -> torch.Tensor:
        if self.table is not None:
            return self.table[seeds.to(self.device)]
        return self.prf.sequences(seeds, self.length, device=self.device)

    def uniform(self, n: int, gen: torch.Generator, scale: float = 1.0) -> torch.Tensor:
        u = torch.rand((n, self.length), generator=gen, device=gen.device)
        return u.mul_(2.0 * scale).sub_(scale).to(self.device)

    def __call__(self, kind: str, n: int, gen: torch.Generator) -> torch.Tensor:
        if kind == "uniform":
            return self.uniform(n, gen)
        if kind == "prf":
            return self.sequences(self.seeds(n, gen))
        if kind == "prf+noise":
            z = self.sequences(self.seeds(n, gen))
            return z + self.uniform(n, gen, self.noise_scale)
        raise ValueError(f"unknown latent kind {kind!r} (known: {', '.join(KINDS)})")
