"""Pack what `scripts/gpu_lanes.sh` needs into `.gpu/` (git-ignored), small enough for a device
call (at most 64 MiB with the repository): the anime faces as WebP (quality 75 for training
faces, 80 for test faces) in one blob with byte offsets, MNIST as gzipped idx files, and the
digit CNN of the fine-tuning terms.

    python scripts/pack_for_device.py --data-root $SEEDEMBED_DATA --perceptual-net runs/percept-net
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image


def _webp(args: tuple[str, int]) -> bytes:
    path, quality = args
    buf = io.BytesIO()
    Image.open(path).convert("RGB").save(buf, "WEBP", quality=quality)
    return buf.getvalue()


def pack_faces(faces: Path, out: Path) -> None:
    """The faces as WebP in one blob with byte offsets, and the split's names."""
    test = set((faces / "test.txt").read_text().split())
    names = sorted(f.name for f in (faces / "images").iterdir())
    jobs = [(str(faces / "images" / n), 80 if n in test else 75) for n in names]
    with ProcessPoolExecutor() as ex:
        blobs = list(ex.map(_webp, jobs, chunksize=256))
    out.mkdir(parents=True, exist_ok=True)
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    np.save(out / "offsets.npy", offsets)
    (out / "blob.bin").write_bytes(b"".join(blobs))
    (out / "index.json").write_text(json.dumps({"names": names, "test": sorted(test)}))
    print(f"{len(names)} faces, {offsets[-1] / 1e6:.1f} MB as WebP")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", default=os.environ.get("SEEDEMBED_DATA"), required=False)
    p.add_argument("--perceptual-net", help="digit CNN folder (train-classifier --seed 1)")
    p.add_argument("--out", default=".gpu")
    p.add_argument(
        "--no-anime",
        action="store_true",
        help="MNIST (and the net) only: with the shipped weights the repository is 48 MB, so the "
        "31 MB of faces no longer fit beside it in one call (scripts/gpu_codebook.sh needs none)",
    )
    a = p.parse_args()
    if not a.data_root:
        p.error("no data root: pass --data-root or set SEEDEMBED_DATA")
    root, out = Path(a.data_root), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if not a.no_anime:
        pack_faces(root / "anime-faces", out / "anime")
    (out / "mnist").mkdir(exist_ok=True)
    for raw in sorted((root / "MNIST" / "raw").glob("*-ubyte")):
        with open(raw, "rb") as src, gzip.open(out / "mnist" / f"{raw.name}.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
    if a.perceptual_net:
        shutil.copytree(a.perceptual_net, out / "percept-net", dirs_exist_ok=True)
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"{out}: {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
