"""What a person watching training sees: a tqdm bar, TensorBoard scalars and sample grids.

Only rank 0 reports. Loss values are fetched from the device every ``log_every`` steps, not
every step, so the GPU never waits for the progress bar.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import torch

from seedembed.train.step import STAT_NAMES


class Monitor:
    def __init__(
        self,
        out_dir: Path,
        *,
        enabled: bool,
        total_steps: int,
        start_step: int,
        batch_size: int,
        log_every: int,
        progress: bool,
        tensorboard: bool,
    ) -> None:
        self.enabled = enabled
        self.batch_size = batch_size
        self.log_every = max(1, log_every)
        self.sum: torch.Tensor | None = None
        self.count = 0
        self.last_time = time.perf_counter()
        self.last_step = start_step
        self.images_per_s = 0.0
        self.bar = None
        self.writer = None
        if not enabled:
            return
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total_steps * batch_size,
                initial=start_step * batch_size,
                unit="img",
                unit_scale=True,
                dynamic_ncols=True,
                smoothing=0.1,
            )
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                warnings.warn("tensorboard is not installed: no TensorBoard logs", stacklevel=2)
            else:
                self.writer = SummaryWriter(str(out_dir / "tb"))

    def step(self, step: int, stats: torch.Tensor, epoch: float) -> None:
        """Record one step's stats; every ``log_every`` steps show and log their means."""
        if not self.enabled:
            return
        self.sum = stats.clone() if self.sum is None else self.sum.add_(stats)
        self.count += 1
        if self.bar is not None:
            self.bar.update(self.batch_size)
        if step % self.log_every == 0:
            self.flush(step, epoch)

    def flush(self, step: int, epoch: float) -> None:
        if not self.enabled or self.sum is None or self.count == 0:
            return
        means = (self.sum / self.count).tolist()
        now = time.perf_counter()
        if step > self.last_step:
            self.images_per_s = (step - self.last_step) * self.batch_size / (now - self.last_time)
        self.last_time, self.last_step = now, step
        self.sum, self.count = None, 0
        if self.bar is not None:
            self.bar.set_postfix(
                epoch=f"{epoch:.2f}",
                D=f"{means[0]:.3f}",
                G=f"{means[1]:.3f}",
                refresh=False,
            )
        if self.writer is not None:
            for name, value in zip(STAT_NAMES, means, strict=True):
                self.writer.add_scalar(name, value, step)
            self.writer.add_scalar("perf/images_per_s", self.images_per_s, step)
            self.writer.add_scalar("progress/epoch", epoch, step)

    def image(self, tag: str, grid_chw: torch.Tensor, step: int) -> None:
        if self.writer is not None:
            self.writer.add_image(tag, grid_chw, step)
            self.writer.flush()

    def write(self, text: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()
