"""Bills in DynamoDB. ``to_item``/``from_item`` are the one mapping between a ``BillItem`` and
a domain ``Bill`` (payment code builds a ``Bill`` from an item read inside a transaction)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime

from propdesk.domain.billing import STATUS_OPEN, Bill, BillLine
from propdesk.store import ledger
from propdesk.store.conditions import written
from propdesk.store.indexed import read_back
from propdesk.store.models import BillItem, BillLineAttribute


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_item(bill: Bill) -> BillItem:
    item = BillItem(
        bill_id=bill.bill_id,
        unit_id=bill.unit_id,
        owner_id=bill.owner_id,
        period=bill.period,
        fee_standard_version=bill.fee_standard_version,
        lines=[
            BillLineAttribute(
                code=line.code,
                basis=line.basis,
                rate_minor=line.rate_minor,
                quantity=line.quantity,
                amount_minor=line.amount_minor,
            )
            for line in bill.lines
        ],
        total_minor=bill.total_minor,
        currency=bill.currency,
        due_date=bill.due_date.isoformat(),
        status=bill.status,
        issued_at=_utc(bill.issued_at),
        paid_minor=bill.paid_minor,
        paid_at=_utc(bill.paid_at),
        payment_id=bill.payment_id,
        receipt_no=bill.receipt_no,
    )
    if bill.version is not None:
        item.version = bill.version
    return item


def from_item(item: BillItem) -> Bill:
    return Bill(
        bill_id=item.bill_id,
        unit_id=item.unit_id,
        owner_id=item.owner_id,
        period=item.period,
        fee_standard_version=item.fee_standard_version,
        lines=tuple(
            BillLine(
                code=line.code,
                basis=line.basis,
                rate_minor=int(line.rate_minor),
                quantity=int(line.quantity),
                amount_minor=int(line.amount_minor),
            )
            for line in item.lines or ()
        ),
        total_minor=int(item.total_minor),
        currency=item.currency,
        due_date=date.fromisoformat(item.due_date),
        status=item.status,
        issued_at=_utc(item.issued_at),  # type: ignore[arg-type]
        paid_minor=int(item.paid_minor or 0),
        paid_at=_utc(item.paid_at),
        payment_id=item.payment_id,
        receipt_no=item.receipt_no,
        version=int(item.version) if item.version is not None else None,
    )


class BillRepository:
    def get(self, bill_id: str) -> Bill | None:
        try:
            return from_item(BillItem.get(bill_id, consistent_read=True))
        except BillItem.DoesNotExist:
            return None

    def list_period(self, period: str) -> Iterator[Bill]:
        """Every bill of ``period`` (the keys-only period index, then the bills by key)."""
        found = BillItem.period_index.query(period)
        yield from map(from_item, read_back(BillItem, found, where=("period", period)))

    def open_due_before(self, day: date) -> Iterator[Bill]:
        """Open bills whose due date is before ``day``: an index query, never a scan."""
        condition = BillItem.due_date < day.isoformat()
        found = BillItem.status_index.query(STATUS_OPEN, range_key_condition=condition)
        yield from map(from_item, read_back(BillItem, found, where=("status", STATUS_OPEN)))

    def open_due_on(self, day: date) -> Iterator[Bill]:
        """Open bills due on ``day``: an index query, never a scan."""
        condition = BillItem.due_date == day.isoformat()
        found = BillItem.status_index.query(STATUS_OPEN, range_key_condition=condition)
        yield from map(from_item, read_back(BillItem, found, where=("status", STATUS_OPEN)))

    def create(self, bill: Bill) -> bool:
        """Write a new bill; False (and nothing written) if a bill with its id already exists."""
        # A new bill has no version yet: pynamodb then also requires that none exists.
        item = to_item(replace(bill, version=None))
        return written(lambda: item.save(condition=BillItem.bill_id.does_not_exist()))

    def ledger_keys(self, bill_id: str, prefix: str = "") -> list[str]:
        """Keys of the bill's ledger entries starting with ``prefix`` (all of them by default)."""
        return ledger.keys(ledger.bill_entity(bill_id), prefix)
