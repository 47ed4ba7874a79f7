"""Every JSON route answers errors in one vocabulary: the same status, code, message and detail
shape for the same error, whichever router (staff bills and reports, service desk) or function
(api, payment_webhook) serves it. A staff console calling any of them reads one format."""

from __future__ import annotations

import json

import pytest

from api.handler import lambda_handler as api_handler
from infra.local.events import http_event
from payment_webhook.handler import lambda_handler as webhook_handler
from propdesk.web import staff_errors
from tests.paytools import checkout_event, event_body, make_bill, webhook_request
from tests.route_events import LambdaContext, route_event, staff_claims

TICKET = {"kind": "repair", "category": "water", "channel": "hotline", "summary": "Leak under the sink"}
ADMIN = ("admin",)
DEPT = ("dept-cleaning",)


def _answer(response: dict) -> tuple[int, dict]:
    assert response["headers"]["Content-Type"] == "application/json"
    assert response["headers"]["Cache-Control"] == "no-store"
    return response["statusCode"], json.loads(response["body"])


def _api(event: dict) -> tuple[int, dict]:
    return _answer(api_handler(event, LambdaContext()))


def _summary(period: str = "2026-03", roles=None) -> tuple[int, dict]:
    return _api(route_event("period_summary", query={"period": period}, roles=roles))


def _post_ticket(body, roles) -> tuple[int, dict]:
    return _api(route_event("create_ticket", body=body, roles=roles))


def _get_ticket(ticket_id: str, roles) -> tuple[int, dict]:
    return _api(route_event("get_ticket", params={"ticket_id": ticket_id}, roles=roles))


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        (None, (401, {"error": "unauthorized", "message": staff_errors.UNAUTHORIZED})),
        (DEPT, (403, {"error": "forbidden", "message": staff_errors.FORBIDDEN})),
    ],
    ids=["401-no-claims", "403-wrong-role"],
)
def test_refusals_are_the_same_on_staff_and_ticket_routes(aws, roles, expected):
    summary = _summary(roles=roles)
    tickets = _post_ticket(TICKET, roles=roles)
    assert summary == tickets == expected


def test_refusals_come_before_validation_on_staff_and_ticket_routes(aws):
    summary = _summary("nonsense", roles=DEPT)
    tickets = _post_ticket({**TICKET, "kind": "burglary"}, roles=DEPT)
    assert summary == tickets
    assert summary[0] == 403


def test_invalid_input_is_described_the_same_way(aws):
    status_a, summary = _summary("march", roles=ADMIN)
    status_t, tickets = _post_ticket({**TICKET, "kind": "burglary"}, roles=("agent",))
    assert status_a == status_t == 422
    # the same envelope ...
    assert {k: v for k, v in summary.items() if k != "details"} == {
        k: v for k, v in tickets.items() if k != "details"
    }
    assert summary["error"] == "invalid_request" and summary["message"] == staff_errors.INVALID_REQUEST
    # ... and the same detail shape: the field by name (no "query."/"body." prefix), never the value
    assert summary["details"] == [{"field": "period", "problem": summary["details"][0]["problem"]}]
    assert tickets["details"] == [{"field": "kind", "problem": tickets["details"][0]["problem"]}]
    assert "march" not in json.dumps(summary) and "burglary" not in json.dumps(tickets)


def test_path_parameter_errors_name_the_parameter(aws):
    status, body = _get_ticket("x", roles=("agent",))
    assert status == 422
    assert [d["field"] for d in body["details"]] == ["ticket_id"]


def test_body_that_is_not_json_is_reported_on_the_body(aws):
    status, body = _post_ticket("{not json", roles=("agent",))
    assert status == 422
    assert [d["field"] for d in body["details"]] == ["body"]


def test_unknown_route_is_the_same_404_in_both_functions(aws):
    # (API Gateway matches no route for it; a function handed such an event refuses it)
    api = _api(http_event("GET", "/staff/nothing-here", claims=staff_claims("admin")))
    webhook = _answer(webhook_handler(http_event("POST", "/webhooks/nothing-here"), LambdaContext()))
    assert api == webhook == (404, {"error": "not_found", "message": staff_errors.NO_SUCH_ROUTE})


def test_oversized_body_is_the_same_413_in_both_functions(aws):
    big = json.dumps({**TICKET, "summary": "x" * 20_000})
    tickets = _post_ticket(big, roles=("agent",))
    assert tickets == (413, {"error": "too_large", "message": "The body is larger than 16384 bytes."})
    # the webhook's limit is its own (256 KiB); a signed event over it gets the same answer
    event = checkout_event(make_bill())
    event["data"]["object"]["padding"] = "x" * 300_000
    webhook = _answer(webhook_handler(webhook_request(event_body(event)), LambdaContext()))
    assert webhook == (413, {"error": "too_large", "message": "The body is larger than 262144 bytes."})


def test_an_unexpected_failure_is_a_plain_500_without_details(aws, monkeypatch):
    # GIVEN the ticket store fails in a way nobody planned for
    import api.tickets as tickets_routes

    def broken(*_args, **_kwargs):
        raise RuntimeError("store exploded: secret detail")

    monkeypatch.setattr(tickets_routes, "get_ticket", broken)
    # WHEN a staff member reads a ticket
    status, body = _get_ticket("T-123456", roles=("agent",))
    # THEN the answer is the api function's plain 500, with nothing of the failure in it
    assert (status, body) == (500, {"error": "internal_error", "message": staff_errors.INTERNAL_ERROR})
