"""The HTTP API function: owner pay pages (HTML) and staff routes (JSON).

Routes live in ``api.pay`` and ``api.staff``; this module wires them into one resolver,
maps errors to clear 4xx answers (HTML for owners, JSON for staff) and never lets a stack
trace out. ``openapi_json()`` gives the local runtime the OpenAPI document; the deployed API
serves no documentation route.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from api import pay, staff
from api.responses import html
from propdesk.auth import NotAllowed, NotAuthenticated
from propdesk.domain.calendar import InvalidPeriod
from propdesk.services.checkout import PayLinkRefused
from propdesk.settings import get_settings
from propdesk.web import pages, staff_errors
from propdesk.web.staff_errors import json_error

logger = Logger()
tracer = Tracer()

app = APIGatewayHttpResolver(enable_validation=True)
app.include_router(pay.router)
app.include_router(staff.router)
# 401/403 in the staff API's shared wording (the same as the tickets function's).
staff_errors.register_auth_handlers(app)

# Largest bodies accepted: the units CSV (a few hundred kB for thousands of units), else small forms.
MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_BODY_BYTES = 16 * 1024


def _is_owner_page() -> bool:
    return app.current_event.path.startswith("/pay/")


def _page_locale() -> str:
    requested = app.current_event.get_query_string_value("lang")
    return pages.choose_locale(requested, None, get_settings().property_config.default_locale)


def _not_found_page() -> Response:
    return html(404, pages.render_not_found(_page_locale()))


def _body_size() -> int:
    body = app.current_event.body or ""
    if app.current_event.is_base64_encoded:
        return len(body) * 3 // 4
    return len(body.encode("utf-8"))


def limit_body_size(app: APIGatewayHttpResolver, next_middleware: Any) -> Response:
    limit = MAX_IMPORT_BYTES if app.current_event.path == "/staff/units/import" else MAX_BODY_BYTES
    if _body_size() > limit:
        if _is_owner_page():
            return html(413, pages.render_error(_page_locale()))
        return staff_errors.too_large(limit)
    return next_middleware(app)


app.use(middlewares=[limit_body_size])


@app.exception_handler(PayLinkRefused)
def _refused_link(_: PayLinkRefused) -> Response:
    # Same page and status whatever the reason: nothing about other units leaks.
    return _not_found_page()


@app.exception_handler(NotFoundError)
def _no_route(_: NotFoundError) -> Response:
    if _is_owner_page():
        return _not_found_page()
    return staff_errors.no_such_route()


@app.exception_handler(RequestValidationError)
def _invalid_request(exc: RequestValidationError) -> Response:
    if _is_owner_page():
        return html(422, pages.render_error(_page_locale()))
    # Who is asking comes before what they asked: no token -> 401 even with bad input.
    try:
        staff.authorize(app)
    except (NotAuthenticated, NotAllowed) as denied:
        return staff_errors.refusal(denied)
    return staff_errors.invalid_request(exc)


@app.exception_handler(InvalidPeriod)
def _invalid_period(exc: InvalidPeriod) -> Response:
    return json_error(400, "invalid_period", str(exc))


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response:
    # Logged with its trace for us; the caller gets a plain answer without details.
    logger.exception("request failed", error_type=type(exc).__name__)
    if _is_owner_page():
        return html(500, pages.render_error(_page_locale()))
    return staff_errors.internal_error()


def openapi_json() -> str:
    """The OpenAPI document of this function's routes (the local runtime serves it as docs)."""
    return app.get_openapi_json_schema(
        title="PropDesk API",
        version="1.0.0",
        description="Owner pay pages (signed links) and the staff API (Cognito JWT with role groups).",
        security_schemes={
            "staff": HTTPBearer(bearerFormat="JWT", description="Cognito ID token of a staff user")
        },
    )


def openapi_document() -> dict[str, Any]:
    return json.loads(openapi_json())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
