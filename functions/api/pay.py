"""Owner pay pages: /pay/{token} (the unit's account), /pay/{token}/checkout (pay one open
bill or all of them), /pay/{token}/return (back from Checkout) (HTML).

The token is the only credential. The authorization step has verified it before a route runs
(a refused token gets the one not-found page); the routes read the verified link from the
caller and open its unit's account through the checkout service.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Form, Path, Query

from api.responses import html, redirect
from propdesk.config import PropertyConfig
from propdesk.payments import rails as offered
from propdesk.payments.links import MAX_TOKEN_LENGTH, pay_links
from propdesk.payments.port import PaymentProvider, ProviderRefused, device_of
from propdesk.payments.port import ProviderUnavailable as RailUnavailable
from propdesk.services import (
    autopay,
    checkout,
    debit,
    invoices,
    notice_documents,
    rails,
    receipts,
    renewal,
    visits,
)
from propdesk.services.errors import DeskError
from propdesk.services.short_links import ShortLinks
from propdesk.settings import get_settings
from propdesk.store.bills import BillRepository
from propdesk.store.orders import OrderRepository
from propdesk.store.payments import PaymentRecord, PaymentRepository
from propdesk.web import pages
from propdesk.web.access import LinkHolder, caller_of
from propdesk.web.http import endpoint
from propdesk.web.schemas import IsoDate

router = Router()

Token = Annotated[
    str,
    Path(
        max_length=MAX_TOKEN_LENGTH,
        description="The signed pay-link token from the owner's notice",
        examples=["eyJiIjoiQS0xMjAzIzIwMjctMDEiLCJ1IjoiQS0xMjAzIiwiZSI6MTc5ODY5NTIxMX0.opGneZVZ05ccVPWXeRF9"],
    ),
]
PaymentIdPath = Annotated[
    str,
    Path(pattern=r"^[a-z][a-z_]*:[A-Za-z0-9_-]{1,80}$", description="The payment", examples=["stripe:pi_1"]),
]
Lang = Annotated[str | None, Query(max_length=16, description="Page language: zh-CN or en", examples=["en"])]
FormLang = Annotated[
    str | None, Form(max_length=16, description="Page language: zh-CN or en", examples=["zh-CN"])
]


def _holder() -> LinkHolder:
    holder = caller_of(router.context)
    assert isinstance(holder, LinkHolder)
    return holder


Notice = Annotated[
    Literal[
        "nothing_owed",
        "visit_booked",
        "visit_full",
        "visit_not_offered",
        "invoice_requested",
        "invoice_refused",
        "debit_enrolled",
        "debit_invalid",
        "debit_cancelled",
        "autopay_saved",
        "autopay_cancelled",
    ]
    | None,
    Query(description="A message for the top of the page", examples=["nothing_owed"]),
]
BillChoice = Annotated[
    str,
    Form(
        max_length=64,
        pattern=r"^(all|[A-Za-z0-9_-]{1,32}#[0-9]{4}-[0-9]{2})$",
        description="What to pay: 'all' (default) or one open bill's id",
        examples=["all"],
    ),
]


def _today(config: PropertyConfig) -> date:
    return datetime.now(UTC).astimezone(config.tz).date()


def _account_page(
    holder: LinkHolder, lang: str | None, notice: str | None = None, status: int = 200
) -> Response[str]:
    config = get_settings().property_config
    opened = checkout.open_account(holder.link, lang=lang, config=config)
    page = pages.render_account_page(
        opened.view,
        config=config,
        locale=opened.locale,
        token=holder.token,
        today=_today(config),
        notice=notice,
        visit_days=visits.bookable_days(config, _today(config)),
    )
    headers = {"Retry-After": "30"} if status == 503 else None
    return html(status, page, headers=headers)


@endpoint(router, "bill_page", html=True)
def bill_page(token: Token, lang: Lang = None, notice: Notice = None) -> Response[str]:
    return _account_page(_holder(), lang, notice)


@endpoint(router, "start_checkout", status_code=303, html=True)
def start_checkout(
    token: Token, lang: FormLang = None, bill: BillChoice = checkout.ALL_BILLS
) -> Response[str]:
    config = get_settings().property_config
    holder = _holder()
    if "stripe" not in config.payment.rails:
        # The property does not take cards through Stripe (a mainland property may not): back to
        # the account page, which shows the rails it does offer. A link refused for its unit is
        # refused here too, as on every owner route.
        opened = checkout.open_account(holder.link, lang=lang, config=config)
        return redirect(f"{pay_links().page_url(holder.token)}?lang={opened.locale}")
    try:
        started = checkout.start_checkout(
            holder.link,
            token=holder.token,
            lang=lang,
            now=datetime.now(UTC),
            config=config,
            links=pay_links(),
            choice=bill,
        )
    except RailUnavailable:
        return _account_page(holder, lang, "unavailable_body", status=503)
    return redirect(started.redirect_url)


@endpoint(router, "checkout_return", html=True)
def checkout_return(
    token: Token,
    lang: Lang = None,
    session_id: Annotated[str | None, Query(max_length=255, description="Stripe's session id")] = None,
) -> Response[str]:
    config = get_settings().property_config
    holder = _holder()
    opened = checkout.open_account(holder.link, lang=lang, config=config)
    confirmed = checkout.payment_confirmed(opened.view, session_id)
    return html(
        200,
        pages.render_return_page(
            opened.view, config=config, locale=opened.locale, token=holder.token, confirmed=confirmed
        ),
    )


OrderRail = Annotated[
    Literal["wechat_pay", "alipay"],
    Form(description="The rail to pay through (one the property offers)", examples=["wechat_pay"]),
]
OrderIdPath = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9]{6,32}$", description="Our order number", examples=["PD261217020000ABCDEF0123"]
    ),
]


def _order_rail(rail: str) -> PaymentProvider:
    try:
        return offered.provider(rail, get_settings())
    except offered.RailNotOffered:
        raise checkout.PayLinkRefused from None  # a rail the property does not offer: nothing to start


def _owner_receipt_url(record: PaymentRecord, owner_id: str) -> str:
    return pay_links().receipt_url(
        str(record.unit_id), record.payment_id, owner_id=owner_id, now=datetime.now(UTC)
    )


@endpoint(router, "start_order", status_code=303, html=True)
def start_order(
    token: Token, rail: OrderRail, lang: FormLang = None, bill: BillChoice = checkout.ALL_BILLS
) -> Response[str]:
    config = get_settings().property_config
    holder = _holder()
    provider = _order_rail(rail)
    opened = checkout.open_account(holder.link, lang=lang, config=config)
    bills = checkout.bills_to_pay(opened.view, bill)
    links = pay_links()
    page_url = links.page_url(holder.token)
    if not bills:
        return redirect(f"{page_url}?lang={opened.locale}&notice=nothing_owed")
    event = router.current_event
    device = device_of(event.headers.get("user-agent"))
    try:
        started = rails.start_order(
            bills,
            provider=provider,
            owner_id=opened.view.owner_id,
            device=device,
            client_ip=event.request_context.http.source_ip,
            notify_url=links.base_url.rstrip("/") + offered.notify_path(rail),
            return_url=f"{page_url}?lang={opened.locale}",
            config=config,
            now=datetime.now(UTC),
        )
    except (RailUnavailable, ProviderRefused):
        return _account_page(holder, lang, "unavailable_body", status=503)
    if started.start.kind == "redirect" and started.start.redirect_url:
        return redirect(started.start.redirect_url)  # the provider's page (a phone)
    return redirect(
        links.page_url(holder.token, f"/orders/{started.order.order_id}") + f"?lang={opened.locale}"
    )


@endpoint(router, "order_page", html=True)
def order_page(token: Token, order_id: OrderIdPath, lang: Lang = None) -> Response[str]:
    config = get_settings().property_config
    holder = _holder()
    order = OrderRepository().get(order_id)
    if order is None or order.unit_id != holder.link.unit_id:
        raise checkout.PayLinkRefused  # the one not-found page: nothing about other units' orders
    if order.is_open:
        order = rails.refresh(
            order,
            _order_rail(order.rail),
            config=config,
            now=datetime.now(UTC),
            receipt_url=_owner_receipt_url,
        )
    opened = checkout.open_account(holder.link, lang=lang, config=config)
    receipt_no = None
    if order.state == "paid":
        paid = PaymentRepository().get(rails.payment_id_of(order.rail, order.order_id))
        receipt_no = paid.receipt_no if paid is not None else None
    page = pages.render_order_page(
        opened.view, order, config=config, locale=opened.locale, token=holder.token, receipt_no=receipt_no
    )
    return html(200, page)


@endpoint(router, "owner_receipt", status_code=303, html=True)
def owner_receipt(token: Token, payment_id: PaymentIdPath, lang: Lang = None) -> Response[str]:
    config = get_settings().property_config
    holder = _holder()
    record = PaymentRepository().get(payment_id)
    if record is None or record.unit_id != holder.link.unit_id or not record.receipt_no:
        raise checkout.PayLinkRefused  # the one not-found page: nothing about other units
    locale = pages.choose_locale(lang, None, config.default_locale)
    return redirect(receipts.receipt_link(record, config=config, locale=locale).url)


BillIdPath = Annotated[
    str,
    Path(
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]{1,32}#[0-9]{4}-[0-9]{2}$",
        description="The bill (its unit and period)",
        examples=["A-1203#2027-01"],
    ),
]


@endpoint(router, "owner_bill_notice", status_code=303, html=True)
def owner_bill_notice(token: Token, bill_id: BillIdPath, lang: Lang = None) -> Response[str]:
    config = get_settings().property_config
    holder = _holder()
    bill = BillRepository().get(bill_id)
    if bill is None or bill.unit_id != holder.link.unit_id:
        raise checkout.PayLinkRefused  # the one not-found page: nothing about other units
    locale = pages.choose_locale(lang, None, config.default_locale)
    page_url = pay_links().page_url(holder.token)
    return redirect(notice_documents.notice_link(bill, config=config, locale=locale, page_url=page_url))


Code = Annotated[
    str,
    Path(
        max_length=MAX_TOKEN_LENGTH,
        description="The short link's code, from an SMS",
        examples=["x7Kp2mQ9aZ4"],
    ),
]


@endpoint(router, "short_link", status_code=303, html=True)
def short_link(code: Code) -> Response[str]:
    """A wrong code raises the same refusal an expired pay link gets: one answer for both."""
    config = get_settings().property_config
    client = router.current_event.request_context.http.source_ip
    opened = ShortLinks().open(code, client=client, now=datetime.now(UTC))
    if opened.retry_after is not None:
        locale = pages.choose_locale(None, None, config.default_locale)
        return html(429, pages.render_error(locale), headers={"Retry-After": str(opened.retry_after)})
    if opened.token is None:
        raise checkout.PayLinkRefused
    return redirect(pay_links().page_url(opened.token))


@endpoint(router, "renew_link", html=True)
def renew_link(
    unit: Annotated[str, Form(min_length=1, max_length=32, description="Unit number", examples=["A-1203"])],
    contact: Annotated[
        str,
        Form(min_length=3, max_length=120, description="Phone or e-mail on file", examples=["13800138000"]),
    ],
    lang: FormLang = None,
) -> Response[str]:
    config = get_settings().property_config
    renewal.request_fresh_link(unit, contact, config=config, now=datetime.now(UTC))
    locale = pages.choose_locale(lang, None, config.default_locale)
    return html(200, pages.render_renew_sent(locale, config))


@endpoint(router, "owner_book_visit", status_code=303, html=True)
def owner_book_visit(
    token: Token,
    day: Annotated[IsoDate, Form(description="The day of the visit, YYYY-MM-DD", examples=["2027-01-05"])],
    slot: Annotated[
        str, Form(max_length=11, description="One of the property's slots", examples=["09:00-11:00"])
    ],
    note: Annotated[str, Form(max_length=200, description="What the collector should know")] = "",
    lang: FormLang = None,
) -> Response[str]:
    config = get_settings().property_config
    holder = _holder()
    checkout.open_account(holder.link, lang=lang, config=config)  # the link's unit has an account
    notice = "visit_booked"
    try:
        visits.book(
            holder.link.unit_id,
            day,
            slot,
            config=config,
            today=_today(config),
            booked_by="owner",
            note=note or None,
        )
    except DeskError as refused:
        # Back to the page either way (a form's answer), which says what happened.
        notice = "visit_full" if refused.code in ("slot_full", "slot_changed") else "visit_not_offered"
    locale = pages.choose_locale(lang, None, config.default_locale)
    return redirect(f"{pay_links().page_url(holder.token)}?lang={locale}&notice={notice}")


@endpoint(router, "owner_debit_enrol", status_code=303, html=True)
def owner_debit_enrol(
    token: Token,
    bank: Annotated[
        str, Form(max_length=20, description="The bank, from the page's list", examples=["招商银行"])
    ],
    holder: Annotated[str, Form(max_length=60, description="The account holder's name", examples=["张伟"])],
    account: Annotated[
        str, Form(max_length=40, description="The account or card number", examples=["6222 0212 3456 7890"])
    ],
    consent: Annotated[Literal["yes"], Form(description="The owner agrees to the debit")],
    lang: FormLang = None,
) -> Response[str]:
    config = get_settings().property_config
    holder_link = _holder()
    opened = checkout.open_account(holder_link.link, lang=lang, config=config)
    notice = "debit_enrolled"
    if not config.payment.direct_debit:
        return redirect(f"{pay_links().page_url(holder_link.token)}?lang={opened.locale}")  # not offered here
    try:
        debit.enrol(
            holder_link.link.unit_id,
            owner_id=opened.view.owner_id,
            bank=bank,
            holder=holder,
            account=account,
            config=config,
            now=datetime.now(UTC),
        )
    except ValueError:
        notice = "debit_invalid"  # nothing stored; the page says what is wanted
    except DeskError:
        notice = None  # changed meanwhile (a double submit): the page shows what is stored
    suffix = f"&notice={notice}" if notice else ""
    return redirect(f"{pay_links().page_url(holder_link.token)}?lang={opened.locale}{suffix}")


@endpoint(router, "owner_debit_cancel", status_code=303, html=True)
def owner_debit_cancel(token: Token, lang: FormLang = None) -> Response[str]:
    config = get_settings().property_config
    holder_link = _holder()
    opened = checkout.open_account(holder_link.link, lang=lang, config=config)
    with contextlib.suppress(DeskError):  # changed meanwhile: the page shows what is stored
        debit.cancel(holder_link.link.unit_id, now=datetime.now(UTC))
    return redirect(f"{pay_links().page_url(holder_link.token)}?lang={opened.locale}&notice=debit_cancelled")


@endpoint(router, "owner_autopay_start", status_code=303, html=True)
def owner_autopay_start(token: Token, lang: FormLang = None) -> Response[str]:
    config = get_settings().property_config
    holder_link = _holder()
    opened = checkout.open_account(holder_link.link, lang=lang, config=config)
    page_url = pay_links().page_url(holder_link.token)
    if config.payment.card_autopay is None:
        return redirect(f"{page_url}?lang={opened.locale}")  # not offered here: the page as it is
    try:
        url = autopay.start_enrolment(
            holder_link.link.unit_id,
            owner_id=opened.view.owner_id,
            config=config,
            success_url=f"{page_url}?lang={opened.locale}&notice=autopay_saved",
            cancel_url=f"{page_url}?lang={opened.locale}",
            locale=opened.locale,
        )
    except RailUnavailable:
        return _account_page(holder_link, lang, "unavailable_body", status=503)
    return redirect(url)


@endpoint(router, "owner_autopay_cancel", status_code=303, html=True)
def owner_autopay_cancel(token: Token, lang: FormLang = None) -> Response[str]:
    config = get_settings().property_config
    holder_link = _holder()
    opened = checkout.open_account(holder_link.link, lang=lang, config=config)
    with contextlib.suppress(DeskError):  # changed meanwhile: the page shows what is stored
        autopay.cancel(holder_link.link.unit_id, now=datetime.now(UTC))
    return redirect(
        f"{pay_links().page_url(holder_link.token)}?lang={opened.locale}&notice=autopay_cancelled"
    )


@endpoint(router, "owner_invoice", status_code=303, html=True)
def owner_invoice(
    token: Token,
    payment_id: PaymentIdPath,
    title: Annotated[
        str, Form(max_length=100, description="Invoice title: a name or a company", examples=["张伟"])
    ],
    tax_id: Annotated[
        str, Form(max_length=20, description="A company's tax number; empty for a person")
    ] = "",
    lang: FormLang = None,
) -> Response[str]:
    config = get_settings().property_config
    holder = _holder()
    notice = "invoice_requested"
    try:
        invoices.request_invoice(payment_id, unit_id=holder.link.unit_id, title=title, tax_id=tax_id or None)
    except DeskError as refused:
        if refused.code == "not_found":
            raise checkout.PayLinkRefused from None  # the one not-found page
        notice = "invoice_refused"
    locale = pages.choose_locale(lang, None, config.default_locale)
    return redirect(f"{pay_links().page_url(holder.token)}?lang={locale}&notice={notice}")
