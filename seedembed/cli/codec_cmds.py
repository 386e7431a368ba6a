"""Codec subcommands: ``encode``, ``decode``, ``roundtrip``, ``cache``."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch

from seedembed.cli.args import device, integer, positive_int
from seedembed.errors import FormatError
from seedembed.search import STRATEGIES

DEFAULT_MODEL = "mnist-524287"


def _add_search_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"shipped name or folder ({DEFAULT_MODEL})"
    )
    p.add_argument(
        "--search",
        choices=STRATEGIES,
        help="seed search (default: image when the codebook is cached, else hybrid)",
    )
    p.add_argument("--eps", type=integer, default=2000, help="neighbourhood half-width (2000)")
    p.add_argument("--topk", type=positive_int, default=64, help="hybrid candidates re-ranked (64)")
    p.add_argument("--device", type=device, default="cpu", help="cpu (default) or cuda")
    p.add_argument("--key-file", help="key of a keyed-PRF model (or SEEDEMBED_KEY_FILE)")
    g = p.add_argument_group(
        "noise composition",
        "store each image as N weighted seeds: N (seed bits + K) + 16 bits per image",
    )
    g.add_argument("--compose", type=positive_int, metavar="N", help="seeds per image")
    g.add_argument(
        "--weight-bits", type=integer, default=8, metavar="K", help="bits per weight, 2-16 (8)"
    )
    g.add_argument(
        "--compose-method", choices=["mp", "omp"], default="mp", help="matching pursuit (mp)"
    )
    g.add_argument(
        "--image-aware",
        action="store_true",
        help="project the latent and fit the weights in image space (better, slower)",
    )


def compose_settings(args: argparse.Namespace):
    """The composition the arguments ask for, or None; --search with --compose is refused."""
    from seedembed.compose import ComposeSettings
    from seedembed.errors import SeedembedError

    if args.compose is None:
        for flag, value, default in (
            ("--weight-bits", args.weight_bits, 8),
            ("--compose-method", args.compose_method, "mp"),
            ("--image-aware", args.image_aware, False),
        ):
            if value != default:
                raise SeedembedError(f"{flag} needs --compose N")
        return None
    if args.search is not None:
        raise SeedembedError("--search and --compose exclude each other: pick one")
    make = ComposeSettings.image_aware if args.image_aware else ComposeSettings
    return make(args.compose, args.weight_bits, args.compose_method)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode", help="images -> one .seed file (a few bits per image)")
    p.add_argument("images", nargs="+", metavar="IMG", help="PNG/JPEG files, any size")
    p.add_argument("-o", "--output", required=True, help=".seed file to write")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    _add_search_args(p)
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser(
        "encode-set",
        help="a whole data set or image folder -> one .seed file (streamed; torchrun for several)",
    )
    p.add_argument("dataset", help="mnist, anime-faces, or a folder of PNG/JPEG images")
    p.add_argument("-o", "--output", required=True, help=".seed file to write")
    p.add_argument("--split", choices=["train", "test"], default="test", help="(test)")
    p.add_argument("--data-root", help="folder holding MNIST/ and anime-faces/")
    p.add_argument("--batch-size", type=positive_int, default=1024, help="images per batch (1024)")
    p.add_argument("--limit", type=positive_int, help="only the first N images")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--no-progress", action="store_true")
    _add_search_args(p)
    p.set_defaults(func=cmd_encode_set)

    p = sub.add_parser("decode", help="a .seed file -> PNG images named after the inputs")
    p.add_argument("seedfile", help=".seed file")
    p.add_argument("-o", "--output", required=True, help="folder for the PNGs (created)")
    p.add_argument("--model", help="model folder (default: the shipped model the file names)")
    p.add_argument("--force", action="store_true", help="overwrite existing PNGs")
    p.add_argument("--device", type=device, default="cpu")
    p.add_argument("--key-file", help="key of a keyed-PRF model (or SEEDEMBED_KEY_FILE)")
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("roundtrip", help="encode and decode images; a sheet of both")
    p.add_argument("images", nargs="+", metavar="IMG")
    p.add_argument("-o", "--output", default="roundtrip.png", help="sheet PNG (roundtrip.png)")
    _add_search_args(p)
    p.set_defaults(func=cmd_roundtrip)

    p = sub.add_parser("cache", help="the codebook cache that image search uses")
    p.add_argument("action", choices=["build", "status"])
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--device", type=device, default="cpu")
    p.add_argument("--cache-dir", help="default $SEEDEMBED_CACHE or ~/.cache/seedembed")
    p.set_defaults(func=cmd_cache)


def _codec(args: argparse.Namespace, model: str | None = None):
    from seedembed import prf
    from seedembed.codec import load
    from seedembed.train.distributed import resolve_device

    key = prf.read_key(args.key_file) if getattr(args, "key_file", None) else None
    return load(model or args.model, device=resolve_device(args.device), key=key)


def _encode_files(args: argparse.Namespace):
    from seedembed.codec.images import read_images
    from seedembed.metrics import psnr, ssim

    codec = _codec(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images, names = read_images(args.images, codec.geometry)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    compose = compose_settings(args)
    enc = codec.encode(
        images, args.search, names=names, eps=args.eps, topk=args.topk, compose=compose
    )
    recon = codec.decode(enc)
    quality = (psnr(images, recon), ssim(images, recon))
    return codec, images, enc, recon, quality


def _print_table(enc, quality, codec) -> None:
    p, s = quality
    width = max(8, *(len(n) for n in enc.names or []))
    print(f"model {codec.name} ({codec.prf.spec}), search {enc.strategy}, {enc.bits} bits/image")
    n = enc.seeds.shape[1]
    if n > 1 or enc.weighted:
        more = f" (+{n - 1} more)" if n > 1 else ""
        print(
            f"{n} weighted seeds per image, {enc.weight_bits}-bit weights; first seed shown{more}"
        )
    print(f"{'image':<{width}}  {'seed':>10}  {'hex':>8}  {'bits':>4}  {'PSNR dB':>7}  {'SSIM':>6}")
    hex_digits = (enc.bits_per_seed + 3) // 4
    for i, name in enumerate(enc.names or [str(i) for i in range(enc.n_images)]):
        seed = int(enc.seeds[i, 0])
        print(
            f"{name:<{width}}  {seed:>10}  {seed:#0{hex_digits + 2}x}  {enc.bits:>4}  "
            f"{p[i].item():>7.2f}  {s[i].item():>6.3f}"
        )
    print(
        f"{enc.n_images} images in {enc.seconds:.2f} s; mean PSNR {p.mean().item():.2f} dB, "
        f"mean SSIM {s.mean().item():.3f}"
    )


def cmd_encode(args: argparse.Namespace) -> int:
    out = Path(args.output)
    if out.exists() and not args.force:
        raise FormatError(f"{out} exists; refusing to overwrite it (use --force)")
    codec, _, enc, _, quality = _encode_files(args)
    _print_table(enc, quality, codec)
    enc.save(out, overwrite=args.force)
    size = out.stat().st_size
    print(f"wrote {out}: {size} bytes ({enc.bits * enc.n_images} payload bits + header)")
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    from seedembed.codec import Encoding, find_model
    from seedembed.codec.images import write_png

    enc = Encoding.load(args.seedfile)
    model = args.model or find_model(enc.fingerprint)
    if model is None:
        raise FormatError(
            f"{args.seedfile} was encoded with model {enc.fingerprint[:12]}, which is not a "
            "shipped model here: pass --model FOLDER"
        )
    codec = _codec(args, model)
    images = codec.decode(enc)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    names = [_png_name(n, i) for i, n in enumerate(enc.names or [None] * enc.n_images)]
    clashes = [n for n in names if (out / n).exists()]
    if clashes and not args.force:
        raise FormatError(f"{out / clashes[0]} exists; refusing to overwrite it (use --force)")
    for image, name in zip(images, names, strict=True):
        write_png(image, out / name)
    print(f"wrote {len(names)} images to {out}/ with model {codec.name}")
    return 0


def _png_name(name: str | None, index: int) -> str:
    if not name:
        return f"{index:05d}.png"
    stem = Path(name).name.rsplit(".", 1)[0] or f"{index:05d}"
    return f"{stem}.png"


def cmd_roundtrip(args: argparse.Namespace) -> int:
    from seedembed.models import save_grid

    codec, images, enc, recon, quality = _encode_files(args)
    _print_table(enc, quality, codec)
    n = len(images)
    sheet = torch.cat([images, recon]) * 2 - 1  # save_grid takes the generator's [-1, 1]
    path = save_grid(sheet, args.output, nrow=n)
    print(f"wrote {path}: originals above, reconstructions below")
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from seedembed.search import build_codebook, codebook_status

    codec = _codec(args)
    status = codebook_status(codec.fingerprint, args.cache_dir)
    if args.action == "status" or status.ok:
        print(_describe(codec.name, status))
        return 0
    build_codebook(
        codec.generator,
        codec.prf,
        codec.fingerprint,
        cache_dir=args.cache_dir,
        device=codec.device,
        progress=True,
    )
    print(_describe(codec.name, codebook_status(codec.fingerprint, args.cache_dir)))
    return 0


def _describe(name: str, status) -> str:
    size = f", {status.count:,} images, {status.size_bytes / 2**20:.0f} MiB" if status.ok else ""
    return f"{name}: codebook {status.state}{size} ({status.detail}); {status.path}"


__all__ = ["register"]


def cmd_encode_set(args: argparse.Namespace) -> int:
    from seedembed.codec.batch import encode_dataset, item_names
    from seedembed.data import open_dataset
    from seedembed.train import distributed

    out = Path(args.output)
    if out.exists() and not args.force:
        raise FormatError(f"{out} exists; refusing to overwrite it (use --force)")
    info = distributed.setup(args.device)
    try:
        codec = _codec(argparse.Namespace(**{**vars(args), "device": str(info.device)}))
        c, size, _ = codec.geometry
        dataset = open_dataset(
            args.dataset, args.data_root, train=args.split == "train", size=size, channels=c
        )
        enc = encode_dataset(
            codec,
            dataset,
            names=item_names(dataset),
            search=args.search,
            batch_size=args.batch_size,
            limit=args.limit,
            progress=not args.no_progress,
            info=info,
            compose=compose_settings(args),
        )
        if enc is not None:
            enc.save(out, overwrite=args.force)
            print(
                f"wrote {out}: {enc.n_images} images, {enc.bits} bits each "
                f"({out.stat().st_size} bytes with the header), search {enc.strategy}"
            )
    finally:
        distributed.teardown(info)
    return 0
