"""The customer-service desk: take a request (S1), route it to a department as a work order (S2).

Intake writes the ticket under a deterministic id (same request within a minute -> same
ticket) and queues it for routing; the router decides scope, department, priority and
deadline once (conditional on the ticket still being ``received``) and queues the work
order for the department's mailbox under the id ``work_order#<ticket_id>``. The summary is
the owner's free text: it is stored and sent to the department, never logged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field

from propdesk.config import PropertyConfig
from propdesk.domain.tickets import (
    DISPATCHED,
    RECEIVED,
    REPEAT_WINDOW,
    Ticket,
    TicketRequest,
    is_repeat,
    normalise_category,
    route,
    ticket_id_for,
)
from propdesk.messaging.requests import MESSAGES_QUEUE, MessageRequest
from propdesk.naming import TICKETS_QUEUE
from propdesk.queues import Producer, QueueProducer
from propdesk.store import ledger
from propdesk.store.tickets import TicketRepository

logger = Logger(child=True)


class RouteTicket(BaseModel):
    """A tickets-queue message: route this ticket to its department."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ticket_id: str = Field(min_length=1, max_length=64)


@dataclass(frozen=True)
class Submitted:
    ticket: Ticket
    created: bool  # False: the same request was already taken (within the same minute)


def submit(
    request: TicketRequest,
    *,
    now: datetime,
    tickets: TicketRepository | None = None,
    queue: Producer | None = None,
    append: Callable[..., bool] = ledger.append,
    staff_id: str | None = None,
) -> Submitted:
    tickets = tickets or TicketRepository()
    queue = queue or QueueProducer(TICKETS_QUEUE)
    ticket = Ticket(
        ticket_id=ticket_id_for(request, now),
        kind=request.kind,
        category=normalise_category(request.category),
        channel=request.channel,
        summary=request.summary.strip(),
        unit_id=request.unit_id,
        emergency=request.emergency,
        status=RECEIVED,
        created_at=now,
    )
    earlier = tickets.get(ticket_id_for(request, now - REPEAT_WINDOW))
    if earlier is not None and is_repeat(earlier, now):
        ticket, created = earlier, False
    else:
        created = tickets.create(ticket)
        if not created:
            stored = tickets.get(ticket.ticket_id)
            ticket = stored or ticket
    if ticket.status == RECEIVED:
        # Also for a repeat: if the first call died before queueing, this one queues it
        # (routing is conditional, so a second routing message changes nothing).
        queue.send([RouteTicket(ticket_id=ticket.ticket_id)])
    append(
        ledger.ticket_entity(ticket.ticket_id),
        "received",
        at=ticket.created_at,
        key="received",
        data={
            "kind": ticket.kind,
            "channel": ticket.channel,
            "emergency": ticket.emergency,
            "by": staff_id or "",
        },
    )
    logger.info(
        "ticket received" if created else "ticket repeated",
        ticket_id=ticket.ticket_id,
        kind=ticket.kind,
        channel=ticket.channel,
        emergency=ticket.emergency,
    )
    return Submitted(ticket=ticket, created=created)


def get_ticket(ticket_id: str, *, tickets: TicketRepository | None = None) -> Ticket | None:
    return (tickets or TicketRepository()).get(ticket_id)


def work_order_message(ticket: Ticket, *, config: PropertyConfig, dispatched_at: datetime) -> MessageRequest:
    department = next(d for d in config.departments if d.code == ticket.department)
    return MessageRequest(
        message_id=f"work_order#{ticket.ticket_id}",
        template="work_order",
        to_email=department.email,
        channels=("email",),
        context={
            "ticket_id": ticket.ticket_id,
            "kind": ticket.kind,
            "category": ticket.category,
            "unit_id": ticket.unit_id,
            "channel": ticket.channel,
            "summary": ticket.summary,
            "emergency": ticket.emergency,
            "priority": ticket.priority,
            "department": department.code,
            "dispatched_at": dispatched_at.isoformat(),
            "due_at": ticket.due_at.isoformat() if ticket.due_at else dispatched_at.isoformat(),
        },
    )


class TicketMissing(LookupError):
    """A routing message names a ticket that is not stored (retried, then dead-lettered)."""


def parse_route_ticket(body: str) -> RouteTicket:
    return RouteTicket.model_validate_json(body)


def route_ticket(
    ticket_id: str,
    *,
    config: PropertyConfig,
    now: datetime,
    tickets: TicketRepository | None = None,
    outbox: Producer | None = None,
    append: Callable[..., bool] = ledger.append,
) -> Ticket:
    tickets = tickets or TicketRepository()
    outbox = outbox or QueueProducer(MESSAGES_QUEUE)
    ticket = tickets.get(ticket_id)
    if ticket is None:
        raise TicketMissing(ticket_id)
    if ticket.status == RECEIVED:
        tickets.apply_routing(ticket_id, route(ticket, config.departments))
        ticket = tickets.get(ticket_id) or ticket
    if ticket.status == DISPATCHED:
        # Queued again on a rerun: the messenger sends one work order per ticket id.
        outbox.send([work_order_message(ticket, config=config, dispatched_at=now)])
    append(
        ledger.ticket_entity(ticket.ticket_id),
        ticket.status,
        at=now,
        key="routed",
        data={"department": ticket.department or "", "priority": ticket.priority or ""},
    )
    logger.info(
        "ticket routed",
        ticket_id=ticket.ticket_id,
        status=ticket.status,
        department=ticket.department,
        priority=ticket.priority,
    )
    return ticket
