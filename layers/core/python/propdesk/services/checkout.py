"""The owner's side of paying a bill: show the bill a pay link opens, start a Checkout (F4).

The link itself (signature, expiry) is checked by the authorization step before any of this
runs (``propdesk.web.access``); here a verified link is refused (``PayLinkRefused``) when its
bill does not exist or belongs to another unit than the link names. The caller shows one
generic page for every refusal. "Pay" creates a fresh Checkout Session every time (sessions
expire, owners come back days later); a paid bill gets no session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from propdesk.config import PropertyConfig
from propdesk.domain.billing import Bill
from propdesk.payments.links import PayLink, PayLinks
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
    """A missing bill, or a bill of another unit than the link's. No detail."""


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


def open_bill(link: PayLink, *, bills: BillRepository | None = None) -> Bill:
    """The bill a verified link names, if it is still the link's unit's."""
    bill = (bills or BillRepository()).get(link.bill_id)
    if bill is None or bill.unit_id != link.unit_id:
        raise PayLinkRefused
    return bill


def owner_bill(
    link: PayLink,
    *,
    lang: str | None,
    config: PropertyConfig,
    bills: BillRepository | None = None,
    owners: OwnerRepository | None = None,
) -> OwnerBill:
    """The bill a pay link opens, and the locale to show it in."""
    bill = open_bill(link, bills=bills)
    owner_locale = None
    if lang not in ("zh-CN", "en"):
        owner = (owners or OwnerRepository()).get(bill.owner_id)
        owner_locale = owner.locale if owner else None
    return OwnerBill(bill=bill, locale=choose_locale(lang, owner_locale, config.default_locale))


def checkout_params(
    bills: Bill | Sequence[Bill],
    *,
    config: PropertyConfig,
    now: datetime,
    page_url: str,
    locale: str,
) -> dict[str, Any]:
    """The Checkout Session request for ``bills`` (one bill, or every open bill of the unit):
    what each still owes, our metadata (the unit and the bills, which the payment is allocated
    to), and the way back to the owner's page at ``page_url``."""
    bills = [bills] if isinstance(bills, Bill) else list(bills)
    if not bills or len({bill.unit_id for bill in bills}) != 1:
        raise ValueError("a checkout pays one or more bills of one unit")
    item_names = {item.code: item.name.get(locale) for item in config.fee_standard.items}
    currency = bills[0].currency.lower()
    line_items: list[dict[str, Any]] = []
    for bill in bills:
        if bill.paid_minor == 0:
            line_items += [
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
            line_items.append(
                {
                    "price_data": {
                        "currency": currency,
                        "unit_amount": bill.total_minor - bill.paid_minor,
                        "product_data": {"name": f"{bill.unit_id} · {bill.period}"},
                    },
                    "quantity": 1,
                }
            )
    unit_id = bills[0].unit_id
    bill_ids = ",".join(bill.bill_id for bill in bills)
    metadata = {"property_id": config.property_id, "unit_id": unit_id, "bill_ids": bill_ids}
    periods = " ".join(bill.period for bill in bills)
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": line_items,
        "payment_method_types": list(config.payment.payment_method_types),
        "client_reference_id": bills[0].bill_id,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata, "description": f"{unit_id} {periods}"},
        "expires_at": checkout_expires_at(now, config.payment.checkout_expiry_minutes),
        "success_url": f"{page_url}/return?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": page_url,
        "locale": CHECKOUT_LOCALES.get(locale, "auto"),
    }
    if "wechat_pay" in config.payment.payment_method_types:
        # Stripe requires the WeChat Pay client type for Checkout.
        params["payment_method_options"] = {"wechat_pay": {"client": "web"}}
    return params


def start_checkout(
    link: PayLink,
    *,
    token: str,
    lang: str | None,
    now: datetime,
    config: PropertyConfig,
    links: PayLinks,
    bills: BillRepository | None = None,
    owners: OwnerRepository | None = None,
    provider: CheckoutProvider | None = None,
) -> CheckoutStart:
    """A fresh Checkout Session for an open bill; a paid bill goes back to its page."""
    opened = owner_bill(link, lang=lang, config=config, bills=bills, owners=owners)
    bill = opened.bill
    page_url = links.page_url(token)
    if not bill.is_open:
        return CheckoutStart(redirect_url=f"{page_url}?lang={opened.locale}", session_id=None)
    provider = provider or StripeCheckout.from_settings(get_settings())
    params = checkout_params(bill, config=config, now=now, page_url=page_url, locale=opened.locale)
    session = provider.create_session(params)
    logger.info("checkout session created", bill_id=bill.bill_id, session_id=session.session_id)
    return CheckoutStart(redirect_url=session.url, session_id=session.session_id)
