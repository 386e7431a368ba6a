"""Test set-up: where the real data sets are.

Tests that need MNIST or the anime faces read ``SEEDEMBED_DATA``; when it is unset they use the
project's documented development layout, the read-only ``shared/data`` beside the checkout, if
it exists, and skip with a reason otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

_SIBLING = Path(__file__).resolve().parents[2] / "shared" / "data"

# tests decode their folders afresh; the decoded-image cache is tested with its own folder
os.environ.setdefault("SEEDEMBED_IMAGE_CACHE", "0")

if "SEEDEMBED_DATA" not in os.environ and (_SIBLING / "MNIST" / "raw").is_dir():
    os.environ["SEEDEMBED_DATA"] = str(_SIBLING)


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module: on two busy shared cores, small convolutions, training
    steps and eigenvalue problems run 10-15x slower with two threads than with one."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)
