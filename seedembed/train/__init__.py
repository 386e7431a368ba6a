"""GAN training on PRF latents: schedules, the loop, checkpoints, multi-process runs.

    >>> from seedembed.train import TrainConfig, RunOptions, train_gan
    >>> train_gan(TrainConfig(epochs=1), "runs/mnist", options=RunOptions(max_steps=10))

The same call runs under ``torchrun --nproc_per_node N`` (one process per GPU or CPU worker).
"""

from seedembed.train.checkpoint import read_checkpoint, read_model
from seedembed.train.config import SCHEDULES, RunOptions, TrainConfig
from seedembed.train.loop import TrainResult, data_order, steps_per_epoch, train_gan
from seedembed.train.schedules import LatentSampler
from seedembed.train.step import GanNets, gan_step

__all__ = [
    "SCHEDULES",
    "GanNets",
    "LatentSampler",
    "RunOptions",
    "TrainConfig",
    "TrainResult",
    "data_order",
    "gan_step",
    "read_checkpoint",
    "read_model",
    "steps_per_epoch",
    "train_gan",
]
