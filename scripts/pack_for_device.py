"""Pack what the lent-GPU scripts need into `.gpu/` (git-ignored), small enough for a device
call (at most 64 MiB with the repository): the anime faces as WebP (quality 75 for training
faces, 80 for test faces) in one blob with byte offsets, MNIST as xz-compressed idx files, and the
digit CNN of the fine-tuning terms.

    python scripts/pack_for_device.py --data-root $SEEDEMBED_DATA --no-anime \
        --perceptual-net runs/percept-net          # .gpu/ for gpu_codebook.sh
    python scripts/pack_for_device.py --data-root $SEEDEMBED_DATA --anime-parts 3  # faces

Each folder that travels is checked against the limit (repository + folder <= 64 MiB).

With the shipped weights the repository alone is about 51 MiB, so the 31 MB of faces do not fit
beside it in one call. `--anime-parts 3` cuts them into `.gpu-anime-0/` ... `.gpu-anime-2/`
(about 10.5 MB each; the first also holds the index), one carried per call: each call runs
`bash scripts/gpu_stash.sh` (or a script that sources `scripts/gpu_setup.sh`), which copies its
part to /tmp/anime-stash outside the repository; once every part is there, `gpu_setup.sh`
joins and unpacks them (scripts/gpu_anime.sh says how to call it).
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
import os
import shutil
import subprocess
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


#: what one device call carries: the repository's files and the carried folders together
CALL_LIMIT = 64 * 2**20


def repo_bytes() -> int:
    """Bytes of the files a device call copies besides the carried paths: those git tracks and
    the untracked ones it does not ignore."""
    top = Path(__file__).resolve().parent.parent
    cmd = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    out = subprocess.run(cmd, capture_output=True, check=True, cwd=top)
    files = [top / n.decode() for n in out.stdout.split(b"\0") if n]
    return sum(f.stat().st_size for f in files if f.is_file())


def check_fits(folders: list[Path]) -> bool:
    """Print, for each folder carried alone, the size of its call; False if one is too big."""
    repo, ok = repo_bytes(), True
    for d in folders:
        size = repo + sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
        fits = size <= CALL_LIMIT
        ok &= fits
        verdict = "fits" if fits else "TOO BIG: use more --anime-parts or ship less"
        print(f"repository + {d}: {size / 2**20:.1f} MiB of {CALL_LIMIT / 2**20:.0f}: {verdict}")
    return ok


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
    parts: list[Path] = []
    if not a.no_anime:
        faces = out / "anime" if a.anime_parts == 1 else out.with_name(f"{out.name}-anime")
        pack_faces(root / "anime-faces", faces, a.anime_parts)
        if a.anime_parts > 1:
            parts = [Path(f"{faces}-{k}") for k in range(a.anime_parts)]
    (out / "mnist").mkdir(exist_ok=True)
    for old in (out / "mnist").glob("*.gz"):  # an older pack's: the setup would unpack both
        old.unlink()
    for raw in sorted((root / "MNIST" / "raw").glob("*-ubyte")):  # xz: 2 MB less than gzip
        with (
            open(raw, "rb") as src,
            lzma.open(out / "mnist" / f"{raw.name}.xz", "wb", preset=9) as dst,
        ):
            shutil.copyfileobj(src, dst)
    if a.perceptual_net:
        shutil.copytree(a.perceptual_net, out / "percept-net", dirs_exist_ok=True)
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"{out}: {total / 1e6:.1f} MB")
    if not check_fits([out, *parts]):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
