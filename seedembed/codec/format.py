"""The ``.seed`` file: a header naming the model, then the seeds bit-packed, then a CRC-32.

Layout (all integers big-endian; docs/format.md is the specification):

    magic "SEEDEMB1"(8) | version u16 | flags u16 | fingerprint (32 raw bytes)
    | spec_len u16 | PRF spec (UTF-8) | channels u8 | height u16 | width u16
    | count u32 | seeds_per_image u8 | bits_per_seed u8 | weight_bits u8
    | names_len u32 | names (UTF-8, "\n"-joined; present when flags bit 1)
    | payload, image by image, MSB first, zero-padded to a byte once at the end:
    |   seeds_per_image seeds of bits_per_seed bits
    |   [version 2, flags bit 0 (weighted): a float16 scale (16 bits), then seeds_per_image
    |    weight codes of weight_bits bits, stored as code + 2^(weight_bits-1) - 1]
    | crc32 u32 of every byte before it

Version 1 files hold plain seeds; version 2 is written only for weighted seeds (noise
composition), so unweighted files stay readable by version 1 readers.

Parsing checks every length against the bytes actually present before allocating, so a hostile
header (a count of 2^32, a huge geometry) costs nothing; any inconsistency is a FormatError.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from seedembed.errors import FormatError

MAGIC = b"SEEDEMB1"
VERSION = 1
#: the version of files with weighted seeds (noise composition)
VERSION_WEIGHTED = 2
VERSIONS = (VERSION, VERSION_WEIGHTED)
FLAG_WEIGHTED = 1 << 0
FLAG_NAMES = 1 << 1
KNOWN_FLAGS = FLAG_WEIGHTED | FLAG_NAMES
SCALE_BITS = 16
MAX_WEIGHT_BITS = 16
MAX_SPEC = 1024
MAX_NAMES = 16 * 2**20

_HEAD = struct.Struct(">8sHH32s")
_GEOM = struct.Struct(">BHHIBBBI")


@dataclass(frozen=True)
class SeedFile:
    """The decoded contents of a .seed file."""

    fingerprint: str  # hex sha256 of the model
    prf_spec: str
    geometry: tuple[int, int, int]  # (channels, height, width)
    seeds: np.ndarray  # uint64/int64 (count, seeds_per_image)
    bits_per_seed: int
    names: list[str] | None = None
    #: weighted seeds: float16 scales (count,) and signed integer codes (count, seeds_per_image)
    scales: np.ndarray | None = None
    codes: np.ndarray | None = None
    weight_bits: int = 0


def pack_bits(values: np.ndarray, bits: int) -> bytes:
    """Values (< 2^bits) -> bytes, each value MSB first, the whole stream zero-padded."""
    v = np.ascontiguousarray(values, dtype=np.uint64).reshape(-1, 1)
    return np.packbits(_bit_columns(v, bits).reshape(-1)).tobytes()


def unpack_bits(data: bytes, count: int, bits: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: ``count`` values of ``bits`` bits as uint64."""
    return _unpack_rows(data, count, [(bits, 1)])[0][:, 0]


#: rows unpacked at a time: bounds the parser's scratch memory (~9 bytes per bit of a block)
ROW_BLOCK = 1 << 16


def _unpack_rows(data: bytes, count: int, groups: list[tuple[int, int]]) -> list[np.ndarray]:
    """``count`` rows, each made of groups of (field width in bits, fields), MSB first.

    Returns one uint64 array (count, fields) per group. The bits are unpacked a block of rows at
    a time, so scratch memory stays bounded whatever the file claims.
    """
    width = sum(w * k for w, k in groups)
    out = [np.empty((count, k), dtype=np.uint64) for _, k in groups]
    buf = np.frombuffer(data, dtype=np.uint8)
    for r0 in range(0, count, ROW_BLOCK):
        r1 = min(count, r0 + ROW_BLOCK)
        start, stop = r0 * width, r1 * width
        bits = np.unpackbits(buf[start // 8 : -(-stop // 8)])
        bits = bits[start % 8 : start % 8 + (stop - start)].reshape(r1 - r0, width)
        col = 0
        for arr, (w, k) in zip(out, groups, strict=True):
            block = bits[:, col : col + w * k].reshape(r1 - r0, k, w)
            value = np.zeros((r1 - r0, k), dtype=np.uint64)
            for b in range(w):  # most significant bit first
                value = (value << np.uint64(1)) | block[:, :, b].astype(np.uint64)
            arr[r0:r1] = value
            col += w * k
    return out


def _bit_columns(values: np.ndarray, bits: int) -> np.ndarray:
    """(N, c) values -> (N, c * bits) bits, each value MSB first."""
    v = np.ascontiguousarray(values, dtype=np.uint64)
    shifts = np.arange(bits - 1, -1, -1, dtype=np.uint64)
    return (
        ((v[:, :, None] >> shifts) & np.uint64(1))
        .astype(np.uint8)
        .reshape(len(v), -1 if len(v) else v.shape[1] * bits)
    )


def image_bits(seeds_per_image: int, bits: int, weight_bits: int = 0) -> int:
    """Payload bits of one image: its seeds, plus a scale and codes when weighted."""
    extra = SCALE_BITS + seeds_per_image * weight_bits if weight_bits else 0
    return seeds_per_image * bits + extra


def payload_bytes(count: int, seeds_per_image: int, bits: int, weight_bits: int = 0) -> int:
    return math.ceil(count * image_bits(seeds_per_image, bits, weight_bits) / 8)


def _pack_payload(f: SeedFile, seeds: np.ndarray) -> bytes:
    if not f.weight_bits:
        return pack_bits(seeds, f.bits_per_seed)
    top = 2 ** (f.weight_bits - 1) - 1
    scale_bits = np.asarray(f.scales, dtype=np.float16).view(np.uint16).reshape(-1, 1)
    parts = [
        _bit_columns(seeds, f.bits_per_seed),
        _bit_columns(scale_bits, SCALE_BITS),
        _bit_columns(np.asarray(f.codes, dtype=np.int64) + top, f.weight_bits),
    ]
    return np.packbits(np.hstack(parts).reshape(-1)).tobytes()


def _unpack_payload(data: bytes, count: int, per_image: int, bits: int, weight_bits: int):
    """(seeds, scales, codes) of a payload; scales and codes are None when unweighted."""
    used = count * image_bits(per_image, bits, weight_bits)
    if used % 8 and data[-1] & ((1 << (8 - used % 8)) - 1):
        raise FormatError(".seed payload padding bits are not zero")
    if not weight_bits:
        (seeds,) = _unpack_rows(data, count, [(bits, per_image)])
        return seeds, None, None
    groups = [(bits, per_image), (SCALE_BITS, 1), (weight_bits, per_image)]
    seeds, scale_u, stored = _unpack_rows(data, count, groups)
    scales = scale_u[:, 0].astype(np.uint16).view(np.float16)
    stored = stored.astype(np.int64)
    top = 2 ** (weight_bits - 1) - 1
    if stored.size and int(stored.max()) > 2 * top:
        raise FormatError(f".seed weight code beyond the {weight_bits}-bit range")
    if scales.size and not (np.isfinite(scales).all() and (scales >= 0).all()):
        raise FormatError(".seed weight scale is negative, infinite or NaN")
    return seeds, scales, stored - top


def dumps(f: SeedFile) -> bytes:
    """Serialise a :class:`SeedFile`."""
    seeds = np.asarray(f.seeds)
    if seeds.ndim != 2:
        raise FormatError(f"seeds must be (count, seeds_per_image), got shape {seeds.shape}")
    count, per_image = seeds.shape
    if not 1 <= f.bits_per_seed <= 64 or not 1 <= per_image <= 255 or count >= 2**32:
        raise FormatError("bits per seed, seeds per image or image count out of range")
    if count and int(seeds.max()) >= 2**f.bits_per_seed:
        raise FormatError(f"a seed does not fit in {f.bits_per_seed} bits")
    spec = f.prf_spec.encode()
    if len(spec) > MAX_SPEC:
        raise FormatError("PRF spec too long")
    c, h, w = f.geometry
    flags = 0
    version = VERSION
    if f.weight_bits:
        if not 2 <= f.weight_bits <= MAX_WEIGHT_BITS or f.scales is None or f.codes is None:
            raise FormatError("weighted seeds need 2-16 weight bits, scales and codes")
        codes = np.asarray(f.codes)
        top = 2 ** (f.weight_bits - 1) - 1
        if codes.shape != seeds.shape or np.asarray(f.scales).shape != (count,):
            raise FormatError("weight codes and scales do not match the seeds' shape")
        if count and int(np.abs(codes).max()) > top:
            raise FormatError(f"a weight code does not fit in {f.weight_bits} bits")
        scales = np.asarray(f.scales, dtype=np.float16)
        if count and not (np.isfinite(scales).all() and (scales >= 0).all()):
            raise FormatError("weight scales must be finite and not negative")
        flags |= FLAG_WEIGHTED
        version = VERSION_WEIGHTED
    names = b""
    if f.names is not None:
        if len(f.names) != count or any("\n" in n for n in f.names):
            raise FormatError("need one name per image, without newlines")
        names = "\n".join(f.names).encode()
        flags |= FLAG_NAMES
    body = b"".join(
        [
            _HEAD.pack(MAGIC, version, flags, bytes.fromhex(f.fingerprint)),
            struct.pack(">H", len(spec)),
            spec,
            _GEOM.pack(c, h, w, count, per_image, f.bits_per_seed, f.weight_bits, len(names)),
            names,
            _pack_payload(f, seeds),
        ]
    )
    return body + struct.pack(">I", zlib.crc32(body))


def loads(data: bytes) -> SeedFile:
    """Parse a .seed file, checking magic, version, lengths and checksum."""
    if len(data) < _HEAD.size + 2 + _GEOM.size + 4:
        raise FormatError(f"not a .seed file: only {len(data)} bytes")
    magic, version, flags, fp = _HEAD.unpack_from(data, 0)
    if magic != MAGIC:
        raise FormatError("not a .seed file (bad magic)")
    if version not in VERSIONS:
        known = ", ".join(map(str, VERSIONS))
        raise FormatError(f".seed version {version} is not supported (this reader: {known})")
    body, (crc,) = data[:-4], struct.unpack(">I", data[-4:])
    if zlib.crc32(body) != crc:
        raise FormatError(".seed file is corrupted (checksum mismatch)")
    if flags & ~KNOWN_FLAGS:
        raise FormatError(f".seed flags {flags:#x} use features this reader does not know")
    if bool(flags & FLAG_WEIGHTED) != (version == VERSION_WEIGHTED):
        raise FormatError(f".seed version {version} does not match its weighted-seeds flag")
    pos = _HEAD.size
    (spec_len,) = struct.unpack_from(">H", body, pos)
    pos += 2
    if spec_len > MAX_SPEC or pos + spec_len + _GEOM.size > len(body):
        raise FormatError(".seed header is truncated or inconsistent (PRF spec)")
    try:
        spec = body[pos : pos + spec_len].decode()
    except UnicodeDecodeError:
        raise FormatError(".seed PRF spec is not UTF-8") from None
    pos += spec_len
    c, h, w, count, per_image, bits, weight_bits, names_len = _GEOM.unpack_from(body, pos)
    pos += _GEOM.size
    if c not in (1, 3) or h < 1 or w < 1 or per_image < 1 or not 1 <= bits <= 64:
        raise FormatError(".seed header has an invalid geometry, seed count or bit width")
    weighted = bool(flags & FLAG_WEIGHTED)
    if weighted != bool(weight_bits) or (weighted and not 2 <= weight_bits <= MAX_WEIGHT_BITS):
        raise FormatError(".seed weight bits do not match its weighted-seeds flag")
    if names_len > MAX_NAMES or (names_len and not flags & FLAG_NAMES):
        raise FormatError(".seed names block is invalid")
    need = pos + names_len + payload_bytes(count, per_image, bits, weight_bits)
    if need != len(body):
        raise FormatError(
            f".seed file is truncated or has trailing bytes: the header describes {need + 4} "
            f"bytes, the file has {len(data)}"
        )
    names = None
    if flags & FLAG_NAMES:
        try:
            text = body[pos : pos + names_len].decode()
        except UnicodeDecodeError:
            raise FormatError(".seed names are not UTF-8") from None
        names = text.split("\n") if count else []
        if len(names) != count:
            raise FormatError(".seed names do not match the image count")
    pos += names_len
    seeds, scales, codes = _unpack_payload(body[pos:], count, per_image, bits, weight_bits)
    return SeedFile(fp.hex(), spec, (c, h, w), seeds, bits, names, scales, codes, weight_bits)
