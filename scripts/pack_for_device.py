"""Pack what the lent-GPU scripts need into `.gpu/` (git-ignored), small enough for a device
call (at most 64 MiB with the repository): the anime faces as WebP (quality 75 for training
faces, 80 for test faces) in one blob with byte offsets, MNIST as gzipped idx files, and the
digit CNN of the fine-tuning terms.

    python scripts/pack_for_device.py --data-root $SEEDEMBED_DATA --perceptual-net runs/percept-net

With the shipped weights the repository alone is 48 MB, so the 31 MB of faces no longer fit
beside it in one call. `--anime-parts 2` cuts them into `.gpu-anime-0/` and `.gpu-anime-1/`
(about 16 MB each; the first also holds the index), one carried per call: each call runs
`bash scripts/gpu_stash.sh` (or a script that sources `scripts/gpu_setup.sh`), which copies its
part to /tmp/anime-stash outside the repository; once every part is there, `gpu_setup.sh`
joins and unpacks them (scripts/gpu_anime.sh says how to call it).
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


def pack_faces(faces: Path, out: Path, parts: int = 1) -> None:
    """The faces as WebP in one blob with byte offsets, and the split's names; with ``parts``
    > 1 the blob is cut into that many pieces, one folder each (``out``-0, ``out``-1, ...)."""
    test = set((faces / "test.txt").read_text().split())
    names = sorted(f.name for f in (faces / "images").iterdir())
    jobs = [(str(faces / "images" / n), 80 if n in test else 75) for n in names]
    with ProcessPoolExecutor() as ex:
        blobs = list(ex.map(_webp, jobs, chunksize=256))
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    blob = b"".join(blobs)
    index = {"names": names, "test": sorted(test), "parts": parts}
    dirs = [out] if parts == 1 else [Path(f"{out}-{k}") for k in range(parts)]
    cuts = np.linspace(0, len(blob), parts + 1).astype(np.int64)
    for k, d in enumerate(dirs):
        d.mkdir(parents=True, exist_ok=True)
        name = "blob.bin" if parts == 1 else f"blob.bin.{k}"
        (d / name).write_bytes(blob[cuts[k] : cuts[k + 1]])
    np.save(dirs[0] / "offsets.npy", offsets)
    (dirs[0] / "index.json").write_text(json.dumps(index))
    print(f"{len(names)} faces, {offsets[-1] / 1e6:.1f} MB as WebP")
    for d in dirs:
        size = sum(f.stat().st_size for f in d.iterdir())
        print(f"{d}: {size / 1e6:.1f} MB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", default=os.environ.get("SEEDEMBED_DATA"), required=False)
    p.add_argument("--perceptual-net", help="digit CNN folder (train-classifier --seed 1)")
    p.add_argument("--out", default=".gpu")
    p.add_argument(
        "--no-anime",
        action="store_true",
        help="MNIST (and the net) only (scripts/gpu_codebook.sh needs no faces)",
    )
    p.add_argument(
        "--anime-parts",
        type=int,
        default=1,
        metavar="N",
        help="cut the faces into N parts, .gpu-anime-0 ... (one carried per device call) instead "
        "of .gpu/anime",
    )
    a = p.parse_args()
    if not a.data_root:
        p.error("no data root: pass --data-root or set SEEDEMBED_DATA")
    if a.anime_parts < 1:
        p.error(f"--anime-parts must be >= 1, got {a.anime_parts}")
    root, out = Path(a.data_root), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if not a.no_anime:
        faces = out / "anime" if a.anime_parts == 1 else out.with_name(f"{out.name}-anime")
        pack_faces(root / "anime-faces", faces, a.anime_parts)
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
