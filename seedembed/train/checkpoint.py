"""Checkpoints and model folders: safetensors for every tensor, JSON for everything else.

A run folder holds

* ``checkpoint.safetensors``: G, D, the EMA generator, both Adam states and the RNG states as
  tensors; the JSON state (config, step, optimiser hyper-parameters, wall time, ...) rides in
  the file's metadata, so one ``os.replace`` swaps tensors and state together atomically;
* ``generator.safetensors`` + ``config.json``: the EMA generator alone, the "model folder" that
  ``seedembed generate`` and :func:`seedembed.zoo.load_generator` read.

Nothing is pickled: loading never runs code from a file.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any, BinaryIO

import torch
from safetensors import SafetensorError
from safetensors.torch import load, load_file, save

from seedembed.errors import CheckpointError

CHECKPOINT = "checkpoint.safetensors"
GENERATOR = "generator.safetensors"
CONFIG = "config.json"
FORMAT = "seedembed-gan-checkpoint/1"
#: file kinds that are (or usually are) Python pickles: refused by name, never opened
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")
MODEL_FORMAT = "seedembed-generator/1"


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the partial files that writers killed mid-write (kill -9) left in ``folder``.

    Such a file never replaced anything (the rename is the commit), so it is only litter; files
    of writers still running (their process id is alive) are left alone.
    """
    removed = []
    for tmp in Path(folder).glob(".*.tmp*"):
        match = re.search(r"\.tmp(\d+)$", tmp.name)
        if match is None or int(match.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(match.group(1)), 0)
            continue  # that writer is alive
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def _write_failed(path: Path, exc: OSError) -> CheckpointError:
    reason = exc.strerror or str(exc)
    return CheckpointError(f"cannot write {str(path)!r}: {reason}; the previous file is kept")


def atomic_save_tensors(tensors: dict[str, torch.Tensor], path: Path, meta: dict | None) -> None:
    """safetensors file written to a temporary name and renamed over ``path``.

    The file is serialised in memory and written by :func:`atomic_write_bytes` (safetensors'
    own ``save_file`` would write through a temporary name of its own, which a kill would leave
    behind unnamed). A kill at any moment leaves either the old file or the new one, never a mix;
    a failed write (a full disk, a read-only folder) is a :class:`CheckpointError` and the old
    file stays.
    """
    clean = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic_write_bytes(save(clean, metadata=meta), path)


def atomic_write_bytes(data: bytes, path: Path) -> None:
    """``data`` written to a temporary name and renamed over ``path`` (see above)."""
    tmp = _tmp(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise _write_failed(path, exc) from None
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(text: str, path: Path) -> None:
    atomic_write_bytes(text.encode(), path)


# -- optimiser state <-> flat tensors + JSON ---------------------------------------------------
def flatten_optimizer(prefix: str, state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict]:
    """Split ``optimizer.state_dict()`` into named tensors and a JSON-able remainder."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in state["state"].items():
        for name, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}/{index}/{name}"] = value
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def unflatten_optimizer(prefix: str, tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    """Inverse of :func:`flatten_optimizer`."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "/"):
            _, index, name = key.split("/", 2)
            state.setdefault(int(index), {})[name] = value
    for index, entry in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(entry)
    return {"state": state, "param_groups": meta["param_groups"]}


# -- whole checkpoints -------------------------------------------------------------------------
def save_checkpoint(
    out_dir: Path,
    *,
    modules: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    rng: dict[str, torch.Tensor],
    state: dict[str, Any],
) -> Path:
    """Write ``checkpoint.safetensors`` (all of it) atomically; returns its path."""
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        tensors.update({f"{name}/{k}": v for k, v in module.state_dict().items()})
    opt_meta = {}
    for name, opt in optimizers.items():
        flat, meta = flatten_optimizer(name, opt.state_dict())
        tensors.update(flat)
        opt_meta[name] = meta
    tensors.update({f"rng/{k}": v for k, v in rng.items()})
    payload = {**state, "optimizers": opt_meta, "format": FORMAT}
    path = Path(out_dir) / CHECKPOINT
    atomic_save_tensors(tensors, path, {"seedembed": json.dumps(payload)})
    return path


def read_checkpoint(out_dir: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and JSON state of a run folder's checkpoint, or :class:`CheckpointError`."""
    path = Path(out_dir) / CHECKPOINT
    if not path.is_file():
        raise CheckpointError(f"no checkpoint in {str(out_dir)!r} (expected {CHECKPOINT})")
    return read_tensors_and_state(path, FORMAT, "seedembed checkpoint")


def _metadata(f: BinaryIO) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file read from ``f`` (at its start) by one handle:
    u64 header size, then the JSON header. ValueError or AttributeError when it is not one."""
    head = f.read(8)
    size = int.from_bytes(head, "little")
    header = f.read(size) if len(head) == 8 else b""
    if len(head) < 8 or len(header) < size:
        raise ValueError(f"a header of {size} bytes that the file does not hold")
    return json.loads(header).get("__metadata__") or {}


def read_tensors_and_state(
    path: Path, fmt: str, what: str
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A safetensors file whose JSON state rides in its metadata, checked to be of ``fmt``.

    The file is read once, and tensors and state are taken from those bytes: a run replaces its
    checkpoint every few steps (a rename), and opening the path twice, or safetensors opening it
    for the header and again to map it, could pair one version's header with another's data.
    """
    try:
        data = path.read_bytes()
        meta = _metadata(io.BytesIO(data))
        tensors = load(data)
        state = json.loads(meta["seedembed"])
    except (SafetensorError, OSError, KeyError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{str(path)!r} is not a readable {what}: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != fmt:
        found = state.get("format") if isinstance(state, dict) else None
        raise CheckpointError(f"{str(path)!r} has format {found!r}, not {fmt}")
    return tensors, state


def module_state(tensors: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    """The state dict of module ``name`` inside a checkpoint's tensors."""
    prefix = name + "/"
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def load_module(module: torch.nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except (RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"{what} does not fit the configured architecture: {first}") from None


# -- model folders (the EMA generator alone) ---------------------------------------------------
def save_model(out_dir: Path, generator: torch.nn.Module, config: dict[str, Any]) -> None:
    """``generator.safetensors`` + ``config.json``: what generation needs, nothing more."""
    out_dir = Path(out_dir)
    atomic_save_tensors(generator.state_dict(), out_dir / GENERATOR, {"format": MODEL_FORMAT})
    atomic_write_text(
        json.dumps({**config, "format": MODEL_FORMAT}, indent=2) + "\n", out_dir / CONFIG
    )


def read_model(model_dir: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Generator tensors and config of a model folder (or of a run folder's checkpoint)."""
    model_dir = Path(model_dir)
    weights, config_path = model_dir / GENERATOR, model_dir / CONFIG
    if weights.is_file() and config_path.is_file():
        try:
            config = json.loads(config_path.read_text())
            tensors = load_file(str(weights))
        except (SafetensorError, OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"cannot read the model in {str(model_dir)!r}: {exc}") from None
        if not isinstance(config, dict) or "train" not in config:
            raise CheckpointError(f"{str(config_path)!r} is not a seedembed model config")
        return tensors, config
    if (model_dir / CHECKPOINT).is_file():
        tensors, state = read_checkpoint(model_dir)
        return module_state(tensors, "G_ema"), {"train": state["config"], **state.get("info", {})}
    pickles = sorted(p.name for p in model_dir.glob("*") if p.suffix in PICKLE_SUFFIXES)
    if pickles:
        raise CheckpointError(
            f"{str(model_dir)!r} holds {', '.join(pickles)}: seedembed loads only safetensors + "
            "JSON and never unpickles a file (pickles can run code when loaded)"
        )
    raise CheckpointError(
        f"{str(model_dir)!r} holds no model: expected {GENERATOR} + {CONFIG} or {CHECKPOINT}"
    )


def read_checkpoint_state(out_dir: Path) -> dict[str, Any]:
    """Only the JSON state of a run folder's checkpoint (no tensors are loaded)."""
    path = Path(out_dir) / CHECKPOINT
    if not path.is_file():
        raise CheckpointError(
            f"no checkpoint in {str(out_dir)!r} to resume (expected {CHECKPOINT})"
        )
    try:
        with path.open("rb") as f:  # one handle: a run may be replacing the file meanwhile
            state = json.loads(_metadata(f)["seedembed"])
    except (OSError, KeyError, ValueError, AttributeError) as exc:
        raise CheckpointError(
            f"{str(path)!r} is not a readable seedembed checkpoint: {exc}"
        ) from None
    return state
