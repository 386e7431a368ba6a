"""``seedembed demo``: the local web page (draw or upload an image, see its seed)."""

from __future__ import annotations

import argparse

from seedembed.cli.args import device, integer


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="a local web page: draw or upload an image, see its seed and what it decodes to",
    )
    p.add_argument("--model", default="mnist-524287", help="model selected first (mnist-524287)")
    p.add_argument("--port", type=integer, default=8000, help="port (8000; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1: this machine)")
    p.add_argument("--device", type=device, default="cpu", help="cpu (default) or cuda")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from seedembed.demo import DemoApp, serve
    from seedembed.errors import SeedembedError
    from seedembed.train.distributed import resolve_device

    app = DemoApp(args.model, device=str(resolve_device(args.device)))
    if args.model not in app.models_available():
        raise SeedembedError(
            f"unknown model {args.model!r} (shipped: {', '.join(app.models_available())})"
        )
    if not 0 <= args.port <= 65535:
        raise SeedembedError(f"port must be in [0, 65535], got {args.port}")
    try:
        serve(app, args.host, args.port)
    except OSError as exc:
        reason = exc.strerror or exc
        raise SeedembedError(f"cannot serve on {args.host}:{args.port}: {reason}") from None
    return 0
