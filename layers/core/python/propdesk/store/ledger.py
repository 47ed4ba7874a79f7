"""The append-only ledger (F7): every state change is one new item, never updated."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError

from propdesk.store.models import LedgerItem


def append(entity: str, event: str, *, at: datetime, key: str, data: dict[str, Any] | None = None) -> bool:
    """Record ``event`` on ``entity`` at ``at``. ``key`` is the event's stable key within the
    entity (e.g. ``"issued"``, ``"paid#stripe:pi_1"``): appending the same key again is a
    no-op, so a retried step records once. Returns False when it was already recorded."""
    item = LedgerItem(entity=entity, seq=key, event=event, at=at, data=data or {})
    try:
        item.save(condition=LedgerItem.seq.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True
