"""The model fingerprint: one hash naming exactly what decodes a seed.

A seed means an image only through one generator and one PRF, so every codebook cache and every
.seed file carries this hash and a mismatch is an error, never a silently wrong decode. It
covers the PRF spec, the architecture config and every generator tensor (name, dtype, shape,
bytes), in a fixed order; nothing else (training progress, paths, cards) changes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import torch

FORMAT = "seedembed-fingerprint/1"


def model_fingerprint(
    tensors: Mapping[str, torch.Tensor], model_config: Mapping[str, Any], prf_spec: str
) -> str:
    """SHA-256 (hex) of the PRF spec, the architecture and the generator's tensors."""
    h = hashlib.sha256()
    head = {"format": FORMAT, "model": dict(model_config), "prf": prf_spec}
    h.update(json.dumps(head, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        h.update(f"\n{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()
