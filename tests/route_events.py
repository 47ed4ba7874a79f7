"""Requests to the route table's routes, as API Gateway delivers them to a function.

Built on the one event builder (``infra.local.events.http_event``), with the route's method,
path template and path parameters taken from the route table, so a test's event carries the
``routeKey`` API Gateway would match.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from infra.local.events import LambdaContext, http_event, staff_claims
from propdesk import routes

__all__ = ["LambdaContext", "route_event", "staff_claims"]


def route_event(
    key: str,
    *,
    params: Mapping[str, str] | None = None,
    query: str | Mapping[str, str] | None = None,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    roles: tuple[str, ...] | None = None,
    claims: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The event for route ``key``. ``params`` fill its path; ``roles`` (or ``claims``) are a
    signed-in staff user's, as the JWT authorizer passes them on; a ``body`` that is not text or
    bytes is sent as JSON."""
    route = routes.route(key)
    params = dict(params or {})
    path = route.path
    for name in route.path_parameters:
        path = path.replace("{" + name + "}", quote(params[name], safe=""))
    all_headers = {k.lower(): v for k, v in (headers or {}).items()}
    if body is not None and not isinstance(body, str | bytes):
        body = json.dumps(body)
        all_headers.setdefault("content-type", "application/json")
    if roles is not None and claims is None:
        claims = staff_claims(*roles)
    return http_event(
        route.method,
        path,
        route=route.path,
        path_parameters=params or None,
        query=query,
        headers=all_headers,
        body=body,
        claims=claims,
    )
