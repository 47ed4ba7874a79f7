"""What Stripe's refund, dispute and failed-payment events mean (``interpret_event``), and the
signature check's tolerance in both directions."""

from __future__ import annotations

import json
import time

import pytest

from propdesk.payments.events import (
    ChargeRefunded,
    CheckoutFailed,
    DisputeOpened,
    Ignored,
    interpret_event,
)
from propdesk.payments.stripe_provider import InvalidWebhook, verify_webhook
from tests.paytools import checkout_event, make_bill, stripe_signature

SECRET = "whsec_unit"


def event(event_type: str, obj: dict, *, livemode: bool = False) -> dict:
    return {
        "id": "evt_r1",
        "object": "event",
        "type": event_type,
        "created": 1767225600,
        "livemode": livemode,
        "data": {"object": obj},
    }


CHARGE = {
    "id": "ch_1",
    "object": "charge",
    "amount": 32727,
    "amount_captured": 32727,
    "amount_refunded": 10000,
    "currency": "cny",
    "metadata": {"property_id": "demo", "unit_id": "A-101", "bill_ids": "A-101#2027-01"},
    "payment_intent": "pi_1",
    "refunded": False,
}
DISPUTE = {
    "id": "dp_1",
    "object": "dispute",
    "amount": 32727,
    "charge": "ch_1",
    "currency": "cny",
    "metadata": {},
    "payment_intent": "pi_1",
    "reason": "fraudulent",
    "status": "needs_response",
}


def interpret(e: dict):
    return interpret_event(e, property_id="demo", livemode=False)


def test_charge_refunded_is_the_charges_running_refunded_total():
    assert interpret(event("charge.refunded", CHARGE)) == ChargeRefunded(
        event_id="evt_r1",
        payment_id="stripe:pi_1",
        charge_id="ch_1",
        amount_refunded_minor=10000,
        currency="CNY",
        ours=True,  # this property's metadata: a refund that arrives before its payment is retried
    )
    # an expanded payment intent, and a charge without our metadata (the service checks the payment)
    expanded = {**CHARGE, "payment_intent": {"id": "pi_1", "object": "payment_intent"}, "metadata": {}}
    found = interpret(event("charge.refunded", expanded))
    assert isinstance(found, ChargeRefunded) and (found.payment_id, found.ours) == ("stripe:pi_1", False)


def test_a_dispute_names_its_payment_amount_and_reason():
    assert interpret(event("charge.dispute.created", DISPUTE)) == DisputeOpened(
        event_id="evt_r1",
        payment_id="stripe:pi_1",
        dispute_id="dp_1",
        amount_minor=32727,
        currency="CNY",
        reason="fraudulent",
    )


def test_a_failed_delayed_payment_names_its_session_bills_and_payment():
    bill = make_bill(period="2027-01")
    failed = checkout_event(
        bill,
        event_type="checkout.session.async_payment_failed",
        payment_intent="pi_9",
        payment_status="unpaid",
    )
    result = interpret(failed)
    assert isinstance(result, CheckoutFailed)
    assert (result.payment_id, result.bill_ids, result.unit_id) == ("stripe:pi_9", (bill.bill_id,), "A-101")
    assert (result.amount_minor, result.currency) == (bill.total_minor, "CNY")
    assert result.session_id == failed["data"]["object"]["id"]


@pytest.mark.parametrize(
    ("event_type", "obj", "reason"),
    [
        ("charge.refunded", {**CHARGE, "metadata": {"property_id": "other-estate"}}, "another property"),
        ("charge.refunded", {**CHARGE, "payment_intent": None}, "no payment intent"),
        ("charge.refunded", {**CHARGE, "amount_refunded": "10000"}, "amount not an integer"),
        ("charge.refunded", {**CHARGE, "amount_refunded": True}, "amount a boolean"),
        ("charge.refunded", {**CHARGE, "amount_refunded": -1}, "negative amount"),
        ("charge.dispute.created", {**DISPUTE, "amount": 0}, "nothing disputed"),
        ("charge.dispute.created", {**DISPUTE, "currency": None}, "no currency"),
        (
            "charge.dispute.created",
            {**DISPUTE, "metadata": {"property_id": "other-estate"}},
            "another property",
        ),
        ("charge.refund.updated", CHARGE, "not handled"),
    ],
)
def test_events_that_say_nothing_for_this_property_are_ignored(event_type, obj, reason):
    assert isinstance(interpret(event(event_type, obj)), Ignored), reason


def test_a_failed_session_of_another_property_or_without_bills_is_ignored():
    bill = make_bill(period="2027-01")
    other = checkout_event(
        bill, event_type="checkout.session.async_payment_failed", property_id="other-estate"
    )
    assert isinstance(interpret(other), Ignored)
    bare = checkout_event(bill, event_type="checkout.session.async_payment_failed")
    obj = bare["data"]["object"]
    obj["metadata"].pop("bill_ids")
    obj["client_reference_id"] = None
    assert isinstance(interpret(bare), Ignored)


def test_a_live_event_for_test_keys_is_ignored():
    assert isinstance(interpret(event("charge.refunded", CHARGE, livemode=True)), Ignored)


# --- the signature's timestamp: refused too old and too far ahead (RELIABILITY 3) ------------------

PAYLOAD = json.dumps(event("charge.refunded", CHARGE))


@pytest.mark.parametrize("offset", [0, -299, 299])
def test_a_timestamp_within_the_tolerance_either_way_is_accepted(offset):
    header = stripe_signature(PAYLOAD, secret=SECRET, timestamp=int(time.time()) + offset)
    assert verify_webhook(PAYLOAD.encode(), header, SECRET)["id"] == "evt_r1"


@pytest.mark.parametrize("offset", [-301, 301, 3600, 86_400 * 365])
def test_a_timestamp_outside_the_tolerance_either_way_is_refused(offset):
    header = stripe_signature(PAYLOAD, secret=SECRET, timestamp=int(time.time()) + offset)
    with pytest.raises(InvalidWebhook) as refused:
        verify_webhook(PAYLOAD.encode(), header, SECRET)
    assert refused.value.reason == "signature"
