"""Staff routes (JSON): bills, the collection summary, the units import, issuing a cycle.

Who may call each one is in the route table (``propdesk.routes``); the authorization step has
checked it before a route runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from api.responses import json_error, json_ok
from propdesk.config import PropertyConfig
from propdesk.domain.units import ContactMark, Owner
from propdesk.services import calls, contacts, cycles, reports
from propdesk.services.errors import DeskError
from propdesk.services.notices import OutOfTurn
from propdesk.services.units import import_units_csv
from propdesk.settings import get_settings
from propdesk.store.owners import OwnerRepository
from propdesk.store.statements import StatementLine
from propdesk.web.access import StaffUser, caller_of
from propdesk.web.http import endpoint
from propdesk.web.schemas import (
    PERIOD_PATTERN,
    UNIT_ID_PATTERN,
    BillDetail,
    BillsPage,
    CallItemOut,
    CallList,
    CallOutcomeIn,
    CollectionSummaryOut,
    CycleOut,
    CycleOutOfTurnIn,
    CycleVoidIn,
    ImportResult,
    UnreachableContactOut,
    UnreachableContacts,
)
from propdesk.web.staff_errors import ErrorAnswer

router = Router()

Period = Annotated[
    str, Query(pattern=PERIOD_PATTERN, description="Billing period, YYYY-MM", examples=["2027-01"])
]
PathPeriod = Annotated[
    str, Path(pattern=PERIOD_PATTERN, description="Billing period, YYYY-MM", examples=["2027-01"])
]
UnitId = Annotated[str, Path(pattern=UNIT_ID_PATTERN, description="Unit number", examples=["A-1203"])]


def local_today(config: PropertyConfig) -> date:
    """Today in the property's time zone."""
    return datetime.now(UTC).astimezone(config.tz).date()


@endpoint(router, "list_bills")
def list_bills(
    period: Annotated[
        str | None, Query(pattern=PERIOD_PATTERN, description="Billing period, YYYY-MM", examples=["2027-01"])
    ] = None,
    status: Annotated[Literal["open", "paid"] | None, Query(description="open or paid")] = None,
    building: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,16}$", description="Building code")
    ] = None,
    days_overdue: Annotated[
        int | None, Query(ge=0, le=3650, description="Open bills at least this many days past due")
    ] = None,
) -> Response[BillsPage]:
    config = get_settings().property_config
    wanted = reports.BillFilter(
        period=period, status=status, building=building, min_days_overdue=days_overdue
    )
    rows = reports.list_bills(wanted, today=local_today(config))
    return json_ok(BillsPage.model_validate({"period": period, "bills": rows}).model_dump(mode="json"))


@endpoint(router, "get_unit_bill")
def get_unit_bill(unit_id: UnitId, period: PathPeriod) -> Response[BillDetail]:
    detail = reports.unit_bill(unit_id, period, today=local_today(get_settings().property_config))
    if detail is None:
        raise ErrorAnswer(json_error(404, "not_found", "No bill for this unit and period."))
    return json_ok(BillDetail.model_validate(detail).model_dump(mode="json"))


@endpoint(router, "period_summary")
def summary(period: Period) -> CollectionSummaryOut:
    config = get_settings().property_config
    return CollectionSummaryOut.model_validate(
        reports.period_summary(period, currency=config.currency).to_dict()
    )


@endpoint(router, "import_units")
def import_units() -> Response[ImportResult]:
    # (The authorization step has refused a media type the route table does not list: 415.)
    try:
        text = router.current_event.decoded_body or ""
    except (ValueError, UnicodeDecodeError):
        raise ErrorAnswer(json_error(400, "invalid_encoding", "The CSV must be UTF-8 text.")) from None
    if not text.strip():
        raise ErrorAnswer(json_error(400, "empty", "The CSV is empty."))
    result = import_units_csv(text, config=get_settings().property_config)
    if result.errors:
        raise ErrorAnswer(
            json_error(
                400,
                "invalid_csv",
                f"{len(result.errors)} line(s) are invalid; nothing was imported.",
                errors=[{"line": line, "message": message} for line, message in result.errors],
            )
        )
    return json_ok({"created": result.created, "updated": result.updated, "unchanged": result.unchanged})


def _cycle_json(period: str) -> dict[str, Any]:
    return CycleOut.model_validate(cycles.summary_json(cycles.summary(period))).model_dump(mode="json")


def _desk(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except DeskError as error:
        raise ErrorAnswer(json_error(error.status, error.code, error.message)) from None


@endpoint(router, "prepare_cycle", status_code=202)
def prepare_cycle(period: PathPeriod, body: CycleOutOfTurnIn | None = None) -> Response[CycleOut]:
    config = get_settings().property_config
    staff = caller_of(router.context)
    assert isinstance(staff, StaffUser)
    now = datetime.now(UTC)
    out_of_turn = OutOfTurn(reason=body.reason, staff_id=staff.sub) if body is not None else None
    _desk(
        lambda: cycles.prepare_cycle(
            period,
            config=config,
            today=local_today(config),
            now=now,
            staff_id=staff.sub,
            out_of_turn=out_of_turn,
        )
    )
    return json_ok(_desk(lambda: _cycle_json(period)), status=202)


@endpoint(router, "get_cycle")
def get_cycle(period: PathPeriod) -> Response[CycleOut]:
    return json_ok(_desk(lambda: _cycle_json(period)))


@endpoint(router, "approve_cycle")
def approve_cycle(period: PathPeriod) -> Response[CycleOut]:
    staff = caller_of(router.context)
    assert isinstance(staff, StaffUser)
    config = get_settings().property_config
    _desk(lambda: cycles.approve_cycle(period, config=config, staff_id=staff.sub, now=datetime.now(UTC)))
    return json_ok(_desk(lambda: _cycle_json(period)))


@endpoint(router, "void_cycle")
def void_cycle(period: PathPeriod, body: CycleVoidIn) -> Response[CycleOut]:
    staff = caller_of(router.context)
    assert isinstance(staff, StaffUser)
    config = get_settings().property_config
    _desk(
        lambda: cycles.void_cycle(
            period, config=config, staff_id=staff.sub, reason=body.reason, now=datetime.now(UTC)
        )
    )
    return json_ok(_desk(lambda: _cycle_json(period)))


CallListId = Annotated[
    str, Path(pattern=r"^CL[0-9]{6}$", description="The period's call list", examples=["CL202701"])
]
CallLine = Annotated[int, Path(ge=1, le=100_000, description="The owner's line on the list")]


def _call_json(item: StatementLine, owners: dict[str, Owner]) -> dict[str, Any]:
    data = item.data
    owner = owners.get(data.get("owner_id") or "")
    return CallItemOut.model_validate(
        {
            "call_list_id": item.statement_id,
            "line": item.line,
            "state": item.state,
            "period": data["period"],
            "unit_id": data["unit_id"],
            "bill_id": data["bill_id"],
            "owner_name": owner.name if owner else None,
            "phone": owner.phone if owner else None,
            "owed_minor": data["owed_minor"],
            "currency": data["currency"],
            "due_date": data["due_date"],
            "why": data["why"],
            "calls": data.get("calls", []),
        }
    ).model_dump(mode="json")


@endpoint(router, "list_calls")
def list_calls() -> Response[CallList]:
    items = calls.waiting()
    owners = OwnerRepository().get_many(
        {str(i.data.get("owner_id")) for i in items if i.data.get("owner_id")}
    )
    return json_ok({"items": [_call_json(item, owners) for item in items]})


def _mark_json(mark: ContactMark | None) -> dict[str, Any] | None:
    return None if mark is None else {"reason": mark.reason, "detail": mark.detail, "at": mark.at}


@endpoint(router, "list_unreachable_contacts")
def list_unreachable_contacts() -> Response[UnreachableContacts]:
    items = [
        UnreachableContactOut.model_validate(
            {
                "owner_id": line.owner.owner_id,
                "owner_name": line.owner.name,
                "unit_ids": list(line.unit_ids),
                "email": line.owner.email,
                "phone": line.owner.phone,
                "email_mark": _mark_json(line.owner.email_mark),
                "phone_mark": _mark_json(line.owner.phone_mark),
            }
        ).model_dump(mode="json")
        for line in contacts.unreachable()
    ]
    return json_ok({"items": items})


@endpoint(router, "record_call")
def record_call(call_list_id: CallListId, line: CallLine, body: CallOutcomeIn) -> Response[CallItemOut]:
    staff = caller_of(router.context)
    assert isinstance(staff, StaffUser)
    try:
        item = calls.record_call(
            call_list_id,
            line,
            outcome=body.outcome,
            note=body.note,
            staff_id=staff.sub,
            now=datetime.now(UTC),
        )
    except DeskError as error:
        raise ErrorAnswer(json_error(error.status, error.code, error.message)) from None
    owners = (
        OwnerRepository().get_many([str(item.data.get("owner_id") or "")])
        if item.data.get("owner_id")
        else {}
    )
    return json_ok(_call_json(item, owners))
