"""Time building full PRF tables (every seed's latent), the input of exhaustive seed search.

Target (issue 2): the table of lcg-524287 at length 100 (52.4 million values) in under 2 s on a
2-core CPU. Prints a table and writes JSON.

    python benchmarks/prf_table.py [--device cpu|cuda] [--repeats 5] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from seedembed import prf

CASES = [
    ("lcg-524287", 100),
    ("lcg-524287", 25),
    ("lcg-29282", 100),
    ("lcg-5101", 25),
    ("uniform", 100),
    ("keyed", 100),
    ("tent", 100),
]


def time_table(spec: str, length: int, device: str, repeats: int) -> dict:
    p = prf.get(spec, key=bytes(32) if spec == "keyed" else None)
    p.table(length, device=device)  # warm-up (allocator, kernels)
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        table = p.table(length, device=device)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return {
        "prf": spec,
        "length": length,
        "rows": p.size,
        "values": p.size * length,
        "device": device,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "mvalues_per_s": p.size * length / statistics.median(times) / 1e6,
        "dtype": str(table.dtype),
    }


def machine(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name()
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", default=None, help="output (default benchmarks/results/...)")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("prf_table: error: --device cuda but no CUDA device is available", file=sys.stderr)
        return 2
    rows = [time_table(s, n, args.device, args.repeats) for s, n in CASES]
    print(
        f"PRF table build, {machine(args.device)}, torch {torch.__version__}, median of "
        f"{args.repeats}"
    )
    print(f"{'prf':<12}{'length':>7}{'values':>14}{'median s':>10}{'Mvalues/s':>11}")
    for r in rows:
        print(
            f"{r['prf']:<12}{r['length']:>7}{r['values']:>14,}{r['median_s']:>10.3f}"
            f"{r['mvalues_per_s']:>11.1f}"
        )
    out = Path(args.json or f"benchmarks/results/prf_table_{args.device}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "machine": machine(args.device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "command": " ".join(sys.argv),
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
