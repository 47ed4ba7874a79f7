"""The Stripe stand-in's REST API: Checkout Sessions shaped like Stripe's, Stripe's rules for a
new session, Stripe-shaped errors, the API key and idempotency keys."""

import time

import pytest

from tests.stripe_standin_tools import api_get, api_post, make_standin, sdk_body, session_params

SESSIONS = "/v1/checkout/sessions"


def test_a_session_looks_like_stripe_s():
    standin = make_standin()
    status, _, session = api_post(standin, SESSIONS, sdk_body(session_params()))
    assert status == 200
    assert session["id"].startswith("cs_test_")
    assert session["object"] == "checkout.session"
    assert session["url"] == f"http://127.0.0.1:9999/checkout/{session['id']}"
    assert (session["status"], session["payment_status"], session["payment_intent"]) == (
        "open",
        "unpaid",
        None,
    )
    assert (session["amount_total"], session["currency"]) == (25024 + 2 * 500, "cny")
    assert session["metadata"]["bill_id"] == "A-101#2027-01"
    assert session["client_reference_id"] == "A-101#2027-01"
    assert session["livemode"] is False
    status, _, fetched = api_get(standin, f"{SESSIONS}/{session['id']}")
    assert status == 200 and fetched["id"] == session["id"]
    status, _, items = api_get(standin, f"{SESSIONS}/{session['id']}/line_items")
    assert status == 200 and [item["description"] for item in items["data"]] == ["Service", "Waste"]


def _item(currency="cny", unit_amount=1, quantity=1, **product):
    return {
        "quantity": quantity,
        "price_data": {"currency": currency, "unit_amount": unit_amount, "product_data": product},
    }


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"mode": None}, "mode"),
        ({"success_url": None}, "success_url"),
        ({"line_items": None}, "line_items"),
        ({"expires_at": int(time.time()) + 60}, "expires_at"),
        ({"expires_at": int(time.time()) + 3 * 24 * 3600}, "expires_at"),
        ({"line_items": [_item(quantity=0, name="x")]}, "line_items[0][quantity]"),
        ({"line_items": [_item()]}, "line_items[0][price_data][product_data][name]"),
        ({"line_items": [_item(unit_amount="1.5", name="x")]}, "line_items[0][price_data][unit_amount]"),
        (
            {"line_items": [_item(name="x"), _item(currency="usd", name="y")]},
            "line_items[1][price_data][currency]",
        ),
    ],
)
def test_bad_requests_get_stripe_style_errors(changes, param):
    status, _, body = api_post(make_standin(), SESSIONS, sdk_body(session_params(**changes)))
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] == param
    assert body["error"]["message"]


def test_a_wrong_api_key_is_refused():
    status, _, body = api_post(make_standin(), SESSIONS, sdk_body(session_params()), key="sk_test_other")
    assert status == 401
    assert "sk_test_other" not in body["error"]["message"]


def test_unknown_objects_and_urls_are_404s():
    standin = make_standin()
    status, _, body = api_get(standin, f"{SESSIONS}/cs_test_nope")
    assert (status, body["error"]["code"]) == (404, "resource_missing")
    status, _, body = api_get(standin, "/v1/payment_intents/pi_nope")
    assert (status, body["error"]["code"]) == (404, "resource_missing")
    status, _, body = api_get(standin, "/v1/customers")
    assert status == 404 and body["error"]["message"] == "Unrecognized request URL (GET: /v1/customers)."


def test_an_idempotency_key_replays_the_first_answer():
    standin = make_standin()
    body = sdk_body(session_params())
    _, _, first = api_post(standin, SESSIONS, body, **{"Idempotency-Key": "k1"})
    _, headers, again = api_post(standin, SESSIONS, body, **{"Idempotency-Key": "k1"})
    assert again["id"] == first["id"]
    assert headers.get("Idempotent-Replayed") == "true"
    assert len(standin.resources.sessions) == 1


def test_an_open_session_can_be_expired_once():
    standin = make_standin()
    _, _, session = api_post(standin, SESSIONS, sdk_body(session_params()))
    status, _, expired = api_post(standin, f"{SESSIONS}/{session['id']}/expire", "")
    assert (status, expired["status"]) == (200, "expired")
    status, _, body = api_post(standin, f"{SESSIONS}/{session['id']}/expire", "")
    assert status == 400 and "`expired`" in body["error"]["message"]
