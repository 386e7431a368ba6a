"""Faults in training: kill -9 at random moments, failed checkpoint writes, diverging losses."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from fake_data import write_fake_mnist

from seedembed.cli import main
from seedembed.train import checkpoint as ckpt
from seedembed.train import loop as loop_mod
from seedembed.train import read_checkpoint
from seedembed.zoo import load_generator

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    return write_fake_mnist(tmp_path_factory.mktemp("data"), n_train=256, n_test=16)


def _args(out, root, *more: str) -> list[str]:
    return [
        "train-gan", "--out", str(out), "--data-root", str(root), "--limit", "128",
        "--batch-size", "32", "--width", "8", "--no-progress", "--no-tensorboard",
        "--device", "cpu", *more,
    ]  # fmt: skip


def _finite(out) -> bool:
    tensors, _ = read_checkpoint(out)
    return all(torch.isfinite(v).all() for v in tensors.values() if v.is_floating_point())


def test_kill_9_at_random_moments_leaves_a_loadable_checkpoint(tmp_path, mnist_root):
    """Three SIGKILLs at random moments of a run that checkpoints every step: each time the
    checkpoint and the model folder load, and --resume goes on from where it was."""
    out = tmp_path / "run"
    rng = np.random.default_rng(0)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    steps = []
    argv = _args(out, mnist_root, "--epochs", "50", "--checkpoint-every", "1")
    for attempt in range(3):
        cmd = argv if attempt == 0 else ["train-gan", "--resume", str(out), "--no-progress"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "seedembed", *cmd],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # wait for this process's first checkpoint, then kill it at a random moment
            deadline = time.monotonic() + 120
            before = steps[-1] if steps else 0
            while time.monotonic() < deadline:
                if (out / ckpt.CHECKPOINT).is_file() and read_checkpoint(out)[1]["step"] > before:
                    break
                time.sleep(0.05)
            time.sleep(float(rng.uniform(0.0, 1.5)))
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        tensors, state = read_checkpoint(out)
        assert state["step"] > before and _finite(out)
        assert load_generator(out).generator is not None  # the model folder loads too
        steps.append(state["step"])
    assert steps == sorted(steps)
    rc = main(["train-gan", "--resume", str(out), "--max-steps", str(steps[-1] + 2),
               "--no-progress"])  # fmt: skip
    assert rc == 0 and read_checkpoint(out)[1]["step"] == steps[-1] + 2
    assert not [p for p in out.iterdir() if ".tmp" in p.name]  # killed writers' litter is gone


@pytest.mark.skipif(
    not (os.path.exists("/dev/full") and stat.S_ISCHR(os.stat("/dev/full").st_mode)),
    reason="needs /dev/full (a device whose writes fail with ENOSPC)",
)
def test_a_failed_checkpoint_write_is_one_line_and_keeps_the_previous(
    tmp_path, mnist_root, monkeypatch, capsys
):
    """A real ENOSPC from the kernel: from the third file write on, the temporary file is a
    link to /dev/full, so the write itself fails as on a full disk."""
    out = tmp_path / "run"
    real = ckpt._tmp
    calls = {"n": 0}

    def full_disk(path):
        calls["n"] += 1
        tmp = real(path)
        if calls["n"] > 2:  # the first checkpoint and its model file get written
            tmp.symlink_to("/dev/full")
        return tmp

    monkeypatch.setattr(ckpt, "_tmp", full_disk)
    rc = main(_args(out, mnist_root, "--epochs", "3", "--checkpoint-every", "2"))
    err = capsys.readouterr().err
    assert rc == 2 and "No space left on device; the previous file is kept" in err
    assert "Traceback" not in err
    assert read_checkpoint(out)[1]["step"] == 2 and _finite(out)
    assert not list(out.glob(".*.tmp*"))
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)  # the device itself is untouched
    monkeypatch.setattr(ckpt, "_tmp", real)
    assert main(["train-gan", "--resume", str(out), "--max-steps", "4", "--no-progress"]) == 0


def _run_with_poison(out, root, monkeypatch, poison_step) -> int:
    """Train 3 epochs (checkpoints at steps 4, 8, ...) with ``poison_step(call, nets, stats)``
    applied after every GAN step; returns the CLI's exit code."""
    real = loop_mod.gan_step
    calls = {"n": 0}

    def step(nets, *args, **kwargs):
        calls["n"] += 1
        return poison_step(calls["n"], nets, real(nets, *args, **kwargs))

    monkeypatch.setattr(loop_mod, "gan_step", step)
    return main(_args(out, root, "--epochs", "3", "--checkpoint-every", "4"))


@pytest.mark.parametrize(("poison", "message"), [(float("nan"), "NaN"), (1e5, "above 1000")])
def test_a_diverging_loss_stops_before_writing_garbage(
    tmp_path, mnist_root, monkeypatch, capsys, poison, message
):
    def diverge(call, nets, stats):
        if call < 6:
            return stats
        with torch.no_grad():
            for p in nets.G.parameters():
                p.mul_(poison)
        return torch.full_like(stats, poison)

    out = tmp_path / "run"
    rc = _run_with_poison(out, mnist_root, monkeypatch, diverge)
    err = capsys.readouterr().err
    assert rc == 2 and f"training diverged at step 6 (loss {message}" in err
    assert "last good checkpoint (step 4)" in err
    assert read_checkpoint(out)[1]["step"] == 4 and _finite(out)


def test_weights_that_overflow_behind_a_finite_loss_are_not_saved(
    tmp_path, mnist_root, monkeypatch, capsys
):
    """The loss still looks fine, the update made the weights NaN: the next save refuses."""

    def overflow(call, nets, stats):
        if call == 8:  # the update of a save step
            with torch.no_grad():
                next(nets.G.parameters()).fill_(float("inf"))
        return stats

    out = tmp_path / "run"
    rc = _run_with_poison(out, mnist_root, monkeypatch, overflow)
    err = capsys.readouterr().err
    assert rc == 2 and "training diverged at step 8 (weights NaN or infinite)" in err
    assert read_checkpoint(out)[1]["step"] == 4 and _finite(out)
