"""The staff API is served by two functions (api, tickets); a staff console calling both gets
errors in one vocabulary: the same status, code, message and detail shape for the same error."""

from __future__ import annotations

import json

import pytest
from ops_support import FakeLambdaContext
from ops_support import http_event as tickets_event

from api.handler import lambda_handler as api_handler
from propdesk.web import staff_errors
from tests.paytools import LambdaContextStub
from tests.paytools import http_event as api_event
from tickets.handler import lambda_handler as tickets_handler

TICKET = {"kind": "repair", "category": "water", "channel": "hotline", "summary": "Leak under the sink"}
ADMIN_CLAIMS = {"sub": "u-admin", "cognito:groups": "[admin]"}
DEPT_CLAIMS = {"sub": "u-clean", "cognito:groups": "[dept-cleaning]"}


def _api(method, path, *, claims=None, query=None, body=None, route=None):
    event = api_event(method, path, claims=claims, query=query, body=body, route=route)
    response = api_handler(event, LambdaContextStub())
    return response["statusCode"], json.loads(response["body"])


def _tickets(method, path, *, roles=None, body=None, route_key=None, path_parameters=None):
    event = tickets_event(
        method, path, roles=roles, body=body, route_key=route_key, path_parameters=path_parameters
    )
    response = tickets_handler(event, FakeLambdaContext())
    assert response["headers"]["Content-Type"] == "application/json"
    assert response["headers"]["Cache-Control"] == "no-store"
    return response["statusCode"], json.loads(response["body"])


def _post_ticket(body, roles):
    return _tickets("POST", "/staff/tickets", roles=roles, body=body, route_key="POST /staff/tickets")


@pytest.mark.parametrize(
    ("api_claims", "ticket_roles", "expected"),
    [
        (None, None, (401, {"error": "unauthorized", "message": staff_errors.UNAUTHORIZED})),
        (DEPT_CLAIMS, ("dept-cleaning",), (403, {"error": "forbidden", "message": staff_errors.FORBIDDEN})),
    ],
    ids=["401-no-claims", "403-wrong-role"],
)
def test_refusals_are_the_same_in_both_functions(aws, api_claims, ticket_roles, expected):
    api = _api("GET", "/staff/summary", query={"period": "2026-03"}, claims=api_claims)
    tickets = _post_ticket(TICKET, roles=ticket_roles)
    assert api == tickets == expected


def test_refusals_come_before_validation_in_both_functions(aws):
    api = _api("GET", "/staff/summary", query={"period": "nonsense"}, claims=DEPT_CLAIMS)
    tickets = _post_ticket({**TICKET, "kind": "burglary"}, roles=("dept-cleaning",))
    assert api == tickets
    assert api[0] == 403


def test_invalid_input_is_described_the_same_way(aws):
    status_a, api = _api("GET", "/staff/summary", query={"period": "march"}, claims=ADMIN_CLAIMS)
    status_t, tickets = _post_ticket({**TICKET, "kind": "burglary"}, roles=("agent",))
    assert status_a == status_t == 422
    # the same envelope ...
    assert {k: v for k, v in api.items() if k != "details"} == {
        k: v for k, v in tickets.items() if k != "details"
    }
    assert api["error"] == "invalid_request" and api["message"] == staff_errors.INVALID_REQUEST
    # ... and the same detail shape: the field by name (no "query."/"body." prefix), never the value
    assert api["details"] == [{"field": "period", "problem": api["details"][0]["problem"]}]
    assert tickets["details"] == [{"field": "kind", "problem": tickets["details"][0]["problem"]}]
    assert "march" not in json.dumps(api) and "burglary" not in json.dumps(tickets)


def test_path_parameter_errors_name_the_parameter(aws):
    status, body = _tickets(
        "GET",
        "/staff/tickets/x",
        roles=("agent",),
        route_key="GET /staff/tickets/{ticket_id}",
        path_parameters={"ticket_id": "x"},
    )
    assert status == 422
    assert [d["field"] for d in body["details"]] == ["ticket_id"]


def test_body_that_is_not_json_is_reported_on_the_body(aws):
    status, body = _post_ticket("{not json", roles=("agent",))
    assert status == 422
    assert [d["field"] for d in body["details"]] == ["body"]


def test_unknown_route_is_the_same_404(aws):
    api = _api("GET", "/staff/nothing-here", claims=ADMIN_CLAIMS)
    tickets = _tickets("GET", "/staff/nothing-here", roles=("agent",))
    assert api == tickets == (404, {"error": "not_found", "message": staff_errors.NO_SUCH_ROUTE})


def test_oversized_body_is_the_same_413(aws):
    big = json.dumps({**TICKET, "summary": "x" * 20_000})
    api = _api("POST", "/staff/cycles/2026-03", claims=ADMIN_CLAIMS, body=big)
    tickets = _post_ticket(big, roles=("agent",))
    assert api == tickets
    assert api == (413, {"error": "too_large", "message": "The body is larger than 16384 bytes."})


def test_an_unexpected_failure_is_a_plain_500_without_details(aws, monkeypatch):
    # GIVEN the ticket store fails in a way nobody planned for
    import tickets.handler as tickets_module

    def broken(*_args, **_kwargs):
        raise RuntimeError("store exploded: secret detail")

    monkeypatch.setattr(tickets_module, "get_ticket", broken)
    # WHEN a staff member reads a ticket
    status, body = _tickets(
        "GET",
        "/staff/tickets/T-123456",
        roles=("agent",),
        route_key="GET /staff/tickets/{ticket_id}",
        path_parameters={"ticket_id": "T-123456"},
    )
    # THEN the answer is the api function's plain 500, with nothing of the failure in it
    assert (status, body) == (500, {"error": "internal_error", "message": staff_errors.INTERNAL_ERROR})
