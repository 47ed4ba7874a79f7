"""RELIABILITY 12 and 15 for the notice cycle: a double fire or a crash halfway and a rerun
create no duplicate bill and no second notice id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from ops_support import approved_cycle, drain, drain_json, import_demo_units

from infra.local.events import LambdaContext, scheduler_event, sqs_event
from notices.handler import lambda_handler
from propdesk.messaging.requests import MESSAGES_QUEUE, parse_message
from propdesk.queues import QueueProducer
from propdesk.services.cycles import approve_cycle, summary
from propdesk.services.notices import NOTICES_QUEUE, issue_bills, plan_cycle
from propdesk.store.bills import BillRepository
from propdesk.store.models import BillItem, LedgerItem

NOTICE_DAY = datetime(2026, 6, 16, 1, 0, tzinfo=UTC)


UNITS = 130  # three batches of 50 (the last one short)


@pytest.fixture
def units(aws, demo_config):
    import_demo_units(demo_config, UNITS)


class Crash(RuntimeError):
    pass


class CrashingOutbox:
    """The messages queue's producer, dying like a killed Lambda would on the ``crash_on``-th
    send; the sends before it queue normally."""

    def __init__(self, crash_on: int) -> None:
        self.queue = QueueProducer(MESSAGES_QUEUE)
        self.calls = 0
        self.crash_on = crash_on

    def send(self, bodies):
        self.calls += 1
        if self.calls == self.crash_on:
            raise Crash("function timed out")
        return self.queue.send(bodies)


class CrashingBatches:
    """The notices queue's producer: queues ``crash_after`` batches, then the planner dies."""

    def __init__(self, crash_after: int) -> None:
        self.queue = QueueProducer(NOTICES_QUEUE)
        self.sent = 0
        self.crash_after = crash_after

    def send(self, bodies):
        if self.sent == self.crash_after:
            raise Crash("planner died")
        self.sent += 1
        return self.queue.send(bodies)


def test_notices_12_double_fire(aws, demo_config, units):
    # GIVEN the notice-day schedule fires twice (scheduler retry, or an operator's manual run)
    with time_machine.travel(NOTICE_DAY, tick=False):
        first = lambda_handler(scheduler_event({"action": "plan_cycle"}), LambdaContext())
        second = lambda_handler(scheduler_event({"action": "plan_cycle"}), LambdaContext())
        tallies = drain(aws["NOTICES_QUEUE_URL"])
        # WHEN the worker computes every batch of both runs
        for body in tallies:
            assert lambda_handler(sqs_event([body]), LambdaContext()) == {"batchItemFailures": []}
        # THEN the draft counts each unit once
        draft = summary("2026-07")
        assert (first["state"], second["state"], draft.header.state) == ("preparing", "preparing", "draft")
        assert len(tallies) == 6 and draft.bills == UNITS
        # AND a third fire after the draft is ready changes nothing
        third = lambda_handler(scheduler_event({"action": "plan_cycle"}), LambdaContext())
        assert third["state"] == "draft" and drain(aws["NOTICES_QUEUE_URL"]) == []
        approve_cycle("2026-07", config=demo_config, staff_id="admin-1", now=NOTICE_DAY)
        bodies = drain(aws["NOTICES_QUEUE_URL"])
        # WHEN every issue batch is delivered twice (SQS at least once)
        for body in bodies + bodies:
            assert lambda_handler(sqs_event([body]), LambdaContext()) == {"batchItemFailures": []}
        notices = [parse_message(b) for b in drain(aws["MESSAGES_QUEUE_URL"])]
    # THEN each unit has one bill, recorded once, and each notice id is the bill's
    assert len(bodies) == 3
    assert BillItem.count() == UNITS
    assert LedgerItem.count("bill#A-101#2026-07") == 1
    ids = [n.message_id for n in notices]
    assert len(set(ids)) == UNITS  # repeats carry the same id: the messenger sends once
    # AND a repeated notice is identical, pay link included (the link is signed from the stored bill)
    repeated = [n for n in notices if n.message_id == "bill_notice#A-101#2026-07"]
    assert len(repeated) == 2 and repeated[0] == repeated[1]


def test_notices_15_crash_halfway_rerun(aws, demo_config, units):
    bills = BillRepository()
    with time_machine.travel(NOTICE_DAY, tick=False):
        approved_cycle("2026-07", now=NOTICE_DAY)  # the draft approved: the crash is in issuing it
        # GIVEN the planner dies after two of its three batches
        with pytest.raises(Crash):
            plan_cycle("2026-07", config=demo_config, batches=CrashingBatches(crash_after=2))
        first, second = drain_json(aws["NOTICES_QUEUE_URL"])
        # AND the worker finishes the first batch but dies on the second after writing its bills,
        # before its notices are queued
        issue_bills(first["period"], first["unit_ids"], config=demo_config, now=NOTICE_DAY)
        with pytest.raises(Crash):
            issue_bills(
                second["period"],
                second["unit_ids"],
                config=demo_config,
                now=NOTICE_DAY,
                outbox=CrashingOutbox(1),
            )
        assert BillItem.count() == 100
        assert len(drain(aws["MESSAGES_QUEUE_URL"])) == 50
        crashed_bill = bills.get(second["unit_ids"][0] + "#2026-07")
        assert crashed_bill is not None
    # WHEN an hour later the whole cycle is rerun, planner and worker, to the end
    later = NOTICE_DAY + timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        plan_cycle("2026-07", config=demo_config)
        for body in drain(aws["NOTICES_QUEUE_URL"]):
            assert lambda_handler(sqs_event([body]), LambdaContext()) == {"batchItemFailures": []}
        notices = [parse_message(b) for b in drain(aws["MESSAGES_QUEUE_URL"])]
    # THEN every unit has exactly one bill, and the bills from before the crash are untouched
    assert BillItem.count() == UNITS
    again = bills.get(crashed_bill.bill_id)
    assert again == crashed_bill
    assert again.issued_at == NOTICE_DAY
    # AND every bill has a notice queued, the crashed batch's included, one id per bill
    ids = [n.message_id for n in notices]
    assert set(ids) == {f"bill_notice#{b.bill_id}" for b in bills.list_period("2026-07")}
    assert len(ids) == len(set(ids)) == UNITS
    # AND the crashed bill's notice says what was issued the first time
    (notice,) = [n for n in notices if n.context["bill_id"] == crashed_bill.bill_id]
    assert notice.context["total_minor"] == crashed_bill.total_minor
    assert LedgerItem.count(f"bill#{crashed_bill.bill_id}") == 1
