"""Every evaluation metric, registered by name (after stylegan2-ada-pytorch's metric_main).

A metric is a function of one :class:`EvalSet` (originals, reconstructions and whatever else a
run knows: labels, exact bits, timings, true and found seeds) that returns a flat dict of
JSON-ready values. :func:`calc_metric` runs one by name and times it; :func:`report_metric`
appends the result to a JSONL file, so a long evaluation leaves a record line by line.

Conventions, printed in every report: MSE on both scales (``mse_01`` on [0, 1], ``mse_m11`` on
the [-1, 1] scale of a tanh generator, = 4 x ``mse_01``); PSNR in dB on [0, 1], per image, a
perfect reconstruction counted as 100 dB; SSIM with an 11x11 Gaussian window, sigma 1.5
(torchmetrics); every FID names its feature extractor and both sample sizes.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from seedembed.errors import MetricError
from seedembed.metrics import mse, psnr, ssim

#: PSNR given to an exact reconstruction (its true value is infinite)
PSNR_CAP = 100.0


@dataclass
class EvalSet:
    """Everything a metric may look at; images are float (N, C, H, W) in [0, 1]."""

    originals: torch.Tensor
    reconstructions: torch.Tensor
    labels: torch.Tensor | None = None
    #: exact payload bits of one image (what the .seed file stores for it)
    bits: float | None = None
    #: bits of the whole file (header and checksum included) divided by the image count
    file_bits: float | None = None
    encode_seconds: float | None = None
    decode_seconds: float | None = None
    #: synthetic sets: the seeds the images were generated from, and the seeds found
    true_seeds: torch.Tensor | None = None
    found_seeds: torch.Tensor | None = None
    #: latents of the true and found seeds (latent MSE)
    true_latents: torch.Tensor | None = None
    found_latents: torch.Tensor | None = None
    #: the inverse generator's continuous latent guess (what the thesis' latent MSE measured)
    inverse_latents: torch.Tensor | None = None
    #: images per side of the Inception FID (None: all); it is the slow metric
    fid_n: int | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        x, y = self.originals, self.reconstructions
        if x.ndim != 4 or x.shape != y.shape:
            raise MetricError(
                f"originals and reconstructions must be (N, C, H, W) of one shape, "
                f"got {tuple(x.shape)} and {tuple(y.shape)}"
            )
        if len(x) == 0:
            raise MetricError("an evaluation needs at least one image")

    @property
    def count(self) -> int:
        return len(self.originals)


Metric = Callable[[EvalSet], dict]
_METRICS: dict[str, Metric] = {}


def register_metric(fn: Metric) -> Metric:
    """Decorator: make ``fn`` available under its function name."""
    _METRICS[fn.__name__] = fn
    return fn


def list_valid_metrics() -> list[str]:
    return list(_METRICS)


def is_valid_metric(name: str) -> bool:
    return name in _METRICS


def calc_metric(name: str, data: EvalSet) -> dict:
    """``{"metric", "results", "total_time"}`` of one registered metric on ``data``."""
    if name not in _METRICS:
        raise MetricError(f"unknown metric {name!r} (known: {', '.join(_METRICS)})")
    t0 = time.perf_counter()
    results = _METRICS[name](data)
    return {"metric": name, "results": results, "total_time": time.perf_counter() - t0}


def calc_metrics(names: list[str], data: EvalSet) -> tuple[dict, dict]:
    """All ``names`` on ``data``: (merged results, seconds per metric)."""
    results, seconds = {}, {}
    for name in names:
        r = calc_metric(name, data)
        results.update(r["results"])
        seconds[name] = round(r["total_time"], 3)
    return results, seconds


def report_metric(result: dict, path: str | os.PathLike, **context) -> None:
    """Append one metric result (plus ``context``, e.g. the model) as a line of JSONL."""
    line = json.dumps({**context, **result, "timestamp": time.time()})
    with open(Path(path), "a") as f:
        f.write(line + "\n")


def _needs(data: EvalSet, metric: str, *fields: str) -> None:
    missing = [f for f in fields if getattr(data, f) is None]
    if missing:
        raise MetricError(f"metric {metric!r} needs {', '.join(missing)}, which this set lacks")


def _chunked(fn, x: torch.Tensor, y: torch.Tensor, size: int = 1000) -> torch.Tensor:
    return torch.cat([fn(a, b) for a, b in zip(x.split(size), y.split(size), strict=True)])


# -- the metrics ---------------------------------------------------------------------------------
@register_metric
def mse_both(data: EvalSet) -> dict:
    """Mean squared error on the [0, 1] and the [-1, 1] scale."""
    m = _chunked(mse, data.originals, data.reconstructions).mean().item()
    return {"mse_01": m, "mse_m11": 4 * m}


@register_metric
def psnr_db(data: EvalSet) -> dict:
    """Mean per-image PSNR in dB ([0, 1] images; an exact image counts as PSNR_CAP)."""
    p = _chunked(psnr, data.originals, data.reconstructions).clamp(max=PSNR_CAP)
    return {"psnr": p.mean().item()}


@register_metric
def ssim_gauss11(data: EvalSet) -> dict:
    """Mean SSIM, 11x11 Gaussian window, sigma 1.5, data range 1."""
    return {"ssim": _chunked(ssim, data.originals, data.reconstructions).mean().item()}


@register_metric
def ssim_skimage(data: EvalSet) -> dict:
    """Mean SSIM over the interior (5-pixel border dropped), skimage's convention, which the
    limits of ../shared/reference/numbers.md use."""
    fn = lambda a, b: ssim(a, b, crop=5)  # noqa: E731
    return {"ssim_crop": _chunked(fn, data.originals, data.reconstructions).mean().item()}


@register_metric
def bits(data: EvalSet) -> dict:
    """Exact payload bits per image and per pixel; the file's bits per image when known."""
    _needs(data, "bits", "bits")
    pixels = math.prod(data.originals.shape[2:])
    out = {"bits_per_image": float(data.bits), "bpp": float(data.bits) / pixels}
    if data.file_bits is not None:
        out["file_bits_per_image"] = float(data.file_bits)
    return out


@register_metric
def timing(data: EvalSet) -> dict:
    """Encode (and decode, when separate) wall time per image, in milliseconds."""
    _needs(data, "timing", "encode_seconds")
    n = data.count
    out = {"encode_ms_per_image": 1000 * data.encode_seconds / n}
    if data.decode_seconds is not None:
        out["decode_ms_per_image"] = 1000 * data.decode_seconds / n
    return out


@register_metric
def seed_recovery(data: EvalSet) -> dict:
    """Synthetic sets: share of images whose generating seed is found; latent MSEs.

    ``mse_latent``: true seed's latent vs the found seed's (0 when recovered);
    ``mse_latent_inverse``: true latent vs the inverse generator's continuous output.
    """
    _needs(data, "seed_recovery", "true_seeds", "found_seeds")
    found = data.found_seeds.reshape(data.count, -1)[:, 0]
    out = {"seed_recovery": (found == data.true_seeds.reshape(-1)).float().mean().item()}
    if data.true_latents is not None and data.found_latents is not None:
        out["mse_latent"] = (data.true_latents - data.found_latents).square().mean().item()
    if data.true_latents is not None and data.inverse_latents is not None:
        diff = data.true_latents - data.inverse_latents
        out["mse_latent_inverse"] = diff.square().mean().item()
    return out


@register_metric
def classifier(data: EvalSet) -> dict:
    """The digit classifier on reconstructions against the true labels (MNIST only).

    A uniform guess scores CE ln(10) = 2.303; the classifier's clean accuracy is reported
    beside, so a reader sees how much of the loss the codec causes.
    """
    _needs(data, "classifier", "labels")
    if data.originals.shape[1:] != (1, 28, 28):
        raise MetricError("metric 'classifier' judges 28x28 grey digits (MNIST) only")
    from seedembed.train.classifier import evaluate
    from seedembed.zoo import load_classifier

    net = load_classifier()
    judged = evaluate(net, data.reconstructions, data.labels)
    clean = evaluate(net, data.originals, data.labels)
    return {
        "accuracy": judged["accuracy"],
        "cross_entropy": judged["cross_entropy"],
        "clean_accuracy": clean["accuracy"],
    }


#: real-side FID statistics of the originals seen so far: (extractor, device, hash) -> ref
_FID_REFS: dict[tuple[str, str, str], object] = {}


def fid_subset(count: int, n: int | None) -> torch.Tensor:
    """The indices FID uses: all, or ``n`` drawn at random (seed 0) and sorted.

    A random subset, not the first ``n``: MNIST's test set is ordered by writer group and its
    first images are not a fair sample (the digit-feature FID of test[:5000] vs test[5000:] is
    43, of two random halves about 4).
    """
    if n is None or n >= count:
        return torch.arange(count)
    gen = torch.Generator().manual_seed(0)
    return torch.randperm(count, generator=gen)[:n].sort().values


def _fid(data: EvalSet, extractor: str, key: str, n: int | None) -> dict:
    import hashlib

    from seedembed.metrics.fid import FidReference

    idx = fid_subset(data.count, n)
    real = data.originals[idx].contiguous()
    digest = hashlib.sha1(real.float().numpy().tobytes()).hexdigest()
    ref_key = (extractor, str(data.device), digest)
    if ref_key not in _FID_REFS:
        if len(_FID_REFS) >= 4:  # a few reference sets per process are plenty
            _FID_REFS.clear()
        _FID_REFS[ref_key] = FidReference(real, extractor, device=data.device)
    r = _FID_REFS[ref_key](data.reconstructions[idx])
    return {
        key: r.value,
        f"{key}_extractor": r.extractor,
        f"{key}_n_real": r.n_real,
        f"{key}_n_fake": r.n_fake,
    }


@register_metric
def fid_inception(data: EvalSet) -> dict:
    """FID of reconstructions against originals on InceptionV3 (TF 2015-12-05) pool features."""
    return _fid(data, "inception-v3-tf2015", "fid_inception", data.fid_n)


@register_metric
def fid_classifier(data: EvalSet) -> dict:
    """A domain FID for digits on the project classifier's features, on every image (it is
    cheap: a small MLP, not an InceptionV3 pass)."""
    if data.originals.shape[1:] != (1, 28, 28):
        raise MetricError("metric 'fid_classifier' needs 28x28 grey digits (MNIST)")
    return _fid(data, "mnist-classifier", "fid_classifier", None)


__all__ = [
    "PSNR_CAP",
    "EvalSet",
    "calc_metric",
    "calc_metrics",
    "is_valid_metric",
    "list_valid_metrics",
    "register_metric",
    "report_metric",
]
