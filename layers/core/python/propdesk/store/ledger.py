"""The append-only ledger (F7): every state change is one new item, never updated.

An entry belongs to an entity, named by the helpers below (``bill_entity(bill_id)`` ->
``"bill#A-1203#2027-01"``), and has a stable key within it (``"issued"``,
``"paid#stripe:pi_1"``), so a retried step records once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from propdesk.store.conditions import written
from propdesk.store.models import LedgerItem


def account_entity(unit_id: str) -> str:
    return f"account#{unit_id}"


def bill_entity(bill_id: str) -> str:
    return f"bill#{bill_id}"


def payment_entity(payment_id: str) -> str:
    return f"payment#{payment_id}"


def ticket_entity(ticket_id: str) -> str:
    return f"ticket#{ticket_id}"


def cycle_entity(period: str) -> str:
    return f"cycle#{period}"


def standard_entity(version: str) -> str:
    """A fee standard's version (F1): its drafts and its publication."""
    return f"standard#{version}"


def message_entity(message_id: str) -> str:
    return f"message#{message_id}"


def append(entity: str, event: str, *, at: datetime, key: str, data: dict[str, Any] | None = None) -> bool:
    """Record ``event`` on ``entity`` at ``at`` under ``key``; appending the same key again is a
    no-op. Returns False when it was already recorded."""
    item = LedgerItem(entity=entity, seq=key, event=event, at=at, data=data or {})
    return written(lambda: item.save(condition=LedgerItem.seq.does_not_exist()))


def keys(entity: str, prefix: str = "") -> list[str]:
    """The keys of ``entity``'s entries that start with ``prefix`` (all of them by default)."""
    condition = LedgerItem.seq.startswith(prefix) if prefix else None
    return [item.seq for item in LedgerItem.query(entity, condition, consistent_read=True)]


@dataclass(frozen=True)
class LedgerEntry:
    """One entry as read back: its key, event, time and data (plain values)."""

    key: str
    event: str
    at: datetime
    data: dict[str, Any]


def entries(entity: str, prefix: str = "") -> list[LedgerEntry]:
    """``entity``'s entries whose keys start with ``prefix``, in key order (strongly consistent)."""
    condition = LedgerItem.seq.startswith(prefix) if prefix else None
    return [
        LedgerEntry(item.seq, item.event, item.at, dict(item.data.as_dict() if item.data else {}))
        for item in LedgerItem.query(entity, condition, consistent_read=True)
    ]
