"""RELIABILITY.md payments 1-6, 8, 9, 11: the Stripe webhook under bad signatures, repeats,
races, wrong amounts, double payments and store failures, on the unit accounts. Events are signed exactly as
Stripe signs them: ``t=<ts>,v1=<hex hmac_sha256(secret, f"{t}.{payload}")>``."""

from __future__ import annotations

import json
import threading
import time

import boto3
import pytest
from pynamodb.connection import Connection

from payment_webhook.handler import lambda_handler
from propdesk.queues import QueueProducer
from propdesk.store.accounts import AccountStore
from propdesk.store.bills import BillRepository
from propdesk.store.models import CounterItem, IdempotencyItem, LedgerItem, PaymentItem
from propdesk.store.payments import PaymentRepository
from tests.paytools import checkout_event, event_body, store_bill, stripe_signature, webhook_request
from tests.route_events import LambdaContext


def deliver_raw(payload: str, **kwargs) -> dict:
    return lambda_handler(webhook_request(payload, **kwargs), LambdaContext())


def deliver(event: dict, **kwargs) -> dict:
    return deliver_raw(event_body(event), **kwargs)


def outcome(response: dict) -> str:
    return json.loads(response["body"]).get("outcome")


def queued(env: dict) -> list[dict]:
    sqs = boto3.client("sqs")
    found = []
    while True:
        batch = sqs.receive_message(QueueUrl=env["MESSAGES_QUEUE_URL"], MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not batch:
            return found
        found += [json.loads(m["Body"]) for m in batch]


def issued_only(bill) -> set[tuple[str, str]]:
    """The ledger entries issuing ``bill`` wrote, and nothing else."""
    return {(f"bill#{bill.bill_id}", "issued"), (f"account#{bill.unit_id}", f"charge#{bill.bill_id}")}


def assert_nothing_written(env: dict, bill) -> None:
    assert list(PaymentItem.scan()) == []
    assert list(IdempotencyItem.scan()) == []
    assert {(e.entity, e.seq) for e in LedgerItem.scan()} == issued_only(bill)
    assert list(CounterItem.scan()) == []
    assert queued(env) == []
    stored = BillRepository().get(bill.bill_id)
    assert stored.status == "open" and stored.version == bill.version


def assert_credited_once(env: dict, bill, payment_id: str) -> None:
    payments = list(PaymentItem.scan())
    assert [(p.payment_id, p.status, p.review_state) for p in payments] == [(payment_id, "allocated", None)]
    stored = BillRepository().get(bill.bill_id)
    assert stored.status == "paid" and stored.payment_id == payment_id
    assert stored.paid_minor == bill.total_minor
    counters = list(CounterItem.scan())
    assert [c.value for c in counters] == [1]
    ledger = [(e.event, e.seq) for e in LedgerItem.query(f"bill#{bill.bill_id}")]
    assert ledger == [("issued", "issued"), ("paid", f"paid#{payment_id}")]
    account = AccountStore().get(bill.unit_id)
    assert (account.credit_minor, account.open_bill_ids, account.payment_ids) == (0, (), (payment_id,))
    receipts = [m for m in queued(env) if m["template"] == "payment_receipt"]
    # The messages queue may hold a repeat after a retry; the messenger dedups by message_id.
    assert {m["message_id"] for m in receipts} == {f"payment_receipt#{stored.receipt_no}"}


def test_payments_1_body_changed_after_signing_is_400_and_nothing_written(aws):
    # GIVEN an event signed correctly, then one byte of its body changed (amount 32727 -> 32728)
    bill = store_bill()
    payload = event_body(checkout_event(bill))
    header = stripe_signature(payload)
    tampered = payload.replace('"amount_total":32727', '"amount_total":32728')
    assert tampered != payload and len(tampered) == len(payload)
    # WHEN it is delivered with the original signature
    response = deliver_raw(tampered, signature=header)
    # THEN 400 and nothing at all is written
    assert response["statusCode"] == 400
    assert_nothing_written(aws, bill)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        "t=,v1=",
        "t=notanumber,v1=abc",
        "v1=0123456789abcdef",
        "t=1700000000",
        "t={now},v0={good}",  # only the legacy test scheme
        "t={now},v1={wrong_secret}",
        "t={now},v1={good}x",
        "t={later},v1={good}",  # signature for another timestamp
    ],
)
def test_payments_2_missing_malformed_or_wrong_signature_is_400_and_nothing_written(aws, header):
    # GIVEN an event and a header that does not sign it
    bill = store_bill()
    payload = event_body(checkout_event(bill))
    now = int(time.time())
    good = stripe_signature(payload, timestamp=now).split("v1=")[1]
    wrong = stripe_signature(payload, secret="whsec_someone_else", timestamp=now).split("v1=")[1]
    if header is not None:
        header = header.format(now=now, later=now + 1, good=good, wrong_secret=wrong)
    # WHEN it is delivered
    response = deliver_raw(payload, signature=header)
    # THEN 400 with a clear message, and nothing is written
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"] == "invalid_signature"
    assert_nothing_written(aws, bill)


def test_payments_2_signed_body_that_is_not_json_is_400(aws):
    bill = store_bill()
    response = deliver_raw("not json at all")
    assert response["statusCode"] == 400
    assert_nothing_written(aws, bill)


def test_payments_3_old_signature_timestamp_is_rejected(aws):
    # GIVEN a correctly signed event whose signature is 10 minutes old (tolerance is 5)
    bill = store_bill()
    payload = event_body(checkout_event(bill))
    # WHEN it is delivered (a replay of a captured request)
    response = deliver_raw(payload, timestamp=int(time.time()) - 600)
    # THEN rejected, nothing written
    assert response["statusCode"] == 400
    assert_nothing_written(aws, bill)


def test_payments_4_same_event_five_times_at_once_credits_once(aws):
    # GIVEN one event delivered five times concurrently
    bill = store_bill()
    event = checkout_event(bill, payment_intent="pi_burst")
    request = webhook_request(event_body(event))
    barrier = threading.Barrier(5)
    responses: list[dict] = []

    def send() -> None:
        barrier.wait()
        responses.append(lambda_handler(request, LambdaContext()))

    threads = [threading.Thread(target=send) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN every reply is 2xx or 409 (Stripe retries that later) ...
    statuses = sorted(r["statusCode"] for r in responses)
    assert set(statuses) <= {200, 409}, statuses
    assert 200 in statuses
    # ... a later retry of any of them succeeds ...
    assert deliver(event)["statusCode"] == 200
    # ... and exactly one payment, one receipt number, one ledger entry
    assert_credited_once(aws, bill, "stripe:pi_burst")


def test_payments_5_one_payment_reported_by_two_events_is_credited_once(aws):
    # GIVEN the same payment intent reported by two different events
    bill = store_bill()
    completed = checkout_event(bill, payment_intent="pi_twice")
    succeeded = checkout_event(
        bill, payment_intent="pi_twice", event_type="checkout.session.async_payment_succeeded"
    )
    assert completed["id"] != succeeded["id"]
    # WHEN both arrive
    first, second = deliver(completed), deliver(succeeded)
    # THEN both are acknowledged, the payment is credited once
    assert (first["statusCode"], second["statusCode"]) == (200, 200)
    assert (outcome(first), outcome(second)) == ("credited", "already_recorded")
    assert_credited_once(aws, bill, "stripe:pi_twice")


def test_payments_6_same_event_again_72_hours_later_has_no_effect(aws):
    # GIVEN an event credited now
    bill = store_bill()
    event = checkout_event(bill, payment_intent="pi_late")
    assert outcome(deliver(event)) == "credited"
    # THEN its idempotency record lives for more than Stripe's 3 days of retries
    (record,) = list(IdempotencyItem.scan())
    assert record.expiration.timestamp() >= time.time() + 72 * 3600
    # WHEN Stripe delivers it again (re-signed, as Stripe does for each attempt)
    again = deliver(event)
    # THEN the first answer is replayed and nothing changes
    assert again["statusCode"] == 200 and outcome(again) == "credited"
    assert_credited_once(aws, bill, "stripe:pi_late")


def test_payments_6_repeat_after_idempotency_record_expired_still_credits_nothing(aws):
    # GIVEN an event credited, and its idempotency record since expired (TTL removed it)
    bill = store_bill()
    event = checkout_event(bill, payment_intent="pi_expired")
    deliver(event)
    for item in IdempotencyItem.scan():
        item.delete()
    # WHEN the same event arrives again
    again = deliver(event)
    # THEN the payment-id key still stops a second credit
    assert again["statusCode"] == 200 and outcome(again) == "already_recorded"
    assert_credited_once(aws, bill, "stripe:pi_expired")


@pytest.mark.parametrize("amount_delta", [-1, -32727 + 1])
def test_payments_8_amount_short_of_the_bill_is_a_mismatch_for_staff_and_the_bill_stays_open(
    aws, amount_delta
):
    # GIVEN an open bill and a checkout payment for less than it owes
    bill = store_bill()
    amount = bill.total_minor + amount_delta
    event = checkout_event(bill, payment_intent="pi_odd", amount_minor=amount)
    # WHEN it arrives
    response = deliver(event)
    # THEN the money lands on the bill as it is, the bill stays open for the rest ...
    assert response["statusCode"] == 200 and outcome(response) == "mismatch"
    stored = BillRepository().get(bill.bill_id)
    assert (stored.status, stored.paid_minor) == ("open", amount)
    # ... and staff find it in their queue, with the reason
    (queued_payment,) = PaymentRepository().waiting_for_staff()
    assert (queued_payment.payment_id, queued_payment.review_reason) == ("stripe:pi_odd", "mismatch")
    assert queued_payment.allocated_minor == amount and queued_payment.receipt_no


def test_payments_8_amount_over_the_bill_pays_it_and_keeps_the_rest_as_credit_for_staff(aws):
    bill = store_bill()
    event = checkout_event(bill, payment_intent="pi_more", amount_minor=bill.total_minor + 100)
    response = deliver(event)
    assert outcome(response) == "mismatch"
    assert BillRepository().get(bill.bill_id).status == "paid"
    assert AccountStore().get(bill.unit_id).credit_minor == 100
    assert [p.payment_id for p in PaymentRepository().waiting_for_staff()] == ["stripe:pi_more"]


def test_payments_8_other_currency_is_set_aside_and_nothing_lands(aws):
    # GIVEN a payment in another currency than the property's
    bill = store_bill()
    response = deliver(checkout_event(bill, payment_intent="pi_usd", currency="usd"))
    # THEN it is recorded for staff, the bill stays open, no receipt number is used
    assert response["statusCode"] == 200 and outcome(response) == "set_aside"
    (payment,) = list(PaymentItem.scan())
    assert (payment.status, payment.review_reason, payment.receipt_no) == ("set_aside", "currency", None)
    assert BillRepository().get(bill.bill_id).status == "open"
    assert list(CounterItem.scan()) == []
    assert [e.event for e in LedgerItem.query("payment#stripe:pi_usd")] == ["set_aside"]
    assert queued(aws) == []


def test_payments_8_payment_for_a_bill_the_unit_does_not_have_is_kept_as_credit_for_staff(aws):
    bill = store_bill()
    event = checkout_event(bill, payment_intent="pi_nobill")
    event["data"]["object"]["metadata"]["bill_ids"] = "A-101#2019-03"
    response = deliver(event)
    assert outcome(response) == "unknown_bill"
    record = PaymentRepository().get("stripe:pi_nobill")
    assert (record.status, record.review_reason, record.credit_minor) == (
        "allocated",
        "unknown_bill",
        bill.total_minor,
    )
    assert BillRepository().get(bill.bill_id).status == "open"  # not silently paid


def test_payments_8_payment_for_an_unknown_unit_is_set_aside(aws):
    bill = store_bill()
    event = checkout_event(bill, payment_intent="pi_nounit")
    event["data"]["object"]["metadata"].update(unit_id="Z-999", bill_ids="Z-999#2026-03")
    assert outcome(deliver(event)) == "set_aside"
    record = PaymentRepository().get("stripe:pi_nounit")
    assert (record.status, record.review_reason) == ("set_aside", "unknown_unit")
    assert [e.event for e in LedgerItem.query("payment#stripe:pi_nounit")] == ["set_aside"]


def test_payments_9_second_payment_of_a_paid_bill_becomes_credit_and_staff_see_it(aws):
    # GIVEN a bill paid through one Checkout Session
    bill = store_bill()
    deliver(checkout_event(bill, payment_intent="pi_first"))
    # WHEN the owner pays again through a second session (another tab, another link)
    response = deliver(checkout_event(bill, payment_intent="pi_second"))
    # THEN the second payment becomes credit on the unit's account, the bill untouched ...
    assert response["statusCode"] == 200 and outcome(response) == "duplicate"
    second = PaymentRepository().get("stripe:pi_second")
    assert (second.status, second.allocations, second.credit_minor) == ("allocated", (), bill.total_minor)
    stored = BillRepository().get(bill.bill_id)
    assert stored.payment_id == "stripe:pi_first" and stored.paid_minor == bill.total_minor
    assert AccountStore().get(bill.unit_id).credit_minor == bill.total_minor
    # ... staff see it in their queue ...
    assert [p.payment_id for p in PaymentRepository().waiting_for_staff()] == ["stripe:pi_second"]
    # ... and the owner's receipt says it paid no bill and is kept as credit
    receipts = {m["message_id"]: m for m in queued(aws) if m["template"] == "payment_receipt"}
    told = receipts[f"payment_receipt#{second.receipt_no}"]["context"]
    assert told["bills"] == [] and told["credit_minor"] == bill.total_minor
    assert [c.value for c in CounterItem.scan()] == [2]


def test_payments_11_store_failure_after_charge_is_5xx_and_retry_credits_once(aws, monkeypatch):
    # GIVEN the store fails on the first credit transaction (after Stripe charged the owner)
    bill = store_bill()
    event = checkout_event(bill, payment_intent="pi_retry")
    real = Connection.transact_write_items
    calls = {"n": 0}

    def fail_once(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("dynamodb unreachable")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "transact_write_items", fail_once)
    # WHEN Stripe delivers the event
    first = deliver(event)
    # THEN 5xx so Stripe retries, and nothing is credited
    assert first["statusCode"] == 500
    assert "Traceback" not in first["body"]
    assert BillRepository().get(bill.bill_id).status == "open"
    assert list(PaymentItem.scan()) == []
    # WHEN Stripe retries
    second = deliver(event)
    # THEN it completes, exactly once
    assert second["statusCode"] == 200 and outcome(second) == "credited"
    assert_credited_once(aws, bill, "stripe:pi_retry")


def test_payments_11_failure_after_credit_is_completed_by_retry_without_double_credit(aws, monkeypatch):
    # GIVEN the credit commits but queueing the receipt message fails once
    bill = store_bill()
    event = checkout_event(bill, payment_intent="pi_half")
    real = QueueProducer.send
    calls = {"n": 0}

    def fail_once(self, bodies):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("sqs unreachable")
        return real(self, bodies)

    monkeypatch.setattr(QueueProducer, "send", fail_once)
    # WHEN Stripe delivers, gets 5xx, and retries
    first = deliver(event)
    second = deliver(event)
    # THEN the retry finishes the job: one credit, one receipt number, the message queued
    assert first["statusCode"] == 500
    assert second["statusCode"] == 200
    assert_credited_once(aws, bill, "stripe:pi_half")


def test_payments_4_receipt_numbers_stay_gap_free_when_bills_are_paid_at_once(aws):
    # GIVEN six owners paying six bills at the same moment
    bills = [store_bill(unit_id=f"A-20{i}") for i in range(1, 7)]
    requests = [webhook_request(event_body(checkout_event(bill))) for bill in bills]
    barrier = threading.Barrier(len(requests))
    statuses: list[int] = []

    def send(request: dict) -> None:
        barrier.wait()
        statuses.append(lambda_handler(request, LambdaContext())["statusCode"])

    threads = [threading.Thread(target=send, args=(request,)) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN all are credited, with receipt numbers 1..6 each used once, and the counter at 6
    assert statuses == [200] * 6
    numbers = sorted(int(BillRepository().get(b.bill_id).receipt_no[-6:]) for b in bills)
    assert numbers == [1, 2, 3, 4, 5, 6]
    assert [c.value for c in CounterItem.scan()] == [6]


def test_payments_4_repeat_while_the_first_is_running_is_409_then_succeeds(aws, monkeypatch):
    # GIVEN a delivery of an event that is still being processed (held inside its processing)
    import payment_webhook.handler as webhook

    bill = store_bill()
    event = checkout_event(bill, payment_intent="pi_overlap")
    request = webhook_request(event_body(event))
    inside, release = threading.Event(), threading.Event()
    real = webhook.process_stripe_event

    def held(*args, **kwargs):
        inside.set()
        assert release.wait(timeout=10)
        return real(*args, **kwargs)

    monkeypatch.setattr(webhook, "process_stripe_event", held)
    first: list[dict] = []
    thread = threading.Thread(target=lambda: first.append(lambda_handler(request, LambdaContext())))
    thread.start()
    assert inside.wait(timeout=10)
    # WHEN Stripe delivers the same event again meanwhile
    monkeypatch.setattr(webhook, "process_stripe_event", real)
    overlap = lambda_handler(request, LambdaContext())
    release.set()
    thread.join()
    # THEN the repeat gets 409, a status Stripe retries, with the API's error body ...
    assert overlap["statusCode"] == 409
    assert json.loads(overlap["body"])["error"] == "in_progress"
    # ... the first one credits, and Stripe's retry of the repeat succeeds without a second credit
    assert first[0]["statusCode"] == 200 and outcome(first[0]) == "credited"
    retry = deliver(event)
    assert retry["statusCode"] == 200 and outcome(retry) == "credited"
    assert_credited_once(aws, bill, "stripe:pi_overlap")
