"""Evaluation subcommands: ``evaluate``, ``reproduce``, ``plot``, ``report``, ``search-table`` and
``train-classifier`` (the judge of reconstructions)."""

from __future__ import annotations

import argparse
import sys

from seedembed.cli.args import device, integer, positive_float, positive_int
from seedembed.search import STRATEGIES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-classifier", help="train the MNIST digit classifier used in tests")
    p.add_argument("--out", required=True, help="folder for classifier.safetensors + .json")
    p.add_argument("--data-root", help="folder holding MNIST/ (default $SEEDEMBED_DATA)")
    p.add_argument("--epochs", type=positive_int, default=3)
    p.add_argument(
        "--arch",
        choices=["cnn", "mlp"],
        default="cnn",
        help="cnn (the shipped judge's) or mlp (one hidden layer, the reference numbers' judge)",
    )
    p.add_argument(
        "--width",
        type=positive_int,
        help="cnn: channels of the first conv (32); mlp: hidden units (256)",
    )
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate (1e-3)")
    p.add_argument(
        "--augment",
        action="store_true",
        help="train on randomly warped digits (rotation, scale, shift) with a cosine lr decay",
    )
    p.add_argument("--seed", type=integer, default=0)
    p.add_argument("--device", type=device, default="cpu")
    p.set_defaults(func=cmd_train_classifier)

    p = sub.add_parser(
        "search-table", help="the four seed searches side by side on MNIST (test + synthetic)"
    )
    p.add_argument("--model", default="mnist-524287")
    p.add_argument("--n", type=positive_int, default=10_000, help="test images (10000)")
    p.add_argument("--synthetic", type=positive_int, default=1_000, help="synthetic seeds (1000)")
    p.add_argument("--search", nargs="+", choices=STRATEGIES, help="strategies (default: all four)")
    p.add_argument("--data-root", help="folder holding MNIST/ (default $SEEDEMBED_DATA)")
    p.add_argument("--device", type=device, default="cpu")
    p.add_argument("--json", help="also write the result as JSON here")
    p.set_defaults(func=cmd_search_table)

    p = sub.add_parser(
        "evaluate",
        help="measure one model (or baseline) on a data set; JSON like CompressAI's eval_model",
        description="Encode and decode a data set split with a model and a search strategy (or "
        "a baseline), and print the metrics as JSON: MSE on both scales, PSNR, SSIM, exact bits "
        "per image, encode/decode time, the classifier test on MNIST, FID with --fid, seed "
        "recovery on --split synthetic.",
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--model", metavar="NAME_OR_DIR", help="a shipped model or model folder")
    who.add_argument("--baseline", metavar="NAME", help="ae7, ae14-q8, kmeans-5101, ...")
    p.add_argument("--dataset", default="mnist", help="mnist (default), anime-faces or a folder")
    p.add_argument("--split", default="test", choices=("test", "train", "synthetic"))
    p.add_argument("--search", default="image", choices=STRATEGIES, help="(image)")
    p.add_argument("--n", type=positive_int, help="first N images (default: all; synthetic 1000)")
    p.add_argument("--fid", action="store_true", help="also Inception FID (and digit FID)")
    p.add_argument("--fid-n", type=positive_int, metavar="N", help="images per FID side (all)")
    p.add_argument("--metrics", nargs="+", metavar="M", help="registered metrics to compute")
    p.add_argument("--data-root", help="data root (default $SEEDEMBED_DATA)")
    p.add_argument("--device", type=device, default="cpu")
    p.add_argument("--json", metavar="PATH", help="also write the JSON here")
    p.add_argument("--jsonl", metavar="PATH", help="append one line per metric here")
    p.set_defaults(func=cmd_evaluate)

    from seedembed.experiments.tables import TABLES

    p = sub.add_parser(
        "reproduce",
        help="one table of the thesis, our rows beside the thesis' (randomness, mnist-test, ...)",
    )
    p.add_argument("table", choices=list(TABLES), metavar="TABLE", help=", ".join(TABLES))
    p.add_argument("--quick", action="store_true", help="subsets, so that it runs in CI")
    p.add_argument("--no-fid", action="store_true", help="skip the FID columns (the slow ones)")
    p.add_argument("--json", metavar="PATH", help="also write the table as JSON")
    p.add_argument("--markdown", action="store_true", help="print markdown instead of text")
    p.add_argument("--data-root", help="data root (default $SEEDEMBED_DATA)")
    p.add_argument("--device", type=device, default="cpu")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("plot", help="rate-distortion curves from evaluate/reproduce JSON files")
    p.add_argument("inputs", nargs="+", metavar="JSON")
    p.add_argument("-o", "--output", default="rd.png", help="PNG to write (rd.png)")
    p.add_argument("--title", default="", help="figure title")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser(
        "report", help="reproduce every table that has its models and write docs/results.md"
    )
    p.add_argument("-o", "--output", default="docs/results.md", help="(docs/results.md)")
    p.add_argument("--quick", action="store_true", help="subsets (a smoke test of the report)")
    p.add_argument("--no-fid", action="store_true", help="skip the FID columns")
    p.add_argument("--tables", nargs="+", choices=list(TABLES), metavar="TABLE")
    p.add_argument(
        "--keep",
        action="store_true",
        help="print the tables not named by --tables from the JSON an earlier report wrote "
        "(marked with its commit and time) instead of leaving them out",
    )
    p.add_argument("--data-root", help="data root (default $SEEDEMBED_DATA)")
    p.add_argument("--device", type=device, default="cpu")
    p.set_defaults(func=cmd_report)


def cmd_train_classifier(args: argparse.Namespace) -> int:
    from seedembed.train.classifier import train_classifier
    from seedembed.train.distributed import resolve_device

    info = train_classifier(
        args.out,
        data_root=args.data_root,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        width=args.width or (256 if args.arch == "mlp" else 32),
        arch=args.arch,
        seed=args.seed,
        augment=args.augment,
        device=str(resolve_device(args.device)),
    )
    t = info["test"]
    print(
        f"classifier: test accuracy {t['accuracy']:.4f}, cross-entropy {t['cross_entropy']:.4f} "
        f"({info['wall_time_s']} s); wrote {args.out}"
    )
    return 0


def cmd_search_table(args: argparse.Namespace) -> int:
    from seedembed.experiments.search_table import format_table, run
    from seedembed.train.distributed import resolve_device

    result = run(
        args.model,
        n_test=args.n,
        n_synthetic=args.synthetic,
        strategies=tuple(args.search or STRATEGIES),
        data_root=args.data_root,
        device=str(resolve_device(args.device)),
    )
    print(format_table(result))
    if args.json:
        _write_json(args.json, result)
        print(f"wrote {args.json}")
    return 0


def _write_json(path: str, doc: dict) -> None:
    import json
    from pathlib import Path

    from seedembed.errors import DataError

    try:
        Path(path).write_text(json.dumps(doc, indent=2) + "\n")
    except OSError as exc:
        raise DataError(f"cannot write {path!r}: {exc}") from None


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from seedembed.errors import MetricError
    from seedembed.evaluation import evaluate, load_images, make_method, strip, synthetic_images
    from seedembed.metrics.registry import is_valid_metric, list_valid_metrics, report_metric
    from seedembed.train.distributed import resolve_device

    for m in args.metrics or []:
        if not is_valid_metric(m):
            raise MetricError(f"unknown metric {m!r} (known: {', '.join(list_valid_metrics())})")
    spec = f"baseline:{args.baseline}" if args.baseline else args.model
    device = str(resolve_device(args.device))
    method = make_method(spec, search=args.search, device=device, data_root=args.data_root)
    if args.split == "synthetic":
        if args.baseline:
            raise MetricError("--split synthetic needs --model (images made from known seeds)")
        images = synthetic_images(method.codec, args.n or 1000)
    else:
        images = load_images(args.dataset, args.split, args.n, data_root=args.data_root)
    result = strip(
        evaluate(
            method,
            images,
            metrics=tuple(args.metrics) if args.metrics else None,
            fid=args.fid,
            fid_n=args.fid_n,
            device=device,
        )
    )
    print(json.dumps(result, indent=2))
    if args.json:
        _write_json(args.json, result)
    if args.jsonl:
        for name, secs in result["metric_seconds"].items():
            report_metric({"metric": name, "total_time": secs}, args.jsonl, name=result["name"])
    return 0


def _session(args: argparse.Namespace):
    """The reproduction settings of `reproduce` and `report`; progress lines go to stderr."""
    from seedembed.experiments.tables import Session
    from seedembed.train.distributed import resolve_device

    return Session(
        quick=args.quick,
        data_root=args.data_root,
        device=str(resolve_device(args.device)),
        fid=not args.no_fid,
        log=lambda msg: print(msg, file=sys.stderr),
    )


def cmd_reproduce(args: argparse.Namespace) -> int:
    from seedembed.experiments.tables import format_markdown, format_text, reproduce

    session = _session(args)
    table = reproduce(args.table, session)
    print(format_markdown(table) if args.markdown else format_text(table))
    if args.json:
        _write_json(args.json, table.to_dict())
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from seedembed.evaluation.plot import plot_rd

    print(f"wrote {plot_rd(args.inputs, args.output, args.title)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from seedembed.experiments.report import write_report
    from seedembed.experiments.tables import TABLES

    session = _session(args)
    out = write_report(args.output, session, tables=tuple(args.tables or TABLES), keep=args.keep)
    print(f"wrote {out}")
    return 0
