"""The demo's HTTP layer: the page at ``/`` and the JSON API under ``/api/``.

The standard library's threading HTTP server, bound to localhost by default: no framework to
install, nothing exposed beyond the machine unless ``--host`` says so. Requests naming another
Host (DNS rebinding) and POSTs that are not JSON (what a foreign page's form could send without
the browser asking first) are refused; a client stalling mid-request is dropped after 30 s.
"""

from __future__ import annotations

import json
import sys
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from seedembed.demo.app import MAX_UPLOAD, DemoApp, DemoError

ROUTES = {"/api/encode": "encode", "/api/decode": "decode", "/api/seeds": "seeds"}


def _handler(app: DemoApp, quiet: bool) -> type[BaseHTTPRequestHandler]:
    page = resources.files("seedembed.demo").joinpath("page.html").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        server_version = "seedembed-demo"
        timeout = 30  # seconds a client may stall mid-request before its thread is freed

        def _host_ok(self) -> bool:
            """Refuse other Host names (DNS rebinding) unless bound to every interface."""
            host, port = self.server.server_address[:2]
            if host in ("0.0.0.0", "::"):
                return True
            names = {host, "127.0.0.1", "localhost", "[::1]"}
            return self.headers.get("Host", "") in {f"{n}:{port}" for n in names}

        def log_message(self, fmt: str, *args) -> None:  # noqa: D401 - the stdlib's hook
            if not quiet:
                sys.stderr.write(f"demo: {fmt % args}\n")

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, obj: dict) -> None:
            self._send(status, json.dumps(obj).encode(), "application/json")

        def _answer(self, call) -> None:
            try:
                self._json(HTTPStatus.OK, call())
            except DemoError as exc:
                self._json(exc.status, {"error": str(exc)})
            except Exception as exc:  # noqa: BLE001 - a bug must not take the server down
                traceback.print_exc(file=sys.stderr)
                self._json(500, {"error": f"internal error ({type(exc).__name__}); see the log"})

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            if not self._host_ok():
                self._json(HTTPStatus.FORBIDDEN, {"error": "unexpected Host header"})
            elif self.path in ("/", "/index.html"):
                self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
            elif self.path == "/api/models":
                self._answer(app.models)
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {self.path}"})

        def do_POST(self) -> None:  # noqa: N802
            name = ROUTES.get(self.path)
            kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if not self._host_ok():
                self._json(HTTPStatus.FORBIDDEN, {"error": "unexpected Host header"})
                return
            if kind != "application/json":  # a cross-site form post cannot send this kind
                self._json(415, {"error": "requests must be application/json"})
                return
            if name is None:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: {self.path}"})
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if length < 0 or length > 2 * MAX_UPLOAD:
                self.close_connection = True
                self._json(413, {"error": f"request too large (limit {MAX_UPLOAD // 2**20} MB)"})
                return

            def call() -> dict:
                try:
                    req = json.loads(self.rfile.read(length) or b"{}")
                except (json.JSONDecodeError, UnicodeDecodeError):
                    raise DemoError("the request is not JSON") from None
                if not isinstance(req, dict):
                    raise DemoError("the request must be a JSON object")
                return getattr(app, name)(req)

            self._answer(call)

    return Handler


def start_server(
    app: DemoApp, host: str = "127.0.0.1", port: int = 8000, *, quiet: bool = False
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serve in a background thread (tests, notebooks); ``port=0`` picks a free port."""
    server = ThreadingHTTPServer((host, port), _handler(app, quiet))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def serve(app: DemoApp, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve until Ctrl-C."""
    server = ThreadingHTTPServer((host, port), _handler(app, quiet=False))
    server.daemon_threads = True
    url = f"http://{host}:{server.server_address[1]}/"
    print(f"seedembed demo on {url} (Ctrl-C stops it)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
