"""The runtime's own endpoints on the gateway (under ``/_local/``): clock, staff tokens, outbox,
queues, the API documentation (Swagger UI on the OpenAPI document, assets served from here).

These exist only locally; the deployed API has none of them. They reach the runtime through the
small ``Runtime`` protocol below, so this module does not import the runtime.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs

import aws_lambda_powertools.event_handler.openapi.swagger_ui as swagger_ui

from infra import manifest
from infra.local import openapi, outbox, pages
from infra.local.gateway import Gateway, Request, Response
from infra.local.inputs import BadRequest, json_object, parse_duration, parse_local_datetime
from propdesk.config import PropertyConfig
from propdesk.routes import ROLE_ADMIN

log = logging.getLogger("propdesk.local.endpoints")

# Swagger UI's assets ship inside Powertools (its own Swagger UI uses them): no CDN, no download.
SWAGGER_UI = Path(swagger_ui.__file__).resolve().parent
STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {
    "/_local/docs/swagger-ui-bundle.js": (SWAGGER_UI / "swagger-ui-bundle.min.js", "text/javascript"),
    "/_local/docs/swagger-ui.css": (SWAGGER_UI / "swagger-ui.min.css", "text/css"),
    "/_local/docs/start.js": (STATIC / "start.js", "text/javascript"),
}

LOCAL_ROUTES = (
    ("GET", "/_local/outbox", "email and SMS sent (?format=json)"),
    ("GET", "/_local/clock", "the simulated time and the next schedule runs"),
    (
        "POST",
        "/_local/clock",
        '{"advance": "P1D"} or {"to": "2027-01-17T09:00"} (property time zone): moves the clock forward '
        "and fires every schedule passed, in order",
    ),
    ("POST", "/_local/token", '{"role": "admin"} -> a staff JWT'),
    ("GET", "/_local/queues", "queue and dead-letter queue depths"),
    ("POST", "/_local/drain", "waits until every queue is processed"),
    ("GET", "/_local/health", "whether every function started"),
    ("GET", "/_local/stripe", "the Stripe stand-in: webhook secret and deliveries"),
    (
        "POST",
        "/_local/ses/feedback",
        '{"to": "<address>", "kind": "bounce" | "complaint"}: SES reports the newest e-mail to it',
    ),
    (
        "POST",
        "/_local/sms/failure",
        '{"to": "<number>", "response": "Invalid phone number"}: SNS logs the newest SMS to it failed',
    ),
)


class Runtime(Protocol):
    """What the endpoints need of the local runtime."""

    config: PropertyConfig
    started: bool
    units_imported: str

    @property
    def base_url(self) -> str: ...

    def clock_state(self) -> dict[str, Any]: ...

    def advance(self, *, to: datetime | None = None, by: timedelta | None = None) -> list[Any]: ...

    def mint_token(self, roles: list[str], *, sub: str | None = None, ttl_s: int = 3600) -> str: ...

    def queue_depths(self) -> dict[str, dict[str, int]]: ...

    def poller_counts(self) -> dict[str, dict[str, Any]]: ...

    def wait_until_drained(self, timeout_s: float | None = None) -> bool: ...

    def function_states(self) -> dict[str, str]: ...

    def stripe_state(self) -> dict[str, Any]: ...


def _guard(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
    """Runtime endpoint errors as 400 JSON, like the API's own clear 4xx answers."""

    def wrapped(request: Request) -> Response:
        try:
            return handler(request)
        except BadRequest as exc:
            return Response.json(400, {"message": str(exc)})

    return wrapped


def register(gateway: Gateway, runtime: Runtime) -> None:
    def index(request: Request) -> Response:
        links = [
            ("/_local/docs", "API documentation"),
            ("/_local/outbox", "Outbox (email and SMS sent)"),
            ("/_local/clock", "Clock"),
            ("/_local/queues", "Queues"),
            ("/_local/stripe", "Stripe stand-in"),
        ]
        return Response.html(200, pages.render("index.html", title=runtime.config.name.en, links=links))

    def docs(request: Request) -> Response:
        page = pages.render(
            "docs.html",
            title=f"PropDesk API - {runtime.config.name.en}",
            base_url=runtime.base_url,
            roles=manifest.staff_roles(runtime.config),
            local_routes=LOCAL_ROUTES,
        )
        return Response.html(200, page)

    def asset(request: Request) -> Response:
        path, content_type = ASSETS[request.path]
        return Response(
            200, [("Content-Type", content_type), ("Cache-Control", "max-age=3600")], path.read_bytes()
        )

    def openapi_json(request: Request) -> Response:
        return Response.json(200, openapi.document(runtime.base_url))

    def outbox_page(request: Request) -> Response:
        box = outbox.outbox()
        if parse_qs(request.query).get("format") == ["json"]:
            return Response.json(200, box)
        return Response.html(200, outbox.render_html(box))

    def clock_get(request: Request) -> Response:
        return Response.json(200, runtime.clock_state())

    def clock_post(request: Request) -> Response:
        body = json_object(request.body)
        if ("advance" in body) == ("to" in body):
            raise BadRequest('send either {"advance": "P1D" | seconds} or {"to": "<local ISO datetime>"}')
        if "advance" in body:
            firings = runtime.advance(by=parse_duration(body["advance"]))
        else:
            firings = runtime.advance(to=parse_local_datetime(body["to"], runtime.config.tz))
        state = runtime.clock_state()
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
        body = json_object(request.body)
        roles = body.get("roles") or ([body["role"]] if body.get("role") else [ROLE_ADMIN])
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
        return Response.json(200, {"queues": runtime.queue_depths(), "pollers": runtime.poller_counts()})

    def drain(request: Request) -> Response:
        body = json_object(request.body)
        timeout = body.get("timeout_s", 60)
        if not isinstance(timeout, int | float) or not 0 < timeout <= 600:
            raise BadRequest("timeout_s must be between 0 and 600")
        drained = runtime.wait_until_drained(float(timeout))
        return Response.json(200 if drained else 504, {"drained": drained, "queues": runtime.queue_depths()})

    def health(request: Request) -> Response:
        return Response.json(
            200,
            {"ok": runtime.started, "functions": runtime.function_states(), "units": runtime.units_imported},
        )

    def stripe_info(request: Request) -> Response:
        return Response.json(200, runtime.stripe_state())

    def ses_feedback(request: Request) -> Response:
        body = json_object(request.body)
        kind, to = body.get("kind", "bounce"), body.get("to")
        if kind not in ("bounce", "complaint") or not isinstance(to, str):
            raise BadRequest('send {"to": "<address>", "kind": "bounce" | "complaint"}')
        return Response.json(200, runtime.report_contact(kind=kind, to=to))

    def sms_failure(request: Request) -> Response:
        body = json_object(request.body)
        to, response = body.get("to"), body.get("response")
        if not isinstance(to, str) or not isinstance(response, str | None):
            raise BadRequest('send {"to": "<E.164 number>", "response": "Invalid phone number"}')
        return Response.json(200, runtime.report_contact(kind="sms_failure", to=to, response=response))

    routes = {
        ("GET", "/"): index,
        ("GET", "/_local/docs"): docs,
        ("GET", "/_local/openapi.json"): openapi_json,
        ("GET", "/_local/outbox"): outbox_page,
        ("GET", "/_local/clock"): clock_get,
        ("POST", "/_local/clock"): clock_post,
        ("POST", "/_local/token"): token,
        ("GET", "/_local/queues"): queues,
        ("POST", "/_local/drain"): drain,
        ("GET", "/_local/health"): health,
        ("GET", "/_local/stripe"): stripe_info,
        ("POST", "/_local/ses/feedback"): ses_feedback,
        ("POST", "/_local/sms/failure"): sms_failure,
        **{("GET", path): asset for path in ASSETS},
    }
    for (method, path), handler in routes.items():
        gateway.route_local(method, path, _guard(handler))
