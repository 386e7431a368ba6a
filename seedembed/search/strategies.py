"""Image -> seed: the four search strategies behind one call, :func:`find_seeds`.

* ``neighbourhood``: the thesis' search (slide 15): the inverse generator's first symbol,
  denormalised, guesses a seed s0; the seeds in [s0 - eps, s0 + eps] are ranked by latent MSE.
* ``latent``: the exact argmin of the latent MSE over all m seeds.
* ``image``: the exact argmin of the image MSE over all m seeds, against the cached codebook.
* ``hybrid``: the ``latent`` top-k re-ranked by image MSE (renders k images per query; no cache).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import nn

from seedembed import prf as prf_mod
from seedembed.errors import PrfError, SearchError
from seedembed.prf.base import MAX_TABLE_VALUES
from seedembed.search.codebook import (
    MAX_CODEBOOK_BYTES,
    check_seed_space,
    exact_fp32,
    generator_on,
    load_codebook,
    render,
)
from seedembed.search.image import search_codebook
from seedembed.search.kernels import pick_best, smallest_k, sqdist_rows

STRATEGIES = ("image", "hybrid", "latent", "neighbourhood")
_ALIASES = {"neighborhood": "neighbourhood"}
#: strategies that read the inverse generator's latents
NEEDS_LATENTS = ("hybrid", "latent", "neighbourhood")
#: rows re-ranked exactly after the latent GEMM pass
LATENT_RERANK = 8
#: images rendered per generator call in hybrid re-ranking and MSE reporting
RENDER_BATCH = 4096


@dataclass
class SearchResult:
    """Seeds found for N images, with the errors that chose them.

    ``image_mse`` compares G(seed) with the image on the [-1, 1] scale; ``latent_mse`` compares
    the seed's PRF latent with the given latents (None when no latents were given).
    """

    seeds: torch.Tensor
    image_mse: torch.Tensor
    latent_mse: torch.Tensor | None
    strategy: str
    seconds: float
    info: dict = field(default_factory=dict)


def find_seeds(
    images: torch.Tensor,
    *,
    generator: nn.Module,
    prf: prf_mod.Prf | str,
    strategy: str,
    latents: torch.Tensor | None = None,
    fingerprint: str | None = None,
    eps: int = 2000,
    topk: int = 64,
    cache_dir=None,
    device: torch.device | str = "cpu",
    batch: int | None = None,
    progress: bool = False,
    certify: bool = True,
    build: bool = True,
) -> SearchResult:
    """The seed of each image (N, C, H, W) in [-1, 1] under ``strategy`` (see module doc).

    ``latents`` (N, L) are the inverse generator's output (needed by all but ``image``).
    ``topk`` is the shortlist: hybrid's latent candidates, image's pre-filter candidates.
    ``batch`` is the query block of the chunked products (default: sized for the device).
    ``image`` loads (or, with ``build``, builds) the codebook of ``fingerprint`` in
    ``cache_dir``; with ``certify`` its answer is the exact argmin for every image.
    Bad input raises :class:`SearchError` with a one-line message.
    """
    t0 = time.perf_counter()
    strategy = _ALIASES.get(strategy, strategy) if isinstance(strategy, str) else strategy
    if strategy not in STRATEGIES:
        raise SearchError(f"unknown search strategy {strategy!r} (known: {', '.join(STRATEGIES)})")
    prf = _get_prf(prf)
    dev = _device(device)
    cfg = generator.config
    queries = _check_images(images, cfg)
    z = _check_latents(latents, len(queries), cfg.latent_length, strategy)
    eps, topk = _check_int("eps", eps, 0), _check_int("topk", topk, 1)
    if batch is not None:
        batch = _check_int("batch", batch, 1)
    if strategy == "image":
        check_seed_space(prf, strategy, MAX_CODEBOOK_BYTES // (4 * queries.shape[1]))
    elif strategy != "neighbourhood":
        check_seed_space(prf, strategy, MAX_TABLE_VALUES // cfg.latent_length)
    queries = queries.to(dev)
    z = z.to(dev) if z is not None else None
    info: dict = {"device": str(dev), "queries": len(queries)}
    gen = generator_on(generator, dev)
    latent_mse = None
    with torch.no_grad(), exact_fp32():
        if len(queries) == 0:
            seeds = torch.zeros(0, dtype=torch.long, device=dev)
            image_mse = torch.zeros(0, device=dev)
            latent_mse = torch.zeros(0, device=dev) if z is not None else None
        elif strategy == "image":
            if fingerprint is None:
                fingerprint = _fingerprint(generator, prf)
            tb = time.perf_counter()
            book = load_codebook(
                generator, prf, fingerprint, cache_dir, device=dev, build=build, progress=progress
            )
            info["codebook_seconds"] = time.perf_counter() - tb
            seeds, dist, stats = search_codebook(
                queries, book, shortlist=topk, batch=batch, certify=certify
            )
            info.update(
                certified=stats.certified, widened=stats.widened, exhaustive=stats.exhaustive
            )
            image_mse = dist / queries.shape[1]
        elif strategy == "neighbourhood":
            seeds, ldist = _neighbourhood(z, prf, eps, dev)
            latent_mse = ldist / z.shape[1]
            image_mse = _image_mse(gen, prf, seeds, queries, dev)
        else:
            k = 1 if strategy == "latent" else topk
            ldist, cand = latent_topk(z, prf, k, batch=batch)
            if strategy == "latent":
                seeds, latent_mse = cand[:, 0], ldist[:, 0] / z.shape[1]
                image_mse = _image_mse(gen, prf, seeds, queries, dev)
            else:
                seeds, dist, pos = _rerank_rendered(gen, prf, cand, queries, dev)
                image_mse = dist / queries.shape[1]
                latent_mse = ldist.gather(1, pos[:, None]).squeeze(1) / z.shape[1]
        if z is not None and latent_mse is None:
            seqs = prf.sequences(seeds.cpu(), z.shape[1], device=dev)
            latent_mse = (seqs - z).square().mean(1)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return SearchResult(
        seeds.cpu(),
        image_mse.float().cpu(),
        None if latent_mse is None else latent_mse.float().cpu(),
        strategy,
        time.perf_counter() - t0,
        info,
    )


# -- the strategies -----------------------------------------------------------------------------
_TABLES: dict[tuple[str, int, str], tuple[torch.Tensor, torch.Tensor]] = {}


def seed_table(prf: prf_mod.Prf, length: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Every seed's latent (m, L) and its squared norm on ``device`` (kept for the process)."""
    key = (prf.spec, length, str(device))
    if key not in _TABLES:
        check_seed_space(prf, "latent", MAX_TABLE_VALUES // length)
        table = prf.table(length, device=device)
        _TABLES.clear()
        _TABLES[key] = (table, table.square().sum(1))
    return _TABLES[key]


def latent_topk(
    z: torch.Tensor, prf: prf_mod.Prf, k: int, *, batch: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The k seeds of least latent squared distance to each row of z, exactly re-ranked.

    Returns (squared distances, seeds), both (N, k), ascending; ties go to the smaller seed.
    """
    table, sq = seed_table(prf, z.shape[1], z.device)
    _, idx = smallest_k(z, table, sq, max(k, LATENT_RERANK), batch=batch)
    dist = sqdist_rows(z, table[idx])
    # sort by (distance, seed): a stable sort on seed first, then on distance
    order = idx.argsort(1)
    dist, idx = dist.gather(1, order), idx.gather(1, order)
    order = dist.argsort(dim=1, stable=True)[:, :k]
    return dist.gather(1, order), idx.gather(1, order)


def _neighbourhood(
    z: torch.Tensor, prf: prf_mod.Prf, eps: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """The thesis' search, vectorised: each query's window of 2 eps + 1 seeds at once."""
    if not prf.invertible:
        raise SearchError(f"neighbourhood search needs an invertible PRF; {prf.spec} is not")
    try:
        s0 = prf.invert(z.clamp(-1, 1)).to(device)
    except PrfError as exc:
        raise SearchError(f"neighbourhood search: {exc}") from None
    size, length = prf.size, z.shape[1]
    use_table = size is not None and size * length <= 2**27
    table = seed_table(prf, length, device)[0] if use_table else None
    offsets = torch.arange(-eps, eps + 1, device=device)
    block = max(1, 2**20 // len(offsets))
    seeds = torch.empty(len(z), dtype=torch.long, device=device)
    dist = torch.empty(len(z), device=device)
    for s in range(0, len(z), block):
        window = s0[s : s + block, None] + offsets
        valid = window >= 0 if size is None else (window >= 0) & (window < size)
        window = window.clamp(0, None if size is None else size - 1)
        if table is not None:
            seqs = table[window]
        else:
            seqs = prf.sequences(window.reshape(-1).cpu(), length, device=device)
            seqs = seqs.view(*window.shape, length)
        d = sqdist_rows(z[s : s + block], seqs).masked_fill_(~valid, float("inf"))
        dist[s : s + block], seeds[s : s + block] = pick_best(d, window)
    return seeds, dist


def _rerank_rendered(
    gen: nn.Module, prf: prf_mod.Prf, cand: torch.Tensor, queries: torch.Tensor, device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Render each query's candidate seeds and keep the least image distance.

    Returns (seeds, squared distances, position of the winner in ``cand``).
    """
    n, k = cand.shape
    block = max(1, RENDER_BATCH // k)
    dist = torch.empty((n, k), device=device)
    for s in range(0, n, block):
        c = cand[s : s + block]
        imgs = render(gen, prf, c.reshape(-1), device).view(len(c), k, -1)
        dist[s : s + block] = sqdist_rows(queries[s : s + block], imgs)
    best, seeds = pick_best(dist, cand)
    pos = (cand == seeds[:, None]).int().argmax(1)
    return seeds, best, pos


def _image_mse(gen, prf, seeds: torch.Tensor, queries: torch.Tensor, device) -> torch.Tensor:
    out = torch.empty(len(seeds), device=device)
    for s in range(0, len(seeds), RENDER_BATCH):
        imgs = render(gen, prf, seeds[s : s + RENDER_BATCH], device)
        out[s : s + RENDER_BATCH] = (imgs - queries[s : s + RENDER_BATCH]).square().mean(1)
    return out


# -- validation ---------------------------------------------------------------------------------
def _get_prf(prf) -> prf_mod.Prf:
    try:
        return prf_mod.get(prf)
    except PrfError as exc:
        raise SearchError(str(exc)) from None


def _device(device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise SearchError(f"unknown device {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SearchError("device 'cuda' asked for, but no CUDA device is available")
    return dev


def _check_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SearchError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


def _check_images(images, cfg) -> torch.Tensor:
    """Flattened fp32 images (N, D), or SearchError on anything outside the model's geometry."""
    want = (cfg.channels, cfg.image_size, cfg.image_size)
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        kind = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
        raise SearchError(f"images must be a float tensor (N, C, H, W), got {kind}")
    if images.ndim != 4 or tuple(images.shape[1:]) != want:
        raise SearchError(
            f"images must have shape (N, {want[0]}, {want[1]}, {want[2]}) for this model, "
            f"got {tuple(images.shape)}"
        )
    x = images.detach().float().flatten(1)
    if len(x) and not torch.isfinite(x).all():
        raise SearchError("images contain NaN or infinite values")
    if len(x) and (x.min() < -1.001 or x.max() > 1.001):
        raise SearchError(
            f"images must be in [-1, 1], got values in [{x.min():.3g}, {x.max():.3g}]"
        )
    return x


def _check_latents(latents, n: int, length: int, strategy: str) -> torch.Tensor | None:
    if latents is None:
        if strategy in NEEDS_LATENTS:
            raise SearchError(f"strategy {strategy!r} needs latents (the inverse generator's)")
        return None
    if not isinstance(latents, torch.Tensor) or not latents.is_floating_point():
        raise SearchError("latents must be a float tensor (N, L)")
    if latents.ndim != 2 or tuple(latents.shape) != (n, length):
        raise SearchError(f"latents must have shape ({n}, {length}), got {tuple(latents.shape)}")
    if not torch.isfinite(latents).all():
        raise SearchError("latents contain NaN or infinite values")
    return latents.detach().float()


def _fingerprint(generator: nn.Module, prf: prf_mod.Prf) -> str:
    """The fingerprint of a generator object (what ``load_generator`` reports for its file)."""
    from seedembed.codec.fingerprint import model_fingerprint

    return model_fingerprint(generator.state_dict(), generator.config.to_dict(), prf.spec)
