"""Data sets of seedembed: MNIST, the thesis' anime faces and any folder of images.

:func:`open_dataset` builds one by name; :func:`load_uint8` turns any of them into a single
uint8 tensor (N, C, H, W) once, so training can keep the whole set on the GPU and index it
without a DataLoader. Data roots come from a flag or ``$SEEDEMBED_DATA`` (:mod:`.root`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from seedembed.data.folder import AnimeFaces, ImageFolder, list_images
from seedembed.data.mnist import Mnist
from seedembed.data.root import ENV_VAR, default_root, resolve_root
from seedembed.errors import DataError

__all__ = [
    "DATASETS",
    "ENV_VAR",
    "AnimeFaces",
    "ImageFolder",
    "Mnist",
    "default_root",
    "list_images",
    "load_uint8",
    "open_dataset",
    "resolve_root",
    "to_float",
]

#: named data sets -> (image size, channels) they give natively
DATASETS: dict[str, tuple[int, int]] = {"mnist": (28, 1), "anime-faces": (64, 3)}


def open_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    train: bool = True,
    size: int | None = None,
    channels: int | None = None,
) -> Dataset:
    """A data set by name (``mnist``, ``anime-faces``) or by the path of an image folder.

    ``size``/``channels`` say what the model needs; a named set that gives another geometry
    raises :class:`DataError` (MNIST is not resized), a folder is fitted to it (default 64x64
    RGB). ``root`` is the data root for named sets and unused for a folder path.
    """
    key = name.strip().lower()
    if key == "mnist":
        if (size, channels) not in ((None, None), (28, 1), (28, None), (None, 1)):
            raise DataError(
                f"MNIST images are 28x28 grey; the model wants {size}x{size}x{channels}"
            )
        return Mnist(root, train=train)
    if key in ("anime-faces", "anime"):
        return AnimeFaces(
            root, split="train" if train else "test", size=size or 64, channels=channels or 3
        )
    path = Path(name).expanduser()
    if path.is_dir():
        return ImageFolder(path, size=size or 64, channels=channels or 3)
    looks_like_path = os.sep in name or name.startswith(".")
    if looks_like_path:
        raise DataError(f"image folder {name!r} does not exist")
    raise DataError(f"unknown dataset {name!r} (known: {', '.join(DATASETS)}, or a folder path)")


def load_uint8(dataset: Dataset, limit: int | None = None) -> torch.Tensor:
    """The whole data set (or its first ``limit`` images) as a uint8 tensor (N, C, H, W)."""
    if limit is not None and limit < 1:
        raise DataError(f"limit must be >= 1, got {limit}")
    if hasattr(dataset, "as_uint8"):
        data = dataset.as_uint8(limit)
    else:  # any torchvision-style set of PIL images
        n = len(dataset) if limit is None else min(limit, len(dataset))
        items = []
        for i in range(n):
            arr = np.asarray(dataset[i][0], dtype=np.uint8)
            items.append(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))
        if not items:
            raise DataError("the data set is empty")
        data = torch.from_numpy(np.stack(items))
    if data.ndim != 4 or data.dtype != torch.uint8 or len(data) == 0:
        raise DataError(f"expected a non-empty uint8 (N, C, H, W) set, got {tuple(data.shape)}")
    return data


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float in [-1, 1], the scale of a tanh generator."""
    return images.float().div_(127.5).sub_(1.0)
