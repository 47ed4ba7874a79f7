"""Card autopay on moto and the Stripe stand-in: an owner saves a card from the account page
(Checkout in setup mode, its completed event saving the mandate), gets a notice before the due
date, is charged off-session on it once whatever the runs, a declined card is tried again on
the configured days and then left to the reminders with the owner told, and the owner can stop
it at any time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import boto3
import pytest
import requests
from ops_support import import_demo_units

from api.handler import lambda_handler as api_handler
from payment_webhook.handler import lambda_handler as webhook_handler
from propdesk import naming
from propdesk.config import CardAutopay
from propdesk.services import autopay
from propdesk.settings import get_settings
from propdesk.store.bills import BillRepository
from propdesk.store.mandates import CARD, MandateRepository
from propdesk.store.payments import PaymentRepository
from tests.paytools import make_bill, pay_token, store_bill
from tests.refundtools import StripeWorld
from tests.route_events import LambdaContext, route_event

FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def world(aws, stripe_config, monkeypatch):
    import_demo_units(stripe_config, 4)
    config = stripe_config.model_copy(
        update={
            "payment": stripe_config.payment.model_copy(
                update={"card_autopay": CardAutopay(), "direct_debit": False}
            )
        }
    )
    monkeypatch.setenv(naming.PROPERTY_CONFIG_ENV, config.to_env_json())
    stripe_world = StripeWorld()
    monkeypatch.setenv("STRIPE_API_BASE", stripe_world.base_url)
    get_settings.cache_clear()
    yield stripe_world, config
    stripe_world.close()
    get_settings.cache_clear()


def enrol(stripe_world: StripeWorld, bill, card: str = "4242 4242 4242 4242") -> None:
    token = pay_token(bill)
    started = api_handler(
        route_event("owner_autopay_start", params={"token": token}, body="lang=en", headers=FORM),
        LambdaContext(),
    )
    assert started["statusCode"] == 303, started
    url = started["headers"]["Location"]
    saved = requests.post(f"{url}/pay", data={"card": card}, allow_redirects=False, timeout=10)
    assert saved.status_code == 303 and "notice=autopay_saved" in saved.headers["Location"]
    answers = stripe_world.deliver_new(expect=1)
    assert [a["type"] for a in answers] == ["checkout.session.completed"]


def at(day, hour: int = 9, minutes: int = 45) -> datetime:
    """The autopay schedule's time on ``day``, Shanghai time."""
    from zoneinfo import ZoneInfo

    return datetime.combine(day, time(hour, minutes), tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


def queued_templates() -> list[tuple[str, str]]:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=naming.queue_name("demo", "messages"))["QueueUrl"]
    found = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            body = json.loads(message["Body"])
            found.append((body["template"], body["message_id"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_a_saved_card_is_noticed_then_charged_on_the_due_date_once(world):
    stripe_world, config = world
    bill = store_bill(make_bill("A-101", "2027-01", owner_id="O0001"))
    enrol(stripe_world, bill)
    mandate = MandateRepository().get("A-101", CARD)
    assert mandate.active and (mandate.bank, mandate.account_masked) == ("visa", "•••• 4242")
    page = api_handler(route_event("bill_page", params={"token": pay_token(bill)}), LambdaContext())["body"]
    assert "Visa •••• 4242" in page and "Stop card autopay" in page
    queued_templates()
    # three days before: the notice, once however often the run fires
    for _ in range(2):
        autopay.run(config=config, now=at(bill.due_date - timedelta(days=3)))
    notices = [t for t in queued_templates() if t[0] == "autopay_notice"]
    assert len(set(notices)) == 1
    assert not stripe_world.standin.resources.charges
    # the due date: charged once, landed, whatever the runs and the event
    for _ in range(2):
        autopay.run(config=config, now=at(bill.due_date))
    assert len(stripe_world.standin.resources.charges) == 1
    answers = stripe_world.deliver_new(expect=1)
    assert [a["type"] for a in answers] == ["payment_intent.succeeded"]
    [payment] = PaymentRepository().of_unit("A-101")
    assert payment.payment_id.startswith("stripe:pi_") and payment.amount_minor == bill.total_minor
    assert BillRepository().get(bill.bill_id).status == "paid"
    # and the schedule's own run (the handler) on the next day finds nothing to do
    assert webhook_handler({"action": "autopay"}, LambdaContext())["charged"] == 0


def test_a_declined_card_is_tried_on_the_retry_days_then_left_to_the_reminders(world):
    stripe_world, config = world
    bill = store_bill(make_bill("A-102", "2027-01", owner_id="O0002"))
    enrol(stripe_world, bill, card="4000 0000 0000 9995")
    queued_templates()
    tried = []
    for offset in range(0, 8):
        result = autopay.run(config=config, now=at(bill.due_date + timedelta(days=offset)))
        tried += [offset] * result.declined
    # the due date, then 2 and 5 days after it; then no more
    assert tried == [0, 2, 5]
    failed = [t for t in queued_templates() if t[0] == "payment_failed"]
    assert failed == [("payment_failed", f"payment_failed#autopay#{bill.bill_id}")]
    assert BillRepository().get(bill.bill_id).status == "open" and PaymentRepository().of_unit("A-102") == []


def test_a_card_that_needs_its_holder_is_not_retried(world):
    stripe_world, config = world
    bill = store_bill(make_bill("A-103", "2027-01", owner_id="O0003"))
    enrol(stripe_world, bill, card="4000 0027 6000 3184")
    results = [autopay.run(config=config, now=at(bill.due_date + timedelta(days=d))) for d in (0, 2, 5)]
    assert [(r.declined, r.given_up) for r in results] == [(1, 1), (0, 0), (0, 0)]


def test_an_owner_stops_autopay_and_nothing_is_charged(world):
    stripe_world, config = world
    bill = store_bill(make_bill("A-104", "2027-01", owner_id="O0004"))
    enrol(stripe_world, bill)
    method = MandateRepository().get("A-104", CARD).payment_method_id
    stopped = api_handler(
        route_event("owner_autopay_cancel", params={"token": pay_token(bill)}, body="lang=en", headers=FORM),
        LambdaContext(),
    )
    assert stopped["statusCode"] == 303 and "notice=autopay_cancelled" in stopped["headers"]["Location"]
    assert not MandateRepository().get("A-104", CARD).active
    assert stripe_world.standin.cards.payment_methods[method]["customer"] is None  # removed at Stripe
    result = autopay.run(config=config, now=at(bill.due_date))
    assert (result.charged, result.declined) == (0, 0) and not stripe_world.standin.resources.charges


def test_a_bill_overdue_before_the_owner_enrolled_is_not_charged(world):
    stripe_world, config = world
    older = store_bill(make_bill("A-101", "2026-11", owner_id="O0001"))  # due 15 Nov, before enrolling
    bill = store_bill(make_bill("A-101", "2027-01", owner_id="O0001"))
    enrol(stripe_world, bill)
    autopay.run(config=config, now=at(bill.due_date))
    [charge] = stripe_world.standin.resources.charges.values()
    assert charge["amount"] == bill.total_minor
    assert BillRepository().get(older.bill_id).status == "open"
    assert BillRepository().get(bill.bill_id).status == "paid"


def test_the_setup_event_delivered_again_after_a_cancel_does_not_bring_the_card_back(world):
    stripe_world, _ = world
    bill = store_bill(make_bill("A-101", "2027-01", owner_id="O0001"))
    enrol(stripe_world, bill)
    setup_intent = next(iter(stripe_world.standin.cards.setup_intents))
    autopay.cancel("A-101", now=datetime.now(UTC))
    again = autopay.card_saved(
        autopay.CardSaved("evt_again", "A-101", "O0001", setup_intent), now=datetime.now(UTC)
    )
    assert again == "already_recorded" and not MandateRepository().get("A-101", CARD).active
