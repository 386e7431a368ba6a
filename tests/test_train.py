"""Training: schedules, checkpoints, resume equivalence, Ctrl-C, two processes, the CLI."""

from __future__ import annotations

import json
import os
import signal
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from fake_data import write_fake_mnist
from PIL import Image
from safetensors.torch import load_file, save_file

from seedembed import prf
from seedembed.cli import main
from seedembed.errors import CheckpointError
from seedembed.models import GanConfig, generate
from seedembed.train import (
    LatentSampler,
    RunOptions,
    TrainConfig,
    data_order,
    read_checkpoint,
    train_gan,
)
from seedembed.train import checkpoint as ckpt
from seedembed.train import loop as loop_mod
from seedembed.zoo import export_run, load_generator

TINY = GanConfig.mnist(g_width=8, d_width=8)
QUIET = {"device": "cpu", "progress": False, "tensorboard": False}


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    return write_fake_mnist(tmp_path_factory.mktemp("data"), n_train=256, n_test=16)


def tiny_config(**changes) -> TrainConfig:
    base = {"model": TINY, "epochs": 2, "batch_size": 32, "limit": 128, "schedule": "2steps"}
    return TrainConfig(**{**base, **changes})


def states_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# -- schedules ---------------------------------------------------------------------------------
def test_prf_latents_are_sequences_of_uniform_seeds():
    p = prf.get("lcg-524287")
    sampler = LatentSampler(p, 25, 0.1)
    gen = torch.Generator().manual_seed(1)
    state = gen.get_state()
    z = sampler("prf", 4000, gen)
    seeds = torch.randint(0, p.size, (4000,), generator=torch.Generator().set_state(state))
    assert torch.equal(z, p.sequences(seeds, 25))
    assert abs(seeds.float().mean().item() / p.size - 0.5) < 0.02  # uniform over the space


def test_uniform_latents_fill_the_cube():
    z = LatentSampler(prf.get("lcg-5101"), 25, 0.1)("uniform", 20000, torch.Generator())
    assert z.shape == (20000, 25) and z.min() >= -1 and z.max() <= 1
    assert abs(z.mean().item()) < 0.01 and abs(z.std().item() - 3**-0.5) < 0.01


def test_noise_is_uniform_bounded_and_not_clamped():
    p = prf.get("lcg-5101")
    sampler = LatentSampler(p, 25, 0.1)
    gen = torch.Generator().manual_seed(2)
    state = gen.get_state()
    z = sampler("prf+noise", 20000, gen)
    clean = sampler("prf", 20000, torch.Generator().set_state(state))
    noise = z - clean
    assert noise.abs().max() <= 0.1 + 1e-6 and noise.abs().max() > 0.099
    assert abs(noise.std().item() - 0.1 / 3**0.5) < 0.002  # U(-0.1, 0.1)
    assert z.abs().max() > 1.0  # not clamped to [-1, 1]


@pytest.mark.parametrize("spec", ["henon", "tent", "lcg:a=1255,c=6173,m=29282"])
def test_any_prf_feeds_the_schedules(spec):
    p = prf.get(spec)
    z = LatentSampler(p, 10, 0.1)("prf", 8, torch.Generator())
    assert z.shape == (8, 10) and z.abs().max() <= 1


def test_schedules_have_the_thesis_passes():
    assert tiny_config(schedule="2steps").passes == ("uniform", "prf")
    assert tiny_config(schedule="lcg").passes == ("prf",)
    assert tiny_config(schedule="lcg+noise").passes == ("prf+noise",)
    assert tiny_config(schedule="uniform").passes == ("uniform",)


def test_data_order_is_a_reproducible_permutation():
    a = data_order(1000, 0, 3, 1)
    assert torch.equal(torch.sort(a).values, torch.arange(1000))
    assert torch.equal(a, data_order(1000, 0, 3, 1))
    assert not torch.equal(a, data_order(1000, 0, 3, 0))
    assert not torch.equal(a, data_order(1000, 1, 3, 1))


# -- checkpoints -------------------------------------------------------------------------------
def test_checkpoint_round_trip_is_exact(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.9))
    for _ in range(3):
        opt.zero_grad()
        net(torch.randn(5, 3)).square().mean().backward()
        opt.step()
    gen = torch.Generator().manual_seed(7)
    ckpt.save_checkpoint(
        tmp_path,
        modules={"net": net},
        optimizers={"opt": opt},
        rng={"latent": gen.get_state()},
        state={"step": 3, "note": "x"},
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.safetensors"]
    tensors, state = read_checkpoint(tmp_path)
    assert state["step"] == 3 and state["note"] == "x"
    net2 = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    ckpt.load_module(net2, ckpt.module_state(tensors, "net"), "net")
    assert states_equal(net, net2)
    opt2 = torch.optim.Adam(net2.parameters(), lr=5.0)
    opt2.load_state_dict(ckpt.unflatten_optimizer("opt", tensors, state["optimizers"]["opt"]))
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s2["param_groups"][0]["lr"] == 1e-3 and list(s2["param_groups"][0]["betas"]) == [
        0.5,
        0.9,
    ]
    for i in s1["state"]:
        for k, v in s1["state"][i].items():
            assert torch.equal(v, s2["state"][i][k])
    gen2 = torch.Generator().set_state(tensors["rng/latent"])
    assert torch.equal(torch.rand(3, generator=gen), torch.rand(3, generator=gen2))
    with pytest.raises(CheckpointError, match="does not fit"):
        ckpt.load_module(torch.nn.Linear(3, 5), ckpt.module_state(tensors, "net"), "net")


def test_corrupt_or_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        read_checkpoint(tmp_path)
    (tmp_path / "checkpoint.safetensors").write_bytes(b"\x00" * 50)
    with pytest.raises(CheckpointError, match="not a readable"):
        read_checkpoint(tmp_path)
    save_file({"x": torch.zeros(1)}, str(tmp_path / "checkpoint.safetensors"))
    with pytest.raises(CheckpointError, match="not a readable"):
        read_checkpoint(tmp_path)
    # cut short (the header promises more data than the file holds), or a header not a dict:
    # one clear error, never safetensors' own RuntimeError
    path = tmp_path / "checkpoint.safetensors"
    save_file({"x": torch.zeros(4)}, str(path), metadata={"seedembed": "{}"})
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(CheckpointError, match="not a readable"):
        read_checkpoint(tmp_path)
    assert (
        ckpt.read_checkpoint_state(tmp_path) == {}
    )  # the header alone is whole: --resume reads it
    for bad in ((2).to_bytes(8, "little") + b"[]", (99).to_bytes(8, "little") + b"{}", b"\x01"):
        path.write_bytes(bad)  # a header not a dict, one cut short, no header at all
        for read in (read_checkpoint, ckpt.read_checkpoint_state):
            with pytest.raises(CheckpointError, match="not a readable"):
                read(tmp_path)


# -- the loop ----------------------------------------------------------------------------------
def test_resume_continues_bit_for_bit(tmp_path, mnist_root):
    cfg = tiny_config(schedule="2steps")  # 4 steps per pass, 8 per epoch: the split is mid-pass
    opts = {**QUIET, "data_root": str(mnist_root), "samples": False}
    straight = train_gan(cfg, tmp_path / "a", options=RunOptions(max_steps=10, **opts))
    half = train_gan(cfg, tmp_path / "b", options=RunOptions(max_steps=5, **opts))
    assert half.step == 5 and not states_equal(half.generator, straight.generator)
    resumed = train_gan(cfg, tmp_path / "b", resume=True, options=RunOptions(max_steps=10, **opts))
    assert resumed.step == straight.step == 10
    assert states_equal(straight.generator, resumed.generator)
    assert states_equal(straight.discriminator, resumed.discriminator)
    assert states_equal(straight.generator_ema, resumed.generator_ema)
    t1, s1 = read_checkpoint(tmp_path / "a")
    t2, s2 = read_checkpoint(tmp_path / "b")
    assert s1["step"] == s2["step"] == 10 and t1.keys() == t2.keys()
    assert all(torch.equal(t1[k], t2[k]) for k in t1)  # optimiser and RNG states too


def test_run_folder_contents_and_model_export(tmp_path, mnist_root):
    out = tmp_path / "run"
    res = train_gan(
        tiny_config(epochs=1, schedule="lcg", sample_seeds=(0, 1, 2, 3)),
        out,
        options=RunOptions(device="cpu", progress=False, data_root=str(mnist_root)),
    )
    assert res.step == 4 and res.epoch == 1.0 and not res.interrupted
    for name in (
        "checkpoint.safetensors",
        "generator.safetensors",
        "config.json",
        "samples/epoch-0000.png",
        "samples/epoch-0001.png",
    ):
        assert (out / name).is_file(), name
    assert list((out / "tb").iterdir())  # TensorBoard event file
    assert not list(out.glob(".*tmp*"))  # atomic writes leave no temporaries
    config = json.loads((out / "config.json").read_text())
    assert config["progress"]["step"] == 4 and config["train"]["schedule"] == "lcg"
    assert config["train"]["prf"] == prf.get("lcg-524287").spec
    loaded = load_generator(out)
    assert states_equal(loaded.generator, res.generator_ema)
    dest = export_run(out, "mnist-test", dest_root=tmp_path / "zoo")
    card = (dest / "card.md").read_text()
    assert "lcg:a=283471" in card and "epochs reached | 1.0 of 1" in card
    again = load_generator(dest)
    seeds = [5, 6, 7]
    assert torch.equal(
        generate(again.generator, again.prf, seeds), generate(loaded.generator, loaded.prf, seeds)
    )


def test_ctrl_c_saves_a_checkpoint_and_stops(tmp_path, mnist_root, monkeypatch):
    real_step = loop_mod.gan_step
    calls = {"n": 0}

    def step_then_interrupt(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            signal.raise_signal(signal.SIGINT)  # as if the user pressed Ctrl-C mid-step
        return real_step(*args, **kwargs)

    monkeypatch.setattr(loop_mod, "gan_step", step_then_interrupt)
    out = tmp_path / "run"
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN where pytest runs in the background
    rc = main(
        [
            "train-gan",
            "--out",
            str(out),
            "--data-root",
            str(mnist_root),
            "--limit",
            "128",
            "--batch-size",
            "32",
            "--width",
            "8",
            "--epochs",
            "3",
            "--no-progress",
            "--no-tensorboard",
            "--device",
            "cpu",
        ]
    )
    assert rc == 130
    assert read_checkpoint(out)[1]["step"] == 3
    assert signal.getsignal(signal.SIGINT) is before  # the handler is restored
    monkeypatch.setattr(loop_mod, "gan_step", real_step)
    rc = main(["train-gan", "--resume", str(out), "--max-steps", "5", "--no-progress"])
    assert rc == 0 and read_checkpoint(out)[1]["step"] == 5


def _ddp_worker(rank: int, port: int, root: str, out: str, result_dir: str) -> None:
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE="2",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    cfg = tiny_config(batch_size=32)
    res = train_gan(
        cfg, out, options=RunOptions(max_steps=4, data_root=root, samples=False, **QUIET)
    )
    tensors = {}
    for name, module in (
        ("G", res.generator),
        ("D", res.discriminator),
        ("G_ema", res.generator_ema),
    ):
        for k, v in module.state_dict().items():
            tensors[f"{name}/{k}"] = v.contiguous()
    save_file(tensors, os.path.join(result_dir, f"rank{rank}.safetensors"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_hold_identical_weights(tmp_path, mnist_root):
    out, results = tmp_path / "run", tmp_path / "ranks"
    results.mkdir()
    mp.spawn(
        _ddp_worker,
        args=(_free_port(), str(mnist_root), str(out), str(results)),
        nprocs=2,
        join=True,
    )
    r0, r1 = (load_file(str(results / f"rank{r}.safetensors")) for r in (0, 1))
    assert r0.keys() == r1.keys()
    # Batch-norm running statistics are per-rank between DDP's buffer broadcasts (as in any
    # DDP run); every parameter and the discriminator's spectral-norm vectors must agree.
    rank_local = ("running_mean", "running_var")
    checked = [k for k in r0 if not k.endswith(rank_local)]
    assert any(k.startswith("D/") and k.endswith("_u") for k in checked)
    different = [k for k in checked if not torch.equal(r0[k], r1[k])]
    assert not different, different
    init = tiny_config().model
    torch.manual_seed(0)
    from seedembed.models import Generator

    fresh = Generator(init).state_dict()
    assert not torch.equal(fresh["fc.weight"], r0["G/fc.weight"])  # it did train
    assert read_checkpoint(out)[1]["step"] == 4


# -- the CLI -----------------------------------------------------------------------------------
def test_cli_train_then_generate(tmp_path, mnist_root, capsys):
    out = tmp_path / "run"
    rc = main(
        [
            "train-gan",
            "--dataset",
            "mnist",
            "--data-root",
            str(mnist_root),
            "--limit",
            "64",
            "--batch-size",
            "16",
            "--width",
            "8",
            "--prf",
            "lcg-5101",
            "--schedule",
            "lcg+noise",
            "--epochs",
            "1",
            "--max-steps",
            "3",
            "--out",
            str(out),
            "--no-progress",
            "--device",
            "cpu",
        ]
    )
    assert rc == 0
    state = read_checkpoint(out)[1]
    assert state["step"] == 3 and state["config"]["prf"] == prf.get("lcg-5101").spec
    assert state["config"]["schedule"] == "lcg+noise" and state["config"]["limit"] == 64
    grid = tmp_path / "grid.png"
    assert (
        main(["generate", "--model", str(out), "--seeds", "0", "1", "2", "5100", "-o", str(grid)])
        == 0
    )
    with Image.open(grid) as im:
        assert im.size == (62, 62)
        pixels = np.asarray(im)
    assert pixels.std() > 0
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train-gan", "--dataset", "cifar", "--out", "{tmp}/x"], "unknown dataset"),
        (["train-gan", "--data-root", "{tmp}/missing", "--out", "{tmp}/x"], "does not exist"),
        (["train-gan", "--prf", "lcg:a=5", "--out", "{tmp}/x"], "lacks c, m"),
        (["train-gan", "--prf", "mersenne", "--out", "{tmp}/x"], "unknown PRF"),
        (["train-gan", "--resume", "{tmp}/nothing"], "no checkpoint"),
        (["train-gan", "--data-root", "{root}"], "--out DIR is required"),
        (
            ["generate", "--model", "mnist-9999", "--seeds", "0", "-o", "{tmp}/g.png"],
            "unknown model",
        ),
        (["generate", "--model", "{tmp}", "--seeds", "0", "-o", "{tmp}/g.png"], "holds no model"),
    ],
)
def test_bad_arguments_exit_2(tmp_path, mnist_root, capsys, argv, message):
    argv = [a.format(tmp=tmp_path, root=mnist_root) for a in argv]
    assert main([*argv, "--device", "cpu"] if argv[0] == "train-gan" else argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "command", ["train-gan", "train-classifier", "train-inverse", "finetune-codebook"]
)
@pytest.mark.parametrize("lr", ["0", "-1e-4", "nan", "inf"])
def test_a_learning_rate_that_trains_nothing_is_refused(tmp_path, capsys, command, lr):
    """--lr 0 would run the whole budget and save an unchanged model; it is argparse's error."""
    with pytest.raises(SystemExit) as exc:
        main([command, f"--lr={lr}", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert "--lr: must be" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train-gan", "--schedule", "3steps", "--out", "x"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["generate", "--model", "x", "--seeds", "zero", "-o", "g.png"])
    assert exc.value.code == 2


def test_existing_run_needs_resume_and_same_setup(tmp_path, mnist_root, capsys):
    out = tmp_path / "run"
    base = [
        "train-gan",
        "--out",
        str(out),
        "--data-root",
        str(mnist_root),
        "--limit",
        "64",
        "--batch-size",
        "32",
        "--width",
        "8",
        "--max-steps",
        "1",
        "--no-progress",
        "--device",
        "cpu",
        "--no-tensorboard",
    ]
    assert main(base) == 0
    assert main(base) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main([*base, "--resume", "--prf", "lcg-5101"]) == 2
    assert "cannot resume with a different setup (prf" in capsys.readouterr().err
    # A model option given again on --resume applies on top of the stored model, not of the
    # data set's defaults: `--g-width 8` alone keeps the run's d-width 8.
    resume = [*base[:9], "--no-progress", "--device", "cpu", "--no-tensorboard", "--resume"]
    assert main([*base, "--resume", "--minibatch-std", "--max-steps", "2"]) == 2
    assert "cannot resume with a different setup (model" in capsys.readouterr().err
    assert main([*resume, "--max-steps", "2"]) == 0
    assert main([*resume, "--g-width", "8", "--max-steps", "3"]) == 0
    assert read_checkpoint(out)[1]["step"] == 3
    capsys.readouterr()
    assert main([*resume, "--g-width", "16", "--max-steps", "4"]) == 2
    assert "cannot resume with a different setup (model" in capsys.readouterr().err
    bad_seed = ["generate", "--model", str(out), "--seeds", "600000", "-o", str(tmp_path / "g.png")]
    assert main(bad_seed) == 2
    assert "outside the seed space" in capsys.readouterr().err


def test_trainers_leave_the_callers_rng_alone(tmp_path, mnist_root):
    """A seed fixes a run's initial weights; it does not reset the global RNG of the program that
    called the trainer (they used to call torch.manual_seed on it)."""
    from seedembed.baselines.autoencoder import train_autoencoder
    from seedembed.train.classifier import train_classifier

    opts = RunOptions(max_steps=1, data_root=str(mnist_root), samples=False, **QUIET)
    images = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    runs = {
        "train_gan": lambda: train_gan(tiny_config(), tmp_path / "g", options=opts),
        "train_classifier": lambda: train_classifier(
            tmp_path / "c", data_root=str(mnist_root), epochs=1, limit=64, width=4
        ),
        "train_autoencoder": lambda: train_autoencoder(images, 7, epochs=1, batch_size=8),
    }
    for name, run in runs.items():
        torch.manual_seed(1234)
        torch.rand(5)
        run()
        after = torch.rand(3)
        torch.manual_seed(1234)
        torch.rand(5)
        assert torch.equal(after, torch.rand(3)), name
