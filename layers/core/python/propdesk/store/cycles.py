"""Billing cycles in DynamoDB (``CycleItem``): a header per period and a tally per batch.

The header is written once (a condition that none exists) and then moves from state to state
only under a condition on the state it was read in: ``preparing`` -> ``draft`` (the last batch
tallied) -> ``approved`` (bills issued) or ``voided``. So two managers approving at once approve
once, and a cycle voided is never approved after. A batch's tally is a plain put of what the
batch computed and its number is ADDed to the header's ``batches_done`` set: a batch retried
writes the same tally and adds a number already there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from propdesk.store.conditions import written
from propdesk.store.models import CycleItem

HEADER = "header"
PREPARING = "preparing"
DRAFT = "draft"
APPROVED = "approved"
VOIDED = "voided"


def batch_part(batch: int) -> str:
    return f"batch#{batch:05d}"


@dataclass(frozen=True)
class CycleHeader:
    period: str
    state: str
    data: Mapping[str, Any]  # who prepared it, the standard, batches, units, approval, void
    batches_done: frozenset[int] = field(default_factory=frozenset)

    @property
    def batches(self) -> int:
        return int(self.data.get("batches", 0))

    @property
    def tallied(self) -> bool:
        return len(self.batches_done) >= self.batches


def _dumps(data: Mapping[str, Any]) -> str:
    return json.dumps(dict(data), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _header(item: CycleItem) -> CycleHeader:
    return CycleHeader(
        period=item.period,
        state=item.state or PREPARING,
        data=json.loads(item.data),
        batches_done=frozenset(int(n) for n in (item.batches_done or ())),
    )


class CycleRepository:
    def header(self, period: str) -> CycleHeader | None:
        try:
            return _header(CycleItem.get(period, HEADER, consistent_read=True))
        except CycleItem.DoesNotExist:
            return None

    def create(self, period: str, data: Mapping[str, Any], *, now: datetime) -> bool:
        """The period's header, in state ``preparing``; False when the period has one already."""
        item = CycleItem(period, HEADER, state=PREPARING, data=_dumps(data), updated_at=now.astimezone(UTC))
        return written(lambda: item.save(condition=CycleItem.period.does_not_exist()))

    def move(
        self, period: str, *, from_state: str, to_state: str, data: Mapping[str, Any], now: datetime
    ) -> bool:
        """``from_state`` -> ``to_state`` with the header's facts replaced by ``data``; False when
        the header is not in ``from_state`` (someone moved it first)."""
        item = CycleItem(period, HEADER)
        return written(
            lambda: item.update(
                actions=[
                    CycleItem.state.set(to_state),
                    CycleItem.data.set(_dumps(data)),
                    CycleItem.updated_at.set(now.astimezone(UTC)),
                ],
                condition=CycleItem.state == from_state,
            )
        )

    def put_tally(self, period: str, batch: int, tally: Mapping[str, Any], *, now: datetime) -> CycleHeader:
        """Store a batch's tally and mark the batch done on the header: the header after it."""
        CycleItem(period, batch_part(batch), data=_dumps(tally), updated_at=now.astimezone(UTC)).save()
        header = CycleItem(period, HEADER)
        header.update(
            actions=[CycleItem.batches_done.add({batch})],
            condition=CycleItem.period.exists(),
        )
        return _header(header)

    def tallies(self, period: str) -> list[dict[str, Any]]:
        """Every batch's tally, in batch order (one Query, paged by pynamodb)."""
        return [
            json.loads(item.data)
            for item in CycleItem.query(period, CycleItem.part.startswith("batch#"), consistent_read=True)
        ]
