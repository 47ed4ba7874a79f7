"""The HTTP API, locally: the manifest's routes, as API Gateway HTTP API (payload 2.0) events.

``build_event`` turns a request into the event API Gateway would send; ``to_http`` turns a
function's result back into a response, with API Gateway's rules for a result that is not a
full response object. Staff routes are checked like the JWT authorizer does before the
function runs (401 ``{"message":"Unauthorized"}``). Unknown routes get 404 JSON.
Routes under ``/_local/`` belong to the runtime itself (clock, tokens, outbox, docs).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from infra import manifest
from infra.local.jwt_authorizer import TokenIssuer, Unauthorized

log = logging.getLogger("propdesk.local.gateway")

ACCOUNT_ID = "123456789012"
API_ID = "local"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
_TEXT_TYPES = re.compile(
    r"^(text/|application/(json|x-www-form-urlencoded|xml|javascript|problem\+json|[\w.+-]*\+json))", re.I
)


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
    method: str
    path: str  # as in the manifest, e.g. "/pay/{token}/checkout"
    function: str
    auth: str
    roles: tuple[str, ...]
    pattern: re.Pattern[str]

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


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


def bindings_from_manifest(functions: tuple[manifest.FunctionSpec, ...] | None = None) -> list[RouteBinding]:
    specs = functions if functions is not None else manifest.FUNCTIONS
    return [
        RouteBinding(route.method, route.path, spec.name, route.auth, route.roles, compile_path(route.path))
        for spec in specs
        for route in spec.routes
    ]


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


def _is_text(content_type: str | None) -> bool:
    return not content_type or bool(_TEXT_TYPES.match(content_type.strip()))


def build_event(
    request: Request,
    binding: RouteBinding,
    path_params: dict[str, str],
    *,
    claims: dict[str, str] | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The API Gateway HTTP API payload 2.0 event for ``request`` on ``binding``."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for key, value in request.headers:
        name = key.lower()
        if name == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    query: dict[str, str] = {}
    for key, value in parse_qsl(request.query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    at = now or datetime.now(UTC)
    request_id = request_id or str(uuid.uuid4())
    context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": request.host,
        "domainPrefix": request.host.split(".")[0].split(":")[0],
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": "HTTP/1.1",
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": binding.route_key,
        "stage": "$default",
        "time": at.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(at.timestamp() * 1000),
    }
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": binding.route_key,
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_params:
        event["pathParameters"] = path_params
    if request.body:
        text = None
        if _is_text(headers.get("content-type")):
            try:
                text = request.body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        if text is None:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


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
        if binding.auth == "staff":
            try:
                if self.authorizer is None:
                    raise Unauthorized
                claims = self.authorizer.verify(request.header("authorization"))
            except Unauthorized:
                return Response.json(401, {"message": "Unauthorized"}, [("WWW-Authenticate", "Bearer")])
        if len(request.body) > MAX_BODY_BYTES:
            return Response.json(413, {"message": "Request Entity Too Large"})
        if not self._available(binding.function):
            return Response.json(
                503, {"message": f"function {binding.function!r} is not available in this build yet"}
            )
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


class GatewayServer:
    def __init__(
        self, gateway: Gateway, *, host: str = "127.0.0.1", port: int = 8000, access_log: bool = False
    ):
        self.gateway = gateway
        outer = self

        class Handler(_GatewayHandler):
            owner = outer

        self.access_log = access_log
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.host = host
        self.port = self._server.server_address[1]
        self.base_url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()


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
