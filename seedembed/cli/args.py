"""argparse value types shared by every subcommand: a bad value is argparse's one-line error,
exit code 2, before any work starts."""

from __future__ import annotations

import argparse
import math
import re

_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


def integer(text: str) -> int:
    """An exact integer (decimal, or 0x.. / 0o.. / 0b..; no float detour)."""
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def positive_int(text: str) -> int:
    value = integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def nonneg_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value >= 0 and math.isfinite(value)):  # a weight or a scale of inf is no setting
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0, e.g. a learning rate (0 would train nothing, silently)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def device(text: str) -> str:
    """A ``--device`` name: auto, cpu, cuda or cuda:N. Whether this machine has it is checked
    where the device is used (``seedembed.train.distributed.resolve_device``)."""
    name = text.strip().lower()
    if not _DEVICE.fullmatch(name):
        raise argparse.ArgumentTypeError(f"unknown device {text!r} (use cpu, cuda or cuda:N)")
    return name
