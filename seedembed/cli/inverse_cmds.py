"""``seedembed train-inverse``: train the inverse generator (image -> latent) of a model."""

from __future__ import annotations

import argparse
import json

from seedembed.cli.args import device, integer, nonneg_float, positive_float, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-inverse",
        help="train a model's inverse generator (image -> latent), the start of seed search",
        description="Train the inverse generator E of a model on (G(z), z) pairs made on the "
        "fly (PRF latents, plus U(-1,1) latents for 2steps models), then measure it on held-out "
        "seeds and real test images. Writes inverse.safetensors + inverse.json into the model "
        "folder, or into --out DIR. For a shipped name the model folder is inside the installed "
        "package (seedembed/zoo/NAME/): pass --out to keep the package untouched.",
    )
    p.add_argument("--model", required=True, metavar="NAME_OR_DIR", help="shipped name or folder")
    p.add_argument("--steps", required=True, type=positive_int, metavar="N", help="Adam steps")
    p.add_argument("--batch-size", type=positive_int, default=256, metavar="B", help="(256)")
    p.add_argument("--lr", type=positive_float, default=1e-3, help="peak learning rate (1e-3)")
    p.add_argument("--width", type=positive_int, default=32, metavar="W", help="E width (32)")
    p.add_argument(
        "--image-weight",
        type=nonneg_float,
        default=0.0,
        metavar="W",
        help="weight of the image-space term ||G(E(x)) - x||^2 (0: latent MSE only)",
    )
    p.add_argument(
        "--holdout",
        type=integer,
        default=2000,
        metavar="K",
        help="seeds kept out of training for the evaluation (2000, at most a tenth of them)",
    )
    p.add_argument(
        "--reuse",
        type=positive_int,
        default=1,
        metavar="R",
        help="render batch/R new pairs per step into a pool and train on pool draws, so each "
        "pair serves R batches (1: all fresh; 4 is ~2x faster on a CPU)",
    )
    p.add_argument(
        "--pool-size", type=positive_int, default=16384, metavar="N", help="pairs in the pool"
    )
    p.add_argument("--seed", type=integer, default=0, help="seed of weights and latents (0)")
    p.add_argument("--device", type=device, default="cpu", help="cpu (default), cuda or cuda:N")
    p.add_argument(
        "--threads",
        type=positive_int,
        metavar="N",
        help="CPU threads (torch default: all cores; 1 is fastest on a busy shared CPU)",
    )
    p.add_argument("--out", metavar="DIR", help="write here instead of the model folder")
    p.add_argument(
        "--init",
        metavar="NAME_OR_DIR",
        help="start from the inverse generator of this model (e.g. the one a fine-tuned "
        "generator came from) instead of random weights",
    )
    p.add_argument("--resume", action="store_true", help="continue the run checkpointed there")
    p.add_argument("--overwrite", action="store_true", help="replace an existing inverse")
    p.add_argument("--max-steps", type=positive_int, metavar="N", help="stop at step N (resumable)")
    p.add_argument(
        "--checkpoint-every", type=positive_int, default=500, metavar="STEPS", help="(500)"
    )
    p.add_argument("--keep-checkpoint", action="store_true", help="keep it after the last step")
    p.add_argument("--data-root", help="where MNIST/ is, for the real-image evaluation")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train_inverse)


def cmd_train_inverse(args: argparse.Namespace) -> int:
    import torch

    from seedembed.errors import ModelError
    from seedembed.train.distributed import resolve_device
    from seedembed.train.inverse import InverseTrainConfig, train_inverse

    if args.holdout < 0:
        raise ModelError(f"--holdout must be >= 0, got {args.holdout}")
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = InverseTrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        width=args.width,
        image_weight=args.image_weight,
        holdout=args.holdout,
        seed=args.seed,
        reuse=args.reuse,
        pool_size=args.pool_size,
    )
    result = train_inverse(
        args.model,
        config,
        out_dir=args.out,
        resume=args.resume,
        overwrite=args.overwrite,
        device=str(device),
        checkpoint_every=args.checkpoint_every,
        progress=not args.no_progress,
        data_root=args.data_root,
        keep_checkpoint=args.keep_checkpoint,
        max_steps=args.max_steps,
        init=args.init,
    )
    if result.step < args.steps:
        how = "interrupted" if result.interrupted else "stopped"
        print(f"{how} at step {result.step} of {args.steps}: continue with --resume")
        return 130 if result.interrupted else 0
    print(f"wrote {result.out_dir}/inverse.safetensors, inverse.json (step {result.step})")
    if result.metrics:
        print(json.dumps(result.metrics, indent=2))
    return 0
