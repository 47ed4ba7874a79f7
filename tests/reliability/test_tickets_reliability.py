"""RELIABILITY 19: the same request submitted twice within a minute -> one ticket."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import time_machine
from ops_support import drain

from api.handler import lambda_handler
from propdesk.store.models import TicketItem
from tests.route_events import LambdaContext, route_event

REQUEST = {
    "kind": "repair",
    "category": "door",
    "unit_id": "B-305",
    "channel": "front_desk",
    "summary": "Lock broken",
}


def _post(body):
    event = route_event("create_ticket", body=body, roles=("agent",))
    return lambda_handler(event, LambdaContext())


def test_tickets_19_double_submit_within_a_minute(aws):
    # WHEN the agent double-clicks, and the client retries 40 seconds later in the same minute
    with time_machine.travel(datetime(2026, 7, 3, 1, 0, 5, tzinfo=UTC), tick=False):
        first = _post(REQUEST)
        second = _post(REQUEST)
    with time_machine.travel(datetime(2026, 7, 3, 1, 0, 45, tzinfo=UTC), tick=False):
        third = _post(REQUEST)
        queued = drain(aws["TICKETS_QUEUE_URL"])
    # THEN one ticket exists; the repeats answer 200 with the same id
    ids = {json.loads(r["body"])["ticket_id"] for r in (first, second, third)}
    assert len(ids) == 1
    assert [r["statusCode"] for r in (first, second, third)] == [201, 200, 200]
    assert TicketItem.count() == 1
    # (each repeat re-queues routing while the ticket is still "received"; routing is conditional)
    assert {json.loads(b)["ticket_id"] for b in queued} == ids


def test_tickets_19_double_submit_across_a_minute_boundary(aws):
    # WHEN the retry comes 20 seconds later but in the next clock minute
    with time_machine.travel(datetime(2026, 7, 3, 1, 0, 50, tzinfo=UTC), tick=False):
        first = _post(REQUEST)
    with time_machine.travel(datetime(2026, 7, 3, 1, 1, 10, tzinfo=UTC), tick=False):
        second = _post(REQUEST)
    # THEN it is still the same ticket
    assert json.loads(first["body"])["ticket_id"] == json.loads(second["body"])["ticket_id"]
    assert second["statusCode"] == 200
    assert TicketItem.count() == 1


def test_tickets_19_same_text_more_than_a_minute_later_is_a_new_ticket(aws):
    # GIVEN a request, and the same text again 70 seconds later (a new call about the same fault)
    with time_machine.travel(datetime(2026, 7, 3, 1, 0, 50, tzinfo=UTC), tick=False):
        first = _post(REQUEST)
    with time_machine.travel(datetime(2026, 7, 3, 1, 2, 0, tzinfo=UTC), tick=False):
        second = _post(REQUEST)
    # THEN it is a ticket of its own
    assert json.loads(first["body"])["ticket_id"] != json.loads(second["body"])["ticket_id"]
    assert second["statusCode"] == 201
    assert TicketItem.count() == 2
