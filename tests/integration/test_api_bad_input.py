"""Bad input on every api route gets a clear 4xx (JSON for staff, HTML for owners), never a
5xx or a stack trace."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest

from api.handler import lambda_handler
from payment_webhook.handler import lambda_handler as webhook_handler
from propdesk.services.units import COLUMNS
from tests.paytools import pay_token, store_bill
from tests.route_events import LambdaContext, route_event

ADMIN = ("admin",)

# As a client would put them in the URL (percent-encoded where a raw character is not allowed).
NASTY = [
    "",
    "x" * 5000,
    "%00",
    "%27%20OR%201%3D1--",
    "..%2F..%2Fetc%2Fpasswd",
    "%F0%9F%92%A5",
    "<script>",
    "2026-02-30",
    "9999-99",
]


def _path_value(value: str) -> str:
    """The path parameter as API Gateway passes it on (decoded); ``route_event`` encodes it again."""
    return unquote(value)


def test_staff_query_and_path_values(aws):
    for key, params, query in [route for value in NASTY for route in _staff_routes(value)]:
        event = route_event(key, params=params, query=query, roles=ADMIN)
        response = lambda_handler(event, LambdaContext())
        assert 400 <= response["statusCode"] < 500, (key, params, query, response["statusCode"])
        assert response["headers"]["Content-Type"].startswith("application/json")
        assert "Traceback" not in (response.get("body") or "")


def _staff_routes(value: str) -> list:
    return [
        ("list_bills", None, {"period": value}),
        ("period_summary", None, {"period": value}),
        ("get_unit_bill", {"unit_id": _path_value(value), "period": "2026-03"}, None),
        ("get_unit_bill", {"unit_id": "A-101", "period": _path_value(value)}, None),
        ("get_payment", {"payment_id": _path_value(value)}, None),
        ("unit_account", {"unit_id": _path_value(value)}, None),
        ("cash_up", None, {"date": value or "x"}),
        ("list_bills", None, {"period": "2026-03", "days_overdue": value or "x"}),
        ("prepare_cycle", {"period": _path_value(value)}, None),
    ]


def test_owner_pages_with_nasty_tokens_and_params(aws):
    bill = store_bill()
    good = pay_token(bill)
    cases = [
        case
        for value in NASTY
        for case in [
            ("bill_page", _path_value(value), None, None),
            ("start_checkout", _path_value(value), None, value),
            ("checkout_return", _path_value(value), {"session_id": value}, None),
            ("bill_page", good, {"lang": value}, None),
            ("checkout_return", good, {"session_id": value, "lang": value}, None),
        ]
    ]
    for key, token, query, body in cases:
        event = route_event(key, params={"token": token}, query=query, body=body)
        response = lambda_handler(event, LambdaContext())
        status = response["statusCode"]
        assert status < 500, (key, token[:40], query, status)
        assert response["headers"]["Content-Type"].startswith("text/html")
        assert "Traceback" not in response["body"]


def test_oversized_pay_form_is_413_html(aws):
    bill = store_bill()
    event = route_event("start_checkout", params={"token": pay_token(bill)}, body="lang=" + "x" * 100_000)
    response = lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 413
    assert response["headers"]["Content-Type"].startswith("text/html")


def test_invalid_base64_body_is_4xx(aws):
    event = route_event("import_units", roles=ADMIN, headers={"content-type": "text/csv"})
    event["body"] = "!!!not base64!!!"
    event["isBase64Encoded"] = True
    response = lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 400


@pytest.mark.parametrize("body", [None, "", "{}", "x" * 300_000])
def test_webhook_bad_bodies_are_4xx(aws, body):
    event = route_event("stripe_webhook", body=body, headers={"stripe-signature": "t=1,v1=00"})
    response = webhook_handler(event, LambdaContext())
    assert response["statusCode"] in (400, 413)


def test_webhook_invalid_base64_is_400(aws):
    event = route_event("stripe_webhook", body="%%%", headers={"stripe-signature": "t=1,v1=00"})
    event["isBase64Encoded"] = True
    assert webhook_handler(event, LambdaContext())["statusCode"] == 400


@pytest.mark.parametrize(
    ("csv_text", "line"),
    [
        # a field larger than the csv module reads (131,072 characters), under the 2 MB body limit
        (",".join(COLUMNS) + "\nA-101," + "x" * 200_000 + "\n", 2),
        ("unit_id," + "y" * 200_000 + "\n", 1),
    ],
)
def test_units_import_with_a_huge_field_is_400_with_the_line(aws, csv_text, line):
    # GIVEN an admin uploads a file with a field larger than the csv module reads by default
    event = route_event("import_units", roles=ADMIN, headers={"content-type": "text/csv"}, body=csv_text)
    # WHEN it is imported
    response = lambda_handler(event, LambdaContext())
    # THEN the answer is a 400 naming the line, and the field is not echoed back
    assert response["statusCode"] == 400, response["body"][:500]
    body = json.loads(response["body"])
    assert [e["line"] for e in body["errors"]] == [line]
    assert len(response["body"]) < 2_000
