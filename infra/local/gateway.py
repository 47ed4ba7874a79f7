"""The HTTP API, locally: the route table's routes, as API Gateway HTTP API (payload 2.0) events.

``build_event`` turns a request into the event API Gateway would send (``infra.local.events``);
``to_http`` turns a function's result back into a response, with API Gateway's rules for a
result that is not a full response object. Staff routes are checked like the JWT authorizer
does before the function runs (401 ``{"message":"Unauthorized"}``). Unknown routes get 404 JSON.
Routes under ``/_local/`` belong to the runtime itself (clock, tokens, outbox, docs).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from infra.local.events import http_event
from infra.local.httpserver import LocalHttpServer
from infra.local.jwt_authorizer import TokenIssuer, Unauthorized
from propdesk import routes

log = logging.getLogger("propdesk.local.gateway")

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # path and query as sent
    headers: list[tuple[str, str]]
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    host: str = "127.0.0.1"

    @property
    def path(self) -> str:
        return urlsplit(self.target).path or "/"

    @property
    def query(self) -> str:
        return urlsplit(self.target).query

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def json(cls, status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
        return cls(
            status, [("Content-Type", "application/json"), *(headers or [])], json.dumps(payload).encode()
        )

    @classmethod
    def html(cls, status: int, text: str) -> Response:
        return cls(status, [("Content-Type", "text/html; charset=utf-8")], text.encode("utf-8"))

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


@dataclass(frozen=True)
class RouteBinding:
    route: routes.Route
    pattern: re.Pattern[str]

    @property
    def method(self) -> str:
        return self.route.method

    @property
    def path(self) -> str:
        return self.route.path

    @property
    def function(self) -> str:
        return self.route.function

    @property
    def route_key(self) -> str:
        return self.route.route_key


def compile_path(path: str) -> re.Pattern[str]:
    """``/pay/{token}`` -> a regex with a named group per parameter; ``{proxy+}`` is greedy."""
    regex = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            if name.endswith("+"):
                regex += f"(?P<{name[:-1]}>.+)"
            else:
                regex += f"(?P<{name}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}$")


def bindings(table: tuple[routes.Route, ...] = routes.ROUTES) -> list[RouteBinding]:
    return [RouteBinding(route, compile_path(route.path)) for route in table]


def match(bindings: list[RouteBinding], method: str, path: str) -> tuple[RouteBinding, dict[str, str]] | None:
    """The route for a request (exact paths win over parameterised ones, as in API Gateway)."""
    candidates = []
    for binding in bindings:
        if binding.method != method:
            continue
        found = binding.pattern.match(path)
        if found:
            params = {k: unquote(v) for k, v in found.groupdict().items()}
            candidates.append((len(params), -len(binding.path), binding, params))
    if not candidates:
        return None
    candidates.sort(key=lambda c: (c[0], c[1]))
    _, _, binding, params = candidates[0]
    return binding, params


def build_event(
    request: Request,
    binding: RouteBinding,
    path_params: dict[str, str],
    *,
    claims: dict[str, str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The API Gateway HTTP API payload 2.0 event for ``request`` on ``binding``."""
    return http_event(
        request.method,
        request.path,
        route=binding.path,
        path_parameters=path_params,
        query=request.query,
        headers=request.headers,
        body=request.body or None,
        claims=claims,
        source_ip=request.source_ip,
        host=request.host,
        at=now,
    )


def to_http(result: Any) -> Response:
    """A function's result as API Gateway (payload 2.0) would return it."""
    if isinstance(result, dict) and "statusCode" in result:
        headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((str(name), str(v)) for v in values)
        headers.extend(("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or [])
        body = result.get("body")
        if body is None:
            data = b""
        elif result.get("isBase64Encoded"):
            data = base64.b64decode(body)
        else:
            data = str(body).encode("utf-8")
        return Response(int(result["statusCode"]), headers, data)
    # Not a response object: API Gateway answers 200 with the result as JSON.
    if isinstance(result, str):
        return Response(200, [("Content-Type", "application/json")], result.encode("utf-8"))
    return Response.json(200, result)


LocalHandler = Callable[[Request], Response]


class Gateway:
    """Dispatches requests to the runtime's own routes or to the manifest's functions."""

    def __init__(
        self,
        *,
        bindings: list[RouteBinding],
        invoke: Callable[[str, dict], Any],
        authorizer: TokenIssuer | None = None,
        available: Callable[[str], bool] = lambda name: True,
    ) -> None:
        self.bindings = bindings
        self._invoke = invoke
        self.authorizer = authorizer
        self._available = available
        self.local_routes: dict[tuple[str, str], LocalHandler] = {}

    def route_local(self, method: str, path: str, handler: LocalHandler) -> None:
        self.local_routes[(method, path)] = handler

    def handle(self, request: Request) -> Response:
        found = match(self.bindings, request.method, request.path)
        if found is None:
            local = self.local_routes.get((request.method, request.path))
            if local is not None:
                return local(request)
            return Response.json(404, {"message": "Not Found"})
        binding, params = found
        claims = None
        if isinstance(binding.route.audience, routes.Staff):
            try:
                if self.authorizer is None:
                    raise Unauthorized
                claims = self.authorizer.verify(request.header("authorization"))
            except Unauthorized:
                return Response.json(401, {"message": "Unauthorized"}, [("WWW-Authenticate", "Bearer")])
        if len(request.body) > MAX_BODY_BYTES:
            return Response.json(413, {"message": "Request Entity Too Large"})
        if not self._available(binding.function):
            return Response.json(503, {"message": "Service Unavailable"})
        event = build_event(request, binding, params, claims=claims)
        try:
            result = self._invoke(binding.function, event)
        except Exception:
            log.exception("function %s failed on %s", binding.function, binding.route_key)
            return Response.json(500, {"message": "Internal Server Error"})
        try:
            return to_http(result)
        except (TypeError, ValueError):
            log.exception("function %s returned a malformed response", binding.function)
            return Response.json(500, {"message": "Internal Server Error"})


class GatewayServer(LocalHttpServer):
    def __init__(
        self, gateway: Gateway, *, host: str = "127.0.0.1", port: int = 8000, access_log: bool = False
    ):
        self.gateway = gateway
        self.access_log = access_log
        super().__init__(_GatewayHandler, host=host, port=port, name="gateway")


class _GatewayHandler(BaseHTTPRequestHandler):
    owner: GatewayServer
    protocol_version = "HTTP/1.1"

    def _dispatch(self) -> None:
        started = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(Response.json(413, {"message": "Request Entity Too Large"}))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            host=self.headers.get("Host") or f"{self.owner.host}:{self.owner.port}",
        )
        try:
            response = self.owner.gateway.handle(request)
        except Exception:
            log.exception("gateway failed")
            response = Response.json(500, {"message": "Internal Server Error"})
        self._send(response)
        if self.owner.access_log:
            print(
                f"{request.method} {request.path} -> {response.status} ({(time.monotonic() - started) * 1000:.0f} ms)",
                flush=True,
            )

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        names = set()
        for name, value in response.headers:
            if name.lower() == "content-length":
                continue
            names.add(name.lower())
            self.send_header(name, value)
        if "content-type" not in names and response.body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("gateway: " + format, *args)
