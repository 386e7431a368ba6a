"""Baseline subcommand: ``train-baseline`` (autoencoders, k-means codebooks, nearest training
digit; see seedembed.baselines)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    from seedembed.baselines import NAMES
    from seedembed.cli import args as args_mod

    p = sub.add_parser(
        "train-baseline",
        help="train and cache the baselines the seed codec is compared with",
        description="Train (when not cached, or with --force) and cache each named baseline, "
        "then measure it on its test set (the 10,000 MNIST test digits; the 2,296 anime test "
        "faces for anime-* names): one line per baseline with its bits "
        "per image, MSE on [0,1] and [-1,1], PSNR, SSIM (whole image; interior = without the "
        "5-pixel border, skimage's convention) and training seconds. "
        f"Names: {', '.join(NAMES)} (also ae<d>[-q8], kmeans-<k>; each also with the prefix "
        "anime-, trained on the anime faces).",
    )
    p.add_argument("names", nargs="+", metavar="NAME", help="baselines to train")
    p.add_argument(
        "--data-root", help="folder holding MNIST/ and anime-faces/ (default $SEEDEMBED_DATA)"
    )
    p.add_argument(
        "--cache-dir", help="artefact folder (default $SEEDEMBED_CACHE/baselines or ~/.cache/...)"
    )
    p.add_argument("--force", action="store_true", help="retrain even when cached")
    p.add_argument(
        "--device",
        type=args_mod.device,
        default="cpu",
        help="where to train: cpu (default), cuda or cuda:N",
    )
    p.add_argument(
        "-v", "--verbose", action="store_true", help="one progress line per epoch on stderr"
    )
    p.set_defaults(func=cmd_train_baseline)


def cmd_train_baseline(args: argparse.Namespace) -> int:
    from seedembed.baselines import (
        artefact_paths,
        dataset_of,
        evaluate,
        load_baseline,
        parse_name,
        train_baseline,
    )
    from seedembed.data import load_uint8, open_dataset
    from seedembed.train.distributed import resolve_device

    device = resolve_device(args.device)
    names = list(dict.fromkeys(args.names))
    keys = {name: parse_name(name)[1] for name in names}  # every name checked before any work
    tests = {
        ds: load_uint8(open_dataset(ds, args.data_root, train=False)).float().div_(255)
        for ds in dict.fromkeys(dataset_of(name) for name in names)
    }

    def note(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    trained: set[str] = set()
    for name in names:
        key = keys[name]
        retrain = args.force and key not in trained and not key.endswith("nearest-train")
        kw = dict(data_root=args.data_root, cache_dir=args.cache_dir, log=note)
        kw.update(progress=note if args.verbose else None, device=device)
        baseline = (train_baseline if retrain else load_baseline)(name, **kw)
        trained.add(key)
        test = tests[dataset_of(name)]
        r = evaluate(baseline, test)
        seconds = baseline.info.get("train_seconds")
        made = f"trained in {seconds:.1f} s" if seconds is not None else "no training"
        nearest = key.endswith("nearest-train")
        where = "the training set" if nearest else artefact_paths(key, args.cache_dir)[0]
        print(
            f"{name}: {r['bits']:.2f} bits ({r['bits_ceil']} stored), "
            f"MSE[0,1] {r['mse_01']:.4f}, MSE[-1,1] {r['mse_m11']:.4f}, "
            f"PSNR {r['psnr']:.2f} dB, SSIM {r['ssim']:.3f} (interior {r['ssim_interior']:.3f}) "
            f"on {r['n']} test images; "
            f"{made}, reconstructed in {r['reconstruct_seconds']:.1f} s ({where})",
            flush=True,
        )
    return 0
