"""RELIABILITY cases 33-34: a cycle for a period other than the next one, without an admin's
reason, is refused and bills and sends nothing; a reminder for a bill paid after it was queued is
not sent."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import boto3
import pytest
import time_machine

from api.handler import lambda_handler
from tests.route_events import LambdaContext, route_event

ADMIN = ("admin",)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def call(key: str, **kwargs) -> tuple[int, dict]:
    response = lambda_handler(route_event(key, roles=ADMIN, **kwargs), LambdaContext())
    return response["statusCode"], json.loads(response["body"] or "null")


def _queued(aws) -> int:
    attrs = boto3.client("sqs").get_queue_attributes(
        QueueUrl=aws["NOTICES_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


@pytest.mark.parametrize(
    ("today", "period"),
    [
        (datetime(2026, 3, 17, 9, 0), "2026-03"),  # the period before: issued already, or late
        (datetime(2026, 3, 16, 23, 59), "2026-04"),  # a minute before its notice day, Shanghai time
        (datetime(2026, 3, 17, 9, 0), "2026-06"),  # months ahead
    ],
)
def test_cycles_33_only_the_next_period_is_issued_without_a_reason(aws, today, period):
    with time_machine.travel(today.replace(tzinfo=SHANGHAI)):
        status, body = call("prepare_cycle", params={"period": period})
    assert status == 409 and body["error"] == "not_the_next_period"
    assert "backdated" in body["message"] and period in body["message"]
    assert _queued(aws) == 0  # nothing queued, nothing billed


def test_cycles_33_another_period_needs_a_reason_and_the_word_backdated_and_is_kept_in_the_ledger(aws):
    from propdesk.store import ledger

    out_of_turn = {"reason": "Units added late to the March cycle", "confirm": "backdated"}
    with time_machine.travel(datetime(2026, 4, 20, 9, 0, tzinfo=SHANGHAI)):
        # a reason too short, another word, a missing word: refused, nothing queued
        for body in (
            {"reason": "late", "confirm": "backdated"},
            {"reason": out_of_turn["reason"], "confirm": "yes"},
            {"reason": out_of_turn["reason"]},
        ):
            status, _ = call("prepare_cycle", params={"period": "2026-03"}, body=body)
            assert status == 422, body
        assert _queued(aws) == 0
        status, answer = call("prepare_cycle", params={"period": "2026-03"}, body=out_of_turn)
    assert status == 202 and answer["period"] == "2026-03"
    [entry] = ledger.entries(ledger.cycle_entity("2026-03"), "out_of_turn#")
    assert entry.event == "issued_out_of_turn"
    assert entry.data["reason"] == out_of_turn["reason"] and entry.data["next_period"] == "2026-05"
    assert entry.data["staff_id"]


def test_cycles_33_a_period_with_no_fee_standard_in_force_is_never_billed(aws, demo_config):
    # The demo's standard SH-2026-01 takes effect on 2026-01-01: 2025-01 has none, backdated or not
    body = {"reason": "Billing the year before we took over", "confirm": "backdated"}
    status, answer = call("prepare_cycle", params={"period": "2025-01"}, body=body)
    assert status == 409 and answer["error"] == "no_fee_standard"
    assert demo_config.fee_standard.version in answer["message"]
    assert _queued(aws) == 0
