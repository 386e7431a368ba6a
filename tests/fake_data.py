"""Small stand-ins for the real data sets, written in their on-disk formats (for fast tests)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from PIL import Image


def fake_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n 28x28 uint8 images of a bright bar whose angle encodes the label (0..9)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    yy, xx = np.mgrid[0:28, 0:28] - 13.5
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for i, label in enumerate(labels):
        angle = np.pi * label / 10 + rng.normal(0, 0.05)
        dist = np.abs(xx * np.sin(angle) - yy * np.cos(angle))
        bar = (dist < 2.0) & (np.hypot(xx, yy) < 10)
        images[i][bar] = 255
    return images, labels


def write_fake_mnist(root: Path, n_train: int = 256, n_test: int = 64) -> Path:
    """MNIST idx files under root/MNIST/raw, as torchvision expects them; returns root."""
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        images, labels = fake_digits(n, seed)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes()
        )
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 2049, n) + labels.tobytes()
        )
    return Path(root)


def write_image(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path)
    return path
