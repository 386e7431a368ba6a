"""Chunked nearest-neighbour kernels shared by the strategies.

Squared distances to many rows are ``||q||^2 + ||c||^2 - 2 q.c``: one GEMM per chunk of rows,
so the work runs at matrix-product speed and memory stays bounded. That formula cancels
digits, so callers re-rank the shortlist it returns with :func:`sqdist_rows`, the direct
sum of squared differences, which is what "exact fp32" means here.
"""

from __future__ import annotations

import torch

#: columns per group in :func:`chunk_smallest`
GROUP = 32


def block_sizes(device: torch.device, n_queries: int, batch: int | None) -> tuple[int, int]:
    """(query block, row chunk): cache-sized on CPU, large on a GPU."""
    if device.type == "cpu":
        return (batch or 512), 32768
    return (batch or max(1, min(n_queries, 10000))), 65536


def smallest_k(
    queries: torch.Tensor,
    rows: torch.Tensor,
    row_sqnorms: torch.Tensor,
    k: int,
    *,
    batch: int | None = None,
    offset: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The k rows nearest each query by the GEMM formula: (values, indices), ascending.

    ``rows`` may be a memory-mapped CPU tensor; chunks are moved to the queries' device.
    Indices are row numbers plus ``offset``.
    """
    device = queries.device
    n, m = queries.shape[0], rows.shape[0]
    k = max(1, min(k, m))
    qblock, chunk = block_sizes(device, n, batch)
    values = torch.empty((n, k), device=device)
    indices = torch.empty((n, k), dtype=torch.long, device=device)
    qsq = (queries * queries).sum(1, keepdim=True)
    for qs in range(0, n, qblock):
        q = queries[qs : qs + qblock]
        best_v = best_i = None
        for cs in range(0, m, chunk):
            c = rows[cs : cs + chunk].to(device, non_blocking=True)
            csq = row_sqnorms[cs : cs + chunk].to(device, non_blocking=True)
            s = torch.addmm(csq.unsqueeze(0), q, c.T, alpha=-2.0)
            v, i = chunk_smallest(s, k)
            i = i + cs
            if best_v is None:
                best_v, best_i = v, i
            else:
                v, i = torch.cat([best_v, v], 1), torch.cat([best_i, i], 1)
                if v.shape[1] > k:
                    v, j = torch.topk(v, k, dim=1, largest=False, sorted=False)
                    i = i.gather(1, j)
                best_v, best_i = v, i
        best_v, order = best_v.sort(1)
        values[qs : qs + len(q)] = best_v + qsq[qs : qs + len(q)]
        indices[qs : qs + len(q)] = best_i.gather(1, order) + offset
    return values, indices


def chunk_smallest(
    s: torch.Tensor, k: int, group: int = GROUP
) -> tuple[torch.Tensor, torch.Tensor]:
    """The k smallest entries of each row of s (unsorted): (values, column indices).

    A full ``topk`` over every entry costs several times a plain ``amin`` pass, so the columns
    are cut into groups, the k groups of least minimum are kept (every one of the k smallest
    entries lies in one of them), and ``topk`` runs on those k * group entries only.
    """
    n, width = s.shape
    if k == 1:
        return s.min(1, keepdim=True)
    if width % group or width < 4 * k * group:
        return torch.topk(s, min(k, width), dim=1, largest=False, sorted=False)
    groups = s.view(n, width // group, group)
    _, gi = torch.topk(groups.amin(2), k, dim=1, largest=False, sorted=False)
    picked = groups.gather(1, gi.unsqueeze(2).expand(n, k, group)).view(n, k * group)
    v, j = torch.topk(picked, k, dim=1, largest=False, sorted=False)
    cols = gi.gather(1, j // group) * group + j % group
    return v, cols


def sqdist_rows(queries: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """Direct fp32 squared distances: queries (n, D) vs candidates (n, k, D) -> (n, k)."""
    return (candidates - queries.unsqueeze(1)).square_().sum(-1)


def pick_best(dist: torch.Tensor, seeds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row the least distance and its seed, exact ties going to the smaller seed."""
    best = dist.min(1, keepdim=True).values
    big = torch.iinfo(torch.long).max
    seed = torch.where(dist == best, seeds, torch.full_like(seeds, big)).min(1).values
    return best.squeeze(1), seed
