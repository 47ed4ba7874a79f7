"""The overdue ladder (逾期催缴, F6): which step a past-due bill gets next.

Steps run in order, each once per bill (keyed ``reminder#<number>`` on the bill's ledger).
Only the first step, a friendly reminder, is built so far; the demand letter with late fee,
the instalment plan check and the legal referral slot in as later steps.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from propdesk.domain.billing import Bill


@dataclass(frozen=True)
class LadderStep:
    number: int
    kind: str  # e.g. "friendly_reminder"
    template: str  # message template the step sends
    min_days_overdue: int  # earliest day after the due date the step may run


FRIENDLY_REMINDER = LadderStep(1, "friendly_reminder", "overdue_reminder", min_days_overdue=1)
LADDER: tuple[LadderStep, ...] = (FRIENDLY_REMINDER,)


def days_overdue(due: date, today: date) -> int:
    return max(0, (today - due).days)


def step_key(step: LadderStep) -> str:
    return f"reminder#{step.number}"


def next_step(
    bill: Bill, today: date, steps_done: Collection[int], *, payment_under_review: bool = False
) -> LadderStep | None:
    """The next step for ``bill`` on ``today``, or None (paid, not yet due, nothing left, or
    paused: an owner whose payment staff are still reviewing is not chased for it)."""
    if not bill.is_open or payment_under_review:
        return None
    overdue = days_overdue(bill.due_date, today)
    if overdue == 0:
        return None
    for step in LADDER:
        if step.number in steps_done:
            continue
        # Steps are strictly ordered: the first one not done is the only candidate.
        return step if overdue >= step.min_days_overdue else None
    return None
