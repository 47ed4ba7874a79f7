"""The Stripe webhook handler on moto, with events signed the way Stripe signs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
import time_machine

from payment_webhook.handler import lambda_handler
from propdesk.messaging.requests import parse_message
from propdesk.store.bills import BillRepository
from propdesk.store.models import CounterItem, LedgerItem, PaymentItem
from tests.paytools import checkout_event, event_body, store_bill, webhook_request
from tests.route_events import LambdaContext


def deliver(event: dict, **kwargs) -> dict:
    return lambda_handler(webhook_request(event_body(event), **kwargs), LambdaContext())


def queued_messages(env: dict) -> list:
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(QueueUrl=env["MESSAGES_QUEUE_URL"], MaxNumberOfMessages=10).get(
        "Messages", []
    )
    return [parse_message(m["Body"]) for m in messages]


def test_completed_checkout_marks_bill_paid_with_receipt_and_message(aws):
    # GIVEN an open bill and Stripe's checkout.session.completed event for its full amount
    bill = store_bill()
    event = checkout_event(bill, payment_intent="pi_full")

    # WHEN Stripe delivers the event
    response = deliver(event)

    # THEN the bill is paid with the first receipt number of the year
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["outcome"] == "credited"
    paid = BillRepository().get(bill.bill_id)
    assert paid.status == "paid"
    assert paid.paid_minor == bill.total_minor
    assert paid.payment_id == "stripe:pi_full"
    assert paid.receipt_no.startswith("DEMO-") and paid.receipt_no.endswith("-000001")
    payment = PaymentItem.get("stripe:pi_full")
    assert (payment.status, payment.amount_minor, payment.receipt_no) == (
        "allocated",
        bill.total_minor,
        paid.receipt_no,
    )
    # AND the ledger records it, and one receipt message is queued for the owner
    ledger = list(LedgerItem.query(f"bill#{bill.bill_id}"))
    assert [(entry.event, entry.seq) for entry in ledger] == [
        ("issued", "issued"),
        ("paid", "paid#stripe:pi_full"),
    ]
    account = [(e.event, e.data["amount_minor"]) for e in LedgerItem.query(f"account#{bill.unit_id}")]
    assert sorted(account) == sorted(
        [("charge", bill.total_minor), ("payment", bill.total_minor), ("allocation", bill.total_minor)]
    )
    messages = queued_messages(aws)
    assert [m.message_id for m in messages] == [f"payment_receipt#{paid.receipt_no}"]
    assert messages[0].owner_id == bill.owner_id
    assert messages[0].context["amount_minor"] == bill.total_minor
    assert messages[0].context["currency"] == "CNY"
    assert messages[0].context["paid_at"].endswith("Z")


def test_base64_encoded_body_is_verified_on_its_raw_bytes(aws):
    # GIVEN API Gateway base64-encoded the body
    bill = store_bill()
    # WHEN the signed event arrives that way
    response = deliver(checkout_event(bill), base64_body=True)
    # THEN it is verified and credited
    assert response["statusCode"] == 200
    assert BillRepository().get(bill.bill_id).status == "paid"


def test_receipt_numbers_follow_on_without_gaps(aws):
    # GIVEN three bills paid one after another
    bills = [store_bill(unit_id=f"A-10{i}") for i in range(1, 4)]
    # WHEN each is paid
    for bill in bills:
        assert deliver(checkout_event(bill))["statusCode"] == 200
    # THEN receipts are numbered 1, 2, 3 and the counter says 3
    numbers = sorted(BillRepository().get(b.bill_id).receipt_no[-6:] for b in bills)
    assert numbers == ["000001", "000002", "000003"]
    year = BillRepository().get(bills[0].bill_id).receipt_no.split("-")[1]
    assert CounterItem.get(f"receipt#{year}").value == 3


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"property_id": "other-estate"}, "another property"),
        ({"event_type": "payment_intent.created"}, "unhandled type"),
        ({"payment_status": "unpaid"}, "not yet paid"),
        ({"livemode": True}, "live event for test keys"),
    ],
)
def test_events_not_for_us_are_acknowledged_and_change_nothing(aws, change, reason):
    # GIVEN an open bill and a correctly signed event that should not credit it
    bill = store_bill()
    # WHEN it is delivered
    response = deliver(checkout_event(bill, **change))
    # THEN Stripe gets 200 (so it stops retrying) and nothing is written
    assert response["statusCode"] == 200, reason
    assert json.loads(response["body"])["outcome"] == "ignored"
    assert BillRepository().get(bill.bill_id).status == "open"
    assert list(PaymentItem.scan()) == []


def test_async_payment_success_credits_a_delayed_payment(aws):
    # GIVEN a checkout that completed with the payment still pending, then succeeded
    bill = store_bill()
    pending = checkout_event(bill, payment_status="unpaid", payment_intent="pi_async")
    succeeded = checkout_event(
        bill, event_type="checkout.session.async_payment_succeeded", payment_intent="pi_async"
    )
    # WHEN both arrive
    first, second = deliver(pending), deliver(succeeded)
    # THEN the bill is paid once, by the success event
    assert json.loads(first["body"])["outcome"] == "ignored"
    assert json.loads(second["body"])["outcome"] == "credited"
    assert BillRepository().get(bill.bill_id).payment_id == "stripe:pi_async"


def test_a_late_delivery_records_when_the_owner_paid_not_when_it_arrived(aws):
    # GIVEN an owner paid just before midnight on New Year's Eve in Shanghai (15:59 UTC), and
    # Stripe's delivery reaches us two hours later, in the next year
    bill = store_bill()
    paid = datetime(2026, 12, 31, 15, 59, tzinfo=UTC)
    event = checkout_event(bill, payment_intent="pi_late", created=int(paid.timestamp()))
    with time_machine.travel(datetime(2026, 12, 31, 18, 0, tzinfo=UTC), tick=False):
        # WHEN it is processed
        response = deliver(event)
    assert response["statusCode"] == 200
    # THEN the bill says it was paid at the owner's time, in the year of its receipt number
    credited = BillRepository().get(bill.bill_id)
    assert credited.paid_at == paid
    assert "-2026-" in credited.receipt_no
    payment = PaymentItem.get("stripe:pi_late")
    assert payment.paid_at == paid
    assert payment.received_at == datetime(2026, 12, 31, 18, 0, tzinfo=UTC)
