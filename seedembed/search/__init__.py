"""Seed search: the seed whose generated image (or latent) best matches each image.

    >>> from seedembed.search import find_seeds
    >>> res = find_seeds(images, generator=lg.generator, prf=lg.prf, strategy="image",
    ...                  fingerprint=lg.fingerprint)                    # doctest: +SKIP
    >>> res.seeds, res.image_mse                                        # doctest: +SKIP

Strategies: ``image`` (exact, cached codebook), ``hybrid`` (latent top-k re-ranked in image
space), ``latent`` (exact latent argmin), ``neighbourhood`` (the thesis' window search).
:func:`build_codebook` and :func:`codebook_status` serve ``seedembed cache build``.
"""

from seedembed.search.codebook import (
    Codebook,
    CodebookStatus,
    build_codebook,
    codebook_path,
    codebook_status,
    default_cache_dir,
    load_codebook,
)
from seedembed.search.image import exhaustive, search_codebook
from seedembed.search.strategies import STRATEGIES, SearchResult, find_seeds, latent_topk

__all__ = [
    "STRATEGIES",
    "Codebook",
    "CodebookStatus",
    "SearchResult",
    "build_codebook",
    "codebook_path",
    "codebook_status",
    "default_cache_dir",
    "exhaustive",
    "find_seeds",
    "latent_topk",
    "load_codebook",
    "search_codebook",
]
