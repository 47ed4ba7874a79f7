"""The runtime's own endpoints on the gateway (under ``/_local/``): clock, staff tokens,
outbox, queues, API documentation.

These exist only locally; the deployed API has none of them.
"""

from __future__ import annotations

import html
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from infra import manifest
from infra.local import outbox
from infra.local.gateway import Gateway, Request, Response

if TYPE_CHECKING:
    from infra.local.runtime import LocalRuntime

log = logging.getLogger("propdesk.local.endpoints")

# Names under which the api function may expose its OpenAPI document (first found wins).
OPENAPI_CALLABLES = ("openapi_document", "openapi_schema", "openapi", "get_openapi_document")


def _body_json(request: Request) -> dict[str, Any]:
    from infra.local.runtime import BadRequest

    if not request.body:
        return {}
    try:
        value = json.loads(request.body)
    except ValueError as exc:
        raise BadRequest("the body must be JSON") from exc
    if not isinstance(value, dict):
        raise BadRequest("the body must be a JSON object")
    return value


def _guard(handler):
    """Runtime endpoint errors as 400 JSON, like the API's own clear 4xx answers."""
    from infra.local.runtime import BadRequest

    def wrapped(request: Request) -> Response:
        try:
            return handler(request)
        except BadRequest as exc:
            return Response.json(400, {"message": str(exc)})

    return wrapped


def openapi_document(runtime: LocalRuntime) -> dict[str, Any] | None:
    """The api function's OpenAPI document, if the function exposes one."""
    module = runtime.functions.module("api")
    if module is None:
        return None
    document: Any = None
    for name in OPENAPI_CALLABLES:
        candidate = getattr(module, name, None)
        if callable(candidate):
            document = candidate()
            break
    else:
        app = getattr(module, "app", None)
        if app is not None and hasattr(app, "get_openapi_json_schema"):
            document = app.get_openapi_json_schema()
    if document is None:
        return None
    if isinstance(document, str | bytes):
        document = json.loads(document)
    if hasattr(document, "model_dump"):
        document = document.model_dump(mode="json", by_alias=True, exclude_none=True)
    return document if isinstance(document, dict) else None


def manifest_openapi(runtime: LocalRuntime) -> dict[str, Any]:
    """A minimal document from the manifest, when the api function offers none."""
    paths: dict[str, Any] = {}
    for spec, route in manifest.routes():
        operation: dict[str, Any] = {
            "summary": f"{route.method} {route.path} ({spec.name})",
            "x-propdesk-auth": route.auth,
            "responses": {"default": {"description": "See the function"}},
        }
        if route.auth == "staff":
            operation["security"] = [{"staffJwt": []}]
            operation["x-propdesk-roles"] = list(route.roles)
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": f"PropDesk {runtime.config.property_id} (from the manifest)", "version": "0"},
        "servers": [{"url": runtime.base_url}],
        "paths": paths,
        "components": {
            "securitySchemes": {"staffJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
        },
    }


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222;max-width:70rem}"
        "table{border-collapse:collapse}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}"
        "code{background:#f4f4f4;padding:0 .2rem}.muted{color:#777}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def docs_page(runtime: LocalRuntime) -> str:
    document = openapi_document(runtime)
    operations = (document or {}).get("paths", {})
    rows = []
    for spec, route in manifest.routes():
        operation = (operations.get(route.path) or {}).get(route.method.lower()) or {}
        summary = operation.get("summary") or operation.get("description") or ""
        roles = ", ".join(route.roles) if route.roles else ""
        state = (
            "" if runtime.functions.available(spec.name) else " <span class=muted>(not in this build)</span>"
        )
        rows.append(
            f"<tr><td><code>{route.method}</code></td><td><code>{html.escape(route.path)}</code></td>"
            f"<td>{route.auth}{' (' + html.escape(roles) + ')' if roles else ''}</td>"
            f"<td>{spec.name}{state}</td><td>{html.escape(summary)}</td></tr>"
        )
    source = (
        "the api function's OpenAPI document"
        if document
        else "the manifest (the api function publishes no OpenAPI document in this build)"
    )
    body = (
        f"<p>Base URL <code>{runtime.base_url}</code>. Every route of the deployed HTTP API, served locally."
        f" OpenAPI: <a href='/_local/openapi.json'>/_local/openapi.json</a> (from {source}).</p>"
        "<table><tr><th>Method</th><th>Path</th><th>Auth</th><th>Function</th><th>Summary</th></tr>"
        + "".join(rows)
        + "</table>"
        "<h2>Auth</h2><ul><li><b>staff</b>: <code>Authorization: Bearer &lt;JWT&gt;</code>; mint one with"
        ' <code>make token ROLE=cashier</code> or <code>POST /_local/token {"role": "cashier"}</code>.'
        " Roles: " + html.escape(", ".join(manifest.staff_roles(runtime.config))) + "</li>"
        "<li><b>owner_link</b>: the signed token in the owner's <code>/pay/{token}</code> link (see the outbox).</li>"
        "<li><b>stripe_signature</b>: a <code>Stripe-Signature</code> header signed with the local webhook"
        " secret (printed at start, also at <a href='/_local/stripe'>/_local/stripe</a>).</li></ul>"
        "<h2>Local only</h2><table>"
        "<tr><td><code>GET /_local/outbox</code></td><td>email and SMS sent (<code>?format=json</code>)</td></tr>"
        "<tr><td><code>GET /_local/clock</code></td><td>the simulated time and the next schedule runs</td></tr>"
        '<tr><td><code>POST /_local/clock</code></td><td><code>{"advance": "P1D"}</code> or'
        ' <code>{"to": "2027-01-17T09:00"}</code> (property time zone): moves the clock forward and fires'
        " every schedule passed, in order</td></tr>"
        '<tr><td><code>POST /_local/token</code></td><td><code>{"role": "admin"}</code> -> a staff JWT</td></tr>'
        "<tr><td><code>GET /_local/queues</code></td><td>queue and dead-letter queue depths</td></tr>"
        "<tr><td><code>POST /_local/drain</code></td><td>waits until every queue is processed</td></tr>"
        "</table>"
    )
    return _page(f"PropDesk API - {runtime.config.name.en} (local)", body)


def clock_state(runtime: LocalRuntime) -> dict[str, Any]:
    now = runtime.clock.now()
    tz = runtime.config.tz
    upcoming = []
    if runtime.scheduler is not None:
        for target in runtime.scheduler.targets:
            nxt = next(target.cron.occurrences(now, now + timedelta(days=400), tz), None)
            upcoming.append(
                {
                    "schedule": target.name,
                    "function": target.function,
                    "next": nxt.astimezone(tz).isoformat() if nxt else None,
                }
            )
    return {
        "now": now.isoformat(),
        "local": now.astimezone(tz).isoformat(),
        "time_zone": runtime.config.time_zone,
        "offset_s": int(runtime.clock.offset.total_seconds()),
        "schedules": upcoming,
    }


def register(gateway: Gateway, runtime: LocalRuntime) -> None:
    from infra.local.runtime import BadRequest, parse_duration, parse_local_datetime

    def index(request: Request) -> Response:
        links = [
            ("/_local/docs", "API documentation"),
            ("/_local/outbox", "Outbox (email and SMS sent)"),
            ("/_local/clock", "Clock"),
            ("/_local/queues", "Queues"),
            ("/_local/stripe", "Stripe stand-in"),
        ]
        items = "".join(f"<li><a href='{href}'>{text}</a></li>" for href, text in links)
        return Response.html(200, _page(f"PropDesk local - {runtime.config.name.en}", f"<ul>{items}</ul>"))

    def docs(request: Request) -> Response:
        return Response.html(200, docs_page(runtime))

    def openapi(request: Request) -> Response:
        try:
            document = openapi_document(runtime)
        except Exception:
            log.exception("the api function's OpenAPI document failed")
            document = None
        return Response.json(200, document or manifest_openapi(runtime))

    def outbox_page(request: Request) -> Response:
        box = outbox.outbox()
        if parse_qs(request.query).get("format") == ["json"]:
            return Response.json(200, box)
        return Response.html(200, outbox.render_html(box))

    def clock_get(request: Request) -> Response:
        return Response.json(200, clock_state(runtime))

    def clock_post(request: Request) -> Response:
        body = _body_json(request)
        if ("advance" in body) == ("to" in body):
            raise BadRequest('send either {"advance": "P1D" | seconds} or {"to": "<local ISO datetime>"}')
        if "advance" in body:
            firings = runtime.advance(by=parse_duration(body["advance"]))
        else:
            firings = runtime.advance(to=parse_local_datetime(body["to"], runtime.config.tz))
        state = clock_state(runtime)
        state["fired"] = [
            {
                "schedule": f.target.name,
                "function": f.target.function,
                "at": f.at.astimezone(runtime.config.tz).isoformat(),
            }
            for f in firings
        ]
        return Response.json(200, state)

    def token(request: Request) -> Response:
        body = _body_json(request)
        roles = body.get("roles") or ([body["role"]] if body.get("role") else [manifest.ROLE_ADMIN])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise BadRequest("roles must be a list of role names")
        ttl_s = body.get("ttl_s", 3600)
        if not isinstance(ttl_s, int) or not 60 <= ttl_s <= 7 * 24 * 3600:
            raise BadRequest("ttl_s must be seconds between 60 and 604800")
        sub = body.get("sub")
        if sub is not None and (not isinstance(sub, str) or not 1 <= len(sub) <= 128):
            raise BadRequest("sub must be a short string")
        jwt_text = runtime.mint_token(roles, sub=sub, ttl_s=ttl_s)
        expires = datetime.now(UTC) + timedelta(seconds=ttl_s)
        return Response.json(200, {"token": jwt_text, "roles": roles, "expires_at": expires.isoformat()})

    def queues(request: Request) -> Response:
        return Response.json(
            200,
            {
                "queues": runtime.queue_depths(),
                "pollers": {
                    p.queue: {"function": p.function, "processed": p.processed, "failed": p.failures}
                    for p in runtime.pollers
                },
            },
        )

    def drain(request: Request) -> Response:
        body = _body_json(request)
        timeout = body.get("timeout_s", 60)
        if not isinstance(timeout, int | float) or not 0 < timeout <= 600:
            raise BadRequest("timeout_s must be between 0 and 600")
        drained = runtime.wait_until_drained(float(timeout))
        return Response.json(200 if drained else 504, {"drained": drained, "queues": runtime.queue_depths()})

    def health(request: Request) -> Response:
        functions = {
            name: "ready" if runtime.functions.available(name) else f"missing: {why}"
            for name, why in ((n, runtime.functions.missing.get(n, "")) for n in runtime.functions.specs)
        }
        return Response.json(
            200, {"ok": runtime.started, "functions": functions, "units": runtime.units_imported}
        )

    def stripe_info(request: Request) -> Response:
        assert runtime.standin is not None
        deliveries = [
            {
                "event_id": d.event_id,
                "session_id": d.session_id,
                "delivered": d.delivered,
                "attempts": d.attempts,
            }
            for d in runtime.standin.deliveries
        ]
        return Response.json(
            200,
            {
                "api_base": runtime.stripe_base_url,
                "webhook_url": runtime.standin.webhook_url,
                "webhook_signing_secret": runtime.secrets.stripe_webhook_secret,
                "deliveries": deliveries,
            },
        )

    routes = {
        ("GET", "/"): index,
        ("GET", "/_local/docs"): docs,
        ("GET", "/_local/openapi.json"): openapi,
        ("GET", "/_local/outbox"): outbox_page,
        ("GET", "/_local/clock"): clock_get,
        ("POST", "/_local/clock"): clock_post,
        ("POST", "/_local/token"): token,
        ("GET", "/_local/queues"): queues,
        ("POST", "/_local/drain"): drain,
        ("GET", "/_local/health"): health,
        ("GET", "/_local/stripe"): stripe_info,
    }
    for (method, path), handler in routes.items():
        gateway.route_local(method, path, _guard(handler))
