"""Billing cycles a manager reviews before anything leaves (F2).

A cycle is *prepared* as a draft: the planner puts the period's units on the notices queue in
batches, and the worker computes each batch's bills without writing any, tallying the totals
per building and the exceptions a manager should see before approving (an owner no message can
reach, a credit that covers the whole bill, a unit whose bill cannot be computed). When the last
batch is tallied the cycle is a ``draft``; a manager reads it (``summary``) and *approves* it,
which issues the bills and their notices (``notices.plan_cycle``), or the property's config
approves it by itself (``billing.auto_issue``). Before any owner has paid a bill of it, a cycle
can be *voided* with a reason: its bills are voided on their accounts (credit that paid one goes
back to the account) and each owner is told.

Only the next period can be prepared, on or after its notice day; any other needs an admin's
reason and the word "backdated" (``notices.check_cycle``), and a period with no fee standard in
force is never prepared. Every step is in the ledger under ``cycle#<period>``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field

from propdesk.config import PropertyConfig
from propdesk.domain.billing import STATUS_VOID, Bill, bill_id_for, compute_bill
from propdesk.domain.calendar import PERIOD_PATTERN, next_to_notice, period_noticed_on
from propdesk.messaging.requests import MESSAGES_QUEUE, MessageRequest
from propdesk.naming import NOTICES_QUEUE
from propdesk.queues import Producer, QueueProducer, batched
from propdesk.services.calls import reachable
from propdesk.services.errors import DeskError
from propdesk.services.notices import (
    BATCH_SIZE,
    CREDIT_PAYMENT,
    IssueBills,
    IssueResult,
    OutOfTurn,
    check_cycle,
    issue_bills,
    plan_cycle,
    standard_in_force,
)
from propdesk.store import ledger
from propdesk.store.accounts import AccountStore, Entry, Posting, PostResult
from propdesk.store.cycles import APPROVED, DRAFT, PREPARING, VOIDED, CycleHeader, CycleRepository
from propdesk.store.owners import OwnerRepository
from propdesk.store.units import UnitRepository

logger = Logger(child=True)

TALLY_BILLS = "tally_bills"
VOID_BILLS = "void_bills"
SYSTEM = "system"  # who approves a cycle the config issues by itself
MAX_ATTEMPTS = 5

# Exceptions a draft lists, for the manager to look at before approving.
NO_CONTACT = "no_contact"  # no e-mail and no phone that may take an SMS: the notice reaches no one
CREDIT_COVERS = "credit_covers"  # the account's credit pays the whole bill: the notice asks nothing
NOT_COMPUTABLE = "not_computable"  # the unit's data cannot be billed (area, building)
UNIT_MISSING = "unit_missing"  # listed by the index, gone when the batch read it


class TallyBills(BaseModel):
    """A notices-queue message: compute (not write) these units' bills for a draft cycle."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(pattern=f"^{TALLY_BILLS}$")
    period: str = Field(pattern=PERIOD_PATTERN)
    batch: int = Field(ge=1)
    unit_ids: tuple[str, ...] = Field(min_length=1, max_length=100)


class VoidBills(BaseModel):
    """A notices-queue message: void these units' bills of a voided cycle and tell their owners."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(pattern=f"^{VOID_BILLS}$")
    period: str = Field(pattern=PERIOD_PATTERN)
    unit_ids: tuple[str, ...] = Field(min_length=1, max_length=100)


@dataclass(frozen=True)
class Finding:
    unit_id: str
    kind: str
    amount_minor: int | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"unit_id": self.unit_id, "kind": self.kind}
        if self.amount_minor is not None:
            data["amount_minor"] = self.amount_minor
        return data


@dataclass(frozen=True)
class Summary:
    """What a manager reviews: the cycle's state and the draft's totals and exceptions."""

    header: CycleHeader
    batches_done: int
    bills: int
    total_minor: int
    by_building: dict[str, dict[str, int]]
    exceptions: list[dict[str, Any]]


def _state_error(header: CycleHeader | None, period: str, wanted: str) -> DeskError:
    if header is None:
        return DeskError(404, "no_cycle", f"No cycle has been prepared for {period}.")
    who = header.data.get("approved_by") or header.data.get("voided_by")
    messages = {
        PREPARING: f"The {period} cycle is still being prepared "
        f"({len(header.batches_done)} of {header.batches} batches computed); try again in a minute.",
        APPROVED: f"The {period} cycle was approved already (by {who}); its bills are issued.",
        VOIDED: f"The {period} cycle was voided (by {who}): {header.data.get('void_reason', '')}",
        DRAFT: f"The {period} cycle is a draft waiting for approval.",
    }
    codes = {PREPARING: "cycle_preparing", APPROVED: "cycle_approved", VOIDED: "cycle_voided"}
    return DeskError(
        409, codes.get(header.state, "cycle_draft"), f"Cannot {wanted}: {messages[header.state]}"
    )


def prepare_cycle(
    period: str,
    *,
    config: PropertyConfig,
    today: date,
    now: datetime,
    staff_id: str,
    out_of_turn: OutOfTurn | None = None,
    units: UnitRepository | None = None,
    batches: Producer | None = None,
    repo: CycleRepository | None = None,
) -> CycleHeader:
    """Prepare ``period``'s draft: refuse a period out of turn or with no standard in force
    (``DeskError``), write the header, and queue the batches that compute it. A cycle still being
    prepared (a run cut short) is resumed: its batches are queued again and tally the same."""
    standard = check_cycle(period, config=config, today=today, out_of_turn=out_of_turn, now=now)
    repo = repo or CycleRepository()
    units = units or UnitRepository()
    batches = batches or QueueProducer(NOTICES_QUEUE)
    existing = repo.header(period)
    if existing is not None and existing.state != PREPARING:
        raise _state_error(existing, period, "prepare it again")
    pages = list(batched(units.ids(b.code for b in config.buildings), BATCH_SIZE))
    data = {
        "period": period,
        "fee_standard_version": standard.version,
        "prepared_by": staff_id,
        "prepared_at": now.isoformat(),
        "batches": len(pages),
        "units": sum(len(page) for page in pages),
        "out_of_turn_reason": out_of_turn.reason if out_of_turn else None,
    }
    if existing is None:
        if not repo.create(period, data, now=now):
            raise _state_error(repo.header(period), period, "prepare it again")
        ledger.append(
            ledger.cycle_entity(period),
            "prepared",
            at=now,
            key="prepared",
            data={k: data[k] for k in ("prepared_by", "fee_standard_version", "units")},
        )
    elif existing.batches != len(pages):
        repo.move(period, from_state=PREPARING, to_state=PREPARING, data=data, now=now)
    batches.send(
        [
            TallyBills(kind=TALLY_BILLS, period=period, batch=number, unit_ids=page)
            for number, page in enumerate(pages, start=1)
        ]
    )
    logger.info("cycle prepared", period=period, units=data["units"], batches=data["batches"])
    header = repo.header(period)
    assert header is not None
    if not pages:  # a property with no units: nothing to tally, the draft is ready at once
        _finish_draft(header, config=config, now=now, repo=repo, batches=batches)
    return header


@dataclass(frozen=True)
class PlanResult:
    period: str | None  # None: today is no period's notice day
    units: int = 0
    batches: int = 0
    state: str | None = None


OPERATOR = "operator"  # who forces a period through the schedule's event (the function's console)


def run_notice_day(
    today: date,
    *,
    config: PropertyConfig,
    now: datetime,
    period: str | None = None,
    units: UnitRepository | None = None,
    batches: Producer | None = None,
    repo: CycleRepository | None = None,
) -> PlanResult:
    """The daily scheduled run: on a period's notice day, prepare its draft (issued at once when
    the config says so); on any other day do nothing. An operator may force a ``period`` through
    the event; one out of turn is kept in the ledger like an admin's. A second run on the same
    day finds the cycle prepared and changes nothing."""
    target = period or period_noticed_on(today, config.billing)
    if target is None:
        logger.info("not a notice day", today=today.isoformat())
        return PlanResult(period=None)
    repo = repo or CycleRepository()
    existing = repo.header(target)
    if existing is not None and existing.state != PREPARING:
        logger.info("cycle prepared already", period=target, state=existing.state)
        return PlanResult(
            period=target,
            units=int(existing.data.get("units", 0)),
            batches=existing.batches,
            state=existing.state,
        )
    out_of_turn = None
    if period is not None and period != next_to_notice(today, config.billing):
        out_of_turn = OutOfTurn(reason="forced through the notice run's event", staff_id=OPERATOR)
    header = prepare_cycle(
        target,
        config=config,
        today=today,
        now=now,
        staff_id=OPERATOR if period else SYSTEM,
        out_of_turn=out_of_turn,
        units=units,
        batches=batches,
        repo=repo,
    )
    return PlanResult(
        period=target, units=int(header.data["units"]), batches=header.batches, state=header.state
    )


def issue_approved(
    request: IssueBills,
    *,
    config: PropertyConfig,
    now: datetime,
    repo: CycleRepository | None = None,
) -> IssueResult | None:
    """Issue a batch of an approved cycle; a batch of a cycle not approved (voided meanwhile,
    or never approved) issues nothing. None: skipped."""
    header = (repo or CycleRepository()).header(request.period)
    if header is None or header.state != APPROVED:
        logger.warning(
            "issue batch skipped: its cycle is not approved",
            period=request.period,
            state=header.state if header else None,
        )
        return None
    return issue_bills(request.period, request.unit_ids, config=config, now=now)


def tally_batch(
    request: TallyBills,
    *,
    config: PropertyConfig,
    now: datetime,
    units: UnitRepository | None = None,
    owners: OwnerRepository | None = None,
    accounts: AccountStore | None = None,
    repo: CycleRepository | None = None,
    batches: Producer | None = None,
) -> CycleHeader:
    """Compute one batch's bills (writing none), store its tally, and when it was the last batch
    make the cycle a draft (approved at once if the config issues by itself)."""
    repo = repo or CycleRepository()
    units = units or UnitRepository()
    owners = owners or OwnerRepository()
    accounts = accounts or AccountStore()
    header = repo.header(request.period)
    if header is None or header.state != PREPARING:
        logger.info("tally skipped: the cycle is not being prepared", period=request.period)
        return header or CycleHeader(request.period, VOIDED, {})
    standard = standard_in_force(request.period, config)
    found = units.get_many(request.unit_ids)
    people = owners.get_many({unit.owner_id for unit in found.values()})
    held = accounts.get_many(found)
    by_building: dict[str, dict[str, int]] = defaultdict(lambda: {"bills": 0, "total_minor": 0})
    exceptions: list[Finding] = []
    for unit_id in request.unit_ids:
        unit = found.get(unit_id)
        if unit is None:
            exceptions.append(Finding(unit_id, UNIT_MISSING))
            continue
        try:
            bill = compute_bill(
                unit,
                has_elevator=config.building(unit.building).has_elevator,
                fee_standard=standard,
                period=request.period,
                calendar=config.billing,
                currency=config.currency,
                issued_at=now,
            )
        except (KeyError, ValueError):
            exceptions.append(Finding(unit_id, NOT_COMPUTABLE))
            continue
        totals = by_building[unit.building]
        totals["bills"] += 1
        totals["total_minor"] += bill.total_minor
        if not reachable(people.get(unit.owner_id)):
            exceptions.append(Finding(unit_id, NO_CONTACT))
        account = held.get(unit_id)
        if account is not None and account.credit_minor >= bill.total_minor > 0:
            exceptions.append(Finding(unit_id, CREDIT_COVERS, account.credit_minor))
    tally = {
        "batch": request.batch,
        "units": len(request.unit_ids),
        "by_building": dict(by_building),
        "exceptions": [e.as_json() for e in exceptions],
    }
    header = repo.put_tally(request.period, request.batch, tally, now=now)
    if header.tallied and header.state == PREPARING:
        header = _finish_draft(header, config=config, now=now, repo=repo, batches=batches)
    return header


def _finish_draft(
    header: CycleHeader,
    *,
    config: PropertyConfig,
    now: datetime,
    repo: CycleRepository,
    batches: Producer | None,
) -> CycleHeader:
    if repo.move(header.period, from_state=PREPARING, to_state=DRAFT, data=header.data, now=now):
        logger.info("cycle draft ready", period=header.period)
        ledger.append(ledger.cycle_entity(header.period), "draft_ready", at=now, key="draft_ready")
    if config.billing.auto_issue:
        try:
            return approve_cycle(
                header.period, config=config, staff_id=SYSTEM, now=now, repo=repo, batches=batches
            )
        except DeskError as error:  # approved by a manager meanwhile: nothing more to do
            logger.info("cycle not auto-issued", period=header.period, reason=error.code)
    return repo.header(header.period) or header


def summary(period: str, *, repo: CycleRepository | None = None) -> Summary:
    """The cycle's header with the draft's totals per building and its exceptions."""
    repo = repo or CycleRepository()
    header = repo.header(period)
    if header is None:
        raise _state_error(None, period, "show it")
    by_building: dict[str, dict[str, int]] = defaultdict(lambda: {"bills": 0, "total_minor": 0})
    exceptions: list[dict[str, Any]] = []
    for tally in repo.tallies(period):
        for code, totals in tally["by_building"].items():
            by_building[code]["bills"] += totals["bills"]
            by_building[code]["total_minor"] += totals["total_minor"]
        exceptions.extend(tally["exceptions"])
    exceptions.sort(key=lambda e: (e["kind"], e["unit_id"]))
    return Summary(
        header=header,
        batches_done=len(header.batches_done),
        bills=sum(t["bills"] for t in by_building.values()),
        total_minor=sum(t["total_minor"] for t in by_building.values()),
        by_building=dict(sorted(by_building.items())),
        exceptions=exceptions,
    )


def approve_cycle(
    period: str,
    *,
    config: PropertyConfig,
    staff_id: str,
    now: datetime,
    repo: CycleRepository | None = None,
    batches: Producer | None = None,
) -> CycleHeader:
    """Approve the draft and issue its bills and notices. Approving twice, a cycle still being
    prepared, a voided one, or a draft computed under a standard no longer in force for the
    period: ``DeskError`` 409, nothing changes."""
    repo = repo or CycleRepository()
    header = repo.header(period)
    if header is None or header.state != DRAFT:
        raise _state_error(header, period, "approve it")
    standard = standard_in_force(period, config)
    if standard.version != header.data.get("fee_standard_version"):
        raise DeskError(
            409,
            "standard_changed",
            f"The draft was computed under {header.data.get('fee_standard_version')}, but "
            f"{standard.version} is in force for {period} now. Void the draft and prepare it again.",
        )
    data = {**header.data, "approved_by": staff_id, "approved_at": now.isoformat()}
    if not repo.move(period, from_state=DRAFT, to_state=APPROVED, data=data, now=now):
        raise _state_error(repo.header(period), period, "approve it")
    ledger.append(
        ledger.cycle_entity(period), "approved", at=now, key="approved", data={"staff_id": staff_id}
    )
    plan_cycle(period, config=config, batches=batches)
    logger.info("cycle approved and issued", period=period, auto=staff_id == SYSTEM)
    approved = repo.header(period)
    assert approved is not None
    return approved


def void_cycle(
    period: str,
    *,
    config: PropertyConfig,
    staff_id: str,
    reason: str,
    now: datetime,
    units: UnitRepository | None = None,
    accounts: AccountStore | None = None,
    repo: CycleRepository | None = None,
    batches: Producer | None = None,
) -> CycleHeader:
    """Void a cycle before any payment is allocated to it. A draft is simply voided (no owner was
    told of it); an approved cycle's bills are voided batch by batch and their owners told. A
    bill an owner has paid (in part or whole, by any payment but the account's own credit)
    refuses the whole void: 409 ``payments_allocated``, nothing changes."""
    repo = repo or CycleRepository()
    units = units or UnitRepository()
    accounts = accounts or AccountStore()
    batches = batches or QueueProducer(NOTICES_QUEUE)
    header = repo.header(period)
    if header is None or header.state not in (PREPARING, DRAFT, APPROVED):
        raise _state_error(header, period, "void it")
    pages = list(batched(units.ids(b.code for b in config.buildings), BATCH_SIZE))
    if header.state == APPROVED:
        paid = [
            bill.bill_id
            for page in pages
            for bill in accounts.accounts_and_bills([], [bill_id_for(u, period) for u in page])[1].values()
            if paid_by_owner(bill)
        ]
        if paid:
            raise DeskError(
                409,
                "payments_allocated",
                f"{len(paid)} bill(s) of {period} have payments allocated (e.g. {', '.join(sorted(paid)[:3])}); "
                "a cycle can be voided only before any payment. Refund or correct those bills instead.",
            )
    data = {**header.data, "voided_by": staff_id, "voided_at": now.isoformat(), "void_reason": reason}
    if not repo.move(period, from_state=header.state, to_state=VOIDED, data=data, now=now):
        raise _state_error(repo.header(period), period, "void it")
    ledger.append(
        ledger.cycle_entity(period),
        "voided",
        at=now,
        key="voided",
        data={"staff_id": staff_id, "reason": reason, "was": header.state},
    )
    if header.state == APPROVED:
        batches.send([VoidBills(kind=VOID_BILLS, period=period, unit_ids=page) for page in pages])
    logger.info("cycle voided", period=period, was=header.state)
    voided = repo.header(period)
    assert voided is not None
    return voided


def paid_by_owner(bill: Bill) -> bool:
    """Whether a payment of the owner's (not the account's own credit) is allocated to ``bill``."""
    return bill.paid_minor > 0 and bill.payment_id != CREDIT_PAYMENT


@dataclass(frozen=True)
class VoidResult:
    voided: int = 0
    kept: int = 0  # paid by the owner meanwhile: left as it is, for staff


def voiding(bill: Bill, account: Any, *, reason: str, now: datetime) -> Posting:
    """Pure: the posting that voids ``bill`` on its account. Credit that paid it goes back."""
    returned = bill.paid_minor if bill.payment_id == CREDIT_PAYMENT else 0
    void = replace(bill, status=STATUS_VOID, paid_minor=0, paid_at=None, payment_id=None)
    new_account = replace(
        account,
        credit_minor=account.credit_minor + returned,
        open_bill_ids=tuple(b for b in account.open_bill_ids if b != bill.bill_id),
    )
    data = {
        "bill_id": bill.bill_id,
        "amount_minor": bill.total_minor,
        "currency": bill.currency,
        "reason": reason,
    }
    entries = [Entry(ledger.bill_entity(bill.bill_id), "voided", "voided", now, data)]
    entries.append(
        Entry(ledger.account_entity(bill.unit_id), f"void#{bill.bill_id}", "charge_voided", now, data)
    )
    if returned:
        credit = {**data, "amount_minor": returned}
        entries.append(
            Entry(
                ledger.account_entity(bill.unit_id),
                f"credit_returned#{bill.bill_id}",
                "credit_returned",
                now,
                credit,
            )
        )
    return Posting(account=new_account, changed_bills=(void,), entries=tuple(entries))


def void_notice(bill: Bill, *, reason: str) -> MessageRequest:
    return MessageRequest(
        message_id=f"bill_voided#{bill.bill_id}",
        template="bill_voided",
        owner_id=bill.owner_id,
        context={
            "bill_id": bill.bill_id,
            "unit_id": bill.unit_id,
            "period": bill.period,
            "total_minor": bill.total_minor,
            "currency": bill.currency,
            "reason": reason,
        },
    )


def void_bills(
    request: VoidBills,
    *,
    now: datetime,
    accounts: AccountStore | None = None,
    repo: CycleRepository | None = None,
    outbox: Producer | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> VoidResult:
    """Void one batch's bills of a voided cycle, each on its account in one transaction, and queue
    each owner's message (once: its id is the bill's). A bill paid by its owner meanwhile is kept
    and logged for staff; a bill voided already (a retry) is told about again under the same id."""
    repo = repo or CycleRepository()
    accounts = accounts or AccountStore()
    outbox = outbox or QueueProducer(MESSAGES_QUEUE)
    header = repo.header(request.period)
    reason = str((header.data if header else {}).get("void_reason", ""))
    voided: list[Bill] = []
    kept = 0
    for unit_id in request.unit_ids:
        bill_id = bill_id_for(unit_id, request.period)
        for _ in range(max_attempts):
            held, bills = accounts.accounts_and_bills([unit_id], [bill_id])
            bill, account = bills.get(bill_id), held.get(unit_id)
            if bill is None or account is None:
                break  # never issued to this unit
            if bill.status == STATUS_VOID:
                voided.append(bill)
                break
            if paid_by_owner(bill):
                kept += 1
                logger.warning("bill paid while its cycle was voided: kept", bill_id=bill_id)
                break
            if accounts.post(voiding(bill, account, reason=reason, now=now), now=now) is PostResult.POSTED:
                voided.append(bill)
                break
        else:
            logger.error("bill not voided: its account kept changing", bill_id=bill_id)
            raise RuntimeError(f"bill {bill_id} could not be voided; the batch is retried")
    outbox.send([void_notice(bill, reason=reason) for bill in voided])
    logger.info("bills voided", period=request.period, voided=len(voided), kept=kept)
    return VoidResult(voided=len(voided), kept=kept)


def summary_json(result: Summary) -> dict[str, Any]:
    header = result.header
    data: Mapping[str, Any] = header.data
    return {
        "period": header.period,
        "state": header.state,
        "fee_standard_version": data.get("fee_standard_version"),
        "units": data.get("units", 0),
        "batches": header.batches,
        "batches_done": result.batches_done,
        "bills": result.bills,
        "total_minor": result.total_minor,
        "by_building": [{"building": code, **totals} for code, totals in result.by_building.items()],
        "exceptions": result.exceptions,
        "prepared_by": data.get("prepared_by"),
        "prepared_at": data.get("prepared_at"),
        "approved_by": data.get("approved_by"),
        "approved_at": data.get("approved_at"),
        "voided_by": data.get("voided_by"),
        "voided_at": data.get("voided_at"),
        "void_reason": data.get("void_reason"),
    }
