"""The stand-in on an HTTP port: a threading server that hands every request, with its exact
request target and body (both are signed), to one function."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from infra.local.httpserver import LocalHttpServer
from infra.local.wechatpay.errors import Response

log = logging.getLogger("propdesk.local.wechatpay")

# (method, path with query, headers with lower-case names, body) -> the answer.
Handle = Callable[[str, str, dict[str, str], str], Response]


class HttpServer(LocalHttpServer):
    def __init__(self, handle: Handle, *, host: str, port: int) -> None:
        self.handle = handle
        super().__init__(_Handler, host=host, port=port, name="wechatpay-standin")

    def start(self) -> None:
        # Polls for shutdown every 50 ms (not 0.5 s): the tests start and stop one per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=self._name, daemon=True
        )
        self._thread.start()


class _Handler(BaseHTTPRequestHandler):
    owner: HttpServer
    protocol_version = "HTTP/1.1"

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, out_headers, payload = self.owner.handle(self.command, self.path, headers, body)
        except Exception:
            log.exception("wechatpay stand-in failed")
            status, out_headers = 500, {"Content-Type": "application/json; charset=utf-8"}
            payload = json.dumps({"code": "SYSTEM_ERROR", "message": "系统错误"}, ensure_ascii=False).encode()
        self.send_response(status)
        for name, value in out_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("wechatpay stand-in: " + format, *args)
