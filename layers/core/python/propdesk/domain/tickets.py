"""Service requests (服务需求) and their routing to departments as work orders (S1, S2)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from propdesk.config import Department

KINDS: tuple[str, ...] = ("repair", "consultation", "complaint", "suggestion")
CHANNELS: tuple[str, ...] = ("hotline", "app", "front_desk")

RECEIVED = "received"
DISPATCHED = "dispatched"
OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True)
class TicketRequest:
    kind: str
    category: str
    channel: str
    summary: str
    unit_id: str | None = None
    emergency: bool = False


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    kind: str
    category: str
    channel: str
    summary: str
    unit_id: str | None
    emergency: bool
    status: str
    created_at: datetime
    department: str | None = None
    priority: str | None = None
    due_at: datetime | None = None
    version: int | None = None


@dataclass(frozen=True)
class Routing:
    status: str  # dispatched | out_of_scope
    department: str | None
    priority: str | None
    due_at: datetime | None


# Priority and completion deadline, counted from intake. Emergencies (water leak, power cut)
# get the fast path.
SLA: dict[str, tuple[str, timedelta]] = {
    "emergency": ("urgent", timedelta(hours=2)),
    "complaint": ("high", timedelta(hours=24)),
    "repair": ("normal", timedelta(hours=48)),
    "consultation": ("normal", timedelta(hours=24)),
    "suggestion": ("low", timedelta(days=7)),
}


def normalise_category(category: str) -> str:
    return category.strip().lower()


# The same request again within this window is the same ticket (double click, retried call).
REPEAT_WINDOW = timedelta(minutes=1)


def ticket_id_for(request: TicketRequest, now: datetime) -> str:
    """The id of ``request`` received in ``now``'s minute. A repeat that crosses into the next
    minute gets another id, so intake also looks up the previous minute's (``is_repeat``)."""
    minute = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    content = json.dumps(
        [
            request.kind,
            normalise_category(request.category),
            request.channel,
            " ".join(request.summary.split()),
            request.unit_id or "",
            request.emergency,
            minute,
        ],
        ensure_ascii=False,
    )
    return "T-" + hashlib.sha256(content.encode("utf-8")).hexdigest()[:20]


def is_repeat(earlier: Ticket, now: datetime) -> bool:
    """Whether a request received ``now`` repeats ``earlier`` (same content, within the window)."""
    return timedelta(0) <= now - earlier.created_at <= REPEAT_WINDOW


def route(ticket: Ticket, departments: Sequence[Department]) -> Routing:
    """Scope, department, priority and deadline of a ticket (S2)."""
    category = normalise_category(ticket.category)
    department = next((d for d in departments if category in {h.lower() for h in d.handles}), None)
    if department is None:
        return Routing(status=OUT_OF_SCOPE, department=None, priority=None, due_at=None)
    priority, within = SLA["emergency"] if ticket.emergency else SLA[ticket.kind]
    return Routing(
        status=DISPATCHED, department=department.code, priority=priority, due_at=ticket.created_at + within
    )
