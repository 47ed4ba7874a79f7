"""Stripe behind the payment-provider port (``StripeRail``), against the served Stripe stand-in
through the real SDK: start (a Checkout Session), query, close, refund, the day's statement and a
verified notification, each as the port words it for every rail."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from infra.local.stripe import StripeStandIn, sign_payload
from infra.local.stripe.errors import StripeError
from propdesk.payments.port import (
    ORDER_CLOSED,
    ORDER_OPEN,
    ORDER_PAID,
    NotificationRejected,
    PaymentLine,
    PaymentProvider,
    PaymentRequest,
    ProviderEvent,
    ProviderRefused,
    ProviderUnavailable,
)
from propdesk.payments.stripe_provider import StripeRail
from tests.stripe_standin_tools import KEY, SECRET, Recorder


@pytest.fixture
def served() -> Iterator[tuple[StripeStandIn, Recorder]]:
    recorder = Recorder()
    standin = StripeStandIn(api_key=KEY, webhook_secret=SECRET, post=recorder, retry_delays_s=())
    standin.webhook_url = "http://127.0.0.1:9/webhooks/stripe"
    standin.serve("127.0.0.1", 0)
    yield standin, recorder
    standin.shutdown()


def rail(standin: StripeStandIn, **changes) -> StripeRail:
    options = {"api_key": KEY, "webhook_secret": SECRET, "property_id": "demo", "api_base": standin.base_url}
    return StripeRail(**(options | changes))


def request(**changes) -> PaymentRequest:
    fields = {
        "amount_minor": 34938,
        "currency": "CNY",
        "description": "A-101 2026-12",
        "unit_id": "A-101",
        "bill_ids": ("A-101#2026-12",),
        "expires_at": datetime.now(UTC) + timedelta(hours=1),
        "return_url": "https://pay.example.test/pay/tok/return?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://pay.example.test/pay/tok",
        "lines": (PaymentLine("物业服务费 · 2026-12", 30000), PaymentLine("生活垃圾清运费 · 2026-12", 4938)),
        "locale": "zh-CN",
    }
    return PaymentRequest(**(fields | changes))


def test_stripe_is_a_payment_provider_like_the_other_rails(served):
    standin, _ = served
    adapter: PaymentProvider = rail(standin)
    assert adapter.rail == "stripe"
    # WHEN a payment starts: a Checkout Session, with our lines and bills, to go to
    started = adapter.start(request())
    assert started.kind == "redirect" and started.order_id.startswith("cs_")
    assert started.redirect_url == f"{standin.base_url}/checkout/{started.order_id}"
    session = standin.resources.session(started.order_id).data
    assert session["metadata"] == {"property_id": "demo", "unit_id": "A-101", "bill_ids": "A-101#2026-12"}
    assert session["amount_total"] == 34938 and session["locale"] == "zh"
    # THEN it is open until the owner pays; then paid, by its payment intent
    assert adapter.query(started.order_id).state == ORDER_OPEN
    completed, _ = standin.checkout.pay(started.order_id)
    paid = adapter.query(started.order_id)
    intent = completed["payment_intent"]
    assert (paid.state, paid.amount_minor, paid.currency, paid.provider_payment_id) == (
        ORDER_PAID,
        34938,
        "CNY",
        intent,
    )
    by_intent = adapter.query(intent)
    assert (by_intent.state, by_intent.amount_minor) == (ORDER_PAID, 34938)
    assert adapter.query("pi_not_there") is None


def test_an_unpaid_session_is_closed_and_stays_closed(served):
    standin, _ = served
    adapter = rail(standin)
    started = adapter.start(request())
    adapter.close(started.order_id)
    adapter.close(started.order_id)  # closed already: the state wanted, not an error
    assert adapter.query(started.order_id).state == ORDER_CLOSED
    with pytest.raises(StripeError, match="expired"):  # nobody can pay through it any more
        standin.checkout.pay(started.order_id)


def test_a_refund_is_keyed_on_our_refund_id_and_refusals_are_the_port_s(served):
    standin, _ = served
    adapter = rail(standin)
    started = adapter.start(request())
    intent = standin.checkout.pay(started.order_id)[0]["payment_intent"]
    first = adapter.refund(
        intent, refund_id="rf_1", amount_minor=10000, total_minor=34938, reason="duplicate"
    )
    again = adapter.refund(
        intent, refund_id="rf_1", amount_minor=10000, total_minor=34938, reason="duplicate"
    )
    # Posted when Stripe's charge.refunded comes: processing here, one refund for both calls
    assert (first.state, first.refund_id) == ("processing", "rf_1")
    assert again.provider_refund_id == first.provider_refund_id and len(standin.resources.refunds) == 1
    made = standin.resources.refund(first.provider_refund_id)
    assert made["reason"] == "duplicate"
    assert made["metadata"] == {"property_id": "demo", "refund_id": "rf_1", "payment_id": f"stripe:{intent}"}
    free_text = adapter.refund(intent, refund_id="rf_2", amount_minor=1, total_minor=34938, reason="业主多缴")
    assert standin.resources.refund(free_text.provider_refund_id)["reason"] == "requested_by_customer"
    with pytest.raises(ProviderRefused) as refused:
        adapter.refund(intent, refund_id="rf_3", amount_minor=10**6, total_minor=34938, reason="duplicate")
    assert refused.value.code == "amount_too_large"
    with pytest.raises(ProviderUnavailable):
        rail(standin, api_key="sk_test_other").refund(
            intent, refund_id="rf_4", amount_minor=1, total_minor=34938, reason="duplicate"
        )


def test_the_day_s_statement_has_the_day_s_charges(served):
    standin, _ = served
    adapter = rail(standin)
    intent = standin.checkout.pay(adapter.start(request()).order_id)[0]["payment_intent"]
    statement = adapter.statement(datetime.now(UTC).date())
    assert [(line.order_id, line.amount_minor, line.currency) for line in statement.lines] == [
        (intent, 34938, "CNY")
    ]
    assert adapter.statement(datetime.now(UTC).date() - timedelta(days=1)).lines == ()


def test_a_notification_is_verified_and_handed_on_whole(served):
    standin, _ = served
    adapter = rail(standin)
    event = {
        "id": "evt_1",
        "object": "event",
        "type": "charge.dispute.created",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": {"id": "dp_1"}},
    }
    body = json.dumps(event)
    signed = {"Stripe-Signature": sign_payload(body, SECRET)}
    parsed = adapter.parse_notification(signed, body.encode())
    assert isinstance(parsed, ProviderEvent)
    assert (parsed.rail, parsed.event_id, parsed.event_type, parsed.data) == (
        "stripe",
        "evt_1",
        "charge.dispute.created",
        event,
    )
    # A wrong secret, a changed body, a signed body that is not an event: refused, with the reason
    for headers, sent, reason in (
        ({"stripe-signature": sign_payload(body, "whsec_other")}, body, "signature"),
        (signed, body.replace("dp_1", "dp_2"), "signature"),
        ({"stripe-signature": sign_payload("[1]", SECRET)}, "[1]", "body"),
    ):
        with pytest.raises(NotificationRejected) as rejected:
            adapter.parse_notification(headers, sent.encode())
        assert rejected.value.reason == reason
    assert adapter.answer(ok=True).status == 200
    assert adapter.answer(ok=False, message="signature").status == 400


def test_a_request_for_stripe_needs_no_order_number_and_a_rail_that_numbers_ours_does():
    stripe_request = request()
    assert stripe_request.order_id is None
    with pytest.raises(ValueError, match="order_id"):
        _ = stripe_request.our_order_id
    with pytest.raises(ValueError, match="add up"):
        request(lines=(PaymentLine("x", 1),))
