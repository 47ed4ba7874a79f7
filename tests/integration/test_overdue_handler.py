"""The overdue function on moto: the daily run queues a friendly reminder for open past-due bills."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
import time_machine
from ops_support import drain, import_demo_units

from infra.local.events import LambdaContext, scheduler_event
from overdue.handler import lambda_handler
from propdesk.domain.billing import Bill, BillLine
from propdesk.messaging.requests import parse_message
from propdesk.payments.links import verify_pay_link
from propdesk.store.bills import BillRepository
from propdesk.store.models import LedgerItem
from tests.testkeys import TEST_LINK_KEY

ISSUED = datetime(2026, 6, 16, 1, tzinfo=UTC)
# 16 July 2026, 09:30 in Shanghai: the day after the due date of period 2026-07.
DAY_AFTER_DUE = datetime(2026, 7, 16, 1, 30, tzinfo=UTC)


def _bill(
    unit_id: str, *, status: str = "open", due: date = date(2026, 7, 15), period: str = "2026-07"
) -> Bill:
    return Bill(
        f"{unit_id}#{period}",
        unit_id,
        "O0001",
        period,
        "SH-2026-01",
        (BillLine("waste", "per_unit", 1000, 1, 1000),),
        1000,
        "CNY",
        due,
        status,
        ISSUED,
    )


@pytest.fixture
def bills(aws):
    repo = BillRepository()
    repo.create(_bill("A-101"))  # open, past due
    repo.create(_bill("A-102", status="paid"))  # paid: nothing
    repo.create(_bill("A-103", due=date(2026, 8, 15), period="2026-08"))  # not due yet
    return repo


def test_daily_run_reminds_only_open_past_due_bills(aws, bills):
    with time_machine.travel(DAY_AFTER_DUE, tick=False):
        result = lambda_handler(scheduler_event({"action": "run_ladder"}), LambdaContext())
        queued = [parse_message(b) for b in drain(aws["MESSAGES_QUEUE_URL"])]
    assert result == {
        "pre_due_period": None,
        "pre_due_reminded": 0,
        "pre_due_to_call": 0,
        "open_past_due": 1,
        "steps_taken": 1,
    }
    (reminder,) = queued
    assert reminder.message_id == "overdue_reminder#A-101#2026-07#1"
    assert reminder.template == "overdue_reminder"
    assert reminder.owner_id == "O0001"
    assert reminder.context["days_overdue"] == 1
    assert reminder.context["total_minor"] == 1000
    token = reminder.context["pay_url"].rsplit("/", 1)[1]
    assert verify_pay_link(token, key=TEST_LINK_KEY.encode(), now=DAY_AFTER_DUE).bill_id == "A-101#2026-07"
    assert [i.seq for i in LedgerItem.query("bill#A-101#2026-07")] == ["reminder#1"]


def test_nothing_on_the_due_date_itself_in_local_time(aws, bills):
    # 15 July 23:30 UTC is already 16 July in Shanghai; 15 July 15:00 UTC is still 15 July there
    with time_machine.travel(datetime(2026, 7, 15, 15, 0, tzinfo=UTC), tick=False):
        assert lambda_handler(scheduler_event({"action": "run_ladder"}), LambdaContext())["steps_taken"] == 0
    with time_machine.travel(datetime(2026, 7, 15, 16, 30, tzinfo=UTC), tick=False):
        assert lambda_handler(scheduler_event({"action": "run_ladder"}), LambdaContext())["steps_taken"] == 1


def test_an_old_bill_gets_a_link_that_is_still_valid(aws):
    BillRepository().create(replace(_bill("A-104"), issued_at=datetime(2026, 1, 1, tzinfo=UTC)))
    with time_machine.travel(DAY_AFTER_DUE, tick=False):
        lambda_handler(scheduler_event({"action": "run_ladder"}), LambdaContext())
        (reminder,) = [parse_message(b) for b in drain(aws["MESSAGES_QUEUE_URL"])]
    token = reminder.context["pay_url"].rsplit("/", 1)[1]
    link = verify_pay_link(token, key=TEST_LINK_KEY.encode(), now=DAY_AFTER_DUE)
    assert (link.expires_at - DAY_AFTER_DUE).days >= 7


def test_unknown_action_is_refused(aws):
    with pytest.raises(ValueError, match="run_ladder"):
        lambda_handler(scheduler_event({"action": "delete_everything"}), LambdaContext())


def test_a_bill_with_a_payment_set_aside_for_staff_is_not_chased(aws, bills):
    # GIVEN the owner of A-101 paid through Stripe, but an amount that differs from the bill,
    # so the webhook set the payment aside for staff and left the bill open
    from payment_webhook.handler import lambda_handler as webhook_handler
    from tests.paytools import checkout_event, event_body, webhook_request

    bill = bills.get("A-101#2026-07")
    event = checkout_event(bill, payment_intent="pi_short", amount_minor=bill.total_minor - 1)
    answer = webhook_handler(webhook_request(event_body(event)), LambdaContext())
    assert '"mismatch"' in answer["body"]
    # WHEN the daily run comes after the due date
    with time_machine.travel(DAY_AFTER_DUE, tick=False):
        result = lambda_handler(scheduler_event({"action": "run_ladder"}), LambdaContext())
        queued = [parse_message(b) for b in drain(aws["MESSAGES_QUEUE_URL"])]
    # THEN the bill is past due and open, but its owner gets no reminder while staff review it
    assert result == {
        "pre_due_period": None,
        "pre_due_reminded": 0,
        "pre_due_to_call": 0,
        "open_past_due": 1,
        "steps_taken": 0,
    }
    assert [m.message_id for m in queued if m.template == "overdue_reminder"] == []


# 8 July 2026, 09:30 in Shanghai: seven days (reminder_offset_days) before 2026-07's due date.
REMINDER_DAY = datetime(2026, 7, 8, 1, 30, tzinfo=UTC)


def test_the_pre_due_reminder_goes_to_owners_who_still_owe_and_to_no_one_who_paid(aws, demo_config):
    import_demo_units(demo_config, 1)  # owner O0001, with an e-mail address
    repo = BillRepository()
    repo.create(_bill("A-101"))  # owes it all
    repo.create(replace(_bill("A-104"), paid_minor=400))  # owes part of it
    repo.create(_bill("A-102", status="paid"))  # paid: nothing
    repo.create(_bill("A-103", due=date(2026, 8, 15), period="2026-08"))  # next month's
    # WHEN the daily run fires on the reminder day, twice (a double fire)
    with time_machine.travel(REMINDER_DAY, tick=False):
        first = lambda_handler(scheduler_event({"action": "run_ladder"}), LambdaContext())
        lambda_handler(scheduler_event({"action": "run_ladder"}), LambdaContext())
        queued = [parse_message(b) for b in drain(aws["MESSAGES_QUEUE_URL"])]
    # THEN the two who owe are reminded, with what is left and their link; the ids repeat, so
    # the messenger sends each once; each reminder is dropped if its bill is paid before it goes
    assert first["pre_due_period"] == "2026-07" and first["pre_due_reminded"] == 2
    assert {m.message_id for m in queued} == {
        "pre_due_reminder#A-101#2026-07",
        "pre_due_reminder#A-104#2026-07",
    }
    by_unit = {m.context["unit_id"]: m for m in queued}
    assert by_unit["A-104"].context["total_minor"] == 600
    assert all(m.while_unpaid == m.context["bill_id"] and m.context["pay_url"] for m in queued)
    # AND on the day before, nothing
    with time_machine.travel(datetime(2026, 7, 7, 1, 30, tzinfo=UTC), tick=False):
        result = lambda_handler(scheduler_event({"action": "run_ladder"}), LambdaContext())
    assert (result["pre_due_period"], result["pre_due_reminded"]) == (None, 0)


def test_a_unit_the_bank_collects_from_gets_no_pre_due_reminder(aws, demo_config):
    """The demo offers direct debit: a unit with a mandate in force is debited on the due date,
    so it is not asked to pay; a cancelled mandate asks again."""
    from propdesk.store.mandates import CANCELLED, Mandate, MandateRepository

    import_demo_units(demo_config, 1)

    repo = BillRepository()
    repo.create(_bill("A-101"))
    repo.create(_bill("A-105"))
    mandates = MandateRepository()
    enrolled = Mandate("A-101", "O0001", "招商银行", "业*", "6222 **** 0123", "Y2lwaGVy", ISSUED)
    mandates.save(enrolled)
    mandates.save(replace(enrolled, unit_id="A-105", state=CANCELLED, cancelled_at=ISSUED))
    with time_machine.travel(REMINDER_DAY, tick=False):
        result = lambda_handler(scheduler_event({"action": "run_ladder"}), LambdaContext())
        queued = [parse_message(b) for b in drain(aws["MESSAGES_QUEUE_URL"])]
    assert result["pre_due_reminded"] == 1
    assert [m.context["unit_id"] for m in queued] == ["A-105"]
