"""The payment-provider port: what PropDesk asks of every online rail, and what it gets back.

A rail (Stripe, WeChat Pay, Alipay) is an adapter that implements ``PaymentProvider`` with its
provider's real SDK. The product asks it to:

- ``start``: start a payment of an amount for a set of bills; it answers where the owner goes
  next (a redirect to a hosted page, or a QR code to scan);
- ``parse_notification``: verify and parse a notification (the provider's signature over the raw
  body, the resource decrypted where the provider encrypts it) into a ``ProviderPayment`` (or a
  ``ProviderRefund``, for a refund the provider finished; or a ``ProviderEvent``, the verified
  event of a provider whose events say more than the port has words for - Stripe's), or raise
  ``NotificationRejected``; ``answer``: the acknowledgement in the provider's format;
- ``query``: what the provider knows of an order (when a notification is late or lost);
- ``close``: close an unpaid order, so it can no longer be paid;
- ``refund``: refund part of a paid order, idempotently by our refund id;
- ``statement``: the provider's statement of a day, for the daily reconciliation.

Every amount here is integer minor units (fen for CNY); an adapter converts at its edge (Alipay
takes yuan strings) and refuses what it cannot convert exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, Protocol

RailName = Literal["stripe", "wechat_pay", "alipay"]
Device = Literal["desktop", "phone"]

# What an order is, at the provider: waiting to be paid, paid, closed unpaid, or refunded.
ORDER_OPEN = "open"
ORDER_PAID = "paid"
ORDER_CLOSED = "closed"
ORDER_REFUNDED = "refunded"
OrderState = Literal["open", "paid", "closed", "refunded"]

# Our order numbers: WeChat Pay takes 6-32 of [0-9a-zA-Z_-|*], Alipay up to 64 of letters,
# digits and underscores; letters and digits only suit both and need no escaping anywhere.
ORDER_ID = re.compile(r"^[A-Za-z0-9]{6,32}$")


class ProviderUnavailable(Exception):
    """The provider could not be reached, or answered with a server error: try again later."""


class ProviderRefused(Exception):
    """The provider refused the request (its error ``code`` and ``message``); nothing happened."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class NotificationRejected(Exception):
    """A notification that is not the provider's (bad or missing signature, wrong key, a resource
    that does not decrypt, a body that is not the provider's format). Nothing is written; the
    provider's failure answer goes back. ``reason`` is for the log and the metric only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PaymentLine:
    """A line the provider's page lists (Stripe's Checkout does; WeChat Pay and Alipay show the
    description)."""

    name: str
    amount_minor: int


@dataclass(frozen=True, kw_only=True)
class PaymentRequest:
    """What the product asks a rail to collect."""

    # Ours: WeChat Pay's and Alipay's out_trade_no. Stripe numbers what it starts itself (None).
    order_id: str | None = None
    amount_minor: int
    currency: str
    description: str  # shown to the owner by the provider (bill periods, unit)
    unit_id: str
    bill_ids: tuple[str, ...]
    expires_at: datetime  # aware
    return_url: str  # where the owner's browser comes back to (redirect rails)
    # Where the provider notifies: WeChat Pay and Alipay take it per order; Stripe's endpoint is
    # set once, in its dashboard.
    notify_url: str = ""
    cancel_url: str | None = None  # where "back" on the provider's page goes (Stripe)
    device: Device = "desktop"
    client_ip: str | None = None  # WeChat Pay H5 needs the payer's IP
    lines: tuple[PaymentLine, ...] = ()
    locale: str = "zh-CN"  # the owner's, for the provider's page

    def __post_init__(self) -> None:
        if self.order_id is not None and not ORDER_ID.match(self.order_id):
            raise ValueError(f"order id {self.order_id!r} must be 6-32 letters or digits")
        if not self.bill_ids:
            raise ValueError("a payment is for at least one bill")
        if (
            isinstance(self.amount_minor, bool)
            or not isinstance(self.amount_minor, int)
            or self.amount_minor <= 0
        ):
            raise ValueError("the amount is a positive whole number of minor units")
        if self.expires_at.tzinfo is None:
            raise ValueError("expires_at must carry a time zone")
        if sum(line.amount_minor for line in self.lines) not in (0, self.amount_minor):
            raise ValueError("the lines add up to the amount")

    @property
    def our_order_id(self) -> str:
        """The order id a rail that takes ours (WeChat Pay, Alipay) sends as out_trade_no."""
        if self.order_id is None:
            raise ValueError("this rail takes our order number: the request needs an order_id")
        return self.order_id


@dataclass(frozen=True)
class PaymentStart:
    """Where the owner goes next: a page (``redirect_url``) or a code to scan (``qr_text``)."""

    order_id: str
    kind: Literal["redirect", "qr"]
    redirect_url: str | None = None
    qr_text: str | None = None

    def __post_init__(self) -> None:
        if (self.kind == "redirect") != bool(self.redirect_url) or (self.kind == "qr") != bool(self.qr_text):
            raise ValueError("a redirect has a URL, a QR code has its text")


@dataclass(frozen=True)
class ProviderPayment:
    """An order as the provider reports it (a notification or a query)."""

    rail: RailName
    order_id: str
    state: OrderState
    amount_minor: int  # what the order is for, as the provider says
    currency: str
    provider_payment_id: str | None = None  # WeChat Pay's transaction_id, Alipay's trade_no
    paid_at: datetime | None = None  # aware
    method: str = ""  # wechat_pay | alipay | card
    notification_id: str | None = None  # the provider's id of the notification (a replay repeats it)


@dataclass(frozen=True)
class ProviderRefund:
    """A refund as the provider reports it in a notification (WeChat Pay's REFUND.*)."""

    rail: RailName
    order_id: str
    refund_id: str  # ours: out_refund_no
    amount_minor: int
    # succeeded; failed (nothing left the merchant); abnormal (it left and bounced: staff finish it)
    state: Literal["succeeded", "failed", "abnormal"]
    provider_refund_id: str | None = None


@dataclass(frozen=True)
class ProviderEvent:
    """A verified notification handed whole to the rail's own reader: Stripe's events carry more
    than a payment or a refund (the bills in a session's metadata, card setups, disputes, delayed
    failures, off-session charges), and ``payments.events`` reads them."""

    rail: RailName
    event_id: str
    event_type: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class RefundResult:
    refund_id: str  # ours, sent as the provider's idempotency key (out_refund_no / out_request_no)
    provider_refund_id: str | None
    state: Literal["processing", "succeeded"]


@dataclass(frozen=True)
class StatementLine:
    """One line of a provider's daily statement."""

    order_id: str
    provider_payment_id: str
    kind: Literal["payment", "refund"]
    amount_minor: int
    currency: str
    at: datetime


@dataclass(frozen=True)
class Statement:
    rail: RailName
    day: date
    lines: tuple[StatementLine, ...] = field(default=())


@dataclass(frozen=True)
class Answer:
    """The HTTP answer a provider expects to a notification."""

    status: int
    body: str
    content_type: str


class PaymentProvider(Protocol):
    rail: RailName

    def start(self, request: PaymentRequest) -> PaymentStart: ...

    def parse_notification(
        self, headers: Mapping[str, str], body: bytes
    ) -> ProviderPayment | ProviderRefund | ProviderEvent: ...

    def answer(self, *, ok: bool, message: str = "") -> Answer: ...

    def query(self, order_id: str) -> ProviderPayment | None: ...

    def close(self, order_id: str) -> None: ...

    def refund(
        self, order_id: str, *, refund_id: str, amount_minor: int, total_minor: int, reason: str
    ) -> RefundResult: ...

    def statement(self, day: date) -> Statement: ...


def minor_to_yuan(amount_minor: int) -> str:
    """Fen to Alipay's yuan string, exactly: 34938 -> "349.38"."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor < 0:
        raise ValueError("an amount is a non-negative whole number of fen")
    return f"{amount_minor // 100}.{amount_minor % 100:02d}"


_YUAN = re.compile(r"^(0|[1-9][0-9]{0,11})\.([0-9]{2})$")


def yuan_to_minor(text: str) -> int:
    """A provider's yuan string to fen, exactly, or ValueError: "349.38" -> 34938. Only the form
    with two decimal places is taken, as Alipay and the statements write it."""
    match = _YUAN.match(text.strip())
    if match is None:
        raise ValueError(f"not an amount in yuan with two decimals: {text!r}")
    return int(match.group(1)) * 100 + int(match.group(2))


def device_of(user_agent: str | None) -> Device:
    """A phone browser (H5 / WAP pay) or a desktop one (QR code / page pay), from its User-Agent."""
    agent = (user_agent or "").lower()
    phone = ("iphone", "android", "mobile", "harmonyos", "micromessenger", "ipod", "windows phone")
    return "phone" if any(word in agent for word in phone) and "ipad" not in agent else "desktop"
