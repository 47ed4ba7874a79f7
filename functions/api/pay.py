"""Owner pay pages: /pay/{token}, /pay/{token}/checkout, /pay/{token}/return (HTML).

The token is the only credential: every route opens it through the service, and every
refusal shows the same not-found page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from api.responses import html, redirect
from propdesk.payments.stripe_provider import ProviderUnavailable
from propdesk.services import checkout
from propdesk.settings import get_settings
from propdesk.web import pages

router = Router()

_HTML = {"text/html": {"schema": {"type": "string"}}}
_PAGE_RESPONSES = {
    200: {"description": "The page", "content": _HTML},
    404: {"description": "Link unknown, altered, expired or for another unit", "content": _HTML},
}
Lang = Annotated[str | None, Query(max_length=16, description="Page language: zh-CN or en")]


def _form_lang() -> str | None:
    try:
        body = router.current_event.decoded_body or ""
    except (ValueError, UnicodeDecodeError):
        return None
    values = parse_qs(body, max_num_fields=10).get("lang")
    return values[0] if values else None


@router.get(
    "/pay/<token>",
    summary="The owner's bill",
    description="Itemised bill with total, due date and status; Pay button while open.",
    responses=_PAGE_RESPONSES,
    tags=["Owner pages"],
)
def bill_page(token: str, lang: Lang = None) -> Response[str]:
    config = get_settings().property_config
    opened = checkout.owner_bill(token, lang=lang, now=datetime.now(UTC), config=config)
    return html(200, pages.render_bill_page(opened.bill, config=config, locale=opened.locale, token=token))


@router.post(
    "/pay/<token>/checkout",
    summary="Start paying the bill",
    description="Creates a fresh Stripe Checkout Session and redirects to it (303); a paid bill "
    "redirects back to its page.",
    responses={
        303: {"description": "To Stripe Checkout, or back to the bill page"},
        404: _PAGE_RESPONSES[404],
        503: {"description": "Payment provider unavailable", "content": _HTML},
    },
    tags=["Owner pages"],
)
def start_checkout(token: str) -> Response[str]:
    config = get_settings().property_config
    lang = _form_lang()
    now = datetime.now(UTC)
    try:
        started = checkout.start_checkout(token, lang=lang, now=now, config=config)
    except ProviderUnavailable:
        opened = checkout.owner_bill(token, lang=lang, now=now, config=config)
        page = pages.render_bill_page(
            opened.bill, config=config, locale=opened.locale, token=token, notice="unavailable_body"
        )
        return html(503, page, headers={"Retry-After": "30"})
    return redirect(started.redirect_url)


@router.get(
    "/pay/<token>/return",
    summary="Back from Checkout",
    description="Thanks the owner and shows whether the payment is confirmed yet.",
    responses=_PAGE_RESPONSES,
    tags=["Owner pages"],
)
def checkout_return(
    token: str,
    lang: Lang = None,
    session_id: Annotated[str | None, Query(max_length=255, description="Stripe's session id")] = None,
) -> Response[str]:
    config = get_settings().property_config
    opened = checkout.owner_bill(token, lang=lang, now=datetime.now(UTC), config=config)
    return html(200, pages.render_return_page(opened.bill, config=config, locale=opened.locale, token=token))
