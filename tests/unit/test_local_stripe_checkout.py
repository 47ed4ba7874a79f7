"""The Stripe stand-in's checkout page and Pay button: paying completes the session, sends a
signed ``checkout.session.completed`` event and sends the owner back to ``success_url``."""

import time

import pytest
import stripe

from tests.stripe_standin_tools import (
    SECRET,
    WEBHOOK_URL,
    Recorder,
    api_get,
    api_post,
    make_standin,
    sdk_body,
    session_params,
)


def test_paying_sends_a_signed_completed_event_and_returns_to_success_url():
    # GIVEN an open session
    recorder = Recorder()
    standin = make_standin(post=recorder)
    _, _, session = api_post(standin, "/v1/checkout/sessions", sdk_body(session_params()))
    status, headers, page = standin.handle("GET", f"/checkout/{session['id']}", {}, "")
    assert (status, headers["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert b"Pay 260.24 CNY" in page and b"Cancel" in page
    # WHEN the owner presses Pay
    status, headers, _ = standin.handle("POST", f"/checkout/{session['id']}/pay", {}, "")
    # THEN the owner goes back to success_url with the session id filled in
    assert status == 303
    assert headers["Location"] == f"http://127.0.0.1:8000/pay/tok/return?session_id={session['id']}"
    # AND the webhook got an event the SDK accepts with the webhook secret
    ((url, data, sent_headers),) = recorder.calls
    assert url == WEBHOOK_URL
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
    _, _, intent = api_get(standin, f"/v1/payment_intents/{completed['payment_intent']}")
    assert intent["metadata"] == {"bill_id": "A-101#2027-01"}
    # AND the page says paid, and it cannot be paid twice
    assert "Paid." in standin.checkout.page(session["id"])
    status, _, _ = standin.handle("POST", f"/checkout/{session['id']}/pay", {}, "")
    assert status == 410
    assert len(recorder.calls) == 1
    assert standin.deliveries[0].delivered


def test_an_expired_session_cannot_be_paid():
    recorder = Recorder()
    standin = make_standin(post=recorder)
    _, _, session = api_post(standin, "/v1/checkout/sessions", sdk_body(session_params()))
    standin.resources.sessions[session["id"]].data["expires_at"] = int(time.time()) - 1
    assert "expired" in standin.checkout.page(session["id"])
    status, _, _ = standin.handle("POST", f"/checkout/{session['id']}/pay", {}, "")
    assert status == 410
    assert recorder.calls == []
    _, _, fetched = api_get(standin, f"/v1/checkout/sessions/{session['id']}")
    assert fetched["status"] == "expired"


def test_the_page_escapes_what_the_caller_sent():
    # GIVEN a product name and a cancel URL with markup in them
    standin = make_standin()
    name = "<script>alert(1)</script>"
    item = {
        "quantity": 1,
        "price_data": {"currency": "jpy", "unit_amount": 1200, "product_data": {"name": name}},
    }
    params = session_params(line_items=[item], cancel_url='http://127.0.0.1:8000/pay/tok?a=1&b="x"')
    _, _, session = api_post(standin, "/v1/checkout/sessions", sdk_body(params))
    # WHEN the owner opens the page
    page = standin.checkout.page(session["id"])
    # THEN the markup is shown as text, and an amount without minor units has no decimals
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="http://127.0.0.1:8000/pay/tok?a=1&amp;b=&#34;x&#34;"' in page
    assert "Pay 1,200 JPY" in page


def test_an_unknown_session_gets_an_html_404():
    status, headers, page = make_standin().handle("GET", "/checkout/cs_test_nope", {}, "")
    assert (status, headers["Content-Type"]) == (404, "text/html; charset=utf-8")
    assert b"No such checkout.session: &#39;cs_test_nope&#39;" in page
