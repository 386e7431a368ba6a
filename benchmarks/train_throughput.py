"""Training throughput: images per second of one G+D step (the loop body of train-gan).

Each row times the same work as one step of ``seedembed train-gan``: index a batch out of a
uint8 data tensor on the device, draw PRF latents, one discriminator and one generator update,
and the EMA update. Random images stand in for the data set (a conv's speed does not depend on
the pixels). "s/epoch" is the time of 60,000 images (one MNIST pass, one step per batch).

    python benchmarks/train_throughput.py                      # CPU rows
    python benchmarks/train_throughput.py --device cuda        # GPU rows (bf16, channels_last)
    python benchmarks/train_throughput.py --rows mnist:32:128 anime:64:256

Prints a table and writes benchmarks/results/train_throughput.json (or --json PATH).
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

from seedembed import prf as prf_mod
from seedembed.data import to_float
from seedembed.models import Discriminator, GanConfig, Generator, ema_beta, make_ema
from seedembed.train.schedules import LatentSampler
from seedembed.train.step import GanNets, gan_step

MNIST_IMAGES = 60_000
DEFAULT_ROWS = {
    "cpu": ["mnist:16:128", "mnist:32:64", "mnist:32:128", "mnist:64:128"],
    "cuda": ["mnist:32:512", "mnist:64:512", "mnist:64:2048", "anime:64:256"],
}


def parse_row(text: str) -> tuple[str, int, int]:
    name, width, batch = text.split(":")
    if name not in ("mnist", "anime"):
        raise argparse.ArgumentTypeError(f"row {text!r}: data set must be mnist or anime")
    return name, int(width), int(batch)


def time_row(
    name: str,
    width: int,
    batch: int,
    device: torch.device,
    steps: int,
    warmup: int,
    amp: bool,
    channels_last: bool,
) -> dict:
    preset = GanConfig.mnist if name == "mnist" else GanConfig.anime
    cfg = preset(g_width=width, d_width=width)
    torch.manual_seed(0)
    G, D = Generator(cfg).to(device), Discriminator(cfg).to(device)
    if channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    nets = GanNets(
        G,
        D,
        make_ema(G),
        torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999)),
        torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999)),
        ema_beta(batch, 10_000),
    )
    n_data = max(4 * batch, 4096)
    size = (n_data, cfg.channels, cfg.image_size, cfg.image_size)
    images = torch.randint(0, 256, size, dtype=torch.uint8).to(device)
    gen = torch.Generator(device=device).manual_seed(0)
    sampler = LatentSampler(prf_mod.get("lcg-524287"), cfg.latent_length, 0.1, device)

    def one_step(i: int) -> None:
        idx = torch.randint(0, n_data, (batch,), generator=gen, device=device)
        real = to_float(images[idx])
        if channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        kind = "uniform" if i % 2 else "prf"
        gan_step(nets, real, sampler(kind, batch, gen), amp)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for i in range(warmup):
        one_step(i)
    sync()
    t0 = time.perf_counter()
    for i in range(steps):
        one_step(i)
    sync()
    elapsed = time.perf_counter() - t0
    ips = steps * batch / elapsed
    return {
        "data": name,
        "width": width,
        "batch": batch,
        "amp": "bf16" if amp else "off",
        "channels_last": channels_last,
        "steps": steps,
        "g_params": sum(p.numel() for p in G.parameters()),
        "d_params": sum(p.numel() for p in D.parameters()),
        "step_ms": 1000 * elapsed / steps,
        "img_per_s": ips,
        "s_per_60k_images": MNIST_IMAGES / ips,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    ap.add_argument(
        "--rows",
        nargs="+",
        type=parse_row,
        metavar="DATA:WIDTH:BATCH",
        help="configurations to time (default: a set per device)",
    )
    ap.add_argument(
        "--steps", type=int, default=None, help="timed steps per row (cpu 30, cuda 200)"
    )
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps first (cpu 5, cuda 30)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all)")
    ap.add_argument("--no-amp", action="store_true", help="CUDA without bf16 autocast")
    ap.add_argument("--json", default="benchmarks/results/train_throughput.json")
    args = ap.parse_args()

    device = torch.device(args.device)
    if device.type == "cuda":
        device = torch.device("cuda", device.index or 0)
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as train-gan does: denormals slow early CPU steps ~25x
    on_cuda = device.type == "cuda"
    rows = args.rows or [parse_row(r) for r in DEFAULT_ROWS[device.type]]
    steps = args.steps or (200 if on_cuda else 30)
    warmup = args.warmup or (30 if on_cuda else 5)
    results = [
        time_row(n, w, b, device, steps, warmup, on_cuda and not args.no_amp, on_cuda)
        for n, w, b in rows
    ]
    machine = (
        torch.cuda.get_device_name(device)
        if on_cuda
        else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    )
    print(f"device: {device} ({machine}); torch {torch.__version__}")
    header = (
        f"{'data':6} {'width':>5} {'batch':>5} {'amp':>4} {'G params':>9} {'D params':>9} "
        f"{'ms/step':>8} {'img/s':>8} {'s/60k img':>9}"
    )
    print(header)
    for r in results:
        print(
            f"{r['data']:6} {r['width']:>5} {r['batch']:>5} {r['amp']:>4} {r['g_params']:>9,} "
            f"{r['d_params']:>9,} {r['step_ms']:>8.2f} {r['img_per_s']:>8.0f} "
            f"{r['s_per_60k_images']:>9.1f}"
        )
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "command": "python " + shlex.join(sys.argv),
        "device": str(device),
        "machine": machine,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "rows": results,
    }
    previous = json.loads(out.read_text()) if out.is_file() else {}
    previous = previous if isinstance(previous, dict) and "runs" in previous else {"runs": {}}
    previous["runs"][device.type] = record
    out.write_text(json.dumps(previous, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
