"""How an HTTP function serves the route table: the authorization step, then the resolver.

``serve`` runs ``Access.check`` on the event and answers a refusal itself; otherwise it hands
the caller to the routes through the resolver's context and resolves. ``endpoint`` registers a
Powertools route from its entry in the route table (method, path, summary, tag, security and the
answers its audience implies), so the path and the documentation are written once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, BaseRouter

from propdesk import routes
from propdesk.web.access import CALLER, Access, Refused
from propdesk.web.schemas import ErrorBody

HTML = "text/html"
JSON = "application/json"
STAFF_SECURITY_SCHEME = "staff"

Refusal = Callable[[Refused, Mapping[str, Any]], Response]
Failure = Callable[[Mapping[str, Any]], Response]


def proxy_result(response: Response) -> dict[str, Any]:
    """A ``Response`` as the API Gateway proxy result the resolver would have produced."""
    body = response.body
    if not isinstance(body, str | bytes) and body is not None:
        body = json.dumps(body, separators=(",", ":"))
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    return {
        "statusCode": response.status_code,
        "headers": {k: v if isinstance(v, str) else ",".join(v) for k, v in response.headers.items()},
        "body": body or "",
        "isBase64Encoded": False,
    }


def serve(
    app: ApiGatewayResolver,
    event: dict[str, Any],
    context: Any,
    *,
    access: Access,
    refusal: Refusal,
    failed: Failure,
) -> dict[str, Any]:
    """Authorize, then resolve. ``failed`` answers an unexpected error of the authorization step
    itself (called inside the ``except``, so it can log the exception)."""
    try:
        _route, caller = access.check(event)
    except Refused as refused:
        return proxy_result(refusal(refused, event))
    except Exception:
        return proxy_result(failed(event))
    app.append_context(**{CALLER: caller})
    return app.resolve(event, context)


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {HTML: {"schema": {"type": "string"}}}}


def _json_error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"model": ErrorBody}}}


def documented_responses(route: routes.Route, *, status_code: int, html: bool) -> dict[int, Any]:
    """Every answer the route gives: success, its audience's refusals, size, validation, its own."""
    error = _html if html else _json_error
    answers: dict[int, Any] = {status_code: _html(route.summary) if html else {"description": route.summary}}
    audience = route.audience
    if isinstance(audience, routes.Staff):
        answers[401] = _json_error("No staff token, or one that is not valid")
        answers[403] = _json_error("The caller's role may not use this route")
    elif isinstance(audience, routes.OwnerLink):
        answers[404] = _html("Link unknown, altered, expired or for another unit")
    elif isinstance(audience, routes.ProviderSignature):
        answers[400] = _json_error("Signature missing or not valid, or a body that is not the provider's")
    if route.max_body_bytes and route.method != "GET":
        answers[413] = error(f"Body larger than {route.max_body_bytes} bytes")
    answers[422] = error("The request is not valid: each problem with its field")
    for status, description in route.responses.items():
        if 300 <= status < 400:
            answers[status] = {"description": description}
        else:
            answers[status] = error(description)
    return answers


def endpoint(router: BaseRouter, key: str, *, status_code: int = 200, html: bool = False) -> Callable:
    """Register the decorated function as the route ``key`` of the route table."""
    route = routes.route(key)
    staff = isinstance(route.audience, routes.Staff)
    return router.route(
        rule=route.rule,
        method=route.method,
        summary=route.summary,
        description=route.description or None,
        tags=[route.tag],
        operation_id=route.key,
        security=[{STAFF_SECURITY_SCHEME: []}] if staff else None,
        responses=documented_responses(route, status_code=status_code, html=html),
        status_code=status_code,
    )
