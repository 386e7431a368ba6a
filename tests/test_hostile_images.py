"""Hostile and unusual image files: a clear error or the documented conversion, never a crash."""

from __future__ import annotations

import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from seedembed.cli import main
from seedembed.codec.images import read_image
from seedembed.errors import DataError

GREY, RGB = (1, 28, 28), (3, 64, 64)


def _png_header_only(path, width: int, height: int) -> None:
    """A PNG that claims width x height pixels in a few bytes (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))  # fmt: skip


def _quiet_read(path, geometry):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_image(path, geometry)


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("empty.png", lambda p: p.write_bytes(b""), "not a readable image"),
        ("text.png", lambda p: p.write_text("hello"), "not a readable image"),
        ("elf.jpg", lambda p: p.write_bytes(b"\x7fELF" + bytes(200)), "not a readable image"),
        ("cut.png", lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(10)), "not a readable"),
        ("bomb.png", lambda p: _png_header_only(p, 30_000, 30_000), "too many pixels"),
        ("bomb-just-over.png", lambda p: _png_header_only(p, 10_000, 9_000), "too many pixels"),
        ("zero.png", lambda p: _png_header_only(p, 0, 10), "not a readable image"),
        ("folder.png", lambda p: p.mkdir(), "is a folder"),
    ],
)
def test_hostile_files_are_one_clear_error(tmp_path, name, make, message):
    path = tmp_path / name
    make(path)
    with pytest.raises(DataError, match=message):
        read_image(path, GREY)


def _truncated_jpeg(path) -> None:
    Image.new("RGB", (64, 64), (200, 10, 10)).save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("name", "make", "geometry", "check"),
    [
        ("one-pixel.png", lambda p: Image.new("L", (1, 1), 200).save(p), GREY,
         lambda x: abs(x.mean() - 200 / 255) < 0.01),
        ("cmyk.jpg", lambda p: Image.new("CMYK", (64, 64), (0, 255, 255, 0)).save(p), RGB,
         lambda x: x[0].mean() > 0.9 and x[1].mean() < 0.1),
        ("sixteen.png", lambda p: Image.fromarray(np.full((28, 28), 65535, np.uint16)).save(p),
         GREY, lambda x: x.min() > 0.99),
        ("alpha.png", lambda p: Image.new("RGBA", (28, 28), (255, 255, 255, 0)).save(p), GREY,
         lambda x: x.max() < 0.01),  # transparent composites on black
        ("palette.png", lambda p: Image.new("P", (28, 28), 3).save(p, transparency=3), GREY,
         lambda x: x.max() < 0.01),
        ("la.png", lambda p: Image.new("LA", (28, 28), (255, 128)).save(p), GREY,
         lambda x: abs(x.mean() - 128 / 255) < 0.02),
        ("bilevel.png", lambda p: Image.new("1", (28, 28), 1).save(p), GREY,
         lambda x: x.min() > 0.99),
        ("tall.png", lambda p: Image.new("L", (3, 500), 255).save(p), GREY,
         lambda x: x.shape == (1, 28, 28)),
        ("grey-for-rgb.png", lambda p: Image.new("L", (64, 64), 255).save(p), RGB,
         lambda x: x.shape == (3, 64, 64) and x.min() > 0.99),
    ],
)  # fmt: skip
def test_unusual_images_get_the_documented_conversion(tmp_path, name, make, geometry, check):
    path = tmp_path / name
    make(path)
    x = _quiet_read(path, geometry)
    assert tuple(x.shape) == geometry and x.min() >= 0 and x.max() <= 1
    assert check(x)


def test_animated_gif_uses_its_first_frame_with_a_warning(tmp_path):
    frames = [Image.new("L", (28, 28), v) for v in (255, 0, 128)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    with pytest.warns(UserWarning, match="has 3 frames; using the first"):
        x = read_image(tmp_path / "a.gif", GREY)
    assert x.min() > 0.99


def test_truncated_jpeg_is_refused(tmp_path):
    _truncated_jpeg(tmp_path / "t.jpg")
    with pytest.raises(DataError, match="not a readable image"):
        read_image(tmp_path / "t.jpg", RGB)


def test_cli_reports_a_bomb_in_one_line(tmp_path, capsys):
    _png_header_only(tmp_path / "bomb.png", 30_000, 30_000)
    assert main(["encode", str(tmp_path / "bomb.png"), "-o", str(tmp_path / "x.seed")]) == 2
    err = capsys.readouterr().err
    assert "too many pixels" in err and "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "x.seed").exists()
