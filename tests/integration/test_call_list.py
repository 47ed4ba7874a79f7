"""The call list (F3): an owner the pre-due reminder cannot reach is called instead; each call's
outcome is kept on the list and in the bill's ledger."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import time_machine
from ops_support import drain, import_demo_units

from api.handler import lambda_handler as api_handler
from infra.local.events import LambdaContext, scheduler_event, staff_claims
from overdue.handler import lambda_handler as overdue_handler
from propdesk.domain.billing import Bill, BillLine
from propdesk.domain.units import Owner
from propdesk.messaging.requests import parse_message
from propdesk.store import ledger
from propdesk.store.bills import BillRepository
from propdesk.store.owners import OwnerRepository
from tests.route_events import route_event

ISSUED = datetime(2026, 6, 16, 1, tzinfo=UTC)
REMINDER_DAY = datetime(2026, 7, 8, 1, 30, tzinfo=UTC)  # 7 days before 2026-07's due date


def _bill(unit_id: str, owner_id: str) -> Bill:
    return Bill(
        f"{unit_id}#2026-07", unit_id, owner_id, "2026-07", "SH-2026-01",
        (BillLine("waste", "per_unit", 1000, 1, 1000),), 1000, "CNY", date(2026, 7, 15), "open", ISSUED,
    )  # fmt: skip


def staff(key: str, role: str = "agent", **kwargs) -> tuple[int, dict]:
    event = route_event(key, claims=staff_claims(role, sub="agent-zhao"), **kwargs)
    response = api_handler(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"] or "null")


def test_an_owner_no_message_can_reach_is_called_and_each_call_is_kept(aws, demo_config):
    import_demo_units(demo_config, 1)  # A-101's owner O0001 has an e-mail address
    # GIVEN an owner with a phone that may not take an SMS and no e-mail address
    OwnerRepository().put(
        Owner("O0900", "周先生", "+8613800000900", None, "zh-CN", sms_consent=False), updated_at=ISSUED
    )
    repo = BillRepository()
    repo.create(_bill("A-101", "O0001"))
    repo.create(_bill("A-900", "O0900"))
    # WHEN the daily run fires on the reminder day, twice
    with time_machine.travel(REMINDER_DAY, tick=False):
        first = overdue_handler(scheduler_event({"action": "run_ladder"}), LambdaContext())
        again = overdue_handler(scheduler_event({"action": "run_ladder"}), LambdaContext())
        queued = [parse_message(b) for b in drain(aws["MESSAGES_QUEUE_URL"])]
    # THEN the one a message can reach gets the reminder; the other is on the call list, once
    assert (first["pre_due_reminded"], first["pre_due_to_call"]) == (1, 1)
    assert again["pre_due_to_call"] == 1
    assert {m.context["unit_id"] for m in queued} == {"A-101"}
    status, listed = staff("list_calls")
    assert status == 200
    [item] = listed["items"]
    assert (item["unit_id"], item["owner_name"], item["phone"], item["owed_minor"]) == (
        "A-900",
        "周先生",
        "+8613800000900",
        1000,
    )
    assert item["why"] == "no usable channel" and item["call_list_id"] == "CL202607"
    path = {"call_list_id": item["call_list_id"], "line": str(item["line"])}
    # WHEN nobody answers, the owner stays on the list; a promise to pay takes them off it
    status, called = staff("record_call", params=path, body={"outcome": "no_answer"})
    assert status == 200 and called["state"] == "open" and len(staff("list_calls")[1]["items"]) == 1
    status, called = staff(
        "record_call", params=path, body={"outcome": "promised_to_pay", "note": "周五来前台"}
    )
    assert status == 200 and called["state"] == "done"
    assert [c["outcome"] for c in called["calls"]] == ["no_answer", "promised_to_pay"]
    assert staff("list_calls")[1]["items"] == []
    # AND a call on a line done already is refused; the ledger keeps both calls
    status, refused = staff("record_call", params=path, body={"outcome": "reached"})
    assert status == 409 and refused["error"] == "done"
    entries = ledger.entries(ledger.bill_entity("A-900#2026-07"), "call#")
    assert [(e.event, e.data["outcome"]) for e in entries] == [
        ("call_recorded", "no_answer"),
        ("call_recorded", "promised_to_pay"),
    ]
    # AND bad input changes nothing
    assert staff("record_call", params=path, body={"outcome": "maybe"})[0] == 422
    assert staff("record_call", params={**path, "line": "99"}, body={"outcome": "reached"})[0] == 404
