"""The project's digit classifier: a small CNN that judges reconstructions.

The thesis' classification test feeds reconstructions to a digit classifier and reports the
cross-entropy against the true labels; the quality bar of the codec asks for its accuracy too.
Two conv layers and one hidden layer: about 99% on clean MNIST test digits, trained in about a
minute on a 2-core CPU (``seedembed train-classifier``), shipped as ``mnist-classifier``.
``arch="mlp"`` is the judge of the reference numbers (``numbers.md``: one hidden layer of 256,
98.2% on clean digits), so that a codebook can be read on their scale too.
"""

from __future__ import annotations

import torch
from torch import nn

ARCHS = ("cnn", "mlp")


class DigitClassifier(nn.Module):
    """(N, 1, 28, 28) images in [0, 1] -> (N, 10) logits. ``width``: the CNN's first conv
    channels, or the MLP's hidden units; ``body[:-1]`` is the feature layer either way."""

    def __init__(self, width: int = 32, arch: str = "cnn") -> None:
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"unknown classifier arch {arch!r} (known: {', '.join(ARCHS)})")
        self.width, self.arch = width, arch
        if arch == "mlp":
            self.body = nn.Sequential(
                nn.Flatten(), nn.Linear(28 * 28, width), nn.ReLU(inplace=True), nn.Linear(width, 10)
            )
            return
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * width * 7 * 7, 128),
            nn.ReLU(inplace=True),
            nn.Linear(128, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
