"""The local runtime's HTTP servers (the gateway, the Stripe stand-in): a threading server on a
port of this machine, served from a daemon thread, its request handler bound to an owner."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LocalHttpServer:
    """Serves ``handler`` (a ``BaseHTTPRequestHandler`` whose ``owner`` is set to this server)."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, host: str, port: int, name: str) -> None:
        bound: Any = type(handler.__name__, (handler,), {"owner": self})
        self._server = ThreadingHTTPServer((host, port), bound)
        self._server.daemon_threads = True
        self.host = host
        self.port = self._server.server_address[1]
        self.base_url = f"http://{host}:{self.port}"
        self._name = name
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name=self._name, daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
