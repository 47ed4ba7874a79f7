"""RELIABILITY.md payments 3 (a signature from the future), 7 (events out of order, the owner told
of a reversal), money 31 (money for settled bills: credit or refund per config) and 32 (a refund
approved by who asked for it), on moto, with the Stripe stand-in signing the events."""

from __future__ import annotations

import json
import time

import pytest
from ops_support import import_demo_units

from infra.local.stripe import StripeError
from infra.local.stripe.api import event
from propdesk.config import PropertyConfig
from propdesk.settings import get_settings
from propdesk.store.accounts import AccountStore
from propdesk.store.bills import BillRepository
from propdesk.store.models import IdempotencyItem, LedgerItem, PaymentItem, RefundItem
from propdesk.store.payments import PaymentRepository
from propdesk.store.refunds import RefundRepository
from tests.paytools import checkout_event, event_body, make_bill, store_bill, stripe_signature
from tests.refundtools import ADMIN, OTHER_ADMIN, StripeWorld, call, deliver, queued, refund


@pytest.fixture
def units(aws, demo_config):
    import_demo_units(demo_config, 4)


@pytest.fixture
def stripe_world(units, monkeypatch):
    world = StripeWorld()
    monkeypatch.setenv("STRIPE_API_BASE", world.base_url)
    get_settings.cache_clear()
    yield world
    world.close()
    get_settings.cache_clear()


def with_surplus(monkeypatch, config: PropertyConfig, surplus: str) -> None:
    changed = config.model_copy(update={"payment": config.payment.model_copy(update={"surplus": surplus})})
    monkeypatch.setenv("PROPERTY_CONFIG", changed.to_env_json())
    get_settings.cache_clear()


def a_bill(period: str = "2026-03"):
    return store_bill(make_bill("A-101", period, owner_id="O0001"))


# --- 3: a signature timestamp outside the tolerance, either way ------------------------------------


@pytest.mark.parametrize(
    "seconds_ahead", [310, 600, 86_400]
)  # 310: just past the 300 s, with room for a slow run
def test_payments_3_signature_timestamp_in_the_future_is_rejected_and_nothing_written(
    units, aws, seconds_ahead
):
    # GIVEN an event correctly signed, with a timestamp ahead of now by more than the tolerance
    # (a signature made to be replayed later)
    bill = a_bill()
    payload = event_body(checkout_event(bill, payment_intent="pi_future"))
    header = stripe_signature(payload, timestamp=int(time.time()) + seconds_ahead)
    # WHEN it is delivered
    answer = deliver(payload, header)
    # THEN refused as a bad signature, and nothing written
    assert (answer["status"], answer["error"]) == (400, "invalid_signature")
    assert list(PaymentItem.scan()) == [] and list(IdempotencyItem.scan()) == []
    assert BillRepository().get(bill.bill_id).status == "open"
    assert queued(aws) == []


def test_payments_3_a_refund_event_signed_in_the_future_moves_no_money(stripe_world):
    bill = a_bill()
    intent = stripe_world.pay(bill)
    resources = stripe_world.standin.resources
    resources.create_refund({"payment_intent": intent})
    charge = resources.charge(resources.payment_intent(intent)["latest_charge"])
    payload = event_body(event("charge.refunded", charge))
    assert deliver(payload, stripe_signature(payload, timestamp=int(time.time()) + 900))["status"] == 400
    assert PaymentRepository().get(f"stripe:{intent}").refunded_minor == 0
    # the same event signed now is accepted
    assert deliver(payload)["outcome"] == "refunded"


# --- 7: events out of order ----------------------------------------------------------------------


def test_payments_7_async_success_before_the_completion_credits_once(units, aws):
    # GIVEN a delayed payment whose success is delivered before the checkout's completion
    bill = a_bill()
    succeeded = checkout_event(
        bill, event_type="checkout.session.async_payment_succeeded", payment_intent="pi_late"
    )
    completed = checkout_event(bill, payment_intent="pi_late", payment_status="unpaid")
    completed["data"]["object"]["id"] = succeeded["data"]["object"]["id"]
    # WHEN they arrive in that order, then the completion once more as paid (a late retry)
    answers = [deliver(event_body(e))["outcome"] for e in (succeeded, completed)]
    answers.append(deliver(event_body(checkout_event(bill, payment_intent="pi_late")))["outcome"])
    # THEN the bill is paid once, by the success
    assert answers == ["credited", "ignored", "already_recorded"]
    stored = BillRepository().get(bill.bill_id)
    assert (stored.status, stored.paid_minor, stored.payment_id) == (
        "paid",
        bill.total_minor,
        "stripe:pi_late",
    )
    assert [p.payment_id for p in PaymentRepository().of_unit("A-101")] == ["stripe:pi_late"]
    assert {m["message_id"] for m in queued(aws, "payment_receipt")} == {
        f"payment_receipt#{stored.receipt_no}"
    }
    assert queued(aws, "payment_failed") == []


@pytest.mark.parametrize("order", ["completion_first", "failure_first"])
def test_payments_7_a_failure_after_an_unpaid_completion_posts_nothing_and_tells_the_owner(units, aws, order):
    # GIVEN a delayed payment that completed unpaid and then failed
    bill = a_bill()
    completed = checkout_event(
        bill, payment_intent="pi_debit", payment_status="unpaid", session_id="cs_test_debit"
    )
    failed = checkout_event(
        bill,
        event_type="checkout.session.async_payment_failed",
        payment_intent="pi_debit",
        payment_status="unpaid",
        session_id="cs_test_debit",
    )
    events = [completed, failed] if order == "completion_first" else [failed, completed]
    # WHEN they arrive (in either order), and the failure again as another event
    outcomes = [deliver(event_body(e))["outcome"] for e in events]
    again = checkout_event(
        bill,
        event_type="checkout.session.async_payment_failed",
        payment_intent="pi_debit",
        session_id="cs_test_debit",
    )
    outcomes.append(deliver(event_body(again))["outcome"])
    # THEN nothing is posted: no payment, the bill open, no receipt number used
    assert sorted(outcomes) == ["ignored", "payment_failed", "payment_failed"]
    assert PaymentRepository().get("stripe:pi_debit") is None
    assert BillRepository().get(bill.bill_id).status == "open"
    assert AccountStore().get("A-101").open_bill_ids == (bill.bill_id,)
    # AND the owner is told once (one message id), with the link to pay again
    told = queued(aws, "payment_failed")
    assert {m["message_id"] for m in told} == {"payment_failed#cs_test_debit"}
    assert told[0]["context"]["pay_url"].startswith("https://pay.example.test/pay/")
    assert queued(aws, "payment_receipt") == []


def test_payments_7_a_failure_reported_for_a_payment_that_landed_changes_nothing(units, aws):
    bill = a_bill()
    assert deliver(event_body(checkout_event(bill, payment_intent="pi_ok")))["outcome"] == "credited"
    failed = checkout_event(bill, event_type="checkout.session.async_payment_failed", payment_intent="pi_ok")
    assert deliver(event_body(failed))["outcome"] == "already_recorded"
    assert BillRepository().get(bill.bill_id).status == "paid"
    assert queued(aws, "payment_failed") == []


def test_payments_7_refunds_confirmed_out_of_order_post_each_minor_unit_once_and_tell_the_owner(
    stripe_world, aws
):
    # GIVEN a bill paid online and two refunds of it sent through Stripe
    bill = a_bill()
    intent = stripe_world.pay(bill)
    payment_id = f"stripe:{intent}"
    first = refund(payment_id, "refund-req-7001", 10_000)[1]
    second = refund(payment_id, "refund-req-7002", 5_000)[1]
    assert (first["status"], second["status"]) == ("sent", "sent")
    events = stripe_world.events(1 + 4)[1:]  # after the completion: refund.created, charge.refunded, twice
    refunded = [(body, sig) for body, sig in events if json.loads(body)["type"] == "charge.refunded"]
    totals = [json.loads(body)["data"]["object"]["amount_refunded"] for body, _ in refunded]
    assert totals == [10_000, 15_000]
    # WHEN Stripe delivers the later total first, then the earlier one, then the later again
    outcomes = [deliver(*refunded[1])["outcome"], deliver(*refunded[0])["outcome"]]
    repeat = event("charge.refunded", json.loads(refunded[1][0])["data"]["object"])
    outcomes.append(deliver(event_body(repeat))["outcome"])
    # THEN 15000 is posted once; both refunds are settled; the bill is open for what went back
    assert outcomes == ["refunded", "already_recorded", "already_recorded"]
    payment = PaymentRepository().get(payment_id)
    assert (payment.refunded_minor, payment.pending_refunds) == (15_000, ())
    assert {RefundRepository().get(r["refund_id"]).status for r in (first, second)} == {"succeeded"}
    stored = BillRepository().get(bill.bill_id)
    assert (stored.status, stored.paid_minor) == ("open", bill.total_minor - 15_000)
    assert [e.event for e in LedgerItem.query(f"payment#{payment_id}") if e.event == "refunded"] == [
        "refunded"
    ]
    # AND the owner is told of the reversal, once
    (told,) = queued(aws, "payment_refunded")
    assert told["context"]["amount_minor"] == 15_000
    assert told["context"]["reopened"][0]["bill_id"] == bill.bill_id


def test_payments_7_a_refund_before_its_payment_landed_is_delivered_again_and_then_posted(stripe_world):
    # GIVEN a payment whose completion has not reached us yet, refunded in Stripe's dashboard
    bill = a_bill()
    metadata = {"property_id": "demo", "unit_id": "A-101", "bill_ids": bill.bill_id}
    charge = {
        "id": "ch_early",
        "object": "charge",
        "amount": bill.total_minor,
        "amount_refunded": 1000,
        "currency": "cny",
        "metadata": metadata,
        "payment_intent": "pi_early",
    }
    early = event_body(event("charge.refunded", charge))
    # WHEN the refund arrives first
    first = deliver(early)
    # THEN Stripe is asked to deliver it again later, and nothing is written
    assert (first["status"], first["error"]) == (409, "not_recorded_yet")
    assert list(PaymentItem.scan()) == [] and list(IdempotencyItem.scan()) == []
    # WHEN the completion lands, and Stripe delivers the refund again
    assert deliver(event_body(checkout_event(bill, payment_intent="pi_early")))["outcome"] == "credited"
    assert deliver(early)["outcome"] == "refunded"
    # THEN the refund is posted
    assert PaymentRepository().get("stripe:pi_early").refunded_minor == 1000


def test_payments_7_a_dispute_after_a_partial_refund_takes_back_only_the_rest_and_tells_the_owner(
    stripe_world, aws
):
    bill = a_bill()
    intent = stripe_world.pay(bill)
    assert refund(f"stripe:{intent}", "refund-req-7101", 2_000)[1]["status"] == "sent"
    stripe_world.standin.dispute(intent)  # the rest, as Stripe computes it
    answers = stripe_world.deliver_new(expect=3)
    # the dispute may be delivered before or after the refund's confirmation: both end the same
    assert sorted(a["outcome"] for a in answers if a["type"] != "refund.created") == ["dispute", "refunded"]
    payment = PaymentRepository().get(f"stripe:{intent}")
    assert (payment.refunded_minor, payment.disputed_minor, payment.status) == (
        bill.total_minor,
        bill.total_minor - 2_000,
        "refunded",
    )
    assert BillRepository().get(bill.bill_id).paid_minor == 0
    assert {m["context"]["disputed"] for m in queued(aws, "payment_refunded")} == {True, False}


# --- 31: money for bills that no longer need it: credit or refund, per config ----------------------


def test_money_31_with_credit_a_second_payment_stays_credit_staff_see_it_and_nothing_goes_back(
    stripe_world, aws, demo_config
):
    # GIVEN the default: surplus kept as credit
    assert demo_config.payment.surplus == "credit"
    bill = a_bill()
    # WHEN the owner pays the same bill in two tabs
    stripe_world.pay(bill)
    second = stripe_world.pay(bill, amount=bill.total_minor)
    # THEN the second is credit on the account, in the staff queue, and nothing is refunded
    payment = PaymentRepository().get(f"stripe:{second}")
    assert (payment.review_reason, payment.credit_minor, payment.status) == (
        "duplicate",
        bill.total_minor,
        "allocated",
    )
    assert [p.payment_id for p in PaymentRepository().waiting_for_staff()] == [payment.payment_id]
    assert AccountStore().get("A-101").credit_minor == bill.total_minor
    assert stripe_world.refunds_of(second) == [] and list(RefundItem.scan()) == []
    # AND the owner's receipt tells the truth: kept as credit
    receipt = next(
        m for m in queued(aws, "payment_receipt") if m["context"]["payment_id"] == payment.payment_id
    )
    assert (
        receipt["context"]["credit_minor"] == bill.total_minor and receipt["context"]["to_refund_minor"] == 0
    )


@pytest.mark.parametrize("first", ["online", "desk"])
def test_money_31_with_refund_a_second_payment_goes_back_at_once_the_owner_told_staff_see_it(
    stripe_world, aws, demo_config, monkeypatch, first
):
    # GIVEN a property that refunds money for settled bills
    with_surplus(monkeypatch, demo_config, "refund")
    bill = a_bill()
    # WHEN the bill is paid (online in another tab, or at the desk), then online again
    if first == "online":
        stripe_world.pay(bill)
    else:
        body = {"request_id": "desk-req-3101", "amount_minor": bill.total_minor, "method": "cash"}
        assert call("record_desk_payment", params={"unit_id": "A-101"}, body=body)[0] == 201
    second = stripe_world.pay(bill, amount=bill.total_minor)
    payment_id = f"stripe:{second}"
    # THEN the second is refunded in full through Stripe at once, as a duplicate
    (sent,) = stripe_world.refunds_of(second)
    assert (sent["amount"], sent["reason"]) == (bill.total_minor, "duplicate")
    (record,) = [r for r in RefundRepository().get_many([f"rf_surplus-stripe-{second}"]).values()]
    assert (record.status, record.requested_by) == ("sent", "system:surplus")
    # ... the owner's receipt says it will be refunded, not kept ...
    receipt = next(m for m in queued(aws, "payment_receipt") if m["context"]["payment_id"] == payment_id)
    assert receipt["context"]["to_refund_minor"] == bill.total_minor
    # ... and staff still see it until the refund is confirmed
    assert [p.payment_id for p in PaymentRepository().waiting_for_staff()] == [payment_id]
    # WHEN Stripe confirms the refund
    answers = stripe_world.deliver_new(expect=2)
    assert answers[-1]["outcome"] == "refunded"
    # THEN the money is back, the account holds no credit, the bill stays paid by the first payment
    payment = PaymentRepository().get(payment_id)
    assert (payment.status, payment.refunded_minor, payment.credit_minor) == ("refunded", bill.total_minor, 0)
    assert (payment.review_reason, payment.review_state) == ("duplicate", None)
    assert AccountStore().get("A-101").credit_minor == 0
    assert BillRepository().get(bill.bill_id).status == "paid"
    (told,) = queued(aws, "payment_refunded")
    assert told["context"]["reopened"] == []  # no bill opens again: it was money for nothing
    # AND a repeat of the duplicate's completion refunds nothing more
    completion = json.loads(stripe_world.events()[0 if first == "desk" else 1][0])
    assert deliver(event_body({**completion, "id": "evt_again"}))["outcome"] == "already_recorded"
    assert len(stripe_world.refunds_of(second)) == 1


def test_money_31_with_refund_a_refusal_by_stripe_leaves_the_credit_for_staff(
    stripe_world, demo_config, monkeypatch
):
    with_surplus(monkeypatch, demo_config, "refund")
    bill = a_bill()
    stripe_world.pay(bill)

    def refused(params):
        raise StripeError("Your account cannot refund this charge.", code="charge_not_refundable")

    monkeypatch.setattr(stripe_world.standin.resources, "create_refund", refused)
    second = stripe_world.pay(bill, amount=bill.total_minor)
    payment = PaymentRepository().get(f"stripe:{second}")
    assert (payment.review_state, payment.credit_minor, payment.pending_refunds) == (
        "open",
        bill.total_minor,
        (),
    )
    assert RefundRepository().get(f"rf_surplus-stripe-{second}").status == "failed"


# --- 32: a refund approved by who asked for it ----------------------------------------------------


def test_money_32_a_refund_approved_by_the_admin_who_asked_is_refused(stripe_world, demo_config):
    # GIVEN a refund above the approval amount, asked for by an admin
    bill = a_bill()
    big = demo_config.payment.refund_approval_minor + 100
    intent = stripe_world.pay(bill, amount=big)
    status, asked = refund(f"stripe:{intent}", "refund-req-3201", big, claims=ADMIN)
    assert (status, asked["status"]) == (201, "pending_approval")
    # WHEN the same admin approves it
    status, body = call("approve_refund", params={"refund_id": asked["refund_id"]}, claims=ADMIN)
    # THEN refused, and nothing changed: not sent, still waiting, the amount still held
    assert (status, body["error"]) == (403, "self_approval")
    assert stripe_world.refunds_of(intent) == []
    assert RefundRepository().get(asked["refund_id"]).status == "pending_approval"
    assert PaymentRepository().get(f"stripe:{intent}").refund_pending_minor == big
    # AND another admin's approval sends it
    status, body = call("approve_refund", params={"refund_id": asked["refund_id"]}, claims=OTHER_ADMIN)
    assert (status, body["status"], body["approved_by"]) == (200, "sent", "admin-sun")
    # AND the one who asked cannot approve it afterwards either
    status, body = call("approve_refund", params={"refund_id": asked["refund_id"]}, claims=ADMIN)
    assert (status, body["error"]) == (403, "self_approval")
