"""MNIST through torchvision, read from a local copy or downloaded the usual way."""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
from torch.utils.data import Dataset

from seedembed.data.root import is_writable, resolve_root
from seedembed.errors import DataError


class Mnist(Dataset):
    """torchvision's MNIST (``root``/MNIST/raw/*-ubyte) with seedembed's root and error rules.

    ``download=None`` downloads only when the files are absent and the root is writable, so a
    read-only shared copy is never touched. Items are ``(PIL image, label)`` like torchvision,
    or ``(transform(image), label)``.
    """

    channels = 1
    image_size = 28

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        train: bool = True,
        transform: Callable | None = None,
        download: bool | None = None,
    ) -> None:
        from torchvision.datasets import MNIST

        path, _ = resolve_root(root)
        probe = MNIST.__new__(MNIST)
        probe.root = str(path)
        present = probe._check_exists()
        if not present:
            if download is False:
                raise DataError(f"no MNIST under {str(path / 'MNIST' / 'raw')!r} (download off)")
            if not is_writable(path):
                raise DataError(
                    f"no MNIST under {str(path / 'MNIST' / 'raw')!r} and {str(path)!r} is not "
                    "writable to download it; point --data-root or SEEDEMBED_DATA at a copy"
                )
        try:
            self._ds = MNIST(str(path), train=train, transform=transform, download=not present)
        except (RuntimeError, OSError) as exc:
            detail = " ".join(str(exc).split())  # one line: torchvision lists every mirror
            raise DataError(f"cannot read or download MNIST into {str(path)!r}: {detail}") from None
        self.root = path
        self.train = train
        self.transform = transform

    def __len__(self) -> int:
        return len(self._ds)

    def __getitem__(self, index: int):
        return self._ds[index]

    @property
    def targets(self) -> torch.Tensor:
        return self._ds.targets

    def as_uint8(self, limit: int | None = None) -> torch.Tensor:
        """All images as one uint8 tensor (N, 1, 28, 28), without a per-image detour."""
        data = self._ds.data if limit is None else self._ds.data[:limit]
        return data.unsqueeze(1).contiguous()
