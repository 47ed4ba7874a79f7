"""Owner pay pages through the api handler on moto, with Stripe faked by a local HTTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from api.handler import lambda_handler
from payment_webhook.handler import lambda_handler as webhook_handler
from propdesk.domain.units import Owner
from propdesk.settings import get_settings
from propdesk.store.accounts import AccountStore
from propdesk.store.owners import OwnerRepository
from tests.paytools import (
    FakeStripe,
    checkout_event,
    event_body,
    make_bill,
    pay_token,
    store_bill,
    webhook_request,
)
from tests.route_events import LambdaContext, route_event


@pytest.fixture
def property_config(stripe_config):
    """This module tests the Stripe rail: a property that offers it."""
    return stripe_config


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


def test_account_page_shows_itemised_bill_in_owner_locale(aws):
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


def test_the_account_page_costs_three_dynamodb_reads(aws, monkeypatch):
    # GIVEN an account with two open bills and a payment
    owner(locale="en")
    march, april = store_bill(make_bill(period="2026-03")), store_bill(make_bill(period="2026-04"))
    webhook_handler(webhook_request(event_body(checkout_event(march, amount_minor=100))), LambdaContext())
    token = pay_token(april)
    call("bill_page", token)  # warm: the link key and settings are read once per instance
    # WHEN the owner opens the page
    import botocore.client

    calls = []
    real = botocore.client.BaseClient._make_api_call

    def counted(client, operation, params):
        calls.append(f"{client.meta.service_model.service_name}:{operation}")
        return real(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counted)
    page = call("bill_page", token)["body"]
    # THEN three DynamoDB reads served it (the account, its charge entries: no bill issued since
    # it was written, then its bills and payments), and it shows both bills and the payment
    assert calls == ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"]
    assert "March 2026" in page and "April 2026" in page and "-000001" in page


def test_lang_parameter_overrides_owner_locale(aws):
    # GIVEN an English-speaking owner
    owner(locale="en")
    bill = store_bill()
    # WHEN the page is asked for in Chinese
    page = call("bill_page", pay_token(bill), query={"lang": "zh-CN"})["body"]
    # THEN it is in Chinese
    assert "物业服务费" in page and "应缴合计" in page and 'lang="zh-CN"' in page


def test_a_settled_account_shows_its_receipt_and_no_pay_button(aws):
    # GIVEN a bill paid through the webhook
    bill = store_bill()
    token = pay_token(bill)
    pay(bill)

    # WHEN the owner opens the link again
    page = call("bill_page", token, query={"lang": "en"})["body"]

    # THEN the page says settled, lists the payment with its receipt, and has no Pay form
    assert "your account is settled" in page
    assert "DEMO-" in page and "-000001" in page
    assert 'name="bill"' not in page and "/checkout" not in page


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


def test_pay_refuses_to_start_a_checkout_when_nothing_is_owed(stripe_api):
    # GIVEN a paid bill
    bill = store_bill()
    pay(bill)
    token = pay_token(bill)
    # WHEN Pay is pressed (e.g. an old tab)
    response = call("start_checkout", token)
    # THEN back to the account page, which says there is nothing to pay, and no session
    assert response["statusCode"] == 303
    location = response["headers"]["Location"]
    assert location.startswith(f"https://pay.example.test/pay/{token}") and "notice=nothing_owed" in location
    assert stripe_api.requests == []
    page = call("bill_page", token, query={"lang": "en", "notice": "nothing_owed"})["body"]
    assert "There is nothing to pay now" in page


def _press_pay(token: str, bill: str = "all") -> dict:
    return call(
        "start_checkout",
        token,
        body=f"lang=en&bill={quote(bill)}",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def test_one_checkout_pays_all_open_bills_or_the_one_chosen(stripe_api):
    march, april = store_bill(make_bill(period="2026-03")), store_bill(make_bill(period="2026-04"))
    token = pay_token(april)
    assert _press_pay(token)["statusCode"] == 303
    assert _press_pay(token, march.bill_id)["statusCode"] == 303
    everything, one = stripe_api.requests
    assert everything["metadata[bill_ids]"] == f"{march.bill_id},{april.bill_id}"
    assert len([k for k in everything if k.endswith("[unit_amount]")]) == 8
    assert one["metadata[bill_ids]"] == march.bill_id
    # a bill not open on this account is not paid
    assert _press_pay(token, "A-101#2019-01")["headers"]["Location"].endswith("notice=nothing_owed")


def test_paying_one_session_expires_the_unit_s_other_sessions(stripe_api):
    # GIVEN an owner who opened Pay in two tabs
    bill = store_bill()
    token = pay_token(bill)
    _press_pay(token)
    _press_pay(token)
    assert [s.partition(" ")[0] for s in AccountStore().get("A-101").open_sessions] == [
        "cs_test_0001",
        "cs_test_0002",
    ]
    # WHEN the first tab's payment arrives
    webhook_handler(
        webhook_request(event_body(checkout_event(bill, session_id="cs_test_0001"))), LambdaContext()
    )
    # THEN the other session is expired through Stripe's API, and none is left open
    assert stripe_api.paths[-1] == "/v1/checkout/sessions/cs_test_0002/expire"
    assert AccountStore().get("A-101").open_sessions == ()


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


def test_return_page_shows_processing_then_paid(stripe_api):
    # GIVEN an open bill whose owner just came back from Checkout
    bill = store_bill()
    token = pay_token(bill)
    _press_pay(token)
    # WHEN the webhook has not arrived yet
    before = call("checkout_return", token, query={"session_id": "cs_test_0001", "lang": "en"})
    # THEN the page says it is being confirmed
    assert before["statusCode"] == 200 and "being confirmed" in before["body"]
    # WHEN the webhook has credited it
    webhook_handler(
        webhook_request(event_body(checkout_event(bill, session_id="cs_test_0001"))), LambdaContext()
    )
    after = call("checkout_return", token, query={"session_id": "cs_test_0001", "lang": "en"})
    # THEN it says confirmed, with the receipt number
    assert "confirmed" in after["body"] and "-000001" in after["body"]


def test_expired_link_gets_generic_not_found(aws):
    bill = store_bill()
    token = pay_token(bill, expires_in=timedelta(days=-1))
    response = call("bill_page", token)
    assert response["statusCode"] == 404
    assert "A-101" not in response["body"]


def _unit_a101() -> None:
    from propdesk.domain.units import Unit
    from propdesk.store.units import UnitRepository

    UnitRepository().put(Unit("A-101", "A", 1, "101", 8937, "O0001"), updated_at=datetime.now(UTC))


def _renew(unit: str, contact: str, lang: str = "en") -> dict:
    return lambda_handler(
        route_event(
            "renew_link",
            body=f"unit={quote(unit)}&contact={quote(contact)}&lang={lang}",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        LambdaContext(),
    )


def _queued_links(env) -> list[dict]:
    import json

    import boto3

    sqs = boto3.client("sqs")
    found = []
    while batch := sqs.receive_message(QueueUrl=env["MESSAGES_QUEUE_URL"], MaxNumberOfMessages=10).get(
        "Messages"
    ):
        found += [json.loads(m["Body"]) for m in batch]
    return [m for m in found if m["template"] == "pay_link"]


def test_an_expired_link_s_owner_gets_a_fresh_one_at_the_contact_on_file_and_nobody_learns_more(aws):
    # GIVEN the owner of A-101 (phone +8613800000000 on file) whose link has expired
    owner(locale="en")
    _unit_a101()
    store_bill()
    expired = call("bill_page", pay_token(make_bill(), expires_in=timedelta(days=-1)))
    assert expired["statusCode"] == 404 and 'action="/pay/renew"' in expired["body"]
    # WHEN they ask with the phone as they would type it
    matched = _renew("a-101", "138 0000 0000")
    # AND somebody asks with a wrong contact, and for a unit that does not exist
    wrong = _renew("A-101", "13999999999")
    nobody = _renew("Z-999", "13800000000")
    blank = _renew("   ", "13800000000")  # no unit at all: nothing looked up, the same page
    # THEN every answer is the same page
    assert matched["statusCode"] == wrong["statusCode"] == nobody["statusCode"] == blank["statusCode"] == 200
    assert matched["body"] == wrong["body"] == nobody["body"] == blank["body"]
    # AND one SMS with a fresh link to A-101's account is queued, for the owner on file only
    (message,) = _queued_links(aws)
    assert message["owner_id"] == "O0001" and message["channels"] == ["sms"]
    assert message["message_id"].startswith("pay_link#A-101#")
    fresh = message["context"]["pay_url"].split("/pay/", 1)[1]
    page = call("bill_page", fresh)
    assert page["statusCode"] == 200 and "A-101" in page["body"]


def test_a_fresh_link_asked_for_by_e_mail_goes_by_e_mail_once_an_hour(aws):
    owner(locale="en")
    _unit_a101()
    store_bill()
    _renew("A-101", "ANNA@mail.example.com")
    _renew("A-101", "anna@mail.example.com")
    messages = _queued_links(aws)
    assert {m["message_id"] for m in messages} == {messages[0]["message_id"]}  # one id: sent once
    assert messages[0]["channels"] == ["email"]


def test_payments_10_a_link_used_after_its_checkout_session_expired_gets_a_new_session(stripe_api):
    import time_machine

    # GIVEN an owner who pressed Pay, left the Checkout page open, and came back two days later
    bill = store_bill()
    token = pay_token(bill, expires_in=timedelta(days=30))
    first = _press_pay(token)["headers"]["Location"]
    with time_machine.travel(datetime.now(UTC) + timedelta(days=2), tick=False):
        # WHEN they press Pay again on the (still valid) link
        second = _press_pay(token)
        # THEN a fresh session is created, not the expired one
        assert second["statusCode"] == 303 and second["headers"]["Location"] != first
        assert [p for p in stripe_api.paths if p == "/v1/checkout/sessions"] == ["/v1/checkout/sessions"] * 2
        # AND when it is paid, only sessions still open are expired (the old one expired by itself)
        account = AccountStore().get("A-101")
        assert account.sessions_open_at(datetime.now(UTC)) == ("cs_test_0002",)
        webhook_handler(
            webhook_request(event_body(checkout_event(bill, session_id="cs_test_0002"))), LambdaContext()
        )
    assert not [p for p in stripe_api.paths if p.endswith("/expire")]
    assert AccountStore().get("A-101").open_sessions == ()


def test_payments_9_front_desk_first_then_the_online_tab_lands_as_credit_for_staff(stripe_api):
    from tests.route_events import staff_claims

    # GIVEN an owner who opened Checkout, then paid the same bill in cash at the front desk
    _unit_a101()
    bill = store_bill()
    token = pay_token(bill)
    _press_pay(token)
    desk = lambda_handler(
        route_event(
            "record_desk_payment",
            params={"unit_id": "A-101"},
            body={"request_id": "desk-then-online", "amount_minor": bill.total_minor, "method": "cash"},
            claims=staff_claims("cashier", sub="cashier-li"),
        ),
        LambdaContext(),
    )
    assert desk["statusCode"] == 201
    # WHEN the still-open Checkout tab is paid too
    webhook_handler(
        webhook_request(event_body(checkout_event(bill, session_id="cs_test_0001"))), LambdaContext()
    )
    # THEN the second payment is credit on the account, in the staff queue, and the page says so
    account = AccountStore().get("A-101")
    assert account.credit_minor == bill.total_minor and account.open_bill_ids == ()
    from propdesk.store.payments import PaymentRepository

    (queued,) = PaymentRepository().waiting_for_staff()
    assert queued.review_reason == "duplicate" and queued.provider == "stripe"
    page = call("bill_page", token, query={"lang": "en"})["body"]
    assert "Credit on your account" in page and "kept as credit" in page
