"""The Stripe stand-in: Stripe's form encoding, Checkout Session rules, signed webhooks."""

import json
import time
from urllib.parse import urlencode

import pytest
import stripe
from stripe._encode import _api_encode

from infra.local.stripe_standin import StripeError, StripeStandIn, decode_form, sign_payload

KEY = "sk_test_local_key"
SECRET = "whsec_local_secret"


def _params(**changes):
    now = int(time.time())
    params = {
        "mode": "payment",
        "success_url": "http://127.0.0.1:8000/pay/tok/return?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://127.0.0.1:8000/pay/tok",
        "client_reference_id": "A-101#2027-01",
        "expires_at": now + 3600,
        "payment_method_types": ["card", "alipay"],
        "line_items": [
            {
                "quantity": 1,
                "price_data": {"currency": "cny", "unit_amount": 25024, "product_data": {"name": "Service"}},
            },
            {
                "quantity": 2,
                "price_data": {"currency": "cny", "unit_amount": 500, "product_data": {"name": "Waste"}},
            },
        ],
        "metadata": {"bill_id": "A-101#2027-01", "property_id": "demo"},
        "payment_intent_data": {"metadata": {"bill_id": "A-101#2027-01"}},
    }
    params.update(changes)
    return {k: v for k, v in params.items() if v is not None}


def _sdk_body(params):
    """The body exactly as the stripe SDK form-encodes it."""
    return urlencode(list(_api_encode(params)))


class Recorder:
    def __init__(self, status=200):
        self.status = status
        self.calls = []

    def __call__(self, url, data, headers):
        self.calls.append((url, data, headers))
        return self.status, '{"received": true}'


def _standin(post=None, **kwargs):
    standin = StripeStandIn(
        api_key=KEY,
        webhook_secret=SECRET,
        webhook_url="http://127.0.0.1:8000/webhooks/stripe",
        post=post or Recorder(),
        retry_delays_s=(),
        **kwargs,
    )
    standin.base_url = "http://127.0.0.1:9999"
    return standin


def _post(standin, path, body, key=KEY, **headers):
    status, out_headers, payload = standin.handle(
        "POST", path, {"authorization": f"Bearer {key}", **{k.lower(): v for k, v in headers.items()}}, body
    )
    return (
        status,
        out_headers,
        json.loads(payload) if out_headers.get("Content-Type") == "application/json" else payload,
    )


def test_form_decoding_reads_the_sdk_nested_keys():
    params = _params()
    decoded = decode_form(_sdk_body(params))
    assert decoded["line_items"][1]["price_data"]["product_data"]["name"] == "Waste"
    assert decoded["line_items"][1]["quantity"] == "2"
    assert decoded["payment_method_types"] == ["card", "alipay"]
    assert decoded["metadata"] == {"bill_id": "A-101#2027-01", "property_id": "demo"}
    assert decoded["payment_intent_data"] == {"metadata": {"bill_id": "A-101#2027-01"}}
    with pytest.raises(StripeError):
        decode_form("a[]=1")
    with pytest.raises(StripeError):
        decode_form("a=1&a[b]=2")


def test_a_session_looks_like_stripe_s():
    standin = _standin()
    status, _, session = _post(standin, "/v1/checkout/sessions", _sdk_body(_params()))
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
    status, _, fetched = standin.handle(
        "GET", f"/v1/checkout/sessions/{session['id']}", {"authorization": f"Bearer {KEY}"}, ""
    )
    assert status == 200 and json.loads(fetched)["id"] == session["id"]


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"mode": None}, "mode"),
        ({"success_url": None}, "success_url"),
        ({"line_items": None}, "line_items"),
        ({"expires_at": int(time.time()) + 60}, "expires_at"),
        ({"expires_at": int(time.time()) + 3 * 24 * 3600}, "expires_at"),
        (
            {
                "line_items": [
                    {
                        "quantity": 0,
                        "price_data": {"currency": "cny", "unit_amount": 1, "product_data": {"name": "x"}},
                    }
                ]
            },
            "line_items[0][quantity]",
        ),
        (
            {"line_items": [{"quantity": 1, "price_data": {"currency": "cny", "unit_amount": 1}}]},
            "line_items[0][price_data][product_data][name]",
        ),
        (
            {
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": "cny",
                            "unit_amount": "1.5",
                            "product_data": {"name": "x"},
                        },
                    }
                ]
            },
            "line_items[0][price_data][unit_amount]",
        ),
        (
            {
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {"currency": "cny", "unit_amount": 1, "product_data": {"name": "x"}},
                    },
                    {
                        "quantity": 1,
                        "price_data": {"currency": "usd", "unit_amount": 1, "product_data": {"name": "y"}},
                    },
                ]
            },
            "line_items[1][price_data][currency]",
        ),
    ],
)
def test_bad_requests_get_stripe_style_errors(changes, param):
    status, _, body = _post(_standin(), "/v1/checkout/sessions", _sdk_body(_params(**changes)))
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] == param
    assert body["error"]["message"]


def test_a_wrong_api_key_is_refused():
    status, _, body = _post(_standin(), "/v1/checkout/sessions", _sdk_body(_params()), key="sk_test_other")
    assert status == 401
    assert "sk_test_other" not in body["error"]["message"]


def test_an_idempotency_key_replays_the_first_answer():
    standin = _standin()
    body = _sdk_body(_params())
    _, _, first = _post(standin, "/v1/checkout/sessions", body, **{"Idempotency-Key": "k1"})
    _, headers, again = _post(standin, "/v1/checkout/sessions", body, **{"Idempotency-Key": "k1"})
    assert again["id"] == first["id"]
    assert headers.get("Idempotent-Replayed") == "true"
    assert len(standin.sessions) == 1


def test_paying_sends_a_signed_completed_event_and_returns_to_success_url():
    # GIVEN an open session
    recorder = Recorder()
    standin = _standin(post=recorder)
    _, _, session = _post(standin, "/v1/checkout/sessions", _sdk_body(_params()))
    page = standin.checkout_page(session["id"])
    assert "Pay 260.24 CNY" in page and "Cancel" in page
    # WHEN the owner presses Pay
    status, headers, _ = standin.handle("POST", f"/checkout/{session['id']}/pay", {}, "")
    # THEN the owner goes back to success_url with the session id filled in
    assert status == 303
    assert headers["Location"] == f"http://127.0.0.1:8000/pay/tok/return?session_id={session['id']}"
    # AND the webhook got an event the SDK accepts with the webhook secret
    ((url, data, sent_headers),) = recorder.calls
    assert url == "http://127.0.0.1:8000/webhooks/stripe"
    event = stripe.Webhook.construct_event(data.decode(), sent_headers["Stripe-Signature"], SECRET)
    assert event["type"] == "checkout.session.completed"
    completed = event["data"]["object"]
    assert completed["id"] == session["id"]
    assert (completed["status"], completed["payment_status"]) == ("complete", "paid")
    assert completed["payment_intent"].startswith("pi_")
    assert completed["metadata"]["bill_id"] == "A-101#2027-01"
    assert event["livemode"] is False and event["id"].startswith("evt_")
    # AND a wrong secret does not verify it
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(data.decode(), sent_headers["Stripe-Signature"], "whsec_other")
    # AND the payment intent carries the payment_intent_data metadata
    status, _, intent = standin.handle(
        "GET", f"/v1/payment_intents/{completed['payment_intent']}", {"authorization": f"Bearer {KEY}"}, ""
    )
    assert json.loads(intent)["metadata"] == {"bill_id": "A-101#2027-01"}
    # AND it cannot be paid twice
    status, _, _ = standin.handle("POST", f"/checkout/{session['id']}/pay", {}, "")
    assert status == 410
    assert len(recorder.calls) == 1
    assert standin.deliveries[0].delivered


def test_an_expired_session_cannot_be_paid():
    recorder = Recorder()
    standin = _standin(post=recorder)
    _, _, session = _post(standin, "/v1/checkout/sessions", _sdk_body(_params()))
    standin.sessions[session["id"]].data["expires_at"] = int(time.time()) - 1
    assert "expired" in standin.checkout_page(session["id"])
    status, _, _ = standin.handle("POST", f"/checkout/{session['id']}/pay", {}, "")
    assert status == 410
    assert recorder.calls == []
    _, _, fetched = standin.handle(
        "GET", f"/v1/checkout/sessions/{session['id']}", {"authorization": f"Bearer {KEY}"}, ""
    )
    assert json.loads(fetched)["status"] == "expired"


def test_a_failed_delivery_is_recorded_and_retried():
    recorder = Recorder(status=500)
    standin = StripeStandIn(
        api_key=KEY,
        webhook_secret=SECRET,
        webhook_url="http://x/webhooks/stripe",
        post=recorder,
        retry_delays_s=(0, 0),
    )
    standin.base_url = "http://127.0.0.1:9999"
    _, _, session = _post(standin, "/v1/checkout/sessions", _sdk_body(_params()))
    standin.pay(session["id"])
    deadline = time.monotonic() + 5
    while len(recorder.calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(recorder.calls) == 3  # first try and two retries
    assert not standin.deliveries[0].delivered
    # every attempt carries the same event, freshly signed
    assert len({data for _, data, _ in recorder.calls}) == 1


def test_signature_format_matches_stripe():
    header = sign_payload('{"a":1}', SECRET, timestamp=1700000000)
    assert header.startswith("t=1700000000,v1=")
    assert stripe.WebhookSignature.verify_header('{"a":1}', header, SECRET, tolerance=None)
