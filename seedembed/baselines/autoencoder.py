"""Convolutional autoencoders with a d-dimensional latent: the thesis' AE(7), AE(14), AE(28).

Architecture (width w = 16 by default)::

    encoder  1x28x28 -conv4/2-> w x14x14 -ReLU-conv4/2-> 2w x7x7 -ReLU-flatten-linear-> d
    decoder  d -linear-ReLU-> 2w x7x7 -convT4/2-ReLU-> w x14x14 -convT4/2-sigmoid-> 1x28x28

(ReLU is LeakyReLU(0.2)), trained with Adam and a one-cycle learning rate on the MSE of [0, 1]
pixels. Measured on one CPU thread (ae14, MNIST test MSE[0,1]): width 16 for 15 epochs 0.0092
(about 150 s) beats width 32 for 5 epochs (0.0111, 110 s) and width 24 for 12 epochs (0.0095,
220 s); a linear output clamped to [0, 1] instead of the sigmoid gave 0.0099.

The stored payload is the latent: float32 (``aeD``, 32 d bits per image) or quantised to 8 bits
per dimension (``aeD-q8``, 8 d bits): 256 uniform levels between the per-dimension min and max
of the training set's latents. Those 2 d floats are side information fixed at training time and
shared by every image (they ship with the weights, like the decoder itself); they are not part
of any image's payload.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from seedembed.baselines import Baseline
from seedembed.errors import ModelError

#: training settings of the cached autoencoders (recorded in each artefact's JSON)
DEFAULTS: dict[str, Any] = {
    "width": 16,
    "epochs": 15,
    "batch_size": 128,
    "lr": 3e-3,
    "schedule": "one-cycle (15% warm-up, cosine decay)",
    "loss": "MSE on [0, 1] pixels",
    "optimizer": "Adam",
    "seed": 0,
}
LEVELS = 256


class ConvAutoencoder(nn.Module):
    """(N, C, S, S) in [0, 1] -> d latents -> (N, C, S, S) in (0, 1).

    MNIST (1x28x28): two stride-2 stages down to 2w x 7 x 7, as above. Anime faces (3x64x64):
    four stages (w, 2w, 4w, 8w channels) down to 8w x 4 x 4, mirrored by the decoder.
    """

    def __init__(
        self, latent_dim: int, width: int = 16, channels: int = 1, image_size: int = 28
    ) -> None:
        super().__init__()
        if image_size == 28:
            widths, final = [width, 2 * width], 7
        elif image_size == 64:
            widths, final = [width, 2 * width, 4 * width, 8 * width], 4
        else:
            raise ModelError(f"autoencoders are built for 28x28 or 64x64 images, not {image_size}")
        self.latent_dim, self.width = latent_dim, width
        self.channels, self.image_size = channels, image_size
        flat = widths[-1] * final * final
        down: list[nn.Module] = []
        for c_in, c_out in zip([channels, *widths[:-1]], widths, strict=True):
            down += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        self.encoder = nn.Sequential(*down, nn.Flatten(), nn.Linear(flat, latent_dim))
        up: list[nn.Module] = [
            nn.Linear(latent_dim, flat),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Unflatten(1, (widths[-1], final, final)),
        ]
        for c_in, c_out in zip(widths[::-1], [*widths[::-1][1:], channels], strict=True):
            up += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        self.decoder = nn.Sequential(*up[:-1], nn.Sigmoid())
        # MNIST starts from a dark image (sigmoid(-2) = 0.12, about the mean MNIST pixel): from
        # 0.5 the first steps drive the sigmoid into saturation, and small runs stay stuck at
        # black; the faces' mean pixel is about 0.5, where the sigmoid starts anyway
        nn.init.constant_(self.decoder[-2].bias, -2.0 if channels == 1 else 0.0)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


@torch.no_grad()
def latents(net: ConvAutoencoder, images: torch.Tensor, chunk: int = 2000) -> torch.Tensor:
    net.eval()
    return torch.cat([net.encode(b) for b in images.split(chunk)])


def train_autoencoder(
    images: torch.Tensor,
    latent_dim: int,
    *,
    progress: Callable[[str], Any] | None = None,
    device: torch.device | str = "cpu",
    **settings: Any,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Train on (N, C, S, S) float images in [0, 1] (MNIST digits or anime faces); returns the
    artefact's tensors (on the CPU: weights under ``net/``, the quantiser's
    ``latent_min``/``latent_max``) and its JSON details. ``device`` only changes where it runs
    (a 64x64 autoencoder takes about 20 minutes on a 2-core CPU, seconds on a GPU)."""
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise ModelError(f"unknown autoencoder settings: {', '.join(sorted(unknown))}")
    cfg = {**DEFAULTS, **settings}
    epochs, batch, lr = int(cfg["epochs"]), int(cfg["batch_size"]), float(cfg["lr"])
    if epochs < 1 or batch < 1 or not lr > 0:
        raise ModelError(f"autoencoder training needs epochs, batch_size >= 1 and lr > 0: {cfg}")
    _, channels, size, _ = images.shape
    dev = torch.device(device)
    with torch.random.fork_rng(devices=[]):  # the seed fixes the weights, not the caller's RNG
        torch.default_generator.manual_seed(int(cfg["seed"]))
        net = ConvAutoencoder(latent_dim, int(cfg["width"]), channels, size).to(dev)
    images = images.to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps_per_epoch = -(-len(images) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.15
    )
    gen = torch.Generator().manual_seed(int(cfg["seed"]))
    history = []
    for epoch in range(epochs):
        net.train()
        total = 0.0
        for idx in torch.randperm(len(images), generator=gen).split(batch):
            x = images[idx.to(dev)]
            loss = nn.functional.mse_loss(net(x), x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        history.append(round(total / len(images), 6))
        if progress is not None:
            progress(f"ae{latent_dim} epoch {epoch + 1}/{epochs}: train MSE {history[-1]:.5f}")
    z = latents(net, images)
    tensors = {f"net/{k}": v.cpu() for k, v in net.state_dict().items()}
    tensors["latent_min"], tensors["latent_max"] = z.min(0).values.cpu(), z.max(0).values.cpu()
    details = {
        "latent_dim": latent_dim,
        "channels": channels,
        "image_size": size,
        "bits_float32": 32 * latent_dim,
        "bits_q8": 8 * latent_dim,
        "settings": cfg,
        "train_mse_per_epoch": history,
        "parameters": sum(p.numel() for p in net.parameters()),
    }
    return tensors, details


class AutoencoderBaseline(Baseline):
    """``aeD``: the payload is the float32 latent, 32 d bits per image."""

    def __init__(self, name: str, net: ConvAutoencoder, info: dict[str, Any] | None = None):
        self.name, self.net, self.info = name, net.eval().requires_grad_(False), info or {}
        self.bits = float(32 * net.latent_dim)
        self.shape = (net.channels, net.image_size, net.image_size)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.net.encode(images.float())

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.net.decode(codes.float())


class QuantisedAutoencoderBaseline(AutoencoderBaseline):
    """``aeD-q8``: each latent dimension as one byte, 8 d bits per image.

    Level q in 0..255 stands for ``lo + q (hi - lo) / 255``; ``lo``/``hi`` are the per-dimension
    min/max of the training set's latents, stored with the weights. They are side information
    shared by all images (2 d float32 for the whole codec), not per-image bits; latents outside
    [lo, hi] are clamped.
    """

    def __init__(
        self,
        name: str,
        net: ConvAutoencoder,
        lo: torch.Tensor,
        hi: torch.Tensor,
        info: dict[str, Any] | None = None,
    ):
        super().__init__(name, net, info)
        self.bits = float(8 * net.latent_dim)
        self.lo = lo.float()
        span = hi.float() - self.lo
        self.step = torch.where(span > 0, span / (LEVELS - 1), torch.ones_like(span))

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        z = super().encode(images)
        q = torch.round((z - self.lo) / self.step).clamp_(0, LEVELS - 1)
        return q.to(torch.uint8)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return super().decode(self.lo + codes.float() * self.step)


def from_artefact(
    name: str, tensors: dict[str, torch.Tensor], info: dict[str, Any], *, quantised: bool
) -> AutoencoderBaseline:
    """The baseline ``name`` from a cached autoencoder artefact."""
    try:
        net = ConvAutoencoder(
            int(info["latent_dim"]),
            int(info["settings"]["width"]),
            int(info.get("channels", 1)),  # records older than the anime faces are MNIST's
            int(info.get("image_size", 28)),
        )
        net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net/")})
        lo, hi = tensors["latent_min"], tensors["latent_max"]
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"the cached autoencoder of {name} does not fit: {first}") from None
    if quantised:
        return QuantisedAutoencoderBaseline(name, net, lo, hi, info)
    return AutoencoderBaseline(name, net, info)
