"""The service desk on moto: requests taken through the api function's ticket routes (HTTP API
v2 events), then routed by the tickets function's queue consumer."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import time_machine
from ops_support import drain

from api.handler import lambda_handler as api_handler
from infra.local.events import sqs_event
from propdesk import naming
from propdesk.messaging.requests import parse_message
from propdesk.store.models import LedgerItem, TicketItem
from tests.route_events import LambdaContext, route_event
from tickets.handler import lambda_handler

NOW = datetime(2026, 7, 3, 1, 0, 10, tzinfo=UTC)  # 09:00 in Shanghai
REQUEST = {
    "kind": "repair",
    "category": "water",
    "unit_id": "A-101",
    "channel": "hotline",
    "summary": "Kitchen pipe leaking under the sink",
    "emergency": True,
}


TICKETS_QUEUE_ARN = f"arn:aws:sqs:ap-southeast-1:123456789012:{naming.queue_name('demo', 'tickets')}"


def _post(body, roles=("agent",)):
    return api_handler(route_event("create_ticket", body=body, roles=roles), LambdaContext())


def _get(ticket_id, roles=("cashier",)):
    return api_handler(
        route_event("get_ticket", params={"ticket_id": ticket_id}, roles=roles), LambdaContext()
    )


def _route(bodies):
    """The tickets function consuming these tickets-queue messages."""
    return lambda_handler(sqs_event(bodies, queue_arn=TICKETS_QUEUE_ARN), LambdaContext())


def test_agent_takes_a_request_and_it_is_routed_to_engineering(aws):
    with time_machine.travel(NOW, tick=False):
        # WHEN an agent records an emergency repair
        response = _post(REQUEST)
        assert response["statusCode"] == 201
        created = json.loads(response["body"])
        assert created["status"] == "received" and created["created"] is True
        # AND the router consumes the queued ticket
        queued = drain(aws["TICKETS_QUEUE_URL"])
        assert [json.loads(b) for b in queued] == [{"ticket_id": created["ticket_id"]}]
        assert _route(queued) == {"batchItemFailures": []}
        work_orders = [parse_message(b) for b in drain(aws["MESSAGES_QUEUE_URL"])]
    # THEN the ticket is dispatched to engineering, urgent, due in two hours
    read = json.loads(_get(created["ticket_id"])["body"])
    assert read["status"] == "dispatched"
    assert read["department"] == "engineering"
    assert read["priority"] == "urgent"
    assert read["due_at"] == "2026-07-03T03:00:10+00:00"
    # AND one work order goes to the department's mailbox
    (order,) = work_orders
    assert order.message_id == f"work_order#{created['ticket_id']}"
    assert order.to_email == "engineering@jinxiu-garden.example.com"
    assert order.channels == ("email",)
    assert order.context["summary"] == REQUEST["summary"]
    assert [i.seq for i in LedgerItem.query(f"ticket#{created['ticket_id']}")] == ["received", "routed"]


def test_out_of_scope_request_is_recorded_without_a_work_order(aws):
    with time_machine.travel(NOW, tick=False):
        created = json.loads(_post({**REQUEST, "category": "tax_advice", "kind": "consultation"})["body"])
        _route(drain(aws["TICKETS_QUEUE_URL"]))
        assert drain(aws["MESSAGES_QUEUE_URL"]) == []
    assert json.loads(_get(created["ticket_id"])["body"])["status"] == "out_of_scope"


def test_routing_twice_sends_one_work_order_id(aws):
    with time_machine.travel(NOW, tick=False):
        created = json.loads(_post(REQUEST)["body"])
        body = drain(aws["TICKETS_QUEUE_URL"])[0]
        _route([body, body])
        ids = {parse_message(b).message_id for b in drain(aws["MESSAGES_QUEUE_URL"])}
    assert ids == {f"work_order#{created['ticket_id']}"}
    assert TicketItem.get(created["ticket_id"]).version == 2  # created, then routed once


@pytest.mark.parametrize(
    ("roles", "status", "error"),
    [
        (None, 401, "unauthorized"),
        (("cashier",), 403, "forbidden"),
        (("dept-engineering",), 403, "forbidden"),
    ],
)
def test_post_refuses_without_the_right_role(aws, roles, status, error):
    response = _post(REQUEST, roles=roles)
    assert response["statusCode"] == status
    assert json.loads(response["body"])["error"] == error
    assert TicketItem.count() == 0


def test_get_without_token_is_401(aws):
    assert _get("T-0123456789", roles=None)["statusCode"] == 401


@pytest.mark.parametrize(
    "body",
    [
        {**REQUEST, "kind": "burglary"},
        {**REQUEST, "channel": "fax"},
        {**REQUEST, "summary": ""},
        {**REQUEST, "summary": "x" * 2001},
        {**REQUEST, "extra": 1},
        {k: v for k, v in REQUEST.items() if k != "category"},
        {**REQUEST, "emergency": "maybe"},
        "not json",
        [1, 2],
    ],
)
def test_bad_requests_get_a_clear_4xx(aws, body):
    response = _post(body)
    assert response["statusCode"] == 422
    payload = json.loads(response["body"])
    assert payload["error"] == "invalid_request"
    assert payload["details"] and all(set(d) == {"field", "problem"} for d in payload["details"])
    assert "Kitchen pipe" not in response["body"]
    assert TicketItem.count() == 0


def test_oversized_body_is_413(aws):
    response = _post({**REQUEST, "summary": "x" * 20_000})
    assert response["statusCode"] == 413


def test_unknown_ticket_is_404(aws):
    response = _get("T-doesnotexist")
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"] == "not_found"
