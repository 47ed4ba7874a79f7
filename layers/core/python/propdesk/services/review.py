"""The staff payment queue: payments that need a person (F4; RELIABILITY 8, 9, 31).

A payment waits here (``review_state`` "open") when it landed as credit for bills already settled
(a double payment), differed from what its bills owed, named bills its unit does not have, or
could land nowhere (no unit, another currency). Staff resolve each one:

- ``keep_credit``: the money stays on the account as credit (the next bill uses it);
- ``allocate``: the payment's credit pays the unit's open bills now, oldest first; a payment
  set aside for want of a unit lands on the unit staff name;
- ``refund``: what of it became credit goes back through its provider (``services.refunds``;
  above the approval amount an admin other than the one asking approves it). A payment set aside
  in another currency is refunded in the provider's dashboard, and recorded when the provider
  reports it.

Resolving it takes it out of the queue, and the unit's overdue ladder resumes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from aws_lambda_powertools import Logger

from propdesk.config import PropertyConfig
from propdesk.domain.accounts import MAX_BILLS_PER_POSTING, Allocation, OpenBill, allocate, oldest_first
from propdesk.domain.billing import STATUS_OPEN, STATUS_PAID
from propdesk.domain.receipts import receipt_counter_name, receipt_year
from propdesk.services import refunds
from propdesk.services.desk import DeskError
from propdesk.services.payments import IncomingPayment, Post, decide
from propdesk.store import ledger
from propdesk.store.accounts import AccountStore, Entry, Posting, PostResult
from propdesk.store.payments import (
    ALLOCATED,
    CURRENCY,
    REVIEW_OPEN,
    SET_ASIDE,
    PaymentRecord,
    PaymentRepository,
)
from propdesk.store.refunds import RefundRecord

logger = Logger(child=True)

Action = Literal["keep_credit", "allocate", "refund"]
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Resolution:
    payment: PaymentRecord
    allocated: tuple[Allocation, ...] = ()
    refund: RefundRecord | None = None


def waiting(payments: PaymentRepository | None = None) -> list[PaymentRecord]:
    return (payments or PaymentRepository()).waiting_for_staff()


def _closed(record: PaymentRecord, note: str) -> PaymentRecord:
    return replace(record, review_state=None, review_note=note)


def resolve(
    payment_id: str,
    action: Action,
    *,
    staff_id: str,
    config: PropertyConfig,
    now: datetime,
    unit_id: str | None = None,
    note: str | None = None,
    store: AccountStore | None = None,
) -> Resolution:
    """Resolve a payment of the queue (``refund`` is started by ``services.refunds``)."""
    store = store or AccountStore()
    if action == "refund":
        refund, record = refunds.refund_from_queue(
            payment_id, staff_id=staff_id, note=note, config=config, now=now, store=store
        )
        logger.info(
            "payment review resolved", payment_id=payment_id, action=action, refund_id=refund.refund_id
        )
        return Resolution(record, refund=refund)
    for _ in range(MAX_ATTEMPTS):
        record = store.snapshot(payment_id=payment_id).payment
        if record is None:
            raise DeskError(404, "not_found", "No payment with this id.")
        if record.review_state != REVIEW_OPEN:
            raise DeskError(409, "not_in_queue", "This payment is not waiting for staff.")
        said = note or action
        entry = Entry(
            ledger.payment_entity(payment_id),
            f"resolved#{now.isoformat()}",
            "review_resolved",
            now,
            {"action": action, "by": staff_id, "note": said},
        )
        if record.status == SET_ASIDE:
            posting = _land_set_aside(record, action, unit_id=unit_id, config=config, now=now, store=store)
            posting = replace(posting, entries=(*posting.entries, entry))
        else:
            account = store.snapshot(unit_id=record.unit_id).account
            if account is None:
                raise DeskError(409, "no_account", "The payment's account is missing.")
            if action == "keep_credit":
                posting = Posting(account=account, changed_payment=_closed(record, said), entries=(entry,))
            else:
                # Bills issued in batches since the account was written are open bills too.
                posting = _allocate_credit(
                    record, store.with_new_bills(account), store=store, now=now, note=said
                )
                posting = replace(posting, entries=(*posting.entries, entry))
        result = store.post(posting, now=now)
        if result is PostResult.POSTED:
            changed = posting.changed_payment or posting.new_payment
            assert changed is not None
            logger.info("payment review resolved", payment_id=payment_id, action=action)
            before = {a.bill_id: a.amount_minor for a in record.allocations}
            added = tuple(
                Allocation(a.bill_id, a.amount_minor - before.get(a.bill_id, 0))
                for a in changed.allocations
                if a.amount_minor > before.get(a.bill_id, 0)
            )
            return Resolution(changed, added)
    raise DeskError(409, "busy", "The account kept changing; try again.")


def _allocate_credit(
    record: PaymentRecord, account, *, store: AccountStore, now: datetime, note: str
) -> Posting:
    """The payment's credit (what of it the account still holds) pays the unit's open bills."""
    available = min(record.credit_minor, account.credit_minor)
    bills = store.snapshot(bill_ids=account.open_bill_ids).bills
    owing = oldest_first(
        OpenBill(b.bill_id, b.period, b.total_minor - b.paid_minor)
        for b in bills.values()
        if b.is_open and b.total_minor > b.paid_minor
    )[:MAX_BILLS_PER_POSTING]
    plan = allocate(available, owing)
    if not plan.allocations:
        raise DeskError(409, "nothing_owed", "The unit owes nothing now; keep the credit or refund it.")
    entity = ledger.account_entity(account.unit_id)
    changed_bills, entries = [], []
    merged = {a.bill_id: a for a in record.allocations}
    for allocation in plan.allocations:
        bill = bills[allocation.bill_id]
        paid = bill.paid_minor + allocation.amount_minor
        changed_bills.append(
            replace(
                bill,
                paid_minor=paid,
                status=STATUS_PAID if paid >= bill.total_minor else STATUS_OPEN,
                paid_at=now if paid >= bill.total_minor else bill.paid_at,
                payment_id=record.payment_id,
                receipt_no=record.receipt_no,
            )
        )
        old = merged.get(allocation.bill_id)
        merged[allocation.bill_id] = Allocation(
            allocation.bill_id,
            (old.principal_minor if old else 0) + allocation.principal_minor,
            (old.late_fee_minor if old else 0) + allocation.late_fee_minor,
        )
        data = {
            "payment_id": record.payment_id,
            "bill_id": allocation.bill_id,
            "amount_minor": allocation.amount_minor,
            "from": "credit",
        }
        key = f"allocation#{record.payment_id}#{allocation.bill_id}#{now.isoformat()}"
        entries.append(Entry(entity, key, "allocation", now, data))
        entries.append(
            Entry(
                ledger.bill_entity(allocation.bill_id),
                f"paid#{record.payment_id}#{now.isoformat()}",
                "paid",
                now,
                data,
            )
        )
    used = plan.allocated_minor
    settled = {b.bill_id for b in changed_bills if b.status == STATUS_PAID}
    new_account = replace(
        account,
        credit_minor=account.credit_minor - used,
        open_bill_ids=tuple(b for b in account.open_bill_ids if b not in settled),
    )
    changed = replace(
        _closed(record, note),
        allocations=tuple(merged.values()),
        credit_minor=record.credit_minor - used,
    )
    return Posting(
        account=new_account,
        changed_bills=tuple(changed_bills),
        changed_payment=changed,
        entries=tuple(entries),
    )


def _land_set_aside(
    record: PaymentRecord,
    action: Action,
    *,
    unit_id: str | None,
    config: PropertyConfig,
    now: datetime,
    store: AccountStore,
) -> Posting:
    """A payment that landed nowhere lands on the unit staff name, as it would have on arrival."""
    if record.review_reason == CURRENCY or record.currency != config.currency:
        raise DeskError(
            409,
            "other_currency",
            "A payment in another currency cannot be placed on an account; refund it in the provider's "
            "dashboard (PropDesk records the refund when the provider reports it).",
        )
    if action != "allocate" or not unit_id:
        raise DeskError(400, "unit_required", "Name the unit this payment is for (allocate with unit_id).")
    if record.refunded_minor or record.pending_refunds:
        raise DeskError(
            409, "partly_refunded", "Part of this payment was refunded or disputed: refund the rest instead."
        )
    counter = receipt_counter_name(receipt_year(record.paid_at, config.tz))
    snapshot = store.snapshot(unit_id=unit_id, counter=counter)
    if snapshot.account is None:
        raise DeskError(404, "unknown_unit", f"Unit {unit_id} has no account.")
    account = store.with_new_bills(snapshot.account)  # with the bills issued in batches since
    more = store.snapshot(bill_ids=account.open_bill_ids)
    snapshot = replace(snapshot, payment=None, account=account, bills=more.bills)
    incoming = IncomingPayment(
        payment_id=record.payment_id,
        provider=record.provider,
        method=record.method,
        channel=record.channel,
        unit_id=unit_id,
        amount_minor=record.amount_minor,
        currency=record.currency,
        paid_at=record.paid_at,
        event_id=record.event_id,
        reference=record.reference,
        recorded_by=record.recorded_by,
    )
    decision = decide(incoming, snapshot, config=config, now=now)
    assert isinstance(decision, Post)
    landed = replace(
        decision.record,
        status=ALLOCATED,
        received_at=record.received_at,
        review_state=None,
        review_reason=record.review_reason,
        review_note=f"allocated to {unit_id}",
        version=record.version,
    )
    return replace(decision.posting, new_payment=None, changed_payment=landed)
