"""RELIABILITY.md 21-22: staff routes without a valid token or role, and owner links that are
altered, expired or aimed at another unit."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from api.handler import lambda_handler
from api.staff import STAFF_ROUTES
from tests.paytools import LambdaContextStub, http_event, make_bill, pay_token, store_bill

CONCRETE = {
    "/staff/bills": ("/staff/bills", {"period": "2026-03"}),
    "/staff/bills/{bill_id}": ("/staff/bills/A-101%232026-03", None),
    "/staff/summary": ("/staff/summary", {"period": "2026-03"}),
    "/staff/units/import": ("/staff/units/import", None),
    "/staff/cycles/{period}": ("/staff/cycles/2026-03", None),
}


def call(event: dict) -> dict:
    return lambda_handler(event, LambdaContextStub())


@pytest.mark.parametrize(("method", "route"), sorted(STAFF_ROUTES))
def test_access_21_staff_route_without_token_is_401(aws, method, route):
    # GIVEN a staff route called with no verified claims (no token, or one the authorizer
    # refused: expired or from another pool never reaches the function with claims)
    path, query = CONCRETE[route]
    # WHEN it is called
    response = call(http_event(method, path, route=route, query=query, body="unit_id\n"))
    # THEN 401 with a clear JSON message
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"] == "unauthorized"


@pytest.mark.parametrize(("method", "route"), sorted(STAFF_ROUTES))
def test_access_21_role_without_the_right_is_403(aws, method, route):
    # GIVEN a signed-in department user (a role no staff route of the api allows)
    path, query = CONCRETE[route]
    claims = {"sub": "u-1", "cognito:groups": "[dept-cleaning]"}
    # WHEN it calls the route
    response = call(http_event(method, path, route=route, query=query, claims=claims, body="unit_id\n"))
    # THEN 403
    assert response["statusCode"] == 403
    assert json.loads(response["body"])["error"] == "forbidden"


def test_access_21_agent_may_read_but_not_import_or_issue(aws):
    agent = {"sub": "u-2", "cognito:groups": "[agent]"}
    read = call(http_event("GET", "/staff/bills", query={"period": "2026-03"}, claims=agent))
    summary = call(http_event("GET", "/staff/summary", query={"period": "2026-03"}, claims=agent))
    cycle = call(http_event("POST", "/staff/cycles/2026-03", claims=agent))
    assert (read["statusCode"], summary["statusCode"], cycle["statusCode"]) == (200, 403, 403)


def test_access_21_no_token_beats_bad_input(aws):
    # GIVEN a request that is both unauthenticated and invalid
    response = call(http_event("GET", "/staff/summary", query={"period": "nonsense"}))
    # THEN the caller learns only that a token is needed
    assert response["statusCode"] == 401


def test_access_21_wrong_role_beats_bad_input(aws):
    claims = {"sub": "u-3", "cognito:groups": "[agent]"}
    response = call(http_event("POST", "/staff/cycles/nonsense", claims=claims))
    assert response["statusCode"] == 403


def _refusal_pages(aws) -> dict[str, dict]:
    bill = store_bill(unit_id="A-101")
    other = store_bill(unit_id="B-202", owner_id="O0002")
    good = pay_token(bill)
    payload, signature = good.split(".")
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    return {
        "altered payload": call(http_event("GET", f"/pay/{flipped}.{signature}")),
        "altered signature": call(http_event("GET", f"/pay/{payload}.{signature[::-1]}")),
        "expired": call(http_event("GET", f"/pay/{pay_token(bill, expires_in=timedelta(seconds=-1))}")),
        # A correctly signed token naming B-202's bill but unit A-101.
        "other unit": call(http_event("GET", f"/pay/{pay_token(other, unit_id='A-101')}")),
        "garbage": call(http_event("GET", "/pay/not-a-token")),
        # Correctly signed, but for a bill that does not exist.
        "unknown bill": call(http_event("GET", f"/pay/{pay_token(make_bill(unit_id='C-303'))}")),
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


@pytest.mark.parametrize("suffix", ["/checkout", "/return"])
def test_access_22_refused_links_reach_no_checkout_or_return(aws, suffix):
    bill = store_bill(unit_id="A-101")
    other = store_bill(unit_id="B-202", owner_id="O0002")
    token = pay_token(other, unit_id="A-101")
    method = "POST" if suffix == "/checkout" else "GET"
    response = call(http_event(method, f"/pay/{token}{suffix}"))
    assert response["statusCode"] == 404
    assert "B-202" not in response["body"] and bill.bill_id not in response["body"]
