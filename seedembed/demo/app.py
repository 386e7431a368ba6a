"""What the demo page can ask: encode an image, decode a .seed file, render seeds.

Every request is a JSON object and every answer one too; bad input of any kind becomes
``{"error": "one line"}`` (:class:`DemoError` carries the HTTP status), never a traceback, so
the server keeps serving. Images travel as data URLs (what a canvas or a FileReader gives).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import threading
import time
import warnings

import numpy as np
import torch
from PIL import Image

from seedembed import zoo
from seedembed.codec import Encoding, find_model, load
from seedembed.codec.images import image_from_bytes, tensor_to_pil
from seedembed.errors import SeedembedError
from seedembed.metrics import psnr, ssim
from seedembed.search import STRATEGIES

#: largest upload accepted (bytes, after base64 decoding)
MAX_UPLOAD = 8 * 2**20
#: most seeds one explorer request renders, and most images a decoded file may hold
MAX_STRIP = 64
#: largest .seed file the page decodes (64 images with long names fit many times over)
MAX_SEEDFILE = 2**20


class DemoError(Exception):
    """Bad input from the page: shown on it as one line."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def data_url(image: torch.Tensor, scale: int = 1) -> str:
    """(C, H, W) in [0, 1] -> a PNG data URL (nearest-neighbour enlarged ``scale`` times)."""
    im = tensor_to_pil(image)
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _payload(text: object, what: str) -> bytes:
    """The bytes of a data URL or plain base64 string."""
    if not isinstance(text, str) or not text:
        raise DemoError(f"no {what} given")
    if text.startswith("data:"):
        text = text.split(",", 1)[-1]
    if len(text) > MAX_UPLOAD * 4 // 3 + 16:
        raise DemoError(f"the {what} is larger than {MAX_UPLOAD // 2**20} MB", 413)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DemoError(f"the {what} is not valid base64") from None


def mnist_style(image: torch.Tensor) -> torch.Tensor:
    """Centre a drawn grey digit as MNIST does: its bounding box scaled into 20x20, placed in
    28x28 with its centre of mass at the centre. An empty drawing stays as it is."""
    x = image[0]
    ys, xs = torch.nonzero(x > 0.1, as_tuple=True)
    if len(ys) == 0:
        return image
    crop = x[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    s = 20 / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    im = Image.fromarray((crop.numpy() * 255).astype(np.uint8)).resize(
        size, Image.Resampling.LANCZOS
    )
    small = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255)
    total = small.sum().clamp_min(1e-6)
    cy = (small.sum(1) * torch.arange(small.shape[0])).sum() / total
    cx = (small.sum(0) * torch.arange(small.shape[1])).sum() / total
    top = int(round(13.5 - cy.item()))
    left = int(round(13.5 - cx.item()))
    top = min(max(top, 0), 28 - small.shape[0])
    left = min(max(left, 0), 28 - small.shape[1])
    out = torch.zeros(1, 28, 28)
    out[0, top : top + small.shape[0], left : left + small.shape[1]] = small
    return out


#: codebooks the demo may build inside a request (MNIST's 1.8 GiB takes a minute or two)
MAX_REQUEST_CODEBOOK = 4 * 2**30


def _needs_cached_codebook(codec) -> None:
    """Refuse the exact search when it would first build a codebook too big for one request
    (a 64x64 model's is 24 GiB and 9 minutes), holding the demo's lock all that time."""
    from seedembed.search import codebook_status
    from seedembed.search.codebook import codebook_bytes

    size = codebook_bytes(codec.prf.size, math.prod(codec.geometry))
    if size > MAX_REQUEST_CODEBOOK and not codebook_status(codec.fingerprint).ok:
        raise DemoError(
            f"the exact image search of {codec.name} needs its {size / 2**30:.1f} GiB codebook: "
            f"build it first with `seedembed cache build --model {codec.name}`"
            + (", or choose the hybrid search" if codec.inverse is not None else "")
        )


class DemoApp:
    """The demo's API over shipped models (loaded on first use, then kept)."""

    def __init__(self, default_model: str = "mnist-524287", device: str = "cpu") -> None:
        self.default_model = default_model
        self.device = device
        self._codecs: dict = {}
        self._lock = threading.RLock()  # one request's work at a time: the CPU is shared

    def codec(self, name: object):
        if not isinstance(name, str) or name not in self.models_available():
            raise DemoError(f"unknown model {name!r}")
        with self._lock:
            if name not in self._codecs:
                self._codecs[name] = load(name, device=self.device)
            return self._codecs[name]

    @staticmethod
    def models_available() -> list[str]:
        return [n for n in zoo.available() if n != zoo.CLASSIFIER]

    # -- endpoints ------------------------------------------------------------------------------
    def models(self) -> dict:
        out = []
        for name in self.models_available():
            codec = self.codec(name)
            out.append(
                {
                    "name": name,
                    "prf": codec.prf.spec,
                    "seeds": codec.prf.size,
                    "bits": codec.prf.stored_bits,
                    "geometry": list(codec.geometry),
                    "searches": list(STRATEGIES) if codec.inverse is not None else ["image"],
                    "default_search": codec.default_search(),
                    "compose": codec.inverse is not None,
                }
            )
        return {"models": out, "default": self.default_model}

    def encode(self, req: dict) -> dict:
        codec = self.codec(req.get("model", self.default_model))
        data = _payload(req.get("image"), "image")
        # under the lock: the warnings machinery (resize notes, the pixel limit) is per process
        with self._lock, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                x = image_from_bytes(data, codec.geometry, "the upload")
            except SeedembedError as exc:
                raise DemoError(str(exc)) from None
        notes = [str(w.message) for w in caught]
        if req.get("centre") and codec.geometry[0] == 1:
            x = mnist_style(x)
            notes.append("centred as MNIST digits are (20x20 box, centre of mass)")
        search = req.get("search") or None
        compose = req.get("compose")
        kw: dict = {}
        if compose is not None:
            if not isinstance(compose, int) or isinstance(compose, bool) or compose < 1:
                raise DemoError(f"compose must be an integer >= 1, got {compose!r}")
            kw = {"compose": compose, "image_aware": bool(req.get("image_aware"))}
            search = None
        if not kw and (search or codec.default_search()) == "image":
            _needs_cached_codebook(codec)
        with self._lock:
            t0 = time.perf_counter()
            try:
                enc = codec.encode(x[None], search, names=["upload.png"], **kw)
            except SeedembedError as exc:
                raise DemoError(str(exc)) from None
            ms = 1000 * (time.perf_counter() - t0)
            recon = codec.decode(enc)
        digits = (enc.bits_per_seed + 3) // 4
        seeds = [int(s) for s in enc.seeds[0]]
        weights = enc.weights[0].tolist() if enc.weighted else None
        return {
            "model": codec.name,
            "search": enc.strategy,
            "seeds": seeds,
            "hex": [f"{s:#0{digits + 2}x}" for s in seeds],
            "weights": weights,
            "bits": enc.bits,
            "psnr": float(psnr(x[None], recon)[0]),
            "ssim": float(ssim(x[None], recon)[0]),
            "encode_ms": ms,
            "input": data_url(x, 8 if x.shape[-1] <= 32 else 4),
            "reconstruction": data_url(recon[0], 8 if x.shape[-1] <= 32 else 4),
            "seedfile": base64.b64encode(enc.to_bytes()).decode(),
            "notes": notes,
        }

    def decode(self, req: dict) -> dict:
        data = _payload(req.get("seedfile"), ".seed file")
        if len(data) > MAX_SEEDFILE:
            raise DemoError(
                f"the page decodes .seed files up to {MAX_SEEDFILE // 2**10} KB; use "
                "`seedembed decode` for larger ones",
                413,
            )
        try:
            enc = Encoding.from_bytes(data)
        except SeedembedError as exc:
            raise DemoError(str(exc)) from None
        name = find_model(enc.fingerprint)
        if name is None:
            raise DemoError(
                f"this .seed file was made with model {enc.fingerprint[:12]}..., which is not a "
                "shipped model here"
            )
        if enc.n_images > MAX_STRIP:
            raise DemoError(f"the page shows at most {MAX_STRIP} images; this file has "
                            f"{enc.n_images} (use `seedembed decode`)")  # fmt: skip
        codec = self.codec(name)
        with self._lock:
            try:
                images = codec.decode(enc)
            except SeedembedError as exc:
                raise DemoError(str(exc)) from None
        scale = 8 if codec.geometry[-1] <= 32 else 4
        return {
            "model": name,
            "count": enc.n_images,
            "bits": enc.bits,
            "names": enc.names,
            "images": [data_url(im, scale) for im in images],
        }

    def seeds(self, req: dict) -> dict:
        """The images of ``count`` consecutive seeds from ``start`` (the seed explorer)."""
        codec = self.codec(req.get("model", self.default_model))
        start, count = req.get("start", 0), req.get("count", 1)
        for name, v in (("start", start), ("count", count)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise DemoError(f"{name} must be an integer, got {v!r}")
        size = codec.prf.size
        if not 1 <= count <= MAX_STRIP:
            raise DemoError(f"count must be in [1, {MAX_STRIP}]")
        if start < 0 or (size is not None and start >= size):
            raise DemoError(f"seed {start} is outside the seed space [0, {size})")
        stop = start + count if size is None else min(size, start + count)
        seeds = list(range(start, stop))
        with self._lock:
            images = codec.decode(torch.tensor(seeds))
        scale = 4 if codec.geometry[-1] <= 32 else 2
        return {
            "model": codec.name,
            "seeds": seeds,
            "size": size,
            "images": [data_url(im, scale) for im in images],
        }
