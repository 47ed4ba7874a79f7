"""The Stripe stand-in's refunds: ``POST /v1/refunds`` checked as Stripe checks it, answered with
Stripe's Refund object, and announced by ``refund.created`` and ``charge.refunded`` events signed
like Stripe's, after the answer; a dispute announced by ``charge.dispute.created``. Driven in
process and through the real ``stripe`` SDK (as ``propdesk.payments.stripe_provider`` calls it)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import stripe

from infra.local.stripe import StripeStandIn
from propdesk.payments.stripe_provider import ProviderUnavailable, RefundRefused, StripeRefunds
from tests.stripe_standin_tools import (
    KEY,
    SECRET,
    Recorder,
    api_get,
    api_post,
    make_standin,
    sdk_body,
    session_params,
)

REFUNDS = "/v1/refunds"


def paid_intent(standin: StripeStandIn) -> str:
    _, _, session = api_post(standin, "/v1/checkout/sessions", sdk_body(session_params()))
    completed, _ = standin.checkout.pay(session["id"])
    return completed["payment_intent"]


def events_of(recorder: Recorder, count: int, timeout: float = 5) -> list[dict]:
    """The events posted to the webhook, once ``count`` have arrived (they are sent after the answer)."""
    deadline = time.monotonic() + timeout
    while len(recorder.calls) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return [json.loads(data) for _, data, _ in recorder.calls]


def test_a_refund_looks_like_stripe_s_and_stripe_announces_it_with_the_charges_running_total():
    # GIVEN a payment made on the checkout page (its checkout.session.completed sent)
    recorder = Recorder()
    standin = make_standin(post=recorder)
    intent = paid_intent(standin)
    # WHEN part of it is refunded through the REST API
    params = {
        "payment_intent": intent,
        "amount": 10000,
        "reason": "requested_by_customer",
        "metadata": {"refund_id": "rf_1"},
    }
    status, _, refund = api_post(standin, REFUNDS, sdk_body(params))
    # THEN the answer is a Refund
    assert status == 200
    assert refund["id"].startswith("re_") and refund["object"] == "refund"
    assert (refund["amount"], refund["currency"], refund["status"]) == (10000, "cny", "succeeded")
    assert (refund["payment_intent"], refund["reason"], refund["metadata"]) == (
        intent,
        "requested_by_customer",
        {"refund_id": "rf_1"},
    )
    charge_id = standin.resources.payment_intent(intent)["latest_charge"]
    assert refund["charge"] == charge_id
    # AND the webhook gets refund.created, then charge.refunded with the running total, signed
    completed, created, refunded = events_of(recorder, 3)
    assert (completed["type"], created["type"], refunded["type"]) == (
        "checkout.session.completed",
        "refund.created",
        "charge.refunded",
    )
    assert created["data"]["object"]["id"] == refund["id"]
    charge = refunded["data"]["object"]
    assert (charge["id"], charge["object"], charge["payment_intent"]) == (charge_id, "charge", intent)
    assert (charge["amount"], charge["amount_refunded"], charge["refunded"]) == (26024, 10000, False)
    assert charge["metadata"] == {"bill_id": "A-101#2027-01"}  # the payment intent's
    _, body, headers = recorder.calls[2]
    assert stripe.WebhookSignature.verify_header(body.decode(), headers["Stripe-Signature"], SECRET, 300)
    # WHEN the rest is refunded (no amount: what is left)
    status, _, rest = api_post(standin, REFUNDS, sdk_body({"payment_intent": intent}))
    # THEN the charge is refunded in full, and says so
    assert status == 200 and rest["amount"] == 26024 - 10000
    last = events_of(recorder, 5)[-1]["data"]["object"]
    assert (last["amount_refunded"], last["refunded"]) == (26024, True)
    status, _, read = api_get(standin, f"/v1/charges/{charge_id}")
    assert status == 200 and read["amount_refunded"] == 26024
    status, _, again = api_get(standin, f"{REFUNDS}/{refund['id']}")
    assert status == 200 and again == refund


@pytest.mark.parametrize(
    ("params", "code", "param"),
    [
        ({}, "parameter_missing", None),
        ({"payment_intent": "pi_nope"}, "resource_missing", "payment_intent"),
        ({"charge": "ch_nope"}, "resource_missing", "charge"),
        ({"payment_intent": "{intent}", "amount": 26025}, "amount_too_large", "amount"),
        ({"payment_intent": "{intent}", "amount": 0}, None, "amount"),
        ({"payment_intent": "{intent}", "amount": "1.5"}, None, "amount"),
        ({"payment_intent": "{intent}", "reason": "changed_my_mind"}, None, "reason"),
    ],
)
def test_bad_refunds_get_stripe_style_errors_and_move_nothing(params, code, param):
    recorder = Recorder()
    standin = make_standin(post=recorder)
    intent = paid_intent(standin)
    params = {k: v.format(intent=intent) if isinstance(v, str) else v for k, v in params.items()}
    status, _, body = api_post(standin, REFUNDS, sdk_body(params))
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error" and body["error"]["message"]
    assert body["error"].get("code") == code and body["error"].get("param") == param
    assert standin.resources.refunds == {}
    assert [c["type"] for c in events_of(recorder, 1)] == ["checkout.session.completed"]


def test_a_charge_refunded_in_full_or_disputed_cannot_be_refunded():
    standin = make_standin()
    intent = paid_intent(standin)
    assert api_post(standin, REFUNDS, sdk_body({"payment_intent": intent}))[0] == 200
    status, _, body = api_post(standin, REFUNDS, sdk_body({"payment_intent": intent, "amount": 1}))
    assert (status, body["error"]["code"]) == (400, "charge_already_refunded")
    disputed = paid_intent(standin)
    standin.dispute(disputed)
    status, _, body = api_post(standin, REFUNDS, sdk_body({"payment_intent": disputed}))
    assert (status, body["error"]["code"]) == (400, "charge_disputed")


def test_the_same_idempotency_key_is_one_refund_announced_once():
    recorder = Recorder()
    standin = make_standin(post=recorder)
    intent = paid_intent(standin)
    body = sdk_body({"payment_intent": intent, "amount": 500})
    _, _, first = api_post(standin, REFUNDS, body, **{"Idempotency-Key": "rf_once"})
    _, headers, again = api_post(standin, REFUNDS, body, **{"Idempotency-Key": "rf_once"})
    assert again == first and headers.get("Idempotent-Replayed") == "true"
    assert len(standin.resources.refunds) == 1
    time.sleep(0.2)
    assert [e["type"] for e in events_of(recorder, 3)] == [
        "checkout.session.completed",
        "refund.created",
        "charge.refunded",
    ]


def test_a_dispute_is_announced_with_its_payment_intent_amount_and_reason():
    recorder = Recorder()
    standin = make_standin(post=recorder)
    intent = paid_intent(standin)
    delivery = standin.dispute(intent, reason="product_not_received")
    assert delivery.delivered
    dispute = events_of(recorder, 2)[-1]
    assert dispute["type"] == "charge.dispute.created"
    obj = dispute["data"]["object"]
    assert (obj["object"], obj["payment_intent"], obj["amount"], obj["reason"]) == (
        "dispute",
        intent,
        26024,
        "product_not_received",
    )
    assert obj["id"].startswith("dp_") and obj["status"] == "needs_response"


# --- through the real SDK, as the product calls it -------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[StripeStandIn, Recorder]]:
    recorder = Recorder()
    standin = StripeStandIn(
        api_key=KEY,
        webhook_secret=SECRET,
        webhook_url="http://x/webhooks/stripe",
        retry_delays_s=(),
        post=recorder,
    )
    standin.serve("127.0.0.1", 0)
    yield standin, recorder
    standin.shutdown()


def test_the_products_refunds_client_refunds_through_the_sdk(served):
    standin, recorder = served
    intent = paid_intent(standin)
    refunds = StripeRefunds(api_key=KEY, api_base=standin.base_url)
    # WHEN PropDesk refunds part of the payment, keyed on its refund id
    refund_id = refunds.refund(
        payment_ref=intent,
        amount_minor=7000,
        idempotency_key="rf_sdk-0001",
        reason="requested_by_customer",
        metadata={"property_id": "demo", "refund_id": "rf_sdk-0001"},
    )
    # THEN the stand-in holds that refund, and a retry with the same key is the same refund
    assert standin.resources.refund(refund_id)["metadata"]["refund_id"] == "rf_sdk-0001"
    again = refunds.refund(
        payment_ref=intent,
        amount_minor=7000,
        idempotency_key="rf_sdk-0001",
        reason="requested_by_customer",
        metadata={"property_id": "demo", "refund_id": "rf_sdk-0001"},
    )
    assert again == refund_id and len(standin.resources.refunds) == 1
    # AND the SDK reads it back as a Refund
    client = stripe.StripeClient(KEY, base_addresses={"api": standin.base_url})
    read = client.v1.refunds.retrieve(refund_id)
    assert isinstance(read, stripe.Refund) and (read.amount, read.payment_intent) == (7000, intent)
    assert events_of(recorder, 3)[-1]["data"]["object"]["amount_refunded"] == 7000


def test_the_products_refunds_client_reports_refusals_and_an_unreachable_stripe(served):
    standin, _ = served
    intent = paid_intent(standin)
    refunds = StripeRefunds(api_key=KEY, api_base=standin.base_url)
    with pytest.raises(RefundRefused) as refused:
        refunds.refund(
            payment_ref=intent, amount_minor=10**6, idempotency_key="rf_big", reason="duplicate", metadata={}
        )
    assert refused.value.code == "amount_too_large" and "greater than" in refused.value.message
    with pytest.raises(ProviderUnavailable):
        StripeRefunds(api_key="sk_test_other", api_base=standin.base_url).refund(
            payment_ref=intent, amount_minor=1, idempotency_key="rf_key", reason="duplicate", metadata={}
        )
