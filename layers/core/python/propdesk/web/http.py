"""How an HTTP function serves the route table: the authorization step, then the resolver.

``serve`` runs ``Access.check`` on the event and answers a refusal itself; otherwise it hands
the caller to the routes through the resolver's context and resolves. ``endpoint`` registers a
Powertools route from its entry in the route table (method, path, summary, tag, security and the
answers its audience implies), so the path and the documentation are written once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from re import Match
from typing import Any
from urllib.parse import quote, unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, BaseRouter
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from propdesk import routes
from propdesk.web.access import CALLER, Access, Refused
from propdesk.web.schemas import ErrorBody, WeChatPayFailure

HTML = "text/html"
JSON = "application/json"
TEXT = "text/plain"
STAFF_SECURITY_SCHEME = "staff"

Refusal = Callable[[Refused, Mapping[str, Any]], Response]
Failure = Callable[[Mapping[str, Any]], Response]


class Resolver(APIGatewayHttpResolver):
    """The HTTP API resolver of PropDesk's functions.

    Path parameters reach the resolver percent-encoded (it matches the raw path, as API Gateway
    sends it); they are decoded once here, before validation, so a route gets ``A-101#2027-01``
    for ``A-101%232027-01`` and a length limit counts characters, not escapes. Query parameters a
    route does not declare are refused (422), except on owner pages and public pages, whose links
    may carry tracking parameters.
    """

    def __init__(self) -> None:
        super().__init__(enable_validation=True)
        self.use(middlewares=[refuse_unknown_query_parameters])

    def _convert_matches_into_route_keys(self, match: Match) -> dict[str, str]:
        return {name: unquote(value) for name, value in match.groupdict().items()}


def _takes_any_query(route: routes.Route) -> bool:
    """Pages people open from a link (an owner's page, a public GET page shared in a chat group)
    may carry tracking parameters the sender added: those are ignored, not refused."""
    return isinstance(route.audience, routes.OwnerLink) or (
        isinstance(route.audience, routes.Public) and route.method == "GET"
    )


def refuse_unknown_query_parameters(app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response:
    route = routes.find(f"{app.request.method} {app.request.route}")
    sent = set(app.current_event.query_string_parameters or {})
    if sent and route is not None and not _takes_any_query(route):
        declared = {param.alias for param in app.context["_route"].dependant.query_params}
        unknown = sorted(sent - declared)
        if unknown:
            raise RequestValidationError(
                [
                    {
                        "type": "extra_forbidden",
                        "loc": ("query", name),
                        "msg": "Not a parameter of this route",
                    }
                    for name in unknown
                ]
            )
    return next_middleware(app)


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
        route, caller = access.check(event)
        canonical = with_canonical_path(event, route)
    except Refused as refused:
        return proxy_result(refusal(refused, event))
    except Exception:
        return proxy_result(failed(event))
    app.append_context(**{CALLER: caller})
    return app.resolve(canonical, context)


def with_canonical_path(event: dict[str, Any], route: routes.Route) -> dict[str, Any]:
    """The event with its path rebuilt from the route that was authorized and the path
    parameters API Gateway decoded, each percent-encoded once. The resolver then runs exactly the
    route the caller was checked for, whatever the raw path looked like (encoded or not, with
    characters a resolver pattern would not match); its original stays in requestContext."""
    parameters = event.get("pathParameters") or {}
    path = route.path
    for name in route.path_parameters:
        value = parameters.get(name)
        if not isinstance(value, str) or not value:
            raise Refused("no_route", route)
        path = path.replace("{" + name + "}", quote(value, safe=""))
    return {**event, "rawPath": path}


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {HTML: {"schema": {"type": "string"}}}}


def _json_error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"model": ErrorBody}}}


def _wechatpay_failure(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"model": WeChatPayFailure}}}


def documented_responses(route: routes.Route, *, status_code: int, html: bool) -> dict[int, Any]:
    """Every answer the route gives: success, its audience's refusals, size, validation, its own."""
    error = _html if html else _json_error
    audience = route.audience
    if isinstance(audience, routes.ProviderSignature) and audience.provider == "alipay":
        # Alipay reads only the body of a 200: every answer, refusals included, is success or fail.
        return {
            200: {"description": route.summary, "content": {TEXT: {"schema": {"enum": ["success", "fail"]}}}}
        }
    if isinstance(audience, routes.ProviderSignature) and audience.provider == "wechat_pay":
        # WeChat Pay's own failure format, for every refusal and failure (it delivers again).
        error = _wechatpay_failure

    def success(description: str) -> dict[str, Any]:
        # JSON successes take their schema from the route's return annotation.
        return _html(description) if html else {"description": description}

    answers: dict[int, Any] = {status_code: success(route.summary)}
    if isinstance(audience, routes.Staff):
        answers[401] = _json_error("No staff token, or one that is not valid")
        answers[403] = _json_error("The caller's role may not use this route")
    elif isinstance(audience, routes.OwnerLink):
        answers[404] = _html("Link unknown, altered, expired or for another unit")
    elif isinstance(audience, routes.ProviderSignature):
        answers[400] = error("Signature missing or not valid, or a body that is not the provider's")
    if route.method != "GET":
        answers[413] = error(
            f"Body larger than {route.max_body_bytes} bytes"
            if route.max_body_bytes
            else "This route takes no body"
        )
        if route.max_body_bytes:
            answers.setdefault(400, error("The body is not UTF-8 text, or its JSON nests too deeply"))
            answers.setdefault(415, error("The body is not of a media type this route reads"))
    answers[422] = error("The request is not valid: each problem with its field")
    for status, description in route.responses.items():
        if status < 300:
            answers[status] = success(description)
        elif status < 400:
            answers[status] = {"description": description, "content": {}}  # a redirect has no body
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
        description=f"{route.description}\n\n**Who may call it:** {route.who}.".strip(),
        tags=[route.tag],
        operation_id=route.key,
        security=[{STAFF_SECURITY_SCHEME: []}] if staff else None,
        responses=documented_responses(route, status_code=status_code, html=html),
        status_code=status_code,
    )
