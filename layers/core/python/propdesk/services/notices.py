"""The notice cycle (F2): plan a period's bills in batches, then issue each batch.

The planner pages through the units and puts batches of unit ids on the notices queue. The
worker computes each unit's bill, writes it conditionally (one per unit and period, so a
rerun creates nothing twice), records it on the ledger and queues a ``bill_notice`` whose
message id is derived from the bill id, so the messenger sends it once however often the
batch is retried.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field

from propdesk.config import PropertyConfig
from propdesk.domain.billing import Bill, compute_bill
from propdesk.domain.calendar import PERIOD_PATTERN, parse_period, period_noticed_on
from propdesk.messaging.requests import MESSAGES_QUEUE, MessageRequest
from propdesk.naming import NOTICES_QUEUE
from propdesk.payments.links import pay_links
from propdesk.queues import Producer, QueueProducer
from propdesk.store import ledger
from propdesk.store.bills import BillRepository
from propdesk.store.units import UnitRepository

logger = Logger(child=True)

BATCH_SIZE = 50
ISSUE_BILLS = "issue_bills"


class IssueBills(BaseModel):
    """A notices-queue message: issue the bills of these units for this period."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(pattern=f"^{ISSUE_BILLS}$")
    period: str = Field(pattern=PERIOD_PATTERN)
    unit_ids: tuple[str, ...] = Field(min_length=1, max_length=100)


PayUrl = Callable[[Bill], str]


@dataclass(frozen=True)
class PlanResult:
    period: str | None  # None: today is no period's notice day
    units: int = 0
    batches: int = 0


def plan_cycle(
    period: str,
    *,
    units: UnitRepository | None = None,
    batches: Producer | None = None,
    batch_size: int = BATCH_SIZE,
) -> PlanResult:
    """Queue every unit for ``period``'s bills, ``batch_size`` unit ids per message. Safe to
    run twice: the worker's writes are conditional and its notices deduplicated."""
    parse_period(period)
    units = units or UnitRepository()
    batches = batches or QueueProducer(NOTICES_QUEUE)
    count = sent = 0
    for page in units.pages(page_size=batch_size):
        batches.send([IssueBills(kind=ISSUE_BILLS, period=period, unit_ids=tuple(u.unit_id for u in page))])
        count += len(page)
        sent += 1
    logger.info("notice cycle planned", period=period, units=count, batches=sent)
    return PlanResult(period=period, units=count, batches=sent)


def run_notice_day(
    today: date,
    *,
    config: PropertyConfig,
    period: str | None = None,
    units: UnitRepository | None = None,
    batches: Producer | None = None,
) -> PlanResult:
    """The daily scheduled run: plan the period whose notice day is ``today`` (or ``period``
    when an operator forces one); on any other day do nothing."""
    target = period or period_noticed_on(today, config.billing)
    if target is None:
        logger.info("not a notice day", today=today.isoformat())
        return PlanResult(period=None)
    return plan_cycle(target, units=units, batches=batches)


@dataclass(frozen=True)
class IssueResult:
    created: int = 0
    existing: int = 0
    missing: int = 0
    notices: int = 0


class IssueFailed(RuntimeError):
    """Some units of a batch could not be billed; the batch is retried (the rest are no-ops)."""


def bill_notice(bill: Bill, *, pay_url: str) -> MessageRequest:
    return MessageRequest(
        message_id=f"bill_notice#{bill.bill_id}",
        template="bill_notice",
        owner_id=bill.owner_id,
        context={
            "bill_id": bill.bill_id,
            "unit_id": bill.unit_id,
            "period": bill.period,
            "lines": [{"code": line.code, "amount_minor": line.amount_minor} for line in bill.lines],
            "total_minor": bill.total_minor,
            "currency": bill.currency,
            "due_date": bill.due_date.isoformat(),
            "pay_url": pay_url,
            "fee_standard_version": bill.fee_standard_version,
        },
    )


def issue_bills(
    period: str,
    unit_ids: Sequence[str],
    *,
    config: PropertyConfig,
    now: datetime,
    units: UnitRepository | None = None,
    bills: BillRepository | None = None,
    outbox: Producer | None = None,
    pay_url: PayUrl | None = None,
    append: Callable[..., bool] = ledger.append,
) -> IssueResult:
    """Issue the bills of ``unit_ids`` for ``period`` and queue their notices."""
    units = units or UnitRepository()
    bills = bills or BillRepository()
    outbox = outbox or QueueProducer(MESSAGES_QUEUE)
    pay_url = pay_url or pay_links().url

    found = units.get_many(unit_ids)
    created = existing = failed = 0
    notices: list[MessageRequest] = []
    for unit_id in unit_ids:
        unit = found.get(unit_id)
        if unit is None:
            # Removed since the plan: nothing to bill, and retrying would not help.
            logger.warning("unit not found, skipped", unit_id=unit_id, period=period)
            continue
        try:
            building = config.building(unit.building)
            bill = compute_bill(
                unit,
                has_elevator=building.has_elevator,
                fee_standard=config.fee_standard,
                period=period,
                calendar=config.billing,
                currency=config.currency,
                issued_at=now,
            )
        except (KeyError, ValueError):
            logger.exception("bill could not be computed", unit_id=unit_id, period=period)
            failed += 1
            continue
        if bills.create(bill):
            created += 1
        else:
            # Issued by an earlier run: use the stored bill so the notice says what was issued.
            stored = bills.get(bill.bill_id)
            if stored is None:
                failed += 1
                continue
            bill = stored
            existing += 1
        append(
            ledger.bill_entity(bill.bill_id),
            "issued",
            at=bill.issued_at,
            key="issued",
            data={
                "total_minor": bill.total_minor,
                "currency": bill.currency,
                "version": bill.fee_standard_version,
            },
        )
        if bill.is_open:
            notices.append(bill_notice(bill, pay_url=pay_url(bill)))
    outbox.send(notices)
    result = IssueResult(
        created=created, existing=existing, missing=len(unit_ids) - len(found), notices=len(notices)
    )
    logger.info(
        "bills issued",
        period=period,
        bills_created=result.created,
        bills_existing=result.existing,
        units_missing=result.missing,
        notices_queued=result.notices,
        units_failed=failed,
    )
    if failed:
        raise IssueFailed(f"{failed} units of the batch could not be billed")
    return result


def parse_issue_bills(body: str) -> IssueBills:
    data: Any = json.loads(body)
    return IssueBills.model_validate(data)
