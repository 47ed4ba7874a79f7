"""The call list (F3): owners the pre-due reminder cannot reach (no e-mail address, and no phone
that may take an SMS) are called by staff instead. Each call's outcome is recorded on the list
and in the bill's ledger; an outcome that settles it (reached, promised to pay, a wrong number
to correct at the desk) takes the owner off the list, the others keep them on it.

A period's list is made once, by the daily run on the reminder day (``CL<YYYYMM>`` in the
``statements`` table, a line per owner, waiting in its sparse ``open-index``): a rerun finds it
made and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Literal

from aws_lambda_powertools import Logger

from propdesk.domain.billing import Bill
from propdesk.domain.units import Owner
from propdesk.messaging.channels import EMAIL, SMS, choose_channels
from propdesk.services.errors import DeskError
from propdesk.store import ledger
from propdesk.store.statements import HEADER, READY, StatementLine, StatementRepository

logger = Logger(child=True)

KIND = "calls"
OPEN = "open"
DONE = "done"
Outcome = Literal["reached", "promised_to_pay", "no_answer", "busy", "wrong_number", "refused"]
# Outcomes after which the owner needs no other call for this bill.
SETTLING = frozenset({"reached", "promised_to_pay", "wrong_number", "refused"})


def call_list_id(period: str) -> str:
    return "CL" + period.replace("-", "")


def reachable(owner: Owner | None) -> bool:
    """Whether a message can reach the owner at all (the messenger's own rule)."""
    if owner is None:
        return False
    delivery = choose_channels(
        (EMAIL, SMS),
        has_email=bool(owner.email),
        has_phone=bool(owner.phone),
        sms_consent=owner.sms_consent,
        email_marked=owner.email_mark.reason if owner.email_mark else None,
        phone_marked=owner.phone_mark.reason if owner.phone_mark else None,
    )
    return bool(delivery.channels)


def make_call_list(
    period: str,
    bills: Iterable[Bill],
    owners: dict[str, Owner],
    *,
    now: datetime,
    repo: StatementRepository | None = None,
) -> int:
    """The period's call list of these bills' owners, once; how many it holds."""
    repo = repo or StatementRepository()
    wanted = sorted(bills, key=lambda bill: bill.unit_id)
    list_id = call_list_id(period)
    header = StatementLine(
        statement_id=list_id,
        line=HEADER,
        kind=KIND,
        state=READY,
        created_at=now,
        data={"period": period, "calls": len(wanted)},
    )
    begun, wrote = repo.begin(header)
    if not wrote and begun.state == READY:
        return int(begun.data.get("calls", 0))
    repo.put_lines(
        StatementLine(
            statement_id=list_id,
            line=number,
            kind=KIND,
            state=OPEN,
            created_at=now,
            data={
                "period": period,
                "unit_id": bill.unit_id,
                "bill_id": bill.bill_id,
                "owner_id": bill.owner_id,
                "owed_minor": bill.total_minor - bill.paid_minor,
                "currency": bill.currency,
                "due_date": bill.due_date.isoformat(),
                "why": "no contact" if owners.get(bill.owner_id) is None else "no usable channel",
                "calls": [],
            },
            waiting=True,
        )
        for number, bill in enumerate(wanted, start=1)
    )
    repo.save_changed(replace(begun, state=READY))
    logger.info("call list made", period=period, calls=len(wanted))
    return len(wanted)


def waiting(*, repo: StatementRepository | None = None, limit: int = 200) -> list[StatementLine]:
    repo = repo or StatementRepository()
    return list(repo.waiting(KIND, limit=limit))


def record_call(
    list_id: str,
    line: int,
    *,
    outcome: Outcome,
    note: str | None,
    staff_id: str,
    now: datetime,
    repo: StatementRepository | None = None,
) -> StatementLine:
    """Record one call: on the list (a settling outcome takes the owner off it) and in the bill's
    ledger. A call on a line already done is refused."""
    repo = repo or StatementRepository()
    item = repo.get(list_id, line)
    if item is None or item.kind != KIND or line == HEADER:
        raise DeskError(404, "not_found", "No such call.")
    if item.state == DONE:
        raise DeskError(409, "done", "This owner needs no more calls for this bill.")
    call = {"outcome": outcome, "note": note, "by": staff_id, "at": now.isoformat()}
    settled = outcome in SETTLING
    changed = replace(
        item,
        state=DONE if settled else OPEN,
        waiting=not settled,
        data={**item.data, "calls": [*item.data.get("calls", []), call]},
    )
    saved = repo.save_changed(changed)
    if saved is None:
        raise DeskError(409, "changed", "The call list changed meanwhile; read it again.")
    ledger.append(
        ledger.bill_entity(str(item.data["bill_id"])),
        "call_recorded",
        at=now,
        key=f"call#{list_id}#{line}#{len(changed.data['calls'])}",
        data={"outcome": outcome, "by": staff_id, "note": note or ""},
    )
    return saved
