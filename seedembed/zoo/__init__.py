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
from torch import nn

from seedembed import prf as prf_mod
from seedembed.codec.fingerprint import model_fingerprint
from seedembed.errors import CheckpointError, ModelError
from seedembed.models import GanConfig, build_generator, parameter_table, save_grid
from seedembed.train import checkpoint as ckpt

ZOO_DIR = Path(__file__).resolve().parent

#: registered names -> what the model is (the weights come from GPU training runs)
REGISTRY: dict[str, str] = {
    "mnist-524287": "MNIST digits, LCG m=524287 (19-bit seeds), 25-symbol latent",
    "mnist-5101": "MNIST digits, LCG m=5101 (13-bit seeds), 25-symbol latent",
    "mnist-524287-gan": "MNIST digits, LCG m=524287, the plain GAN before codebook fine-tuning",
    "mnist-524287-v1": "MNIST digits, LCG m=524287, the first fine-tuned generator (shipped as "
    "mnist-524287 until the margin rounds replaced it)",
    "anime-524287": "anime faces 64x64 RGB, LCG m=524287 (19-bit seeds), 100-symbol latent",
    "anime-524287-gan": "anime faces 64x64 RGB, LCG m=524287, the plain GAN before codebook "
    "fine-tuning",
    "anime-29282": "anime faces 64x64 RGB, LCG m=29282 (15-bit seeds), 100-symbol latent",
    "anime-5101": "anime faces 64x64 RGB, LCG m=5101 (13-bit seeds), 100-symbol latent",
    "anime-uniform": "anime faces 64x64 RGB, trained on U(-1, 1) latents: the thesis' "
    "'Uniform n' composition model (its seeds index LCG m=524287 sequences)",
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

    generator: nn.Module  # models.Generator (DCGAN) or models.StyleGenerator
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
    generator = build_generator(model_cfg)
    ckpt.load_module(generator, tensors, f"the generator in {str(folder)!r}")
    generator.eval().requires_grad_(False)
    prf = prf_mod.get(spec, key=key)
    fingerprint = model_fingerprint(tensors, model_cfg.to_dict(), prf.spec)
    recorded = config.get("fingerprint")
    if recorded is not None and recorded != fingerprint:
        raise CheckpointError(
            f"the generator in {str(folder)!r} does not match the fingerprint its config.json "
            f"records ({str(recorded)[:16]}..., the weights give {fingerprint[:16]}...): the "
            "files were changed or damaged; refusing to load them"
        )
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


def recorded_fingerprint(name_or_path: str | os.PathLike) -> str | None:
    """The fingerprint a model folder's config.json records (None if it records none)."""
    try:
        config = json.loads((model_path(name_or_path) / ckpt.CONFIG).read_text())
    except (OSError, ValueError):
        return None
    value = config.get("fingerprint") if isinstance(config, dict) else None
    return value if isinstance(value, str) else None


def record_fingerprint(folder: str | os.PathLike, fingerprint: str) -> None:
    """Write the model fingerprint into ``folder/config.json``: loading then refuses weights
    that were changed or damaged after the export. (Someone who can edit the weights can edit
    this record too: it catches damage and careless edits, it does not authenticate.)"""
    path = Path(folder) / ckpt.CONFIG
    config = json.loads(path.read_text())
    config["fingerprint"] = fingerprint
    ckpt.atomic_write_text(json.dumps(config, indent=2) + "\n", path)


def export_run(
    run_dir: str | os.PathLike,
    name: str,
    *,
    dest_root: str | os.PathLike = ZOO_DIR,
    notes: str = "",
    key: bytes | None = None,
) -> Path:
    """Copy a run's EMA generator into ``dest_root/name`` with a model card and a sample grid.

    The card records what the issue asks of shipped models: the command, commit, epochs,
    wall time and machine, all read from the run's own ``config.json``.
    """
    run_dir = Path(run_dir)
    loaded = load_generator(run_dir, key=key)
    dest = Path(dest_root) / name
    dest.mkdir(parents=True, exist_ok=True)
    for fname in (ckpt.GENERATOR, ckpt.CONFIG):
        if not (run_dir / fname).is_file():
            raise CheckpointError(f"{str(run_dir)!r} lacks {fname}")
        shutil.copyfile(run_dir / fname, dest / fname)
    record_fingerprint(dest, loaded.fingerprint)
    cfg, train = loaded.config, loaded.config["train"]
    progress = cfg.get("progress", {})
    seeds = list(range(64))
    from seedembed.models import generate

    save_grid(generate(loaded.generator, loaded.prf, seeds), dest / "samples.png", nrow=8)
    table = parameter_table({"generator": loaded.generator})
    stages = [*cfg.get("finetune_history", []), cfg.get("finetune")]
    stages = [r for r in stages if r]
    finetuning = "".join(
        _finetune_section(r, f", stage {i} of {len(stages)}" if len(stages) > 1 else "")
        for i, r in enumerate(stages, 1)
    )
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
{finetuning}{notes}
"""
    (dest / "card.md").write_text(card)
    return dest


def inverse_card_section(folder: str | os.PathLike) -> str:
    """The card's paragraph on a model folder's inverse generator, from its ``inverse.json``."""
    doc = inverse_info(folder)
    m, t = doc.get("metrics") or {}, doc["train"]
    start = (
        f", warm-started from the inverse generator of `{doc['init_from']}`"
        if doc.get("init_from")
        else ""
    )
    if doc.get("init_note"):
        start = f" ({doc['init_note']})"
    where = "CPU" if str(doc.get("machine")).startswith("CPU") else "GPU"
    return f"""
## Inverse generator

`inverse.safetensors` + `inverse.json`: E (image -> {doc["architecture"]["latent_length"]}-symbol
latent), {doc["parameters"]:,} parameters, {t["steps"]:,} steps at batch {t["batch_size"]} on the
{where}{start}, trained against this generator's
fingerprint `{doc["generator_fingerprint"][:16]}...`. On {m.get("heldout_seeds")} held-out seeds:
latent MSE {m.get("latent_mse_prf")}, exact latent search recovers the seed
{100 * m.get("seed_recovery", 0):.1f}% of the time. The command, commit, machine and UTC times
are in `inverse.json`.
"""


def _finetune_section(record: dict, stage: str = "") -> str:
    """The card's account of one codebook fine-tuning (``seedembed finetune-codebook``)."""
    c = record["config"]
    stop = record.get("stopped")  # the time budget ended it early
    done = stop["after_rounds"] if stop else c["rounds"]
    rounds = f"{done} round{'s' * (done != 1)}"
    if stop:
        budget = (
            f"; its {stop['max_seconds']:g} s budget ended it" if stop.get("max_seconds") else ""
        )
        rounds += f" (of the {c['rounds']} asked for{budget})"
    judged = any(h.get("test_accuracy") is not None for h in record["history"])
    rows = "\n".join(
        f"| {h['round']} | {h['train_mse']:.4f} | {h['distinct_seeds']:,} | "
        + (
            f"{h['test_mse']:.4f} | {h['test_ssim']:.3f}"
            if h.get("test_mse") is not None
            else "- | -"
        )
        + (f" | {h['test_accuracy']:.4f}" if h.get("test_accuracy") is not None else " | -")
        * judged
        + f" | {h.get('assign_s', '-')} | {h.get('update_s', '-')} |"
        for h in record["history"]
    )
    head = (
        f"| round | train MSE[-1,1] | seeds in use | test MSE[-1,1] ({c['eval_images']} images) "
        "| test SSIM |" + (" test accuracy |" if judged else "") + " assign s | update s |"
    )
    terms = f"{c['adv_weight']} x the adversarial loss of a discriminator trained beside it"
    if c.get("perceptual_weight"):
        terms += (
            f", plus {c['perceptual_weight']} x the squared distance of the two images' "
            f"penultimate features in the digit CNN `{c.get('perceptual_net')}` (trained "
            "separately; not the classifier that judges the reconstructions)"
        )
    if c.get("class_weight"):
        terms += (
            f", plus {c['class_weight']} x the cross-entropy of the digit CNN "
            f"`{c.get('perceptual_net')}`'s logits on the assigned seed's image against the "
            "training image's label"
        )
    if c.get("confidence_weight"):
        terms += (
            f", plus {c['confidence_weight']} x the entropy of the digit CNN "
            f"`{c.get('perceptual_net')}`'s prediction on the images of random seeds"
        )
    if c.get("precision_weight"):
        terms += (
            f", plus {c['precision_weight']} x the MSE between the images of random seeds and "
            "their nearest training images"
        )
    if c.get("ssim_weight"):
        terms += f", plus {c['ssim_weight']} x (1 - SSIM) of the pair (11x11 Gaussian window)"
    search = "exact image search"
    if c.get("search") == "hybrid":
        from seedembed.train.codebook import DEFAULT_TOPK

        topk = c.get("topk", DEFAULT_TOPK)
        search = (
            f"the hybrid search (the source model's inverse generator's top {topk} "
            "seeds re-ranked by their images)"
        )
    if c.get("augment"):
        search += f", and as many again for each of {c['augment']} randomly warped copies"
    epochs = f"{c['epochs_per_round']} epoch{'s' * (c['epochs_per_round'] != 1)}"
    return f"""
## Codebook fine-tuning{stage}

The generator was fine-tuned as a codebook of the training set (k-means through the generator,
`seedembed.train.codebook`): each round assigns every training image its best seed by
{search}, then trains G on the reconstruction MSE of those pairs plus {terms}.
{rounds} of {epochs}, batch {c["batch_size"]}, lr {c["lr"]}
(source fingerprint `{record["source"]["fingerprint"][:16]}...`). Row r is the assignment
made after r updates: row 0 measures the source generator, the last row the result.

{head}
|{" --- |" * (8 if judged else 7)}
{rows}

Command (commit `{record.get("commit")}`, {record.get("machine")}, {record.get("started_utc")}
to {record.get("finished_utc")}, {record.get("wall_time_s")} s):

```
{record.get("command")}
```
{_resumes(record)}"""


def _resumes(record: dict) -> str:
    lines = [f"\n{record['command_note']}\n"] if record.get("command_note") else []
    for r in record.get("resumes", []):
        lines.append(f"\nResumed at {r['utc']} with:\n\n```\n{r['command']}\n```\n")
    return "".join(lines)


__all__ = [
    "REGISTRY",
    "ZOO_DIR",
    "LoadedGenerator",
    "available",
    "export_run",
    "inverse_card_section",
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
