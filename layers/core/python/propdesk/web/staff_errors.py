"""The API's JSON answers, shared by every function that serves JSON routes.

Errors are ``{"error": <code>, "message": <sentence>, ...}`` with the same codes and wording
everywhere (``propdesk.web.schemas.ErrorBody``), and validation errors carry
``details: [{"field", "problem"}]`` without the submitted values. (API Gateway's own 401,
``{"message": "Unauthorized"}``, which the local gateway mimics, is not one of these.)
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from propdesk.web.access import Refused

JSON_HEADERS = {"Cache-Control": "no-store"}

UNAUTHORIZED = "A staff sign-in token is required."
FORBIDDEN = "Your role may not use this route."
NO_SUCH_ROUTE = "No such route."
INVALID_REQUEST = "The request is not valid."
INTERNAL_ERROR = "Something went wrong; please try again."
INVALID_SIGNATURE = "The signature is not valid."

# Where a value came from; dropped from a detail's field when a name follows ("period", not "query.period").
_SOURCES = frozenset({"body", "query", "path"})


class ErrorAnswer(Exception):
    """A route's error answer (``raise ErrorAnswer(json_error(...))``). Raised, not returned: the
    resolver checks what a route returns against the route's success model (``Response[BillDetail]``),
    which an error body is not. Each function's exception handler answers ``response`` as it is."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def json_error(status: int, error: str, message: str, **extra: Any) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": error, "message": message, **extra},
        headers=dict(JSON_HEADERS),
    )


def json_ok(body: Any, status: int = 200) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers=dict(JSON_HEADERS),
    )


def unauthorized() -> Response:
    return json_error(401, "unauthorized", UNAUTHORIZED)


def forbidden() -> Response:
    return json_error(403, "forbidden", FORBIDDEN)


def refusal(refused: Refused) -> Response:
    """The JSON answer to a request the authorization step refused."""
    if refused.kind == "unauthenticated":
        return unauthorized()
    if refused.kind == "forbidden":
        return forbidden()
    if refused.kind == "too_large":
        return too_large(refused.limit or 0)
    if refused.kind == "bad_signature":
        return json_error(400, "invalid_signature", INVALID_SIGNATURE)
    if refused.kind == "too_deep":
        return json_error(400, "invalid_body", f"The JSON is nested more than {refused.limit} levels deep.")
    if refused.kind == "unsupported_media_type":
        return unsupported_media_type(
            refused.route.body.accepts if refused.route and refused.route.body else ()
        )
    if refused.kind == "bad_payload":
        return json_error(400, "invalid_body", "The body is not a notification this route reads.")
    return no_such_route()


def no_such_route() -> Response:
    return json_error(404, "not_found", NO_SUCH_ROUTE)


def unsupported_media_type(accepted: tuple[str, ...] = ("application/json",)) -> Response:
    return json_error(415, "unsupported_media_type", f"Send the body as {' or '.join(accepted) or 'JSON'}.")


def invalid_encoding() -> Response:
    return json_error(400, "invalid_encoding", "The body must be UTF-8 text.")


def too_large(limit: int) -> Response:
    return json_error(413, "too_large", f"The body is larger than {limit} bytes.")


def internal_error() -> Response:
    return json_error(500, "internal_error", INTERNAL_ERROR)


def _field(error: dict[str, Any]) -> str:
    parts = list(error.get("loc") or ())
    if error.get("type") == "json_invalid":
        # loc is ("body", <character offset>): the body as a whole is not JSON.
        return str(parts[0]) if parts else "body"
    # "body.kind" -> "kind", "query.period" -> "period"; a bare "body" (wrong shape) stays "body".
    if len(parts) > 1 and parts[0] in _SOURCES:
        parts = parts[1:]
    return ".".join(str(part) for part in parts) or "request"


def validation_details(exc: RequestValidationError) -> list[dict[str, str]]:
    """Where and what, per error; never the submitted value (it may be free text or personal data)."""
    return [{"field": _field(error), "problem": str(error.get("msg") or "invalid")} for error in exc.errors()]


def invalid_request(exc: RequestValidationError) -> Response:
    return json_error(422, "invalid_request", INVALID_REQUEST, details=validation_details(exc))
