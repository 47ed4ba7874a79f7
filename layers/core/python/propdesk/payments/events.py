"""What a verified Stripe event means for PropDesk: a payment for a bill, money going back
(a refund, a dispute), a delayed payment that failed, or nothing to do.

Pure: takes the event dict (already signature-checked) and the property's expectations, and
returns an ``OnlinePayment``, a ``ChargeRefunded``, a ``DisputeOpened``, a ``CheckoutFailed`` or
an ``Ignored`` with a short reason for the log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

# Events that credit a bill: a completed Checkout Session whose payment went through at once,
# or a delayed payment method that succeeded later.
COMPLETED = "checkout.session.completed"
ASYNC_SUCCEEDED = "checkout.session.async_payment_succeeded"
CREDITING_TYPES = frozenset({COMPLETED, ASYNC_SUCCEEDED})
# Card autopay: a charge of a saved card (landed when made; its event lands the same payment).
INTENT_SUCCEEDED = "payment_intent.succeeded"
AUTOPAY = "autopay"

PROVIDER = "stripe"


class EventData(BaseModel):
    model_config = ConfigDict(extra="allow")

    object: dict[str, Any]


class StripeEventEnvelope(BaseModel):
    """What every Stripe event has (the webhook refuses a signed body without it, and the API
    document describes the webhook's body with it)."""

    model_config = ConfigDict(extra="allow", title="StripeEvent")

    id: str = Field(min_length=1)
    object: Literal["event"]
    type: str = Field(min_length=1)
    created: StrictInt
    livemode: StrictBool
    data: EventData


@dataclass(frozen=True)
class OnlinePayment:
    event_id: str
    event_type: str
    payment_id: str  # "stripe:<payment intent id>", the key that makes one payment count once
    bill_ids: tuple[str, ...]  # the bills the checkout was for
    amount_minor: int
    currency: str  # ISO 4217, upper case
    paid_at: datetime  # UTC, when Stripe created the event
    unit_id: str | None = None
    method: str = "card"
    provider: str = PROVIDER
    session_id: str | None = None  # the Checkout Session paid (its unit's other sessions are expired)

    @property
    def bill_id(self) -> str:
        return self.bill_ids[0]


@dataclass(frozen=True)
class CardSetup:
    """A Checkout Session in setup mode completed: the owner saved a card for autopay."""

    event_id: str
    event_type: str
    unit_id: str
    owner_id: str | None
    setup_intent: str


@dataclass(frozen=True)
class Ignored:
    event_id: str
    event_type: str
    reason: str


def payment_id_for(payment_ref: str) -> str:
    return f"{PROVIDER}:{payment_ref}"


def interpret_event(event: dict[str, Any], *, property_id: str, livemode: bool) -> StripeEvent:
    event_id = str(event.get("id") or "")
    event_type = str(event.get("type") or "")

    def ignored(reason: str) -> Ignored:
        return Ignored(event_id=event_id, event_type=event_type, reason=reason)

    if bool(event.get("livemode")) != livemode:
        return ignored("livemode differs from this deployment's keys")
    if event_type in REVERSAL_TYPES:
        return interpret_reversal(event, property_id=property_id)
    if event_type == INTENT_SUCCEEDED:
        return _autopay_charge(event, property_id=property_id, ignored=ignored)
    if event_type not in CREDITING_TYPES:
        return ignored("event type not handled")
    data = event.get("data")
    session = data.get("object") if isinstance(data, dict) else None
    if not isinstance(session, dict):
        return ignored("event without a session")
    metadata = session.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    if metadata.get("property_id") != property_id:
        return ignored("session of another property")
    if session.get("mode") == "setup":
        unit_id, setup_intent = metadata.get("unit_id"), session.get("setup_intent")
        if event_type != COMPLETED or not isinstance(unit_id, str) or not isinstance(setup_intent, str):
            return ignored("setup session without its unit or setup intent")
        owner_id = metadata.get("owner_id") if isinstance(metadata.get("owner_id"), str) else None
        return CardSetup(event_id, event_type, unit_id, owner_id or None, setup_intent)
    if session.get("payment_status") != "paid":
        # A delayed method (e.g. bank transfer): async_payment_succeeded follows when it clears.
        return ignored("payment not completed yet")
    # Sessions name their bills in "bill_ids" ("A-101#2027-01,A-101#2027-02"); older ones in "bill_id".
    listed = metadata.get("bill_ids") or metadata.get("bill_id") or session.get("client_reference_id")
    bill_ids = tuple(b for b in str(listed).split(",") if b) if isinstance(listed, str) else ()
    bill_id = bill_ids[0] if bill_ids else None
    unit_id = metadata.get("unit_id") if isinstance(metadata.get("unit_id"), str) else None
    methods = session.get("payment_method_types")
    method = (
        methods[0]
        if isinstance(methods, list) and len(methods) == 1 and isinstance(methods[0], str)
        else "card"
    )
    amount = session.get("amount_total")
    currency = session.get("currency")
    payment_ref = session.get("payment_intent") or session.get("id")
    created = event.get("created")
    if isinstance(payment_ref, dict):  # expanded payment intent
        payment_ref = payment_ref.get("id")
    if (
        not isinstance(bill_id, str)
        or not bill_id
        or not isinstance(amount, int)
        or isinstance(amount, bool)
        or not isinstance(currency, str)
        or not isinstance(payment_ref, str)
        or not payment_ref
        or not isinstance(created, int)
    ):
        return ignored("session is missing bill, amount, currency or payment reference")
    return OnlinePayment(
        event_id=event_id,
        event_type=event_type,
        payment_id=payment_id_for(payment_ref),
        bill_ids=bill_ids,
        amount_minor=amount,
        currency=currency.upper(),
        paid_at=datetime.fromtimestamp(created, tz=UTC),
        unit_id=unit_id,
        method=method,
        session_id=session.get("id") if isinstance(session.get("id"), str) else None,
    )


def _autopay_charge(
    event: dict[str, Any], *, property_id: str, ignored: Callable[[str], Ignored]
) -> StripeEvent:
    """``payment_intent.succeeded`` of a card autopay charge: the same payment the run landed."""
    data = event.get("data")
    intent = data.get("object") if isinstance(data, dict) else None
    if not isinstance(intent, dict):
        return ignored("event without a payment intent")
    metadata = intent.get("metadata") if isinstance(intent.get("metadata"), dict) else {}
    if metadata.get("property_id") != property_id or metadata.get("purpose") != AUTOPAY:
        return ignored("not a card autopay charge of this property")  # checkouts land by their session
    bill_ids = tuple(b for b in str(metadata.get("bill_ids") or "").split(",") if b)
    amount, currency, created = intent.get("amount_received"), intent.get("currency"), event.get("created")
    if (
        not bill_ids
        or not isinstance(amount, int)
        or isinstance(amount, bool)
        or not isinstance(currency, str)
        or not isinstance(intent.get("id"), str)
        or not isinstance(created, int)
    ):
        return ignored("autopay charge without bills, amount or currency")
    unit_id = metadata.get("unit_id")
    return OnlinePayment(
        event_id=str(event.get("id") or ""),
        event_type=INTENT_SUCCEEDED,
        payment_id=payment_id_for(intent["id"]),
        bill_ids=bill_ids,
        amount_minor=amount,
        currency=currency.upper(),
        paid_at=datetime.fromtimestamp(created, tz=UTC),
        unit_id=unit_id if isinstance(unit_id, str) else None,
    )


# --- money going back, and delayed payments that failed --------------------------------------------

CHARGE_REFUNDED = "charge.refunded"
DISPUTE_CREATED = "charge.dispute.created"
ASYNC_FAILED = "checkout.session.async_payment_failed"
REVERSAL_TYPES = frozenset({CHARGE_REFUNDED, DISPUTE_CREATED, ASYNC_FAILED})


@dataclass(frozen=True)
class ChargeRefunded:
    """Stripe refunded (part of) a charge: ``amount_refunded_minor`` is the charge's cumulative
    refunded amount, so a repeat or an older event says no more than what is posted already."""

    event_id: str
    payment_id: str  # "stripe:<payment intent id>"
    charge_id: str
    amount_refunded_minor: int
    currency: str
    ours: bool = False  # the charge carries this property's metadata (its payment intent's)


@dataclass(frozen=True)
class DisputeOpened:
    """The payer's bank disputes (charges back) a payment: the money is taken back now."""

    event_id: str
    payment_id: str
    dispute_id: str
    amount_minor: int
    currency: str
    reason: str


@dataclass(frozen=True)
class CheckoutFailed:
    """A delayed payment method (a bank debit) failed after the checkout completed unpaid."""

    event_id: str
    session_id: str
    payment_id: str | None
    bill_ids: tuple[str, ...]
    unit_id: str | None
    amount_minor: int
    currency: str


StripeEvent = OnlinePayment | ChargeRefunded | DisputeOpened | CheckoutFailed | CardSetup | Ignored


def _id_of(value: Any) -> str | None:
    """An id, whether Stripe sent it as a string or expanded the object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _amount(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def interpret_reversal(
    event: dict[str, Any], *, property_id: str
) -> ChargeRefunded | DisputeOpened | CheckoutFailed | Ignored:
    """``charge.refunded``, ``charge.dispute.created`` and ``checkout.session.async_payment_failed``.
    A charge or dispute carries no metadata of ours for sure (Stripe copies a payment intent's
    metadata to its charge, not to a dispute): one of another property names a payment intent this
    property never recorded, and the service ignores it."""
    event_id = str(event.get("id") or "")
    event_type = str(event.get("type") or "")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        return Ignored(event_id, event_type, "event without an object")
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    if metadata.get("property_id") not in (None, property_id):
        return Ignored(event_id, event_type, "object of another property")
    intent = _id_of(obj.get("payment_intent"))
    currency = obj.get("currency")
    if event_type == CHARGE_REFUNDED:
        refunded = _amount(obj.get("amount_refunded"))
        charge_id = _id_of(obj.get("id"))
        if intent is None or refunded is None or charge_id is None or not isinstance(currency, str):
            return Ignored(event_id, event_type, "charge without payment intent, amount or currency")
        ours = metadata.get("property_id") == property_id
        return ChargeRefunded(event_id, payment_id_for(intent), charge_id, refunded, currency.upper(), ours)
    if event_type == DISPUTE_CREATED:
        amount = _amount(obj.get("amount"))
        dispute_id = _id_of(obj.get("id"))
        if intent is None or not amount or dispute_id is None or not isinstance(currency, str):
            return Ignored(event_id, event_type, "dispute without payment intent, amount or currency")
        reason = obj.get("reason") if isinstance(obj.get("reason"), str) else "general"
        return DisputeOpened(event_id, payment_id_for(intent), dispute_id, amount, currency.upper(), reason)
    # A failed delayed payment: the session names our bills, like a completed one.
    if metadata.get("property_id") != property_id:
        return Ignored(event_id, event_type, "session of another property")
    listed = metadata.get("bill_ids") or metadata.get("bill_id") or obj.get("client_reference_id")
    bill_ids = tuple(b for b in listed.split(",") if b) if isinstance(listed, str) else ()
    session_id = _id_of(obj.get("id"))
    amount = _amount(obj.get("amount_total"))
    if session_id is None or not bill_ids or amount is None or not isinstance(currency, str):
        return Ignored(event_id, event_type, "session is missing bills, amount or currency")
    unit_id = metadata.get("unit_id") if isinstance(metadata.get("unit_id"), str) else None
    return CheckoutFailed(
        event_id=event_id,
        session_id=session_id,
        payment_id=payment_id_for(intent) if intent else None,
        bill_ids=bill_ids,
        unit_id=unit_id,
        amount_minor=amount,
        currency=currency.upper(),
    )
