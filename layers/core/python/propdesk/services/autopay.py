"""Card autopay (Stripe): the owner saves a card, and each bill is charged off-session on its due
date after a notice; a declined charge is tried again on the configured days, then left to the
reminders with the owner told. The owner can cancel at any time.

- **Enrolment**: from the account page, a Stripe customer and Checkout in setup mode; the
  ``checkout.session.completed`` event of that session (mode ``setup``) saves the card on the
  unit's mandate (kind ``card``: the customer, the payment method, the brand and last four digits;
  Stripe holds the card).
- **The daily run** (the ``autopay`` schedule): for every unit with a card in force, a notice
  ``notice_days_before`` days before a bill is due (once per bill), and on the due date the
  unit's bills due by then (and since the enrolment) are charged in one PaymentIntent. Each attempt of a cycle is keyed
  ``autopay#<the cycle's bill>#<n>`` in the account's ledger and sent to Stripe with the same
  idempotency key, so a double fire or a rerun charges once; a payment lands like any other,
  as ``stripe:<payment intent>`` (its ``payment_intent.succeeded`` event lands the same one).
  A declined charge is tried again ``retry_days`` after the due date; after the last, or at once
  when the card needs its holder (authentication), the owner is told with the pay link and the
  bills stay with the reminders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from propdesk.config import PropertyConfig
from propdesk.domain.billing import Bill
from propdesk.messaging.requests import MESSAGES_QUEUE, MessageRequest
from propdesk.payments.events import PROVIDER as STRIPE
from propdesk.payments.events import payment_id_for
from propdesk.payments.stripe_provider import OffSessionCharge, ProviderUnavailable, StripeCards
from propdesk.queues import QueueProducer
from propdesk.services.accounts import account_view
from propdesk.services.errors import DeskError
from propdesk.services.payments import IncomingPayment, PaymentOutcome, ReceiptUrl, record_payment
from propdesk.settings import get_settings
from propdesk.store import ledger
from propdesk.store.mandates import CANCELLED, CARD, Mandate, MandateRepository

logger = Logger(child=True)

PURPOSE = "autopay"
Notify = Callable[[Sequence[MessageRequest]], Any]


def card_label(mandate: Mandate) -> str:
    """``Visa •••• 4242``: what the owner sees of the card."""
    return f"{mandate.bank.title()} {mandate.account_masked}"


# --- enrolment -----------------------------------------------------------------------------------


def start_enrolment(
    unit_id: str,
    *,
    owner_id: str | None,
    config: PropertyConfig,
    success_url: str,
    cancel_url: str,
    locale: str,
    cards: StripeCards | None = None,
) -> str:
    """The URL of Stripe's page where the owner saves the card."""
    if config.payment.card_autopay is None:
        raise DeskError(404, "not_offered", "This property does not offer card autopay.")
    cards = cards or StripeCards.from_settings(get_settings())
    metadata = {
        "property_id": config.property_id,
        "unit_id": unit_id,
        "owner_id": owner_id or "",
        "purpose": PURPOSE,
    }
    session = cards.setup_session(
        metadata=metadata,
        success_url=success_url,
        cancel_url=cancel_url,
        locale="zh" if locale == "zh-CN" else "en",
    )
    logger.info("card autopay enrolment started", unit_id=unit_id)
    return session.url


@dataclass(frozen=True)
class CardSaved:
    event_id: str
    unit_id: str
    owner_id: str | None
    setup_intent: str


def card_saved(
    saved: CardSaved,
    *,
    now: datetime,
    cards: StripeCards | None = None,
    mandates: MandateRepository | None = None,
) -> str:
    """The setup session completed: the unit's card mandate, from the card Stripe saved."""
    cards = cards or StripeCards.from_settings(get_settings())
    mandates = mandates or MandateRepository()
    if ledger.keys(ledger.account_entity(saved.unit_id), f"autopay_enrolled#{saved.setup_intent}"):
        # This setup was saved before (the event delivered again): never bring back a card the
        # owner has cancelled or replaced since.
        return "already_recorded"
    card = cards.saved_card(saved.setup_intent)
    current = mandates.get(saved.unit_id, CARD)
    if current is not None and current.active and current.payment_method_id == card.payment_method_id:
        return "already_recorded"
    mandate = Mandate(
        unit_id=saved.unit_id,
        owner_id=saved.owner_id or None,
        bank=card.brand,
        holder_masked="",
        account_masked=f"•••• {card.last4}",
        ciphertext="",
        created_at=now,
        kind=CARD,
        customer_id=card.customer_id,
        payment_method_id=card.payment_method_id,
        version=current.version if current is not None else None,
    )
    if mandates.save(mandate) is None:
        raise RuntimeError("the card mandate changed meanwhile")  # the event is delivered again
    if current is not None and current.active and current.payment_method_id:
        _detach(cards, current.payment_method_id)  # the card it replaces
    ledger.append(
        ledger.account_entity(saved.unit_id),
        "autopay_enrolled",
        at=now,
        key=f"autopay_enrolled#{saved.setup_intent}",
        data={"card": card_label(mandate)},
    )
    logger.info("card autopay enrolled", unit_id=saved.unit_id)
    return "card_saved"


def cancel(
    unit_id: str,
    *,
    now: datetime,
    cards: StripeCards | None = None,
    mandates: MandateRepository | None = None,
) -> Mandate | None:
    mandates = mandates or MandateRepository()
    current = mandates.get(unit_id, CARD)
    if current is None or not current.active:
        return current
    saved = mandates.save(replace(current, state=CANCELLED, cancelled_at=now))
    if saved is None:
        raise DeskError(409, "changed", "Card autopay changed meanwhile; try again.")
    if current.payment_method_id:
        _detach(cards or StripeCards.from_settings(get_settings()), current.payment_method_id)
    ledger.append(
        ledger.account_entity(unit_id),
        "autopay_cancelled",
        at=now,
        key=f"autopay_cancelled#{now.isoformat()}",
    )
    return saved


def _detach(cards: StripeCards, payment_method_id: str) -> None:
    try:
        cards.detach(payment_method_id)
    except ProviderUnavailable:
        # The mandate is cancelled here, so nothing is charged; Stripe keeps the card until the
        # owner removes it (logged for staff).
        logger.warning("saved card not detached at Stripe")


# --- the daily run -------------------------------------------------------------------------------


@dataclass
class RunResult:
    notices: int = 0
    charged: int = 0
    declined: int = 0
    given_up: int = 0
    unavailable: int = 0
    details: list[dict[str, Any]] = field(default_factory=list)


def _local_today(config: PropertyConfig, now: datetime) -> date:
    return now.astimezone(config.tz).date()


def run(
    *,
    config: PropertyConfig,
    now: datetime,
    cards: StripeCards | None = None,
    mandates: MandateRepository | None = None,
    notify: Notify | None = None,
    record: Callable[..., PaymentOutcome] = record_payment,
    pay_url: Callable[[str, str], str] | None = None,
    receipt_url: ReceiptUrl | None = None,
) -> RunResult:
    settings = config.payment.card_autopay
    result = RunResult()
    if settings is None:
        return result
    mandates = mandates or MandateRepository()
    notify = notify or QueueProducer(MESSAGES_QUEUE).send
    today = _local_today(config, now)
    for mandate in mandates.active(CARD):
        view = account_view(mandate.unit_id)
        if view is None or not view.open_bills:
            continue
        owner_id = mandate.owner_id or view.owner_id
        coming = [
            b for b in view.open_bills if b.due_date == today + timedelta(days=settings.notice_days_before)
        ]
        if coming and owner_id:
            notify([_notice(mandate, coming, owner_id=owner_id, config=config, pay_url=pay_url)])
            result.notices += 1
        # Bills due since the owner enrolled: one overdue before that is the owner's to pay (the
        # notice never announced a charge for it).
        enrolled = mandate.created_at.astimezone(config.tz).date()
        due = [b for b in view.open_bills if enrolled <= b.due_date <= today]
        if due:
            cards = cards or StripeCards.from_settings(get_settings())
            _attempt(mandate, due, owner_id, today=today, now=now, config=config, cards=cards, notify=notify,
                     record=record, pay_url=pay_url, receipt_url=receipt_url, result=result)  # fmt: skip
    logger.info("card autopay run", notices=result.notices, charged=result.charged, declined=result.declined,
                given_up=result.given_up, unavailable=result.unavailable)  # fmt: skip
    return result


def _notice(
    mandate: Mandate,
    bills: list[Bill],
    *,
    owner_id: str,
    config: PropertyConfig,
    pay_url: Callable[[str, str], str] | None,
) -> MessageRequest:
    context: dict[str, Any] = {
        "unit_id": mandate.unit_id,
        "amount_minor": sum(b.total_minor - b.paid_minor for b in bills),
        "currency": config.currency,
        "card": card_label(mandate),
        "due_date": bills[0].due_date.isoformat(),
        "bills": [{"bill_id": b.bill_id, "period": b.period} for b in bills],
    }
    if pay_url is not None:
        context["pay_url"] = pay_url(mandate.unit_id, owner_id)
    # One notice per bill and card: a rerun or a double fire queues the same message id.
    return MessageRequest(
        message_id=f"autopay_notice#{bills[-1].bill_id}#{mandate.payment_method_id}",
        template="autopay_notice",
        owner_id=owner_id,
        channels=("email", "sms"),
        context=context,
    )


def _attempt(
    mandate: Mandate,
    due: list[Bill],
    owner_id: str | None,
    *,
    today: date,
    now: datetime,
    config: PropertyConfig,
    cards: StripeCards,
    notify: Notify,
    record: Callable[..., PaymentOutcome],
    pay_url: Callable[[str, str], str] | None,
    receipt_url: ReceiptUrl | None,
    result: RunResult,
) -> None:
    settings = config.payment.card_autopay
    assert settings is not None
    cycle = due[-1]  # the latest bill due: its due date anchors the attempts
    entity = ledger.account_entity(mandate.unit_id)
    made = ledger.keys(entity, f"autopay#{cycle.bill_id}#")
    schedule = (0, *settings.retry_days)
    if any(key.endswith("#given_up") for key in made):
        return
    attempt = sum(1 for key in made if not key.endswith("#given_up"))
    if attempt >= len(schedule) or today < cycle.due_date + timedelta(days=schedule[attempt]):
        return
    amount = sum(b.total_minor - b.paid_minor for b in due)
    metadata = {
        "property_id": config.property_id,
        "unit_id": mandate.unit_id,
        "bill_ids": ",".join(b.bill_id for b in due),
        "purpose": PURPOSE,
    }
    try:
        charged = cards.charge(
            customer_id=str(mandate.customer_id),
            payment_method_id=str(mandate.payment_method_id),
            amount_minor=amount,
            currency=config.currency,
            metadata=metadata,
            idempotency_key=f"autopay:{cycle.bill_id}:{attempt}",
        )
    except ProviderUnavailable:
        result.unavailable += 1  # no attempt recorded: the next run tries the same one
        return
    if charged.state == "pending":
        result.unavailable += 1  # Stripe is still processing it: the next run asks again (same key)
        return
    detail = {"unit_id": mandate.unit_id, "attempt": attempt, "state": charged.state, "code": charged.code}
    result.details.append(detail)
    if charged.state == "succeeded" and charged.intent_id:
        _land(charged, mandate, due, owner_id, config=config, now=now, record=record, receipt_url=receipt_url)
        ledger.append(entity, "autopay_charged", at=now, key=f"autopay#{cycle.bill_id}#{attempt}",
                      data={"amount_minor": charged.amount_minor, "intent": charged.intent_id})  # fmt: skip
        result.charged += 1
        return
    ledger.append(entity, "autopay_declined", at=now, key=f"autopay#{cycle.bill_id}#{attempt}",
                  data={"amount_minor": amount, "code": charged.code})  # fmt: skip
    result.declined += 1
    if charged.state == "needs_owner" or attempt + 1 >= len(schedule):
        ledger.append(entity, "autopay_given_up", at=now, key=f"autopay#{cycle.bill_id}#given_up",
                      data={"code": charged.code})  # fmt: skip
        result.given_up += 1
        if owner_id:
            context: dict[str, Any] = {
                "unit_id": mandate.unit_id,
                "amount_minor": amount,
                "currency": config.currency,
                "bills": [{"bill_id": b.bill_id, "period": b.period} for b in due],
                "reason": charged.code,
            }
            if pay_url is not None:
                context["pay_url"] = pay_url(mandate.unit_id, owner_id)
            notify([MessageRequest(message_id=f"payment_failed#autopay#{cycle.bill_id}", template="payment_failed",
                                   owner_id=owner_id, channels=("email", "sms"), context=context)])  # fmt: skip


def _land(
    charged: OffSessionCharge,
    mandate: Mandate,
    due: list[Bill],
    owner_id: str | None,
    *,
    config: PropertyConfig,
    now: datetime,
    record: Callable[..., PaymentOutcome],
    receipt_url: ReceiptUrl | None,
) -> PaymentOutcome:
    return record(
        IncomingPayment(
            payment_id=payment_id_for(str(charged.intent_id)),
            provider=STRIPE,
            method="card",
            channel="online",
            unit_id=mandate.unit_id,
            amount_minor=charged.amount_minor,
            currency=config.currency,
            paid_at=now.astimezone(UTC),
            targets=tuple(b.bill_id for b in due),
            reference=f"{card_label(mandate)} (autopay)",
            unit_known=True,
            owner_id=owner_id,
        ),
        config=config,
        now=now,
        receipt_url=receipt_url,
    )
