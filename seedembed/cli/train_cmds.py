"""Training subcommands: ``train-gan`` and ``generate`` (thin wrappers over seedembed.train/zoo)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from seedembed.cli.args import device, integer, nonneg_float, positive_float, positive_int
from seedembed.errors import CheckpointError, DataError, ModelError


def register(sub: argparse._SubParsersAction) -> None:
    from seedembed.models.config import GENERATORS
    from seedembed.train.config import SCHEDULES

    p = sub.add_parser(
        "train-gan",
        help="train a GAN whose latents are PRF sequences (resumable, torchrun-ready)",
        description="Train a GAN on PRF latents. Writes checkpoints, the EMA generator, sample "
        "grids (samples/epoch-NNNN.png) and TensorBoard logs (tb/) to --out. Under "
        "`torchrun --nproc_per_node N -m seedembed train-gan ...` it trains on N processes.",
    )
    g = p.add_argument_group("what to train (stored in the run; fixed on --resume)")
    g.add_argument("--dataset", help="mnist (default), anime-faces, or a folder of PNG/JPEG")
    g.add_argument("--prf", help="PRF spec of the latents (default lcg-524287)")
    g.add_argument("--schedule", choices=list(SCHEDULES), help="latent schedule (default 2steps)")
    g.add_argument(
        "--noise-scale",
        type=nonneg_float,
        metavar="S",
        help="lcg+noise: half-width of the U(-S, S) noise (default 0.1)",
    )
    g.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="B",
        help="global batch size, split over processes (default 128)",
    )
    g.add_argument("--lr", type=positive_float, help="Adam learning rate of G and D (2e-4)")
    g.add_argument(
        "--width",
        type=positive_int,
        metavar="W",
        help="channels of G and D at full resolution (default 64)",
    )
    g.add_argument("--g-width", type=positive_int, metavar="W", help="generator width only")
    g.add_argument("--d-width", type=positive_int, metavar="W", help="discriminator width only")
    g.add_argument(
        "--latent-length",
        type=positive_int,
        metavar="L",
        help="symbols per latent (mnist 25, anime/folders 100)",
    )
    g.add_argument(
        "--image-size",
        type=positive_int,
        metavar="S",
        help="folders: side of the centre-cropped square (default 64)",
    )
    g.add_argument(
        "--channels", type=int, choices=(1, 3), help="folders: 1 grey or 3 RGB (default 3)"
    )
    g.add_argument("--no-spectral-norm", action="store_true", help="plain discriminator")
    g.add_argument(
        "--minibatch-std",
        action="store_true",
        help="D sees the spread of each group of 4 images (StyleGAN's minibatch stddev); the "
        "style generator needs it",
    )
    g.add_argument(
        "--generator",
        choices=GENERATORS,
        help="generator architecture: dcgan (default), style (mapping network + modulated "
        "convolutions, no noise inputs; train it with --minibatch-std: docs/training.md) or mlp "
        "(fully connected, hidden widths 4, 8, 16 x --g-width)",
    )
    g.add_argument(
        "--ema-half-life",
        type=nonneg_float,
        metavar="IMAGES",
        help="half-life of the generator EMA in images (default 10000)",
    )
    g.add_argument("--seed", type=integer, help="seed of weights, data order, latents (0)")
    g.add_argument(
        "--limit", type=positive_int, metavar="N", help="train on the first N images only"
    )
    g.add_argument(
        "--sample-seeds",
        type=integer,
        nargs="+",
        metavar="S",
        help="seeds of the per-epoch sample grid (default 0..63)",
    )
    r = p.add_argument_group("how to run")
    r.add_argument("--out", help="run folder (created; holds checkpoints, samples, logs)")
    r.add_argument(
        "--resume",
        nargs="?",
        const=True,
        metavar="DIR",
        help="continue the run in --out (or in DIR)",
    )
    r.add_argument(
        "--epochs",
        type=positive_int,
        metavar="N",
        help="epochs in total (default 20; may be raised on --resume)",
    )
    r.add_argument(
        "--max-steps",
        type=positive_int,
        metavar="N",
        help="stop after N steps in total (a checkpoint is written)",
    )
    r.add_argument(
        "--data-root",
        help="folder holding MNIST/ and anime-faces/ "
        "(default $SEEDEMBED_DATA, else a user cache where MNIST downloads)",
    )
    r.add_argument("--device", type=device, help="cpu, cuda or cuda:N (default: cuda when present)")
    r.add_argument("--key-file", help="key of the keyed PRF (or SEEDEMBED_KEY_FILE)")
    r.add_argument(
        "--checkpoint-every",
        type=positive_int,
        metavar="STEPS",
        help="also checkpoint every STEPS steps (always at each epoch's end)",
    )
    r.add_argument(
        "--log-every",
        type=positive_int,
        default=50,
        metavar="STEPS",
        help="steps between loss readings (progress bar, TensorBoard; 50)",
    )
    r.add_argument("--no-amp", action="store_true", help="no bf16 autocast on CUDA")
    r.add_argument("--no-tensorboard", action="store_true", help="write no TensorBoard logs")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument(
        "--dry-run",
        action="store_true",
        help="print the config and parameter counts, train nothing",
    )
    p.set_defaults(func=cmd_train_gan)

    p = sub.add_parser("generate", help="render the images of some seeds with a trained model")
    p.add_argument(
        "--model",
        required=True,
        metavar="NAME_OR_PATH",
        help="a shipped model name or a model/run folder",
    )
    p.add_argument("--seeds", type=integer, nargs="+", required=True, metavar="S")
    p.add_argument("-o", "--output", required=True, help="PNG grid to write")
    p.add_argument("--nrow", type=positive_int, help="images per row (default: square grid)")
    p.add_argument("--device", type=device, help="cpu (default), cuda or cuda:N")
    p.add_argument("--key-file", help="key of the keyed PRF (or SEEDEMBED_KEY_FILE)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser(
        "finetune-codebook",
        help="fine-tune a generator as a codebook of its training set (k-means through G)",
        description="Alternate a seed search of every training image (its best seed) "
        "and an update of G that pulls each assigned seed's image towards its image, plus a "
        "weighted adversarial loss that keeps outputs sharp. Writes a model folder to --out "
        "(retrain its inverse generator with `seedembed train-inverse --model OUT --init MODEL`).",
    )
    p.add_argument("--model", required=True, metavar="NAME_OR_DIR", help="the trained GAN")
    p.add_argument("--out", required=True, metavar="DIR", help="run / model folder to write")
    p.add_argument("--rounds", type=positive_int, default=5, help="assignment rounds (5)")
    p.add_argument(
        "--epochs-per-round", type=positive_int, default=2, metavar="E", help="updates (2)"
    )
    p.add_argument("--batch-size", type=positive_int, default=128, metavar="B", help="(128)")
    p.add_argument("--lr", type=positive_float, default=1e-4, help="Adam lr of G; D gets 2x")
    p.add_argument(
        "--adv-weight",
        type=nonneg_float,
        default=0.02,
        metavar="W",
        help="weight of the adversarial loss beside the reconstruction MSE (0.02)",
    )
    p.add_argument(
        "--perceptual-weight",
        type=nonneg_float,
        default=0.0,
        metavar="W",
        help="weight of a feature distance in a digit CNN (0: off); needs --perceptual-net",
    )
    p.add_argument(
        "--class-weight",
        type=nonneg_float,
        default=0.0,
        metavar="W",
        help="weight of the cross-entropy of --perceptual-net on each assigned seed's image "
        "against its training image's label (0: off; labelled data sets only)",
    )
    p.add_argument(
        "--confidence-weight",
        type=nonneg_float,
        default=0.0,
        metavar="W",
        help="weight of the entropy of --perceptual-net's prediction on random seeds' images, "
        "so that no codebook entry sits between two classes (0: off)",
    )
    p.add_argument(
        "--precision-weight",
        type=nonneg_float,
        default=0.0,
        metavar="W",
        help="weight of the MSE between random seeds' images and their nearest training images, "
        "so that every entry, used or not, is pulled towards real data (0: off)",
    )
    p.add_argument(
        "--margin-weight",
        type=nonneg_float,
        default=0.0,
        metavar="W",
        help="weight of the LVQ margin: each round, stand-ins for unseen digits (--margin-probe) "
        "whose nearest entry --perceptual-net reads as another digit pull the nearest entry of "
        "their own digit closer than that one (0: off; labelled data sets only)",
    )
    p.add_argument(
        "--margin-probe",
        choices=("copies", "training"),
        default="copies",
        help="the margin term's stand-ins for unseen digits: warped copies (default) or the "
        "training digits each searched without its own assigned entry",
    )
    p.add_argument(
        "--ssim-weight",
        type=nonneg_float,
        default=0.0,
        metavar="W",
        help="weight of 1 - SSIM (11x11 Gaussian window) of each assigned seed's image against "
        "its training image, beside the MSE (0: off): MSE alone pulls entries to blurred means",
    )
    p.add_argument(
        "--perceptual-net",
        metavar="DIR",
        help="digit classifier folder for the perceptual, class, confidence and margin terms "
        "(train one with `seedembed train-classifier --seed 1`; not the judging classifier)",
    )
    p.add_argument(
        "--augment",
        type=integer,
        default=0,
        metavar="K",
        help="K randomly warped copies of every training image each round, so that more seeds "
        "are trained near real images (0: none)",
    )
    p.add_argument(
        "--balanced",
        action="store_true",
        help="each seed takes at most ceil(targets / m) training targets (its nearest "
        "proposers), so that no seed is fitted to the mean of several; image search only, and "
        "each assignment is a full pass over the codebook (slow on a CPU for m = 524287)",
    )
    p.add_argument(
        "--search",
        choices=("image", "hybrid"),
        default="image",
        help="assignment: the exact image search (default), or the model's inverse generator's "
        "top-k re-ranked by image (for 64x64 models, whose codebook is too big to rebuild)",
    )
    p.add_argument(
        "--topk",
        type=positive_int,
        default=64,
        metavar="K",
        help="--search hybrid's shortlist (64): each assignment renders K images per target",
    )
    p.add_argument("--d-warmup", type=integer, default=300, metavar="STEPS", help="(300)")
    p.add_argument("--limit", type=positive_int, metavar="N", help="first N training images")
    p.add_argument(
        "--eval-images", type=integer, default=2000, metavar="N", help="test images (2000)"
    )
    p.add_argument("--seed", type=integer, default=0)
    p.add_argument("--data-root", help="data root (default $SEEDEMBED_DATA)")
    p.add_argument("--device", type=device, help="cpu (default), cuda or cuda:N")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument(
        "--max-seconds",
        type=nonneg_float,
        metavar="S",
        help="wall-time budget of this call: no round starts that would not end, with the final "
        "assignment, within S seconds (judged by the rounds so far); the model is written "
        "after the rounds done, and --resume can add more",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_finetune_codebook)


def _model_config(args: argparse.Namespace, dataset: str, base=None):
    """The model of a new run (the data set's defaults), or of a resumed one (``base``, the
    stored model), with the options the user gave on top: repeating a run's own options on
    --resume names the same model, and a different one is refused by the fingerprint check."""
    from seedembed.models import GanConfig

    if base is None:
        base = GanConfig.mnist() if dataset.strip().lower() == "mnist" else GanConfig.anime()
    changes = {}
    if args.width:
        changes["g_width"] = changes["d_width"] = args.width
    for key in ("g_width", "d_width", "latent_length", "image_size", "channels"):
        if getattr(args, key) is not None:
            changes[key] = getattr(args, key)
    if args.no_spectral_norm:
        changes["spectral_norm"] = False
    if args.minibatch_std:
        changes["minibatch_std"] = True
    if args.generator is not None:
        changes["generator"] = args.generator
    return base.__class__.from_dict({**base.to_dict(), **changes})


def _config_changes(args: argparse.Namespace) -> dict:
    """Training-config fields the user gave explicitly."""
    changes = {}
    for key in (
        "dataset",
        "prf",
        "schedule",
        "noise_scale",
        "epochs",
        "batch_size",
        "lr",
        "ema_half_life",
        "seed",
        "limit",
    ):
        if getattr(args, key) is not None:
            changes[key] = getattr(args, key)
    if args.sample_seeds:
        changes["sample_seeds"] = tuple(args.sample_seeds)
    return changes


def cmd_train_gan(args: argparse.Namespace) -> int:
    from seedembed import prf
    from seedembed.models import Discriminator, build_generator, parameter_table
    from seedembed.train import RunOptions, TrainConfig, train_gan
    from seedembed.train.checkpoint import read_checkpoint_state

    if isinstance(args.resume, str):
        if args.out and Path(args.out) != Path(args.resume):
            raise CheckpointError(f"--resume {args.resume} and --out {args.out} differ")
        args.out = args.resume
    if not args.out:
        raise ModelError("--out DIR is required (the run folder)")
    out = Path(args.out)
    key = prf.read_key(args.key_file) if args.key_file else None
    changes = _config_changes(args)
    if args.resume:
        stored = TrainConfig.from_dict(read_checkpoint_state(out)["config"])
        config = stored.replace(**changes, model=_model_config(args, stored.dataset, stored.model))
    else:
        dataset = changes.get("dataset", "mnist")
        config = TrainConfig(model=_model_config(args, dataset), **changes)
    config = config.replace(prf=prf.get(config.prf, key=key).spec)  # a bad spec fails here
    if config.model.generator == "style" and not config.model.minibatch_std:
        print(
            "warning: the style generator collapsed to one image in every run without "
            "--minibatch-std (docs/training.md)",
            file=sys.stderr,
        )
    if args.dry_run:
        print(config.to_json())
        nets = {"generator": build_generator(config.model)}
        print(parameter_table({**nets, "discriminator": Discriminator(config.model)}))
        return 0
    options = RunOptions(
        device=args.device,
        max_steps=args.max_steps,
        data_root=args.data_root,
        amp=False if args.no_amp else None,
        log_every=args.log_every,
        checkpoint_every=args.checkpoint_every,
        tensorboard=not args.no_tensorboard,
        progress=not args.no_progress,
        key=key,
    )
    result = train_gan(config, out, resume=bool(args.resume), options=options)
    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 reports
        return 130 if result.interrupted else 0
    if result.interrupted:
        print(
            f"interrupted at step {result.step} (epoch {result.epoch:.2f}); continue with: "
            f"seedembed train-gan --resume {out}"
        )
        return 130
    print(
        f"done: step {result.step}, epoch {result.epoch:.2f}; model folder {out} "
        f"(seedembed generate --model {out} --seeds 0 1 2 3 -o grid.png)"
    )
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from seedembed import prf
    from seedembed.models import generate, save_grid
    from seedembed.train.distributed import resolve_device
    from seedembed.zoo import load_generator

    device = resolve_device(args.device or "cpu")
    key = prf.read_key(args.key_file) if args.key_file else None
    loaded = load_generator(args.model, device=device, key=key)
    images = generate(loaded.generator, loaded.prf, args.seeds, device=device)
    try:
        path = save_grid(images, args.output, nrow=args.nrow)
    except OSError as exc:
        raise DataError(f"cannot write {args.output!r}: {exc}") from None
    print(f"wrote {path}: {len(images)} images of {loaded.path} ({loaded.prf.spec})")
    return 0


def cmd_finetune_codebook(args: argparse.Namespace) -> int:
    from seedembed.train.codebook import FinetuneConfig, finetune_codebook
    from seedembed.train.distributed import resolve_device

    config = FinetuneConfig(
        rounds=args.rounds,
        epochs_per_round=args.epochs_per_round,
        batch_size=args.batch_size,
        lr=args.lr,
        adv_weight=args.adv_weight,
        perceptual_weight=args.perceptual_weight,
        perceptual_net=args.perceptual_net,
        class_weight=args.class_weight,
        confidence_weight=args.confidence_weight,
        precision_weight=args.precision_weight,
        margin_weight=args.margin_weight,
        margin_probe=args.margin_probe,
        augment=args.augment,
        search=args.search,
        balanced=args.balanced,
        ssim_weight=args.ssim_weight,
        topk=args.topk,
        d_warmup_steps=args.d_warmup,
        limit=args.limit,
        eval_images=args.eval_images,
        seed=args.seed,
    )
    out = finetune_codebook(
        args.model,
        args.out,
        config,
        data_root=args.data_root,
        device=str(resolve_device(args.device or "cpu")),
        resume=args.resume,
        progress=not args.no_progress,
        max_seconds=args.max_seconds,
    )
    print(f"wrote the fine-tuned model {out} (history in {out}/finetune.json)")
    return 0
