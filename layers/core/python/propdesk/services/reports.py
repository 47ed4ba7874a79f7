"""Collection statistics (收缴率) for staff and management (F7)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from propdesk.domain.billing import Bill
from propdesk.domain.calendar import parse_period
from propdesk.store.bills import BillRepository


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


def bill_row(bill: Bill) -> dict[str, Any]:
    """A bill in a staff list."""
    return {
        "bill_id": bill.bill_id,
        "unit_id": bill.unit_id,
        "period": bill.period,
        "total_minor": bill.total_minor,
        "currency": bill.currency,
        "due_date": bill.due_date.isoformat(),
        "status": bill.status,
        "receipt_no": bill.receipt_no,
    }


def bill_detail(bill: Bill) -> dict[str, Any]:
    """One bill for staff, with its lines and payment."""
    return {
        **bill_row(bill),
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


def list_period_bills(period: str, *, bills: BillRepository | None = None) -> list[dict[str, Any]]:
    parse_period(period)
    return [bill_row(bill) for bill in (bills or BillRepository()).list_period(period)]


def find_bill(bill_id: str, *, bills: BillRepository | None = None) -> dict[str, Any] | None:
    bill = (bills or BillRepository()).get(bill_id)
    return bill_detail(bill) if bill else None
