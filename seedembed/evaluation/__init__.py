"""Evaluation: run a method on an image set and measure it (:mod:`.evaluate`), plot
rate-distortion curves from the JSON it writes (:mod:`.plot`), and draw sample sheets
(:mod:`.sheets`)."""

from seedembed.evaluation.evaluate import (
    BaselineMethod,
    CodecMethod,
    Images,
    evaluate,
    load_images,
    make_method,
    strip,
    synthetic_images,
)

__all__ = [
    "BaselineMethod",
    "CodecMethod",
    "Images",
    "evaluate",
    "load_images",
    "make_method",
    "strip",
    "synthetic_images",
]
