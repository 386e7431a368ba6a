"""Noise composition: an image's latent as n weighted PRF sequences, found by matching pursuit.

The dictionary is the model's PRF table, every seed's latent sequence (m atoms of length L).
Starting from a target latent (the inverse generator's guess), each step picks the seed whose
sequence best matches the residual (one chunked matrix product over all m seeds, as in DDCM and
SeedLM), gives it a weight and subtracts it:

* ``mp``: greedy matching pursuit; each weight is fixed when its seed is picked.
* ``omp``: orthogonal matching pursuit; after each pick every weight is re-fitted by least
  squares on the seeds picked so far.

Weights are quantised inside the loop (:mod:`seedembed.compose.quant`): the residual is what
the stored, quantised weights leave, so what the encoder optimised is what a decoder rebuilds.

Beyond the thesis, ``candidates > 1`` makes the pursuit image-aware: each step keeps the
``candidates`` best-matching seeds and takes the one whose composed latent gives the least
image error through the generator; :func:`refine_weights` then fits the weights in image space.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from seedembed import prf as prf_mod
from seedembed.compose.latent import composed_latents
from seedembed.compose.quant import (
    check_compose,
    check_weight_bits,
    dequantize,
    quantize,
    scale_for,
)
from seedembed.errors import SearchError
from seedembed.search.kernels import block_sizes, chunk_smallest

METHODS = ("mp", "omp")
#: latents rendered per generator call when candidates are judged in image space
RENDER_BATCH = 2048

Render = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Composition:
    """n weighted seeds per image, as stored: seeds, k-bit codes and a float16 scale each."""

    seeds: torch.Tensor  # (N, n) int64
    codes: torch.Tensor  # (N, n) int64, |code| <= 2^(k-1) - 1
    scales: torch.Tensor  # (N,) float16
    weight_bits: int

    def weights(self) -> torch.Tensor:
        """The float64 weights (N, n) a decoder uses."""
        return dequantize(self.codes, self.scales, self.weight_bits)

    def latents(self, prf: prf_mod.Prf, length: int) -> torch.Tensor:
        return composed_latents(prf, self.seeds, self.weights(), length)


def largest_dot(
    queries: torch.Tensor, rows: torch.Tensor, k: int, *, batch: int | None = None
) -> torch.Tensor:
    """Indices (N, k) of the rows with the largest |q . row| for each query, best first."""
    device = queries.device
    n, m = queries.shape[0], rows.shape[0]
    k = max(1, min(k, m))
    qblock, chunk = block_sizes(device, n, batch)
    out = torch.empty((n, k), dtype=torch.long, device=device)
    for qs in range(0, n, qblock):
        q = queries[qs : qs + qblock]
        best_v = best_i = None
        for cs in range(0, m, chunk):
            s = torch.mm(q, rows[cs : cs + chunk].T).abs_().neg_()
            v, i = chunk_smallest(s, k)
            if best_v is not None:
                v, i = torch.cat([best_v, v], 1), torch.cat([best_i, i + cs], 1)
                v, j = torch.topk(v, k, dim=1, largest=False, sorted=False)
                best_v, best_i = v, i.gather(1, j)
            else:
                best_v, best_i = v, i + cs
        order = best_v.argsort(dim=1, stable=True)
        out[qs : qs + len(q)] = best_i.gather(1, order)
    return out


def _fresh(idx: torch.Tensor, chosen: torch.Tensor, count: int) -> torch.Tensor:
    """The first ``count`` entries of each row of idx that are not already chosen."""
    if chosen.shape[1] == 0:
        return idx[:, :count]
    taken = (idx[:, :, None] == chosen[:, None, :]).any(2)
    order = taken.int().argsort(dim=1, stable=True)
    return idx.gather(1, order)[:, :count]


def _fit(
    method: str,
    table: torch.Tensor,
    target: torch.Tensor,
    residual: torch.Tensor,
    seeds: torch.Tensor,
    codes: torch.Tensor,
    scales: torch.Tensor,
    k: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(codes, scales) after adding the last seed of ``seeds`` to a composition."""
    if method == "mp":
        atom = table[seeds[:, -1]]
        w = (residual * atom).sum(1) / atom.square().sum(1).clamp_min(1e-12)
        if codes.shape[1] == 0:
            scales = scale_for(w[:, None])
        return torch.cat([codes, quantize(w[:, None], scales, k)], 1), scales
    atoms = table[seeds].double().transpose(1, 2)  # (N, L, i)
    w = torch.linalg.lstsq(atoms, target.double()[:, :, None]).solution[:, :, 0]
    scales = scale_for(w)
    return quantize(w, scales, k), scales


def _approx_latents(table: torch.Tensor, seeds, codes, scales, k: int) -> torch.Tensor:
    """Float32 composed latents for ranking (the stored ones come from composed_latents)."""
    w = dequantize(codes, scales, k).to(table.dtype)
    return torch.einsum("ni,nil->nl", w, table[seeds])


def image_errors(render: Render, latents: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Per-image MSE of render(latents) against flattened images in [-1, 1]."""
    out = torch.empty(len(latents), device=images.device)
    for s in range(0, len(latents), RENDER_BATCH):
        got = render(latents[s : s + RENDER_BATCH]).flatten(1)
        out[s : s + RENDER_BATCH] = (got - images[s : s + RENDER_BATCH]).square().mean(1)
    return out


def pursue(
    targets: torch.Tensor,
    table: torch.Tensor,
    n: int,
    weight_bits: int,
    *,
    method: str = "mp",
    candidates: int = 1,
    render: Render | None = None,
    images: torch.Tensor | None = None,
    batch: int | None = None,
) -> Composition:
    """Compose each target latent (N, L) from n rows of ``table`` (m, L) with k-bit weights.

    With ``candidates > 1`` (image-aware), ``render`` maps latents to images and ``images``
    (N, D) on [-1, 1] are what the candidates are judged against.
    """
    n, k = check_compose(n), check_weight_bits(weight_bits)
    if method not in METHODS:
        raise SearchError(f"unknown composition method {method!r} (known: {', '.join(METHODS)})")
    if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 1:
        raise SearchError(f"candidates must be an integer >= 1, got {candidates!r}")
    if candidates > 1 and (render is None or images is None):
        raise SearchError("image-aware composition (candidates > 1) needs the generator")
    if n > len(table):
        raise SearchError(f"compose={n} asks for more seeds than the seed space holds")
    device = table.device
    z = targets.to(device, torch.float32)
    count = len(z)
    unit = table / table.norm(dim=1, keepdim=True).clamp_min(1e-12)
    seeds = torch.zeros((count, 0), dtype=torch.long, device=device)
    codes = torch.zeros((count, 0), dtype=torch.long, device=device)
    scales = torch.zeros(count, dtype=torch.float16)
    current = torch.zeros_like(z)
    for i in range(n):
        residual = z - current
        idx = largest_dot(residual, unit, candidates + i, batch=batch)
        cand = _fresh(idx, seeds, candidates)
        best_err = best = None
        for j in range(cand.shape[1]):
            s_j = torch.cat([seeds, cand[:, j : j + 1]], 1)
            c_j, sc_j = _fit(method, table, z, residual, s_j, codes, scales, k)
            lat = _approx_latents(table, s_j, c_j, sc_j, k)
            aware = candidates > 1
            err = image_errors(render, lat, images) if aware else (z - lat).square().sum(1)
            if best is None:
                best_err, best = err, (s_j, c_j, sc_j, lat)
                continue
            better = err < best_err
            best_err = torch.where(better, err, best_err)
            cpu_better = better.cpu()
            best = (
                torch.where(better[:, None], s_j, best[0]),
                torch.where(better[:, None], c_j, best[1]),
                torch.where(cpu_better, sc_j, best[2]),
                torch.where(better[:, None], lat, best[3]),
            )
        seeds, codes, scales, current = best
    return Composition(seeds.cpu(), codes.cpu(), scales.cpu(), k)


def refine_weights(
    comp: Composition,
    table: torch.Tensor,
    generator: torch.nn.Module,
    images: torch.Tensor,
    errors: Callable[[Composition], torch.Tensor],
    *,
    steps: int = 100,
    lr: float = 0.01,
    block: int = 1024,
) -> Composition:
    """Fit the weights of fixed seeds in image space (Adam through G), re-quantise, and keep
    per image whichever of the old and new stored weights ``errors`` (exact decoded image
    error per image) prefers: refinement never makes an image worse."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise SearchError(f"refinement steps must be an integer >= 0, got {steps!r}")
    if steps == 0:
        return comp
    device = table.device
    k = comp.weight_bits
    new_w = []
    for s in range(0, len(images), block):
        atoms = table[comp.seeds[s : s + block].to(device)]
        x = images[s : s + block]
        w = comp.weights()[s : s + block].to(device, torch.float32).requires_grad_(True)
        opt = torch.optim.Adam([w], lr=lr)
        for _ in range(steps):
            out = generator(torch.einsum("ni,nil->nl", w, atoms)).flatten(1)
            loss = (out - x).square().mean(1).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        new_w.append(w.detach())
    w = torch.cat(new_w)
    scales = scale_for(w)
    refined = Composition(comp.seeds, quantize(w, scales, k).cpu(), scales, k)
    better = (errors(refined) < errors(comp)).cpu()
    return Composition(
        comp.seeds,
        torch.where(better[:, None], refined.codes, comp.codes),
        torch.where(better, refined.scales, comp.scales),
        k,
    )
