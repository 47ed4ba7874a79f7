"""Crediting a payment to its bill exactly once, then the receipt (F4, F5).

``record_online_payment`` takes a payment Stripe reported (already signature-checked and
interpreted) and decides:

- the same payment already recorded -> nothing new; the follow-ups (ledger, receipt message)
  are completed again, each idempotent, so a retry after a crash finishes the job;
- the bill is unknown, or the amount or currency differs from what is outstanding -> the
  payment is recorded as ``mismatch`` for staff, the bill stays open;
- the bill is already paid by another payment -> recorded as ``duplicate`` (a credit for
  staff to refund), the bill untouched;
- otherwise one transaction records the payment, marks the bill paid and takes the next
  receipt number; then the ledger entry and the receipt message.

Store errors propagate: the webhook answers 5xx and Stripe delivers again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger

from propdesk.config import PropertyConfig
from propdesk.domain.billing import Bill
from propdesk.domain.receipts import format_receipt_number, receipt_counter_name, receipt_year
from propdesk.messaging.requests import MessageRequest, enqueue_messages
from propdesk.payments.events import Ignored, OnlinePayment, interpret_event
from propdesk.settings import get_settings
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


def bill_entity(bill_id: str) -> str:
    return f"bill#{bill_id}"


def payment_entity(payment_id: str) -> str:
    return f"payment#{payment_id}"


def _queue_messages(requests: Sequence[MessageRequest]) -> None:
    enqueue_messages(requests, queue_url=get_settings().messages_queue_url)


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
    bills = bills or BillRepository()
    payments = payments or PaymentRepository()
    notify = notify or _queue_messages
    append = append or ledger.append

    def record(status: str, *, bill_id: str) -> PaymentRecord:
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

    def set_aside(status: str, bill: Bill | None, reason: str) -> PaymentOutcome:
        """Record a payment that credits nothing, for staff to resolve (refund or allocate)."""
        payments.record(record(status, bill_id=payment.bill_id))
        entity = bill_entity(payment.bill_id) if bill else payment_entity(payment.payment_id)
        event = "payment_mismatch" if status == STATUS_MISMATCH else "duplicate_payment"
        append(
            entity,
            event,
            at=now,
            key=f"{status}#{payment.payment_id}",
            data={
                "payment_id": payment.payment_id,
                "bill_id": payment.bill_id,
                "amount_minor": payment.amount_minor,
                "currency": payment.currency,
                "reason": reason,
            },
        )
        # Staff see these in the payments table and the ledger; the warning feeds an alarm.
        logger.warning(
            "payment set aside for staff",
            payment_id=payment.payment_id,
            bill_id=payment.bill_id,
            status=status,
            reason=reason,
        )
        return PaymentOutcome(status, payment.payment_id, payment.bill_id)  # type: ignore[arg-type]

    existing = payments.get(payment.payment_id)
    if existing is not None:
        return _already_recorded(existing, bills=bills, notify=notify, append=append)

    for _ in range(max_attempts):
        bill = bills.get(payment.bill_id)
        if bill is None:
            return set_aside(STATUS_MISMATCH, None, "unknown bill")
        if not bill.is_open:
            if bill.payment_id == payment.payment_id:
                return _already_recorded_bill(bill, notify=notify, append=append)
            return set_aside(STATUS_DUPLICATE, bill, "bill already paid")
        outstanding = bill.total_minor - bill.paid_minor
        if payment.currency != bill.currency or payment.amount_minor != outstanding:
            return set_aside(STATUS_MISMATCH, bill, "amount or currency differs from the bill")

        year = receipt_year(payment.paid_at, config.tz)
        counter = receipt_counter_name(year)
        current = payments.counter_value(counter)
        receipt_no = format_receipt_number(config.property_id, year, (current or 0) + 1)
        credit = replace(record(STATUS_CREDITED, bill_id=bill.bill_id), receipt_no=receipt_no)
        result = payments.credit(credit, bill=bill, counter=counter, counter_value=current)
        if result is CreditResult.CREDITED:
            logger.info(
                "payment credited", payment_id=payment.payment_id, bill_id=bill.bill_id, receipt_no=receipt_no
            )
            _after_credit(
                bill,
                payment_id=payment.payment_id,
                receipt_no=receipt_no,
                amount_minor=payment.amount_minor,
                currency=payment.currency,
                paid_at=payment.paid_at,
                notify=notify,
                append=append,
            )
            return PaymentOutcome("credited", payment.payment_id, bill.bill_id, receipt_no)
        if result is CreditResult.PAYMENT_EXISTS:
            # The same payment, reported by another event, won the race.
            existing = payments.get(payment.payment_id)
            if existing is not None:
                return _already_recorded(existing, bills=bills, notify=notify, append=append)
        # BILL_CHANGED or COUNTER_MOVED: read again and retry.
        logger.info(
            "credit retried", payment_id=payment.payment_id, bill_id=payment.bill_id, reason=result.value
        )
    raise CreditContention(payment.payment_id)


def _already_recorded(
    existing: PaymentRecord, *, bills: BillRepository, notify: Notify, append: LedgerAppend
) -> PaymentOutcome:
    if existing.status == STATUS_CREDITED:
        bill = bills.get(existing.bill_id)
        if bill is not None and bill.payment_id == existing.payment_id:
            return _already_recorded_bill(bill, notify=notify, append=append)
    logger.info("payment already recorded", payment_id=existing.payment_id, status=existing.status)
    return PaymentOutcome("already_recorded", existing.payment_id, existing.bill_id, existing.receipt_no)


def _already_recorded_bill(bill: Bill, *, notify: Notify, append: LedgerAppend) -> PaymentOutcome:
    """Finish the follow-ups of a credit made earlier (a crash may have cut them short)."""
    if not (bill.payment_id and bill.receipt_no and bill.paid_at):
        raise ValueError("bill is not paid")
    _after_credit(
        bill,
        payment_id=bill.payment_id,
        receipt_no=bill.receipt_no,
        amount_minor=bill.paid_minor,
        currency=bill.currency,
        paid_at=bill.paid_at,
        notify=notify,
        append=append,
    )
    logger.info("payment already recorded", payment_id=bill.payment_id, bill_id=bill.bill_id)
    return PaymentOutcome("already_recorded", bill.payment_id, bill.bill_id, bill.receipt_no)


def _after_credit(
    bill: Bill,
    *,
    payment_id: str,
    receipt_no: str,
    amount_minor: int,
    currency: str,
    paid_at: datetime,
    notify: Notify,
    append: LedgerAppend,
) -> None:
    append(
        bill_entity(bill.bill_id),
        "paid",
        at=paid_at,
        key=f"paid#{payment_id}",
        data={
            "payment_id": payment_id,
            "receipt_no": receipt_no,
            "amount_minor": amount_minor,
            "currency": currency,
            "channel": "online",
        },
    )
    notify(
        [
            receipt_message(
                receipt_no=receipt_no,
                bill=bill,
                amount_minor=amount_minor,
                currency=currency,
                paid_at=paid_at,
            )
        ]
    )


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
