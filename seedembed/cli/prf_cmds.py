"""PRF subcommands: ``prf-info``, ``prf-sequence``, ``prf-stats``, ``prf-keygen``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from seedembed import prf
from seedembed.cli.args import integer
from seedembed.errors import PrfError


def _load(spec: str, key_file: str | None) -> prf.Prf:
    key = prf.read_key(key_file) if key_file else None
    return prf.get(spec, key=key)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prf-info", help="seed space, bits and (LCG) period analysis of a PRF")
    p.add_argument("spec", help="a preset (lcg-524287, ...) or a spec such as lcg:a=..,c=..,m=..")
    p.add_argument("--key-file", help="key of the keyed PRF (or SEEDEMBED_KEY_FILE)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("prf-sequence", help="print the latent sequences of some seeds")
    p.add_argument("spec")
    p.add_argument("--seeds", type=integer, nargs="+", required=True, metavar="S")
    p.add_argument("--length", type=integer, required=True, metavar="L")
    p.add_argument("--raw", action="store_true", help="print the integer states (LCG only)")
    p.add_argument("--key-file", help="key of the keyed PRF (or SEEDEMBED_KEY_FILE)")
    p.set_defaults(func=cmd_sequence)

    p = sub.add_parser(
        "prf-stats", help="the thesis' randomness table (slide 9) for every PRF, beside its values"
    )
    p.add_argument("--json", action="store_true", help="print a JSON list of rows")
    p.add_argument("--n", type=integer, default=1000, help="sequences per PRF (default 1000)")
    p.add_argument("--length", type=integer, default=100, help="symbols per sequence (100)")
    p.add_argument("--seed", type=integer, default=0, help="seed of the seed sampler (0)")
    p.add_argument("--prf", nargs="+", metavar="SPEC", help="PRFs to study (default: all)")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("prf-keygen", help="write a fresh random 256-bit key for the keyed PRF")
    p.add_argument("-o", "--output", required=True, help="key file to create (never overwritten)")
    p.set_defaults(func=cmd_keygen)


def cmd_info(args: argparse.Namespace) -> int:
    from seedembed.prf.info import describe, format_info

    info = describe(_load(args.spec, args.key_file))
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    return 0


def cmd_sequence(args: argparse.Namespace) -> int:
    p = _load(args.spec, args.key_file)
    if args.raw:
        if not isinstance(p, prf.Lcg):
            raise PrfError(f"--raw prints LCG states; {p.spec} is not an LCG")
        rows = p.states(args.seeds, args.length).tolist()
        lines = (" ".join(str(int(x)) for x in row) for row in rows)
    else:
        import torch

        seqs = p.sequences(args.seeds, args.length, dtype=torch.float64).tolist()
        lines = (" ".join(repr(v) for v in row) for row in seqs)
    out = sys.stdout
    for line in lines:
        out.write(line + "\n")
    out.flush()
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from seedembed.experiments.randomness import Protocol, format_table, run

    protocol = Protocol(n_sequences=args.n, length=args.length, sampler_seed=args.seed)
    rows = run(protocol, specs=args.prf)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(format_table(rows, protocol))
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    path = Path(args.output)
    key = prf.generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise PrfError(f"{path} exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise PrfError(f"cannot create {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.hex().encode() + b"\n")
    print(f"wrote {path} (key id {prf.key_id(key)}); use it with --key-file {path}")
    return 0
