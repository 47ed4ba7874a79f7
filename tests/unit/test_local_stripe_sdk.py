"""The Stripe stand-in on a loopback port, driven by the real ``stripe`` SDK: the API calls the
product makes answer as Stripe's do, and the webhook it posts verifies with the SDK."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import stripe

from infra.local.stripe import StripeStandIn
from tests.stripe_standin_tools import KEY, SECRET, session_params


class WebhookEndpoint:
    """A webhook endpoint on a loopback port that keeps every POST's body and headers."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.arrived = threading.Event()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.received.append((body, dict(self.headers.items())))
                endpoint.arrived.set()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/stripe"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def endpoint() -> Iterator[WebhookEndpoint]:
    endpoint = WebhookEndpoint()
    yield endpoint
    endpoint.close()


@pytest.fixture
def standin(endpoint: WebhookEndpoint) -> Iterator[StripeStandIn]:
    standin = StripeStandIn(api_key=KEY, webhook_secret=SECRET, webhook_url=endpoint.url, retry_delays_s=())
    standin.serve("127.0.0.1", 0)
    yield standin
    standin.shutdown()


def _client(standin: StripeStandIn, key: str = KEY) -> stripe.StripeClient:
    # As the payment provider builds it (propdesk.payments.stripe_provider).
    return stripe.StripeClient(key, base_addresses={"api": standin.base_url}, max_network_retries=2)


def test_the_sdk_creates_reads_and_expires_a_session(standin):
    client = _client(standin)
    # WHEN the SDK creates a session
    created = client.v1.checkout.sessions.create(params=session_params())
    # THEN it is an open Checkout Session whose page the stand-in serves
    assert isinstance(created, stripe.checkout.Session)
    assert created.id.startswith("cs_test_") and created.status == "open"
    assert created.url == f"{standin.base_url}/checkout/{created.id}"
    assert (created.amount_total, created.currency) == (26024, "cny")
    assert created.metadata["bill_id"] == "A-101#2027-01"
    # AND the SDK reads it back, line items included
    read = client.v1.checkout.sessions.retrieve(created.id)
    assert (read.id, read.status, read.payment_status) == (created.id, "open", "unpaid")
    items = client.v1.checkout.sessions.line_items.list(created.id)
    assert [(item.description, item.quantity) for item in items.data] == [("Service", 1), ("Waste", 2)]
    # AND expires it, once
    expired = client.v1.checkout.sessions.expire(created.id)
    assert expired.status == "expired"
    assert client.v1.checkout.sessions.retrieve(created.id).status == "expired"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(created.id)


def test_the_sdk_raises_stripe_s_errors(standin):
    with pytest.raises(stripe.InvalidRequestError) as missing:
        _client(standin).v1.checkout.sessions.create(params=session_params(mode=None))
    assert (missing.value.code, missing.value.param) == ("parameter_missing", "mode")
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        _client(standin).v1.checkout.sessions.retrieve("cs_test_nope")
    assert unknown.value.http_status == 404 and unknown.value.code == "resource_missing"
    with pytest.raises(stripe.AuthenticationError):
        _client(standin, key="sk_test_other").v1.checkout.sessions.retrieve("cs_test_nope")


def test_a_delivered_webhook_verifies_with_the_sdk(standin, endpoint):
    # GIVEN a session the SDK created
    session = _client(standin).v1.checkout.sessions.create(params=session_params())
    # WHEN the owner presses Pay on the checkout page
    paid = requests.post(f"{session.url}/pay", allow_redirects=False, timeout=10)
    # THEN the owner is sent back, and the webhook endpoint got one signed event
    assert paid.status_code == 303
    assert endpoint.arrived.wait(10)
    ((body, headers),) = endpoint.received
    signature = headers["Stripe-Signature"]
    assert stripe.WebhookSignature.verify_header(
        body.decode(), signature, SECRET, stripe.Webhook.DEFAULT_TOLERANCE
    )
    event = stripe.Webhook.construct_event(body.decode(), signature, SECRET)
    assert event.type == "checkout.session.completed"
    assert (event.data.object.id, event.data.object.payment_status) == (session.id, "paid")
    # AND it does not verify with another secret, or once the body is changed
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(body.decode(), signature, "whsec_other", 300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(body.decode() + " ", signature, SECRET, 300)
    assert standin.deliveries[0].delivered


def test_the_sdk_lists_a_day_s_charges_page_by_page(standin):
    client = _client(standin)
    intents = []
    for _ in range(3):
        session = client.v1.checkout.sessions.create(params=session_params())
        completed, _ = standin.checkout.pay(session.id)
        intents.append(completed["payment_intent"])
    first = client.v1.charges.list(params={"limit": 2})
    assert len(first.data) == 2 and first.has_more
    every = [charge.payment_intent for charge in first.auto_paging_iter()]
    assert sorted(every) == sorted(intents)  # the SDK fetched the next page with starting_after
    created = first.data[0].created
    later = client.v1.charges.list(params={"created": {"gt": created}})
    assert later.data == []
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.charges.list(params={"limit": 101})


def _saved_card(standin: StripeStandIn, client: stripe.StripeClient, card: str) -> tuple[str, str]:
    """A customer and the card saved for it through Checkout in setup mode: (customer, pm)."""
    customer = client.v1.customers.create(params={"metadata": {"unit_id": "A-101"}})
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "setup",
            "customer": customer.id,
            "payment_method_types": ["card"],
            "success_url": "http://127.0.0.1:8000/pay/tok?autopay=1",
            "setup_intent_data": {"metadata": {"unit_id": "A-101"}},
        }
    )
    page = requests.get(session.url, timeout=10)
    assert page.status_code == 200 and "Save card" in page.text
    saved = requests.post(f"{session.url}/pay", data={"card": card}, allow_redirects=False, timeout=10)
    assert saved.status_code == 303 and saved.headers["Location"].endswith("autopay=1")
    done = client.v1.checkout.sessions.retrieve(session.id)
    assert (done.status, done.mode) == ("complete", "setup")
    intent = client.v1.setup_intents.retrieve(done.setup_intent)
    assert (intent.status, intent.customer, intent.metadata["unit_id"]) == ("succeeded", customer.id, "A-101")
    return customer.id, intent.payment_method


def test_a_card_saved_in_setup_mode_is_charged_off_session(standin, endpoint):
    client = _client(standin)
    customer, method = _saved_card(standin, client, "4242 4242 4242 4242")
    card = client.v1.payment_methods.retrieve(method).card
    assert (card.brand, card.last4) == ("visa", "4242")
    intent = client.v1.payment_intents.create(
        params={
            "amount": 32727, "currency": "sgd", "customer": customer, "payment_method": method,
            "off_session": True, "confirm": True, "metadata": {"unit_id": "A-101"},
        },
        options={"idempotency_key": "autopay-A-101-2027-01-1"},
    )  # fmt: skip
    assert (intent.status, intent.amount_received) == ("succeeded", 32727)
    assert client.v1.charges.retrieve(intent.latest_charge).paid
    # the same idempotency key again is the same intent, charged once
    again = client.v1.payment_intents.create(
        params={"amount": 32727, "currency": "sgd", "customer": customer, "payment_method": method,
                "off_session": True, "confirm": True},
        options={"idempotency_key": "autopay-A-101-2027-01-1"},
    )  # fmt: skip
    assert again.id == intent.id and len(standin.resources.charges) == 1


@pytest.mark.parametrize(
    ("card", "code", "decline"),
    [("4000000000009995", "card_declined", "insufficient_funds"),
     ("4000002760003184", "authentication_required", "authentication_required")],
)  # fmt: skip
def test_a_card_that_cannot_be_charged_off_session_raises_stripe_s_card_error(standin, card, code, decline):
    client = _client(standin)
    customer, method = _saved_card(standin, client, card)
    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_intents.create(
            params={"amount": 1000, "currency": "sgd", "customer": customer, "payment_method": method,
                    "off_session": True, "confirm": True},
        )  # fmt: skip
    assert raised.value.code == code and raised.value.error.decline_code == decline
    assert raised.value.error.payment_intent.status == "requires_payment_method"
    assert standin.resources.charges == {}


def test_a_detached_card_cannot_be_charged(standin):
    client = _client(standin)
    customer, method = _saved_card(standin, client, "4242424242424242")
    client.v1.payment_methods.detach(method)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.create(
            params={"amount": 1000, "currency": "sgd", "customer": customer, "payment_method": method,
                    "off_session": True, "confirm": True},
        )  # fmt: skip
