"""Owner pay pages through the api handler on moto, with Stripe faked by a local HTTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.handler import lambda_handler
from payment_webhook.handler import lambda_handler as webhook_handler
from propdesk.domain.units import Owner
from propdesk.settings import get_settings
from propdesk.store.owners import OwnerRepository
from tests.paytools import (
    FakeStripe,
    checkout_event,
    event_body,
    pay_token,
    store_bill,
    webhook_request,
)
from tests.route_events import LambdaContext, route_event


@pytest.fixture
def stripe_api(aws, monkeypatch):
    fake = FakeStripe()
    monkeypatch.setenv("STRIPE_API_BASE", fake.url)
    get_settings.cache_clear()
    yield fake
    fake.close()


def call(key: str, token: str, **kwargs) -> dict:
    """The owner's request to the pay route ``key`` with the link ``token``."""
    return lambda_handler(route_event(key, params={"token": token}, **kwargs), LambdaContext())


def pay(bill) -> None:
    """Stripe reports the bill paid in full, as the webhook receives it."""
    webhook_handler(webhook_request(event_body(checkout_event(bill))), LambdaContext())


def owner(owner_id: str = "O0001", locale: str = "en") -> None:
    OwnerRepository().put(
        Owner(owner_id, "Anna Liu", "+8613800000000", "anna@mail.example.com", locale, True),
        updated_at=datetime.now(UTC),
    )


def test_bill_page_shows_itemised_bill_in_owner_locale(aws):
    # GIVEN an open bill of an English-speaking owner and its pay link
    owner(locale="en")
    bill = store_bill()
    token = pay_token(bill)

    # WHEN the owner opens the link
    response = call("bill_page", token)

    # THEN the page lists each fee item by name with amounts, total, due date and a Pay form
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"].startswith("text/html")
    page = response["body"]
    for text in ("Property service fee", "Common-area energy share", "Household waste removal", "A-101"):
        assert text in page
    assert "¥327.27" in page  # 25024 + 2681 + 4022 + 1000 fen
    assert "15 March 2026" in page
    assert f'action="/pay/{token}/checkout"' in page
    assert "Property service centre" in page and "1001 2345 6789 0123 456" in page
    assert "Anna Liu" not in page  # nothing personal beyond what the bill needs


def test_lang_parameter_overrides_owner_locale(aws):
    # GIVEN an English-speaking owner
    owner(locale="en")
    bill = store_bill()
    # WHEN the page is asked for in Chinese
    page = call("bill_page", pay_token(bill), query={"lang": "zh-CN"})["body"]
    # THEN it is in Chinese
    assert "物业服务费" in page and "应缴合计" in page and 'lang="zh-CN"' in page


def test_paid_bill_page_shows_receipt_and_no_pay_button(aws):
    # GIVEN a bill paid through the webhook
    bill = store_bill()
    token = pay_token(bill)
    pay(bill)

    # WHEN the owner opens the link again
    page = call("bill_page", token, query={"lang": "en"})["body"]

    # THEN the page says paid, with the receipt number, and has no Pay form
    assert "Paid" in page
    assert "DEMO-" in page and "-000001" in page
    assert "<form" not in page


def test_checkout_creates_fresh_session_and_redirects(stripe_api):
    # GIVEN an open bill
    bill = store_bill()
    token = pay_token(bill)
    before = int(datetime.now(UTC).timestamp())

    # WHEN the owner presses Pay twice
    first = call(
        "start_checkout",
        token,
        body="lang=en",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    second = call(
        "start_checkout",
        token,
        body="lang=en",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )

    # THEN each press creates its own session and redirects (303) to it
    assert first["statusCode"] == 303 and second["statusCode"] == 303
    assert first["headers"]["Location"] != second["headers"]["Location"]
    assert first["headers"]["Location"].startswith(stripe_api.url + "/c/pay/cs_test_")
    assert len(stripe_api.requests) == 2
    # AND the session carries the bill's lines, our metadata, expiry and the way back
    form = stripe_api.requests[0]
    assert stripe_api.auth_headers[0] == "Bearer sk_test_local"
    assert form["mode"] == "payment"
    assert form["client_reference_id"] == bill.bill_id
    assert form["metadata[bill_ids]"] == bill.bill_id and form["metadata[property_id]"] == "demo"
    assert form["metadata[unit_id]"] == bill.unit_id
    assert form["payment_intent_data[metadata][bill_ids]"] == bill.bill_id
    assert form["payment_intent_data[metadata][property_id]"] == "demo"
    assert [form[f"line_items[{i}][price_data][unit_amount]"] for i in range(4)] == [
        "25024",
        "2681",
        "4022",
        "1000",
    ]
    assert form["line_items[0][price_data][currency]"] == "cny"
    assert form["line_items[0][price_data][product_data][name]"].startswith("Property service fee")
    assert [form[f"payment_method_types[{i}]"] for i in range(3)] == ["card", "alipay", "wechat_pay"]
    assert form["payment_method_options[wechat_pay][client]"] == "web"
    assert before + 60 * 60 <= int(form["expires_at"]) <= before + 60 * 60 + 120
    assert (
        form["success_url"]
        == f"https://pay.example.test/pay/{token}/return?session_id={{CHECKOUT_SESSION_ID}}"
    )
    assert form["cancel_url"] == f"https://pay.example.test/pay/{token}"


def test_checkout_of_paid_bill_goes_back_to_bill_without_session(stripe_api):
    # GIVEN a paid bill
    bill = store_bill()
    pay(bill)
    token = pay_token(bill)
    # WHEN Pay is pressed (e.g. an old tab)
    response = call("start_checkout", token)
    # THEN back to the bill page, and Stripe is not asked for a session
    assert response["statusCode"] == 303
    assert response["headers"]["Location"].startswith(f"https://pay.example.test/pay/{token}")
    assert stripe_api.requests == []


def test_checkout_when_stripe_is_down_shows_bill_with_retry_notice(stripe_api):
    # GIVEN Stripe answers errors
    stripe_api.fail_status = 500
    bill = store_bill()
    # WHEN the owner presses Pay
    response = call(
        "start_checkout",
        pay_token(bill),
        body="lang=en",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    # THEN a clear page with the other ways to pay, and a retryable status
    assert response["statusCode"] == 503
    assert "Online payment is unavailable" in response["body"]
    assert "Front desk" in response["body"]


def test_return_page_shows_processing_then_paid(aws):
    # GIVEN an open bill whose owner just came back from Checkout
    bill = store_bill()
    token = pay_token(bill)
    # WHEN the webhook has not arrived yet
    before = call("checkout_return", token, query={"session_id": "cs_test_1", "lang": "en"})
    # THEN the page says it is being confirmed
    assert before["statusCode"] == 200 and "being confirmed" in before["body"]
    # WHEN the webhook has credited it
    pay(bill)
    after = call("checkout_return", token, query={"session_id": "cs_test_1", "lang": "en"})
    # THEN it says confirmed, with the receipt number
    assert "confirmed" in after["body"] and "-000001" in after["body"]


def test_expired_link_gets_generic_not_found(aws):
    bill = store_bill()
    token = pay_token(bill, expires_in=timedelta(days=-1))
    response = call("bill_page", token)
    assert response["statusCode"] == 404
    assert "A-101" not in response["body"]
