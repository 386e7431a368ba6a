"""Encode a whole data set or folder: streamed in batches, bounded memory, data-parallel.

Only one batch of images is in memory at a time; what accumulates is the seeds (8 bytes an
image) and the names. Under torchrun every process encodes one contiguous shard and rank 0
gathers the shards in order and writes a single .seed file, so several GPUs or machines encode
a large set with one command::

    torchrun --nproc_per_node 4 -m seedembed encode-set anime-faces --split test -o faces.seed
"""

from __future__ import annotations

import os

import torch
from torch.utils.data import Dataset

from seedembed.codec.codec import Codec
from seedembed.codec.encoding import Encoding
from seedembed.codec.images import as_batch
from seedembed.compose import ComposeSettings
from seedembed.train import distributed


def item_names(dataset: Dataset) -> list[str] | None:
    """A name per image: the file's path under its folder; None for an indexed set (MNIST),
    whose order already names each image and whose names would outweigh its seeds."""
    files = getattr(dataset, "files", None)
    if files is None:
        return None
    root = getattr(dataset, "root", None)
    return [os.path.relpath(f, root) if root else os.path.basename(f) for f in files]


def shard(n: int, rank: int, world: int) -> range:
    """The contiguous slice of ``range(n)`` that process ``rank`` of ``world`` encodes."""
    return range(n * rank // world, n * (rank + 1) // world)


def encode_dataset(
    codec: Codec,
    dataset: Dataset,
    *,
    names: list[str] | None,
    search: str | None = None,
    batch_size: int = 1024,
    limit: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    info: distributed.DistInfo | None = None,
    compose: ComposeSettings | None = None,
) -> Encoding | None:
    """The seeds of every image of ``dataset`` (items are (PIL image, label) pairs); with
    ``compose``, n weighted seeds per image (noise composition).

    Returns the whole :class:`Encoding` on rank 0 and None on the other ranks.
    """
    info = info or distributed.DistInfo(0, 1, codec.device)
    n = len(dataset) if limit is None else min(limit, len(dataset))
    strategy = compose.name if compose is not None else search or codec.default_search(cache_dir)
    if strategy == "image" and info.distributed:
        # one process builds the codebook, the others then map the same cached file
        if info.is_main:
            codec.encode(as_batch([dataset[0][0]], codec.geometry), "image", cache_dir=cache_dir)
        distributed.barrier(info)
    mine = shard(n, info.rank, info.world_size)
    bar = None
    if progress and info.is_main:
        from tqdm import tqdm

        bar = tqdm(total=len(mine), desc=f"encode ({strategy})", unit="img", dynamic_ncols=True)
    parts: list[tuple] = []
    for start in range(mine.start, mine.stop, batch_size):
        idx = range(start, min(mine.stop, start + batch_size))
        x = as_batch([dataset[i][0] for i in idx], codec.geometry)
        if compose is not None:
            enc = codec.encode(x, compose=compose)
            parts.append((enc.seeds, enc.codes, enc.scales))
        else:
            parts.append((codec.encode(x, strategy, cache_dir=cache_dir).seeds,))
        if bar is not None:
            bar.update(len(idx))
    if bar is not None:
        bar.close()
    if info.distributed:
        gathered: list = [None] * info.world_size
        torch.distributed.all_gather_object(gathered, parts)
        if not info.is_main:
            return None
        parts = [p for shard_parts in gathered for p in shard_parts]
    width = compose.n if compose is not None else 1
    seeds = (
        torch.cat([p[0] for p in parts]) if parts else torch.zeros((0, width), dtype=torch.int64)
    )
    weighted = {}
    if compose is not None:
        weighted = {
            "codes": torch.cat([p[1] for p in parts]) if parts else torch.zeros_like(seeds),
            "scales": torch.cat([p[2] for p in parts])
            if parts
            else torch.zeros(0, dtype=torch.float16),
            "weight_bits": compose.weight_bits,
        }
    return Encoding(
        seeds=seeds,
        fingerprint=codec.fingerprint,
        prf_spec=codec.prf.spec,
        geometry=codec.geometry,
        bits_per_seed=codec.prf.stored_bits,
        names=None if names is None else names[:n],
        strategy=strategy,
        **weighted,
    )
