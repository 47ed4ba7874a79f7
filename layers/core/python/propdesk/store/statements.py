"""Files from outside, line by line, in DynamoDB (``StatementItem``): bank statements, direct
debit result files, and the daily reconciliation's differences.

A file is stored under an id its content decides, header first (line 0, written once under a
condition), then its lines (idempotent puts). The same file imported again finds its header and
changes nothing; an import cut short is finished by the next (its header still says
``importing``). A line changes state under its version; one that waits for staff carries
``open_kind`` (the sparse ``open-index``), so staff's list is a query, never a scan.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from propdesk.store.conditions import written
from propdesk.store.indexed import read_back
from propdesk.store.models import StatementItem

HEADER = 0
IMPORTING = "importing"
READY = "ready"


@dataclass(frozen=True)
class StatementLine:
    statement_id: str
    line: int
    kind: str  # bank | debit | recon
    state: str
    created_at: datetime
    data: Mapping[str, Any]
    payment_id: str | None = None
    waiting: bool = False  # waits for staff (open-index)
    version: int | None = field(default=None, compare=False)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_item(line: StatementLine) -> StatementItem:
    item = StatementItem(
        statement_id=line.statement_id,
        line=line.line,
        kind=line.kind,
        state=line.state,
        created_at=_utc(line.created_at),
        data=json.dumps(dict(line.data), ensure_ascii=False, sort_keys=True, separators=(",", ":")),
        payment_id=line.payment_id,
        open_kind=line.kind if line.waiting else None,
    )
    if line.version is not None:
        item.version = line.version
    return item


def from_item(item: StatementItem) -> StatementLine:
    return StatementLine(
        statement_id=item.statement_id,
        line=int(item.line),
        kind=item.kind,
        state=item.state,
        created_at=_utc(item.created_at),
        data=json.loads(item.data),
        payment_id=item.payment_id,
        waiting=item.open_kind is not None,
        version=item.version,
    )


class StatementRepository:
    def header(self, statement_id: str) -> StatementLine | None:
        try:
            return from_item(StatementItem.get(statement_id, HEADER, consistent_read=True))
        except StatementItem.DoesNotExist:
            return None

    def begin(self, header: StatementLine) -> tuple[StatementLine, bool]:
        """Write the file's header once: (the header as stored, whether this call wrote it)."""
        assert header.line == HEADER
        item = to_item(replace(header, state=IMPORTING, version=None))
        if not written(lambda: item.save(condition=StatementItem.statement_id.does_not_exist())):
            stored = self.header(header.statement_id)
            assert stored is not None
            return stored, False
        return from_item(item), True

    def put_lines(self, lines: Iterable[StatementLine]) -> None:
        """Write lines as they are (the same line again overwrites it with the same content)."""
        with StatementItem.batch_write() as batch:
            for line in lines:
                batch.save(to_item(replace(line, version=None)))

    def lines(self, statement_id: str) -> list[StatementLine]:
        """Every line of a file, header first."""
        return [from_item(item) for item in StatementItem.query(statement_id, consistent_read=True)]

    def get(self, statement_id: str, line: int) -> StatementLine | None:
        try:
            return from_item(StatementItem.get(statement_id, line, consistent_read=True))
        except StatementItem.DoesNotExist:
            return None

    def save_changed(self, line: StatementLine) -> StatementLine | None:
        """Write a changed line under its version: None if it changed meanwhile."""
        item = to_item(line)
        return from_item(item) if written(item.save) else None

    def waiting(self, kind: str, *, limit: int = 200) -> Iterator[StatementLine]:
        """Lines of ``kind`` that wait for staff, oldest first."""
        found = StatementItem.open_index.query(kind, limit=limit)
        yield from map(from_item, read_back(StatementItem, found, where=("open_kind", kind)))


__all__ = ["HEADER", "IMPORTING", "READY", "StatementLine", "StatementRepository"]
