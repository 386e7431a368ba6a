"""Train the project's digit classifier (the judge of reconstructions) on MNIST.

Deterministic from its seed; a few epochs of Adam reach about 99% on the clean test digits.
``augment`` trains on randomly warped digits (the codebook fine-tuning's warp, drawn afresh each
epoch) with a cosine learning-rate decay: a judge that has seen small rotations, scalings and
shifts reads a slightly soft or tilted reconstruction by its shape, not by its exact pixels.
The result is a folder with ``classifier.safetensors`` and ``classifier.json`` (width, epochs,
settings, clean test accuracy and cross-entropy, command, commit, machine, UTC times).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from seedembed.errors import CheckpointError, ModelError
from seedembed.models.classifier import ARCHS, DigitClassifier
from seedembed.train import checkpoint as ckpt
from seedembed.train.config import check_lr
from seedembed.train.runinfo import command_line, git_commit, machine, utc_now

WEIGHTS = "classifier.safetensors"
CONFIG = "classifier.json"


@torch.no_grad()
def evaluate(net: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Accuracy and mean cross-entropy of ``net`` on images in [0, 1]."""
    net.eval()
    logits = torch.cat([net(b) for b in images.float().split(2048)])
    return {
        "accuracy": (logits.argmax(1) == labels).float().mean().item(),
        "cross_entropy": nn.functional.cross_entropy(logits, labels).item(),
    }


def train_classifier(
    out_dir: str | Path,
    *,
    data_root: str | None = None,
    epochs: int = 3,
    batch_size: int = 128,
    lr: float = 1e-3,
    width: int = 32,
    arch: str = "cnn",
    seed: int = 0,
    augment: bool = False,
    device: str = "cpu",
    limit: int | None = None,
) -> dict:
    """Train on the 60,000 MNIST training digits (the first ``limit``), measure on the 10,000
    test digits, save. ``arch``: ``cnn`` (the shipped judge's) or ``mlp`` (the reference's)."""
    from seedembed.data.mnist import Mnist
    from seedembed.train.codebook import warp

    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ModelError(f"limit must be an integer >= 1, got {limit!r}")
    if arch not in ARCHS:
        raise ModelError(f"unknown classifier arch {arch!r} (known: {', '.join(ARCHS)})")
    check_lr(lr)
    started, t0 = utc_now(), time.perf_counter()
    dev = torch.device(device)
    train, test = Mnist(data_root, train=True), Mnist(data_root, train=False)
    x, y = train.as_uint8()[:limit].float().div_(255), train.targets[:limit]
    xt, yt = test.as_uint8().float().div_(255).to(dev), test.targets.to(dev)
    with torch.random.fork_rng(devices=[]):  # the seed fixes the weights, not the caller's RNG
        torch.default_generator.manual_seed(seed)
        net = DigitClassifier(width, arch).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps = max(1, epochs * math.ceil(len(x) / batch_size))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: 0.5 * (1 + math.cos(math.pi * i / steps)) if augment else 1.0
    )
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        xe = (warp(x * 2 - 1, gen) + 1) / 2 if augment else x
        for idx in torch.randperm(len(x), generator=gen).split(batch_size):
            loss = nn.functional.cross_entropy(net(xe[idx].to(dev)), y[idx].to(dev))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    metrics = evaluate(net, xt, yt)
    info = {
        "format": "seedembed-classifier/1",
        "arch": arch,
        "width": width,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "augment": augment,
        "train_images": len(x),
        "test": metrics,
        "command": command_line(),
        "commit": git_commit(),
        "machine": machine(dev, 1),
        "started_utc": started,
        "finished_utc": utc_now(),
        "wall_time_s": round(time.perf_counter() - t0, 1),
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.cpu() for k, v in net.state_dict().items()}
    ckpt.atomic_save_tensors(state, out / WEIGHTS, None)
    ckpt.atomic_write_text(json.dumps(info, indent=2) + "\n", out / CONFIG)
    return info


def load_classifier(folder: str | Path) -> DigitClassifier:
    """A trained classifier from its folder (safetensors + JSON; nothing is unpickled)."""
    folder = Path(folder)
    try:
        info = json.loads((folder / CONFIG).read_text())
        state = load_file(str(folder / WEIGHTS))
        net = DigitClassifier(int(info["width"]), str(info.get("arch", "cnn")))
        net.load_state_dict(state)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        where = str(folder)
        raise CheckpointError(f"cannot load a digit classifier from {where!r}: {exc}") from None
    return net.eval().requires_grad_(False)
