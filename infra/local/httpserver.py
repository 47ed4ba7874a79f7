"""The local runtime's HTTP servers (the gateway, the payment providers' stand-ins): a threading
server on a port of this machine, served from a daemon thread, its request handler bound to an
owner."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
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


# A stand-in's answer: status, headers, body.
Response = tuple[int, dict[str, str], bytes]
# (method, request target with its query, headers with lower-case names, body) -> the answer.
Handle = Callable[[str, str, dict[str, str], str], Response]


class StandInServer(LocalHttpServer):
    """A payment provider's stand-in (Stripe, WeChat Pay, Alipay) on an HTTP port: every request,
    with its exact request target and body (providers sign both), handed to ``handle``; a failure
    of ``handle`` is logged and answered with ``failure``, in the provider's own error format.
    It polls for shutdown every 50 ms: the tests start and stop one per test."""

    def __init__(self, handle: Handle, *, host: str, port: int, name: str, failure: Response) -> None:
        self.handle = handle
        self.failure = failure
        self.log = logging.getLogger(f"propdesk.local.{name}")
        super().__init__(_StandInHandler, host=host, port=port, name=name)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=self._name, daemon=True
        )
        self._thread.start()


class _StandInHandler(BaseHTTPRequestHandler):
    owner: StandInServer
    protocol_version = "HTTP/1.1"

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, out_headers, payload = self.owner.handle(self.command, self.path, headers, body)
        except Exception:
            self.owner.log.exception("stand-in failed")
            status, out_headers, payload = self.owner.failure
        self.send_response(status)
        for name, value in out_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        self.owner.log.debug(format, *args)
