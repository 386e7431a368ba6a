"""The ``seedembed`` command: a thin argparse layer over the Python API.

Each topic module (``prf_cmds``, ...) exposes ``register(subparsers)`` that adds its
subcommands and sets ``func`` on them. Errors a user causes (:class:`SeedembedError`) print as
one line on stderr with exit code 2; argparse's own usage errors also exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from seedembed import __version__
from seedembed.errors import SeedembedError

#: modules whose ``register(subparsers)`` adds subcommands, in help order
COMMAND_MODULES = (
    "seedembed.cli.codec_cmds",
    "seedembed.cli.eval_cmds",
    "seedembed.cli.prf_cmds",
    "seedembed.cli.train_cmds",
    "seedembed.cli.inverse_cmds",
    "seedembed.cli.baseline_cmds",
    "seedembed.cli.demo_cmds",
)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="seedembed",
        description="Store images as seeds of pseudorandom functions (GAN latent codes).",
    )
    parser.add_argument("--version", action="version", version=f"seedembed {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script and of ``python -m seedembed``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SeedembedError as exc:
        print(f"seedembed {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"seedembed {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `seedembed prf-sequence ... | head`
        sys.stderr.close()
        return 0
