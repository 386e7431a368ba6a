"""The .seed file: exact bits, round trips, and hostile bytes that must fail cleanly."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seedembed.codec import Encoding, model_fingerprint
from seedembed.codec import format as fmt
from seedembed.errors import FormatError

FP = "ab" * 32
SPEC = "lcg:a=283471,c=35899,m=524287"


def make(count: int = 3, names: list[str] | None = None, bits: int = 19) -> fmt.SeedFile:
    seeds = (np.arange(count, dtype=np.uint64) * 7919 % (2**bits)).reshape(count, 1)
    return fmt.SeedFile(FP, SPEC, (1, 28, 28), seeds, bits, names)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 64), st.lists(st.integers(0, 2**64 - 1), max_size=40))
def test_bit_packing_round_trip(bits, values):
    v = np.array([x % (2**bits) for x in values], dtype=np.uint64)
    packed = fmt.pack_bits(v, bits)
    assert len(packed) == -(-len(v) * bits // 8)
    assert np.array_equal(fmt.unpack_bits(packed, len(v), bits), v)


def test_bits_are_msb_first_and_exact():
    assert fmt.pack_bits(np.array([1, 2]), 2) == bytes([0b01100000])
    assert fmt.pack_bits(np.array([524286]), 19) == bytes([0xFF, 0xFF, 0xC0])


def test_round_trip_with_and_without_names():
    for names in (None, ["a.png", "b", "c d.png"]):
        f = make(3, names)
        g = fmt.loads(fmt.dumps(f))
        assert g.fingerprint == FP and g.prf_spec == SPEC and g.geometry == (1, 28, 28)
        assert np.array_equal(g.seeds, f.seeds) and g.names == names and g.bits_per_seed == 19
    assert fmt.loads(fmt.dumps(make(0, []))).seeds.shape == (0, 1)


def test_size_of_ten_thousand_digits():
    data = fmt.dumps(make(10_000))
    assert len(data) == 62 + len(SPEC) + 23_750 + 4 == 23_845


def _reseal(body: bytes) -> bytes:
    return body + struct.pack(">I", zlib.crc32(body))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d[:-1], "checksum|truncated"),
        (lambda d: d[:20], "only 20 bytes"),
        (lambda d: b"NOTSEED!" + d[8:], "bad magic"),
        (lambda d: _reseal(d[:8] + b"\x00\x02" + d[10:-4]), "version 2"),
        (lambda d: _reseal(d[:8] + b"\x00\x03" + d[10:-4]), "version 3 is not supported"),
        (lambda d: _reseal(d[:10] + b"\x00\x04" + d[12:-4]), "features this reader"),
        (lambda d: _reseal(d[:10] + b"\x00\x01" + d[12:-4]), "weighted-seeds flag"),
        (lambda d: _reseal(d[:-4] + b"\x00"), "trailing bytes"),
    ],
)
def test_damaged_files(mutate, message):
    with pytest.raises(FormatError, match=message):
        fmt.loads(mutate(fmt.dumps(make(5, ["x"] * 5))))


def test_hostile_header_claims_are_not_allocated():
    body = bytearray(fmt.dumps(make(1))[:-4])
    geom_at = 8 + 2 + 2 + 32 + 2 + len(SPEC)
    struct.pack_into(">I", body, geom_at + 5, 2**32 - 1)  # count
    with pytest.raises(FormatError, match="truncated"):
        fmt.loads(_reseal(bytes(body)))
    body = bytearray(fmt.dumps(make(1))[:-4])
    struct.pack_into(">B", body, geom_at, 2)  # two channels
    with pytest.raises(FormatError, match="invalid geometry"):
        fmt.loads(_reseal(bytes(body)))
    body = bytearray(fmt.dumps(make(1))[:-4])
    struct.pack_into(">HH", body, geom_at + 1, 65535, 65535)  # parsed, never allocated
    assert fmt.loads(_reseal(bytes(body))).geometry == (1, 65535, 65535)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_only_raise_format_errors(data):
    with pytest.raises(FormatError):
        fmt.loads(data)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 7))
def test_every_bit_flip_is_caught(position, bit):
    data = bytearray(fmt.dumps(make(4, ["a", "b", "c", "d"])))
    data[position % len(data)] ^= 1 << bit
    with pytest.raises(FormatError):
        fmt.loads(bytes(data))


def test_encoding_file_round_trip_and_no_overwrite(tmp_path):
    enc = Encoding(torch.tensor([[3], [524286]]), FP, SPEC, (1, 28, 28), 19, ["a", "b"])
    assert enc.bits == 19 and enc.n_images == 2
    path = enc.save(tmp_path / "x.seed")
    assert Encoding.load(path) == enc
    with pytest.raises(FormatError, match="refusing to overwrite"):
        enc.save(path)
    assert Encoding.load(path) == enc  # the saved file survives
    with pytest.raises(FormatError, match="cannot read"):
        Encoding.load(tmp_path / "missing.seed")


def test_fingerprint_covers_weights_architecture_and_prf():
    t = {"w": torch.arange(6, dtype=torch.float32).view(2, 3), "b": torch.zeros(2)}
    base = model_fingerprint(t, {"g_width": 8}, SPEC)
    assert base == model_fingerprint(dict(reversed(t.items())), {"g_width": 8}, SPEC)
    flipped = {**t, "w": t["w"].clone()}
    flipped["w"].view(-1).view(torch.int32)[0] ^= 1  # one bit of one weight
    assert model_fingerprint(flipped, {"g_width": 8}, SPEC) != base
    assert model_fingerprint(t, {"g_width": 16}, SPEC) != base
    assert model_fingerprint(t, {"g_width": 8}, "lcg:a=1733,c=1627,m=5101") != base
    assert len(base) == 64
