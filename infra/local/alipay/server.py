"""The stand-in on an HTTP port: a threading server that hands every request to one function."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from infra.local.httpserver import LocalHttpServer

log = logging.getLogger("propdesk.local.alipay")

Response = tuple[int, dict[str, str], bytes]
# (method, path with query, headers with lower-case names, body) -> the answer.
Handle = Callable[[str, str, dict[str, str], str], Response]


class HttpServer(LocalHttpServer):
    def __init__(self, handle: Handle, *, host: str, port: int) -> None:
        self.handle = handle
        super().__init__(_Handler, host=host, port=port, name="alipay-standin")


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
            log.exception("alipay stand-in failed")
            status, out_headers = 500, {"Content-Type": "application/json;charset=utf-8"}
            payload = json.dumps({"error": "stand-in error"}).encode()
        self.send_response(status)
        for name, value in out_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("alipay stand-in: " + format, *args)
