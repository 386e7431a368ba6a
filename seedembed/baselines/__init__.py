"""Baselines the evaluation compares the seed codec with, on MNIST (N, 1, 28, 28) in [0, 1]
and, with an ``anime-`` prefix, on the anime faces (N, 3, 64, 64).

Names (:data:`NAMES` are the eight the evaluation uses):

* ``ae7``, ``ae14``, ``ae28``: convolutional autoencoders, a d-dimensional float32 latent per
  image (bits = 32 d), the thesis' AE(7), AE(14), AE(28) (:mod:`.autoencoder`);
* ``ae7-q8``, ``ae14-q8``, ``ae28-q8``: the same autoencoders with the latent quantised to
  8 bits per dimension (bits = 8 d);
* ``kmeans-5101``, ``kmeans-29282``: k-means codebooks of the 60,000 training digits, one index
  per image (bits = log2 k, fractional; :attr:`Baseline.bits_ceil` is a whole index), the best
  one-index codebooks of the sizes of the seed codec's LCGs (:mod:`.codebook`);
* ``nearest-train``: the index of the nearest training digit (bits = log2 60000).

Other ``ae<d>[-q8]`` (1 <= d <= 784) and ``kmeans-<k>`` names also work (tests use small ones).
Each name with the prefix ``anime-`` (:data:`ANIME_NAMES`: ``anime-ae7``, ...,
``anime-kmeans-5101``, ``anime-nearest-train``) is the same baseline trained on the 20,673 anime
training faces (64x64 RGB; the autoencoder gets four stride-2 stages instead of two).

Trained artefacts live in :func:`default_cache_dir` (``$SEEDEMBED_CACHE/baselines``, else
``~/.cache/seedembed/baselines``) as ``<key>.safetensors`` (tensors only, never pickle) and
``<key>.json`` (settings, training history, SHA-256 and size of the tensor file, command,
commit, machine, UTC times, seconds). ``ae7-q8`` shares ``ae7``'s files: the quantiser's
per-dimension min/max ride in them. Both files are written atomically, the JSON last, so a
killed run leaves no half entry; a file whose hash differs from the JSON, or that safetensors
cannot read, is reported as corrupt and retrained (or refused). ``nearest-train`` has no
artefact: it reads the MNIST training set.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from seedembed.errors import DataError, ModelError

#: the baselines of the evaluation, in report order
NAMES = (
    "ae7",
    "ae14",
    "ae28",
    "ae7-q8",
    "ae14-q8",
    "ae28-q8",
    "kmeans-5101",
    "kmeans-29282",
    "nearest-train",
)
ANIME_NAMES = tuple(f"anime-{name}" for name in NAMES if name != "kmeans-29282")
FORMAT = "seedembed-baseline/1"
#: the image geometry of each data set a baseline can be trained on
SHAPES = {"mnist": (1, 28, 28), "anime-faces": (3, 64, 64)}
IMAGE_SHAPE = SHAPES["mnist"]
ANIME_PREFIX = "anime-"
_AE = re.compile(r"ae([1-9][0-9]*)(-q8)?")
_KMEANS = re.compile(r"kmeans-([1-9][0-9]*)")

Log = Callable[[str], Any]


def dataset_of(name: str) -> str:
    """The data set a baseline name is trained on: ``anime-faces`` for ``anime-*``, else MNIST."""
    return "anime-faces" if str(name).startswith(ANIME_PREFIX) else "mnist"


class Baseline(ABC):
    """A codec of (N, C, H, W) float images in [0, 1]: ``encode`` gives each image's payload,
    ``decode`` turns payloads back into images, ``bits`` is the exact payload size per image
    (side information shared by all images, such as weights or a codebook, is not counted)."""

    name: str
    bits: float
    #: (C, H, W) of the images it codes
    shape: tuple[int, int, int] = IMAGE_SHAPE
    #: the artefact's JSON record (settings, history, provenance); {} when there is none
    info: dict[str, Any]

    @property
    def bits_ceil(self) -> int:
        """Whole bits of one stored payload (an index needs ceil(log2 k) bits)."""
        return math.ceil(self.bits)

    @abstractmethod
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Payloads of a batch of (n, C, H, W) images: one row (or index) per image."""

    @abstractmethod
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(n, C, H, W) float32 images in [0, 1] from payloads."""

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, chunk: int = 1000) -> torch.Tensor:
        """decode(encode(images)), ``chunk`` images at a time (memory stays bounded)."""
        check_images(images, self.shape)
        out = torch.empty(images.shape, dtype=torch.float32)
        for start in range(0, len(images), chunk):
            part = images[start : start + chunk].float()
            out[start : start + chunk] = self.decode(self.encode(part)).view(part.shape)
        return out

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}, {self.bits:g} bits>"


def check_images(images: torch.Tensor, shape: tuple[int, int, int] = IMAGE_SHAPE) -> None:
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        raise DataError("baselines take float image tensors in [0, 1]")
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(shape):
        raise DataError(
            f"this baseline takes (N, {', '.join(map(str, shape))}) images, "
            f"got {tuple(images.shape)}"
        )


# -- names -------------------------------------------------------------------------------------
def parse_name(name: str) -> tuple[str, str, int, bool]:
    """(kind, artefact key, size, quantised) of a baseline name, or :class:`ModelError`.

    kind is ``ae`` (size = latent dimensions), ``kmeans`` (size = k) or ``nearest``; the key
    keeps an ``anime-`` prefix (:func:`dataset_of`).
    """
    prefix = ANIME_PREFIX if str(name).startswith(ANIME_PREFIX) else ""
    base = str(name)[len(prefix) :]
    if base == "nearest-train":
        return "nearest", name, 0, False
    if m := _AE.fullmatch(base):
        d = int(m.group(1))
        if d <= math.prod(SHAPES[dataset_of(name)]):
            return "ae", f"{prefix}ae{d}", d, m.group(2) is not None
    if (m := _KMEANS.fullmatch(base)) and int(m.group(1)) >= 2:
        return "kmeans", name, int(m.group(1)), False
    raise ModelError(
        f"unknown baseline {name!r}; known: {', '.join(NAMES)} (also ae<d>[-q8], kmeans-<k>, "
        "and each with the prefix anime-)"
    )


# -- the cache ---------------------------------------------------------------------------------
def default_cache_dir() -> Path:
    """Where baselines live: ``user_cache_dir("baselines")``, beside the codebooks."""
    from seedembed.search.codebook import user_cache_dir

    return user_cache_dir("baselines")


def cache_folder(cache_dir: str | os.PathLike | None = None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()


def artefact_paths(key: str, cache_dir: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """(tensor file, JSON record) of an artefact key (``ae7``, ``kmeans-5101``, ...)."""
    folder = cache_folder(cache_dir)
    return folder / f"{key}.safetensors", folder / f"{key}.json"


class CorruptArtefact(Exception):
    """A cached artefact exists but cannot be trusted (internal; becomes retrain or ModelError)."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def read_artefact(
    key: str, cache_dir: str | os.PathLike | None = None
) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """Tensors and JSON record of a cached artefact; None when absent, CorruptArtefact when bad."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights, record = artefact_paths(key, cache_dir)
    if not record.is_file() and not weights.is_file():
        return None
    if not record.is_file():
        raise CorruptArtefact(f"{str(record)!r} is missing beside {weights.name}")
    try:
        info = json.loads(record.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptArtefact(f"{str(record)!r} is not readable JSON: {exc}") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT or info.get("key") != key:
        raise CorruptArtefact(f"{str(record)!r} is not a {FORMAT} record of {key}")
    if not weights.is_file():
        raise CorruptArtefact(f"{str(weights)!r} is missing")
    digest = sha256_file(weights)
    if digest != info.get("sha256"):
        raise CorruptArtefact(
            f"{str(weights)!r} has SHA-256 {digest[:16]}..., the record says "
            f"{str(info.get('sha256'))[:16]}..."
        )
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise CorruptArtefact(
            f"{str(weights)!r} is not a readable safetensors file: {exc}"
        ) from None
    return tensors, info


def write_artefact(
    key: str,
    tensors: dict[str, torch.Tensor],
    info: dict[str, Any],
    cache_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Write tensors, then the JSON record (with their SHA-256 and size), atomically."""
    from seedembed.train.checkpoint import atomic_save_tensors, atomic_write_text

    weights, record = artefact_paths(key, cache_dir)
    weights.parent.mkdir(parents=True, exist_ok=True)
    record.unlink(missing_ok=True)  # no stale record may vouch for the new tensor file
    atomic_save_tensors(tensors, weights, {"format": FORMAT, "key": key})
    info = {
        "format": FORMAT,
        "key": key,
        **info,
        "file": weights.name,
        "bytes": weights.stat().st_size,
        "sha256": sha256_file(weights),
    }
    atomic_write_text(json.dumps(info, indent=2) + "\n", record)
    return info


# -- loading and training ----------------------------------------------------------------------
def _train_command(key: str, data_root: str | None, cache_dir: str | os.PathLike | None) -> str:
    cmd = f"seedembed train-baseline {key}"
    if cache_dir is not None:
        cmd += f" --cache-dir {cache_dir}"
    if data_root is not None:
        cmd += f" --data-root {data_root}"
    return cmd


DATA_NOTES = {
    "mnist": "MNIST training digits, pixels / 255",
    "anime-faces": "anime training faces (all not in test.txt), pixels / 255",
}


def training_images(
    dataset: str, data_root: str | None = None, limit: int | None = None
) -> torch.Tensor:
    """The training split of ``dataset`` (first ``limit``) as float images in [0, 1]."""
    from seedembed.data import load_uint8, open_dataset

    return load_uint8(open_dataset(dataset, data_root, train=True), limit).float().div_(255)


def _build(name: str, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> Baseline:
    kind, _, _, quantised = parse_name(name)
    if kind == "ae":
        from seedembed.baselines.autoencoder import from_artefact

        return from_artefact(name, tensors, info, quantised=quantised)
    from seedembed.baselines.codebook import KMeansBaseline

    return KMeansBaseline.from_artefact(name, tensors, info)


def train_baseline(
    name: str,
    *,
    data_root: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    log: Log | None = print,
    progress: Log | None = None,
    device: torch.device | str = "cpu",
    **settings: Any,
) -> Baseline:
    """Train the artefact behind ``name`` on the MNIST training digits (the first ``limit``
    only, when given), write it to the cache (replacing what is there) and return the baseline.
    ``device`` is where it trains (the artefact is the same kind of file either way).

    ``settings`` override the trainer's defaults (:data:`.autoencoder.DEFAULTS`,
    :data:`.codebook.DEFAULTS`); ``progress`` receives one line per epoch or iteration.
    ``nearest-train`` has nothing to train and is simply loaded.
    """
    from seedembed.train.runinfo import command_line, git_commit, machine, utc_now

    kind, key, size, _ = parse_name(name)
    if kind == "nearest":
        from seedembed.baselines.codebook import nearest_train

        return nearest_train(data_root, limit=limit, dataset=dataset_of(name))
    started, t0 = utc_now(), time.perf_counter()
    train = training_images(dataset_of(name), data_root, limit)
    if kind == "ae":
        from seedembed.baselines.autoencoder import train_autoencoder

        tensors, details = train_autoencoder(
            train, size, progress=progress, device=device, **settings
        )
    else:
        from seedembed.baselines.codebook import train_kmeans

        tensors, details = train_kmeans(
            train.flatten(1), size, progress=progress, device=device, **settings
        )
    seconds = time.perf_counter() - t0
    info = {
        "kind": kind,
        **details,
        "n_train": len(train),
        "data": DATA_NOTES[dataset_of(name)],
        "threads": torch.get_num_threads(),
        "train_seconds": round(seconds, 1),
        "command": command_line(),
        "commit": git_commit(),
        "machine": machine(torch.device(device), 1),
        "started_utc": started,
        "finished_utc": utc_now(),
    }
    info = write_artefact(key, tensors, info, cache_dir)
    if log is not None:
        where = artefact_paths(key, cache_dir)[0]
        log(f"trained baseline {key} in {seconds:.1f} s; wrote {where}")
    return _build(name, tensors, info)


def load_baseline(
    name: str,
    *,
    data_root: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    train_missing: bool = True,
    log: Log | None = print,
    progress: Log | None = None,
    device: torch.device | str = "cpu",
) -> Baseline:
    """The baseline ``name`` from the cache; trained (and cached) first, on ``device``, when it
    is missing or corrupt and ``train_missing`` is true (one line goes to ``log``;
    ``progress``, when given, gets one per epoch or iteration), else :class:`ModelError` naming
    the command that trains it."""
    kind, key, _, _ = parse_name(name)
    if kind == "nearest":
        from seedembed.baselines.codebook import nearest_train

        return nearest_train(data_root, dataset=dataset_of(name))
    state, reason = "missing", f"not in cache {cache_folder(cache_dir)}"
    try:
        found = read_artefact(key, cache_dir)
        if found is not None:
            return _build(name, *found)
    except (CorruptArtefact, ModelError) as exc:
        state, reason = "corrupt", f"cached copy is corrupt: {exc}"
    if not train_missing:
        raise ModelError(
            f"baseline {key} is {state} ({reason}); "
            f"train it with `{_train_command(key, data_root, cache_dir)}`"
        )
    if log is not None:
        log(f"training baseline {key} ({reason}) ...")
    return train_baseline(
        name, data_root=data_root, cache_dir=cache_dir, log=None, progress=progress, device=device
    )


# -- measuring ---------------------------------------------------------------------------------
@torch.no_grad()
def evaluate(baseline: Baseline, images: torch.Tensor, chunk: int = 1000) -> dict[str, float]:
    """Bits and quality of ``baseline`` on ``images``, measured as ``search_table`` does: mean
    per-image MSE on [0, 1] and on [-1, 1] (= 4x), PSNR (per image, capped at 100 dB, mean),
    SSIM (11x11 Gaussian window, sigma 1.5, mean) averaged over the whole image (``ssim``,
    torchmetrics) and over the interior without the 5-pixel border (``ssim_interior``, skimage's
    convention, which the limits of ../shared/reference/numbers.md use)."""
    from seedembed.metrics import mse, psnr, ssim

    t0 = time.perf_counter()
    recon = baseline.reconstruct(images, chunk)
    seconds = time.perf_counter() - t0
    x = images.float()
    m = mse(x, recon).mean().item()
    pairs = list(zip(x.split(chunk), recon.split(chunk), strict=True))
    return {
        "bits": baseline.bits,
        "bits_ceil": baseline.bits_ceil,
        "n": len(images),
        "mse_01": m,
        "mse_m11": 4 * m,
        "psnr": psnr(x, recon).clamp(max=100).mean().item(),
        "ssim": torch.cat([ssim(a, b) for a, b in pairs]).mean().item(),
        "ssim_interior": torch.cat([ssim(a, b, crop=5) for a, b in pairs]).mean().item(),
        "reconstruct_seconds": seconds,
    }


__all__ = [
    "ANIME_NAMES",
    "NAMES",
    "Baseline",
    "dataset_of",
    "default_cache_dir",
    "evaluate",
    "load_baseline",
    "parse_name",
    "train_baseline",
]
