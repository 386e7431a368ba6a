"""Coverage-guided fuzzing of the .seed parser with atheris (libFuzzer); run by test_fuzz.py.

    python tests/fuzz_seed_format.py CORPUS_DIR -runs=50000 -max_len=4096 -rss_limit_mb=4096

Every input is parsed as-is and, when its first byte is odd, with a valid CRC-32 appended, so
the fuzzer also reaches the parser behind the checksum. The only acceptable outcome is a
:class:`FormatError` (or a clean parse): any other exception, a hang (-timeout) or memory
beyond the limit is a finding and libFuzzer exits non-zero.
"""

from __future__ import annotations

import contextlib
import struct
import sys
import zlib

import atheris
import numpy  # noqa: F401 - loaded first, so that only the parser below is instrumented
import torch  # noqa: F401

with atheris.instrument_imports(include=["seedembed"]):
    from seedembed.codec.encoding import Encoding
    from seedembed.errors import FormatError


def one_input(data: bytes) -> None:
    if data and data[0] & 1:
        body = data[1:]
        data = body + struct.pack(">I", zlib.crc32(body))
    with contextlib.suppress(FormatError):
        Encoding.from_bytes(data)


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
