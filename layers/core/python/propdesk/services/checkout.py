"""The owner's side of paying: the unit's account a pay link opens, and a Checkout for one
open bill or all of them (F4).

The link itself (signature, expiry) is checked by the authorization step before any of this
runs (``propdesk.web.access``); here a verified link is refused (``PayLinkRefused``) when its
unit has no account, or its bill is not the unit's. The caller shows one generic page for every
refusal. "Pay" creates a fresh Checkout Session every time (sessions expire, owners come back
days later) and notes it on the account: when one of the unit's sessions is paid, the webhook
expires the others, so a second tab cannot charge again. Nothing owed: no session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aws_lambda_powertools import Logger

from propdesk.config import PropertyConfig
from propdesk.domain.billing import Bill
from propdesk.payments import rails as offered
from propdesk.payments.links import PayLink, PayLinks
from propdesk.payments.port import PaymentLine, PaymentProvider, PaymentRequest
from propdesk.services.accounts import AccountView, account_view
from propdesk.services.standards import standard_by_version
from propdesk.settings import get_settings
from propdesk.store.accounts import AccountStore
from propdesk.web.pages import choose_locale

logger = Logger(child=True)

# Stripe wants a session's expires_at 30 minutes to 24 hours after it creates the session,
# which is a moment after ``now``: a margin keeps the configured minimum valid, and the
# maximum is clamped so the margin cannot push it past 24 hours.
EXPIRY_MARGIN = timedelta(minutes=1)
STRIPE_MAX_EXPIRY = timedelta(hours=24)


def checkout_expires_at(now: datetime, minutes: int) -> int:
    return int(min(now + timedelta(minutes=minutes) + EXPIRY_MARGIN, now + STRIPE_MAX_EXPIRY).timestamp())


class PayLinkRefused(Exception):
    """A unit without an account, or a link whose bill is not its unit's. No detail."""


@dataclass(frozen=True)
class OwnerAccount:
    view: AccountView
    locale: str


@dataclass(frozen=True)
class CheckoutStart:
    redirect_url: str
    session_id: str | None  # None: nothing to pay, back to the account page


ALL_BILLS = "all"


def open_account(
    link: PayLink, *, lang: str | None, config: PropertyConfig, store: AccountStore | None = None
) -> OwnerAccount:
    """The account a verified link opens (two reads), and the locale to show it in: ``?lang=``,
    else the owner's, else the property's."""
    today = datetime.now(UTC).astimezone(config.tz).date()
    view = account_view(link.unit_id, store=store, config=config, today=today)
    if view is None or (link.bill_id and not link.bill_id.startswith(f"{link.unit_id}#")):
        raise PayLinkRefused
    if link.owner_id and view.owner_id and link.owner_id != view.owner_id:
        raise PayLinkRefused  # the unit changed hands: the former owner's link shows nothing
    owner_locale = view.owner.locale if view.owner else None
    return OwnerAccount(view=view, locale=choose_locale(lang, owner_locale, config.default_locale))


# Bills one Checkout Session pays, oldest first: Stripe takes at most 100 line items (a bill
# never paid shows its fee lines) and 500 characters per metadata value (the bills' ids).
MAX_BILLS_PER_CHECKOUT = 20
STRIPE_MAX_LINE_ITEMS = 100


def bills_to_pay(view: AccountView, choice: str | None) -> list[Bill]:
    """The open bills a Pay button pays: all of them (the oldest ``MAX_BILLS_PER_CHECKOUT``), or
    the one it names (if still owing)."""
    owing = [bill for bill in view.open_bills if bill.total_minor > bill.paid_minor]
    if choice in (None, "", ALL_BILLS):
        return owing[:MAX_BILLS_PER_CHECKOUT]
    return [bill for bill in owing if bill.bill_id == choice]


def _item_names(bills: Sequence[Bill], *, config: PropertyConfig, locale: str) -> dict[tuple[str, str], str]:
    """Each bill's item names, as its own fee standard version names them ((version, code) -> name)."""
    names: dict[tuple[str, str], str] = {}
    for version in {bill.fee_standard_version for bill in bills}:
        standard = standard_by_version(version, config) or config.fee_standard
        names.update({(version, item.code): item.name.get(locale) for item in standard.items})
    return names


def checkout_request(
    bills: Bill | Sequence[Bill],
    *,
    config: PropertyConfig,
    now: datetime,
    page_url: str,
    locale: str,
) -> PaymentRequest:
    """What a Checkout for ``bills`` (one bill, or every open bill of the unit) asks Stripe to
    collect: what each still owes, line by line, the bills it is allocated to, and the way back
    to the owner's page at ``page_url``."""
    bills = [bills] if isinstance(bills, Bill) else list(bills)
    if not bills or len({bill.unit_id for bill in bills}) != 1:
        raise ValueError("a checkout pays one or more bills of one unit")
    item_names = _item_names(bills, config=config, locale=locale)
    lines: list[PaymentLine] = []
    # Each fee line of a bill not paid at all, unless that would pass Stripe's 100 line items:
    # then one line per bill.
    itemise = sum(len(b.lines) if b.paid_minor == 0 else 1 for b in bills) <= STRIPE_MAX_LINE_ITEMS
    for bill in bills:
        if bill.paid_minor == 0 and itemise:
            lines += [
                PaymentLine(
                    f"{item_names.get((bill.fee_standard_version, line.code), line.code)} · {bill.period}",
                    line.amount_minor,
                )
                for line in bill.lines
                if line.amount_minor > 0
            ]
        else:
            lines.append(PaymentLine(f"{bill.unit_id} · {bill.period}", bill.total_minor - bill.paid_minor))
    unit_id = bills[0].unit_id
    return PaymentRequest(
        amount_minor=sum(line.amount_minor for line in lines),
        currency=bills[0].currency,
        description=f"{unit_id} {' '.join(bill.period for bill in bills)}",
        unit_id=unit_id,
        bill_ids=tuple(bill.bill_id for bill in bills),
        expires_at=datetime.fromtimestamp(
            checkout_expires_at(now, config.payment.checkout_expiry_minutes), tz=UTC
        ),
        return_url=f"{page_url}/return?session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=page_url,
        lines=tuple(lines),
        locale=locale,
    )


def start_checkout(
    link: PayLink,
    *,
    token: str,
    lang: str | None,
    now: datetime,
    config: PropertyConfig,
    links: PayLinks,
    choice: str | None = None,
    store: AccountStore | None = None,
    provider: PaymentProvider | None = None,
) -> CheckoutStart:
    """A fresh Checkout Session for the chosen open bills (``choice``: a bill id, or all), started
    through Stripe's adapter of the payment-provider port and noted on the account; with nothing
    owed, back to the page, which says so."""
    store = store or AccountStore()
    opened = open_account(link, lang=lang, config=config, store=store)
    bills = bills_to_pay(opened.view, choice)
    page_url = links.page_url(token)
    if not bills:
        logger.info("checkout refused: nothing owed", unit_id=link.unit_id)
        return CheckoutStart(
            redirect_url=f"{page_url}?lang={opened.locale}&notice=nothing_owed", session_id=None
        )
    provider = provider or offered.adapter("stripe", get_settings())
    request = checkout_request(bills, config=config, now=now, page_url=page_url, locale=opened.locale)
    started = provider.start(request)
    if started.redirect_url is None:
        raise ValueError("Stripe's Checkout is a page to go to")
    assert opened.view.account is not None
    store.add_session(opened.view.account, started.order_id, expires_at=request.expires_at, now=now)
    logger.info(
        "checkout session created", unit_id=link.unit_id, bills=len(bills), session_id=started.order_id
    )
    return CheckoutStart(redirect_url=started.redirect_url, session_id=started.order_id)


def payment_confirmed(view: AccountView, session_id: str | None) -> bool:
    """Back from Checkout: the session's payment has landed once the webhook has cleared it from
    the account's open sessions (or, without a session id, once nothing is owed)."""
    if not session_id:
        return view.settled
    account = view.account
    return account is not None and session_id not in {e.partition(" ")[0] for e in account.open_sessions}
