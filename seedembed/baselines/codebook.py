"""One-index codebooks: k-means centroids of the training digits, or the training digits
themselves. The payload is one index per image, log2(size) bits.

k-means here is plain Lloyd in torch, set up like the faiss run of
../shared/reference/numbers.md: random initial centroids (k distinct training digits, fixed
seed), at most 15 iterations of assign-then-update, stopping early at a fixed point (an
assignment that repeats the previous one), where the remaining iterations would change nothing.
Assignment is one GEMM per block of points, argmin of ``||c||^2 - 2 x.c`` (``||x||^2`` is added
back for the inertia). An empty cluster is re-seeded deterministically with the point that
currently has the largest error (farthest first, ties by index), which keeps the inertia
non-increasing and every centroid in use. On this project's CPU (one thread, beside another
job) an iteration of k = 29282 over the 60,000 digits costs about 35 s.

Centroids are cached as float32, not uint8: a centroid is a mean of digits, and the float32
values are what Lloyd converged to and what the limits of numbers.md were measured with. uint8
would save 69 of the 92 MB of k = 29282 and raise the test MSE by 0.7e-6 (k = 5101) and 5.4e-6
(k = 29282), measured; a cache affords the 92 MB.

Encoding is exact nearest-neighbour: the GEMM shortlists the ``RERANK`` closest rows and their
squared distances are recomputed as sums of squared differences, so float cancellation in
``||x||^2 - 2 x.c + ||c||^2`` never picks a farther row (a training digit is its own nearest).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from seedembed.baselines import SHAPES, Baseline, dataset_of
from seedembed.errors import ModelError

#: training settings of the cached k-means codebooks (recorded in each artefact's JSON)
DEFAULTS: dict[str, Any] = {
    "iterations": 15,
    "seed": 0,
    "init": "random: k distinct training digits (torch.randperm, fixed seed)",
    "empty_clusters": "re-seeded with the points of largest current error",
    "stop_when_converged": True,
}
#: floats of one distance block (rows x centroids), about 64 MB
BLOCK = 1 << 24
#: candidates whose distance is recomputed exactly when encoding
RERANK = 8


def _rows_per_block(k: int) -> int:
    return max(1, min(1024, BLOCK // max(k, 1)))


@torch.no_grad()
def assign(
    x: torch.Tensor, centroids: torch.Tensor, c_sqnorm: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest centroid of every row of ``x`` (n, D) by one GEMM per block of rows, and the
    squared distance ``||x||^2 - 2 x.c + ||c||^2`` (clamped at 0)."""
    if c_sqnorm is None:
        c_sqnorm = centroids.pow(2).sum(1)
    ct = centroids.t()
    index = torch.empty(len(x), dtype=torch.int64, device=x.device)
    dist = torch.empty(len(x), dtype=torch.float32, device=x.device)
    for start in range(0, len(x), _rows_per_block(len(centroids))):
        xb = x[start : start + _rows_per_block(len(centroids))]
        d = torch.addmm(c_sqnorm, xb, ct, beta=1, alpha=-2)
        values, idx = d.min(1)
        index[start : start + len(xb)] = idx
        dist[start : start + len(xb)] = (values + xb.pow(2).sum(1)).clamp_(min=0)
    return index, dist


@torch.no_grad()
def kmeans(
    x: torch.Tensor,
    k: int,
    *,
    iterations: int = 15,
    seed: int = 0,
    stop_when_converged: bool = True,
    progress: Callable[[str], Any] | None = None,
) -> tuple[torch.Tensor, list[float], int]:
    """Lloyd's k-means of the rows of ``x`` (n, D), at most ``iterations`` rounds.

    Returns the (k, D) float32 centroids, the inertia (sum of squared distances of the points
    to their assigned centroid) measured at each iteration's assignment (non-increasing), and
    how many empty clusters were re-seeded in all. When an assignment repeats the previous one
    (and nothing was re-seeded) the centroids are a fixed point, so the remaining rounds would
    reproduce them bit for bit; ``stop_when_converged`` skips them (the history is then
    shorter than ``iterations``).
    """
    x = x.float().contiguous()
    n = len(x)
    if not 2 <= k <= n:
        raise ModelError(f"k-means needs 2 <= k <= {n} (the training points), got k = {k}")
    if iterations < 1:
        raise ModelError(f"k-means needs at least one iteration, got {iterations}")
    gen = torch.Generator().manual_seed(seed)
    centroids = x[torch.randperm(n, generator=gen)[:k]].clone()
    inertia: list[float] = []
    reseeded = 0
    previous: torch.Tensor | None = None
    for it in range(iterations):
        index, dist = assign(x, centroids)
        inertia.append(dist.double().sum().item())
        if stop_when_converged and previous is not None and torch.equal(index, previous):
            if progress is not None:
                progress(f"kmeans-{k} converged at iteration {it + 1}: assignment unchanged")
            break
        counts = torch.bincount(index, minlength=k)
        sums = torch.zeros_like(centroids).index_add_(0, index, x)
        used = counts > 0
        centroids[used] = sums[used] / counts[used].unsqueeze(1).float()
        empty = (~used).nonzero().flatten()
        previous = index
        if len(empty):
            # farthest points first; a stable sort makes equal errors go by index
            order = torch.sort(dist, descending=True, stable=True).indices[: len(empty)]
            centroids[empty] = x[order]
            reseeded += len(empty)
            previous = None  # the moved centroids must be assigned once more
        if progress is not None:
            progress(
                f"kmeans-{k} iteration {it + 1}/{iterations}: MSE {inertia[-1] / x.numel():.5f}, "
                f"{len(empty)} empty clusters re-seeded"
            )
    return centroids, inertia, reseeded


def train_kmeans(
    x: torch.Tensor,
    k: int,
    *,
    progress: Callable[[str], Any] | None = None,
    device: torch.device | str = "cpu",
    **settings: Any,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """k-means of flattened training images (run on ``device``); the artefact's tensors (on
    the CPU) and JSON details."""
    unknown = set(settings) - {"iterations", "seed", "stop_when_converged"}
    if unknown:
        raise ModelError(f"unknown k-means settings: {', '.join(sorted(unknown))}")
    cfg = {**DEFAULTS, **settings}
    centroids, inertia, reseeded = kmeans(
        x.to(device),
        k,
        iterations=int(cfg["iterations"]),
        seed=int(cfg["seed"]),
        stop_when_converged=bool(cfg["stop_when_converged"]),
        progress=progress,
    )
    details = {
        "k": k,
        "bits": math.log2(k),
        "bits_ceil": math.ceil(math.log2(k)),
        "settings": cfg,
        "dtype": "float32",
        "iterations_run": len(inertia),
        "inertia_per_iteration": inertia,
        "train_mse_per_iteration": [v / x.numel() for v in inertia],
        "empty_clusters_reseeded": reseeded,
    }
    return {"centroids": centroids.cpu()}, details


class CodebookBaseline(Baseline):
    """One index per image into a (k, C H W) codebook; bits = log2 k."""

    def __init__(self, name: str, codebook: torch.Tensor, info: dict[str, Any] | None = None):
        self.shape = SHAPES[dataset_of(name)]
        dim = math.prod(self.shape)
        if codebook.ndim != 2 or codebook.shape[1] != dim or len(codebook) < 2:
            raise ModelError(
                f"{name}: a codebook must be (k >= 2, {dim}), got {tuple(codebook.shape)}"
            )
        self.name, self.info = name, info or {}
        self.codebook = codebook.float().contiguous()
        self.sqnorm = self.codebook.pow(2).sum(1)
        self.bits = math.log2(len(codebook))

    @property
    def size(self) -> int:
        return len(self.codebook)

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Index of the nearest codebook row (squared error) of every image."""
        x = images.float().reshape(len(images), -1)
        ct = self.codebook.t()
        top = min(RERANK, self.size)
        out = torch.empty(len(x), dtype=torch.int64)
        rows = _rows_per_block(self.size)
        for start in range(0, len(x), rows):
            xb = x[start : start + rows]
            d = torch.addmm(self.sqnorm, xb, ct, beta=1, alpha=-2)
            cand = d.topk(top, dim=1, largest=False, sorted=True).indices
            exact = (xb.unsqueeze(1) - self.codebook[cand]).pow(2).sum(2)
            out[start : start + len(xb)] = cand.gather(1, exact.argmin(1, keepdim=True)).squeeze(1)
        return out

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        codes = torch.as_tensor(codes, dtype=torch.int64)
        if len(codes) and (codes.min() < 0 or codes.max() >= self.size):
            raise ModelError(f"{self.name}: indices must lie in [0, {self.size})")
        return self.codebook[codes].view(len(codes), *self.shape)


class KMeansBaseline(CodebookBaseline):
    """``kmeans-<k>``: the index of the nearest k-means centroid."""

    @classmethod
    def from_artefact(
        cls, name: str, tensors: dict[str, torch.Tensor], info: dict[str, Any]
    ) -> KMeansBaseline:
        centroids = tensors.get("centroids")
        if centroids is None or len(centroids) != int(info.get("k", -1)):
            raise ModelError(f"the cached codebook of {name} does not hold k centroids")
        return cls(name, centroids, info)


class NearestTrainBaseline(CodebookBaseline):
    """``nearest-train``: the index of the nearest training digit (returned exactly)."""


def nearest_train(
    data_root: str | None = None, *, limit: int | None = None, dataset: str = "mnist"
) -> NearestTrainBaseline:
    """The training images as a codebook (``limit``: the first ones only)."""
    from seedembed.baselines import DATA_NOTES, training_images

    train = training_images(dataset, data_root, limit)
    name = "nearest-train" if dataset == "mnist" else "anime-nearest-train"
    info = {"kind": "nearest", "n_train": len(train), "data": DATA_NOTES[dataset]}
    return NearestTrainBaseline(name, train.flatten(1), info)
