"""The codec: a loaded model (generator, PRF, inverse generator, fingerprint), encode, decode.

One image's path: ``encode`` converts it to the model's geometry in [0, 1], rescales to the
generator's [-1, 1], runs the inverse generator for a latent guess where the strategy needs it,
and asks :func:`seedembed.search.find_seeds` for the seed; ``decode`` runs the generator on the
PRF sequence of each seed and rescales to [0, 1].
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch

from seedembed import zoo
from seedembed.codec.encoding import Encoding
from seedembed.codec.images import ImagesLike, as_batch
from seedembed.compose import ComposeSettings, compose_images, composed_latents
from seedembed.compose.project import project_latents
from seedembed.errors import FormatError, SeedembedError
from seedembed.search.codebook import exact_fp32
from seedembed.search.strategies import NEEDS_LATENTS, STRATEGIES
from seedembed.train.inverse import INVERSE


@dataclass
class Codec:
    """A model ready to encode images to seeds and decode seeds to images."""

    loaded: zoo.LoadedGenerator
    inverse: torch.nn.Module | None
    device: torch.device

    @property
    def name(self) -> str:
        return self.loaded.path.name

    @property
    def prf(self):
        return self.loaded.prf

    @property
    def fingerprint(self) -> str:
        return self.loaded.fingerprint

    @property
    def generator(self) -> torch.nn.Module:
        return self.loaded.generator

    @property
    def geometry(self) -> tuple[int, int, int]:
        cfg = self.loaded.model_config
        return (cfg.channels, cfg.image_size, cfg.image_size)

    @property
    def latent_length(self) -> int:
        return self.loaded.model_config.latent_length

    # -- encode ---------------------------------------------------------------------------------
    def default_search(self, cache_dir: str | os.PathLike | None = None) -> str:
        """``image`` when the codebook is cached (or no inverse generator exists), else ``hybrid``:
        a first encode on a fresh install answers in seconds instead of building the codebook."""
        from seedembed.search import codebook_status

        if self.inverse is None or codebook_status(self.fingerprint, cache_dir).ok:
            return "image"
        return "hybrid"

    @torch.no_grad()
    def latents(self, images: ImagesLike) -> torch.Tensor:
        """The inverse generator's latent guess (N, L) for images in [0, 1]."""
        if self.inverse is None:
            raise SeedembedError(f"model {self.name} has no inverse generator")
        x = as_batch(images, self.geometry).to(self.device) * 2 - 1
        return torch.cat([self.inverse(b).float() for b in x.split(1024)]).cpu()

    def encode(
        self,
        images: ImagesLike,
        search: str | None = None,
        *,
        names: list[str] | None = None,
        eps: int = 2000,
        topk: int = 64,
        cache_dir: str | os.PathLike | None = None,
        progress: bool = False,
        compose: int | ComposeSettings | None = None,
        weight_bits: int = 8,
        compose_method: str = "mp",
        image_aware: bool = False,
        latents: torch.Tensor | None = None,
    ) -> Encoding:
        """Seeds of images (a float tensor (N, C, H, W) in [0, 1] or PIL images).

        ``compose=n`` stores each image as n weighted seeds instead of one (noise composition,
        :mod:`seedembed.compose`): ``weight_bits`` per weight plus a float16 scale per image;
        ``compose_method`` is ``mp`` or ``omp``; ``image_aware`` projects the target latent and
        fits the weights in image space. A :class:`ComposeSettings` sets every knob.
        ``latents`` (N, L) replace the inverse generator's guess that a composition starts from
        (e.g. :meth:`project`'s, computed once for several rates).
        """
        from seedembed.search import find_seeds

        t0 = time.perf_counter()
        x = as_batch(images, self.geometry)
        if names is not None and len(names) != len(x):
            raise SeedembedError(f"{len(names)} names for {len(x)} images")
        if compose is not None:
            if search is not None:
                raise SeedembedError("compose and search exclude each other: pick one")
            if not isinstance(compose, ComposeSettings):
                make = ComposeSettings.image_aware if image_aware else ComposeSettings
                compose = make(compose, weight_bits, compose_method)
            return self._encode_composed(x, compose, names, t0, latents)
        strategy = search or self.default_search(cache_dir)
        if strategy not in STRATEGIES:
            raise SeedembedError(f"unknown search {strategy!r} (known: {', '.join(STRATEGIES)})")
        latents = self.latents(x) if strategy in NEEDS_LATENTS else None
        result = find_seeds(
            x * 2 - 1,
            generator=self.generator,
            prf=self.prf,
            strategy=strategy,
            latents=latents,
            fingerprint=self.fingerprint,
            eps=eps,
            topk=topk,
            cache_dir=cache_dir,
            device=self.device,
            progress=progress,
        )
        return Encoding(
            seeds=result.seeds.cpu(),
            fingerprint=self.fingerprint,
            prf_spec=self.prf.spec,
            geometry=self.geometry,
            bits_per_seed=self.prf.stored_bits,
            names=names,
            strategy=strategy,
            image_mse=result.image_mse,
            seconds=time.perf_counter() - t0,
        )

    def project(self, images: ImagesLike, steps: int = 200) -> torch.Tensor:
        """Latents (N, L) whose images best match ``images``: the inverse generator's guess,
        refined by ``steps`` Adam steps on the image error (GAN inversion)."""
        x = as_batch(images, self.geometry)
        start = self.latents(x)
        with exact_fp32():
            z = project_latents(self.generator, x.to(self.device) * 2 - 1, start, steps=steps)
        return z.cpu()

    def _encode_composed(
        self,
        x: torch.Tensor,
        settings: ComposeSettings,
        names: list[str] | None,
        t0: float,
        latents: torch.Tensor | None,
    ) -> Encoding:
        if latents is None:
            latents = self.latents(x)
        elif not isinstance(latents, torch.Tensor) or tuple(latents.shape) != (
            len(x),
            self.latent_length,
        ):
            raise SeedembedError(f"latents must be a tensor ({len(x)}, {self.latent_length})")
        comp = compose_images(
            x * 2 - 1, latents, self.generator, self.prf, settings, device=self.device
        )
        enc = Encoding(
            seeds=comp.seeds,
            fingerprint=self.fingerprint,
            prf_spec=self.prf.spec,
            geometry=self.geometry,
            bits_per_seed=self.prf.stored_bits,
            names=names,
            codes=comp.codes,
            scales=comp.scales,
            weight_bits=comp.weight_bits,
            strategy=settings.name,
        )
        enc.image_mse = (self.decode(enc) - x).square().flatten(1).mean(1) * 4
        enc.seconds = time.perf_counter() - t0
        return enc

    # -- decode ---------------------------------------------------------------------------------
    def check(self, enc: Encoding) -> None:
        """Refuse an encoding made with another model (never a silently wrong decode)."""
        if enc.fingerprint != self.fingerprint:
            raise FormatError(
                f"these seeds were encoded with model {enc.fingerprint[:12]}, not with "
                f"{self.name} ({self.fingerprint[:12]})"
            )
        if enc.prf_spec != self.prf.spec or tuple(enc.geometry) != self.geometry:
            raise FormatError("the encoding's PRF or geometry does not match the model")
        if enc.seeds.shape[1] != 1 and not enc.weighted:
            raise FormatError(f"{enc.seeds.shape[1]} seeds per image need weights to decode")

    @torch.no_grad()
    def decode(self, enc_or_seeds: Encoding | torch.Tensor | list[int]) -> torch.Tensor:
        """Images (N, C, H, W) in [0, 1] of an :class:`Encoding` or of plain seeds."""
        if isinstance(enc_or_seeds, Encoding):
            self.check(enc_or_seeds)
            if enc_or_seeds.weighted:
                return self.render(self.composed_latents(enc_or_seeds))
            seeds = enc_or_seeds.seeds[:, 0]
        else:
            seeds = torch.as_tensor(enc_or_seeds)
            if seeds.ndim == 2 and seeds.shape[1] == 1:
                seeds = seeds[:, 0]
            if seeds.ndim != 1:
                shape = tuple(seeds.shape)
                raise SeedembedError(f"seeds must have shape (N,) or (N, 1), got {shape}")
        try:
            z = self.prf.sequences(seeds, self.latent_length)
        except SeedembedError as exc:
            raise FormatError(f"cannot decode: {exc}") from None
        return self.render(z)

    def composed_latents(self, enc: Encoding) -> torch.Tensor:
        """The latents (N, L) of weighted seeds: float64 arithmetic, the same on every machine."""
        self.check(enc)
        try:
            return composed_latents(self.prf, enc.seeds, enc.weights, self.latent_length)
        except SeedembedError as exc:
            raise FormatError(f"cannot decode: {exc}") from None

    @torch.no_grad()
    def render(self, latents: torch.Tensor) -> torch.Tensor:
        """Images (N, C, H, W) in [0, 1] of latents (N, L)."""
        out = [self.generator(b.to(self.device)).float().cpu() for b in latents.split(1024)]
        images = torch.cat(out) if out else torch.zeros((0, *self.geometry))
        return ((images + 1) / 2).clamp_(0, 1)


def load(
    name_or_path: str | os.PathLike = "mnist-524287",
    *,
    device: torch.device | str = "cpu",
    key: bytes | None = None,
) -> Codec:
    """A shipped model by name (``mnist-524287``, ...) or a model folder, ready to code."""
    device = torch.device(device)
    loaded = zoo.load_generator(name_or_path, device=device, key=key)
    inverse = None
    if (loaded.path / INVERSE).is_file():  # a model may ship without one
        inverse = zoo.load_inverse(loaded.path, device=device, fingerprint=loaded.fingerprint)
    return Codec(loaded, inverse, device)


def find_model(fingerprint: str) -> str | None:
    """The shipped model whose fingerprint this is, if any."""
    for name in zoo.available():
        recorded = zoo.recorded_fingerprint(name)  # cheap; loading verifies it anyway
        if recorded is not None:
            if recorded == fingerprint:
                return name
        elif name != zoo.CLASSIFIER and zoo.load_generator(name).fingerprint == fingerprint:
            return name
    return None
