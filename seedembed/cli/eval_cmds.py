"""Evaluation subcommands: ``search-table`` and ``train-classifier`` (the judge of
reconstructions)."""

from __future__ import annotations

import argparse

from seedembed.cli.args import integer, positive_int
from seedembed.search import STRATEGIES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-classifier", help="train the MNIST digit classifier used in tests")
    p.add_argument("--out", required=True, help="folder for classifier.safetensors + .json")
    p.add_argument("--data-root", help="folder holding MNIST/ (default $SEEDEMBED_DATA)")
    p.add_argument("--epochs", type=positive_int, default=3)
    p.add_argument("--seed", type=integer, default=0)
    p.set_defaults(func=cmd_train_classifier)

    p = sub.add_parser(
        "search-table", help="the four seed searches side by side on MNIST (test + synthetic)"
    )
    p.add_argument("--model", default="mnist-524287")
    p.add_argument("--n", type=positive_int, default=10_000, help="test images (10000)")
    p.add_argument("--synthetic", type=positive_int, default=1_000, help="synthetic seeds (1000)")
    p.add_argument("--search", nargs="+", choices=STRATEGIES, help="strategies (default: all four)")
    p.add_argument("--data-root", help="folder holding MNIST/ (default $SEEDEMBED_DATA)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", help="also write the result as JSON here")
    p.set_defaults(func=cmd_search_table)


def cmd_train_classifier(args: argparse.Namespace) -> int:
    from seedembed.train.classifier import train_classifier

    info = train_classifier(args.out, data_root=args.data_root, epochs=args.epochs, seed=args.seed)
    t = info["test"]
    print(
        f"classifier: test accuracy {t['accuracy']:.4f}, cross-entropy {t['cross_entropy']:.4f} "
        f"({info['wall_time_s']} s); wrote {args.out}"
    )
    return 0


def cmd_search_table(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from seedembed.experiments.search_table import format_table, run

    result = run(
        args.model,
        n_test=args.n,
        n_synthetic=args.synthetic,
        strategies=tuple(args.search or STRATEGIES),
        data_root=args.data_root,
        device=args.device,
    )
    print(format_table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
