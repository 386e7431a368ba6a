"""Keyed cryptographic latents: AES-CTR keystream addressed by seed.

Symbol block j of seed s is AES_k(s || j) (two 64-bit big-endian halves), i.e. exactly the
AES-CTR keystream with initial counter s * 2^64; each 16-byte block gives four uint32 symbols,
normalised as (2u - (2^32 - 1)) / (2^32 - 1). All counter blocks of a call are encrypted in one
AES-ECB call, so a whole table is one vectorised operation. Without the key a seed says nothing
about its sequence (AES is a PRF), which is the thesis' "data security" use of embeddings; see
docs/prf.md for what this does and does not protect.

The key never appears in the spec string (specs are written into .seed files); the spec holds
a 32-bit key id, the first 4 bytes of SHA-256(key), so a wrong key is caught instead of
silently decoding to unrelated latents.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from seedembed.errors import PrfError
from seedembed.prf.base import Prf
from seedembed.prf.iid import _check_bits

_U32_MAX = float(2**32 - 1)


def generate_key(n_bytes: int = 32) -> bytes:
    """A fresh random AES key from the OS (32 bytes: AES-256)."""
    return os.urandom(n_bytes)


def key_id(key: bytes) -> str:
    """Public 8-hex-digit id of a key (first 4 bytes of its SHA-256)."""
    return hashlib.sha256(key).hexdigest()[:8]


def read_key(path: str | Path) -> bytes:
    """Read a key file: 16, 24 or 32 raw bytes, or the same as hex text."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise PrfError(f"cannot read key file {p}: {exc.strerror or exc}") from None
    text = data.strip()
    if len(text) in (32, 48, 64):
        with contextlib.suppress(UnicodeDecodeError, ValueError):
            data = bytes.fromhex(text.decode("ascii"))
    if len(data) not in (16, 24, 32):
        raise PrfError(f"key file {p} must hold 16, 24 or 32 bytes (raw or hex), got {len(data)}")
    return data


class Keyed(Prf):
    """AES-CTR latents under a secret key; seeds live in range(2**bits)."""

    family = "keyed"

    def __init__(self, key: bytes | None, bits: int = 20, kid: str | None = None) -> None:
        self.seed_bits = _check_bits(bits)
        if key is None:
            raise PrfError("the keyed PRF needs a key (--key-file FILE or SEEDEMBED_KEY_FILE)")
        if not isinstance(key, (bytes, bytearray)) or len(key) not in (16, 24, 32):
            raise PrfError("a keyed PRF key must be 16, 24 or 32 bytes")
        self._key = bytes(key)
        if kid is not None and kid != key_id(self._key):
            given = key_id(self._key)
            raise PrfError(f"the key given (id {given}) is not the key {kid} of this spec")

    @property
    def kid(self) -> str:
        return key_id(self._key)

    @property
    def spec(self) -> str:
        return f"keyed:bits={self.seed_bits},kid={self.kid}"

    @property
    def size(self) -> int:
        return 2**self.seed_bits

    def _sequences_f64(self, seeds: np.ndarray, length: int) -> np.ndarray:
        n_blocks = -(-length // 4)
        counters = np.empty((seeds.size, n_blocks, 2), dtype=">u8")
        counters[:, :, 0] = seeds.astype(np.uint64)[:, None]
        counters[:, :, 1] = np.arange(n_blocks, dtype=np.uint64)[None, :]
        encryptor = Cipher(algorithms.AES(self._key), modes.ECB()).encryptor()
        stream = encryptor.update(counters.tobytes()) + encryptor.finalize()
        words = np.frombuffer(stream, dtype=">u4").reshape(seeds.size, n_blocks * 4)[:, :length]
        return (2.0 * words.astype(np.float64) - _U32_MAX) / _U32_MAX

    def __repr__(self) -> str:  # never print the key
        return f"Keyed({self.spec!r})"
