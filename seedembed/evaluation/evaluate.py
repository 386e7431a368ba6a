"""Evaluate one method on one image set: the numbers behind every table, as JSON.

A method is a seed codec (a model and a search strategy) or a baseline of
:mod:`seedembed.baselines` (``baseline:ae14``, ``baseline:kmeans-5101``, ...). Its images go
through the method's own encode and decode (for a codec, through the bytes of a ``.seed``
file, so the bits are the file's), and the registered metrics (:mod:`seedembed.metrics.registry`)
judge the result. The output follows CompressAI's ``eval_model`` JSON: ``name``,
``description``, ``results`` (metric -> list, one entry per rate point), plus what a reader
needs to trust it: the model fingerprint, the FID extractors and sample sizes, command line,
commit, machine and time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from seedembed.errors import DataError, MetricError
from seedembed.metrics.registry import EvalSet, calc_metrics
from seedembed.train.runinfo import command_line, git_commit, machine, utc_now

#: metrics of a real test set (FID added by ``fid=True``)
TEST_METRICS = ("mse_both", "psnr_db", "ssim_gauss11", "ssim_skimage", "bits", "timing")
#: metrics of a synthetic set (images generated from known seeds)
SYNTHETIC_METRICS = (*TEST_METRICS, "seed_recovery")
SPLITS = ("test", "train", "synthetic")


@dataclass
class Images:
    """An evaluation set: float images (N, C, H, W) in [0, 1], labels and true seeds if known."""

    name: str
    images: torch.Tensor
    labels: torch.Tensor | None = None
    seeds: torch.Tensor | None = None
    info: dict = field(default_factory=dict)


def load_images(
    dataset: str, split: str, n: int | None = None, *, data_root: str | None = None
) -> Images:
    """The first ``n`` images of a named data set's train or test split, in [0, 1]."""
    from seedembed.data import load_uint8, open_dataset

    if split not in ("test", "train"):
        raise DataError(f"split must be test or train for real images, got {split!r}")
    ds = open_dataset(dataset, data_root, train=split == "train")
    x = load_uint8(ds, n).float().div_(255)
    labels = getattr(ds, "targets", None)
    labels = torch.as_tensor(labels[: len(x)]) if labels is not None else None
    return Images(f"{dataset}/{split}", x, labels, None, {"dataset": dataset, "split": split})


def synthetic_images(codec, n: int, seed: int = 1) -> Images:
    """``n`` images the codec's generator made from distinct seeds drawn by default_rng(seed)."""
    size = codec.prf.size
    if size is None:
        raise MetricError("a synthetic set needs a finite seed space to draw distinct seeds")
    seeds = np.sort(np.random.default_rng(seed).choice(size, min(n, size), replace=False))
    seeds_t = torch.from_numpy(seeds)
    info = {"dataset": f"synthetic:{codec.name}", "split": "synthetic", "sampler": seed}
    return Images(f"synthetic/{codec.name}", codec.decode(seeds_t), None, seeds_t, info)


class CodecMethod:
    """A seed codec with a fixed search strategy."""

    kind = "seed"

    def __init__(self, codec, search: str | None, cache_dir=None, **search_kw) -> None:
        """``search_kw`` go to ``codec.encode``: e.g. ``compose=ComposeSettings(...)`` (then
        ``search`` is None) and ``latents`` to start the composition from."""
        self.codec, self.search, self.cache_dir, self.search_kw = (
            codec,
            search,
            cache_dir,
            search_kw,
        )
        compose = search_kw.get("compose")
        self.name = f"{codec.name}/{compose.name if compose is not None else search}"
        if compose is not None:
            self.name += f"-n{compose.n}-k{compose.weight_bits}"

    def describe(self) -> dict:
        kw = {k: v for k, v in self.search_kw.items() if not isinstance(v, torch.Tensor)}
        if kw.get("compose") is not None:
            kw["compose"] = kw["compose"].to_dict()
        if "latents" in self.search_kw:
            kw["latents"] = "given (projected in image space)"
        return {
            "model": self.codec.name,
            "fingerprint": self.codec.fingerprint,
            "prf": self.codec.prf.spec,
            "search": self.search,
            **kw,
        }

    def run(self, x: torch.Tensor) -> dict:
        from seedembed.codec import Encoding

        t0 = time.perf_counter()
        enc = self.codec.encode(x, self.search, cache_dir=self.cache_dir, **self.search_kw)
        payload = enc.to_bytes()
        encode_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        recon = self.codec.decode(Encoding.from_bytes(payload))
        decode_s = time.perf_counter() - t0
        seeds = enc.seeds
        return {
            "reconstructions": recon,
            "bits": float(enc.bits),
            "file_bits": 8 * len(payload) / len(x),
            "encode_seconds": encode_s,
            "decode_seconds": decode_s,
            "found_seeds": seeds,
        }


class BaselineMethod:
    """A baseline codec of :mod:`seedembed.baselines` (autoencoder, k-means, nearest image)."""

    kind = "baseline"

    def __init__(self, baseline) -> None:
        self.baseline = baseline
        self.name = f"baseline:{baseline.name}"

    def describe(self) -> dict:
        return {"baseline": self.baseline.name}

    def run(self, x: torch.Tensor) -> dict:
        t0 = time.perf_counter()
        recon = self.baseline.reconstruct(x)
        return {
            "reconstructions": recon,
            "bits": float(self.baseline.bits),
            "encode_seconds": time.perf_counter() - t0,
        }


def make_method(
    spec: str,
    *,
    search: str = "image",
    device: str = "cpu",
    data_root: str | None = None,
    cache_dir: str | None = None,
    train_missing: bool = True,
):
    """``baseline:NAME`` or a model name/folder (with ``search``) -> a method to evaluate.

    A baseline missing from the cache is trained when ``train_missing`` (it says so), else
    refused with :class:`~seedembed.errors.ModelError`.
    """
    if spec.startswith("baseline:"):
        from seedembed.baselines import load_baseline

        name = spec.split(":", 1)[1]
        return BaselineMethod(load_baseline(name, data_root=data_root, train_missing=train_missing))
    from seedembed.codec import load

    return CodecMethod(load(spec, device=device), search, cache_dir=cache_dir)


def evaluate(
    method,
    images: Images,
    *,
    metrics: tuple[str, ...] | None = None,
    fid: bool = False,
    fid_n: int | None = None,
    device: str = "cpu",
) -> dict:
    """Run ``method`` on ``images`` and measure it; returns the JSON-ready result."""
    out = method.run(images.images)
    is_synth = images.seeds is not None
    if metrics is None:
        metrics = SYNTHETIC_METRICS if is_synth and method.kind == "seed" else TEST_METRICS
        if images.labels is not None and images.images.shape[1:] == (1, 28, 28):
            metrics = (*metrics, "classifier")
        if fid:
            metrics = (*metrics, "fid_inception")
            if images.images.shape[1:] == (1, 28, 28):
                metrics = (*metrics, "fid_classifier")
    data = EvalSet(
        images.images,
        out["reconstructions"],
        labels=images.labels,
        bits=out.get("bits"),
        file_bits=out.get("file_bits"),
        encode_seconds=out.get("encode_seconds"),
        decode_seconds=out.get("decode_seconds"),
        fid_n=fid_n,
        device=device,
    )
    if is_synth and "found_seeds" in out:
        method_codec = method.codec
        L = method_codec.latent_length
        data.true_seeds, data.found_seeds = images.seeds, out["found_seeds"]
        data.true_latents = method_codec.prf.sequences(images.seeds, L)
        data.found_latents = method_codec.prf.sequences(out["found_seeds"][:, 0], L)
        if method_codec.inverse is not None:
            data.inverse_latents = method_codec.latents(images.images)
    values, seconds = calc_metrics(list(metrics), data)
    return {
        "name": method.name,
        "description": f"{method.kind} codec on {images.name}",
        "kind": method.kind,
        "method": method.describe(),
        "dataset": images.info,
        "n_images": len(images.images),
        "results": {k: [v] for k, v in values.items()},
        "metric_seconds": seconds,
        "conventions": {
            "mse_01": "MSE on [0, 1]",
            "mse_m11": "MSE on [-1, 1] (= 4 x mse_01)",
            "psnr": "dB on [0, 1], per image, exact images capped at 100",
            "ssim": "11x11 Gaussian window, sigma 1.5 (torchmetrics)",
        },
        "command": command_line(),
        "commit": git_commit(),
        "machine": machine(torch.device(device), 1),
        "utc": utc_now(),
        "reconstructions": out["reconstructions"],
    }


def strip(result: dict) -> dict:
    """The result without tensors (what goes into JSON)."""
    return {k: v for k, v in result.items() if not isinstance(v, torch.Tensor)}
