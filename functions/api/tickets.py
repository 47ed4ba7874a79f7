"""Service-desk routes (JSON): take a request, read one. Routing them to departments is the
tickets function's queue work."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from api.responses import json_error, json_ok
from propdesk.domain.tickets import Ticket, TicketRequest
from propdesk.services.tickets import get_ticket, submit
from propdesk.web.access import StaffUser, caller_of
from propdesk.web.http import endpoint
from propdesk.web.schemas import TicketIn, TicketOut, TicketTaken
from propdesk.web.staff_errors import ErrorAnswer

router = Router()


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    return {
        "ticket_id": ticket.ticket_id,
        "kind": ticket.kind,
        "category": ticket.category,
        "unit_id": ticket.unit_id,
        "channel": ticket.channel,
        "summary": ticket.summary,
        "emergency": ticket.emergency,
        "status": ticket.status,
        "department": ticket.department,
        "priority": ticket.priority,
        "due_at": ticket.due_at.isoformat() if ticket.due_at else None,
        "created_at": ticket.created_at.isoformat(),
    }


@endpoint(router, "create_ticket", status_code=201)
def create_ticket(body: TicketIn) -> Response[TicketTaken]:
    staff = caller_of(router.context)
    assert isinstance(staff, StaffUser)
    request = TicketRequest(
        kind=body.kind,
        category=body.category,
        channel=body.channel,
        summary=body.summary,
        unit_id=body.unit_id,
        emergency=body.emergency,
    )
    result = submit(request, now=datetime.now(UTC), staff_id=staff.sub)
    return json_ok(
        {**ticket_json(result.ticket), "created": result.created}, status=201 if result.created else 200
    )


@endpoint(router, "get_ticket")
def read_ticket(
    ticket_id: Annotated[str, Path(min_length=3, max_length=64, examples=["T-26551ed85794fc2bab8c"])],
) -> Response[TicketOut]:
    ticket = get_ticket(ticket_id)
    if ticket is None:
        raise ErrorAnswer(json_error(404, "not_found", "No ticket with this id."))
    return json_ok(ticket_json(ticket))
