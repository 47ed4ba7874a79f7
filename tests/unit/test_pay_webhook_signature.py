"""Stripe-Signature header parsing and verification (the SDK's rules, through our wrapper)."""

import hashlib
import hmac
import json
import time

import pytest

from propdesk.payments.stripe_provider import InvalidWebhook, StripeKeys, verify_webhook

SECRET = "whsec_unit"
PAYLOAD = json.dumps(
    {
        "id": "evt_1",
        "object": "event",
        "type": "checkout.session.completed",
        "created": 1767225600,
        "livemode": False,
        "data": {"object": {"id": "cs_1", "object": "checkout.session"}},
    }
)


def sign(payload: str, ts: int, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()


def test_valid_header_returns_the_event():
    now = int(time.time())
    event = verify_webhook(PAYLOAD.encode(), f"t={now},v1={sign(PAYLOAD, now)}", SECRET)
    assert event["id"] == "evt_1"


def test_any_matching_v1_signature_is_enough_during_secret_rotation():
    now = int(time.time())
    header = f"t={now},v1={sign(PAYLOAD, now, 'whsec_old')},v1={sign(PAYLOAD, now)}"
    assert verify_webhook(PAYLOAD.encode(), header, SECRET)["id"] == "evt_1"


@pytest.mark.parametrize(
    "body",
    [
        "[]",
        "{}",
        '{"id": "evt_1", "object": "event", "type": "x", "created": 1, "livemode": false}',
        '{"id": "evt_1", "object": "event", "type": "x", "created": "1", "livemode": false, "data": {"object": {}}}',
        '{"id": "", "object": "event", "type": "x", "created": 1, "livemode": false, "data": {"object": {}}}',
    ],
)
def test_a_signed_body_that_is_not_a_stripe_event_is_refused_as_a_body_not_a_signature(body):
    now = int(time.time())
    with pytest.raises(InvalidWebhook) as refused:
        verify_webhook(body.encode(), f"t={now},v1={sign(body, now)}", SECRET)
    assert refused.value.reason == "body"


def test_a_bad_signature_is_refused_as_a_signature():
    now = int(time.time())
    with pytest.raises(InvalidWebhook) as refused:
        verify_webhook(PAYLOAD.encode(), f"t={now},v1={sign(PAYLOAD, now, 'whsec_other')}", SECRET)
    assert refused.value.reason == "signature"


def test_future_timestamp_within_signature_is_accepted_but_old_is_not():
    now = int(time.time())
    old = now - 301
    with pytest.raises(InvalidWebhook):
        verify_webhook(PAYLOAD.encode(), f"t={old},v1={sign(PAYLOAD, old)}", SECRET)


@pytest.mark.parametrize(
    "header",
    [None, "", " ", "t=", "v1=abc", "t=x,v1=abc", "t=1,v0=abc", "nonsense", "t=1;v1=abc"],
)
def test_malformed_headers_are_refused(header):
    with pytest.raises(InvalidWebhook):
        verify_webhook(PAYLOAD.encode(), header, SECRET)


def test_signature_over_other_bytes_is_refused():
    now = int(time.time())
    header = f"t={now},v1={sign(PAYLOAD, now)}"
    with pytest.raises(InvalidWebhook):
        verify_webhook(PAYLOAD.replace("evt_1", "evt_2").encode(), header, SECRET)


@pytest.mark.parametrize("body", [b"\xff\xfe", b"[1, 2]", b'{"type": "x"}', b'{"id": 5, "type": "x"}'])
def test_signed_but_unusable_bodies_are_refused(body):
    now = int(time.time())
    text = body.decode("utf-8", errors="surrogateescape") if body != b"\xff\xfe" else "x"
    header = f"t={now},v1={sign(text, now)}"
    with pytest.raises(InvalidWebhook):
        verify_webhook(body, header, SECRET)


def test_keys_tell_live_from_test():
    assert StripeKeys("sk_live_abc", "whsec_1").livemode is True
    assert StripeKeys("sk_test_abc", "whsec_1").livemode is False
