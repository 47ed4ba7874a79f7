"""Staff routes (JSON): bills, the collection summary, the units import, issuing a cycle.

Who may call each one is in the route table (``propdesk.routes``); the authorization step has
checked it before a route runs.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from api.responses import json_error, json_ok
from propdesk.services import reports
from propdesk.services.notices import plan_cycle
from propdesk.services.units import import_units_csv
from propdesk.settings import get_settings
from propdesk.web.http import endpoint
from propdesk.web.schemas import (
    PERIOD_PATTERN,
    BillDetail,
    BillsPage,
    CollectionSummaryOut,
    CycleQueued,
    ImportResult,
)
from propdesk.web.staff_errors import ErrorAnswer

router = Router()

Period = Annotated[
    str, Query(pattern=PERIOD_PATTERN, description="Billing period, YYYY-MM", examples=["2027-01"])
]


@endpoint(router, "list_bills")
def list_bills(period: Period) -> BillsPage:
    return BillsPage.model_validate({"period": period, "bills": reports.list_period_bills(period)})


@endpoint(router, "get_bill")
def get_bill(
    bill_id: Annotated[
        str, Path(max_length=120, examples=["A-1203#2027-01"], description="<unit>#<YYYY-MM>")
    ],
) -> Response[BillDetail]:
    detail = reports.find_bill(bill_id)
    if detail is None:
        raise ErrorAnswer(json_error(404, "not_found", "No bill with this id."))
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


@endpoint(router, "issue_cycle", status_code=202)
def issue_cycle(
    period: Annotated[
        str, Path(pattern=PERIOD_PATTERN, description="Billing period, YYYY-MM", examples=["2027-01"])
    ],
) -> Response[CycleQueued]:
    result = plan_cycle(period)
    return json_ok({"period": period, "units": result.units, "batches": result.batches}, status=202)
