"""Refunds and disputes on moto: staff refund desk payments (paid back and posted at once) and
Stripe payments (sent through the Stripe stand-in with the real SDK, posted when its signed
``charge.refunded`` reaches the webhook); large refunds wait for a second admin; disputes reverse
and queue a payment; a failed delayed payment tells the owner; the queue's refund action."""

from __future__ import annotations

import json
from collections import Counter

import botocore.client
import pytest
from ops_support import import_demo_units

from infra.local.stripe.api import event
from propdesk.settings import get_settings
from propdesk.store.accounts import AccountStore
from propdesk.store.bills import BillRepository
from propdesk.store.models import LedgerItem, RefundItem
from propdesk.store.payments import PaymentRepository
from propdesk.store.refunds import RefundRepository
from tests.paytools import checkout_event, event_body, make_bill, store_bill
from tests.refundtools import ADMIN, CASHIER, OTHER_ADMIN, StripeWorld, call, deliver, queued, refund


@pytest.fixture
def units(aws, demo_config):
    import_demo_units(demo_config, 4)  # A-101 .. with owners O0001 ..


@pytest.fixture
def stripe_world(units, monkeypatch):
    world = StripeWorld()
    monkeypatch.setenv("STRIPE_API_BASE", world.base_url)
    get_settings.cache_clear()
    yield world
    world.close()
    get_settings.cache_clear()


def bills_of(unit_id: str, *periods: str):
    return [store_bill(make_bill(unit_id, period, owner_id="O0001")) for period in periods]


def pay_at_desk(unit_id: str, request_id: str, amount: int) -> dict:
    body = {"request_id": request_id, "amount_minor": amount, "method": "cash"}
    status, answer = call("record_desk_payment", params={"unit_id": unit_id}, body=body)
    assert status == 201, answer
    return answer


# --- desk payments: paid back at the desk, posted at once -----------------------------------------


def test_a_desk_refund_is_paid_back_at_once_and_the_newest_bill_opens_again(units, aws):
    # GIVEN two bills paid at the desk, with 5000 over kept as credit
    older, newer = bills_of("A-101", "2026-02", "2026-03")
    paid = pay_at_desk("A-101", "desk-req-0001", older.total_minor + newer.total_minor + 5000)
    # WHEN the cashier refunds 15000 of it
    status, body = refund(paid["payment_id"], "refund-req-0001", 15_000)
    # THEN it is done at once: the credit first, then 10000 of the newest bill, which is open again
    assert status == 201 and body["created"] is True
    assert (body["status"], body["refund_id"], body["requested_by"]) == (
        "succeeded",
        "rf_refund-req-0001",
        "cashier-li",
    )
    assert AccountStore().get("A-101").credit_minor == 0
    stored = BillRepository().get(newer.bill_id)
    assert (stored.status, stored.paid_minor) == ("open", newer.total_minor - 10_000)
    assert BillRepository().get(older.bill_id).status == "paid"
    assert AccountStore().get("A-101").open_bill_ids == (newer.bill_id,)
    payment = PaymentRepository().get(paid["payment_id"])
    assert (payment.refunded_minor, payment.credit_minor, payment.pending_refunds) == (15_000, 0, ())
    # AND the ledger and the owner hear of it
    assert {e.event for e in LedgerItem.query(f"payment#{paid['payment_id']}")} >= {
        "refund_requested",
        "refunded",
    }
    (told,) = queued(aws, "payment_refunded")
    assert told["owner_id"] == "O0001" and told["context"]["at_desk"] is True
    assert told["context"]["reopened"] == [
        {"bill_id": newer.bill_id, "period": "2026-03", "owed_minor": 10_000}
    ]
    # AND the day's cash-up counts what stayed in the drawer: taken in full, less the refund
    status, cash = call("cash_up")
    assert cash["total_minor"] == paid["amount_minor"] - 15_000
    assert cash["paid_out"] == [
        {
            "refund_id": "rf_refund-req-0001",
            "payment_id": paid["payment_id"],
            "method": "cash",
            "amount_minor": 15_000,
            "paid_out_at": cash["paid_out"][0]["paid_out_at"],
        }
    ]
    assert [p["amount_minor"] for p in cash["payments"]] == [paid["amount_minor"]]


def test_the_same_request_twice_is_one_refund(units):
    (bill,) = bills_of("A-101", "2026-03")
    paid = pay_at_desk("A-101", "desk-req-0002", bill.total_minor)
    first = refund(paid["payment_id"], "refund-req-0002", 1000)
    again = refund(paid["payment_id"], "refund-req-0002", 1000)
    assert (first[0], again[0]) == (201, 200) and again[1]["created"] is False
    assert again[1]["refund_id"] == first[1]["refund_id"]
    assert PaymentRepository().get(paid["payment_id"]).refunded_minor == 1000
    other = pay_at_desk("A-101", "desk-req-0003", 500)
    status, body = refund(other["payment_id"], "refund-req-0002", 500)
    assert (status, body["error"]) == (409, "request_reused")


@pytest.mark.parametrize("already", [0, 20_000])
def test_more_than_is_left_is_refused_and_changes_nothing(units, already):
    (bill,) = bills_of("A-101", "2026-03")
    paid = pay_at_desk("A-101", "desk-req-0004", bill.total_minor)
    if already:
        assert refund(paid["payment_id"], "refund-req-0040", already)[0] == 201
    before = PaymentRepository().get(paid["payment_id"])
    status, body = refund(paid["payment_id"], "refund-req-0041", bill.total_minor - already + 1)
    assert (status, body["error"]) == (409, "refund_too_large")
    assert str(bill.total_minor - already) in body["message"]
    after = PaymentRepository().get(paid["payment_id"])
    assert (after.refunded_minor, after.version) == (before.refunded_minor, before.version)
    assert RefundRepository().get("rf_refund-req-0041") is None


def test_refunds_of_payments_not_on_an_account_voided_or_unknown_are_refused(units, demo_config):
    (bill,) = bills_of("A-101", "2026-03")
    # a Stripe payment in another currency, set aside
    response = deliver(event_body(checkout_event(bill, payment_intent="pi_usd", currency="usd")))
    assert response["outcome"] == "set_aside"
    assert refund("stripe:pi_usd", "refund-req-0050", 100)[1]["error"] == "not_landed"
    # a voided desk payment
    paid = pay_at_desk("A-101", "desk-req-0005", 1000)
    assert call("request_void", params={"payment_id": paid["payment_id"]}, body={"reason": "typo"})[0] == 202
    assert call("approve_void", params={"payment_id": paid["payment_id"]}, claims=ADMIN)[0] == 200
    assert refund(paid["payment_id"], "refund-req-0051", 100)[1]["error"] == "voided"
    # a payment refunded in full
    full = pay_at_desk("A-101", "desk-req-0006", 700)
    assert refund(full["payment_id"], "refund-req-0052", 700)[0] == 201
    assert refund(full["payment_id"], "refund-req-0053", 1)[1]["error"] == "refunded"
    # no such payment
    assert refund("desk:nothing-here", "refund-req-0054", 1)[0] == 404


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"amount_minor": 0}, "greater than 0"),
        ({"amount_minor": 12.5}, "whole number"),
        ({"amount_minor": "100"}, "whole number"),
        ({"reason": "x"}, "reason"),
        ({"request_id": "short"}, "request_id"),
    ],
)
def test_bad_refund_input_is_a_clear_422_and_changes_nothing(units, fields, problem):
    (bill,) = bills_of("A-101", "2026-03")
    paid = pay_at_desk("A-101", "desk-req-0007", bill.total_minor)
    body = {"request_id": "refund-req-0070", "amount_minor": 100, "reason": "asked", **fields}
    status, answer = call("start_refund", params={"payment_id": paid["payment_id"]}, body=body)
    assert status == 422 and problem in str(answer["details"])
    assert list(RefundItem.scan()) == []


# --- Stripe payments: sent through Stripe, posted when Stripe confirms -----------------------------


def test_a_stripe_refund_is_sent_and_posted_when_stripe_confirms_it(stripe_world, aws):
    # GIVEN a bill paid online
    (bill,) = bills_of("A-101", "2026-03")
    intent = stripe_world.pay(bill)
    payment_id = f"stripe:{intent}"
    assert BillRepository().get(bill.bill_id).status == "paid"
    # WHEN a cashier refunds 10000 of it
    status, body = refund(payment_id, "refund-req-0100", 10_000)
    # THEN Stripe has the refund, keyed on the refund id, and the refund is sent
    assert status == 201 and body["status"] == "sent"
    (sent,) = stripe_world.refunds_of(intent)
    assert body["provider_refund_id"] == sent["id"] and sent["amount"] == 10_000
    assert sent["metadata"] == {
        "property_id": "demo",
        "refund_id": body["refund_id"],
        "payment_id": payment_id,
    }
    assert sent["reason"] == "requested_by_customer"
    # ... and until Stripe confirms it, nothing moved but the hold on the payment
    assert BillRepository().get(bill.bill_id).status == "paid"
    assert PaymentRepository().get(payment_id).pending_refunds == ((body["refund_id"], 10_000),)
    status, shown = call("get_payment", params={"payment_id": payment_id})
    assert (shown["refund_pending_minor"], shown["refunded_minor"]) == (10_000, 0)
    # WHEN Stripe's events arrive
    answers = stripe_world.deliver_new(expect=2)
    # THEN charge.refunded posts it: the bill is open again, the refund succeeded, the owner told
    assert [(a["type"], a["outcome"]) for a in answers] == [
        ("refund.created", "ignored"),
        ("charge.refunded", "refunded"),
    ]
    stored = BillRepository().get(bill.bill_id)
    assert (stored.status, stored.paid_minor) == ("open", bill.total_minor - 10_000)
    assert AccountStore().get("A-101").open_bill_ids == (bill.bill_id,)
    payment = PaymentRepository().get(payment_id)
    assert (payment.refunded_minor, payment.pending_refunds, payment.status) == (10_000, (), "allocated")
    assert RefundRepository().get(body["refund_id"]).status == "succeeded"
    status, shown = call("get_payment", params={"payment_id": payment_id})
    assert (shown["refund_pending_minor"], shown["refunded_minor"], shown["disputed_minor"]) == (0, 10_000, 0)
    (told,) = queued(aws, "payment_refunded")
    assert told["context"]["amount_minor"] == 10_000 and told["context"]["at_desk"] is False
    # WHEN charge.refunded is delivered again, and reported again by another event
    body_again, signature = stripe_world.events()[-1]
    assert deliver(body_again, signature)["outcome"] == "refunded"  # the first answer, replayed
    charge = json.loads(body_again)["data"]["object"]
    assert deliver(event_body(event("charge.refunded", charge)))["outcome"] == "already_recorded"
    # THEN nothing more moves
    assert PaymentRepository().get(payment_id).refunded_minor == 10_000
    assert BillRepository().get(bill.bill_id).paid_minor == bill.total_minor - 10_000


def test_a_refund_made_in_the_stripe_dashboard_is_posted_too(stripe_world):
    (bill,) = bills_of("A-101", "2026-03")
    intent = stripe_world.pay(bill)
    # Someone refunds it in Stripe's dashboard: no refund record in PropDesk
    assert stripe_world.standin.resources.create_refund({"payment_intent": intent, "amount": "3000"})
    charge = stripe_world.standin.resources.charge(
        stripe_world.standin.resources.payment_intent(intent)["latest_charge"]
    )
    answer = deliver(event_body(event("charge.refunded", charge)))
    assert answer["outcome"] == "refunded"
    assert PaymentRepository().get(f"stripe:{intent}").refunded_minor == 3000
    assert BillRepository().get(bill.bill_id).paid_minor == bill.total_minor - 3000


def test_a_refund_for_a_payment_of_another_property_is_ignored(stripe_world):
    (bill,) = bills_of("A-101", "2026-03")
    stripe_world.pay(bill)
    charge = {
        "id": "ch_x",
        "object": "charge",
        "amount_refunded": 100,
        "currency": "cny",
        "payment_intent": "pi_not_ours",
        "metadata": {},
    }
    assert deliver(event_body(event("charge.refunded", charge)))["outcome"] == "ignored"


def test_a_large_refund_waits_for_another_admin_then_is_sent(stripe_world, demo_config):
    # GIVEN a payment above the approval amount
    big = demo_config.payment.refund_approval_minor + 1
    (bill,) = [store_bill(make_bill("A-101", "2026-03", owner_id="O0001"))]
    intent = stripe_world.pay(bill, amount=big)  # more than the bill: the rest is credit
    # WHEN a cashier refunds all of it
    status, body = refund(f"stripe:{intent}", "refund-req-0200", big)
    # THEN it waits: nothing sent to Stripe, the amount held
    assert status == 201 and body["status"] == "pending_approval"
    assert stripe_world.refunds_of(intent) == []
    status, again = refund(f"stripe:{intent}", "refund-req-0201", 1)
    assert (status, again["error"]) == (409, "refund_too_large")
    # WHEN a cashier tries to approve it: not an admin's route
    assert call("approve_refund", params={"refund_id": body["refund_id"]}, claims=CASHIER)[0] == 403
    # WHEN an admin approves it
    status, approved = call("approve_refund", params={"refund_id": body["refund_id"]}, claims=ADMIN)
    # THEN it is sent, and once is enough
    assert status == 200 and (approved["status"], approved["approved_by"]) == ("sent", "admin-zhao")
    assert [r["amount"] for r in stripe_world.refunds_of(intent)] == [big]
    status, twice = call("approve_refund", params={"refund_id": body["refund_id"]}, claims=OTHER_ADMIN)
    assert (status, twice["error"]) == (409, "not_pending")
    assert len(stripe_world.refunds_of(intent)) == 1
    assert call("approve_refund", params={"refund_id": "rf_nothing-here"}, claims=ADMIN)[0] == 404


def test_a_refund_stripe_refuses_fails_and_releases_its_hold(stripe_world):
    (bill,) = bills_of("A-101", "2026-03")
    intent = stripe_world.pay(bill)
    stripe_world.standin.resources.dispute(intent)  # a disputed charge cannot be refunded
    status, body = refund(f"stripe:{intent}", "refund-req-0300", 1000)
    assert (status, body["error"]) == (409, "provider_refused")
    failed = RefundRepository().get("rf_refund-req-0300")
    assert (failed.status, failed.failure) == ("failed", "charge_disputed")
    assert PaymentRepository().get(f"stripe:{intent}").pending_refunds == ()


def test_an_unreachable_stripe_leaves_the_refund_approved_and_the_same_request_sends_it(
    stripe_world, monkeypatch
):
    (bill,) = bills_of("A-101", "2026-03")
    intent = stripe_world.pay(bill)
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:9")  # nothing listens there
    get_settings.cache_clear()
    status, body = refund(f"stripe:{intent}", "refund-req-0400", 1000)
    assert (status, body["error"]) == (503, "provider_unavailable")
    assert RefundRepository().get("rf_refund-req-0400").status == "approved"
    monkeypatch.setenv("STRIPE_API_BASE", stripe_world.base_url)
    get_settings.cache_clear()
    status, body = refund(f"stripe:{intent}", "refund-req-0400", 1000)
    assert (status, body["status"], body["created"]) == (200, "sent", False)
    assert len(stripe_world.refunds_of(intent)) == 1


# --- the staff queue's refund action -------------------------------------------------------------


def test_the_queues_refund_sends_a_double_payments_credit_back(stripe_world, aws):
    # GIVEN a bill paid twice online: the second payment is credit, in the staff queue
    (bill,) = bills_of("A-101", "2026-03")
    stripe_world.pay(bill)
    second = stripe_world.pay(bill, amount=bill.total_minor)
    payment_id = f"stripe:{second}"
    assert [p.payment_id for p in PaymentRepository().waiting_for_staff()] == [payment_id]
    # WHEN a cashier resolves it with a refund
    status, body = call("resolve_payment", params={"payment_id": payment_id}, body={"action": "refund"})
    # THEN it leaves the queue, and its credit goes back through Stripe
    assert status == 200 and body["review_state"] is None and body["review_note"] == "refund"
    assert PaymentRepository().waiting_for_staff() == []
    assert [r["amount"] for r in stripe_world.refunds_of(second)] == [bill.total_minor]
    assert RefundRepository().get(f"rf_queue-stripe-{second}").reason == "staff queue: refund the credit"
    # WHEN Stripe confirms it
    answers = stripe_world.deliver_new(expect=2)
    assert answers[-1]["outcome"] == "refunded"
    # THEN the credit is gone, the bill stays paid by the first payment
    assert AccountStore().get("A-101").credit_minor == 0
    assert BillRepository().get(bill.bill_id).status == "paid"
    assert PaymentRepository().get(payment_id).status == "refunded"
    # AND the same resolution again (a retry) is that refund, nothing new
    status, again = call("resolve_payment", params={"payment_id": payment_id}, body={"action": "refund"})
    assert status == 200 and again["status"] == "refunded"
    assert len(stripe_world.refunds_of(second)) == 1
    # AND another action finds nothing waiting
    status, other = call("resolve_payment", params={"payment_id": payment_id}, body={"action": "keep_credit"})
    assert (status, other["error"]) == (409, "not_in_queue")


def test_the_queues_refund_needs_credit_to_refund(units):
    (bill,) = bills_of("A-101", "2026-03")
    answer = deliver(event_body(checkout_event(bill, payment_intent="pi_short", amount_minor=1000)))
    assert answer["outcome"] == "mismatch"  # in the queue, all of it on the bill
    status, body = call(
        "resolve_payment", params={"payment_id": "stripe:pi_short"}, body={"action": "refund"}
    )
    assert (status, body["error"]) == (409, "nothing_to_refund")


# --- disputes and failed delayed payments ----------------------------------------------------------


def test_a_dispute_reverses_the_payment_queues_it_and_tells_the_owner(stripe_world, aws):
    (bill,) = bills_of("A-101", "2026-03")
    intent = stripe_world.pay(bill)
    # WHEN the owner's bank disputes it
    stripe_world.standin.dispute(intent, reason="fraudulent")
    (answer,) = stripe_world.deliver_new(expect=1)
    # THEN the money is taken back, the bill open again, the payment waiting for staff
    assert (answer["type"], answer["outcome"]) == ("charge.dispute.created", "dispute")
    assert BillRepository().get(bill.bill_id).status == "open"
    payment = PaymentRepository().get(f"stripe:{intent}")
    assert (payment.status, payment.disputed_minor, payment.review_reason) == (
        "refunded",
        bill.total_minor,
        "dispute",
    )
    assert [p.payment_id for p in PaymentRepository().waiting_for_staff()] == [payment.payment_id]
    (told,) = queued(aws, "payment_refunded")
    assert told["context"]["disputed"] is True
    # AND the same dispute again changes nothing
    dispute = json.loads(stripe_world.events()[-1][0])["data"]["object"]
    assert deliver(event_body(event("charge.dispute.created", dispute)))["outcome"] == "already_recorded"
    assert PaymentRepository().get(payment.payment_id).version == payment.version


def test_a_failed_delayed_payment_tells_the_owner_with_the_pay_link_and_posts_nothing(units, aws):
    (bill,) = bills_of("A-101", "2026-03")
    failed = checkout_event(
        bill,
        event_type="checkout.session.async_payment_failed",
        payment_intent="pi_bank",
        payment_status="unpaid",
    )
    answer = deliver(event_body(failed))
    assert answer["outcome"] == "payment_failed"
    assert PaymentRepository().get("stripe:pi_bank") is None
    assert BillRepository().get(bill.bill_id).status == "open"
    (told,) = queued(aws, "payment_failed")
    assert told["message_id"] == f"payment_failed#{failed['data']['object']['id']}"
    assert told["owner_id"] == "O0001"
    assert told["context"]["pay_url"].startswith("https://pay.example.test/pay/")
    assert told["context"]["bills"] == [{"bill_id": bill.bill_id, "period": "2026-03"}]


# --- cost: the plain checkout path is not made dearer ----------------------------------------------


def test_a_plain_completed_checkout_still_takes_four_dynamodb_requests(units, monkeypatch):
    (bill,) = bills_of("A-101", "2026-03")
    calls: Counter[str] = Counter()
    real = botocore.client.BaseClient._make_api_call

    def counted(self, operation, params):
        if self.meta.service_model.service_name == "dynamodb":
            calls[operation] += 1
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counted)
    assert deliver(event_body(checkout_event(bill)))["outcome"] == "credited"
    # the idempotency record put and its update, one BatchGetItem, one TransactWriteItems
    assert sum(calls.values()) <= 4, calls
