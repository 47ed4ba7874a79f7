"""The front desk (前台收费, F5): a cashier records a payment against a unit, voids one with an
admin's approval, and closes the day with a cash-up (日结).

A desk payment is keyed on the request id the cashier's screen generates (``desk:<request_id>``),
so a double click or a retried request records it once; it lands through the same allocation as
every other channel (``services.payments.record_payment``) and gets its receipt number there.
A collector at an owner's door (home collection) records through the same route, with the
channel ``home_visit``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from aws_lambda_powertools import Logger

from propdesk.config import PropertyConfig
from propdesk.domain.billing import STATUS_OPEN
from propdesk.payments.links import pay_links
from propdesk.services import visits
from propdesk.services.errors import DeskError
from propdesk.services.payments import IncomingPayment, PaymentOutcome, record_payment
from propdesk.store import ledger
from propdesk.store.accounts import AccountStore, Entry, Posting, PostResult
from propdesk.store.payments import ALLOCATED, VOIDED, PaymentRecord, PaymentRepository
from propdesk.store.refunds import RefundRecord, RefundRepository
from propdesk.store.units import UnitRepository

logger = Logger(child=True)

DeskMethod = Literal["cash", "bank_card", "cheque", "bank_transfer"]
DESK_METHODS: tuple[str, ...] = ("cash", "bank_card", "cheque", "bank_transfer")
DeskChannel = Literal["front_desk", "home_visit"]
DESK_PROVIDER = "desk"
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class DeskPayment:
    unit_id: str
    amount_minor: int
    method: DeskMethod
    request_id: str  # from the cashier's screen: the same request twice is one payment
    staff_id: str
    reference: str | None = None  # POS reference (bank card), transfer reference
    cheque_number: str | None = None
    cheque_bank: str | None = None
    channel: DeskChannel = "front_desk"
    visit_id: str | None = None
    bill_ids: tuple[str, ...] = ()  # () = the unit's open bills, oldest first


def desk_payment_id(request_id: str) -> str:
    return f"{DESK_PROVIDER}:{request_id}"


def transfer_payment_id(reference: str) -> str:
    """A bank transfer is keyed on the bank's own reference (as the bank's statement will name
    it), not on the screen that entered it: entered twice, by two cashiers or after a reload, it
    is one payment."""
    normalised = re.sub(r"[^A-Z0-9_-]+", "-", reference.strip().upper()).strip("-")
    return f"transfer:{normalised[:80]}"


def payment_id_of(payment: DeskPayment) -> str:
    if payment.method == "bank_transfer" and payment.reference:
        return transfer_payment_id(payment.reference)
    return desk_payment_id(payment.request_id)


def _reference(payment: DeskPayment) -> str | None:
    if payment.method == "cheque":
        return f"{payment.cheque_number} ({payment.cheque_bank})"
    return payment.reference


def record_desk_payment(
    payment: DeskPayment,
    *,
    config: PropertyConfig,
    now: datetime,
    units: UnitRepository | None = None,
    record: Callable[..., PaymentOutcome] = record_payment,
) -> PaymentOutcome:
    """Land a payment taken at the desk (or at the door). Raises ``DeskError`` for an unknown
    unit, or for a request id already used for another payment."""
    units = units or UnitRepository()
    unit = units.get(payment.unit_id)
    if unit is None:
        raise DeskError(404, "unknown_unit", f"No unit {payment.unit_id}.")
    if any(not b.startswith(f"{payment.unit_id}#") for b in payment.bill_ids):
        raise DeskError(400, "bill_of_another_unit", "Every bill paid must be a bill of this unit.")
    if payment.channel == "home_visit":
        # At the door: the visit booked for this unit (visits.check_visit_for_payment raises).
        visits.check_visit_for_payment(str(payment.visit_id), unit.unit_id)
    incoming = IncomingPayment(
        payment_id=payment_id_of(payment),
        provider=DESK_PROVIDER,
        method=payment.method,
        channel=payment.channel,
        unit_id=unit.unit_id,
        amount_minor=payment.amount_minor,
        currency=config.currency,
        paid_at=now,
        targets=payment.bill_ids,
        reference=_reference(payment),
        recorded_by=payment.staff_id,
        unit_known=True,
        owner_id=unit.owner_id,
    )
    outcome = record(
        incoming,
        config=config,
        now=now,
        receipt_url=lambda landed, owner_id: pay_links().receipt_url(
            unit.unit_id, landed.payment_id, owner_id=owner_id, now=now
        ),
    )
    stored = outcome.record
    if outcome.outcome == "already_recorded" and stored is not None:
        same = (stored.unit_id, stored.amount_minor, stored.method) == (
            unit.unit_id,
            payment.amount_minor,
            payment.method,
        )
        if not same and payment.method == "bank_transfer":
            raise DeskError(
                409,
                "transfer_recorded",
                "A transfer with this bank reference is recorded already, for another unit or amount.",
            )
        if not same:
            raise DeskError(
                409, "request_reused", "This request id was used for another payment; start a new one."
            )
    if payment.channel == "home_visit" and stored is not None:
        visits.mark_done(str(payment.visit_id), stored.payment_id)
    return outcome


# --- voids ---------------------------------------------------------------------------------------


def request_void(
    payment_id: str, *, reason: str, staff_id: str, now: datetime, payments: PaymentRepository | None = None
) -> PaymentRecord:
    """Ask for a desk payment to be voided; an admin approves it (``approve_void``)."""
    payments = payments or PaymentRepository()
    record = payments.get(payment_id)
    if record is None:
        raise DeskError(404, "not_found", "No payment with this id.")
    if record.provider != DESK_PROVIDER:
        raise DeskError(409, "not_a_desk_payment", "Only desk payments are voided; refund an online payment.")
    if record.status == VOIDED:
        raise DeskError(409, "already_voided", "This payment is voided already.")
    if record.status != ALLOCATED or record.refunded_minor or record.pending_refunds:
        raise DeskError(
            409, "not_voidable", "This payment has refunds (done or on their way): refund, not void."
        )
    if record.void_requested_by:
        # One request per void: a second asker would let the first approve it (RELIABILITY 32).
        raise DeskError(409, "void_requested", "A void of this payment was asked for already.")
    changed = replace(record, void_reason=reason, void_requested_by=staff_id)
    if not payments.save_changed(changed):
        raise DeskError(409, "changed", "The payment changed meanwhile; read it again.")
    ledger.append(
        ledger.payment_entity(payment_id),
        "void_requested",
        at=now,
        key=f"void_requested#{now.isoformat()}",
        data={"reason": reason, "by": staff_id},
    )
    return changed


def voiding(record: PaymentRecord, view_bills: dict, account, *, approver: str, now: datetime) -> Posting:
    """Pure: the posting that voids ``record`` (its allocations reversed, the bills reopened, its
    credit taken back from the account). The receipt keeps its number and is marked void."""
    if account.credit_minor < record.credit_minor:
        raise DeskError(
            409,
            "credit_used",
            "The credit this payment left has been used by a later bill; it cannot be voided now.",
        )
    changed_bills = []
    entries = []
    entity = ledger.account_entity(str(record.unit_id))
    for allocation in record.allocations:
        bill = view_bills.get(allocation.bill_id)
        if bill is None:
            raise DeskError(409, "bill_missing", f"Bill {allocation.bill_id} is not readable; try again.")
        changed_bills.append(
            replace(
                bill,
                paid_minor=bill.paid_minor - allocation.amount_minor,
                status=STATUS_OPEN,
                paid_at=None,
            )
        )
        data = {
            "payment_id": record.payment_id,
            "bill_id": bill.bill_id,
            "amount_minor": allocation.amount_minor,
        }
        entries.append(
            Entry(entity, f"void#{record.payment_id}#{bill.bill_id}", "allocation_reversed", now, data)
        )
        entries.append(
            Entry(ledger.bill_entity(bill.bill_id), f"void#{record.payment_id}", "reopened", now, data)
        )
    if record.credit_minor:
        data = {"payment_id": record.payment_id, "amount_minor": record.credit_minor}
        entries.append(Entry(entity, f"void_credit#{record.payment_id}", "credit_reversed", now, data))
    entries.append(
        Entry(
            ledger.payment_entity(record.payment_id),
            "voided",
            "voided",
            now,
            {"by": approver, "reason": record.void_reason, "receipt_no": record.receipt_no},
        )
    )
    reopened = [b.bill_id for b in changed_bills]
    open_ids = tuple(dict.fromkeys([*account.open_bill_ids, *reopened]))
    new_account = replace(
        account, credit_minor=account.credit_minor - record.credit_minor, open_bill_ids=open_ids
    )
    voided = replace(record, status=VOIDED, voided_by=approver, voided_at=now, review_state=None)
    return Posting(
        account=new_account,
        changed_bills=tuple(changed_bills),
        changed_payment=voided,
        entries=tuple(entries),
    )


def approve_void(
    payment_id: str, *, approver: str, now: datetime, store: AccountStore | None = None
) -> PaymentRecord:
    """An admin approves a requested void. The approver is neither who asked for it nor who
    recorded the payment (RELIABILITY 32)."""
    store = store or AccountStore()
    for _ in range(MAX_ATTEMPTS):
        snapshot = store.snapshot(payment_id=payment_id)
        record = snapshot.payment
        if record is None:
            raise DeskError(404, "not_found", "No payment with this id.")
        if record.status == VOIDED:
            raise DeskError(409, "already_voided", "This payment is voided already.")
        if not record.void_requested_by:
            raise DeskError(409, "no_void_requested", "No void was asked for on this payment.")
        if approver in (record.void_requested_by, record.recorded_by):
            raise DeskError(
                403,
                "self_approval",
                "A void is approved by an admin other than the one who asked for it or recorded the payment.",
            )
        if record.status != ALLOCATED or record.refunded_minor or record.pending_refunds:
            raise DeskError(
                409, "not_voidable", "This payment has refunds (done or on their way): refund, not void."
            )
        more = store.snapshot(unit_id=record.unit_id, bill_ids=[a.bill_id for a in record.allocations])
        if more.account is None:
            raise DeskError(409, "no_account", "The payment's account is missing.")
        posting = voiding(record, more.bills, more.account, approver=approver, now=now)
        if store.post(posting, now=now) is PostResult.POSTED:
            logger.info("payment voided", payment_id=payment_id, receipt_no=record.receipt_no)
            return posting.changed_payment  # type: ignore[return-value]
    raise DeskError(409, "busy", "The account kept changing; try again.")


# --- the daily cash-up (日结) ----------------------------------------------------------------------


@dataclass(frozen=True)
class PaidOut:
    """A refund paid back at the desk, by the method of the payment it returns."""

    refund: RefundRecord
    method: str


@dataclass(frozen=True)
class CashUp:
    staff_id: str
    day: date
    currency: str
    totals_by_method: dict[str, int]  # taken less paid back, by method: what the drawer/POS holds
    count_by_method: dict[str, int]
    total_minor: int
    payments: tuple[PaymentRecord, ...]  # every payment recorded that day, voided ones included
    voided: tuple[PaymentRecord, ...] = field(default=())
    paid_out: tuple[PaidOut, ...] = field(default=())  # refunds paid back that day


EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=2)
LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=2)


def day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """The local day as a UTC interval [start, end); days at the ends of the calendar (year 1,
    year 9999) are clamped rather than overflow."""
    zone = ZoneInfo(tz)
    day = min(max(day, EARLIEST.date() + timedelta(days=1)), LATEST.date() - timedelta(days=1))
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


def cash_up(
    staff_id: str,
    day: date,
    *,
    config: PropertyConfig,
    payments: PaymentRepository | None = None,
    refunds: RefundRepository | None = None,
) -> CashUp:
    """What ``staff_id`` took on ``day`` (the property's local day) less what they paid back
    that day, by method. A voided payment is listed but not counted; a payment is counted in
    full on the day it was taken and a refund on the day it was paid back, so a closed day never
    changes: the totals are what the drawer and the POS should hold."""
    payments = payments or PaymentRepository()
    refunds = refunds or RefundRepository()
    start, end = day_bounds(day, config.time_zone)
    recorded = tuple(payments.recorded_by(staff_id, start, end))
    counted = [p for p in recorded if p.status != VOIDED]
    totals: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for p in counted:
        totals[p.method] += p.amount_minor
        counts[p.method] += 1
    known = {p.payment_id: p for p in recorded}
    paid_out: list[PaidOut] = []
    for refund in refunds.paid_out_by(staff_id, start, end):
        paid = known.get(refund.payment_id) or payments.get(refund.payment_id)
        method = paid.method if paid is not None else "cash"
        totals[method] -= refund.amount_minor
        paid_out.append(PaidOut(refund=refund, method=method))
    return CashUp(
        staff_id=staff_id,
        day=day,
        currency=config.currency,
        totals_by_method=dict(totals),
        count_by_method=dict(counts),
        total_minor=sum(totals.values()),
        payments=recorded,
        voided=tuple(p for p in recorded if p.status == VOIDED),
        paid_out=tuple(paid_out),
    )
