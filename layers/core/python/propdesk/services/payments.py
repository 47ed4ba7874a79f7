"""A payment lands on its unit's account exactly once, whatever the channel (F4, F5).

Every channel (Stripe, the front desk, a bank transfer) hands over an ``IncomingPayment`` keyed
on its provider's own id. ``record_payment`` then works in three steps:

1. **read** everything it needs in one BatchGetItem (the payment, the account, the bills it was
   made for, the year's receipt counter);
2. **decide** (pure, ``decide``): already recorded -> finish its follow-ups; no unit, or another
   currency -> set aside for staff; otherwise spread it over the unit's open bills
   (``domain.accounts.allocate``: oldest first, the rest to the account's credit) with the next
   receipt number;
3. **post** it in one transaction (``store.accounts``), retrying when the account, a bill or the
   counter moved under it, then the follow-ups: the receipt message.

Money for bills that were settled meanwhile (two tabs, desk and online) becomes credit, the
receipt says so, and the payment waits in the staff queue (``review_state``) until staff keep
the credit, refund it or allocate it; with ``payment.surplus: refund`` an online one is refunded
at once instead (``services.refunds``), and the receipt says that. Store errors propagate: the provider delivers again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger

from propdesk.config import PropertyConfig
from propdesk.domain.accounts import MAX_BILLS_PER_POSTING, Allocation, OpenBill, Plan, allocate, oldest_first
from propdesk.domain.billing import STATUS_OPEN, STATUS_PAID, Bill
from propdesk.domain.receipts import format_receipt_number, receipt_counter_name, receipt_year
from propdesk.messaging.requests import MESSAGES_QUEUE, MessageRequest
from propdesk.payments.events import CardSetup, Ignored, OnlinePayment, interpret_event
from propdesk.queues import QueueProducer
from propdesk.services import refunds
from propdesk.services.errors import DeskError
from propdesk.store import ledger
from propdesk.store.accounts import Account, AccountStore, Entry, Posting, PostResult, Snapshot, fold
from propdesk.store.payments import (
    ALLOCATED,
    CURRENCY,
    DUPLICATE,
    MISMATCH,
    REVIEW_OPEN,
    SET_ASIDE,
    UNKNOWN_BILL,
    UNKNOWN_UNIT,
    PaymentRecord,
    PaymentRepository,
)

logger = Logger(child=True)

Outcome = Literal[
    "credited",  # every bill it was for is paid
    "partial",  # it paid part of what is owed; the rest stays open
    "credit",  # it paid everything owed and the rest is the account's credit
    "duplicate",  # the bills it was for were settled already: credit, for staff to look at
    "mismatch",  # it differs from what its bills owe: allocated as it is, for staff to look at
    "unknown_bill",  # its bills are not the unit's: credit, for staff to look at
    "set_aside",  # no unit, or another currency: landed nowhere, for staff to place
    "already_recorded",
]
# Outcomes that put the payment in the staff queue, with the reason staff see.
REVIEWED: dict[str, str] = {"duplicate": DUPLICATE, "mismatch": MISMATCH, "unknown_bill": UNKNOWN_BILL}
Notify = Callable[[Sequence[MessageRequest]], Any]

MAX_ATTEMPTS = 8


class CreditContention(RuntimeError):
    """The account, a bill or the receipt counter kept moving; the provider's retry tries again."""


@dataclass(frozen=True)
class IncomingPayment:
    """A payment as a channel reports it, before it lands."""

    payment_id: str  # "<provider>:<the provider's own id>": the key that makes it count once
    provider: str
    method: str  # card | wechat_pay | alipay | cash | bank_card | cheque | bank_transfer
    channel: str  # online | front_desk | home_visit | bank
    unit_id: str | None
    amount_minor: int
    currency: str
    paid_at: datetime  # when the owner paid (UTC)
    targets: tuple[str, ...] = ()  # the bills it was made for; () = any open bill of the unit
    event_id: str | None = None
    reference: str | None = None
    recorded_by: str | None = None
    # The channel knows the unit exists (the front desk looked it up): a unit never billed yet
    # gets its account with this payment as credit, instead of the payment being set aside.
    unit_known: bool = False
    owner_id: str | None = None  # the unit's owner, for an account opened by this payment
    session_id: str | None = None  # the Checkout Session it paid, if any


@dataclass(frozen=True)
class PaymentOutcome:
    outcome: Outcome
    payment_id: str
    unit_id: str | None
    receipt_no: str | None = None
    allocations: tuple[Allocation, ...] = ()
    credit_minor: int = 0
    record: PaymentRecord | None = None  # as stored (None: not recorded)


# --- decide: what a payment means, given what is stored ------------------------------------------


@dataclass(frozen=True)
class AlreadyRecorded:
    record: PaymentRecord


@dataclass(frozen=True)
class SetAside:
    reason: str  # unknown_unit | currency
    unit_id: str | None


@dataclass(frozen=True)
class Post:
    """Land the payment: this posting, and what it tells the owner."""

    posting: Posting
    record: PaymentRecord
    outcome: Outcome


Decision = AlreadyRecorded | SetAside | Post


def unit_of(payment: IncomingPayment, snapshot: Snapshot) -> str | None:
    if payment.unit_id:
        return payment.unit_id
    return next((bill.unit_id for bill in snapshot.bills.values()), None)


def open_bill(bill: Bill) -> OpenBill:
    return OpenBill(bill.bill_id, bill.period, bill.total_minor - bill.paid_minor)


def decide(
    payment: IncomingPayment,
    snapshot: Snapshot,
    *,
    config: PropertyConfig,
    now: datetime,
) -> Decision:
    """Pure: the payment against what the store holds."""
    if snapshot.payment is not None:
        return AlreadyRecorded(snapshot.payment)
    unit_id = unit_of(payment, snapshot)
    if unit_id is None or (snapshot.account is None and not snapshot.bills and not payment.unit_known):
        return SetAside(UNKNOWN_UNIT, unit_id)
    if payment.currency != config.currency:
        return SetAside(CURRENCY, unit_id)
    account = snapshot.account or Account(unit_id, owner_id=payment.owner_id, currency=config.currency)
    candidates = payment.targets or account.open_bill_ids
    bills = {
        b: snapshot.bills[b]
        for b in candidates
        if b in snapshot.bills and snapshot.bills[b].unit_id == unit_id
    }
    owing = oldest_first(
        open_bill(bill) for bill in bills.values() if bill.is_open and bill.total_minor > bill.paid_minor
    )[:MAX_BILLS_PER_POSTING]
    plan = allocate(
        payment.amount_minor,
        owing,
        order=config.payment.allocation_order,
        targets=set(payment.targets) if payment.targets else None,
    )
    year = receipt_year(payment.paid_at, config.tz)
    receipt_no = format_receipt_number(config.property_id, year, (snapshot.counter_value or 0) + 1)
    outcome = _outcome(plan, payment, bills, owing)
    record = PaymentRecord(
        payment_id=payment.payment_id,
        unit_id=unit_id,
        provider=payment.provider,
        method=payment.method,
        channel=payment.channel,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        status=ALLOCATED,
        received_at=now,
        paid_at=payment.paid_at,
        targets=payment.targets,
        allocations=plan.allocations,
        credit_minor=plan.credit_minor,
        receipt_no=receipt_no,
        event_id=payment.event_id,
        reference=payment.reference,
        recorded_by=payment.recorded_by,
        review_state=REVIEW_OPEN if outcome in REVIEWED else None,
        review_reason=REVIEWED.get(outcome),
    )
    changed = tuple(_paid(bills[a.bill_id], a, record) for a in plan.allocations)
    settled = {bill.bill_id for bill in changed if bill.status == STATUS_PAID}
    new_account = replace(
        account,
        owner_id=account.owner_id or next((b.owner_id for b in bills.values()), None),
        credit_minor=account.credit_minor + plan.credit_minor,
        open_bill_ids=tuple(b for b in account.open_bill_ids if b not in settled),
        payment_ids=account.with_payment(payment.payment_id),
        # A session paid: the account's other sessions are expired after the posting.
        open_sessions=() if payment.session_id else account.open_sessions,
    )
    posting = Posting(
        account=new_account,
        changed_bills=changed,
        new_payment=record,
        counter=(receipt_counter_name(year), snapshot.counter_value),
        entries=payment_entries(record, plan, now=now),
    )
    return Post(posting=posting, record=record, outcome=outcome)


def _outcome(plan: Plan, payment: IncomingPayment, bills: dict[str, Bill], owing: list[OpenBill]) -> Outcome:
    if payment.targets:
        if not bills:
            return "unknown_bill"  # none of the bills it names is the unit's
        if not owing:
            return "duplicate"  # everything it was made for was settled already
        if payment.amount_minor != sum(bill.owed_minor for bill in owing):
            return "mismatch"  # a checkout charges what its bills owe: something changed
    if plan.credit_minor:
        return "credit"
    still_owed = any(
        (bill := bills.get(a.bill_id)) is not None and bill.total_minor - bill.paid_minor > a.amount_minor
        for a in plan.allocations
    )
    return "partial" if still_owed else "credited"


def _paid(bill: Bill, allocation: Allocation, record: PaymentRecord) -> Bill:
    paid_minor = bill.paid_minor + allocation.amount_minor
    settled = paid_minor >= bill.total_minor
    return replace(
        bill,
        paid_minor=paid_minor,
        status=STATUS_PAID if settled else STATUS_OPEN,
        paid_at=record.paid_at if settled else bill.paid_at,
        payment_id=record.payment_id,
        receipt_no=record.receipt_no,
    )


def payment_entries(record: PaymentRecord, plan: Plan, *, now: datetime) -> tuple[Entry, ...]:
    """The ledger's postings of a landed payment: on the account (the payment, each allocation,
    the credit) and on each bill it paid."""
    account = ledger.account_entity(str(record.unit_id))
    common = {"currency": record.currency, "receipt_no": record.receipt_no}
    entries = [
        Entry(
            account,
            f"payment#{record.payment_id}",
            "payment",
            record.paid_at,
            {
                **common,
                "payment_id": record.payment_id,
                "amount_minor": record.amount_minor,
                "method": record.method,
                "channel": record.channel,
            },
        )
    ]
    for allocation in plan.allocations:
        data = {
            **common,
            "payment_id": record.payment_id,
            "bill_id": allocation.bill_id,
            "amount_minor": allocation.amount_minor,
            "principal_minor": allocation.principal_minor,
            "late_fee_minor": allocation.late_fee_minor,
        }
        entries.append(
            Entry(account, f"allocation#{record.payment_id}#{allocation.bill_id}", "allocation", now, data)
        )
        entries.append(
            Entry(
                ledger.bill_entity(allocation.bill_id),
                f"paid#{record.payment_id}",
                "paid",
                record.paid_at,
                data,
            )
        )
    if plan.credit_minor:
        data = {**common, "payment_id": record.payment_id, "amount_minor": plan.credit_minor}
        entries.append(Entry(account, f"credit#{record.payment_id}", "credit", now, data))
    return tuple(entries)


# --- follow-ups -----------------------------------------------------------------------------------


ReceiptUrl = Callable[[PaymentRecord, str], str]  # (payment, owner id) -> the owner's link


def receipt_message(
    record: PaymentRecord,
    *,
    owner_id: str,
    bills: dict[str, Bill] | None = None,
    refund: bool = False,
    receipt_url: ReceiptUrl | None = None,
) -> MessageRequest:
    """The owner's receipt for a landed payment: what it paid, bill by bill, and any credit (or,
    with ``refund``, that the money for bills paid already goes back: ``services.refunds``)."""
    bills = bills or {}
    paid = [
        {
            "bill_id": a.bill_id,
            "period": bills[a.bill_id].period if a.bill_id in bills else a.bill_id.rsplit("#", 1)[-1],
            "amount_minor": a.amount_minor,
        }
        for a in record.allocations
    ]
    return MessageRequest(
        message_id=f"payment_receipt#{record.receipt_no}",
        template="payment_receipt",
        owner_id=owner_id,
        channels=("email", "sms"),
        context={
            "receipt_no": record.receipt_no,
            "payment_id": record.payment_id,
            "unit_id": record.unit_id,
            "period": paid[0]["period"] if paid else None,
            "bills": paid,
            "credit_minor": record.credit_minor,
            "to_refund_minor": record.credit_minor if refund else 0,
            "amount_minor": record.amount_minor,
            "currency": record.currency,
            "method": record.method,
            "paid_at": record.paid_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            # The owner's lasting link to the receipt PDF (it mints a short-lived one when opened).
            "receipt_url": receipt_url(record, owner_id) if receipt_url else None,
        },
    )


def follow_up(
    record: PaymentRecord,
    *,
    owner_id: str | None,
    bills: dict[str, Bill],
    notify: Notify,
    refund: bool = False,
    receipt_url: ReceiptUrl | None = None,
) -> None:
    """Send the receipt (the messenger sends each receipt number once, so this is safe to repeat)."""
    if not record.receipt_no or not owner_id:
        return
    notify([receipt_message(record, owner_id=owner_id, bills=bills, refund=refund, receipt_url=receipt_url)])


# --- the whole: read, decide, post, follow up -----------------------------------------------------


def record_payment(
    payment: IncomingPayment,
    *,
    config: PropertyConfig,
    now: datetime,
    store: AccountStore | None = None,
    payments: PaymentRepository | None = None,
    notify: Notify | None = None,
    expire: Callable[[str], None] | None = None,
    receipt_url: ReceiptUrl | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> PaymentOutcome:
    store = store or AccountStore()
    payments = payments or PaymentRepository()
    notify = notify or QueueProducer(MESSAGES_QUEUE).send
    counter = receipt_counter_name(receipt_year(payment.paid_at, config.tz))
    unit_hint = payment.unit_id or _unit_of_bill_ids(payment.targets)
    for _ in range(max_attempts):
        snapshot = store.snapshot(
            payment_id=payment.payment_id, unit_id=unit_hint, bill_ids=payment.targets, counter=counter
        )
        if not payment.targets and snapshot.account is not None and snapshot.payment is None:
            # A payment for any open bill: read those bills too (desk and bank only), with the
            # bills issued in batches since the account was written (its charge entries).
            charges = store.charges(snapshot.account)
            listed = [*snapshot.account.open_bill_ids, *(charges.bill_ids if charges else ())]
            bills = {**snapshot.bills, **store.snapshot(bill_ids=listed).bills}
            account = fold(snapshot.account, charges, bills) if charges else snapshot.account
            snapshot = replace(snapshot, account=account, bills=bills)
        elif (
            snapshot.account is not None and snapshot.payment is None and _unlisted(snapshot, payment.targets)
        ):
            # A bill it pays was issued in a batch since the account was written: the account
            # takes in those bills now, so the posting records them (one Query more).
            account = store.with_new_bills(snapshot.account, known=snapshot.bills)
            snapshot = replace(snapshot, account=account)
        decision = decide(payment, snapshot, config=config, now=now)
        if isinstance(decision, AlreadyRecorded):
            return _already_recorded(
                decision.record,
                snapshot,
                store=store,
                notify=notify,
                refund=refunds.refunds_surplus(config, decision.record),
                receipt_url=receipt_url,
            )
        if isinstance(decision, SetAside):
            return _set_aside(payment, decision, now=now, payments=payments)
        result = store.post(decision.posting, now=now)
        if result is PostResult.POSTED:
            record = decision.record
            logger.info(
                "payment landed",
                payment_id=record.payment_id,
                unit_id=record.unit_id,
                outcome=decision.outcome,
                receipt_no=record.receipt_no,
                allocated_minor=record.allocated_minor,
                credit_minor=record.credit_minor,
            )
            follow_up(
                record,
                owner_id=decision.posting.account.owner_id,
                bills=snapshot.bills,
                notify=notify,
                refund=refunds.refunds_surplus(config, record),
                receipt_url=receipt_url,
            )
            if payment.session_id and snapshot.account is not None and expire is not None:
                expire_other_sessions(snapshot.account, payment.session_id, now=now, expire=expire)
            return PaymentOutcome(
                decision.outcome,
                record.payment_id,
                record.unit_id,
                record.receipt_no,
                record.allocations,
                record.credit_minor,
                record,
            )
        # PAYMENT_EXISTS: another delivery won the race (the next read finds it); MOVED_ON: read again.
        logger.info("posting retried", payment_id=payment.payment_id, reason=result.value)
    raise CreditContention(payment.payment_id)


def expire_other_sessions(
    account: Account, paid_session: str, *, now: datetime, expire: Callable[[str], None]
) -> int:
    """Expire the unit's other open Checkout Sessions (another tab, an older visit) so none of
    them can charge the owner again. A failure is logged, not raised: the payment has landed,
    and a session Stripe still lets through lands as credit for staff (the duplicate path)."""
    expired = 0
    for session_id in account.sessions_open_at(now):
        if session_id == paid_session:
            continue
        try:
            expire(session_id)
            expired += 1
        except Exception:
            logger.warning("checkout session not expired", session_id=session_id, exc_info=True)
    if expired:
        logger.info("other checkout sessions expired", unit_id=account.unit_id, sessions=expired)
    return expired


def _unit_of_bill_ids(bill_ids: Sequence[str]) -> str | None:
    """Bill ids are "<unit>#<period>": the unit, when the channel did not say."""
    return bill_ids[0].rsplit("#", 1)[0] if bill_ids else None


def _unlisted(snapshot: Snapshot, targets: Sequence[str]) -> bool:
    """Whether a bill the payment names is open and not listed on the account (issued in a
    batch since the account was written)."""
    assert snapshot.account is not None
    listed = set(snapshot.account.open_bill_ids)
    return any(b in snapshot.bills and snapshot.bills[b].is_open and b not in listed for b in targets)


def _already_recorded(
    record: PaymentRecord,
    snapshot: Snapshot,
    *,
    store: AccountStore,
    notify: Notify,
    refund: bool = False,
    receipt_url: ReceiptUrl | None = None,
) -> PaymentOutcome:
    """Finish the follow-ups of a payment recorded earlier (a crash may have cut them short)."""
    if record.status == ALLOCATED and record.unit_id:
        account = (
            snapshot.account if snapshot.account and snapshot.account.unit_id == record.unit_id else None
        )
        account = account or store.get(record.unit_id)
        follow_up(
            record,
            owner_id=account.owner_id if account else None,
            bills=snapshot.bills,
            notify=notify,
            refund=refund,
            receipt_url=receipt_url,
        )
    logger.info("payment already recorded", payment_id=record.payment_id, status=record.status)
    return PaymentOutcome(
        "already_recorded",
        record.payment_id,
        record.unit_id,
        record.receipt_no,
        record.allocations,
        record.credit_minor,
        record,
    )


def _set_aside(
    payment: IncomingPayment, decision: SetAside, *, now: datetime, payments: PaymentRepository
) -> PaymentOutcome:
    """Record a payment that lands nowhere, in the staff queue, and the ledger entry."""
    record = PaymentRecord(
        payment_id=payment.payment_id,
        unit_id=decision.unit_id,
        provider=payment.provider,
        method=payment.method,
        channel=payment.channel,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        status=SET_ASIDE,
        received_at=now,
        paid_at=payment.paid_at,
        targets=payment.targets,
        event_id=payment.event_id,
        reference=payment.reference,
        recorded_by=payment.recorded_by,
        review_state=REVIEW_OPEN,
        review_reason=decision.reason,
    )
    if not payments.set_aside(record):
        stored = payments.get(record.payment_id)  # another delivery recorded it first
        return PaymentOutcome("already_recorded", record.payment_id, decision.unit_id, record=stored)
    ledger.append(
        ledger.payment_entity(payment.payment_id),
        "set_aside",
        at=now,
        key="set_aside",
        data={
            "payment_id": payment.payment_id,
            "unit_id": decision.unit_id or "",
            "amount_minor": payment.amount_minor,
            "currency": payment.currency,
            "reason": decision.reason,
        },
    )
    # Staff see it in the queue (GET /staff/payments/review); the webhook's metric feeds an alarm.
    logger.warning(
        "payment set aside for staff",
        payment_id=payment.payment_id,
        unit_id=decision.unit_id,
        reason=decision.reason,
    )
    return PaymentOutcome("set_aside", payment.payment_id, decision.unit_id, record=record)


# --- Stripe ---------------------------------------------------------------------------------------


def incoming_from_stripe(payment: OnlinePayment) -> IncomingPayment:
    return IncomingPayment(
        payment_id=payment.payment_id,
        provider=payment.provider,
        method=payment.method,
        channel="online",
        unit_id=payment.unit_id,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        paid_at=payment.paid_at,
        targets=payment.bill_ids,
        event_id=payment.event_id,
        session_id=payment.session_id,
    )


def process_stripe_event(
    event: dict[str, Any],
    *,
    config: PropertyConfig,
    livemode: bool,
    now: datetime,
    record: Callable[..., PaymentOutcome] = record_payment,
    expire: Callable[[str], None] | None = None,
    receipt_url: ReceiptUrl | None = None,
) -> dict[str, Any]:
    """Act on a signature-checked Stripe event; the result is what the webhook answers (and
    what the idempotency record replays for a repeat of the same event). ``expire`` expires a
    Checkout Session (the unit's other sessions, once one is paid); ``receipt_url`` links the
    receipt message to the PDF."""
    interpreted = interpret_event(event, property_id=config.property_id, livemode=livemode)
    if isinstance(interpreted, Ignored):
        logger.info(
            "stripe event ignored",
            event_id=interpreted.event_id,
            event_type=interpreted.event_type,
            reason=interpreted.reason,
        )
        return {"received": True, "outcome": "ignored"}
    if isinstance(interpreted, CardSetup):
        # The owner saved a card for autopay (services.autopay).
        from propdesk.services import autopay

        saved = autopay.CardSaved(
            interpreted.event_id, interpreted.unit_id, interpreted.owner_id, interpreted.setup_intent
        )
        return {"received": True, "outcome": autopay.card_saved(saved, now=now)}
    if not isinstance(interpreted, OnlinePayment):
        # A refund, a dispute, a delayed payment that failed (services.refunds).
        return refunds.process_reversal_event(interpreted, config=config, now=now)
    outcome = record(
        incoming_from_stripe(interpreted), config=config, now=now, expire=expire, receipt_url=receipt_url
    )
    landed = outcome.record
    if landed is not None and landed.status == ALLOCATED and refunds.refunds_surplus(config, landed):
        _refund_surplus(landed, config=config, now=now)
    return {"received": True, "outcome": outcome.outcome}


def _refund_surplus(record: PaymentRecord, *, config: PropertyConfig, now: datetime) -> None:
    """Money for bills paid already goes back (``payment.surplus: refund``; RELIABILITY 31). If
    Stripe refuses it, it stays credit in the staff queue; if Stripe cannot be reached, the delivery
    fails and Stripe's retry (``already_recorded``) sends the refund again, under the same key."""
    try:
        refunds.refund_surplus(record, config=config, now=now)
    except DeskError as refused:
        if refused.status >= 500:
            raise
        logger.warning(
            "surplus not refunded: kept as credit", payment_id=record.payment_id, code=refused.code
        )
