"""RELIABILITY 12 for dunning: a double fire, or a crash between queueing and recording, sends
the friendly reminder once."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine
from ops_support import drain, import_demo_units, sent_emails

import messenger.handler as messenger_handler
from infra.local.events import LambdaContext, scheduler_event
from infra.local.pollers import pump
from overdue.handler import lambda_handler
from propdesk.domain.billing import Bill, BillLine
from propdesk.services.messenger import Messenger, Pacer
from propdesk.services.overdue import run_ladder
from propdesk.store.bills import BillRepository
from propdesk.store.models import LedgerItem, MessageItem

# What goes out, not when: messages are sent in the daytime (quiet hours hold SMS overnight).
pytestmark = pytest.mark.usefixtures("daytime")

DAY_AFTER_DUE = datetime(2026, 7, 16, 1, 30, tzinfo=UTC)


class Crash(RuntimeError):
    pass


@pytest.fixture
def overdue_bill(aws, demo_config):
    import_demo_units(demo_config, 1)  # A-101, owner O0001
    BillRepository().create(
        Bill(
            "A-101#2026-07",
            "A-101",
            "O0001",
            "2026-07",
            "SH-2026-01",
            (BillLine("waste", "per_unit", 1000, 1, 1000),),
            1000,
            "CNY",
            date(2026, 7, 15),
            "open",
            datetime(2026, 6, 16, 1, tzinfo=UTC),
        )
    )


def test_overdue_12_double_fire(aws, overdue_bill):
    # WHEN the daily run fires twice
    with time_machine.travel(DAY_AFTER_DUE, tick=False):
        first = lambda_handler(scheduler_event({"action": "run_ladder"}), LambdaContext())
        second = lambda_handler(scheduler_event({"action": "run_ladder"}), LambdaContext())
        queued = drain(aws["MESSAGES_QUEUE_URL"])
    # THEN one reminder is queued and one step recorded
    assert (first["steps_taken"], second["steps_taken"]) == (1, 0)
    assert len(queued) == 1
    assert LedgerItem.count("bill#A-101#2026-07") == 1


def test_overdue_12_crash_after_queueing_rerun_sends_once(aws, demo_config, overdue_bill, monkeypatch):
    def crash(*args, **kwargs):
        raise Crash("died before recording the step")

    with time_machine.travel(DAY_AFTER_DUE, tick=False):
        # GIVEN the run queued the reminder and died before recording the step
        with pytest.raises(Crash):
            run_ladder(date(2026, 7, 16), config=demo_config, now=DAY_AFTER_DUE, append=crash)
        # WHEN the run is repeated
        rerun = lambda_handler(scheduler_event({"action": "run_ladder"}), LambdaContext())
        # AND the messenger delivers everything queued
        messenger = Messenger(demo_config, pacer=Pacer(100, sleep=lambda _s: None))
        monkeypatch.setattr(messenger_handler, "messenger", lambda: messenger)
        pump(aws["MESSAGES_QUEUE_URL"], messenger_handler.lambda_handler)
    # THEN the reminder was queued twice under one id and sent once
    assert rerun["steps_taken"] == 1
    assert len(sent_emails()) == 1
    assert MessageItem.get("overdue_reminder#A-101#2026-07#1").status == "sent"
    assert [i.seq for i in LedgerItem.query("bill#A-101#2026-07")] == [
        "reminder#1",
        "sent#overdue_reminder#A-101#2026-07#1",
    ]
