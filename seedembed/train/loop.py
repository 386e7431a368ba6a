"""The GAN training loop, one function from data to checkpoints (after stylegan2-ada's).

Position in a run is a single step counter: with ``steps_per_pass = n_images // batch_size``
and one pass per latent kind of the schedule, step s sits in epoch
``s // (passes * steps_per_pass)``. The data order of each (epoch, pass) is a permutation drawn
from (seed, epoch, pass) alone and every latent comes from one checkpointed generator, so a run
resumed at any step continues bit for bit (on the same CPU) as if it had never stopped.

With several processes the global batch is split: every rank draws the same global batch of
latents and data indices and takes its own slice. This shards the data like a
DistributedSampler (disjoint, reshuffled each pass) and keeps the global batch independent of
the number of processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from seedembed import prf as prf_mod
from seedembed.data import ENV_VAR, load_uint8, open_dataset, to_float
from seedembed.errors import CheckpointError, DataError, ModelError, TrainingError
from seedembed.models import (
    Discriminator,
    build_generator,
    ema_beta,
    make_ema,
    parameter_table,
    save_grid,
)
from seedembed.models.generate import image_grid
from seedembed.train import checkpoint as ckpt
from seedembed.train import distributed
from seedembed.train.config import RunOptions, TrainConfig
from seedembed.train.monitor import Monitor
from seedembed.train.runinfo import command_line, git_commit, machine, utc_now
from seedembed.train.schedules import LatentSampler
from seedembed.train.step import GanNets, gan_step

#: config fields a resumed run may change: training longer is fine, anything else is a new run
RESUMABLE_CHANGES = ("epochs",)


@dataclass
class TrainResult:
    """How a call to :func:`train_gan` ended, with the trained networks (unwrapped)."""

    out_dir: Path
    step: int
    epoch: float
    interrupted: bool
    images_per_s: float
    generator: nn.Module
    discriminator: nn.Module
    generator_ema: nn.Module
    info: dict = field(default_factory=dict)


def data_order(n: int, seed: int, epoch: int, pass_index: int) -> torch.Tensor:
    """The shuffled image order of one pass, a function of (seed, epoch, pass) alone."""
    state = np.random.SeedSequence([seed, epoch, pass_index]).generate_state(2, np.uint32)
    gen = torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
    return torch.randperm(n, generator=gen)


@contextlib.contextmanager
def stop_on_signal(flag: dict):
    """First Ctrl-C (or SIGTERM) asks the loop to checkpoint and stop; a second one aborts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if flag["stop"]:
            raise KeyboardInterrupt
        flag["stop"] = True
        print(
            "\nstopping after this step to save a checkpoint (Ctrl-C again aborts)",
            file=sys.stderr,
            flush=True,
        )

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _check_resume(config: TrainConfig, stored: dict) -> None:
    old = TrainConfig.from_dict(stored).to_dict()
    new = config.to_dict()
    diffs = [k for k in new if k not in RESUMABLE_CHANGES and new[k] != old.get(k)]
    if diffs:
        detail = "; ".join(f"{k}: run has {old.get(k)!r}, asked {new[k]!r}" for k in diffs)
        raise CheckpointError(f"cannot resume with a different setup ({detail})")


def train_gan(
    config: TrainConfig,
    out_dir: str | os.PathLike,
    *,
    resume: bool = False,
    options: RunOptions | None = None,
) -> TrainResult:
    """Train (or, with ``resume``, continue) a GAN run in ``out_dir``; see the module doc.

    Writes ``checkpoint.safetensors``, ``generator.safetensors`` + ``config.json`` (the EMA
    generator, a model folder), ``samples/epoch-NNNN.png`` and ``tb/`` (TensorBoard) there.
    Joins the torchrun process group when launched by torchrun.
    """
    options = options or RunOptions()
    info = distributed.setup(options.device)
    # the run seeds (and on --resume restores) the global RNGs; the caller's are left as they were
    cuda = [info.device] if info.device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda):
            return _train(config, Path(out_dir), resume, options, info)
    finally:
        distributed.teardown(info)


def _train(
    config: TrainConfig,
    out_dir: Path,
    resume: bool,
    options: RunOptions,
    dist: distributed.DistInfo,
) -> TrainResult:
    device = dist.device
    on_cuda = device.type == "cuda"
    amp = on_cuda if options.amp is None else (options.amp and on_cuda)
    channels_last = on_cuda if options.channels_last is None else options.channels_last
    prf = prf_mod.get(config.prf, key=options.key)
    config = config.replace(prf=prf.spec)
    mcfg = config.model
    if config.batch_size % dist.world_size:
        raise ModelError(
            f"batch size {config.batch_size} is not divisible by {dist.world_size} processes"
        )
    local_batch = config.batch_size // dist.world_size

    # -- the run folder: fresh or resumed ------------------------------------------------------
    has_checkpoint = (out_dir / ckpt.CHECKPOINT).is_file()
    stored_tensors: dict[str, torch.Tensor] = {}
    stored: dict = {}
    if resume:
        stored_tensors, stored = ckpt.read_checkpoint(out_dir)
        _check_resume(config, stored["config"])
        if dist.is_main:
            ckpt.remove_stale_temporaries(out_dir)
    elif has_checkpoint:
        raise CheckpointError(
            f"{str(out_dir)!r} already holds a run: pass --resume to continue it, or another --out"
        )
    # -- process-wide settings -----------------------------------------------------------------
    # Denormal floats make the early CPU steps of a DCGAN ~25x slower; flushing them is exact
    # for every value a GAN cares about and keeps steps deterministic.
    torch.set_flush_denormal(True)
    if on_cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    # -- data: decoded once into a uint8 tensor that lives on the training device ---------------
    # A resumed run reads the data root it was started with unless a new one is given.
    data_root = options.data_root or stored.get("data_root") or os.environ.get(ENV_VAR) or None

    def load() -> torch.Tensor:
        ds = open_dataset(
            config.dataset,
            data_root,
            train=True,
            size=mcfg.image_size,
            channels=mcfg.channels,
        )
        return load_uint8(ds, config.limit)

    if dist.is_main:
        images = load()  # rank 0 first, so a download happens once
        distributed.barrier(dist)
    else:
        distributed.barrier(dist)
        images = load()
    expected = (mcfg.channels, mcfg.image_size, mcfg.image_size)
    if tuple(images.shape[1:]) != expected:
        raise DataError(
            f"{config.dataset} gives images of shape {tuple(images.shape[1:])} (C, H, W), the "
            f"model wants {expected}"
        )
    n_images = len(images)
    if n_images < config.batch_size:
        raise DataError(f"{n_images} images are fewer than the batch size {config.batch_size}")
    if stored and stored.get("n_images") != n_images:
        raise CheckpointError(
            f"the run was trained on {stored.get('n_images')} images, the data set now has "
            f"{n_images}"
        )
    images = images.to(device)
    if dist.is_main:  # only now: a bad data set or PRF leaves no empty run folder behind
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CheckpointError(f"cannot create {str(out_dir)!r}: {exc}") from None
    steps_per_pass = n_images // config.batch_size
    steps_per_epoch = steps_per_pass * len(config.passes)
    total_steps = config.epochs * steps_per_epoch
    stop_at = total_steps if options.max_steps is None else min(total_steps, options.max_steps)

    # -- networks, optimisers, EMA -------------------------------------------------------------
    torch.manual_seed(config.seed)  # same initial weights on every rank
    G = build_generator(mcfg).to(device)
    D = Discriminator(mcfg).to(device)
    if channels_last:
        G = G.to(memory_format=torch.channels_last)
        D = D.to(memory_format=torch.channels_last)
    G_ema = make_ema(G)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=config.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=config.betas)
    gen = torch.Generator(device=device).manual_seed(config.seed)
    step, wall_before = 0, 0.0
    if stored:
        for name, module in (("G", G), ("D", D), ("G_ema", G_ema)):
            ckpt.load_module(module, ckpt.module_state(stored_tensors, name), f"checkpoint {name}")
        for name, opt in (("opt_g", opt_g), ("opt_d", opt_d)):
            opt.load_state_dict(
                ckpt.unflatten_optimizer(name, stored_tensors, stored["optimizers"][name])
            )
        step, wall_before = int(stored["step"]), float(stored.get("wall_time_s", 0.0))
        if stored.get("latent_rng_device") == device.type:
            gen.set_state(stored_tensors["rng/latent"])
        else:  # another device kind: continue with a fresh, still deterministic stream
            gen.manual_seed(config.seed + 1_000_003 * step)
        torch.set_rng_state(stored_tensors["rng/torch_cpu"])
        if on_cuda and "rng/torch_cuda" in stored_tensors:
            torch.cuda.set_rng_state(stored_tensors["rng/torch_cuda"], device)
    if dist.distributed:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [device.index] if on_cuda else None
        G, D = DDP(G, device_ids=ids), DDP(D, device_ids=ids)
    nets = GanNets(G, D, G_ema, opt_g, opt_d, ema_beta(config.batch_size, config.ema_half_life))
    sampler = LatentSampler(prf, mcfg.latent_length, config.noise_scale, device)
    sample_z = prf.sequences(list(config.sample_seeds), mcfg.latent_length)

    # -- reporting -----------------------------------------------------------------------------
    run_info = {
        "command": command_line(),
        "commit": git_commit(),
        "machine": machine(device, dist.world_size),
        "world_size": dist.world_size,
        "amp": "bf16" if amp else "off",
        "started_utc": utc_now(),
    }
    monitor = Monitor(
        out_dir,
        enabled=dist.is_main,
        total_steps=stop_at,
        start_step=step,
        batch_size=config.batch_size,
        log_every=options.log_every,
        progress=options.progress,
        tensorboard=options.tensorboard,
    )
    monitor.write(parameter_table({"generator": nets.g_module, "discriminator": nets.d_module}))
    monitor.write(
        f"{config.dataset}: {n_images} images, {steps_per_epoch} steps/epoch "
        f"({config.schedule}), batch {config.batch_size} on {dist.world_size} x {device}, "
        f"amp {run_info['amp']}, PRF {prf.spec}"
    )
    t_start = time.perf_counter()
    start_step = step  # the checkpoint a resumed run started from (0: none yet)

    def epoch_of(s: int) -> float:
        return s / steps_per_epoch

    def write_samples(epoch: int) -> None:
        if not (dist.is_main and options.samples):
            return
        pics = _render(nets.G_ema, sample_z, device)
        path = save_grid(pics, out_dir / "samples" / f"epoch-{epoch:04d}.png")
        monitor.image("samples", _grid_tensor(pics), step)
        monitor.write(f"samples: {path}")

    saved_at = [-1]

    def save(reason: str) -> None:
        good = saved_at[0] if saved_at[0] >= 0 else start_step
        _check_weights(nets, step, good, out_dir, monitor)  # never write a diverged model
        saved_at[0] = step
        if not dist.is_main:
            return
        wall = wall_before + time.perf_counter() - t_start
        rng = {"latent": gen.get_state(), "torch_cpu": torch.get_rng_state()}
        if on_cuda:
            rng["torch_cuda"] = torch.cuda.get_rng_state(device)
        state = {
            "config": config.to_dict(),
            "step": step,
            "epoch": epoch_of(step),
            "n_images": n_images,
            "steps_per_epoch": steps_per_epoch,
            "wall_time_s": wall,
            "latent_rng_device": device.type,
            "data_root": str(Path(data_root).resolve()) if data_root else None,
            "info": run_info,
        }
        ckpt.save_checkpoint(
            out_dir,
            modules={"G": nets.g_module, "D": nets.d_module, "G_ema": nets.G_ema},
            optimizers={"opt_g": opt_g, "opt_d": opt_d},
            rng=rng,
            state=state,
        )
        progress = {
            "step": step,
            "epochs": round(epoch_of(step), 4),
            "images_seen": step * config.batch_size,
            "wall_time_s": round(wall, 1),
            "saved_utc": utc_now(),
        }
        ckpt.save_model(
            out_dir, nets.G_ema, {"train": config.to_dict(), "progress": progress, **run_info}
        )
        monitor.write(f"checkpoint ({reason}): step {step}, epoch {epoch_of(step):.2f}")

    # -- the loop ------------------------------------------------------------------------------
    if step == 0:
        write_samples(0)
    flag = {"stop": False}
    interrupted = False
    order: torch.Tensor | None = None
    order_key: tuple[int, int] | None = None
    check_every = 1 if not dist.distributed else 10
    lo, hi = dist.rank * local_batch, (dist.rank + 1) * local_batch
    with stop_on_signal(flag):
        while step < stop_at:
            epoch, within = divmod(step, steps_per_epoch)
            pass_index, batch_index = divmod(within, steps_per_pass)
            if order_key != (epoch, pass_index):
                order = data_order(n_images, config.seed, epoch, pass_index).to(device)
                order_key = (epoch, pass_index)
            start = batch_index * config.batch_size
            idx = order[start + lo : start + hi]
            real = to_float(images[idx])
            if channels_last:
                real = real.contiguous(memory_format=torch.channels_last)
            z = sampler(config.passes[pass_index], config.batch_size, gen)[lo:hi]
            stats = gan_step(nets, real, z, amp)
            step += 1
            epoch_done = step % steps_per_epoch == 0
            will_save = epoch_done or (
                options.checkpoint_every and step % options.checkpoint_every == 0
            )
            if not on_cuda or will_save or step % 10 == 0:  # a GPU check costs a sync
                _check_health(
                    stats,
                    step,
                    saved_at[0] if saved_at[0] >= 0 else start_step,
                    out_dir,
                    monitor,
                    dist,
                )
            monitor.step(step, stats, epoch_of(step))
            if epoch_done:
                monitor.flush(step, epoch_of(step))
                write_samples(step // steps_per_epoch)
            if (step % check_every == 0 or epoch_done) and distributed.any_rank(dist, flag["stop"]):
                interrupted = step < stop_at
                break
            if will_save:
                save("epoch end" if epoch_done else "periodic")
    monitor.flush(step, epoch_of(step))
    if saved_at[0] != step:
        save("interrupted" if interrupted else "end")
    distributed.barrier(dist)
    monitor.close()
    return TrainResult(
        out_dir=out_dir,
        step=step,
        epoch=epoch_of(step),
        interrupted=interrupted,
        images_per_s=monitor.images_per_s,
        generator=nets.g_module,
        discriminator=nets.d_module,
        generator_ema=nets.G_ema,
        info={
            **run_info,
            "n_images": n_images,
            "steps_per_epoch": steps_per_epoch,
            "config": json.loads(config.to_json()),
        },
    )


#: a GAN loss beyond this has exploded (the softplus losses of a healthy run stay below ~20)
MAX_LOSS = 1e3


def _diverged(step: int, what: str, good_step: int, out_dir: Path, monitor) -> TrainingError:
    kept = (
        f"the last good checkpoint (step {good_step}) in {str(out_dir)!r} is kept; resume from "
        "it with --resume, perhaps with a lower --lr"
        if good_step > 0
        else "no checkpoint was written"
    )
    monitor.write(f"stopped at step {step}: {what}")
    monitor.close()
    return TrainingError(f"training diverged at step {step} ({what}); {kept}")


def _check_health(
    stats: torch.Tensor, step: int, good_step: int, out_dir: Path, monitor, dist
) -> None:
    """Stop a diverged run before it writes a checkpoint: the last good one stays on disk.
    Every rank stops together (one rank's NaN would otherwise hang the others in DDP)."""
    losses = stats.detach().float().cpu()
    finite = bool(torch.isfinite(losses).all())
    bad = not finite or bool(losses[:2].abs().max() > MAX_LOSS)
    if not distributed.any_rank(dist, bad):
        return
    what = "loss NaN or infinite" if not finite else f"loss above {MAX_LOSS:g}"
    raise _diverged(step, what if bad else "loss diverged on another process", good_step,
                    out_dir, monitor)  # fmt: skip


def _check_weights(nets, step: int, good_step: int, out_dir: Path, monitor) -> None:
    """The last guard before a checkpoint: every weight of G, D and the EMA is finite (a finite
    loss can still be followed by an update that overflows)."""
    modules = (nets.g_module, nets.d_module, nets.G_ema)
    if all(torch.isfinite(p).all() for m in modules for p in m.parameters()):
        return
    raise _diverged(step, "weights NaN or infinite", good_step, out_dir, monitor)


@torch.no_grad()
def _render(generator: nn.Module, z: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Images of fixed latents through the (eval-mode) EMA generator, in float32 on the CPU."""
    return generator(z.to(device)).float().cpu()


def _grid_tensor(images: torch.Tensor) -> torch.Tensor:
    arr = np.asarray(image_grid(images))
    t = torch.from_numpy(arr.copy())
    return t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1)


def steps_per_epoch(n_images: int, config: TrainConfig) -> int:
    """Steps in one epoch of ``config`` over ``n_images`` images (all passes)."""
    return (n_images // config.batch_size) * len(config.passes)
