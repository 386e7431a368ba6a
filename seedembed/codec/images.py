"""Images in and out of the codec: files, PIL images or tensors -> the model's geometry.

Conversion policy (docs/format.md repeats it): an image of another mode is converted to the
model's (grey "L" or "RGB"; alpha is composited on black first, palette and CMYK go through
PIL's conversion, 16-bit grey is scaled to 8 bits); an image of another size is fitted
(resized with Lanczos and centre-cropped to the model's square size) with a warning naming it.
Pillow's decompression-bomb limit is enforced: an image above ``Image.MAX_IMAGE_PIXELS``
(89.5 M pixels) is refused before it is decoded (Pillow itself only warns up to twice that).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from seedembed.errors import DataError

_MODES = {1: "L", 3: "RGB"}

ImagesLike = torch.Tensor | Sequence[Image.Image] | Image.Image


def _to_mode(im: Image.Image, mode: str) -> Image.Image:
    if im.mode == mode:
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        im = Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        im = Image.alpha_composite(background, rgba)
    return im.convert(mode)


def fit(im: Image.Image, geometry: tuple[int, int, int], name: str = "image") -> Image.Image:
    """One PIL image in the model's mode and size (warns when it had to resize)."""
    c, h, w = geometry
    im = _to_mode(im, _MODES[c])
    if im.size != (w, h):
        warnings.warn(
            f"{name}: resized from {im.size[0]}x{im.size[1]} to {w}x{h} (Lanczos, centre crop)",
            stacklevel=3,
        )
        im = ImageOps.fit(im, (w, h), Image.Resampling.LANCZOS)
    return im


def pil_to_tensor(im: Image.Image) -> torch.Tensor:
    arr = np.asarray(im, dtype=np.uint8)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return torch.from_numpy(arr.copy()).float().div_(255.0)


def read_image(path: str | os.PathLike, geometry: tuple[int, int, int]) -> torch.Tensor:
    """One image file -> (C, H, W) float in [0, 1] in the model's geometry."""
    path = Path(path)
    try:
        return _read(path, geometry, str(path), path.name)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not an image") from None


def image_from_bytes(
    data: bytes, geometry: tuple[int, int, int], name: str = "upload"
) -> torch.Tensor:
    """An image file's bytes (an upload) -> (C, H, W) float in [0, 1], as :func:`read_image`."""
    import io

    return _read(io.BytesIO(data), geometry, name, name)


def _read(source, geometry: tuple[int, int, int], label: str, name: str) -> torch.Tensor:
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its pixel limit and twice it; refuse from the limit on
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(source)
        with im:
            if im.width * im.height > (Image.MAX_IMAGE_PIXELS or float("inf")):
                raise Image.DecompressionBombError(
                    f"{im.width} x {im.height} pixels is above the limit of "
                    f"{Image.MAX_IMAGE_PIXELS:,}"
                )
            if getattr(im, "n_frames", 1) > 1:
                frames = im.n_frames
                warnings.warn(f"{name}: has {frames} frames; using the first", stacklevel=3)
            im.load()
            im = fit(im, geometry, name)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataError(f"{label}: refused, too many pixels ({exc})") from None
    except (FileNotFoundError, IsADirectoryError):
        raise
    except (OSError, ValueError, SyntaxError) as exc:
        reason = re.sub(r"\s*<_io\.BytesIO object at 0x[0-9a-f]+>", "", str(exc))
        raise DataError(f"{label}: not a readable image ({reason})") from None
    if im.size[0] == 0 or im.size[1] == 0:
        raise DataError(f"{label}: the image is empty")
    return pil_to_tensor(im)


def read_images(
    paths: Sequence[str | os.PathLike], geometry: tuple[int, int, int]
) -> tuple[torch.Tensor, list[str]]:
    """Image files -> ((N, C, H, W) float in [0, 1], their file names)."""
    if not paths:
        raise DataError("no images given")
    return torch.stack([read_image(p, geometry) for p in paths]), [Path(p).name for p in paths]


def as_batch(images: ImagesLike, geometry: tuple[int, int, int]) -> torch.Tensor:
    """A tensor (N, C, H, W) in [0, 1] or PIL images -> a float batch in the model's geometry."""
    if isinstance(images, Image.Image):
        images = [images]
    if isinstance(images, torch.Tensor):
        x = images
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4 or not x.is_floating_point():
            raise DataError(
                f"images must be a float tensor (N, C, H, W) in [0, 1], got {x.dtype} "
                f"{tuple(x.shape)}"
            )
        if tuple(x.shape[1:]) != tuple(geometry):
            raise DataError(
                f"images have shape {tuple(x.shape[1:])}, the model takes {tuple(geometry)} "
                "(pass PIL images or files to have them converted)"
            )
        if x.numel() and (not torch.isfinite(x).all() or x.min() < 0 or x.max() > 1):
            raise DataError("image values must be finite and in [0, 1]")
        return x.float().cpu()
    try:
        items = list(images)
    except TypeError:
        raise DataError(f"cannot read images from a {type(images).__name__}") from None
    if not items or not all(isinstance(i, Image.Image) for i in items):
        raise DataError("images must be a tensor or a non-empty list of PIL images")
    fitted = [fit(im, geometry, f"image {i}") for i, im in enumerate(items)]
    return torch.stack([pil_to_tensor(im) for im in fitted])


def tensor_to_pil(image: torch.Tensor) -> Image.Image:
    """(C, H, W) in [0, 1] -> an 8-bit grey or RGB PIL image (rounded, clamped)."""
    arr = (image.clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).cpu().numpy()
    return Image.fromarray(arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0))


def write_png(image: torch.Tensor, path: str | os.PathLike) -> Path:
    """(C, H, W) in [0, 1] -> PNG file (grey or RGB)."""
    path = Path(path)
    tensor_to_pil(image).save(path)
    return path
