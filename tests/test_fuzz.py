"""Fuzzing the .seed parser: hypothesis everywhere, atheris (coverage-guided) where it installs."""

from __future__ import annotations

import re
import resource
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedembed.codec import Encoding
from seedembed.codec import format as fmt
from seedembed.errors import FormatError

HARNESS = Path(__file__).with_name("fuzz_seed_format.py")
RUNS = 200_000


def _weighted(count: int = 3, n: int = 2, k: int = 5) -> bytes:
    seeds = (np.arange(count * n, dtype=np.uint64) * 7919 % 524287).reshape(count, n)
    codes = (np.arange(count * n) % (2 ** (k - 1) - 1)).reshape(count, n)
    scales = np.linspace(0.1, 2.0, count).astype(np.float16)
    f = fmt.SeedFile("cd" * 32, "lcg-524287", (1, 28, 28), seeds, 19,
                     [f"im{i}" for i in range(count)], scales, codes, k)  # fmt: skip
    return fmt.dumps(f)


def _plain(count: int = 3) -> bytes:
    seeds = (np.arange(count, dtype=np.uint64) * 31).reshape(count, 1)
    return fmt.dumps(fmt.SeedFile("cd" * 32, "lcg-524287", (1, 28, 28), seeds, 19))


def _reseal(body: bytes) -> bytes:
    return body + struct.pack(">I", zlib.crc32(body))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([_weighted(), _plain()]), st.data())
def test_resealed_mutations_only_raise_format_errors(valid, data):
    """Random byte edits, truncations and insertions behind a valid checksum."""
    body = bytearray(valid[:-4])
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["set", "cut", "insert"]))
        pos = data.draw(st.integers(0, max(0, len(body) - 1)))
        if op == "set" and body:
            body[pos] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del body[pos : pos + data.draw(st.integers(1, 64))]
        else:
            body[pos:pos] = data.draw(st.binary(min_size=1, max_size=16))
    try:
        enc = Encoding.from_bytes(_reseal(bytes(body)))
    except FormatError:
        return
    assert enc.n_images * enc.bits <= 8 * len(body)  # a parse never claims more than it holds


def test_weighted_header_claims_are_not_allocated():
    body = bytearray(_weighted(1)[:-4])
    geom_at = 8 + 2 + 2 + 32 + 2 + len("lcg-524287")
    struct.pack_into(">I", body, geom_at + 5, 2**32 - 1)  # count
    struct.pack_into(">B", body, geom_at + 9, 255)  # seeds per image
    with pytest.raises(FormatError, match="truncated"):
        fmt.loads(_reseal(bytes(body)))


def test_the_atheris_corpus_parses():
    """The fuzzer starts from valid files (else it would mutate from 'bad magic' only)."""
    pytest.importorskip("atheris", reason="atheris does not install on this platform")
    sys.path.insert(0, str(HARNESS.parent))
    try:
        import fuzz_seed_format
    finally:
        sys.path.remove(str(HARNESS.parent))
    for blob in (_weighted(), _plain()):
        assert Encoding.from_bytes(blob).n_images == 3
        fuzz_seed_format.one_input(b"\x01" + blob[:-4])  # parses; raises nothing


def test_atheris_finds_nothing(tmp_path):
    pytest.importorskip("atheris", reason="atheris does not install on this platform")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, blob in enumerate([_weighted(), _plain(), _weighted(5, 3, 8), _plain(0)]):
        (corpus / f"raw{i}").write_bytes(b"\x00" + blob)  # first byte even: parsed as is
        (corpus / f"body{i}").write_bytes(b"\x01" + blob[:-4])  # odd: the harness adds the CRC
    # libFuzzer judges memory by the peak RSS getrusage reports, and Linux carries a parent's
    # peak across fork and exec: 4 GB for the fuzzing on top of this pytest process's own peak
    # (about 4.7 GB after the tests that evaluate 10,000 digits in-process; measured)
    inherited_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    proc = subprocess.run(
        [sys.executable, str(HARNESS), str(corpus), f"-runs={RUNS}", "-max_len=4096",
         f"-rss_limit_mb={4096 + inherited_mb}", "-timeout=10", "-seed=1"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    done = re.search(r"Done (\d+) runs", proc.stderr)
    assert done and int(done.group(1)) >= RUNS
