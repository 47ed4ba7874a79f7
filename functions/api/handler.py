"""The HTTP API function: owner pay pages (HTML) and the staff API (JSON).

Its routes are the route table's ``api`` routes, served by its routers (``api.pay``,
``api.staff``, ``api.desk``, ``api.bank``, ``api.refunds``, ``api.tickets``, ``api.visits``,
``api.standards``). Every request
first passes the authorization step
(``propdesk.web.access``): a refused one is answered here (HTML for owner pages, JSON for
staff), and errors map to clear 4xx answers; no stack trace ever leaves.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from api import bank, desk, pay, refunds, staff, standards, tickets, visits
from api.responses import html
from propdesk import routes
from propdesk.domain.calendar import InvalidPeriod
from propdesk.payments.links import PayLink, pay_links
from propdesk.services.checkout import PayLinkRefused
from propdesk.settings import Settings, get_settings, load_at_cold_start
from propdesk.web import pages, staff_errors
from propdesk.web.access import Access, Refused
from propdesk.web.http import Resolver, serve
from propdesk.web.staff_errors import ErrorAnswer, json_error

logger = Logger()
tracer = Tracer()

ROUTERS = (
    pay.router,
    staff.router,
    desk.router,
    bank.router,
    refunds.router,
    tickets.router,
    visits.router,
    standards.router,
)


class HandlerSettings(Settings):
    """What the api function cannot work without (its spec in infra/manifest.py provides it)."""

    bills_table: str
    accounts_table: str
    payments_table: str
    counters_table: str
    units_table: str
    owners_table: str
    ledger_table: str
    tickets_table: str
    refunds_table: str
    notices_queue_url: str
    tickets_queue_url: str
    messages_queue_url: str
    documents_bucket: str
    visits_table: str
    orders_table: str
    statements_table: str
    mandates_table: str
    cycles_table: str
    links_table: str
    standards_table: str
    mandates_key: str
    stripe_secret_name: str
    wechatpay_secret_name: str
    alipay_secret_name: str
    link_key_secret_name: str
    public_url_parameter: str


load_at_cold_start(HandlerSettings)

app = Resolver()
for _router in ROUTERS:
    app.include_router(_router)


def _verify_link(token: str, now: datetime) -> PayLink:
    return pay_links().verify(token, now=now)


access = Access(function="api", links=_verify_link)


def is_owner_page(event: Mapping[str, Any]) -> bool:
    """Whether the request is for a page (answered with pages, not JSON), by its route: the owner's
    pay pages and the public fee standard pages."""
    route = routes.find(str(event.get("routeKey") or ""))
    return route is not None and route.path.startswith(("/pay/", "/p/", "/standards/"))


def _is_owner_page() -> bool:
    return is_owner_page(app.current_event.raw_event)


def _page_locale(event: Mapping[str, Any] | None = None) -> str:
    if event is None:
        requested = app.current_event.get_query_string_value("lang")
    else:
        requested = (event.get("queryStringParameters") or {}).get("lang")
    return pages.choose_locale(requested, None, get_settings().property_config.default_locale)


def failed(event: Mapping[str, Any]) -> Response:
    """A failure before the route ran (a secret that cannot be read): logged, answered plainly."""
    logger.exception("request failed before its route")
    if is_owner_page(event):
        return html(500, pages.render_error(_page_locale(event)))
    return staff_errors.internal_error()


def refusal(refused: Refused, event: Mapping[str, Any]) -> Response:
    """Owner pages answer with a page in the owner's language; staff routes with JSON."""
    if is_owner_page(event):
        if refused.kind in ("too_large", "too_deep", "unsupported_media_type"):
            return html(refused.status, pages.render_error(_page_locale(event)))
        # Same page and status whatever the reason: nothing about other units leaks.
        return html(404, pages.render_not_found(_page_locale(event), get_settings().property_config))
    return staff_errors.refusal(refused)


@app.exception_handler(ErrorAnswer)
def _error_answer(answer: ErrorAnswer) -> Response:
    return answer.response


@app.exception_handler(PayLinkRefused)
def _refused_link(_: PayLinkRefused) -> Response:
    return html(404, pages.render_not_found(_page_locale(), get_settings().property_config))


@app.exception_handler(NotFoundError)
def _no_route(_: NotFoundError) -> Response:
    if _is_owner_page():
        return html(404, pages.render_not_found(_page_locale(), get_settings().property_config))
    return staff_errors.no_such_route()


@app.exception_handler(RequestValidationError)
def _invalid_request(exc: RequestValidationError) -> Response:
    if _is_owner_page():
        return html(422, pages.render_error(_page_locale()))
    return staff_errors.invalid_request(exc)


@app.exception_handler(RequestUnsupportedContentType)
def _unsupported_media_type(_: RequestUnsupportedContentType) -> Response:
    if _is_owner_page():
        return html(415, pages.render_error(_page_locale()))
    return staff_errors.unsupported_media_type()


@app.exception_handler(UnicodeDecodeError)
def _not_utf8(_: UnicodeDecodeError) -> Response:
    # A body (JSON, form) that is not UTF-8: a clear 400, not a failure.
    if _is_owner_page():
        return html(400, pages.render_error(_page_locale()))
    return staff_errors.invalid_encoding()


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


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    get_settings(HandlerSettings)
    return serve(app, event, context, access=access, refusal=refusal, failed=failed)
