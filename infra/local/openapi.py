"""The one OpenAPI document of the property's API, built from the functions' own routers.

Every route of the route table is in it: the resolver generates each operation from the route's
handler (parameters, request and response models, the answers ``endpoint`` declared), and the
route table adds what only it knows: who may call the route (``x-propdesk-audience``), and the
bodies a function reads itself (the units CSV, the providers' signed notifications) with an
example. A route in the table that no router serves, or the reverse, is an error here.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from propdesk import routes
from propdesk.web.http import STAFF_SECURITY_SCHEME, Resolver

TITLE = "PropDesk API"
DESCRIPTION = (
    "One property's API: the owners' pay pages (opened with the signed link in a notice), the staff "
    "API (a Cognito ID token of a staff user, `Authorization: Bearer <JWT>`; each route names the roles "
    "that may call it) and the payment providers' notifications (signed by the provider)."
)


class DocumentMismatch(AssertionError):
    """The routers and the route table disagree about which routes exist."""


def _routers() -> list[Any]:
    from api.handler import ROUTERS as API_ROUTERS
    from payment_webhook.handler import ROUTERS as WEBHOOK_ROUTERS

    return [*API_ROUTERS, *WEBHOOK_ROUTERS]


def _audience(route: routes.Route) -> dict[str, Any]:
    audience = route.audience
    described: dict[str, Any] = {"kind": audience.kind}
    if isinstance(audience, routes.Staff):
        described["roles"] = list(audience.roles)
    if isinstance(audience, routes.ProviderSignature):
        described["provider"] = audience.provider
    return described


def document(server_url: str | None = None) -> dict[str, Any]:
    app = Resolver()
    routers = _routers()
    # include_router points each router at the resolver that includes it last (its current event
    # and context come from there): hand them back to their functions' resolvers afterwards.
    resolvers = [router.api_resolver for router in routers]
    try:
        for router in routers:
            app.include_router(router)
        text = app.get_openapi_json_schema(
            title=TITLE,
            version="1.0.0",
            description=DESCRIPTION,
            servers=[{"url": server_url}] if server_url else None,  # type: ignore[list-item]
            security_schemes={
                STAFF_SECURITY_SCHEME: HTTPBearer(
                    bearerFormat="JWT", description="Cognito ID token of a staff user"
                )
            },
        )
    finally:
        for router, resolver in zip(routers, resolvers, strict=True):
            router.api_resolver = resolver
    spec = json.loads(text)
    paths: dict[str, Any] = spec.get("paths", {})
    served = {(path, method.upper()) for path, operations in paths.items() for method in operations}
    declared = {(route.path, route.method) for route in routes.ROUTES}
    if served != declared:
        raise DocumentMismatch(
            f"served but not in the route table: {sorted(served - declared)}; "
            f"in the route table but not served: {sorted(declared - served)}"
        )
    for route in routes.ROUTES:
        operation = paths[route.path][route.method.lower()]
        operation["x-propdesk-audience"] = _audience(route)
        operation["x-propdesk-function"] = route.function
        operation["x-propdesk-max-body-bytes"] = route.max_body_bytes
        if route.body is not None:
            body_schema = dict(route.body.schema)
            spec.setdefault("components", {}).setdefault("schemas", {}).update(body_schema.pop("$defs", {}))
            operation["requestBody"] = {
                "required": True,
                "description": route.body.description,
                "content": {route.body.media_type: {"schema": body_schema, "example": route.body.example}},
            }
    return spec
