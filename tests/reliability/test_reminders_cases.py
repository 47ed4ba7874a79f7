"""RELIABILITY case 34: a reminder or a ladder step for a bill paid after it was queued is not
sent. The messenger reads the bill just before sending; the message is recorded as dropped, once,
and the bill's ledger says why."""

from __future__ import annotations

from datetime import date

import pytest
from ops_support import import_demo_units

from propdesk.domain.billing import STATUS_PAID
from propdesk.domain.overdue import FRIENDLY_REMINDER
from propdesk.services.messenger import Messenger, Pacer
from propdesk.services.overdue import step_message
from propdesk.store import ledger
from propdesk.store.messages import DROPPED, MessageRepository
from propdesk.store.models import BillItem
from tests.paytools import make_bill, store_bill

# What goes out, not when: messages are sent in the daytime (quiet hours hold SMS overnight).
pytestmark = pytest.mark.usefixtures("daytime")


class Recording:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, **kwargs) -> str:
        self.sent.append(kwargs.get("to") or kwargs.get("phone") or "")
        return f"id-{len(self.sent)}"


@pytest.fixture
def owner_bill(aws, demo_config):
    import_demo_units(demo_config, 1)  # A-101, owner O0001
    return store_bill(make_bill("A-101", "2026-07", owner_id="O0001"))


def _set(bill_id: str, *, status: str, paid_minor: int) -> None:
    """What a payment does to the bill, as the tables hold it (the messenger reads it there)."""
    BillItem.get(bill_id).update(actions=[BillItem.status.set(status), BillItem.paid_minor.set(paid_minor)])


def _messenger(demo_config, email, sms) -> Messenger:
    return Messenger(demo_config, email=email, sms=sms, pacer=Pacer(100, sleep=lambda _s: None))


def _reminder(bill):
    return step_message(
        bill, FRIENDLY_REMINDER, today=date(2026, 7, 16), pay_url="https://pay.example.test/pay/t"
    )


def test_reminders_34_a_reminder_for_a_bill_paid_after_it_was_queued_is_not_sent(owner_bill, demo_config):
    # GIVEN the ladder queued a reminder for the open bill
    request = _reminder(owner_bill)
    assert request.while_unpaid == owner_bill.bill_id
    # WHEN the owner pays before the messenger gets to it
    _set(owner_bill.bill_id, status=STATUS_PAID, paid_minor=owner_bill.total_minor)
    email, sms = Recording(), Recording()
    outcome = _messenger(demo_config, email, sms).deliver(request)
    # THEN nothing goes out; the message is dropped, once, and the bill's ledger says so
    assert outcome.status == DROPPED and email.sent == [] and sms.sent == []
    assert MessageRepository().get(request.message_id).status == DROPPED
    again = _messenger(demo_config, email, sms).deliver(request)
    assert again.status == "skipped" and email.sent == []
    events = [e.event for e in ledger.entries(ledger.bill_entity(owner_bill.bill_id))]
    assert "overdue_reminder_dropped" in events


def test_reminders_34_a_reminder_for_a_bill_still_owing_goes_out(owner_bill, demo_config):
    # a partial payment leaves the bill owing: the reminder is still worth sending
    _set(owner_bill.bill_id, status="open", paid_minor=owner_bill.total_minor // 2)
    email, sms = Recording(), Recording()
    outcome = _messenger(demo_config, email, sms).deliver(_reminder(owner_bill))
    assert outcome.status == "sent" and (email.sent or sms.sent)
