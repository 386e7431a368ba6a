"""Sample sheets like the thesis slides': originals on top, one labelled row per method."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from seedembed.errors import DataError


def sample_sheet(
    originals: torch.Tensor,
    rows: list[tuple[str, torch.Tensor]],
    out: str | os.PathLike,
    *,
    count: int = 12,
    scale: int = 2,
    label_width: int = 300,
) -> Path:
    """Write a PNG: the first ``count`` originals, then each (label, reconstructions) row.

    Images are float (N, C, H, W) in [0, 1]; every row must hold at least ``count`` images of
    the originals' geometry. Pixels are enlarged ``scale`` times (nearest) so digits stay crisp.
    """
    if originals.ndim != 4 or len(originals) == 0:
        raise DataError("a sample sheet needs a non-empty (N, C, H, W) batch of originals")
    count = min(count, len(originals))
    _, c, h, w = originals.shape
    gap = 2
    cell_w, cell_h = w * scale + gap, h * scale + gap
    all_rows = [("original", originals), *rows]
    for label, imgs in all_rows:
        if imgs.shape[1:] != originals.shape[1:] or len(imgs) < count:
            raise DataError(f"row {label!r} holds {tuple(imgs.shape)}, not {count} x {(c, h, w)}")
    sheet = Image.new("RGB", (label_width + count * cell_w, len(all_rows) * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (label, imgs) in enumerate(all_rows):
        y = r * cell_h
        draw.text((4, y + cell_h // 2 - 6), label, fill="black")
        for i in range(count):
            arr = (imgs[i].clamp(0, 1) * 255).round().to(torch.uint8)
            arr = arr.expand(3, h, w) if c == 1 else arr
            tile = Image.fromarray(arr.permute(1, 2, 0).numpy(), "RGB")
            tile = tile.resize((w * scale, h * scale), Image.NEAREST)
            sheet.paste(tile, (label_width + i * cell_w, y + gap // 2))
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        sheet.save(out)
    except OSError as exc:
        raise DataError(f"cannot write {str(out)!r}: {exc}") from None
    return out
