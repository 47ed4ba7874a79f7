"""The notice cycle (F2): plan a period's bills in batches, then issue each batch.

The planner pages through the units and puts batches of unit ids on the notices queue. The
worker computes each unit's bill and issues it once (deterministic bill id; the batch's lease):
in batches when nothing pays it at issue (the bill and its charge entry, the account listing
it: ``store.issuing``), otherwise in one transaction (the bill, the account whose credit pays
it first, the ledger entries). It then queues a
``bill_notice`` whose message id is derived from the bill id, so the messenger sends it once
however often the batch is retried.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field

from propdesk.config import FeeStandard, PropertyConfig
from propdesk.domain.accounts import OpenBill, allocate
from propdesk.domain.billing import STATUS_OPEN, STATUS_PAID, Bill, compute_bill
from propdesk.domain.calendar import (
    PERIOD_PATTERN,
    next_to_notice,
    notice_date,
    parse_period,
)
from propdesk.messaging.requests import MESSAGES_QUEUE, MessageRequest
from propdesk.naming import NOTICES_QUEUE
from propdesk.payments.links import pay_links
from propdesk.queues import Producer, QueueProducer, batched
from propdesk.services.errors import DeskError
from propdesk.services.standards import standard_for
from propdesk.store import issuing, ledger
from propdesk.store.accounts import Account, AccountStore, Entry, Posting, PostResult
from propdesk.store.units import UnitRepository

logger = Logger(child=True)

BATCH_SIZE = 50  # units per message: their accounts and bills are one BatchGetItem (100 keys)
MAX_ATTEMPTS = 5
CREDIT_PAYMENT = "credit"  # a bill's payment_id when the account's credit paid it
ISSUE_BILLS = "issue_bills"


class IssueBills(BaseModel):
    """A notices-queue message: issue the bills of these units for this period."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(pattern=f"^{ISSUE_BILLS}$")
    period: str = Field(pattern=PERIOD_PATTERN)
    unit_ids: tuple[str, ...] = Field(min_length=1, max_length=100)


PayUrl = Callable[[Bill], str]


def plan_cycle(
    period: str,
    *,
    config: PropertyConfig,
    units: UnitRepository | None = None,
    batches: Producer | None = None,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Queue every unit of the property's buildings for ``period``'s bills, ``batch_size`` unit
    ids per message (the ids come from the building index: no Scan). Safe to run twice: the
    worker's writes are conditional and its notices deduplicated."""
    parse_period(period)
    units = units or UnitRepository()
    batches = batches or QueueProducer(NOTICES_QUEUE)
    count = sent = 0
    for page in batched(units.ids(b.code for b in config.buildings), batch_size):
        batches.send([IssueBills(kind=ISSUE_BILLS, period=period, unit_ids=page)])
        count += len(page)
        sent += 1
    logger.info("notice cycle planned", period=period, units=count, batches=sent)
    return sent


BACKDATED = "backdated"  # the word an admin types to issue a period out of turn


@dataclass(frozen=True)
class OutOfTurn:
    """Why an admin issues a period other than the next one (kept in the ledger)."""

    reason: str
    staff_id: str


def standard_in_force(period: str, config: PropertyConfig) -> FeeStandard:
    """The fee standard a period is billed under: the version in force on its first day. None in
    force: ``DeskError`` 409, nothing is billed."""
    standard = standard_for(period, config)
    if standard is None:
        first = config.fee_standard
        raise DeskError(
            409,
            "no_fee_standard",
            f"No fee standard is in force for {period}: the first, {first.version}, takes effect on "
            f"{first.effective_from.isoformat()}. A period without one cannot be billed.",
        )
    return standard


def check_cycle(
    period: str,
    *,
    config: PropertyConfig,
    today: date,
    out_of_turn: OutOfTurn | None = None,
    now: datetime,
) -> FeeStandard:
    """Refuse a cycle that must not go out (``DeskError``): a period with no fee standard in force
    (the version in force takes effect on or before the period's first day), or a period other
    than the next one (``next_to_notice``) without an admin's reason and the word "backdated".
    A period issued out of turn is written to the ledger with who and why. The standard in
    force for the period is the answer."""
    standard = standard_in_force(period, config)
    expected = next_to_notice(today, config.billing)
    if period == expected:
        return standard
    if out_of_turn is None:
        raise DeskError(
            409,
            "not_the_next_period",
            f"Only {expected} can be issued now (its notice day was "
            f"{notice_date(expected, config.billing).isoformat()}). To issue {period} anyway, send "
            f'a reason and "confirm": "{BACKDATED}".',
        )
    ledger.append(
        ledger.cycle_entity(period),
        "issued_out_of_turn",
        at=now,
        key=f"out_of_turn#{now.isoformat()}#{out_of_turn.staff_id}",
        data={"staff_id": out_of_turn.staff_id, "reason": out_of_turn.reason, "next_period": expected},
    )
    logger.warning(
        "cycle issued out of turn", period=period, next_period=expected, staff_id=out_of_turn.staff_id
    )
    return standard


@dataclass(frozen=True)
class IssueResult:
    created: int = 0
    existing: int = 0
    missing: int = 0
    notices: int = 0


class IssueFailed(RuntimeError):
    """Some units of a batch could not be billed; the batch is retried (the rest are no-ops)."""


def bill_notice(bill: Bill, *, pay_url: str) -> MessageRequest:
    """The owner's notice: the bill's lines, and what is left to pay once the account's credit
    has been applied to it."""
    credit_applied = bill.paid_minor if bill.payment_id == CREDIT_PAYMENT else 0
    return MessageRequest(
        message_id=f"bill_notice#{bill.bill_id}",
        template="bill_notice",
        owner_id=bill.owner_id,
        while_issued=bill.bill_id,  # voided before it went (its cycle withdrawn): not sent
        context={
            "bill_id": bill.bill_id,
            "unit_id": bill.unit_id,
            "period": bill.period,
            "lines": [{"code": line.code, "amount_minor": line.amount_minor} for line in bill.lines],
            "total_minor": bill.total_minor,
            "credit_applied_minor": credit_applied,
            "due_minor": bill.total_minor - bill.paid_minor,
            "currency": bill.currency,
            "due_date": bill.due_date.isoformat(),
            "pay_url": pay_url,
            "fee_standard_version": bill.fee_standard_version,
        },
    )


def issuance(bill: Bill, account: Account | None, *, owner_id: str, now: datetime) -> Posting:
    """Pure: the posting that issues ``bill`` on its unit's account. The account's credit pays
    it first (F4: an overpayment is used by the next bill); what is left stays open."""
    account = account or Account(bill.unit_id, owner_id=owner_id, currency=bill.currency)
    plan = allocate(account.credit_minor, [OpenBill(bill.bill_id, bill.period, bill.total_minor)])
    used = plan.allocated_minor
    if used:
        settled = used >= bill.total_minor
        bill = replace(
            bill,
            paid_minor=used,
            status=STATUS_PAID if settled else STATUS_OPEN,
            paid_at=now if settled else None,
            payment_id=CREDIT_PAYMENT,
        )
    entity = ledger.account_entity(bill.unit_id)
    common = {"bill_id": bill.bill_id, "currency": bill.currency}
    entries = [
        Entry(
            ledger.bill_entity(bill.bill_id),
            "issued",
            "issued",
            bill.issued_at,
            {
                "total_minor": bill.total_minor,
                "currency": bill.currency,
                "version": bill.fee_standard_version,
            },
        ),
        Entry(
            entity,
            f"charge#{bill.bill_id}",
            "charge",
            bill.issued_at,
            {**common, "amount_minor": bill.total_minor},
        ),
    ]
    if used:
        data = {**common, "amount_minor": used, "credit_before_minor": account.credit_minor}
        entries.append(Entry(entity, f"credit_applied#{bill.bill_id}", "credit_applied", now, data))
        entries.append(Entry(ledger.bill_entity(bill.bill_id), "paid#credit", "paid", now, data))
    new_account = replace(
        account,
        owner_id=owner_id,
        credit_minor=account.credit_minor - used,
        open_bill_ids=(*account.open_bill_ids, bill.bill_id) if bill.is_open else account.open_bill_ids,
        # The charge written with this posting is reflected in the account (``with_new_bills``).
        charges_seen=account.charges_seen + 1,
        charges_through=max(account.charges_through, f"charge#{bill.bill_id}"),
    )
    return Posting(account=new_account, new_bills=(bill,), entries=tuple(entries))


def batchable(bill: Bill, account: Account | None) -> bool:
    """Whether ``bill`` can be issued on the batch path: nothing pays it at issue (the account
    exists, holds no credit and names the bill's owner). Anything else is a posting."""
    return (
        account is not None
        and account.credit_minor == 0
        and account.owner_id == bill.owner_id
        and account.currency == bill.currency
    )


def _issue(
    computed: dict[str, Bill], *, accounts: AccountStore, now: datetime, max_attempts: int
) -> tuple[int, int, int, list[Bill]]:
    """Issue the computed bills not issued yet (the caller holds the batch's lease): bills no
    credit pays are written in batches (``store.issuing``), the others posted one transaction
    each. Returns (created, existing, failed, issued bills)."""
    stored_accounts, stored_bills = accounts.accounts_and_bills(
        computed, [bill.bill_id for bill in computed.values()]
    )
    created = existing = failed = 0
    issued: list[Bill] = []
    batch: list[Bill] = []
    found: list[Bill] = []
    for unit_id, bill in computed.items():
        account = stored_accounts.get(unit_id)
        stored = stored_bills.get(bill.bill_id)
        for _ in range(max_attempts):
            if stored is not None:
                existing += 1  # issued by an earlier run: its notice says what was issued then
                found.append(stored)
                break
            if batchable(bill, account):
                batch.append(bill)
                break
            posting = issuance(bill, account, owner_id=bill.owner_id, now=now)
            if accounts.post(posting, now=now) is PostResult.POSTED:
                created += 1
                issued.append(posting.new_bills[0])
                break
            # Another run issued it, or a payment moved the account meanwhile: read both again.
            more_accounts, more_bills = accounts.accounts_and_bills([unit_id], [bill.bill_id])
            account, stored = more_accounts.get(unit_id), more_bills.get(bill.bill_id)
        else:
            logger.error("bill not issued: its account kept changing", unit_id=unit_id, period=bill.period)
            failed += 1
    issuing.write_bills(batch)
    # A run that stopped between a batch's bills and their entries: the entries again (the same).
    issuing.write_charges(found)
    return created + len(batch), existing, failed, [*found, *issued, *batch]


def issue_bills(
    period: str,
    unit_ids: Sequence[str],
    *,
    config: PropertyConfig,
    now: datetime,
    units: UnitRepository | None = None,
    accounts: AccountStore | None = None,
    outbox: Producer | None = None,
    pay_url: PayUrl | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> IssueResult:
    """Issue the bills of ``unit_ids`` for ``period`` on their accounts and queue their notices.

    Under the batch's lease (``store.issuing``), one BatchGetItem reads the batch's accounts and
    any bills already issued. A new bill nothing pays is written with its one ledger entry (the
    account's charge) in BatchWriteItems, and its account is not written (readers find the bill
    by its charge: ``AccountStore.with_new_bills``); any other (a first bill, credit on the
    account, a new owner) is one transaction: the bill, its account (credit applied, the bill
    listed as open) and the ledger entries. A bill issued already (a rerun) is left as it
    is and its notice queued again under the same id (the messenger sends it once)."""
    units = units or UnitRepository()
    accounts = accounts or AccountStore()
    outbox = outbox or QueueProducer(MESSAGES_QUEUE)
    pay_url = pay_url or pay_links().url

    standard = standard_in_force(period, config)
    found = units.get_many(unit_ids)
    computed: dict[str, Bill] = {}
    failed = 0
    for unit_id in unit_ids:
        unit = found.get(unit_id)
        if unit is None:
            # Removed since the plan: nothing to bill, and retrying would not help.
            logger.warning("unit not found, skipped", unit_id=unit_id, period=period)
            continue
        try:
            building = config.building(unit.building)
            computed[unit_id] = compute_bill(
                unit,
                has_elevator=building.has_elevator,
                fee_standard=standard,
                period=period,
                calendar=config.billing,
                currency=config.currency,
                issued_at=now,
            )
        except (KeyError, ValueError):
            logger.exception("bill could not be computed", unit_id=unit_id, period=period)
            failed += 1

    lease = issuing.lease_name(period, unit_ids)
    token = issuing.take_lease(lease, now=now)  # a copy of this batch running: BatchInFlight, retried
    try:
        created, existing, not_issued, issued = _issue(
            computed, accounts=accounts, now=now, max_attempts=max_attempts
        )
    finally:
        issuing.give_back(lease, token)
    failed += not_issued

    notices = [bill_notice(bill, pay_url=pay_url(bill)) for bill in issued]
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
