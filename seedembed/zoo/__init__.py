"""Shipped generators: ``seedembed/zoo/<name>/`` holds a model folder and its card.

A model folder is ``generator.safetensors`` (the EMA generator's weights) + ``config.json``
(the training config, progress and run info) + ``card.md`` (how it was trained, for people).
:func:`load_generator` accepts a registered name or the path of any model or run folder, so
``seedembed generate --model`` works the same on a shipped model and on a run in progress.
:func:`export_run` turns a finished run folder into a zoo entry.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from seedembed import prf as prf_mod
from seedembed.codec.fingerprint import model_fingerprint
from seedembed.errors import CheckpointError, ModelError
from seedembed.models import GanConfig, Generator, parameter_table, save_grid
from seedembed.train import checkpoint as ckpt

ZOO_DIR = Path(__file__).resolve().parent

#: registered names -> what the model is (the weights come from GPU training runs)
REGISTRY: dict[str, str] = {
    "mnist-524287": "MNIST digits, LCG m=524287 (19-bit seeds), 25-symbol latent",
    "mnist-5101": "MNIST digits, LCG m=5101 (13-bit seeds), 25-symbol latent",
}


def names() -> list[str]:
    """Every registered model name."""
    return sorted(REGISTRY)


def available() -> list[str]:
    """Registered names whose weights are present in this installation."""
    return [n for n in names() if (ZOO_DIR / n / ckpt.GENERATOR).is_file()]


def model_path(name_or_path: str | os.PathLike) -> Path:
    """The folder a model name or path refers to, or :class:`ModelError`."""
    text = str(name_or_path)
    if text in REGISTRY:
        folder = ZOO_DIR / text
        if not (folder / ckpt.GENERATOR).is_file():
            raise ModelError(
                f"shipped model {text!r} has no weights in this installation yet "
                f"(expected {folder / ckpt.GENERATOR})"
            )
        return folder
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    raise ModelError(
        f"unknown model {text!r}: not a shipped name ({', '.join(names())}) nor a model folder"
    )


@dataclass
class LoadedGenerator:
    """A generator ready to render seeds, with the PRF and config it was trained with."""

    generator: Generator
    prf: prf_mod.Prf
    config: dict
    path: Path
    #: :func:`seedembed.codec.model_fingerprint` of the generator, its architecture and PRF
    fingerprint: str

    @property
    def model_config(self) -> GanConfig:
        return self.generator.config


def load_generator(
    name_or_path: str | os.PathLike,
    *,
    device: torch.device | str = "cpu",
    key: bytes | None = None,
) -> LoadedGenerator:
    """Load the EMA generator of a shipped name, a model folder or a training run folder."""
    folder = model_path(name_or_path)
    tensors, config = ckpt.read_model(folder)
    try:
        train = config["train"]
        model_cfg = GanConfig.from_dict(train["model"])
        spec = train["prf"]
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{str(folder)!r}: config lacks {exc}") from None
    generator = Generator(model_cfg)
    ckpt.load_module(generator, tensors, f"the generator in {str(folder)!r}")
    generator.eval().requires_grad_(False)
    prf = prf_mod.get(spec, key=key)
    fingerprint = model_fingerprint(tensors, model_cfg.to_dict(), prf.spec)
    return LoadedGenerator(generator.to(device), prf, config, folder, fingerprint)


def load_inverse(
    name_or_path: str | os.PathLike,
    device: torch.device | str = "cpu",
    *,
    fingerprint: str | None = None,
    key: bytes | None = None,
):
    """The inverse generator (image -> latent) shipped in a model folder, in eval mode.

    It is only meaningful for the generator it was trained against, so an inverse whose
    recorded generator fingerprint differs from this model's is refused (:class:`ModelError`),
    as is a model without one. Pass ``fingerprint`` (``LoadedGenerator.fingerprint``) to skip
    loading the generator again to compute it.
    """
    from seedembed.train.inverse import read_inverse

    folder = model_path(name_or_path)
    inverse, doc = read_inverse(folder)
    if fingerprint is None:
        fingerprint = load_generator(folder, key=key).fingerprint
    recorded = doc.get("generator_fingerprint")
    if recorded != fingerprint:
        raise ModelError(
            f"the inverse generator in {str(folder)!r} was trained against another generator "
            f"(fingerprint {str(recorded)[:16]}..., this model is {fingerprint[:16]}...): "
            "retrain it with `seedembed train-inverse`"
        )
    return inverse.to(device)


def inverse_info(name_or_path: str | os.PathLike) -> dict:
    """The ``inverse.json`` of a model (training settings, metrics), without the weights."""
    from seedembed.train.inverse import INVERSE_JSON

    path = model_path(name_or_path) / INVERSE_JSON
    if not path.is_file():
        raise ModelError(f"{str(path.parent)!r} has no inverse generator ({INVERSE_JSON})")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot read {str(path)!r}: {exc}") from None


def export_run(
    run_dir: str | os.PathLike,
    name: str,
    *,
    dest_root: str | os.PathLike = ZOO_DIR,
    notes: str = "",
) -> Path:
    """Copy a run's EMA generator into ``dest_root/name`` with a model card and a sample grid.

    The card records what the issue asks of shipped models: the command, commit, epochs,
    wall time and machine, all read from the run's own ``config.json``.
    """
    run_dir = Path(run_dir)
    loaded = load_generator(run_dir)
    dest = Path(dest_root) / name
    dest.mkdir(parents=True, exist_ok=True)
    for fname in (ckpt.GENERATOR, ckpt.CONFIG):
        if not (run_dir / fname).is_file():
            raise CheckpointError(f"{str(run_dir)!r} lacks {fname}")
        shutil.copyfile(run_dir / fname, dest / fname)
    cfg, train = loaded.config, loaded.config["train"]
    progress = cfg.get("progress", {})
    seeds = list(range(64))
    from seedembed.models import generate

    save_grid(generate(loaded.generator, loaded.prf, seeds), dest / "samples.png", nrow=8)
    table = parameter_table({"generator": loaded.generator})
    card = f"""# {name}

{REGISTRY.get(name, "seedembed generator")}

| field | value |
| --- | --- |
| data set | {train["dataset"]} |
| PRF | `{loaded.prf.spec}` ({loaded.prf.stored_bits} bits per seed) |
| schedule | `{train["schedule"]}`{
        " (noise U(-s,s), s=" + str(train["noise_scale"]) + ")"
        if train["schedule"] == "lcg+noise"
        else ""
    } |
| epochs reached | {progress.get("epochs")} of {train["epochs"]} |
| steps / images seen | {progress.get("step")} / {progress.get("images_seen")} |
| batch size, lr | {train["batch_size"]}, {train["lr"]} |
| wall time | {progress.get("wall_time_s")} s |
| trained (UTC) | {cfg.get("started_utc")} to {progress.get("saved_utc")} |
| machine | {cfg.get("machine")} |
| mixed precision | {cfg.get("amp")} |
| commit | {cfg.get("commit")} |

Command:

```
{cfg.get("command")}
```

Architecture (`config.json` → `train.model`):

```
{json.dumps(train["model"], sort_keys=True)}
{table}
```

`samples.png`: seeds 0..63 (row-major, 8 per row), from
`seedembed generate --model {name} --seeds $(seq 0 63) -o samples.png`.
{notes}
"""
    (dest / "card.md").write_text(card)
    return dest


__all__ = [
    "REGISTRY",
    "ZOO_DIR",
    "LoadedGenerator",
    "available",
    "export_run",
    "inverse_info",
    "load_generator",
    "load_inverse",
    "model_path",
    "names",
]


#: the shipped digit classifier that judges MNIST reconstructions
CLASSIFIER = "mnist-classifier"


def load_classifier(name_or_path: str | os.PathLike = CLASSIFIER):
    """The project's digit classifier (``seedembed train-classifier``), shipped or from a folder."""
    from seedembed.train.classifier import load_classifier as _load

    text = str(name_or_path)
    folder = ZOO_DIR / text if text == CLASSIFIER else Path(text).expanduser()
    return _load(folder)
