"""Exact image-space nearest seed over a codebook: a certified pre-filter, then exact re-rank.

A full search costs 2 N m D flops (8.2 TFLOP for the 10,000 MNIST test digits against 524,287
seeds: about 90 s on a 2-core CPU). The pre-filter searches the (d + 1)-dimensional codes of
:func:`seedembed.search.codebook.project` instead, whose squared distance LB(q, c) is a lower
bound on ||q - c||^2. The k codes with the least LB are re-ranked with the exact fp32 distance;
if the best exact distance is at most the k-th LB, no row outside the shortlist can beat it, so
the answer is the exact argmin (certified). Queries that are not certified are searched
exhaustively. The result therefore equals the brute-force argmin, at a fraction of its cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seedembed.search.codebook import Codebook
from seedembed.search.kernels import pick_best, smallest_k, sqdist_rows

#: rows re-ranked exactly after an exhaustive GEMM pass (covers the formula's rounding)
EXHAUSTIVE_RERANK = 8


#: how much wider the second shortlist of uncertified queries is
WIDEN = 16

#: CPU codebooks above this size (bytes of images) are searched by one exhaustive pass in one
#: query block, so the rows are read once, in order (the 24 GiB anime codebook does not stay in
#: the page cache; random row reads of shortlists made its search I/O-bound)
STREAM_BYTES = 4 * 2**30


@dataclass
class ImageSearchStats:
    """How the queries were answered: certified by the first shortlist, by the widened one,
    or exhaustively (the last two only with ``certify``)."""

    queries: int
    certified: int
    widened: int
    exhaustive: int
    shortlist: int


def exhaustive(
    queries: torch.Tensor,
    images: torch.Tensor,
    image_sqnorms: torch.Tensor,
    *,
    batch: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Brute force: (seeds, exact squared distances) of the nearest rows, by full-D GEMM."""
    _, idx = smallest_k(queries, images, image_sqnorms, EXHAUSTIVE_RERANK, batch=batch)
    return _rerank(queries, images, idx)


def _rerank(
    queries: torch.Tensor, images: torch.Tensor, idx: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact fp32 distances of each query to its candidate rows; (seeds, distances) of the best."""
    seeds = torch.empty(len(queries), dtype=torch.long, device=queries.device)
    dist = torch.empty(len(queries), device=queries.device)
    k = idx.shape[1]
    block = max(1, 2**24 // (k * queries.shape[1]))  # 64 MB of candidate rows at a time
    for s in range(0, len(queries), block):
        ib = idx[s : s + block]
        rows = images.index_select(0, ib.reshape(-1).to(images.device)).to(queries.device)
        d = sqdist_rows(queries[s : s + block], rows.view(len(ib), k, -1))
        dist[s : s + block], seeds[s : s + block] = pick_best(d, ib)
    return seeds, dist


def _shortlist(
    queries: torch.Tensor, book: Codebook, k: int, batch: int | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pre-filter k rows, re-rank them exactly: (seeds, squared distances, certified)."""
    codes, code_sq = book.project(queries)
    lb, idx = smallest_k(codes, book.codes, book.code_sqnorms, k, batch=batch)
    seeds, dist = _rerank(queries, book.images, idx)
    if idx.shape[1] >= book.count:
        return seeds, dist, torch.ones_like(dist, dtype=torch.bool)
    # rounding of the GEMM formula, relative to the norms it cancels
    tol = 2e-6 * codes.shape[1] ** 0.5 * (code_sq + book.code_sqnorms.max().to(dist.device))
    return seeds, dist, dist <= lb[:, -1] - tol


def search_codebook(
    queries: torch.Tensor,
    book: Codebook,
    *,
    shortlist: int = 64,
    batch: int | None = None,
    certify: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, ImageSearchStats]:
    """Nearest seeds of flattened queries (N, D): (seeds, squared distances, stats).

    With ``certify`` (the default) the result is the exact argmin for every query: queries
    the shortlist does not certify get a :data:`WIDEN` times wider one, and those still
    uncertified an exhaustive pass. Without, every query keeps the best of its shortlist (its
    agreement with the exact argmin is measured by ``benchmarks/search.py``).
    """
    n = len(queries)
    if certify and book.images.device.type == "cpu" and book.images.nbytes > STREAM_BYTES:
        # rows that do not stay in the page cache: re-ranking shortlists reads them at random
        # (the widened one 1,024 rows per query, 48 KiB each for the faces), while one
        # exhaustive pass reads the file once, in order
        s3, d3 = exhaustive(queries, book.images, book.image_sqnorms, batch=batch or n)
        return s3, d3, ImageSearchStats(n, 0, 0, n, shortlist)
    seeds, dist, certified = _shortlist(queries, book, shortlist, batch)
    todo = (~certified).nonzero().squeeze(1)
    first = n - len(todo)
    widened = exhaustive_n = 0
    if certify and len(todo):
        widened = len(todo)
        s2, d2, c2 = _shortlist(queries[todo], book, shortlist * WIDEN, batch)
        seeds[todo], dist[todo] = s2, d2  # a superset of the first shortlist: never worse
        todo = todo[~c2]
        exhaustive_n = len(todo)
        if len(todo):
            s3, d3 = exhaustive(queries[todo], book.images, book.image_sqnorms, batch=batch)
            both_d = torch.stack([dist[todo], d3], 1)
            both_s = torch.stack([seeds[todo], s3], 1)
            dist[todo], seeds[todo] = pick_best(both_d, both_s)
    stats = ImageSearchStats(n, first, widened, exhaustive_n, shortlist)
    return seeds, dist, stats
