"""Tickets in DynamoDB."""

from __future__ import annotations

from datetime import UTC, datetime

from propdesk.domain.tickets import RECEIVED, Routing, Ticket
from propdesk.store.conditions import written
from propdesk.store.models import TicketItem


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def from_item(item: TicketItem) -> Ticket:
    return Ticket(
        ticket_id=item.ticket_id,
        kind=item.kind,
        category=item.category or "",
        channel=item.channel,
        summary=item.summary,
        unit_id=item.unit_id,
        emergency=bool(item.emergency),
        status=item.status,
        created_at=_utc(item.created_at),  # type: ignore[arg-type]
        department=item.department,
        priority=item.priority,
        due_at=_utc(item.due_at),
        version=int(item.version) if item.version is not None else None,
    )


class TicketRepository:
    def create(self, ticket: Ticket) -> bool:
        """Write a new ticket; False (nothing written) if its id exists."""
        item = TicketItem(
            ticket_id=ticket.ticket_id,
            kind=ticket.kind,
            category=ticket.category,
            unit_id=ticket.unit_id,
            channel=ticket.channel,
            summary=ticket.summary,
            emergency=ticket.emergency,
            status=ticket.status,
            created_at=_utc(ticket.created_at),
        )
        return written(lambda: item.save(condition=TicketItem.ticket_id.does_not_exist()))

    def get(self, ticket_id: str) -> Ticket | None:
        try:
            return from_item(TicketItem.get(ticket_id, consistent_read=True))
        except TicketItem.DoesNotExist:
            return None

    def apply_routing(self, ticket_id: str, routing: Routing) -> bool:
        """Record the routing once: only a ticket still ``received`` changes; False otherwise."""
        try:
            item = TicketItem.get(ticket_id, consistent_read=True)
        except TicketItem.DoesNotExist:
            return False
        if item.status != RECEIVED:
            return False
        actions = [TicketItem.status.set(routing.status)]
        if routing.department:
            actions.append(TicketItem.department.set(routing.department))
        if routing.priority:
            actions.append(TicketItem.priority.set(routing.priority))
        if routing.due_at:
            actions.append(TicketItem.due_at.set(_utc(routing.due_at)))
        # pynamodb adds "version unchanged" and increments it: a concurrent router loses.
        return written(lambda: item.update(actions=actions, condition=TicketItem.status == RECEIVED))
