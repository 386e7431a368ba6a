"""Processes and devices: plain torch.distributed, launched by ``torchrun``.

Why torch.distributed + torchrun rather than Lightning Fabric: it is part of PyTorch (no extra
dependency, nothing to pin against the GPU machines' torch 2.11), torchrun already handles
several GPUs and several nodes (``--nnodes``, rendezvous), and the GAN step needs control that
wrappers hide: two optimisers, a discriminator frozen during the generator step, and an EMA
copy outside DDP. gloo runs the same code on the CPU (used by the tests), nccl on GPUs.

A single process (``python -m seedembed train-gan``) needs no process group at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from seedembed.errors import ModelError


@dataclass
class DistInfo:
    """Where this process sits: rank among world_size, and the device it trains on."""

    rank: int
    world_size: int
    device: torch.device
    owns_group: bool = False  # True when :func:`setup` created the process group

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(device: str | None, local_rank: int = 0) -> torch.device:
    """``None``/"auto" -> CUDA when present else CPU; "cuda" -> this process's local GPU."""
    name = (device or "auto").strip().lower()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ModelError(f"unknown device {device!r} (use cpu, cuda or cuda:N)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ModelError(f"device {device!r} asked for, but CUDA is not available here")
        if dev.index is None:
            dev = torch.device("cuda", local_rank % torch.cuda.device_count())
        if dev.index >= torch.cuda.device_count():
            raise ModelError(f"device {dev} does not exist ({torch.cuda.device_count()} GPUs)")
    elif dev.type != "cpu":
        raise ModelError(f"device {device!r} is not supported (use cpu, cuda or cuda:N)")
    return dev


def setup(device: str | None) -> DistInfo:
    """Join the process group torchrun describes in the environment, if any.

    torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; without them this
    is a single process. An already initialised group (e.g. a test harness) is reused.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), dev)
    if world <= 1:
        return DistInfo(0, 1, dev)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    kwargs = {"device_id": dev} if dev.type == "cuda" else {}
    dist.init_process_group(backend=backend, **kwargs)
    return DistInfo(dist.get_rank(), dist.get_world_size(), dev, owns_group=True)


def teardown(info: DistInfo) -> None:
    if info.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.distributed:
        if info.device.type == "cuda":
            dist.barrier(device_ids=[info.device.index])
        else:
            dist.barrier()


def any_rank(info: DistInfo, flag: bool) -> bool:
    """True on every rank when ``flag`` is true on at least one (e.g. a Ctrl-C)."""
    if not info.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def broadcast_object(info: DistInfo, obj):
    """Rank 0's Python object on every rank (used to share one error across ranks)."""
    if not info.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
