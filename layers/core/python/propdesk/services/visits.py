"""Home collection (上门收费, F5): an elderly owner, or one with special needs, books a visit slot
from the account page, or staff book it for them; the front desk sees the day's visits; the
collector records the payment at the door through the desk route (channel ``home_visit``), which
marks the visit done.

A visit is keyed ``<unit>_<day>_<slot start>``, so booking the same slot twice (a double
submit, the owner and staff both) is one visit. A slot takes at most ``per_slot`` visits: the
visit and the slot's counter are written in one transaction, the counter only if below the cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from aws_lambda_powertools import Logger
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from propdesk.config import PropertyConfig
from propdesk.services.errors import DeskError
from propdesk.store.conditions import written
from propdesk.store.indexed import read_back
from propdesk.store.models import CounterItem, VisitItem

logger = Logger(child=True)

BOOKED = "booked"
DONE = "done"


@dataclass(frozen=True)
class Visit:
    visit_id: str
    unit_id: str
    day: date
    slot: str
    status: str
    booked_by: str
    note: str | None
    payment_id: str | None
    created_at: datetime


def _visit(item: VisitItem) -> Visit:
    return Visit(
        visit_id=item.visit_id,
        unit_id=item.unit_id,
        day=date.fromisoformat(item.day),
        slot=item.slot,
        status=item.status,
        booked_by=item.booked_by,
        note=item.note,
        payment_id=item.payment_id,
        created_at=item.created_at,
    )


def visit_id_for(unit_id: str, day: date, slot: str) -> str:
    return f"{unit_id}_{day.isoformat()}_{slot.split('-')[0].replace(':', '')}"


def bookable_days(config: PropertyConfig, today: date) -> list[date]:
    """Tomorrow to ``days_ahead`` days out: a collector's day is planned the day before."""
    settings = config.payment.home_visits
    if settings is None:
        return []
    return [today + timedelta(days=n) for n in range(1, settings.days_ahead + 1)]


def book(
    unit_id: str,
    day: date,
    slot: str,
    *,
    config: PropertyConfig,
    today: date,
    booked_by: str,
    note: str | None = None,
    now: datetime | None = None,
) -> tuple[Visit, bool]:
    """Book a visit; (the visit, True) when new, (the visit, False) when that slot was booked for
    the unit already. Raises ``DeskError`` for a day or slot not offered, or a full slot."""
    settings = config.payment.home_visits
    if settings is None:
        raise DeskError(409, "no_home_visits", "This property does not offer home collection.")
    if slot not in settings.slots:
        raise DeskError(400, "unknown_slot", f"Slots are {', '.join(settings.slots)}.")
    if day not in bookable_days(config, today):
        raise DeskError(400, "day_not_offered", f"Visits are booked 1 to {settings.days_ahead} days ahead.")
    visit_id = visit_id_for(unit_id, day, slot)
    existing = _get(visit_id)
    if existing is not None and existing.status == BOOKED:
        return existing, False
    item = VisitItem(
        visit_id=visit_id,
        unit_id=unit_id,
        day=day.isoformat(),
        slot=slot,
        status=BOOKED,
        booked_by=booked_by,
        note=note,
        created_at=(now or datetime.now(UTC)),
    )
    counter_name = f"visits#{day.isoformat()}#{slot}"
    try:
        counter: CounterItem | None = CounterItem.get(counter_name, consistent_read=True)
    except CounterItem.DoesNotExist:
        counter = None
    taken = int(counter.value) if counter else 0
    if taken >= settings.per_slot:
        raise DeskError(409, "slot_full", "This slot is full; please choose another.")
    try:
        with TransactWrite(connection=VisitItem._get_connection().connection) as transaction:
            transaction.save(item, condition=VisitItem.visit_id.does_not_exist())
            condition = CounterItem.name.does_not_exist() if counter is None else CounterItem.value == taken
            transaction.save(CounterItem(counter_name, value=taken + 1), condition=condition)
    except TransactWriteError:
        # The same visit booked meanwhile, or another visit took the slot's place: read again.
        again = _get(visit_id)
        if again is not None and again.status == BOOKED:
            return again, False
        raise DeskError(409, "slot_changed", "The slot changed while booking; please try again.") from None
    logger.info("home visit booked", visit_id=visit_id, by_owner=booked_by == "owner")
    return _visit(item), True


def _get(visit_id: str) -> Visit | None:
    try:
        return _visit(VisitItem.get(visit_id, consistent_read=True))
    except VisitItem.DoesNotExist:
        return None


def get_visit(visit_id: str) -> Visit | None:
    return _get(visit_id)


def of_day(day: date) -> list[Visit]:
    """The day's visits, by slot and unit: the front desk's list."""
    found = VisitItem.day_index.query(day.isoformat())
    visits = [_visit(item) for item in read_back(VisitItem, found, where=("day", day.isoformat()))]
    return sorted(visits, key=lambda v: (v.slot, v.unit_id))


def candidate_ids(unit_id: str, config: PropertyConfig, today: date) -> list[str]:
    """The ids the unit's upcoming visits would have (today and every bookable day, each slot),
    soonest first: the account page reads them with its one BatchGetItem."""
    settings = config.payment.home_visits
    if settings is None:
        return []
    return [
        visit_id_for(unit_id, day, slot)
        for day in [today, *bookable_days(config, today)]
        for slot in settings.slots
    ]


def first_booked(items: tuple[VisitItem, ...] | list[VisitItem], *, order: list[str]) -> Visit | None:
    """The soonest still-booked visit among ``items`` (read in any order)."""
    booked = {item.visit_id: item for item in items if item.status == BOOKED}
    return next((_visit(booked[v]) for v in order if v in booked), None)


def check_visit_for_payment(visit_id: str, unit_id: str) -> Visit:
    """The visit a payment at the door names: this unit's, and booked (or done by this payment)."""
    visit = _get(visit_id)
    if visit is None or visit.unit_id != unit_id:
        raise DeskError(404, "unknown_visit", "No such visit for this unit.")
    return visit


def mark_done(visit_id: str, payment_id: str) -> bool:
    """The collector took the payment: the visit is done (once; a repeat changes nothing)."""
    item = VisitItem.get(visit_id, consistent_read=True)
    if item.status == DONE:
        return False
    item.status = DONE
    item.payment_id = payment_id
    return written(item.save)
