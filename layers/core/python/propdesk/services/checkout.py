"""The owner's side of paying a bill: open a pay link, show the bill, start a Checkout (F4).

A pay link is refused (``PayLinkRefused``) when its token is unknown, altered or expired,
when its bill does not exist, or when the bill belongs to another unit than the token names;
the caller shows one generic page for all of these. "Pay" creates a fresh Checkout Session
every time (sessions expire, owners come back days later); a paid bill gets no session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

from aws_lambda_powertools import Logger

from propdesk import aws
from propdesk.config import PropertyConfig
from propdesk.domain.billing import Bill
from propdesk.payments.links import InvalidPayLink, link_key_from_secret, verify_pay_link
from propdesk.payments.stripe_provider import CheckoutSession, StripeCheckout
from propdesk.settings import get_settings
from propdesk.store.bills import BillRepository
from propdesk.store.owners import OwnerRepository
from propdesk.web.pages import choose_locale

logger = Logger(child=True)

# Stripe Checkout's own page locales for ours.
CHECKOUT_LOCALES = {"zh-CN": "zh", "en": "en"}

# Stripe wants a session's expires_at 30 minutes to 24 hours after it creates the session,
# which is a moment after ``now``: a margin keeps the configured minimum valid, and the
# maximum is clamped so the margin cannot push it past 24 hours.
EXPIRY_MARGIN = timedelta(minutes=1)
STRIPE_MAX_EXPIRY = timedelta(hours=24)


def checkout_expires_at(now: datetime, minutes: int) -> int:
    return int(min(now + timedelta(minutes=minutes) + EXPIRY_MARGIN, now + STRIPE_MAX_EXPIRY).timestamp())


class PayLinkRefused(Exception):
    """Unknown, altered or expired link, missing bill, or a bill of another unit. No detail."""


class CheckoutProvider(Protocol):
    def create_session(self, params: dict[str, Any]) -> CheckoutSession: ...


@dataclass(frozen=True)
class OwnerBill:
    bill: Bill
    locale: str


@dataclass(frozen=True)
class CheckoutStart:
    redirect_url: str
    session_id: str | None  # None: the bill is already paid, back to the bill page


def link_key() -> bytes:
    return link_key_from_secret(aws.secret_json(get_settings().link_key_secret_name))


def open_pay_link(token: str, *, now: datetime, key: bytes, bills: BillRepository) -> Bill:
    try:
        link = verify_pay_link(token, key=key, now=now)
    except InvalidPayLink as exc:
        raise PayLinkRefused from exc
    bill = bills.get(link.bill_id)
    if bill is None or bill.unit_id != link.unit_id:
        raise PayLinkRefused
    return bill


def owner_bill(
    token: str,
    *,
    lang: str | None,
    now: datetime,
    config: PropertyConfig,
    key: bytes | None = None,
    bills: BillRepository | None = None,
    owners: OwnerRepository | None = None,
) -> OwnerBill:
    """The bill a pay link opens, and the locale to show it in."""
    bill = open_pay_link(token, now=now, key=key or link_key(), bills=bills or BillRepository())
    owner_locale = None
    if lang not in ("zh-CN", "en"):
        owner = (owners or OwnerRepository()).get(bill.owner_id)
        owner_locale = owner.locale if owner else None
    return OwnerBill(bill=bill, locale=choose_locale(lang, owner_locale, config.default_locale))


def pay_page_url(public_base: str, token: str) -> str:
    return f"{public_base}/pay/{quote(token, safe='')}"


def checkout_params(
    bill: Bill,
    *,
    token: str,
    config: PropertyConfig,
    now: datetime,
    public_base: str,
    locale: str,
) -> dict[str, Any]:
    """The Checkout Session request for ``bill``: its lines, our metadata, the way back."""
    item_names = {item.code: item.name.get(locale) for item in config.fee_standard.items}
    currency = bill.currency.lower()
    if bill.paid_minor == 0:
        line_items = [
            {
                "price_data": {
                    "currency": currency,
                    "unit_amount": line.amount_minor,
                    "product_data": {"name": f"{item_names.get(line.code, line.code)} · {bill.period}"},
                },
                "quantity": 1,
            }
            for line in bill.lines
            if line.amount_minor > 0
        ]
    else:
        line_items = [
            {
                "price_data": {
                    "currency": currency,
                    "unit_amount": bill.total_minor - bill.paid_minor,
                    "product_data": {"name": f"{bill.unit_id} · {bill.period}"},
                },
                "quantity": 1,
            }
        ]
    metadata = {"property_id": config.property_id, "bill_id": bill.bill_id}
    page = pay_page_url(public_base, token)
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": line_items,
        "payment_method_types": list(config.payment.payment_method_types),
        "client_reference_id": bill.bill_id,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata, "description": f"{bill.unit_id} {bill.period}"},
        "expires_at": checkout_expires_at(now, config.payment.checkout_expiry_minutes),
        "success_url": f"{page}/return?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": page,
        "locale": CHECKOUT_LOCALES.get(locale, "auto"),
    }
    if "wechat_pay" in config.payment.payment_method_types:
        # Stripe requires the WeChat Pay client type for Checkout.
        params["payment_method_options"] = {"wechat_pay": {"client": "web"}}
    return params


def start_checkout(
    token: str,
    *,
    lang: str | None,
    now: datetime,
    config: PropertyConfig,
    key: bytes | None = None,
    public_base: str | None = None,
    bills: BillRepository | None = None,
    owners: OwnerRepository | None = None,
    provider: CheckoutProvider | None = None,
) -> CheckoutStart:
    """A fresh Checkout Session for an open bill; a paid bill goes back to its page."""
    opened = owner_bill(token, lang=lang, now=now, config=config, key=key, bills=bills, owners=owners)
    base = public_base if public_base is not None else aws.public_base_url()
    bill = opened.bill
    if not bill.is_open:
        return CheckoutStart(
            redirect_url=f"{pay_page_url(base, token)}?lang={opened.locale}", session_id=None
        )
    provider = provider or StripeCheckout.from_settings(get_settings())
    params = checkout_params(
        bill, token=token, config=config, now=now, public_base=base, locale=opened.locale
    )
    session = provider.create_session(params)
    logger.info("checkout session created", bill_id=bill.bill_id, session_id=session.session_id)
    return CheckoutStart(redirect_url=session.url, session_id=session.session_id)
