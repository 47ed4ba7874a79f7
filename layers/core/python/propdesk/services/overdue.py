"""The daily dunning run (F6): for each open bill past its due date, the next ladder step.

Open past-due bills come from the status/due-date index (never a scan). A step queues its
message under a deterministic id (``<template>#<bill_id>#<step>``) and then records
``reminder#<step>`` on the bill's ledger, so a double fire or a rerun after a crash sends
nothing twice: the messenger drops a repeated id, and a recorded step is not taken again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial

from aws_lambda_powertools import Logger

from propdesk.config import PropertyConfig
from propdesk.domain.billing import Bill
from propdesk.domain.overdue import LadderStep, days_overdue, next_step, step_key
from propdesk.messaging.requests import MESSAGES_QUEUE, MessageRequest
from propdesk.payments.links import pay_links
from propdesk.queues import Producer, QueueProducer
from propdesk.services.reminders import reminder_message
from propdesk.store import ledger
from propdesk.store.bills import BillRepository
from propdesk.store.payments import PaymentRepository

logger = Logger(child=True)


@dataclass(frozen=True)
class LadderResult:
    open_past_due: int = 0
    steps_taken: int = 0


def step_message(bill: Bill, step: LadderStep, *, today: date, pay_url: str) -> MessageRequest:
    return reminder_message(
        bill,
        pay_url=pay_url,
        template=step.template,
        message_id=f"{step.template}#{bill.bill_id}#{step.number}",
        days_overdue=days_overdue(bill.due_date, today),
        step=step.number,
    )


def run_ladder(
    today: date,
    *,
    config: PropertyConfig,
    now: datetime,
    bills: BillRepository | None = None,
    payments: PaymentRepository | None = None,
    outbox: Producer | None = None,
    pay_url: Callable[[Bill], str] | None = None,
    append: Callable[..., bool] = ledger.append,
) -> LadderResult:
    bills = bills or BillRepository()
    payments = payments or PaymentRepository()
    outbox = outbox or QueueProducer(MESSAGES_QUEUE)
    if pay_url is None:
        # A reminder's link keeps the bill's expiry, renewed when it is about to run out.
        pay_url = partial(pay_links().url, now=now)

    # Units with a payment in the staff queue: the owner paid something staff have yet to place,
    # so the ladder waits for them (one query of the queue, which is short).
    under_review = {p.unit_id for p in payments.waiting_for_staff() if p.unit_id}
    due: list[tuple[Bill, LadderStep]] = []
    count = 0
    for bill in bills.open_due_before(today):
        count += 1
        keys = bills.ledger_keys(bill.bill_id)
        done = {int(key.split("#", 1)[1]) for key in keys if key.startswith("reminder#")}
        step = next_step(bill, today, done, payment_under_review=bill.unit_id in under_review)
        if step is not None:
            due.append((bill, step))
    # Queue first, record second: a crash in between only re-queues an id the messenger drops.
    outbox.send([step_message(bill, step, today=today, pay_url=pay_url(bill)) for bill, step in due])
    for bill, step in due:
        append(
            ledger.bill_entity(bill.bill_id),
            step.kind,
            at=now,
            key=step_key(step),
            data={"step": step.number, "days_overdue": days_overdue(bill.due_date, today)},
        )
    result = LadderResult(open_past_due=count, steps_taken=len(due))
    logger.info("overdue ladder run", today=today.isoformat(), open_past_due=count, steps_taken=len(due))
    return result
