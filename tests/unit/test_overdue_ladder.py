"""The overdue ladder as a pure function."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from propdesk.domain.billing import Bill, BillLine
from propdesk.domain.overdue import FRIENDLY_REMINDER, days_overdue, next_step, step_key

BILL = Bill(
    "A-101#2026-07",
    "A-101",
    "O0001",
    "2026-07",
    "v1",
    (BillLine("waste", "per_unit", 1000, 1, 1000),),
    1000,
    "CNY",
    date(2026, 7, 15),
    "open",
    datetime(2026, 6, 16, 1, tzinfo=UTC),
)


def test_nothing_on_or_before_the_due_date():
    assert next_step(BILL, date(2026, 7, 14), ()) is None
    assert next_step(BILL, date(2026, 7, 15), ()) is None


def test_friendly_reminder_the_day_after_the_due_date():
    step = next_step(BILL, date(2026, 7, 16), ())
    assert step == FRIENDLY_REMINDER
    assert step_key(step) == "reminder#1"
    assert step.template == "overdue_reminder"


def test_a_step_already_taken_is_not_taken_again():
    assert next_step(BILL, date(2026, 8, 30), {1}) is None


def test_a_paid_bill_gets_nothing():
    assert next_step(replace(BILL, status="paid"), date(2026, 8, 30), ()) is None


def test_days_overdue_across_a_month_end():
    assert days_overdue(date(2026, 2, 28), date(2026, 3, 1)) == 1
    assert days_overdue(date(2028, 2, 28), date(2028, 3, 1)) == 2
    assert days_overdue(date(2026, 7, 15), date(2026, 7, 1)) == 0


def test_the_ladder_waits_while_a_payment_is_under_review():
    # the owner paid something that staff must still match to the bill: no reminder meanwhile
    assert next_step(BILL, date(2026, 7, 16), (), payment_under_review=True) is None
    assert next_step(BILL, date(2026, 7, 16), (), payment_under_review=False) == FRIENDLY_REMINDER
