"""Staff routes (JSON). API Gateway's JWT authorizer checks the token; each route checks the
caller's Cognito groups against ``STAFF_ROUTES`` (the same roles as ``infra.manifest``)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter, Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from api.responses import json_error, json_ok
from propdesk.auth import require_roles
from propdesk.services import reports
from propdesk.services.notices import plan_cycle
from propdesk.services.units import import_units_csv
from propdesk.settings import get_settings

router = Router()

ADMIN, CASHIER, AGENT = "admin", "cashier", "agent"
READERS = (ADMIN, CASHIER, AGENT)

# (method, path) -> roles allowed. tests/integration/test_api_staff.py compares it with the manifest.
STAFF_ROUTES: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/staff/bills"): READERS,
    ("GET", "/staff/bills/{bill_id}"): READERS,
    ("GET", "/staff/summary"): (ADMIN, CASHIER),
    ("POST", "/staff/units/import"): (ADMIN,),
    ("POST", "/staff/cycles/{period}"): (ADMIN,),
}

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
Period = Annotated[str, Query(pattern=PERIOD_PATTERN, description="Billing period, YYYY-MM")]
CSV_TYPES = ("text/csv", "text/plain", "application/csv")
SECURITY = [{"staff": []}]


def authorize(app: BaseRouter) -> None:
    """Raise NotAuthenticated (401) / NotAllowed (403) unless the caller may use this route."""
    request = app.request
    roles = STAFF_ROUTES.get((request.method.upper(), request.route), ())
    require_roles(app.current_event.raw_event, roles)


def _responses(ok: str, *extra: int) -> dict[int, dict[str, Any]]:
    responses: dict[int, dict[str, Any]] = {
        200: {"description": ok},
        400: {"description": "Invalid input"},
        401: {"description": "No staff token"},
        403: {"description": "The caller's role may not use this route"},
    }
    for status in extra:
        responses[status] = {"description": {404: "Not found", 413: "Body too large", 415: "Not CSV"}[status]}
    return responses


@router.get(
    "/staff/bills",
    summary="Bills of a period",
    responses=_responses("Bills with status and receipt number"),
    tags=["Staff"],
    security=SECURITY,
)
def list_bills(period: Period) -> dict[str, Any]:
    authorize(router)
    return {"period": period, "bills": reports.list_period_bills(period)}


@router.get(
    "/staff/bills/<bill_id>",
    summary="One bill",
    description="bill_id is '<unit_id>#<YYYY-MM>', URL-encoded ('#' as %23).",
    responses=_responses("The bill with its lines and payment", 404),
    tags=["Staff"],
    security=SECURITY,
)
def get_bill(bill_id: Annotated[str, Path(max_length=120)]) -> Response[dict[str, Any]]:
    authorize(router)
    detail = reports.find_bill(unquote(bill_id))
    if detail is None:
        return json_error(404, "not_found", "No bill with this id.")
    return json_ok(detail)


@router.get(
    "/staff/summary",
    summary="Collection summary of a period",
    description="Bills issued, paid and unpaid; amounts billed, collected and outstanding in minor units; "
    "collection rate in basis points.",
    responses=_responses("The period's collection figures"),
    tags=["Staff"],
    security=SECURITY,
)
def summary(period: Period) -> dict[str, Any]:
    authorize(router)
    config = get_settings().property_config
    return reports.period_summary(period, currency=config.currency).to_dict()


@router.post(
    "/staff/units/import",
    summary="Import units and owners from CSV",
    description="Body: text/csv with columns unit_id,building,floor,number,area_m2,owner_id,owner_name,"
    "phone,email,locale,sms_consent. All or nothing: any invalid line refuses the whole file.",
    responses=_responses("Counts of units created, updated and unchanged", 413, 415),
    tags=["Staff"],
    security=SECURITY,
)
def import_units() -> Response[dict[str, Any]]:
    authorize(router)
    event = router.current_event
    content_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type not in CSV_TYPES:
        return json_error(415, "unsupported_media_type", "Send the units as text/csv.")
    try:
        text = event.decoded_body or ""
    except (ValueError, UnicodeDecodeError):
        return json_error(400, "invalid_encoding", "The CSV must be UTF-8 text.")
    if not text.strip():
        return json_error(400, "empty", "The CSV is empty.")
    result = import_units_csv(text, config=get_settings().property_config)
    if result.errors:
        return json_error(
            400,
            "invalid_csv",
            f"{len(result.errors)} line(s) are invalid; nothing was imported.",
            errors=[{"line": line, "message": message} for line, message in result.errors],
        )
    return json_ok({"created": result.created, "updated": result.updated, "unchanged": result.unchanged})


@router.post(
    "/staff/cycles/<period>",
    summary="Issue a billing cycle now",
    description="Queues every unit's bill and notice for the period; safe to repeat.",
    responses={
        **{status: r for status, r in _responses("").items() if status != 200},
        202: {"description": "The cycle is queued"},
    },
    tags=["Staff"],
    security=SECURITY,
)
def issue_cycle(period: Annotated[str, Path(pattern=PERIOD_PATTERN)]) -> Response[dict[str, Any]]:
    authorize(router)
    result = plan_cycle(period)
    return json_ok({"period": period, "units": result.units, "batches": result.batches}, status=202)
