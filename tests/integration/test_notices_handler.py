"""The notices function on moto: scheduled run on the notice day, queue worker issuing bills."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine
from ops_support import approved_cycle, drain, drain_json, import_demo_units

from infra.config import units_csv_path
from infra.local.events import LambdaContext, scheduler_event, sqs_event
from notices.handler import lambda_handler
from propdesk import naming
from propdesk.messaging.requests import parse_message
from propdesk.payments.links import verify_pay_link
from propdesk.services.cycles import approve_cycle
from propdesk.services.errors import DeskError
from propdesk.services.units import import_units_csv
from propdesk.store.bills import BillRepository
from propdesk.store.models import BillItem, LedgerItem
from tests.testkeys import TEST_LINK_KEY

NOTICES_QUEUE_ARN = f"arn:aws:sqs:ap-southeast-1:123456789012:{naming.queue_name('demo', 'notices')}"
# 16 June 2026, 09:00 in Shanghai: the notice day of period 2026-07 (15 days' lead).
NOTICE_DAY_0900_LOCAL = datetime(2026, 6, 16, 1, 0, tzinfo=UTC)


def _import(demo_config):
    text = units_csv_path(demo_config).read_text(encoding="utf-8")
    assert import_units_csv(text, config=demo_config).errors == []


def test_scheduled_run_on_the_notice_day_plans_batches_of_units(aws, demo_config):
    _import(demo_config)
    # WHEN the daily schedule fires on the notice day
    with time_machine.travel(NOTICE_DAY_0900_LOCAL, tick=False):
        result = lambda_handler(scheduler_event({"action": "plan_cycle"}), LambdaContext())
        # (read inside the travel: the queue would expire messages from the "past")
        batches = drain_json(aws["NOTICES_QUEUE_URL"])
    # THEN the draft of period 2026-07 is being prepared: every unit is queued once, 50 per
    # message, to be computed (not issued: nothing leaves before a manager approves)
    assert result == {"period": "2026-07", "units": 312, "batches": 7, "state": "preparing"}
    assert len(batches) == 7
    assert {b["period"] for b in batches} == {"2026-07"}
    assert {b["kind"] for b in batches} == {"tally_bills"}
    assert sorted(b["batch"] for b in batches) == list(range(1, 8))
    unit_ids = [u for b in batches for u in b["unit_ids"]]
    assert len(unit_ids) == len(set(unit_ids)) == 312
    assert max(len(b["unit_ids"]) for b in batches) == 50


def test_scheduled_run_on_another_day_does_nothing(aws, demo_config):
    _import(demo_config)
    # GIVEN 23:30 UTC on 15 June is already 16 June in Shanghai, but 15 June 07:30 local is not
    with time_machine.travel(datetime(2026, 6, 14, 23, 30, tzinfo=UTC), tick=False):
        result = lambda_handler(scheduler_event({"action": "plan_cycle"}), LambdaContext())
    assert result == {"period": None, "units": 0, "batches": 0, "state": None}
    assert drain(aws["NOTICES_QUEUE_URL"]) == []


def test_notices_14_the_notice_day_follows_the_property_time_zone(aws, demo_config):
    _import(demo_config)
    # GIVEN 16:30 UTC on 15 June, which is 00:30 on 16 June in Shanghai
    with time_machine.travel(datetime(2026, 6, 15, 16, 30, tzinfo=UTC), tick=False):
        result = lambda_handler(scheduler_event({"action": "plan_cycle"}), LambdaContext())
    assert result["period"] == "2026-07"


def test_forced_period_and_unknown_action(aws, demo_config):
    _import(demo_config)
    with time_machine.travel(datetime(2026, 6, 1, 1, 0, tzinfo=UTC), tick=False):
        result = lambda_handler(
            scheduler_event({"action": "plan_cycle", "period": "2026-09"}), LambdaContext()
        )
    assert result["period"] == "2026-09"
    try:
        lambda_handler(scheduler_event({"action": "drop_tables"}), LambdaContext())
    except ValueError as exc:
        assert "plan_cycle" in str(exc)
    else:
        raise AssertionError("an unknown action must fail")


def test_worker_issues_itemised_bills_and_queues_one_notice_each(aws, demo_config):
    # (the first 200 units: buildings A, B and part of C without an elevator; moto's queues slow
    # down with hundreds of messages)
    import_demo_units(demo_config, 200)
    with time_machine.travel(NOTICE_DAY_0900_LOCAL, tick=False):
        lambda_handler(scheduler_event({"action": "plan_cycle"}), LambdaContext())
        # WHEN the worker computes the draft (one record per invocation, as configured)
        for body in drain(aws["NOTICES_QUEUE_URL"]):
            response = lambda_handler(sqs_event([body], queue_arn=NOTICES_QUEUE_ARN), LambdaContext())
            assert response == {"batchItemFailures": []}
        # THEN nothing is issued or sent before approval
        assert BillItem.count() == 0 and drain(aws["MESSAGES_QUEUE_URL"]) == []
        # WHEN the manager approves and the worker gets the issue batches
        approve_cycle("2026-07", config=demo_config, staff_id="admin-1", now=NOTICE_DAY_0900_LOCAL)
        for body in drain(aws["NOTICES_QUEUE_URL"]):
            response = lambda_handler(sqs_event([body], queue_arn=NOTICES_QUEUE_ARN), LambdaContext())
            assert response == {"batchItemFailures": []}
        notices = [parse_message(body) for body in drain(aws["MESSAGES_QUEUE_URL"])]
    # THEN each unit has one bill for the period, itemised, due on the 15th
    assert BillItem.count() == 200
    bill = BillRepository().get("A-101#2026-07")
    assert bill is not None
    assert [line.code for line in bill.lines] == ["service", "common_energy", "elevator", "waste"]
    assert bill.total_minor == 25024 + 2681 + 4022 + 1000
    assert bill.due_date == date(2026, 7, 15)
    assert bill.issued_at == NOTICE_DAY_0900_LOCAL
    no_elevator = BillRepository().get("C-101#2026-07")
    assert no_elevator is not None and "elevator" not in [line.code for line in no_elevator.lines]
    # AND one notice per bill, with a pay link signed for that bill and unit
    assert len(notices) == 200
    notice = next(n for n in notices if n.context["bill_id"] == "A-101#2026-07")
    assert notice.message_id == "bill_notice#A-101#2026-07"
    assert notice.template == "bill_notice"
    assert notice.owner_id == bill.owner_id
    assert notice.context["total_minor"] == bill.total_minor
    assert notice.context["due_date"] == "2026-07-15"
    assert notice.context["lines"][0] == {"code": "service", "amount_minor": 25024}
    assert notice.context["pay_url"].startswith("https://pay.example.test/pay/")
    token = notice.context["pay_url"].rsplit("/", 1)[1]
    link = verify_pay_link(token, key=TEST_LINK_KEY.encode(), now=NOTICE_DAY_0900_LOCAL)
    assert (link.bill_id, link.unit_id) == ("A-101#2026-07", "A-101")
    assert (link.expires_at - NOTICE_DAY_0900_LOCAL).days == demo_config.payment.link_ttl_days
    # AND the ledger records each issue
    assert LedgerItem.count("bill#A-101#2026-07") == 1


def test_malformed_batch_fails_only_itself(aws, demo_config):
    _import(demo_config)
    approved_cycle("2026-07", now=NOTICE_DAY_0900_LOCAL)
    good = '{"kind": "issue_bills", "period": "2026-07", "unit_ids": ["A-101"]}'
    event = sqs_event(
        ["not json", '{"kind": "issue_bills", "period": "2026-13", "unit_ids": ["A-101"]}', good]
    )
    response = lambda_handler(event, LambdaContext())
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert failed == {event["Records"][0]["messageId"], event["Records"][1]["messageId"]}
    assert BillItem.count() == 1


def test_the_scheduled_run_bills_nothing_for_a_period_with_no_fee_standard_in_force(aws, demo_config):
    _import(demo_config)
    # GIVEN the notice day of 2025-12, before the demo's standard takes effect (2026-01-01)
    with time_machine.travel(datetime(2025, 11, 16, 1, 0, tzinfo=UTC), tick=False):
        # WHEN the schedule fires THEN the run fails (the function's error alarm) and queues nothing
        with pytest.raises(DeskError) as refused:
            lambda_handler(scheduler_event({"action": "plan_cycle"}), LambdaContext())
        assert drain(aws["NOTICES_QUEUE_URL"]) == []
    assert refused.value.code == "no_fee_standard" and "2025-12" in refused.value.message


def test_the_planner_reads_units_without_a_scan(aws, demo_config, monkeypatch):
    from propdesk.store.models import UnitItem

    _import(demo_config)

    def no_scan(*args, **kwargs):
        raise AssertionError("the planner scanned the units table")

    monkeypatch.setattr(UnitItem, "scan", no_scan)
    with time_machine.travel(NOTICE_DAY_0900_LOCAL, tick=False):
        result = lambda_handler(scheduler_event({"action": "plan_cycle"}), LambdaContext())
        batches = drain_json(aws["NOTICES_QUEUE_URL"])
    # every unit of every building, once, from the building index
    assert result == {"period": "2026-07", "units": 312, "batches": 7, "state": "preparing"}
    unit_ids = [u for b in batches for u in b["unit_ids"]]
    assert len(set(unit_ids)) == 312
    assert {u.split("-")[0] for u in unit_ids} == {b.code for b in demo_config.buildings}
