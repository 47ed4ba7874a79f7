"""Payments in DynamoDB: ``PaymentRecord`` and its one mapping to ``PaymentItem``.

A payment is written once, in the transaction that posts it to its unit's account
(``store.accounts``), keyed on its provider's own id so the same payment never counts twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from propdesk.domain.accounts import Allocation
from propdesk.store.conditions import written
from propdesk.store.indexed import read_back
from propdesk.store.models import AllocationAttribute, PaymentItem

# The time zone of each rail's daily statement: WeChat Pay's and Alipay's days are Beijing time;
# Stripe's balance reports are by UTC day.
STATEMENT_TZ = {"wechat_pay": ZoneInfo("Asia/Shanghai"), "alipay": ZoneInfo("Asia/Shanghai"), "stripe": UTC}

ALLOCATED = "allocated"  # landed: on bills and/or the account's credit
SET_ASIDE = "set_aside"  # not landed: no unit, another currency; staff allocate or refund it
REFUNDED = "refunded"
VOIDED = "voided"

REVIEW_OPEN = "open"
DUPLICATE = "duplicate"  # money for bills that were already settled: it became credit
MISMATCH = "mismatch"  # a checkout's amount differs from what its bills owe: allocated as it is
UNKNOWN_BILL = "unknown_bill"  # the bills it names are not its unit's: kept as credit
UNKNOWN_UNIT = "unknown_unit"
CURRENCY = "currency"
DISPUTE = "dispute"  # the payer's bank reversed it (a chargeback): staff answer the dispute


@dataclass(frozen=True)
class PaymentRecord:
    payment_id: str
    unit_id: str | None
    provider: str
    method: str
    channel: str
    amount_minor: int
    currency: str
    status: str
    received_at: datetime
    paid_at: datetime
    targets: tuple[str, ...] = ()
    allocations: tuple[Allocation, ...] = ()
    credit_minor: int = 0
    receipt_no: str | None = None
    event_id: str | None = None
    reference: str | None = None
    recorded_by: str | None = None
    review_state: str | None = None
    review_reason: str | None = None
    review_note: str | None = None
    refunded_minor: int = 0
    void_reason: str | None = None
    void_requested_by: str | None = None
    voided_by: str | None = None
    voided_at: datetime | None = None
    # Refunds asked for and not yet settled (waiting for approval, or on their way through the
    # provider), oldest first: (refund id, amount). They hold that much of the payment.
    pending_refunds: tuple[tuple[str, int], ...] = ()
    disputed_minor: int = 0  # the part of refunded_minor a dispute (chargeback) took back
    invoice_state: str | None = None  # requested | issued: an official tax invoice (发票)
    invoice_title: str | None = None
    invoice_tax_id: str | None = None
    invoice_no: str | None = None
    version: int | None = field(default=None, compare=False)

    @property
    def allocated_minor(self) -> int:
        return sum(a.amount_minor for a in self.allocations)

    @property
    def refund_pending_minor(self) -> int:
        return sum(amount for _, amount in self.pending_refunds)

    @property
    def refundable_minor(self) -> int:
        """What a new refund may still take: the amount less what was refunded or is on its way."""
        return self.amount_minor - self.refunded_minor - self.refund_pending_minor

    @property
    def landed(self) -> bool:
        """On the unit's account (bills and/or credit): not set aside, voided or refunded in full."""
        return self.status == ALLOCATED


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def rail_day(provider: str, paid_at: datetime) -> str | None:
    """``<rail>#<day>``: the day of the provider's statement that lists this payment (WeChat Pay
    and Alipay by Beijing time, Stripe by UTC); None for payments not through a rail."""
    zone = STATEMENT_TZ.get(provider)
    if zone is None:
        return None
    return f"{provider}#{_utc(paid_at).astimezone(zone).date().isoformat()}"


def to_item(record: PaymentRecord) -> PaymentItem:
    item = PaymentItem(
        payment_id=record.payment_id,
        unit_id=record.unit_id,
        provider=record.provider,
        method=record.method,
        channel=record.channel,
        amount_minor=record.amount_minor,
        currency=record.currency,
        status=record.status,
        targets=list(record.targets),
        allocations=[
            AllocationAttribute(
                bill_id=a.bill_id, principal_minor=a.principal_minor, late_fee_minor=a.late_fee_minor
            )
            for a in record.allocations
        ],
        credit_minor=record.credit_minor,
        receipt_no=record.receipt_no,
        event_id=record.event_id,
        reference=record.reference,
        recorded_by=record.recorded_by,
        received_at=_utc(record.received_at),
        paid_at=_utc(record.paid_at),
        review_state=record.review_state,
        review_reason=record.review_reason,
        review_note=record.review_note,
        refunded_minor=record.refunded_minor,
        void_reason=record.void_reason,
        void_requested_by=record.void_requested_by,
        voided_by=record.voided_by,
        voided_at=_utc(record.voided_at) if record.voided_at else None,
        pending_refunds=[f"{refund_id} {amount}" for refund_id, amount in record.pending_refunds],
        disputed_minor=record.disputed_minor,
        invoice_state=record.invoice_state,
        invoice_title=record.invoice_title,
        invoice_tax_id=record.invoice_tax_id,
        invoice_no=record.invoice_no,
        rail_day=rail_day(record.provider, record.paid_at),
    )
    if record.version is not None:
        item.version = record.version
    return item


def from_item(item: PaymentItem) -> PaymentRecord:
    return PaymentRecord(
        payment_id=item.payment_id,
        unit_id=item.unit_id,
        provider=item.provider,
        method=item.method,
        channel=item.channel,
        amount_minor=int(item.amount_minor),
        currency=item.currency,
        status=item.status,
        received_at=_utc(item.received_at),
        paid_at=_utc(item.paid_at),
        targets=tuple(item.targets or ()),
        allocations=tuple(
            Allocation(a.bill_id, int(a.principal_minor), int(a.late_fee_minor or 0))
            for a in item.allocations or ()
        ),
        credit_minor=int(item.credit_minor or 0),
        receipt_no=item.receipt_no,
        event_id=item.event_id,
        reference=item.reference,
        recorded_by=item.recorded_by,
        review_state=item.review_state,
        review_reason=item.review_reason,
        review_note=item.review_note,
        refunded_minor=int(item.refunded_minor or 0),
        void_reason=item.void_reason,
        void_requested_by=item.void_requested_by,
        voided_by=item.voided_by,
        voided_at=_utc(item.voided_at) if item.voided_at else None,
        pending_refunds=tuple(_pending(entry) for entry in item.pending_refunds or ()),
        disputed_minor=int(item.disputed_minor or 0),
        invoice_state=item.invoice_state,
        invoice_title=item.invoice_title,
        invoice_tax_id=item.invoice_tax_id,
        invoice_no=item.invoice_no,
        version=int(item.version) if item.version is not None else None,
    )


def _pending(entry: str) -> tuple[str, int]:
    refund_id, _, amount = entry.rpartition(" ")
    return refund_id, int(amount)


class PaymentRepository:
    def get(self, payment_id: str) -> PaymentRecord | None:
        try:
            return from_item(PaymentItem.get(payment_id, consistent_read=True))
        except PaymentItem.DoesNotExist:
            return None

    def set_aside(self, record: PaymentRecord) -> bool:
        """Record a payment that lands nowhere (no unit, another currency); False if already recorded."""
        item = to_item(record)
        return written(lambda: item.save(condition=PaymentItem.payment_id.does_not_exist()))

    def save_changed(self, record: PaymentRecord) -> bool:
        """Write ``record`` over the stored payment if that is still at ``record.version``."""
        if record.version is None:
            raise ValueError("a changed payment needs the version it was read with")
        item = to_item(record)
        return written(item.save)

    def of_rail_day(self, provider: str, day: date) -> list[PaymentRecord]:
        """The payments through ``provider`` on its statement day ``day`` (rail-day-index)."""
        key = f"{provider}#{day.isoformat()}"
        found = PaymentItem.rail_day_index.query(key)
        return [from_item(item) for item in read_back(PaymentItem, found, where=("rail_day", key))]

    def get_many(self, payment_ids: Iterable[str]) -> dict[str, PaymentRecord]:
        ids = list(dict.fromkeys(payment_ids))
        found: dict[str, PaymentRecord] = {}
        for start in range(0, len(ids), 100):
            for item in PaymentItem.batch_get(ids[start : start + 100]):
                found[item.payment_id] = from_item(item)
        return found

    def of_unit(self, unit_id: str) -> list[PaymentRecord]:
        """Every payment of the unit, oldest first."""
        found = PaymentItem.unit_index.query(unit_id)
        return [from_item(item) for item in read_back(PaymentItem, found, where=("unit_id", unit_id))]

    def recorded_by(self, staff_id: str, start: datetime, end: datetime) -> list[PaymentRecord]:
        """Payments ``staff_id`` recorded in [start, end), oldest first (a cash-up)."""
        condition = PaymentItem.received_at.between(_utc(start), _utc(end))
        found = PaymentItem.desk_index.query(staff_id, range_key_condition=condition)
        read = read_back(PaymentItem, found, where=("recorded_by", staff_id))
        return [from_item(item) for item in read if _utc(item.received_at) < _utc(end)]

    def invoices(self, state: str) -> list[PaymentRecord]:
        """Payments whose tax invoice is in ``state`` (requested: staff's to-do), oldest first."""
        found = PaymentItem.invoice_index.query(state)
        return [from_item(item) for item in read_back(PaymentItem, found, where=("invoice_state", state))]

    def waiting_for_staff(self) -> list[PaymentRecord]:
        """The staff queue: payments set aside or needing a look, oldest first."""
        found = PaymentItem.review_index.query(REVIEW_OPEN)
        return [
            from_item(item) for item in read_back(PaymentItem, found, where=("review_state", REVIEW_OPEN))
        ]
