"""RELIABILITY.md 21-22: staff routes without a valid token or role, and owner links that are
altered, expired or aimed at another unit."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from api.handler import lambda_handler
from propdesk import routes
from tests.paytools import make_bill, pay_token, store_bill
from tests.route_events import LambdaContext, route_event

# Every staff route of the route table, with path parameters and a query that fill it.
STAFF_ROUTES = sorted(route.key for route in routes.ROUTES if isinstance(route.audience, routes.Staff))
PARAMS = {
    "get_unit_bill": {"unit_id": "A-101", "period": "2026-03"},
    "prepare_cycle": {"period": "2026-03"},
    "get_cycle": {"period": "2026-03"},
    "get_standard": {"version": "SH-2026-01"},
    "replace_standard": {"version": "SH-2027-01"},
    "publish_standard": {"version": "SH-2027-01"},
    "approve_cycle": {"period": "2026-03"},
    "void_cycle": {"period": "2026-03"},
    "get_ticket": {"ticket_id": "T-0001"},
    "unit_account": {"unit_id": "A-101"},
    "record_desk_payment": {"unit_id": "A-101"},
    "get_payment": {"payment_id": "desk:0000000001"},
    "payment_receipt": {"payment_id": "desk:0000000001"},
    "record_invoice": {"payment_id": "desk:0000000001"},
    "resolve_payment": {"payment_id": "desk:0000000001"},
    "request_void": {"payment_id": "desk:0000000001"},
    "approve_void": {"payment_id": "desk:0000000001"},
    "start_refund": {"payment_id": "desk:0000000001"},
    "approve_refund": {"refund_id": "rf_0000000001"},
    "get_bank_statement": {"statement_id": "BS00000000000000000000"},
    "decide_bank_lines": {"statement_id": "BS00000000000000000000"},
    "resolve_reconciliation": {"reconciliation_id": "RC20261201AL", "line": "1"},
    "record_call": {"call_list_id": "CL202701", "line": "1"},
    "debit_batch": {"period": "2027-01"},
}
QUERY = {
    "list_bills": {"period": "2026-03"},
    "period_summary": {"period": "2026-03"},
    "find_accounts": {"q": "A-101"},
}


def call(event: dict) -> dict:
    return lambda_handler(event, LambdaContext())


def staff_request(key: str, **kwargs) -> dict:
    route = routes.route(key)
    assert route.function == "api"  # every staff route is served by the api function
    body = "unit_id\n" if route.method != "GET" else None
    return route_event(key, params=PARAMS.get(key), query=QUERY.get(key), body=body, **kwargs)


@pytest.mark.parametrize("key", STAFF_ROUTES)
def test_access_21_staff_route_without_token_is_401(aws, key):
    # GIVEN a staff route called with no verified claims (no token, or one the authorizer
    # refused: expired or from another pool never reaches the function with claims)
    # WHEN it is called
    response = call(staff_request(key))
    # THEN 401 with a clear JSON message
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"] == "unauthorized"


@pytest.mark.parametrize("key", STAFF_ROUTES)
def test_access_21_role_without_the_right_is_403(aws, key):
    # GIVEN a signed-in department user (a role no staff route of the api allows)
    assert "dept-cleaning" not in routes.route(key).audience.roles
    # WHEN it calls the route
    response = call(staff_request(key, claims={"sub": "u-1", "cognito:groups": "[dept-cleaning]"}))
    # THEN 403
    assert response["statusCode"] == 403
    assert json.loads(response["body"])["error"] == "forbidden"


def test_access_21_agent_may_read_but_not_import_or_issue(aws):
    agent = {"sub": "u-2", "cognito:groups": "[agent]"}
    read = call(route_event("list_bills", query={"period": "2026-03"}, claims=agent))
    summary = call(route_event("period_summary", query={"period": "2026-03"}, claims=agent))
    cycle = call(route_event("prepare_cycle", params={"period": "2026-03"}, claims=agent))
    assert (read["statusCode"], summary["statusCode"], cycle["statusCode"]) == (200, 403, 403)


def test_access_21_no_token_beats_bad_input(aws):
    # GIVEN a request that is both unauthenticated and invalid
    response = call(route_event("period_summary", query={"period": "nonsense"}))
    # THEN the caller learns only that a token is needed
    assert response["statusCode"] == 401


def test_access_21_wrong_role_beats_bad_input(aws):
    claims = {"sub": "u-3", "cognito:groups": "[agent]"}
    response = call(route_event("prepare_cycle", params={"period": "nonsense"}, claims=claims))
    assert response["statusCode"] == 403


def _page(token: str) -> dict:
    return call(route_event("bill_page", params={"token": token}))


def _refusal_pages(aws) -> dict[str, dict]:
    bill = store_bill(unit_id="A-101")
    other = store_bill(unit_id="B-202", owner_id="O0002")
    good = pay_token(bill)
    payload, signature = good.split(".")
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    return {
        "altered payload": _page(f"{flipped}.{signature}"),
        "altered signature": _page(f"{payload}.{signature[::-1]}"),
        "expired": _page(pay_token(bill, expires_in=timedelta(seconds=-1))),
        # A correctly signed token naming B-202's bill but unit A-101.
        "other unit": _page(pay_token(other, unit_id="A-101")),
        "garbage": _page("not-a-token"),
        # Correctly signed, but for a bill that does not exist.
        "unknown bill": _page(pay_token(make_bill(unit_id="C-303"))),
    }


def test_access_22_refused_links_all_get_the_same_404_page(aws):
    # GIVEN links altered, expired, for another unit, or nonsense
    pages = _refusal_pages(aws)
    # THEN every one is 404 with byte-for-byte the same page, naming no unit, amount or owner
    statuses = {name: page["statusCode"] for name, page in pages.items()}
    assert set(statuses.values()) == {404}, statuses
    bodies = {page["body"] for page in pages.values()}
    assert len(bodies) == 1
    body = bodies.pop()
    for secret in ("A-101", "B-202", "C-303", "O0001", "O0002", "¥", "2026-03"):
        assert secret not in body


@pytest.mark.parametrize("key", ["start_checkout", "checkout_return"])
def test_access_22_refused_links_reach_no_checkout_or_return(aws, key):
    bill = store_bill(unit_id="A-101")
    other = store_bill(unit_id="B-202", owner_id="O0002")
    token = pay_token(other, unit_id="A-101")
    response = call(route_event(key, params={"token": token}))
    assert response["statusCode"] == 404
    assert "B-202" not in response["body"] and bill.bill_id not in response["body"]
