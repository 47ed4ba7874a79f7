"""Bills (账单): one per unit and period, itemised by the fee standard's items (F1, F2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from propdesk.config import BillingCalendar, FeeItem, FeeStandard
from propdesk.domain.calendar import due_date as calendar_due_date
from propdesk.domain.calendar import parse_period
from propdesk.domain.money import multiply_rate
from propdesk.domain.units import Unit

STATUS_OPEN = "open"
STATUS_PAID = "paid"
STATUS_VOID = "void"  # its cycle was voided before anyone paid it


@dataclass(frozen=True)
class BillLine:
    code: str  # fee item code
    basis: str  # per_m2 | per_unit
    rate_minor: int
    quantity: int  # centi-m² for per_m2, 1 for per_unit
    amount_minor: int


@dataclass(frozen=True)
class Bill:
    bill_id: str
    unit_id: str
    owner_id: str
    period: str  # "YYYY-MM"
    fee_standard_version: str
    lines: tuple[BillLine, ...]
    total_minor: int
    currency: str
    due_date: date  # local date in the property's time zone
    status: str  # "open" | "paid"
    issued_at: datetime  # UTC
    paid_minor: int = 0
    paid_at: datetime | None = None
    payment_id: str | None = None
    receipt_no: str | None = None
    version: int | None = None  # optimistic-locking version from the store

    @property
    def is_open(self) -> bool:
        return self.status == STATUS_OPEN


def bill_id_for(unit_id: str, period: str) -> str:
    """Deterministic: one bill per unit and period, so a rerun creates nothing twice."""
    return f"{unit_id}#{period}"


def applies_to(item: FeeItem, *, building: str, has_elevator: bool) -> bool:
    if item.buildings is not None and building not in item.buildings:
        return False
    return not (item.requires_elevator and not has_elevator)


def bill_line(item: FeeItem, *, area_centi_m2: int) -> BillLine:
    if item.basis == "per_m2":
        # rate per m² x area in 1/100 m², rounded half up to whole minor units
        amount = multiply_rate(item.rate_minor, area_centi_m2, 100)
        return BillLine(item.code, item.basis, item.rate_minor, area_centi_m2, amount)
    return BillLine(item.code, item.basis, item.rate_minor, 1, item.rate_minor)


def compute_bill(
    unit: Unit,
    *,
    has_elevator: bool,
    fee_standard: FeeStandard,
    period: str,
    calendar: BillingCalendar,
    currency: str,
    issued_at: datetime,
) -> Bill:
    """The unit's bill for ``period``: one line per applicable fee item, total = sum of lines."""
    parse_period(period)
    if unit.area_centi_m2 <= 0:
        raise ValueError("unit area must be positive")
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    lines = tuple(
        bill_line(item, area_centi_m2=unit.area_centi_m2)
        for item in fee_standard.items
        if applies_to(item, building=unit.building, has_elevator=has_elevator)
    )
    return Bill(
        bill_id=bill_id_for(unit.unit_id, period),
        unit_id=unit.unit_id,
        owner_id=unit.owner_id,
        period=period,
        fee_standard_version=fee_standard.version,
        lines=lines,
        total_minor=sum(line.amount_minor for line in lines),
        currency=currency,
        due_date=calendar_due_date(period, calendar),
        status=STATUS_OPEN,
        issued_at=issued_at,
    )
