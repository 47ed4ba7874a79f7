"""Crediting a payment to its bill exactly once, then the receipt (F4, F5).

``record_online_payment`` takes a payment Stripe reported (already signature-checked and
interpreted) and works in three steps: ``decide`` (pure: what the payment means against the
stored payment and bill), ``credit`` (the one transaction) and the follow-ups
(``after_credit``, ``set_aside``). The decision:

- the same payment already recorded -> nothing new; the follow-ups (ledger, receipt message)
  are completed again, each idempotent, so a retry after a crash finishes the job;
- the bill is unknown, or the amount or currency differs from what is outstanding -> the
  payment is recorded as ``mismatch`` for staff, the bill stays open;
- the bill is already paid by another payment -> recorded as ``duplicate`` (a credit for
  staff to refund), the bill untouched;
- otherwise one transaction records the payment, marks the bill paid and takes the next
  receipt number; then the ledger entry and the receipt message (from the bill as stored, so a
  repeat after a crash sends the same receipt).

Store errors propagate: the webhook answers 5xx and Stripe delivers again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger

from propdesk.config import PropertyConfig
from propdesk.domain.billing import STATUS_PAID, Bill
from propdesk.domain.receipts import format_receipt_number, receipt_counter_name, receipt_year
from propdesk.messaging.requests import MESSAGES_QUEUE, MessageRequest
from propdesk.payments.events import Ignored, OnlinePayment, interpret_event
from propdesk.queues import QueueProducer
from propdesk.store import ledger
from propdesk.store.bills import BillRepository
from propdesk.store.payments import (
    STATUS_CREDITED,
    STATUS_DUPLICATE,
    STATUS_MISMATCH,
    CreditResult,
    PaymentRecord,
    PaymentRepository,
)

logger = Logger(child=True)

Outcome = Literal["credited", "already_recorded", "mismatch", "duplicate"]
Notify = Callable[[Sequence[MessageRequest]], Any]
LedgerAppend = Callable[..., bool]

MAX_CREDIT_ATTEMPTS = 8


class CreditContention(RuntimeError):
    """The bill or the receipt counter kept moving; the provider's retry will try again."""


@dataclass(frozen=True)
class PaymentOutcome:
    outcome: Outcome
    payment_id: str
    bill_id: str
    receipt_no: str | None = None


# --- decide: what a reported payment means, given what is stored -------------------------------


@dataclass(frozen=True)
class Credit:
    """Credit the payment to this bill (read with its version)."""

    bill: Bill


@dataclass(frozen=True)
class AlreadyRecorded:
    """This payment is recorded; finish its follow-ups (``bill`` set when it was credited)."""

    record: PaymentRecord | None
    bill: Bill | None


@dataclass(frozen=True)
class SetAside:
    """Record the payment for staff without crediting anything."""

    status: str  # mismatch | duplicate
    reason: str
    bill: Bill | None


Decision = Credit | AlreadyRecorded | SetAside


def decide(payment: OnlinePayment, *, existing: PaymentRecord | None, bill: Bill | None) -> Decision:
    """Pure: the payment against its stored record (if any) and the bill it names."""
    if existing is not None:
        credited = existing.status == STATUS_CREDITED and bill is not None
        return AlreadyRecorded(
            existing, bill if credited and bill.payment_id == existing.payment_id else None
        )
    if bill is None:
        return SetAside(STATUS_MISMATCH, "unknown bill", None)
    if not bill.is_open:
        if bill.payment_id == payment.payment_id:
            return AlreadyRecorded(None, bill)
        return SetAside(STATUS_DUPLICATE, "bill already paid", bill)
    if payment.currency != bill.currency or payment.amount_minor != bill.total_minor - bill.paid_minor:
        return SetAside(STATUS_MISMATCH, "amount or currency differs from the bill", bill)
    return Credit(bill)


# --- credit: the one transaction, with the next receipt number ---------------------------------


def _record(payment: OnlinePayment, status: str, *, bill_id: str, now: datetime) -> PaymentRecord:
    return PaymentRecord(
        payment_id=payment.payment_id,
        bill_id=bill_id,
        provider=payment.provider,
        channel="online",
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        status=status,
        received_at=now,
        event_id=payment.event_id,
        paid_at=payment.paid_at,
    )


def credit(
    payment: OnlinePayment, bill: Bill, *, config: PropertyConfig, now: datetime, payments: PaymentRepository
) -> tuple[CreditResult, str]:
    """Record the payment, mark the bill paid and take the year's next receipt number, all at once."""
    year = receipt_year(payment.paid_at, config.tz)
    counter = receipt_counter_name(year)
    current = payments.counter_value(counter)
    receipt_no = format_receipt_number(config.property_id, year, (current or 0) + 1)
    record = replace(_record(payment, STATUS_CREDITED, bill_id=bill.bill_id, now=now), receipt_no=receipt_no)
    return payments.credit(record, bill=bill, counter=counter, counter_value=current), receipt_no


def paid_bill(bill: Bill, payment: OnlinePayment, *, receipt_no: str) -> Bill:
    """The bill as the credit transaction left it (no need to read it back)."""
    return replace(
        bill,
        status=STATUS_PAID,
        paid_minor=bill.paid_minor + payment.amount_minor,
        paid_at=payment.paid_at,
        payment_id=payment.payment_id,
        receipt_no=receipt_no,
    )


# --- follow-ups: ledger entries and messages, each idempotent ----------------------------------


def receipt_message(
    *, receipt_no: str, bill: Bill, amount_minor: int, currency: str, paid_at: datetime
) -> MessageRequest:
    return MessageRequest(
        message_id=f"payment_receipt#{receipt_no}",
        template="payment_receipt",
        owner_id=bill.owner_id,
        channels=("email", "sms"),
        context={
            "receipt_no": receipt_no,
            "bill_id": bill.bill_id,
            "unit_id": bill.unit_id,
            "period": bill.period,
            "amount_minor": amount_minor,
            "currency": currency,
            "paid_at": paid_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        },
    )


def after_credit(bill: Bill, *, amount_minor: int, notify: Notify, append: LedgerAppend) -> None:
    """The ledger entry and the receipt message of the payment that credited ``bill`` (of
    ``amount_minor``: the payment's, not what the bill has received in all); safe to repeat (a
    crash may have cut them short, and the provider's retry finishes them)."""
    if not (bill.payment_id and bill.receipt_no and bill.paid_at):
        raise ValueError("bill is not paid")
    append(
        ledger.bill_entity(bill.bill_id),
        "paid",
        at=bill.paid_at,
        key=f"paid#{bill.payment_id}",
        data={
            "payment_id": bill.payment_id,
            "receipt_no": bill.receipt_no,
            "amount_minor": amount_minor,
            "currency": bill.currency,
            "channel": "online",
        },
    )
    notify(
        [
            receipt_message(
                receipt_no=bill.receipt_no,
                bill=bill,
                amount_minor=amount_minor,
                currency=bill.currency,
                paid_at=bill.paid_at,
            )
        ]
    )


def set_aside(
    payment: OnlinePayment,
    decision: SetAside,
    *,
    now: datetime,
    payments: PaymentRepository,
    append: LedgerAppend,
) -> PaymentOutcome:
    """Record a payment that credits nothing, for staff to resolve (refund or allocate)."""
    payments.record(_record(payment, decision.status, bill_id=payment.bill_id, now=now))
    entity = (
        ledger.bill_entity(payment.bill_id) if decision.bill else ledger.payment_entity(payment.payment_id)
    )
    append(
        entity,
        "payment_mismatch" if decision.status == STATUS_MISMATCH else "duplicate_payment",
        at=now,
        key=f"{decision.status}#{payment.payment_id}",
        data={
            "payment_id": payment.payment_id,
            "bill_id": payment.bill_id,
            "amount_minor": payment.amount_minor,
            "currency": payment.currency,
            "reason": decision.reason,
        },
    )
    # Staff see these in the payments table and the ledger; the webhook's metric feeds an alarm.
    logger.warning(
        "payment set aside for staff",
        payment_id=payment.payment_id,
        bill_id=payment.bill_id,
        status=decision.status,
        reason=decision.reason,
    )
    return PaymentOutcome(decision.status, payment.payment_id, payment.bill_id)  # type: ignore[arg-type]


def _already_recorded(
    decision: AlreadyRecorded, payment: OnlinePayment, *, notify: Notify, append: LedgerAppend
) -> PaymentOutcome:
    if decision.bill is not None:
        # The amount as recorded (the same payment, reported again, carries the same amount).
        amount = decision.record.amount_minor if decision.record is not None else payment.amount_minor
        after_credit(decision.bill, amount_minor=amount, notify=notify, append=append)
        bill = decision.bill
        logger.info("payment already recorded", payment_id=bill.payment_id, bill_id=bill.bill_id)
        return PaymentOutcome("already_recorded", str(bill.payment_id), bill.bill_id, bill.receipt_no)
    record = decision.record
    assert record is not None
    logger.info("payment already recorded", payment_id=record.payment_id, status=record.status)
    return PaymentOutcome("already_recorded", record.payment_id, record.bill_id, record.receipt_no)


def record_online_payment(
    payment: OnlinePayment,
    *,
    config: PropertyConfig,
    now: datetime,
    bills: BillRepository | None = None,
    payments: PaymentRepository | None = None,
    notify: Notify | None = None,
    append: LedgerAppend | None = None,
    max_attempts: int = MAX_CREDIT_ATTEMPTS,
) -> PaymentOutcome:
    """Decide, credit (retrying when the bill or the receipt counter moved), then follow up.
    Store errors propagate: the webhook answers 5xx and the provider delivers again."""
    bills = bills or BillRepository()
    payments = payments or PaymentRepository()
    notify = notify or QueueProducer(MESSAGES_QUEUE).send
    append = append or ledger.append

    existing = payments.get(payment.payment_id)
    for _ in range(max_attempts):
        bill = bills.get(existing.bill_id if existing else payment.bill_id)
        decision = decide(payment, existing=existing, bill=bill)
        if isinstance(decision, AlreadyRecorded):
            return _already_recorded(decision, payment, notify=notify, append=append)
        if isinstance(decision, SetAside):
            return set_aside(payment, decision, now=now, payments=payments, append=append)
        result, receipt_no = credit(payment, decision.bill, config=config, now=now, payments=payments)
        if result is CreditResult.CREDITED:
            logger.info(
                "payment credited",
                payment_id=payment.payment_id,
                bill_id=decision.bill.bill_id,
                receipt_no=receipt_no,
            )
            paid = paid_bill(decision.bill, payment, receipt_no=receipt_no)
            after_credit(paid, amount_minor=payment.amount_minor, notify=notify, append=append)
            return PaymentOutcome("credited", payment.payment_id, paid.bill_id, receipt_no)
        if result is CreditResult.PAYMENT_EXISTS:
            # The same payment, reported by another event, won the race: decide again from it.
            existing = payments.get(payment.payment_id)
        # BILL_CHANGED or COUNTER_MOVED: read again and retry.
        logger.info(
            "credit retried", payment_id=payment.payment_id, bill_id=payment.bill_id, reason=result.value
        )
    raise CreditContention(payment.payment_id)


def process_stripe_event(
    event: dict[str, Any],
    *,
    config: PropertyConfig,
    livemode: bool,
    now: datetime,
    record: Callable[..., PaymentOutcome] = record_online_payment,
) -> dict[str, Any]:
    """Act on a signature-checked Stripe event; the result is what the webhook answers (and
    what the idempotency record replays for a repeat of the same event)."""
    interpreted = interpret_event(event, property_id=config.property_id, livemode=livemode)
    if isinstance(interpreted, Ignored):
        logger.info(
            "stripe event ignored",
            event_id=interpreted.event_id,
            event_type=interpreted.event_type,
            reason=interpreted.reason,
        )
        return {"received": True, "outcome": "ignored"}
    outcome = record(interpreted, config=config, now=now)
    return {"received": True, "outcome": outcome.outcome}
