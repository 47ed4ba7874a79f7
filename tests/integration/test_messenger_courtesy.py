"""Messages that respect owners (issue 8), through the messenger function on moto: SMS held in
the property's quiet hours and sent when they end; a weekly cap on nudges, never on essential
messages. The demo property is in Asia/Shanghai (UTC+8, no DST); times below are written in
its zone and converted, so the tests hold for any zone."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time

import pytest
import time_machine
from ops_support import bill_notice, drain, import_demo_units, sent_emails, sent_sms

import messenger.handler as messenger_handler
from infra.local.events import LambdaContext, sqs_event
from messenger.handler import lambda_handler
from propdesk.domain.billing import STATUS_PAID
from propdesk.domain.overdue import FRIENDLY_REMINDER
from propdesk.messaging.requests import MessageRequest
from propdesk.services.overdue import step_message
from propdesk.store import ledger
from propdesk.store.models import BillItem, CounterItem, MessageItem
from propdesk.store.owners import contact_counter
from tests.paytools import make_bill, store_bill

# Demo owners: O0001 en, email + phone, SMS consent; O0002 zh-CN, email + phone, no consent
# (email only); O0003 zh-CN, phone only, consent.


@pytest.fixture
def owners(aws, demo_config):
    import_demo_units(demo_config, 5)
    messenger_handler.messenger.cache_clear()
    yield
    messenger_handler.messenger.cache_clear()


def local(demo_config, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=demo_config.tz)


def handle(requests: list[MessageRequest]) -> dict:
    return lambda_handler(sqs_event([r.model_dump_json() for r in requests]), LambdaContext())


def release() -> dict:
    return lambda_handler({"action": "release_held"}, LambdaContext())


def requeued(aws) -> list[str]:
    return drain(aws["MESSAGES_QUEUE_URL"])


NIGHT = date(2026, 12, 2)  # a Wednesday


def test_sms_at_22_30_is_held_and_sent_at_08_00_while_its_email_goes_at_once(owners, demo_config, aws):
    notice = bill_notice("O0001", "A-101")
    # GIVEN a notice for an owner with e-mail and SMS, at 22:30 local (quiet hours 21:00-08:00)
    with time_machine.travel(local(demo_config, NIGHT, 22, 30), tick=False):
        assert handle([notice]) == {"batchItemFailures": []}
    # THEN the e-mail went, the SMS waits until 08:00 the next morning
    assert len(sent_emails()) == 1 and sent_sms() == []
    item = MessageItem.get(notice.message_id)
    assert item.status == "held" and list(item.channels) == ["email"]
    assert item.held_until == local(demo_config, date(2026, 12, 3), 8, 0)
    assert [e.event for e in ledger.entries(ledger.bill_entity("A-101#2026-07"))] == ["bill_notice_held"]
    # WHEN a copy of the message arrives again in the night, and the release runs a minute early
    with time_machine.travel(local(demo_config, date(2026, 12, 3), 3, 0), tick=False):
        assert handle([notice]) == {"batchItemFailures": []}
    with time_machine.travel(local(demo_config, date(2026, 12, 3), 7, 59), tick=False):
        assert release() == {"released": 0}
    assert sent_sms() == [] and len(sent_emails()) == 1
    # AND the release runs at 08:00: the message is queued again and the messenger sends the SMS
    with time_machine.travel(local(demo_config, date(2026, 12, 3), 8, 0), tick=False):
        assert release() == {"released": 1}
        bodies = requeued(aws)
        assert [json.loads(b)["message_id"] for b in bodies] == [notice.message_id]
        lambda_handler(sqs_event(bodies), LambdaContext())
        # a second release (a retried schedule) queues it again; the copy is skipped
        assert release() == {"released": 0}
    assert len(sent_sms()) == 1 and len(sent_emails()) == 1
    item = MessageItem.get(notice.message_id)
    assert item.status == "sent" and list(item.channels) == ["email", "sms"] and item.held is None


def test_email_only_message_is_not_held_in_quiet_hours(owners, demo_config):
    with time_machine.travel(local(demo_config, NIGHT, 23, 45), tick=False):
        handle([bill_notice("O0002", "A-102")])
    assert len(sent_emails()) == 1
    assert MessageItem.get("bill_notice#A-102#2026-07").status == "sent"


def test_quiet_hours_hold_every_channel_of_a_phone_only_owner(owners, demo_config):
    with time_machine.travel(local(demo_config, NIGHT, 6, 0), tick=False):  # early morning
        handle([bill_notice("O0003", "A-103")])
    assert sent_sms() == [] and sent_emails() == []
    item = MessageItem.get("bill_notice#A-103#2026-07")
    assert item.status == "held" and item.held_until == local(demo_config, NIGHT, 8, 0)


def test_reminders_34_a_reminder_held_overnight_whose_bill_is_paid_by_morning_is_not_sent(
    owners, demo_config, aws
):
    bill = store_bill(make_bill("A-101", "2026-07", owner_id="O0001"))
    reminder = step_message(
        bill, FRIENDLY_REMINDER, today=date(2026, 7, 16), pay_url="https://pay.example.test/p"
    )
    with time_machine.travel(local(demo_config, NIGHT, 21, 0), tick=False):
        handle([reminder])
    assert MessageItem.get(reminder.message_id).status == "held"
    # WHEN the owner pays during the night
    BillItem.get(bill.bill_id).update(
        actions=[BillItem.status.set(STATUS_PAID), BillItem.paid_minor.set(bill.total_minor)]
    )
    with time_machine.travel(local(demo_config, date(2026, 12, 3), 8, 0), tick=False):
        release()
        lambda_handler(sqs_event(requeued(aws)), LambdaContext())
    # THEN the SMS never goes: the released message re-read its bill
    assert sent_sms() == []
    assert MessageItem.get(reminder.message_id).status == "dropped"


# -- the weekly cap (demo: 3 nudges a week; essential messages are never capped) -----------------


def _nudges(bill, count: int, tag: str) -> list[MessageRequest]:
    first = step_message(
        bill, FRIENDLY_REMINDER, today=date(2026, 7, 16), pay_url="https://pay.example.test/p"
    )
    return [first.model_copy(update={"message_id": f"{first.message_id}#{tag}{n}"}) for n in range(count)]


def test_the_fourth_nudge_in_a_week_is_capped_and_essential_messages_still_go(owners, demo_config):
    assert demo_config.messaging.weekly_cap == 3
    bill = store_bill(make_bill("A-102", "2026-07", owner_id="O0002"))  # O0002: e-mail only
    nudges = _nudges(bill, 4, "w")
    # GIVEN three nudges on Monday, Wednesday and Friday, in separate batches
    for day, nudge in zip((7, 9, 11), nudges[:3], strict=True):
        with time_machine.travel(local(demo_config, date(2026, 12, day), 10), tick=False):
            handle([nudge])
    # WHEN a fourth comes on Saturday in one batch with a notice and a receipt-like essential one
    with time_machine.travel(local(demo_config, date(2026, 12, 12), 10), tick=False):
        assert handle([nudges[3], bill_notice("O0002", "A-102")]) == {"batchItemFailures": []}
    # THEN the fourth nudge is recorded as capped and not sent; the notice went
    assert MessageItem.get(nudges[3].message_id).status == "capped"
    assert "weekly cap" in MessageItem.get(nudges[3].message_id).note
    assert [MessageItem.get(n.message_id).status for n in nudges[:3]] == ["sent"] * 3
    assert MessageItem.get("bill_notice#A-102#2026-07").status == "sent"
    assert len(sent_emails()) == 4
    events = [e.event for e in ledger.entries(ledger.bill_entity(bill.bill_id))]
    assert events.count("overdue_reminder_capped") == 1
    # AND a capped message stays capped when its copy comes again
    with time_machine.travel(local(demo_config, date(2026, 12, 12), 11), tick=False):
        handle([nudges[3]])
    assert len(sent_emails()) == 4


def test_the_week_turns_on_monday_at_midnight_local_not_utc(owners, demo_config):
    bill = store_bill(make_bill("A-102", "2026-07", owner_id="O0002"))
    nudges = _nudges(bill, 4, "b")
    # GIVEN three nudges on Sunday 6 December 2026, the last at 23:30 local (15:30 UTC)
    with time_machine.travel(local(demo_config, date(2026, 12, 6), 23, 30), tick=False):
        handle(nudges[:3])
    assert [MessageItem.get(n.message_id).status for n in nudges[:3]] == ["sent"] * 3
    # WHEN a fourth comes at 00:30 on Monday local, still Sunday in UTC (16:30)
    monday = local(demo_config, date(2026, 12, 7), 0, 30)
    assert monday.astimezone(UTC).date() == date(2026, 12, 6)
    with time_machine.travel(monday, tick=False):
        handle([nudges[3]])
    # THEN it is a new week's first nudge (e-mail only: no SMS, so quiet hours hold nothing)
    assert MessageItem.get(nudges[3].message_id).status == "sent"
    assert CounterItem.get(contact_counter("O0002", "2026-W49")).value == 3
    assert CounterItem.get(contact_counter("O0002", "2026-W50")).value == 1
