"""Folders of PNG/JPEG images, resized and centre-cropped to a square model size.

Error policy (the same for every folder data set):

* a missing or empty folder, or a folder without one readable image, raises :class:`DataError`;
* a file whose header cannot be read is skipped when the folder is listed, and a file that
  fails to decode is skipped when :meth:`ImageFolder.as_uint8` loads the set; both are counted
  in ``skipped`` and reported in one warning, so training never meets them mid-epoch;
* images of another mode (RGBA, palette, CMYK, grey for an RGB model, ...) are converted to the
  requested channels (1 = grey "L", 3 = "RGB") and counted in ``converted``; asking for any
  other channel count raises :class:`DataError`.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset

from seedembed.data.root import resolve_root
from seedembed.errors import DataError

#: suffixes read as images (case-insensitive)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_MODES = {1: "L", 3: "RGB"}


def list_images(root: Path) -> list[Path]:
    """All PNG/JPEG files under ``root`` (recursively), sorted for a stable order."""
    if not root.is_dir():
        raise DataError(f"image folder {str(root)!r} does not exist or is not a folder")
    files = [
        p
        for p in root.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not p.name.startswith(".")
    ]
    return sorted(files)


class ImageFolder(Dataset):
    """Every PNG/JPEG under ``root`` as a ``size`` x ``size`` image with ``channels`` channels.

    Items are ``(image, 0)`` (there are no labels): a PIL image, or ``transform(image)``.
    ``files`` restricts the set to these paths (used for splits).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        size: int = 64,
        channels: int = 3,
        transform: Callable | None = None,
        files: Sequence[Path] | None = None,
    ) -> None:
        if channels not in _MODES:
            raise DataError(f"images must have 1 (grey) or 3 (RGB) channels, got {channels}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 4:
            raise DataError(f"image size must be an integer >= 4, got {size!r}")
        self.root = Path(root)
        self.image_size = size
        self.channels = channels
        self.mode = _MODES[channels]
        self.transform = transform
        candidates = list_images(self.root) if files is None else list(files)
        if not candidates:
            raise DataError(f"no PNG or JPEG images under {str(self.root)!r}")
        self.skipped: list[tuple[str, str]] = []
        self.converted: Counter[str] = Counter()
        self.files: list[Path] = []
        for path in candidates:
            try:
                with Image.open(path) as im:
                    if im.format not in ("PNG", "JPEG", "MPO"):
                        raise OSError(f"format {im.format}, not PNG/JPEG")
            except (OSError, ValueError, Image.DecompressionBombError) as exc:
                self.skipped.append((str(path), str(exc) or type(exc).__name__))
                continue
            self.files.append(path)
        if not self.files:
            first = self.skipped[0]
            raise DataError(
                f"none of the {len(candidates)} files under {str(self.root)!r} is a readable "
                f"PNG/JPEG (first: {first[0]}: {first[1]})"
            )
        self._warn_skipped(len(candidates))

    def _warn_skipped(self, total: int) -> None:
        if self.skipped:
            path, why = self.skipped[0]
            warnings.warn(
                f"skipped {len(self.skipped)} of {total} files under {str(self.root)!r} that "
                f"are not readable images (first: {path}: {why})",
                stacklevel=3,
            )

    def __len__(self) -> int:
        return len(self.files)

    def _load(self, path: Path) -> tuple[Image.Image, str]:
        """Decode, convert and fit one file; returns the image and its original mode."""
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode != self.mode:
                im = im.convert(self.mode)
            if im.size != (self.image_size, self.image_size):
                im = ImageOps.fit(im, (self.image_size, self.image_size), Image.Resampling.LANCZOS)
            return im.copy(), mode

    def __getitem__(self, index: int):
        path = self.files[index]
        try:
            image, _ = self._load(path)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot decode {str(path)!r}: {exc}") from None
        return (self.transform(image) if self.transform else image), 0

    def _array(self, path: Path) -> tuple[np.ndarray, str] | str:
        """(C, H, W) uint8 array and original mode, or the reason the file failed."""
        try:
            image, mode = self._load(path)
        except (OSError, ValueError) as exc:
            return str(exc) or type(exc).__name__
        arr = np.asarray(image, dtype=np.uint8)
        return (arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)), mode

    def as_uint8(
        self, limit: int | None = None, threads: int | None = None, cache: bool | None = None
    ) -> torch.Tensor:
        """Decode every image once into a uint8 tensor (N, C, size, size).

        Files that fail to decode are dropped (counted in ``skipped``, one warning); images
        of another mode are converted (counted in ``converted``, one warning). The whole set,
        once decoded without failures, is kept in the user cache (:mod:`.cache`; ``cache``
        defaults to on unless ``$SEEDEMBED_IMAGE_CACHE=0``); ``limit`` then slices it, and a
        limited load without a cached set decodes only its first ``limit`` files.
        """
        from seedembed.data import cache as image_cache

        use_cache = image_cache.enabled() if cache is None else cache
        name = None
        if use_cache:
            name = image_cache.key(self.root, self.files, self.image_size, self.mode)
        if name is not None:
            data = image_cache.load(name)
            if data is not None:
                return data if limit is None else data[:limit].clone()
        files = self.files if limit is None else self.files[:limit]
        failed_before = len(self.skipped)
        data = self._decode(files, threads)
        if name is not None and limit is None and len(self.skipped) == failed_before:
            image_cache.store(name, data)
        return data

    def _decode(self, files: list[Path], threads: int | None) -> torch.Tensor:
        threads = threads or min(8, os.cpu_count() or 1)
        with ThreadPoolExecutor(threads) as pool:  # PIL decodes without holding the GIL
            arrays = list(pool.map(self._array, files))
        good = [a[0] for a in arrays if not isinstance(a, str)]
        self.converted = Counter(a[1] for a in arrays if not isinstance(a, str))
        del self.converted[self.mode]
        bad = [(str(f), a) for f, a in zip(files, arrays, strict=True) if isinstance(a, str)]
        if bad:
            self.skipped.extend(bad)
            self.files = [f for f, a in zip(files, arrays, strict=True) if not isinstance(a, str)]
            warnings.warn(
                f"skipped {len(bad)} of {len(files)} images under {str(self.root)!r} that "
                f"failed to decode (first: {bad[0][0]}: {bad[0][1]})",
                stacklevel=3,
            )
        if not good:
            raise DataError(f"no image under {str(self.root)!r} could be decoded")
        if self.converted:
            modes = ", ".join(f"{n} {m}" for m, n in sorted(self.converted.items()))
            warnings.warn(
                f"converted {sum(self.converted.values())} images to {self.mode} "
                f"({modes}) under {str(self.root)!r}",
                stacklevel=3,
            )
        return torch.from_numpy(np.stack(good))


class AnimeFaces(ImageFolder):
    """The thesis' anime faces: ``images/`` split by ``test.txt`` (test) and the rest (train).

    ``root`` is the data root holding ``anime-faces/`` or that folder itself.
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        split: str = "train",
        size: int = 64,
        transform: Callable | None = None,
        channels: int = 3,
    ) -> None:
        if split not in ("train", "test"):
            raise DataError(f"anime-faces split must be 'train' or 'test', got {split!r}")
        base, _ = resolve_root(root)
        folder = base / "anime-faces" if (base / "anime-faces").is_dir() else base
        images, listing = folder / "images", folder / "test.txt"
        if not images.is_dir() or not listing.is_file():
            raise DataError(
                f"no anime faces under {str(base)!r}: expected anime-faces/images/ and "
                "anime-faces/test.txt"
            )
        test_names = {ln.strip() for ln in listing.read_text().splitlines() if ln.strip()}
        all_files = list_images(images)
        names = {p.name for p in all_files}
        missing = test_names - names
        if missing:
            warnings.warn(
                f"{len(missing)} names of {str(listing)!r} are not in images/ "
                f"(first: {sorted(missing)[0]})",
                stacklevel=2,
            )
        chosen = [p for p in all_files if (p.name in test_names) == (split == "test")]
        self.split = split
        super().__init__(images, size=size, channels=channels, transform=transform, files=chosen)
