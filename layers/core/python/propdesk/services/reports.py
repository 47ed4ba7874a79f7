"""Collection statistics (收缴率) for staff and management (F7)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from propdesk.domain.billing import Bill, bill_id_for
from propdesk.domain.calendar import parse_period
from propdesk.domain.overdue import days_overdue
from propdesk.domain.units import Owner, Unit
from propdesk.services.accounts import natural_key
from propdesk.store.bills import BillRepository
from propdesk.store.owners import OwnerRepository
from propdesk.store.units import UnitRepository


@dataclass(frozen=True)
class CollectionSummary:
    period: str
    currency: str
    bills_issued: int
    bills_paid: int
    bills_unpaid: int
    billed_minor: int
    collected_minor: int
    outstanding_minor: int
    # Collected / billed in basis points (10000 = 100 %), rounded half up; 0 when nothing billed.
    collection_rate_bp: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def collection_rate_bp(collected_minor: int, billed_minor: int) -> int:
    if billed_minor <= 0:
        return 0
    return (collected_minor * 10_000 * 2 + billed_minor) // (billed_minor * 2)


def summarize(period: str, bills: Iterable[Bill], *, currency: str) -> CollectionSummary:
    """Pure: the period's figures from its bills (amounts in minor units of ``currency``)."""
    issued = paid = 0
    billed = collected = outstanding = 0
    for bill in bills:
        if bill.currency != currency:
            raise ValueError(f"bill {bill.bill_id} is in {bill.currency}, not {currency}")
        issued += 1
        billed += bill.total_minor
        collected += bill.paid_minor
        if bill.is_open:
            outstanding += bill.total_minor - bill.paid_minor
        else:
            paid += 1
    return CollectionSummary(
        period=period,
        currency=currency,
        bills_issued=issued,
        bills_paid=paid,
        bills_unpaid=issued - paid,
        billed_minor=billed,
        collected_minor=collected,
        outstanding_minor=outstanding,
        collection_rate_bp=collection_rate_bp(collected, billed),
    )


def period_summary(period: str, *, currency: str, bills: BillRepository | None = None) -> CollectionSummary:
    parse_period(period)
    return summarize(period, (bills or BillRepository()).list_period(period), currency=currency)


def bill_row(
    bill: Bill, *, today: date | None = None, unit: Unit | None = None, owner: Owner | None = None
) -> dict[str, Any]:
    """A bill in a staff list: what it owes, how late it is, and whose it is."""
    owed = bill.total_minor - bill.paid_minor if bill.is_open else 0
    return {
        "bill_id": bill.bill_id,
        "unit_id": bill.unit_id,
        "period": bill.period,
        "total_minor": bill.total_minor,
        "paid_minor": bill.paid_minor,
        "owed_minor": owed,
        "currency": bill.currency,
        "due_date": bill.due_date.isoformat(),
        "status": bill.status,
        "days_overdue": days_overdue(bill.due_date, today) if today and bill.is_open else 0,
        "receipt_no": bill.receipt_no,
        "owner_name": owner.name if owner else None,
        "building": unit.building if unit else None,
    }


def bill_detail(
    bill: Bill, *, today: date | None = None, unit: Unit | None = None, owner: Owner | None = None
) -> dict[str, Any]:
    """One bill for staff, with its lines and payment."""
    return {
        **bill_row(bill, today=today, unit=unit, owner=owner),
        "owner_id": bill.owner_id,
        "fee_standard_version": bill.fee_standard_version,
        "lines": [
            {
                "code": line.code,
                "basis": line.basis,
                "rate_minor": line.rate_minor,
                "quantity": line.quantity,
                "amount_minor": line.amount_minor,
            }
            for line in bill.lines
        ],
        "issued_at": bill.issued_at.isoformat(),
        "paid_minor": bill.paid_minor,
        "paid_at": bill.paid_at.isoformat() if bill.paid_at else None,
        "payment_id": bill.payment_id,
    }


@dataclass(frozen=True)
class BillFilter:
    period: str | None = None
    status: str | None = None  # open | paid
    building: str | None = None
    min_days_overdue: int | None = None


def list_bills(
    wanted: BillFilter,
    *,
    today: date,
    bills: BillRepository | None = None,
    units: UnitRepository | None = None,
    owners: OwnerRepository | None = None,
) -> list[dict[str, Any]]:
    """Bills matching ``wanted`` in natural unit order, with owner names: a period's bills (its
    index), or, when no period is named, every open bill (the status index; every bill ever
    would be too many, so status=paid then finds none)."""
    bills = bills or BillRepository()
    if wanted.period:
        parse_period(wanted.period)
        found: Iterable[Bill] = bills.list_period(wanted.period)
    else:
        found = bills.open_due_before(date.max)  # without a period: every open bill (the arrears)
    chosen = [
        bill
        for bill in found
        if (wanted.status is None or bill.status == wanted.status)
        and (
            wanted.min_days_overdue is None
            or (bill.is_open and days_overdue(bill.due_date, today) >= wanted.min_days_overdue)
        )
    ]
    unit_of = (units or UnitRepository()).get_many({b.unit_id for b in chosen})
    if wanted.building:
        chosen = [
            b for b in chosen if b.unit_id in unit_of and unit_of[b.unit_id].building == wanted.building
        ]
    owner_of = (owners or OwnerRepository()).get_many({b.owner_id for b in chosen})
    chosen.sort(key=lambda b: (natural_key(b.unit_id), b.period))
    return [
        bill_row(b, today=today, unit=unit_of.get(b.unit_id), owner=owner_of.get(b.owner_id)) for b in chosen
    ]


def unit_bill(
    unit_id: str,
    period: str,
    *,
    today: date,
    bills: BillRepository | None = None,
    units: UnitRepository | None = None,
    owners: OwnerRepository | None = None,
) -> dict[str, Any] | None:
    parse_period(period)
    bill = (bills or BillRepository()).get(bill_id_for(unit_id, period))
    if bill is None:
        return None
    unit = (units or UnitRepository()).get(unit_id)
    owner = (owners or OwnerRepository()).get(bill.owner_id)
    return bill_detail(bill, today=today, unit=unit, owner=owner)
