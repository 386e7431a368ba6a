"""Faults in training: kill -9 at random moments, failed checkpoint writes, diverging losses."""

from __future__ import annotations

import errno
import os
import signal
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
    assert not list(out.glob(".*.tmp*"))  # litter of killed writers is cleaned on resume


def test_a_failed_checkpoint_write_is_one_line_and_keeps_the_previous(
    tmp_path, mnist_root, monkeypatch, capsys
):
    out = tmp_path / "run"
    real = ckpt.save_file
    calls = {"n": 0}

    def full_disk(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 2:  # the first checkpoint and its model file get written
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(ckpt, "save_file", full_disk)
    rc = main(_args(out, mnist_root, "--epochs", "3", "--checkpoint-every", "2"))
    err = capsys.readouterr().err
    assert rc == 2 and "No space left on device; the previous file is kept" in err
    assert "Traceback" not in err
    assert read_checkpoint(out)[1]["step"] == 2 and _finite(out)
    assert not list(out.glob(".*.tmp*"))
    monkeypatch.setattr(ckpt, "save_file", real)
    assert main(["train-gan", "--resume", str(out), "--max-steps", "4", "--no-progress"]) == 0


@pytest.mark.parametrize(("poison", "message"), [(float("nan"), "NaN"), (1e5, "above 1000")])
def test_a_diverging_loss_stops_before_writing_garbage(
    tmp_path, mnist_root, monkeypatch, capsys, poison, message
):
    out = tmp_path / "run"
    real = loop_mod.gan_step
    calls = {"n": 0}

    def diverge(nets, *args, **kwargs):
        calls["n"] += 1
        stats = real(nets, *args, **kwargs)
        if calls["n"] >= 6:
            with torch.no_grad():
                for p in nets.G.parameters():
                    p.mul_(poison)
            return torch.full_like(stats, poison)
        return stats

    monkeypatch.setattr(loop_mod, "gan_step", diverge)
    rc = main(_args(out, mnist_root, "--epochs", "3", "--checkpoint-every", "4"))
    err = capsys.readouterr().err
    assert rc == 2 and f"training diverged at step 6 (loss {message}" in err
    assert "last good checkpoint (step 4)" in err
    assert read_checkpoint(out)[1]["step"] == 4 and _finite(out)
