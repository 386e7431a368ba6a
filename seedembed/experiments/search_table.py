"""Issue 4's strategy table: the four seed searches side by side on MNIST.

Test set: real held-out digits, encoded and decoded; MSE on both scales, PSNR, SSIM, and the
project's digit classifier's accuracy and cross-entropy on the reconstructions against the true
labels. Synthetic set: images the generator made from known seeds (uniform without
replacement, numpy default_rng(1)); the seed-recovery rate and the latent MSE between the true
and the found seed's latent. The thesis' rows and the limits of ../shared/reference/numbers.md
are printed beside ours.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from seedembed.codec import load
from seedembed.experiments.reference import MNIST_LIMITS, MNIST_SYNTHETIC, MNIST_TEST
from seedembed.metrics.registry import EvalSet, calc_metrics
from seedembed.search import STRATEGIES


def _quality(x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """MSE on both scales, PSNR and SSIM: the registry's metrics of the same names."""
    values, _ = calc_metrics(["mse_both", "psnr_db", "ssim_gauss11"], EvalSet(x, y))
    return values


@torch.no_grad()
def run(
    model: str = "mnist-524287",
    *,
    n_test: int = 10_000,
    n_synthetic: int = 1_000,
    strategies: tuple[str, ...] = STRATEGIES,
    data_root: str | None = None,
    device: str = "cpu",
    cache_dir: str | None = None,
    eps: int = 2000,
    topk: int = 64,
) -> dict:
    """Rows of the table for every strategy, plus the setup they were measured with."""
    from seedembed.data.mnist import Mnist
    from seedembed.train.classifier import evaluate
    from seedembed.zoo import load_classifier

    codec = load(model, device=device)
    clf = load_classifier()
    test = Mnist(data_root, train=False)
    x = test.as_uint8(n_test).float().div_(255)
    labels = test.targets[:n_test]
    clean = evaluate(clf, x, labels)
    seeds = np.sort(np.random.default_rng(1).choice(codec.prf.size, n_synthetic, replace=False))
    synth = codec.decode(torch.from_numpy(seeds))
    true_z = codec.prf.sequences(seeds, codec.latent_length)
    rows = []
    for strategy in strategies:
        t0 = time.perf_counter()
        enc = codec.encode(x, strategy, eps=eps, topk=topk, cache_dir=cache_dir)
        seconds = time.perf_counter() - t0
        recon = codec.decode(enc)
        row = {"strategy": strategy, "bits": enc.bits, "test_seconds": seconds}
        row.update({f"test_{k}": v for k, v in _quality(x, recon).items()})
        judged = evaluate(clf, recon, labels)
        row["test_accuracy"], row["test_ce"] = judged["accuracy"], judged["cross_entropy"]
        s_enc = codec.encode(synth, strategy, eps=eps, topk=topk, cache_dir=cache_dir)
        found = s_enc.seeds[:, 0]
        row["synthetic_recovery"] = (found.numpy() == seeds).mean().item()
        row["synthetic_mse_latent"] = (
            (codec.prf.sequences(found, codec.latent_length) - true_z).pow(2).mean().item()
        )
        row.update({f"synthetic_{k}": v for k, v in _quality(synth, codec.decode(s_enc)).items()})
        rows.append(row)
    return {
        "model": model,
        "fingerprint": codec.fingerprint,
        "prf": codec.prf.spec,
        "n_test": len(x),
        "n_synthetic": n_synthetic,
        "classifier_clean": clean,
        "eps": eps,
        "topk": topk,
        "inverse_latent_mse_synthetic": (codec.latents(synth) - true_z).pow(2).mean().item()
        if codec.inverse is not None
        else None,
        "rows": rows,
    }


def format_table(result: dict) -> str:
    clean = result["classifier_clean"]
    lines = [
        f"Seed search strategies, {result['model']} ({result['prf']}), MNIST test set "
        f"({result['n_test']} images) and a synthetic set ({result['n_synthetic']} seeds)",
        f"classifier on clean test digits: accuracy {clean['accuracy']:.4f}, "
        f"CE {clean['cross_entropy']:.4f}; SSIM 11x11 Gaussian, sigma 1.5; "
        f"neighbourhood eps {result['eps']}, hybrid top-{result['topk']}",
        "",
        f"{'test set':<42}{'bits':>5}{'MSE[0,1]':>10}{'MSE[-1,1]':>10}{'PSNR':>7}{'SSIM':>7}"
        f"{'acc':>7}{'CE':>7}{'s':>8}",
    ]
    for r in result["rows"]:
        lines.append(
            f"{'ours: ' + r['strategy']:<42}{r['bits']:>5}{r['test_mse_01']:>10.4f}"
            f"{r['test_mse_m11']:>10.4f}{r['test_psnr']:>7.2f}{r['test_ssim']:>7.3f}"
            f"{r['test_accuracy']:>7.3f}{r['test_ce']:>7.3f}{r['test_seconds']:>8.1f}"
        )
    for name, t in MNIST_TEST.items():
        lines.append(
            f"{'thesis: ' + name:<42}{'':>5}{'':>10}{t['mse_m11']:>10.4f}{'':>7}"
            f"{t['ssim']:>7.3f}{'':>7}{t['ce']:>7.3f}"
        )
    for name, t in MNIST_LIMITS.items():
        lines.append(
            f"{'limit: ' + name:<42}{t['bits']:>5.1f}{t['mse_m11'] / 4:>10.4f}"
            f"{t['mse_m11']:>10.4f}{'':>7}{t['ssim']:>7.3f}{t['acc']:>7.3f}"
        )
    lines += [
        "",
        f"{'synthetic set':<42}{'recovered':>10}{'MSE lat':>10}{'MSE[-1,1]':>10}{'SSIM':>7}",
    ]
    for r in result["rows"]:
        lines.append(
            f"{'ours: ' + r['strategy']:<42}{r['synthetic_recovery']:>10.3f}"
            f"{r['synthetic_mse_latent']:>10.4f}{r['synthetic_mse_m11']:>10.4f}"
            f"{r['synthetic_ssim']:>7.3f}"
        )
    for name, t in MNIST_SYNTHETIC.items():
        lines.append(
            f"{'thesis: ' + name:<42}{'':>10}{t['mse_latent']:>10.4f}{t['mse_m11']:>10.4f}"
            f"{t['ssim']:>7.3f}"
        )
    if result.get("inverse_latent_mse_synthetic") is not None:
        lines.append(
            f"inverse generator latent MSE on the synthetic set: "
            f"{result['inverse_latent_mse_synthetic']:.4f}"
        )
    return "\n".join(lines)
