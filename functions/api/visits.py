"""Home collection routes (JSON): staff book a visit for a unit, and the front desk reads the
day's visits. (Owners book from their account page: ``api.pay``.)"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from api.responses import json_error, json_ok
from api.staff import local_today
from propdesk.services import visits
from propdesk.services.errors import DeskError
from propdesk.settings import get_settings
from propdesk.store.accounts import AccountStore
from propdesk.store.owners import OwnerRepository
from propdesk.store.units import UnitRepository
from propdesk.web.access import StaffUser, caller_of
from propdesk.web.http import endpoint
from propdesk.web.schemas import DayVisits, IsoDate, VisitBooked, VisitIn
from propdesk.web.staff_errors import ErrorAnswer

router = Router()


def visit_json(visit: visits.Visit) -> dict[str, Any]:
    return {
        "visit_id": visit.visit_id,
        "unit_id": visit.unit_id,
        "day": visit.day.isoformat(),
        "slot": visit.slot,
        "status": visit.status,
        "booked_by": visit.booked_by,
        "note": visit.note,
        "payment_id": visit.payment_id,
    }


@endpoint(router, "book_visit", status_code=201)
def book_visit(body: VisitIn) -> Response[VisitBooked]:
    staff = caller_of(router.context)
    assert isinstance(staff, StaffUser)
    config = get_settings().property_config
    if UnitRepository().get(body.unit_id) is None:
        raise ErrorAnswer(json_error(404, "unknown_unit", f"No unit {body.unit_id}."))
    try:
        visit, created = visits.book(
            body.unit_id,
            body.day,
            body.slot,
            config=config,
            today=local_today(config),
            booked_by=staff.sub,
            note=body.note,
        )
    except DeskError as error:
        raise ErrorAnswer(json_error(error.status, error.code, error.message)) from None
    return json_ok({**visit_json(visit), "created": created}, status=201 if created else 200)


@endpoint(router, "day_visits")
def day_visits(
    day: Annotated[IsoDate | None, Query(description="Local date, YYYY-MM-DD; today by default")] = None,
) -> DayVisits:
    config = get_settings().property_config
    day = day or local_today(config)
    found = visits.of_day(day)
    units = UnitRepository().get_many({v.unit_id for v in found})
    owners = OwnerRepository().get_many({u.owner_id for u in units.values()})
    store = AccountStore()
    # With the bills issued in batches since each account was written (a Query per account).
    accounts = {
        unit: store.with_new_bills(a) for unit, a in store.get_many({v.unit_id for v in found}).items()
    }
    bills = store.snapshot(bill_ids=[b for a in accounts.values() for b in a.open_bill_ids]).bills
    rows = []
    for visit in found:
        unit = units.get(visit.unit_id)
        owner = owners.get(unit.owner_id) if unit else None
        account = accounts.get(visit.unit_id)
        owed = sum(
            bills[b].total_minor - bills[b].paid_minor
            for b in (account.open_bill_ids if account else ())
            if b in bills
        )
        rows.append(
            {
                **visit_json(visit),
                "owner_name": owner.name if owner else None,
                "owner_phone": owner.phone if owner else None,
                "owed_minor": owed,
            }
        )
    return DayVisits.model_validate({"day": day.isoformat(), "visits": rows})
