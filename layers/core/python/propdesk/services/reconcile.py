"""The daily reconciliation (对账, F4): each morning, for each rail, the provider's statement of a
day is compared with the payments we recorded through that rail on that day.

Every difference becomes an item for staff (the ``statements`` table, kind ``recon``, waiting in
its ``open-index``) and is counted for the alarm:

- ``provider_only``: the provider was paid and we have no payment (a notification lost and not
  found by the sweep, or a payment of an order that is not ours);
- ``ours_only``: we recorded a payment the provider's statement does not have;
- ``amount_differs``: both have it, for different amounts.

A day is reconciled once: its result is stored under ``RC<yyyymmdd><rail code>``, and running it
again (a double fire, a rerun) finds it and changes nothing. Each run reconciles the last few
days that are not reconciled yet, so a day missed (the provider's statement was not ready, the
provider could not be reached) is caught up by the next run. Refund lines are listed in the
statement but not compared here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Protocol

from aws_lambda_powertools import Logger

from propdesk.payments.port import ProviderRefused, ProviderUnavailable, Statement
from propdesk.services.errors import DeskError
from propdesk.store.payments import STATEMENT_TZ, PaymentRecord, PaymentRepository
from propdesk.store.statements import HEADER, READY, StatementLine, StatementRepository

logger = Logger(child=True)


class StatementSource(Protocol):
    """What the reconciliation asks of a rail: its name and a day's statement (every rail's
    adapter of the payment-provider port)."""

    rail: str

    def statement(self, day: date) -> Statement: ...


KIND = "recon"
OPEN = "open"
RESOLVED = "resolved"
RAIL_CODES = {"wechat_pay": "WX", "alipay": "AL", "stripe": "ST"}
CATCH_UP_DAYS = 3  # a run also reconciles the days before yesterday that are not reconciled yet


def reconciliation_id(rail: str, day: date) -> str:
    return f"RC{day:%Y%m%d}{RAIL_CODES[rail]}"


def statement_day_of(rail: str, now: datetime) -> date:
    """Today on the rail's statement calendar."""
    return now.astimezone(STATEMENT_TZ[rail]).date()


@dataclass(frozen=True)
class Difference:
    type: str  # provider_only | ours_only | amount_differs
    payment_id: str
    order_id: str | None
    provider_payment_id: str | None
    provider_minor: int | None
    ours_minor: int | None
    unit_id: str | None = None


@dataclass
class DayResult:
    rail: str
    day: date
    state: str  # reconciled | reconciled_before | not_ready | failed
    differences: list[Difference] = field(default_factory=list)
    provider_count: int = 0
    ours_count: int = 0


def _totals(rail: str, statement: Statement, kind: str) -> dict[str, tuple[str, str, int]]:
    """The statement's lines of ``kind`` added up per order (partial lines of one order add up):
    payment id -> (order id, the provider's id, amount)."""
    totals: dict[str, tuple[str, str, int]] = {}
    for line in statement.lines:
        if line.kind == kind:
            payment_id = f"{rail}:{line.order_id}"
            _, pid, amount = totals.get(payment_id, (line.order_id, line.provider_payment_id, 0))
            totals[payment_id] = (line.order_id, pid, amount + line.amount_minor)
    return totals


def compare(
    rail: str, statement: Statement, ours: Iterable[PaymentRecord], others: dict[str, PaymentRecord]
) -> list[Difference]:
    """Pure: the differences between a statement and our payments. ``others``: our payments for
    orders of the statement recorded on another day by our clock (around midnight), and those its
    refund lines are for.

    Payments: ``provider_only``, ``ours_only``, ``amount_differs``. Refunds: the provider refunded
    an order we have no payment for (``refund_unknown``), or more of it than our payment has
    posted as refunded (``refund_not_posted``: a refund's confirmation never came, or was lost).
    Our refunded total counts every day's refunds, so a refund posted here is never a difference;
    one posted here and absent at the provider is not looked for (refunds have no day index)."""
    recorded = {record.payment_id: record for record in ours}
    theirs = _totals(rail, statement, "payment")
    found: list[Difference] = []
    for payment_id, (order_id, provider_id, amount) in sorted(theirs.items()):
        record = recorded.get(payment_id) or others.get(payment_id)
        if record is None:
            found.append(Difference("provider_only", payment_id, order_id, provider_id, amount, None))
        elif record.amount_minor != amount:
            found.append(
                Difference(
                    "amount_differs", payment_id, order_id, provider_id, amount, record.amount_minor,
                    record.unit_id,
                )
            )  # fmt: skip
    for payment_id, record in sorted(recorded.items()):
        if payment_id not in theirs:
            order_id = payment_id.split(":", 1)[1]
            found.append(
                Difference("ours_only", payment_id, order_id, record.reference, None, record.amount_minor, record.unit_id)
            )  # fmt: skip
    for payment_id, (order_id, provider_id, amount) in sorted(_totals(rail, statement, "refund").items()):
        record = recorded.get(payment_id) or others.get(payment_id)
        if record is None:
            found.append(Difference("refund_unknown", payment_id, order_id, provider_id, amount, None))
        elif amount > record.refunded_minor:
            found.append(
                Difference(
                    "refund_not_posted", payment_id, order_id, provider_id, amount, record.refunded_minor,
                    record.unit_id,
                )
            )  # fmt: skip
    return found


def reconcile_day(
    provider: StatementSource,
    day: date,
    *,
    now: datetime,
    repo: StatementRepository | None = None,
    payments: PaymentRepository | None = None,
) -> DayResult:
    """Reconcile one rail's day, once."""
    repo = repo or StatementRepository()
    payments = payments or PaymentRepository()
    rail = provider.rail
    rec_id = reconciliation_id(rail, day)
    stored = repo.header(rec_id)
    if stored is not None and stored.state == READY:
        return DayResult(rail, day, "reconciled_before")
    try:
        statement = provider.statement(day)
    except (ProviderUnavailable, ProviderRefused) as exc:
        logger.warning("statement not fetched", rail=rail, day=day.isoformat(), error=str(exc))
        return DayResult(rail, day, "failed")
    ours = payments.of_rail_day(rail, day)
    if not statement.lines and ours and day >= statement_day_of(rail, now) - timedelta(days=1):
        # Alipay answers "no bill" both for a day without trades and for one not ready yet:
        # yesterday's empty statement against our payments is tried again by the next run.
        return DayResult(rail, day, "not_ready", ours_count=len(ours))
    wanted = {f"{rail}:{line.order_id}" for line in statement.lines if line.kind == "payment"}
    refunds_for = {f"{rail}:{line.order_id}" for line in statement.lines if line.kind == "refund"}
    others = payments.get_many((wanted | refunds_for) - {record.payment_id for record in ours})
    differences = compare(rail, statement, ours, others)
    provider_count = len(wanted)
    header = StatementLine(
        statement_id=rec_id,
        line=HEADER,
        kind=KIND,
        state=READY,
        created_at=now,
        data={
            "rail": rail,
            "day": day.isoformat(),
            "provider_count": provider_count,
            "provider_minor": sum(line.amount_minor for line in statement.lines if line.kind == "payment"),
            "ours_count": len(ours),
            "ours_minor": sum(record.amount_minor for record in ours),
            "differences": len(differences),
        },
    )
    begun, _ = repo.begin(header)
    if begun.state == READY:
        return DayResult(rail, day, "reconciled_before")
    repo.put_lines(
        StatementLine(
            statement_id=rec_id,
            line=number,
            kind=KIND,
            state=OPEN,
            created_at=now,
            data={**vars(difference), "rail": rail, "day": day.isoformat()},
            waiting=True,
        )
        for number, difference in enumerate(differences, start=1)
    )
    repo.save_changed(replace(begun, state=READY))
    logger.info(
        "reconciled",
        rail=rail,
        day=day.isoformat(),
        provider_count=provider_count,
        ours_count=len(ours),
        differences=len(differences),
    )
    return DayResult(rail, day, "reconciled", differences, provider_count, len(ours))


def reconcile(
    provider: StatementSource,
    *,
    now: datetime,
    repo: StatementRepository | None = None,
    payments: PaymentRepository | None = None,
    days: int = CATCH_UP_DAYS,
) -> list[DayResult]:
    """Yesterday and the ``days - 1`` days before it that are not reconciled yet, oldest first."""
    today = statement_day_of(provider.rail, now)
    return [
        reconcile_day(provider, today - timedelta(days=back), now=now, repo=repo, payments=payments)
        for back in range(days, 0, -1)
    ]


def waiting(*, repo: StatementRepository | None = None, limit: int = 200) -> list[StatementLine]:
    repo = repo or StatementRepository()
    return list(repo.waiting(KIND, limit=limit))


def resolve(
    rec_id: str,
    line: int,
    *,
    note: str,
    staff_id: str,
    now: datetime,
    repo: StatementRepository | None = None,
) -> StatementLine:
    """Staff say what a difference was and what they did: it leaves the list."""
    repo = repo or StatementRepository()
    item = repo.get(rec_id, line)
    if item is None or item.kind != KIND or line == HEADER:
        raise DeskError(404, "not_found", "No such reconciliation item.")
    if item.state == RESOLVED:
        return item
    changed = replace(
        item,
        state=RESOLVED,
        waiting=False,
        data={**item.data, "note": note, "by": staff_id, "resolved_at": now.isoformat()},
    )
    saved = repo.save_changed(changed)
    if saved is None:
        raise DeskError(409, "changed", "The item changed meanwhile; read it again.")
    return saved
