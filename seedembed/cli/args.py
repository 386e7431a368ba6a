"""argparse value types shared by every subcommand: a bad value is argparse's one-line error,
exit code 2, before any work starts."""

from __future__ import annotations

import argparse


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
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value
