"""Test helpers for refunds and disputes on moto: the Stripe stand-in on a loopback port (the
real SDK calls it from the functions, and the events it signs are handed to the webhook handler
exactly as it sent them), staff calls to the api handler, and what was queued for owners."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from api.handler import lambda_handler as api_handler
from infra.local.events import staff_claims
from infra.local.stripe import StripeStandIn
from payment_webhook.handler import lambda_handler as webhook_handler
from propdesk.domain.billing import Bill
from tests.paytools import webhook_request
from tests.route_events import LambdaContext, route_event
from tests.stripe_standin_tools import Recorder, api_post, sdk_body
from tests.testkeys import TEST_STRIPE_KEY, TEST_WEBHOOK_SECRET

CASHIER = staff_claims("cashier", sub="cashier-li")
ADMIN = staff_claims("admin", sub="admin-zhao")
OTHER_ADMIN = staff_claims("admin", sub="admin-sun")


def call(key: str, *, claims=CASHIER, **kwargs: Any) -> tuple[int, Any]:
    """A staff request to the api function: its status and JSON body."""
    response = api_handler(route_event(key, claims=claims, **kwargs), LambdaContext())
    return response["statusCode"], json.loads(response["body"] or "null")


def refund(
    payment_id: str, request_id: str, amount: int, *, claims=CASHIER, reason: str = "asked by the owner"
):
    body = {"request_id": request_id, "amount_minor": amount, "reason": reason}
    return call("start_refund", params={"payment_id": payment_id}, body=body, claims=claims)


def deliver(body: bytes | str, signature: str | None = "sign") -> dict[str, Any]:
    """One webhook delivery; the answer's status and outcome."""
    response = webhook_handler(webhook_request(body, signature=signature), LambdaContext())
    answer = json.loads(response["body"] or "null") or {}
    return {"status": response["statusCode"], **answer}


def queued(env: dict[str, str], template: str | None = None) -> list[dict[str, Any]]:
    """Messages on the messages queue (received, left there), of ``template`` if named."""
    sqs = boto3.client("sqs")
    found: dict[str, dict[str, Any]] = {}
    for _ in range(10):
        batch = sqs.receive_message(
            QueueUrl=env["MESSAGES_QUEUE_URL"], MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
        for message in batch:
            found[message["MessageId"]] = json.loads(message["Body"])
    return [m for m in found.values() if template is None or m["template"] == template]


class StripeWorld:
    """The Stripe stand-in, served, with its webhooks recorded and handed to the webhook handler."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        self.standin = StripeStandIn(
            api_key=TEST_STRIPE_KEY,
            webhook_secret=TEST_WEBHOOK_SECRET,
            webhook_url="http://webhook.invalid/webhooks/stripe",
            retry_delays_s=(),
            post=self.recorder,
        )
        self.base_url = self.standin.serve("127.0.0.1", 0)
        self.delivered = 0

    def close(self) -> None:
        self.standin.shutdown()

    def pay(self, *bills: Bill, amount: int | None = None) -> str:
        """The owner pays ``bills`` on the checkout page; the completed event is delivered. The
        payment intent's id."""
        unit_id = bills[0].unit_id
        metadata = {"property_id": "demo", "unit_id": unit_id, "bill_ids": ",".join(b.bill_id for b in bills)}
        total = sum(b.total_minor - b.paid_minor for b in bills) if amount is None else amount
        params = {
            "mode": "payment",
            "success_url": "https://pay.example.test/pay/tok/return",
            "client_reference_id": bills[0].bill_id,
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {"currency": "cny", "unit_amount": total, "product_data": {"name": "Fee"}},
                }
            ],
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
        }
        _, _, session = api_post(self.standin, "/v1/checkout/sessions", sdk_body(params), key=TEST_STRIPE_KEY)
        completed, _ = self.standin.checkout.pay(session["id"])
        self.deliver_new()
        return completed["payment_intent"]

    def events(self, count: int = 0, timeout: float = 5) -> list[tuple[bytes, str]]:
        """Every event the stand-in sent (body, signature), once it has sent ``count`` at least."""
        deadline = time.monotonic() + timeout
        while len(self.recorder.calls) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return [(data, headers["Stripe-Signature"]) for _, data, headers in list(self.recorder.calls)]

    def deliver_new(self, expect: int = 0) -> list[dict[str, Any]]:
        """Deliver the events sent since the last call (waiting for ``expect`` more at least):
        each answer, with the event's type."""
        sent = self.events(self.delivered + expect)
        answers = []
        for body, signature in sent[self.delivered :]:
            answers.append({"type": json.loads(body)["type"], **deliver(body, signature)})
        self.delivered = len(sent)
        return answers

    def refunds_of(self, intent: str) -> list[dict[str, Any]]:
        return [r for r in self.standin.resources.refunds.values() if r["payment_intent"] == intent]
