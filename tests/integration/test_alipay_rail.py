"""Alipay end to end on moto: the owner's account page, the order, the Alipay stand-in (the real
``python-alipay-sdk`` talks to it from the functions' code), its signed notification handed to the
payment webhook exactly as it was sent, the order page, the sweep, a refund and the statement."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlparse

import pytest
import time_machine

from api.handler import lambda_handler as api_handler
from infra.local.alipay import AlipayStandIn
from payment_webhook.handler import lambda_handler as webhook_handler
from propdesk.payments.alipay import BEIJING, AlipayRail, alipay_keys
from propdesk.payments.port import ORDER_CLOSED, ORDER_PAID, ProviderRefused
from propdesk.store.bills import BillRepository
from propdesk.store.orders import OrderRepository
from propdesk.store.payments import PaymentRepository
from tests.alipay_rail_tools import PHONE, PUBLIC_URL, alipay, notify, owner_call, started_order
from tests.alipay_tools import APP_ID, other_app_keys
from tests.paytools import make_bill, pay_token, store_bill
from tests.route_events import LambdaContext, route_event

__all__ = ["alipay"]  # the fixture


def test_an_owner_pays_on_alipay_s_page_and_the_bill_is_paid_once_whatever_the_resends(alipay):
    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    token = pay_token(bill)
    # GIVEN the account page offers Alipay
    page = owner_call("bill_page", token)["body"]
    assert 'name="rail" value="alipay"' in page and "Alipay" in page
    # WHEN the owner chooses it on a computer: Alipay's page pay, for the amount owed in yuan
    order_id, url = started_order(token)
    params = dict(parse_qsl(urlparse(url).query))
    biz = json.loads(params["biz_content"])
    assert url.startswith(alipay.gateway_url) and params["method"] == "alipay.trade.page.pay"
    assert biz["total_amount"] == f"{bill.total_minor // 100}.{bill.total_minor % 100:02d}"
    assert params["notify_url"] == PUBLIC_URL + "/webhooks/alipay"
    # AND pays there
    paid = alipay.pay_url(url)
    # THEN the notification was answered "success" and the bill is paid
    assert paid.delivery is not None and paid.delivery.attempts[-1]["body"] == "success"
    assert BillRepository().get(bill.bill_id).status == "paid"
    # AND Alipay's resend of the same body changes nothing
    assert alipay.redeliver(paid.delivery)
    payments = PaymentRepository().of_unit("A-101")
    assert [p.payment_id for p in payments] == [f"alipay:{order_id}"]
    assert payments[0].reference == paid.trade["trade_no"] and payments[0].method == "alipay"
    assert OrderRepository().get(order_id).state == ORDER_PAID
    # AND the browser comes back to the account page, and the order page shows the receipt
    assert paid.return_url.startswith(PUBLIC_URL + "/pay/")
    done = owner_call("order_page", token, params={"order_id": order_id})["body"]
    assert payments[0].receipt_no in done


def test_on_a_phone_the_owner_goes_to_alipay_s_wap_page(alipay):
    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    _, url = started_order(pay_token(bill), agent=PHONE)
    params = dict(parse_qsl(urlparse(url).query))
    assert params["method"] == "alipay.trade.wap.pay"
    biz = json.loads(params["biz_content"])
    assert biz["quit_url"].startswith(PUBLIC_URL + "/pay/") and biz["product_code"] == "QUICK_WAP_WAY"
    # and Alipay's WAP cashier takes it: paid, the bill with it
    assert alipay.pay_url(url).trade["trade_status"] == "TRADE_SUCCESS"
    assert BillRepository().get(bill.bill_id).status == "paid"


def test_payments_27_an_alipay_notification_tampered_wrongly_signed_or_replayed_gets_fail_and_writes_nothing(
    alipay,
):
    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    order_id, url = started_order(pay_token(bill))
    alipay.lose_next_notification()
    delivery = alipay.pay_url(url).delivery
    assert delivery is not None and delivery.lost
    # a changed amount under Alipay's signature
    tampered = urlencode(alipay.tampered_notification(delivery, total_amount="0.01")).encode()
    # the same notification signed by another key (not Alipay's)
    forger = AlipayStandIn(app_id=APP_ID, app_public_key=other_app_keys().public_pem)
    forged = dict(delivery.params)
    forged["sign"] = forger.sign_notification({k: v for k, v in forged.items() if k != "sign"})
    wrong_key = urlencode(forged).encode()
    # no signature at all; a signature that is not base64
    unsigned = urlencode({k: v for k, v in delivery.params.items() if k != "sign"}).encode()
    garbage = urlencode({**delivery.params, "sign": "not base64 at all!"}).encode()
    # the genuine body, replayed two days later (Alipay stops resending after about 25 hours)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=2), tick=True):
        replayed = notify(delivery.body)
    answers = [notify(body) for body in (tampered, wrong_key, unsigned, garbage)] + [replayed]
    for answer in answers:
        assert answer["statusCode"] == 200 and answer["body"] == "fail", answer
    assert PaymentRepository().of_unit("A-101") == []
    assert BillRepository().get(bill.bill_id).status == "open"
    assert OrderRepository().get(order_id).is_open
    # and the genuine one, on time, lands
    assert notify(delivery.body)["body"] == "success"
    assert BillRepository().get(bill.bill_id).status == "paid"


def test_an_alipay_notification_for_an_order_not_ours_is_acknowledged_and_writes_nothing(alipay):
    params = {
        "notify_time": datetime.now(UTC).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
        "notify_type": "trade_status_sync",
        "notify_id": "2026120200222unknown",
        "app_id": APP_ID,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": "2026120222001400000000000009",
        "out_trade_no": "PDNOTOURS0003",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "349.38",
    }
    params["sign"] = alipay.sign_notification(params)
    assert notify(urlencode(params).encode())["body"] == "success"
    assert PaymentRepository().of_unit("A-101") == [] and OrderRepository().get("PDNOTOURS0003") is None


def test_an_order_paid_with_another_amount_is_a_mismatch_for_staff_never_credited_as_asked(alipay):
    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    order_id, url = started_order(pay_token(bill))
    alipay.lose_next_notification()
    delivery = alipay.pay_url(url).delivery
    # Alipay itself reports a different amount (signed): the order asked for the bill's total
    changed = {k: v for k, v in delivery.params.items() if k != "sign"}
    changed["total_amount"] = "1.00"
    changed["sign"] = alipay.sign_notification(changed)
    assert notify(urlencode(changed).encode())["body"] == "success"
    [payment] = PaymentRepository().of_unit("A-101")
    # THEN what was paid is allocated as it is, and the payment waits in the staff's queue
    assert payment.payment_id == f"alipay:{order_id}" and payment.amount_minor == 100
    assert (payment.review_state, payment.review_reason) == ("open", "mismatch")
    assert BillRepository().get(bill.bill_id).paid_minor == 100


def test_payments_28_a_lost_alipay_notification_is_found_by_the_sweep_and_unpaid_orders_are_closed(alipay):
    paid_bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    left_bill = store_bill(make_bill("A-102", "2026-12", owner_id="O0002"))
    never_bill = store_bill(make_bill("A-103", "2026-12", owner_id="O0003"))
    # GIVEN one owner who paid and whose notification never came, one who opened Alipay's page
    # and left, and one who pressed the button and never reached Alipay
    paid_order, paid_url = started_order(pay_token(paid_bill))
    alipay.lose_next_notification()
    alipay.pay_url(paid_url)
    left_order, left_url = started_order(pay_token(left_bill))
    alipay.open_url(left_url)
    never_order, _ = started_order(pay_token(never_bill))
    # WHEN the sweep runs six minutes on
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=6), tick=True):
        swept = webhook_handler({"action": "sweep_orders"}, LambdaContext())
    # THEN the paid one lands, once; the others wait
    assert swept["alipay"]["landed"] == 1 and swept["alipay"]["still_open"] == 2
    assert BillRepository().get(paid_bill.bill_id).status == "paid"
    assert len(PaymentRepository().of_unit("A-101")) == 1
    # WHEN the sweep runs after the orders' time is up
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=40), tick=True):
        swept = webhook_handler({"action": "sweep_orders"}, LambdaContext())
    # THEN both unpaid orders are closed: at Alipay where it had a trade, and here
    assert swept["alipay"]["closed"] == 2
    orders = OrderRepository()
    assert orders.get(left_order).state == ORDER_CLOSED and orders.get(never_order).state == ORDER_CLOSED
    with pytest.raises(Exception, match="CLOSE"):
        alipay.pay(left_order)
    assert orders.get(paid_order).state == ORDER_PAID


def test_the_rail_refunds_and_reads_the_day_s_statement_through_the_sdk(alipay):
    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    order_id, url = started_order(pay_token(bill))
    trade = alipay.pay_url(url).trade
    rail = AlipayRail(alipay_keys(), gateway=alipay.gateway_url)
    # a partial refund, then the same request again (Alipay's idempotency: out_request_no)
    first = rail.refund(
        order_id, refund_id="R1", amount_minor=1000, total_minor=bill.total_minor, reason="多收"
    )
    again = rail.refund(
        order_id, refund_id="R1", amount_minor=1000, total_minor=bill.total_minor, reason="多收"
    )
    assert first.state == again.state == "succeeded"
    with pytest.raises(ProviderRefused):
        rail.refund(
            order_id, refund_id="R2", amount_minor=bill.total_minor, total_minor=bill.total_minor, reason="x"
        )
    # the partial refund leaves the trade paid
    assert rail.query(order_id).state == ORDER_PAID
    # the statement of the day has the payment and the refund, in fen
    today = datetime.now(UTC).astimezone(BEIJING).date()
    assert rail.statement(today).lines == ()  # a day's statement is ready only after the day
    with time_machine.travel(datetime.now(UTC) + timedelta(days=1), tick=True):
        statement = rail.statement(today)
    kinds = sorted((line.kind, line.amount_minor, line.order_id) for line in statement.lines)
    assert kinds == [("payment", bill.total_minor, order_id), ("refund", 1000, order_id)]
    assert {line.provider_payment_id for line in statement.lines} == {trade["trade_no"]}
    # an order Alipay never saw: query says nothing, close is fine
    assert rail.query("PDNEVERSEEN0001") is None
    rail.close("PDNEVERSEEN0001")


def test_a_cashier_refunds_an_alipay_payment_through_alipay_and_it_is_posted_at_once(alipay):
    from infra.local.events import staff_claims

    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    order_id, url = started_order(pay_token(bill))
    trade = alipay.pay_url(url).trade
    # WHEN a cashier refunds part of it (under the approval amount)
    body = {"request_id": "alipay-refund-0001", "amount_minor": 2000, "reason": "多收了"}
    event = route_event(
        "start_refund",
        params={"payment_id": f"alipay:{order_id}"},
        body=body,
        claims=staff_claims("cashier", sub="cashier-li"),
    )
    answer = api_handler(event, LambdaContext())
    refund = json.loads(answer["body"])
    # THEN Alipay refunds it at once, and it is posted: the bill owes that much again
    assert answer["statusCode"] == 201 and refund["status"] == "succeeded", refund
    assert alipay.trades.find(APP_ID, {"out_trade_no": order_id}).refunded == 2000
    [payment] = PaymentRepository().of_unit("A-101")
    assert payment.refunded_minor == 2000 and payment.pending_refunds == ()
    assert BillRepository().get(bill.bill_id).paid_minor == bill.total_minor - 2000
    # AND Alipay's notification of the partial refund (TRADE_SUCCESS again) changes nothing
    assert [d.trade_status for d in alipay.deliveries][-1] == "TRADE_SUCCESS"
    assert PaymentRepository().of_unit("A-101")[0].refunded_minor == 2000
    # AND the same request again is the same refund
    again = api_handler(event, LambdaContext())
    assert (
        again["statusCode"] == 200 and alipay.trades.find(APP_ID, {"out_trade_no": order_id}).refunded == 2000
    )
    assert trade["trade_no"]


@pytest.mark.parametrize(
    "answer",
    [
        {"code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error"},
        {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.SYSTEM_ERROR"},
    ],
)
def test_an_alipay_refund_whose_result_is_unknown_stays_to_be_sent_again(alipay, monkeypatch, answer):
    """Alipay's guidance for these answers: the result is unknown, send the same request again.
    Treating them as a refusal would release the hold and let staff refund twice."""
    from propdesk.payments.port import ProviderUnavailable

    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    order_id, url = started_order(pay_token(bill))
    alipay.pay_url(url)
    rail = AlipayRail(alipay_keys(), gateway=alipay.gateway_url)
    monkeypatch.setattr(rail._alipay, "api_alipay_trade_refund", lambda *a, **k: dict(answer))
    with pytest.raises(ProviderUnavailable):
        rail.refund(order_id, refund_id="R9", amount_minor=100, total_minor=bill.total_minor, reason="x")
    refused = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_HAS_CLOSE"}
    monkeypatch.setattr(rail._alipay, "api_alipay_trade_refund", lambda *a, **k: dict(refused))
    with pytest.raises(ProviderRefused):
        rail.refund(order_id, refund_id="R9", amount_minor=100, total_minor=bill.total_minor, reason="x")


def test_a_property_without_stripe_never_starts_a_card_checkout(alipay, demo_config, monkeypatch):
    from propdesk import naming as names
    from propdesk.settings import get_settings

    no_stripe = demo_config.model_copy(
        update={"payment": demo_config.payment.model_copy(update={"rails": ("wechat_pay", "alipay")})}
    )
    monkeypatch.setenv(names.PROPERTY_CONFIG_ENV, no_stripe.to_env_json())
    get_settings.cache_clear()
    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    token = pay_token(bill)
    page = owner_call("bill_page", token)["body"]
    assert "/checkout" not in page and 'value="alipay"' in page and 'value="wechat_pay"' in page
    answer = owner_call(
        "start_checkout",
        token,
        body="lang=en&bill=all",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer["statusCode"] == 303 and "/checkout" not in answer["headers"]["Location"]
    assert answer["headers"]["Location"].startswith(PUBLIC_URL + "/pay/")
