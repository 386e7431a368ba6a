"""``seedembed demo``: a local web page on the Python API (draw or upload, see the seed).

A small standard-library HTTP server (no web framework to install) serves one HTML page and a
JSON API; :mod:`.app` holds the API, :mod:`.server` the HTTP layer, ``page.html`` the page.
"""

from seedembed.demo.app import DemoApp
from seedembed.demo.server import serve, start_server

__all__ = ["DemoApp", "serve", "start_server"]
