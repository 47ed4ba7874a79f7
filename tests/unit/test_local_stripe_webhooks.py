"""The Stripe stand-in's webhooks: signed like Stripe's, a failed delivery recorded and retried."""

import time

import stripe

from infra.local.stripe import sign_payload
from tests.stripe_standin_tools import SECRET, Recorder, api_post, make_standin, sdk_body, session_params


def test_a_failed_delivery_is_recorded_and_retried():
    recorder = Recorder(status=500)
    standin = make_standin(post=recorder, webhook_url="http://x/webhooks/stripe", retry_delays_s=(0, 0))
    _, _, session = api_post(standin, "/v1/checkout/sessions", sdk_body(session_params()))
    standin.checkout.pay(session["id"])
    deadline = time.monotonic() + 5
    while len(recorder.calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(recorder.calls) == 3  # first try and two retries
    assert not standin.deliveries[0].delivered
    # every attempt carries the same event, freshly signed
    assert len({data for _, data, _ in recorder.calls}) == 1


def test_without_a_webhook_url_the_delivery_is_recorded_as_failed():
    standin = make_standin(webhook_url=None)
    _, _, session = api_post(standin, "/v1/checkout/sessions", sdk_body(session_params()))
    _, delivery = standin.checkout.pay(session["id"])
    assert not delivery.delivered
    assert delivery.attempts == [{"status": 0, "error": "no webhook endpoint configured"}]


def test_signature_format_matches_stripe():
    header = sign_payload('{"a":1}', SECRET, timestamp=1700000000)
    assert header.startswith("t=1700000000,v1=")
    assert stripe.WebhookSignature.verify_header('{"a":1}', header, SECRET, tolerance=None)
