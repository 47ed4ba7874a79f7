"""Tickets: the staff API to take and read service requests, and the queue consumer that
routes each one to a department as a work order.

HTTP API routes (staff, Cognito JWT): ``POST /staff/tickets``, ``GET /staff/tickets/{ticket_id}``.
Each route's roles are checked here before anything else (401 without claims, 403 without
the role); ``ROUTE_ROLES`` must equal the manifest's (a test compares them).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from propdesk.auth import NotAllowed, NotAuthenticated, require_roles
from propdesk.domain.tickets import Ticket, TicketRequest
from propdesk.services.tickets import get_ticket, route_ticket, submit
from propdesk.settings import get_settings
from propdesk.web import staff_errors
from propdesk.web.staff_errors import json_error, json_ok

logger = Logger()
tracer = Tracer()
app = APIGatewayHttpResolver(enable_validation=True)
# 401/403 in the staff API's shared wording (the same as the api function's).
staff_errors.register_auth_handlers(app)
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False, logger=logger)

ADMIN, CASHIER, AGENT = "admin", "cashier", "agent"
ROUTE_ROLES: dict[str, tuple[str, ...]] = {
    "POST /staff/tickets": (ADMIN, AGENT),
    "GET /staff/tickets/{ticket_id}": (ADMIN, CASHIER, AGENT),
}
MAX_BODY_BYTES = 16 * 1024


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Literal["repair", "consultation", "complaint", "suggestion"]
    category: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z][A-Za-z0-9_ -]*$")
    unit_id: str | None = Field(
        default=None, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
    )
    channel: Literal["hotline", "app", "front_desk"]
    summary: str = Field(min_length=1, max_length=2000)
    emergency: bool = False


def _ticket_json(ticket: Ticket) -> dict[str, Any]:
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


@app.post("/staff/tickets", summary="Take a service request", tags=["Staff"])
def create_ticket(body: TicketIn) -> Response[dict[str, Any]]:
    claims = require_roles(app.current_event.raw_event, ROUTE_ROLES["POST /staff/tickets"])
    request = TicketRequest(
        kind=body.kind,
        category=body.category,
        channel=body.channel,
        summary=body.summary,
        unit_id=body.unit_id,
        emergency=body.emergency,
    )
    result = submit(request, now=datetime.now(UTC), staff_id=str(claims.get("sub") or ""))
    return json_ok(
        {**_ticket_json(result.ticket), "created": result.created}, status=201 if result.created else 200
    )


@app.get("/staff/tickets/<ticket_id>", summary="One service request", tags=["Staff"])
def read_ticket(ticket_id: Annotated[str, Path(min_length=3, max_length=64)]) -> Response[dict[str, Any]]:
    require_roles(app.current_event.raw_event, ROUTE_ROLES["GET /staff/tickets/{ticket_id}"])
    ticket = get_ticket(ticket_id)
    if ticket is None:
        return json_error(404, "not_found", "No ticket with this id.")
    return json_ok(_ticket_json(ticket))


@app.exception_handler(RequestValidationError)
def _invalid(exc: RequestValidationError) -> Response:
    # Field locations and messages only: never echo the submitted values (free text).
    return staff_errors.invalid_request(exc)


@app.exception_handler(NotFoundError)
def _no_route(_exc: NotFoundError) -> Response:
    return staff_errors.no_such_route()


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response:
    # Logged with its trace for us; the caller gets the same plain answer as from the api function.
    logger.exception("request failed", error_type=type(exc).__name__)
    return staff_errors.internal_error()


def _check_route_roles(event: dict[str, Any]) -> Response | None:
    roles = ROUTE_ROLES.get(str(event.get("routeKey") or ""))
    if roles is None:
        return None
    try:
        require_roles(event, roles)
    except (NotAuthenticated, NotAllowed) as denied:
        return staff_errors.refusal(denied)
    return None


def _http(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Roles first, so a caller without the right learns nothing from validation errors.
    refused = _check_route_roles(event)
    if refused is not None:
        return _response_dict(refused)
    body = event.get("body") or ""
    if len(body) > MAX_BODY_BYTES:
        return _response_dict(staff_errors.too_large(MAX_BODY_BYTES))
    return app.resolve(event, context)


def _response_dict(response: Response) -> dict[str, Any]:
    # Answered before the resolver runs: serialised as the resolver would (compact JSON).
    return {
        "statusCode": response.status_code,
        "headers": dict(response.headers),
        "body": json.dumps(response.body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def record_handler(record: SQSRecord) -> None:
    ticket_id = str(json.loads(record.body)["ticket_id"])
    route_ticket(ticket_id, config=get_settings().property_config, now=datetime.now(UTC))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    return _http(event, context)
