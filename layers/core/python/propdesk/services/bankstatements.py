"""Bank transfers matched from the bank's statement (银行流水对账, F4).

A cashier uploads the property's bank statement as CSV. Each credit line is matched:

- by the unit reference in its memo (附言/摘要): the unit id as the notice prints it
  (``A-1203``; case, spaces and the hyphen do not matter), or building and number
  (``A栋1203``, ``A座1203``);
- and by the amount: what the unit owes in all, or its oldest bills' in full.

Each line gets a proposal: ``exact`` (unit and amount agree: the bills it pays), ``unit`` (the
unit is named but the amount is not what it owes: paid oldest first, the rest kept as credit), or
none (``unmatched``, with the reason). Nothing moves until the cashier confirms; then each
confirmed line lands like any payment (``record_payment``) as ``transfer:<the bank's
reference>`` - the key a desk-recorded transfer with the same reference has, so a transfer the
desk took already is not counted twice - or, with no reference, ``transfer:L<the line's hash>``.

The statement's id is a hash of its lines: the same statement uploaded again is the same
statement, and nothing changes. A file with a bad row is refused whole, each bad line named.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from aws_lambda_powertools import Logger

from propdesk.config import PropertyConfig
from propdesk.domain.billing import Bill
from propdesk.services.accounts import account_view
from propdesk.services.desk import transfer_payment_id
from propdesk.services.errors import DeskError
from propdesk.services.payments import IncomingPayment, PaymentOutcome, record_payment
from propdesk.store.statements import HEADER, READY, StatementLine, StatementRepository
from propdesk.store.units import UnitRepository

logger = Logger(child=True)

KIND = "bank"
MAX_LINES = 5000
BANK_PROVIDER = "bank"

# Line states
PROPOSED = "proposed"  # a match waits for the cashier
UNMATCHED = "unmatched"  # no unit found: the cashier names one, or sets it aside
CONFIRMED = "confirmed"  # landed as a payment
RECORDED_ALREADY = "recorded_already"  # the desk recorded this transfer (same reference)
SET_ASIDE = "set_aside"  # not ours to credit (a refund from a supplier, a wrong transfer)
NOT_A_CREDIT = "not_a_credit"  # money out, or zero: nothing to match

# The columns, as our template names them and as Chinese banks' exports commonly do.
COLUMNS: dict[str, tuple[str, ...]] = {
    "date": ("date", "交易日期", "日期", "记账日期"),
    "amount": ("amount", "金额", "贷方金额", "收入金额", "交易金额"),
    "payer": ("payer", "付款人", "对方户名", "付款人名称", "对方账户名称"),
    "memo": ("memo", "摘要", "附言", "用途", "备注"),
    "reference": ("reference", "流水号", "交易流水号", "凭证号", "交易参考号"),
}
REQUIRED = ("date", "amount", "payer", "memo")

_AMOUNT = re.compile(r"^([+-]?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?$")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d")


class StatementRejected(Exception):
    """The file cannot be read as a statement: every problem with its line number."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


@dataclass(frozen=True)
class BankLine:
    line: int  # its line number in the file (the header is line 1)
    day: date
    amount_minor: int
    payer: str
    memo: str
    reference: str | None
    key: str  # the line's identity (the bank's reference, or a hash of its fields)


def parse_amount(text: str) -> int:
    """Yuan with at most two decimals ("1,234.5", "-20.00") to fen, exactly, or ValueError."""
    cleaned = text.strip().replace("¥", "").replace("￥", "").replace(" ", "")
    match = _AMOUNT.match(cleaned)
    if match is None:
        raise ValueError(f"not an amount: {text!r}")
    sign, whole, cents = match.groups()
    value = int(whole.replace(",", "")) * 100 + int((cents or "0").ljust(2, "0"))
    return -value if sign == "-" else value


def parse_day(text: str) -> date:
    value = text.strip()[:10]
    for form in _DATE_FORMATS:
        try:
            return datetime.strptime(value, form).date()  # noqa: DTZ007 - a calendar day
        except ValueError:
            continue
    raise ValueError(f"not a date: {text!r}")


def parse_statement(text: str) -> list[BankLine]:
    """The statement's lines, or ``StatementRejected`` naming every bad line."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=None))
    rows: list[list[str]] = []
    try:
        rows.extend(reader)
    except csv.Error as exc:
        raise StatementRejected([(reader.line_num, f"not CSV: {exc}")]) from None
    while rows and not any(cell.strip() for cell in rows[0]):
        rows.pop(0)
    if not rows:
        raise StatementRejected([(1, "the file is empty")])
    header = [cell.strip().lower() for cell in rows[0]]
    at: dict[str, int] = {}
    for name, aliases in COLUMNS.items():
        for alias in aliases:
            if alias.lower() in header:
                at[name] = header.index(alias.lower())
                break
    missing = [name for name in REQUIRED if name not in at]
    if missing:
        raise StatementRejected([(1, "the header needs the columns " + ", ".join(missing))])
    if len(rows) - 1 > MAX_LINES:
        raise StatementRejected([(1, f"at most {MAX_LINES} lines per file; split it by date")])
    problems: list[tuple[int, str]] = []
    parsed: list[tuple[int, date, int, str, str, str | None]] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            problems.append((number, f"{len(row)} fields, the header has {len(header)}"))
            continue
        try:
            day = parse_day(row[at["date"]])
        except ValueError as exc:
            problems.append((number, str(exc)))
            continue
        try:
            amount = parse_amount(row[at["amount"]])
        except ValueError as exc:
            problems.append((number, str(exc)))
            continue
        reference = row[at["reference"]].strip() if "reference" in at else ""
        parsed.append(
            (number, day, amount, row[at["payer"]].strip(), row[at["memo"]].strip(), reference or None)
        )
    if problems:
        raise StatementRejected(problems)
    seen: Counter[str] = Counter()
    lines = []
    for number, day, amount, payer, memo, reference in parsed:
        if reference:
            key = transfer_payment_id(reference)
        else:
            fields = f"{day.isoformat()}|{amount}|{payer}|{memo}"
            seen[fields] += 1  # two identical lines in one file are two transfers
            digest = hashlib.sha256(f"{fields}|{seen[fields]}".encode()).hexdigest()[:24].upper()
            key = f"transfer:L{digest}"
        lines.append(BankLine(number, day, amount, payer, memo, reference, key))
    duplicates = [key for key, count in Counter(line.key for line in lines).items() if count > 1]
    if duplicates:
        repeated = [line.line for line in lines if line.key in duplicates]
        raise StatementRejected([(n, "this bank reference appears twice in the file") for n in repeated])
    return lines


def statement_id_of(lines: Sequence[BankLine]) -> str:
    """The statement's id: a hash of its lines' identities (the same lines, the same id)."""
    digest = hashlib.sha256("\n".join(sorted(line.key for line in lines)).encode()).hexdigest()
    return f"BS{digest[:20].upper()}"


# --- matching ------------------------------------------------------------------------------------

_SPLIT = re.compile(r"[\s\-_/·.,，。:：]+")


def unit_candidates(memo: str) -> list[str]:
    """Unit ids a memo may name, most likely first: ``A-1203`` as printed, ``a1203``,
    ``A 1203``, ``A栋1203`` / ``A座1203`` / ``A幢1203``."""
    text = memo.upper()
    found: list[str] = []
    for building, number in re.findall(r"([A-Z]{1,3})\s*[栋座幢号楼\-_ ]*\s*(\d{2,5})", text):
        found.append(f"{building}-{number}")
    for building, number in re.findall(r"(\d{1,2})\s*(?:栋|座|幢|号楼)\s*(\d{2,5})", text):
        found.append(f"{building}-{number}")
    unique: list[str] = []
    for candidate in found:
        if candidate not in unique:
            unique.append(candidate)
    return unique


@dataclass(frozen=True)
class Proposal:
    state: str  # proposed | unmatched | not_a_credit
    match: str | None = None  # exact | unit
    unit_id: str | None = None
    bill_ids: tuple[str, ...] = ()
    owed_minor: int | None = None
    reason: str = ""


def bills_for_amount(bills: Sequence[Bill], amount_minor: int) -> tuple[str, ...] | None:
    """The oldest bills the amount pays in full, exactly, or None."""
    total = 0
    chosen: list[str] = []
    for bill in sorted(bills, key=lambda b: (b.period, b.bill_id)):
        total += bill.total_minor - bill.paid_minor
        chosen.append(bill.bill_id)
        if total == amount_minor:
            return tuple(chosen)
        if total > amount_minor:
            return None
    return None


def propose(
    line: BankLine,
    *,
    units: UnitRepository,
    open_bills_of: Callable[[str], Sequence[Bill] | None],
) -> Proposal:
    if line.amount_minor <= 0:
        return Proposal(NOT_A_CREDIT, reason="money out or zero")
    candidates = unit_candidates(line.memo)
    if not candidates:
        return Proposal(UNMATCHED, reason="no unit reference in the memo")
    known = units.get_many(candidates)
    named = [candidate for candidate in candidates if candidate in known]
    if not named:
        return Proposal(UNMATCHED, reason="the memo names no unit of this property")
    if len(named) > 1:
        return Proposal(UNMATCHED, reason="the memo names several units: " + ", ".join(named))
    unit_id = named[0]
    bills = open_bills_of(unit_id) or ()
    owed = sum(bill.total_minor - bill.paid_minor for bill in bills)
    paid = bills_for_amount(bills, line.amount_minor)
    if paid:
        return Proposal(PROPOSED, "exact", unit_id, paid, owed)
    reason = "nothing is owed: it becomes credit" if not owed else "the amount is not what the unit owes"
    return Proposal(PROPOSED, "unit", unit_id, (), owed, reason)


# --- import, read, confirm -----------------------------------------------------------------------


@dataclass(frozen=True)
class Imported:
    statement_id: str
    created: bool  # False: this statement was imported before; nothing changed
    lines: tuple[StatementLine, ...]


def _open_bills(unit_id: str) -> Sequence[Bill] | None:
    view = account_view(unit_id)
    return view.open_bills if view is not None else None


def import_statement(
    text: str,
    *,
    staff_id: str,
    now: datetime,
    repo: StatementRepository | None = None,
    units: UnitRepository | None = None,
    open_bills_of: Callable[[str], Sequence[Bill] | None] = _open_bills,
) -> Imported:
    """Read, match and store a statement (``StatementRejected`` for a bad file). Nothing is paid."""
    repo = repo or StatementRepository()
    units = units or UnitRepository()
    lines = parse_statement(text)
    statement_id = statement_id_of(lines)
    credits = [line for line in lines if line.amount_minor > 0]
    header = StatementLine(
        statement_id=statement_id,
        line=HEADER,
        kind=KIND,
        state=READY,
        created_at=now,
        data={
            "by": staff_id,
            "lines": len(lines),
            "credits": len(credits),
            "credit_minor": sum(line.amount_minor for line in credits),
            "first_day": min((line.day for line in lines), default=now.date()).isoformat(),
            "last_day": max((line.day for line in lines), default=now.date()).isoformat(),
        },
    )
    stored, created = repo.begin(header)
    if not created and stored.state == READY:
        return Imported(statement_id, False, tuple(repo.lines(statement_id)[1:]))
    rows = []
    for line in lines:
        proposal = propose(line, units=units, open_bills_of=open_bills_of)
        rows.append(
            StatementLine(
                statement_id=statement_id,
                line=line.line,
                kind=KIND,
                state=proposal.state,
                created_at=now,
                data={
                    "day": line.day.isoformat(),
                    "amount_minor": line.amount_minor,
                    "payer": line.payer,
                    "memo": line.memo,
                    "reference": line.reference,
                    "key": line.key,
                    "match": proposal.match,
                    "unit_id": proposal.unit_id,
                    "bill_ids": list(proposal.bill_ids),
                    "owed_minor": proposal.owed_minor,
                    "reason": proposal.reason,
                },
                waiting=proposal.state in (PROPOSED, UNMATCHED),
            )
        )
    repo.put_lines(rows)
    finished = repo.save_changed(replace(stored, state=READY))
    if finished is None:  # another import of the same file finished it first
        return Imported(statement_id, False, tuple(repo.lines(statement_id)[1:]))
    logger.info(
        "bank statement imported",
        statement_id=statement_id,
        lines=len(rows),
        proposed=sum(1 for row in rows if row.state == PROPOSED),
        unmatched=sum(1 for row in rows if row.state == UNMATCHED),
    )
    return Imported(statement_id, True, tuple(rows))


def statement(statement_id: str, *, repo: StatementRepository | None = None) -> list[StatementLine]:
    repo = repo or StatementRepository()
    found = repo.lines(statement_id)
    if not found or found[0].kind != KIND:
        raise DeskError(404, "not_found", "No bank statement with this id.")
    return found


@dataclass(frozen=True)
class Decision:
    line: int
    action: str  # confirm | set_aside
    unit_id: str | None = None  # to credit another unit than proposed (or an unmatched line's)
    note: str = ""


@dataclass(frozen=True)
class Confirmed:
    line: int
    state: str
    payment_id: str | None = None
    receipt_no: str | None = None
    outcome: str | None = None


def confirm(
    statement_id: str,
    decisions: Sequence[Decision],
    *,
    staff_id: str,
    config: PropertyConfig,
    now: datetime,
    repo: StatementRepository | None = None,
    units: UnitRepository | None = None,
    record: Callable[..., PaymentOutcome] = record_payment,
    receipt_url: Callable[..., str] | None = None,
) -> list[Confirmed]:
    """The cashier's decisions on a statement's lines: confirm (lands the transfer once, for the
    proposed unit or the one named) or set aside. A line decided already answers what it became."""
    repo = repo or StatementRepository()
    units = units or UnitRepository()
    by_line = {line.line: line for line in statement(statement_id, repo=repo)[1:]}
    unknown = [d.line for d in decisions if d.line not in by_line]
    if unknown:
        raise DeskError(422, "unknown_line", f"No line {', '.join(map(str, unknown))} in this statement.")
    named = {d.unit_id for d in decisions if d.unit_id}
    found = units.get_many(named) if named else {}
    missing = sorted(named - set(found))
    if missing:
        raise DeskError(422, "unknown_unit", f"No unit {', '.join(missing)}.")
    results = []
    for decision in decisions:
        line = by_line[decision.line]
        results.append(
            _decide(line, decision, staff_id=staff_id, config=config, now=now, repo=repo, record=record,
                    receipt_url=receipt_url, units=found)
        )  # fmt: skip
    return results


def _decide(
    line: StatementLine,
    decision: Decision,
    *,
    staff_id: str,
    config: PropertyConfig,
    now: datetime,
    repo: StatementRepository,
    record: Callable[..., PaymentOutcome],
    receipt_url: Callable[..., str] | None,
    units: Mapping[str, Any],
) -> Confirmed:
    if line.state in (CONFIRMED, RECORDED_ALREADY, SET_ASIDE, NOT_A_CREDIT):
        return Confirmed(line.line, line.state, line.payment_id)
    data = dict(line.data)
    if decision.action == "set_aside":
        changed = replace(
            line, state=SET_ASIDE, waiting=False, data={**data, "by": staff_id, "note": decision.note}
        )
        repo.save_changed(changed)
        return Confirmed(line.line, SET_ASIDE)
    unit_id = decision.unit_id or data.get("unit_id")
    if not unit_id:
        raise DeskError(422, "unit_needed", f"Line {line.line} matches no unit: name the unit it pays.")
    unit = units.get(unit_id)
    targets = tuple(data.get("bill_ids") or ()) if unit_id == data.get("unit_id") else ()
    day = date.fromisoformat(data["day"])
    incoming = IncomingPayment(
        payment_id=str(data["key"]),
        provider=BANK_PROVIDER,
        method="bank_transfer",
        channel="bank",
        unit_id=unit_id,
        amount_minor=int(data["amount_minor"]),
        currency=config.currency,
        paid_at=datetime(day.year, day.month, day.day, 12, tzinfo=config.tz).astimezone(UTC),
        targets=targets,
        reference=data.get("reference") or f"{line.statement_id}/{line.line}",
        recorded_by=staff_id,
        unit_known=True,
        owner_id=unit.owner_id if unit is not None else None,
    )
    outcome = record(incoming, config=config, now=now, receipt_url=receipt_url)
    stored = outcome.record
    state = CONFIRMED
    if outcome.outcome == "already_recorded":
        # The desk recorded this transfer (its reference), or an earlier confirm did.
        same = stored is not None and (stored.unit_id, stored.amount_minor) == (
            unit_id,
            incoming.amount_minor,
        )
        if not same:
            raise DeskError(
                409,
                "transfer_recorded",
                f"Line {line.line}: a transfer with this reference is recorded already, for another unit "
                "or amount.",
            )
        state = CONFIRMED if stored is not None and stored.provider == BANK_PROVIDER else RECORDED_ALREADY
    changed = replace(
        line,
        state=state,
        waiting=False,
        payment_id=outcome.payment_id,
        data={**data, "by": staff_id, "confirmed_unit_id": unit_id, "outcome": outcome.outcome},
    )
    repo.save_changed(changed)
    return Confirmed(line.line, state, outcome.payment_id, outcome.receipt_no, outcome.outcome)
