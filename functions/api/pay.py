"""Owner pay pages: /pay/{token}, /pay/{token}/checkout, /pay/{token}/return (HTML).

The token is the only credential. The authorization step has verified it before a route runs
(a refused token gets the one not-found page); the routes read the verified link from the
caller and open its bill through the checkout service.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Form, Path, Query

from api.responses import html, redirect
from propdesk.payments.links import MAX_TOKEN_LENGTH, pay_links
from propdesk.payments.stripe_provider import ProviderUnavailable
from propdesk.services import checkout
from propdesk.settings import get_settings
from propdesk.web import pages
from propdesk.web.access import LinkHolder, caller_of
from propdesk.web.http import endpoint

router = Router()

Token = Annotated[
    str,
    Path(
        max_length=MAX_TOKEN_LENGTH,
        description="The signed pay-link token from the owner's notice",
        examples=["eyJiIjoiQS0xMjAzIzIwMjctMDEiLCJ1IjoiQS0xMjAzIiwiZSI6MTc5ODY5NTIxMX0.opGneZVZ05ccVPWXeRF9"],
    ),
]
Lang = Annotated[str | None, Query(max_length=16, description="Page language: zh-CN or en", examples=["en"])]
FormLang = Annotated[
    str | None, Form(max_length=16, description="Page language: zh-CN or en", examples=["zh-CN"])
]


def _holder() -> LinkHolder:
    holder = caller_of(router.context)
    assert isinstance(holder, LinkHolder)
    return holder


@endpoint(router, "bill_page", html=True)
def bill_page(token: Token, lang: Lang = None) -> Response[str]:
    config = get_settings().property_config
    holder = _holder()  # the verified token: every link on the page carries it
    opened = checkout.owner_bill(holder.link, lang=lang, config=config)
    return html(
        200, pages.render_bill_page(opened.bill, config=config, locale=opened.locale, token=holder.token)
    )


@endpoint(router, "start_checkout", status_code=303, html=True)
def start_checkout(token: Token, lang: FormLang = None) -> Response[str]:
    config = get_settings().property_config
    holder = _holder()
    try:
        started = checkout.start_checkout(
            holder.link,
            token=holder.token,
            lang=lang,
            now=datetime.now(UTC),
            config=config,
            links=pay_links(),
        )
    except ProviderUnavailable:
        opened = checkout.owner_bill(holder.link, lang=lang, config=config)
        page = pages.render_bill_page(
            opened.bill, config=config, locale=opened.locale, token=holder.token, notice="unavailable_body"
        )
        return html(503, page, headers={"Retry-After": "30"})
    return redirect(started.redirect_url)


@endpoint(router, "checkout_return", html=True)
def checkout_return(
    token: Token,
    lang: Lang = None,
    session_id: Annotated[str | None, Query(max_length=255, description="Stripe's session id")] = None,
) -> Response[str]:
    config = get_settings().property_config
    holder = _holder()
    opened = checkout.owner_bill(holder.link, lang=lang, config=config)
    return html(
        200, pages.render_return_page(opened.bill, config=config, locale=opened.locale, token=holder.token)
    )
