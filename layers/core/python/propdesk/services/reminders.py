"""The pre-due reminder (F3): ``reminder_offset_days`` before a period's due date, every owner
whose bill still owes gets a friendly reminder; an owner who has paid gets nothing.

The daily ``overdue`` run calls ``run_pre_due`` first. The bills are the open ones due on that
date (the status/due-date index: never a scan). Each reminder has a deterministic id
(``pre_due_reminder#<bill>``), so a double fire or a rerun queues one the messenger sends once,
and it carries ``while_unpaid``: a bill paid between this run and the send is not reminded
(RELIABILITY 34). A unit on bank direct debit or card autopay is not asked to pay: its bill is
collected on the due date (and card autopay sends its own notice). An owner no message can
reach (no e-mail address, no phone that may take an SMS) goes on the period's call list
(``services.calls``) instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from aws_lambda_powertools import Logger

from propdesk.config import PropertyConfig
from propdesk.domain.billing import Bill
from propdesk.domain.calendar import period_of, reminder_date
from propdesk.messaging.requests import MESSAGES_QUEUE, MessageRequest
from propdesk.payments.links import pay_links
from propdesk.queues import Producer, QueueProducer
from propdesk.services import calls
from propdesk.store.bills import BillRepository
from propdesk.store.mandates import CARD, DEBIT, MandateRepository
from propdesk.store.owners import OwnerRepository

logger = Logger(child=True)

TEMPLATE = "pre_due_reminder"


@dataclass(frozen=True)
class PreDueResult:
    period: str | None  # None: today is no period's reminder day
    reminded: int = 0
    to_call: int = 0


def reminder_period(today: date, config: PropertyConfig) -> str | None:
    """The period whose pre-due reminder day is ``today``, if any."""
    candidate = period_of(today + timedelta(days=config.billing.reminder_offset_days))
    return candidate if reminder_date(candidate, config.billing) == today else None


def reminder_message(
    bill: Bill, *, pay_url: str, template: str = TEMPLATE, message_id: str | None = None, **extra: Any
) -> MessageRequest:
    """A reminder of what ``bill`` still owes, sent only while it does (``while_unpaid``): the
    pre-due one, and (with its template, id and step) each overdue ladder step's."""
    return MessageRequest(
        message_id=message_id or f"{template}#{bill.bill_id}",
        template=template,  # type: ignore[arg-type]
        owner_id=bill.owner_id,
        context={
            "bill_id": bill.bill_id,
            "unit_id": bill.unit_id,
            "period": bill.period,
            "total_minor": bill.total_minor - bill.paid_minor,
            "currency": bill.currency,
            "due_date": bill.due_date.isoformat(),
            "pay_url": pay_url,
            **extra,
        },
        while_unpaid=bill.bill_id,  # paid before it goes: not sent (RELIABILITY 34)
    )


def collected_automatically(config: PropertyConfig, mandates: MandateRepository) -> set[str]:
    """Units whose bills the bank or the card collects on the due date (the mandates in force:
    the sparse active index, one query per kind the property offers)."""
    kinds = ([DEBIT] if config.payment.direct_debit else []) + ([CARD] if config.payment.card_autopay else [])
    return {mandate.unit_id for kind in kinds for mandate in mandates.active(kind)}


def run_pre_due(
    today: date,
    *,
    config: PropertyConfig,
    now: datetime,
    bills: BillRepository | None = None,
    outbox: Producer | None = None,
    pay_url: Callable[[Bill], str] | None = None,
    mandates: MandateRepository | None = None,
    owners: OwnerRepository | None = None,
) -> PreDueResult:
    period = reminder_period(today, config)
    if period is None:
        return PreDueResult(period=None)
    bills = bills or BillRepository()
    outbox = outbox or QueueProducer(MESSAGES_QUEUE)
    if pay_url is None:
        pay_url = partial(pay_links().url, now=now)
    due_on = today + timedelta(days=config.billing.reminder_offset_days)
    collected = collected_automatically(config, mandates or MandateRepository())
    owing = [
        bill
        for bill in bills.open_due_on(due_on)
        if bill.total_minor > bill.paid_minor and bill.unit_id not in collected
    ]
    contacts = (owners or OwnerRepository()).get_many({bill.owner_id for bill in owing if bill.owner_id})
    by_message: list[Bill] = []
    by_call: list[Bill] = []
    for bill in owing:
        (by_message if calls.reachable(contacts.get(bill.owner_id)) else by_call).append(bill)
    outbox.send([reminder_message(bill, pay_url=pay_url(bill)) for bill in by_message])
    to_call = calls.make_call_list(period, by_call, contacts, now=now) if by_call else 0
    logger.info("pre-due reminders queued", period=period, reminded=len(by_message), to_call=to_call)
    return PreDueResult(period=period, reminded=len(by_message), to_call=to_call)
