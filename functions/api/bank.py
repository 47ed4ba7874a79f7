"""Statements (JSON): a cashier uploads the bank's statement as CSV, reads the proposed
matches, and confirms them (or sets lines aside); confirmed lines land like any payment, once.
Staff read the daily reconciliation's differences and resolve them. An admin makes a period's
direct-debit deduction file and imports the bank's result file.

Who may call each route is in the route table; a refusal of the service (``DeskError``) is a
clear 4xx with its code, and nothing is written before it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from api.responses import json_error, json_ok
from propdesk.payments.links import pay_links
from propdesk.services import bankstatements, debit, reconcile
from propdesk.services.errors import DeskError
from propdesk.settings import get_settings
from propdesk.store.statements import StatementLine
from propdesk.web.access import StaffUser, caller_of
from propdesk.web.http import endpoint
from propdesk.web.schemas import (
    BankDecisionsIn,
    BankDecisionsOut,
    BankStatementOut,
    DebitBatchOut,
    DebitResultsOut,
    ReconciliationItemOut,
    ReconciliationList,
    ResolveIn,
)
from propdesk.web.staff_errors import ErrorAnswer

router = Router()

ReconciliationId = Annotated[
    str,
    Path(
        pattern=r"^RC[0-9]{8}[A-Z]{2}$",
        description="The reconciliation of a rail's day",
        examples=["RC20261201WX"],
    ),
]
ItemLine = Annotated[int, Path(ge=1, le=100_000, description="The item's number")]
StatementId = Annotated[
    str,
    Path(pattern=r"^BS[0-9A-F]{20}$", description="The statement's id", examples=["BS0123456789ABCDEF0123"]),
]


def _staff() -> StaffUser:
    staff = caller_of(router.context)
    assert isinstance(staff, StaffUser)
    return staff


def _line_json(line: StatementLine) -> dict[str, Any]:
    data = line.data
    return {
        "line": line.line,
        "state": line.state,
        "day": data["day"],
        "amount_minor": data["amount_minor"],
        "payer": data["payer"],
        "memo": data["memo"],
        "reference": data.get("reference"),
        "match": data.get("match"),
        "unit_id": data.get("confirmed_unit_id") or data.get("unit_id"),
        "bill_ids": list(data.get("bill_ids") or ()),
        "owed_minor": data.get("owed_minor"),
        "reason": data.get("reason") or "",
        "payment_id": line.payment_id,
    }


def _statement_json(header: StatementLine, lines: list[StatementLine], *, created: bool) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.state] = counts.get(line.state, 0) + 1
    return BankStatementOut.model_validate(
        {
            "statement_id": header.statement_id,
            "created": created,
            "imported_by": header.data["by"],
            "imported_at": header.created_at.astimezone(UTC).isoformat(),
            "first_day": header.data["first_day"],
            "last_day": header.data["last_day"],
            "credit_minor": header.data["credit_minor"],
            "counts": counts,
            "lines": [_line_json(line) for line in lines],
        }
    ).model_dump(mode="json")


@endpoint(router, "import_bank_statement", status_code=201)
def import_bank_statement() -> Response[BankStatementOut]:
    try:
        text = router.current_event.decoded_body or ""
    except (ValueError, UnicodeDecodeError):
        raise ErrorAnswer(json_error(400, "invalid_encoding", "The CSV must be UTF-8 text.")) from None
    if not text.strip():
        raise ErrorAnswer(json_error(400, "empty", "The CSV is empty."))
    try:
        imported = bankstatements.import_statement(text, staff_id=_staff().sub, now=datetime.now(UTC))
    except bankstatements.StatementRejected as rejected:
        raise ErrorAnswer(
            json_error(
                400,
                "invalid_csv",
                f"{len(rejected.problems)} line(s) are invalid; nothing was imported.",
                errors=[{"line": line, "message": message} for line, message in rejected.problems],
            )
        ) from None
    found = bankstatements.statement(imported.statement_id)
    body = _statement_json(found[0], found[1:], created=imported.created)
    return json_ok(body, status=201 if imported.created else 200)


@endpoint(router, "get_bank_statement")
def get_bank_statement(statement_id: StatementId) -> Response[BankStatementOut]:
    try:
        found = bankstatements.statement(statement_id)
    except DeskError as error:
        raise ErrorAnswer(json_error(error.status, error.code, error.message)) from None
    return json_ok(_statement_json(found[0], found[1:], created=False))


@endpoint(router, "decide_bank_lines")
def decide_bank_lines(statement_id: StatementId, body: BankDecisionsIn) -> Response[BankDecisionsOut]:
    config = get_settings().property_config
    now = datetime.now(UTC)
    decisions = [
        bankstatements.Decision(line=d.line, action=d.action, unit_id=d.unit_id, note=d.note)
        for d in body.decisions
    ]
    try:
        results = bankstatements.confirm(
            statement_id,
            decisions,
            staff_id=_staff().sub,
            config=config,
            now=now,
            receipt_url=lambda landed, owner_id: pay_links().receipt_url(
                str(landed.unit_id), landed.payment_id, owner_id=owner_id, now=now
            ),
        )
    except DeskError as error:
        raise ErrorAnswer(json_error(error.status, error.code, error.message)) from None
    return json_ok(
        BankDecisionsOut.model_validate(
            {"statement_id": statement_id, "results": [vars(result) for result in results]}
        ).model_dump(mode="json")
    )


def _item_json(item: StatementLine) -> dict[str, Any]:
    data = item.data
    return ReconciliationItemOut.model_validate(
        {
            "reconciliation_id": item.statement_id,
            "line": item.line,
            "state": item.state,
            "rail": data["rail"],
            "day": data["day"],
            "type": data["type"],
            "payment_id": data["payment_id"],
            "order_id": data.get("order_id"),
            "provider_payment_id": data.get("provider_payment_id"),
            "provider_minor": data.get("provider_minor"),
            "ours_minor": data.get("ours_minor"),
            "unit_id": data.get("unit_id"),
            "note": data.get("note"),
            "resolved_by": data.get("by"),
        }
    ).model_dump(mode="json")


@endpoint(router, "list_reconciliation")
def list_reconciliation() -> Response[ReconciliationList]:
    return json_ok({"items": [_item_json(item) for item in reconcile.waiting()]})


@endpoint(router, "resolve_reconciliation")
def resolve_reconciliation(
    reconciliation_id: ReconciliationId, line: ItemLine, body: ResolveIn
) -> Response[ReconciliationItemOut]:
    try:
        item = reconcile.resolve(
            reconciliation_id, line, note=body.note, staff_id=_staff().sub, now=datetime.now(UTC)
        )
    except DeskError as error:
        raise ErrorAnswer(json_error(error.status, error.code, error.message)) from None
    return json_ok(_item_json(item))


Period = Annotated[
    str,
    Path(
        pattern=r"^(2[0-9]{3})-(0[1-9]|1[0-2])$", description="Billing period, YYYY-MM", examples=["2027-01"]
    ),
]


def _debit_line(line: StatementLine) -> dict[str, Any]:
    data = line.data
    return {
        "reference": data["reference"],
        "state": line.state,
        "unit_id": data["unit_id"],
        "bank": data["bank"],
        "account": data["account"],
        "amount_minor": data["amount_minor"],
        "bill_ids": list(data["bill_ids"]),
        "payment_id": line.payment_id,
        "reason": data.get("reason"),
    }


@endpoint(router, "debit_batch", status_code=201)
def debit_batch(period: Period) -> Response[DebitBatchOut]:
    config = get_settings().property_config
    if not config.payment.direct_debit:
        raise ErrorAnswer(json_error(409, "not_offered", "This property does not offer direct debit."))
    batch = debit.export_batch(period, config=config, staff_id=_staff().sub, now=datetime.now(UTC))
    body = DebitBatchOut.model_validate(
        {
            "batch_id": batch.batch_id,
            "period": period,
            "created": batch.created,
            "amount_minor": sum(int(line.data["amount_minor"]) for line in batch.lines),
            "lines": [_debit_line(line) for line in batch.lines],
            "file_url": batch.url,
        }
    ).model_dump(mode="json")
    return json_ok(body, status=201 if batch.created else 200)


@endpoint(router, "debit_results")
def debit_results() -> Response[DebitResultsOut]:
    config = get_settings().property_config
    try:
        text = router.current_event.decoded_body or ""
    except (ValueError, UnicodeDecodeError):
        raise ErrorAnswer(json_error(400, "invalid_encoding", "The file must be UTF-8 CSV.")) from None
    now = datetime.now(UTC)
    try:
        applied = debit.import_results(
            text,
            config=config,
            staff_id=_staff().sub,
            now=now,
            pay_url=lambda unit_id, owner_id: pay_links().account_url(unit_id, owner_id=owner_id, now=now),
            receipt_url=lambda landed, owner_id: pay_links().receipt_url(
                str(landed.unit_id), landed.payment_id, owner_id=owner_id, now=now
            ),
        )
    except debit.ResultsRejected as rejected:
        raise ErrorAnswer(
            json_error(
                400,
                "invalid_csv",
                f"{len(rejected.problems)} line(s) are invalid; nothing was applied.",
                errors=[{"line": line, "message": message} for line, message in rejected.problems],
            )
        ) from None
    return json_ok(
        DebitResultsOut.model_validate({"results": [vars(result) for result in applied]}).model_dump(
            mode="json"
        )
    )
