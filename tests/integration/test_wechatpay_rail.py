"""WeChat Pay end to end on moto: the owner's account page, the order, the WeChat Pay stand-in
(the real ``wechatpayv3`` SDK talks to it from the functions' code), its signed and encrypted
notification handed to the payment webhook exactly as it was sent, the order page and the sweep."""

from __future__ import annotations

import json
import secrets
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlparse

import boto3
import pytest
import time_machine
from ops_support import import_demo_units

from api.handler import lambda_handler as api_handler
from infra.local.wechatpay import WeChatPayStandIn, merchant_keys
from infra.local.wechatpay.keys import nonce_str
from payment_webhook.handler import lambda_handler as webhook_handler
from propdesk import naming
from propdesk.settings import get_settings
from propdesk.store.bills import BillRepository
from propdesk.store.orders import OrderRepository
from propdesk.store.payments import PaymentRepository
from tests.paytools import make_bill, pay_token, store_bill
from tests.route_events import LambdaContext, route_event

DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148"


def notify(headers: dict[str, str], body: bytes) -> dict:
    """The payment webhook's answer to a notification, as API Gateway hands it over."""
    event = route_event("wechatpay_notify", body=body, headers={k.lower(): v for k, v in headers.items()})
    return webhook_handler(event, LambdaContext())


class Receiver:
    """The API's public address for the stand-in: hands each notification to the webhook handler
    and answers with what it answered."""

    def __init__(self) -> None:
        receiver = self
        self.answers: list[int] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = notify(dict(self.headers.items()), body)
                receiver.answers.append(answer["statusCode"])
                payload = (answer.get("body") or "").encode()
                self.send_response(answer["statusCode"])
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def wechat(aws, demo_config, monkeypatch):
    import_demo_units(demo_config, 3)
    merchant = merchant_keys()
    standin = WeChatPayStandIn(
        mchid="1900000109",
        appid="wxd678efh567hg6787",
        apiv3_key=secrets.token_hex(16),
        merchant_serial=merchant.serial_no,
        merchant_public_key=merchant.public_key,
    )
    standin.serve("127.0.0.1", 0)
    receiver = Receiver()
    pid = demo_config.property_id
    boto3.client("secretsmanager").put_secret_value(
        SecretId=naming.secret_name(pid, "wechatpay"),
        SecretString=json.dumps(
            {
                "mchid": standin.mchid,
                "appid": standin.appid,
                "private_key": merchant.private_key,
                "cert_serial_no": merchant.serial_no,
                "apiv3_key": standin.apiv3_key,
                "public_key": standin.public_key_pem,
                "public_key_id": standin.public_key_id,
            }
        ),
    )
    # The API's public URL is where the stand-in sends notifications.
    boto3.client("ssm").put_parameter(
        Name=naming.public_url_parameter_name(pid), Value=receiver.base_url, Type="String", Overwrite=True
    )
    monkeypatch.setenv("WECHATPAY_API_BASE", standin.base_url)
    get_settings.cache_clear()
    from propdesk import aws as propdesk_aws

    propdesk_aws.reset_clients()
    yield standin, receiver
    receiver.close()
    standin.shutdown()
    get_settings.cache_clear()


def owner_call(key: str, token: str, *, agent: str = DESKTOP, **kwargs) -> dict:
    headers = {"user-agent": agent, **kwargs.pop("headers", {})}
    event = route_event(key, params={"token": token, **kwargs.pop("params", {})}, headers=headers, **kwargs)
    return api_handler(event, LambdaContext())


def start(token: str, *, agent: str = DESKTOP, bill: str = "all") -> dict:
    return owner_call(
        "start_order",
        token,
        agent=agent,
        body=f"rail=wechat_pay&bill={quote(bill)}&lang=en",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def order_of(response: dict) -> str:
    location = response["headers"]["Location"]
    return urlparse(location).path.rsplit("/", 1)[1]


def test_an_owner_scans_the_code_and_the_bill_is_paid_once_whatever_the_deliveries(wechat):
    standin, receiver = wechat
    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    token = pay_token(bill)
    # GIVEN the account page offers WeChat Pay beside the card
    page = owner_call("bill_page", token)["body"]
    assert 'name="rail" value="wechat_pay"' in page and "WeChat Pay" in page
    # WHEN the owner chooses it on a computer
    started = start(token)
    assert started["statusCode"] == 303
    order_id = order_of(started)
    # THEN the order page shows the code to scan, for the amount owed
    shown = owner_call("order_page", token, params={"order_id": order_id})
    assert shown["statusCode"] == 200 and "<svg" in shown["body"] and order_id in shown["body"]
    order = OrderRepository().get(order_id)
    assert order.amount_minor == bill.total_minor and order.start_url.startswith("weixin://wxpay/bizpayurl")
    # WHEN the owner scans it and pays
    _, delivery = standin.scan(order.start_url)
    delivery.wait()
    # THEN the notification was answered 204 and the bill is paid
    assert receiver.answers == [204]
    assert BillRepository().get(bill.bill_id).status == "paid"
    # AND the same notification again (WeChat Pay's retry) is acknowledged and changes nothing
    status, _ = standin.redeliver(delivery)
    assert status == 204
    payments = PaymentRepository().of_unit("A-101")
    assert [p.payment_id for p in payments] == [f"wechat_pay:{order_id}"]
    assert payments[0].reference.startswith("4200") and payments[0].method == "wechat_pay"
    # AND the order page now shows the receipt
    done = owner_call("order_page", token, params={"order_id": order_id})["body"]
    assert payments[0].receipt_no in done and "<svg" not in done
    # AND the account page's receipt link for it works (its id has the rail's underscore)
    receipt = owner_call("owner_receipt", token, params={"payment_id": payments[0].payment_id})
    assert receipt["statusCode"] == 303 and ".pdf" in receipt["headers"]["Location"]


def test_on_a_phone_the_owner_goes_to_wechat_pay_s_page_and_comes_back_to_the_account(wechat):
    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    started = start(pay_token(bill), agent=PHONE)
    location = started["headers"]["Location"]
    assert started["statusCode"] == 303 and "/h5/" in location
    back = parse_qs(urlparse(location).query)["redirect_url"][0]
    assert back.startswith(wechat[1].base_url + "/pay/")


def test_payments_27_a_notification_not_signed_by_the_platform_or_replayed_is_refused_and_writes_nothing(
    wechat,
):
    standin, _ = wechat
    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    token = pay_token(bill)
    order_id = order_of(start(token))
    standin.lose_next_notification()
    _, delivery = standin.scan(OrderRepository().get(order_id).start_url)
    # a changed resource under the original signature
    headers, body = standin.tampered_notification(
        delivery, amount={"total": 1, "payer_total": 1, "currency": "CNY"}
    )
    tampered = notify(headers, body)
    # a signature by another key (wrong platform key)
    from infra.local.wechatpay import PlatformKeys

    other = PlatformKeys.generate(public_key_id=standin.public_key_id)
    timestamp, nonce = headers["Wechatpay-Timestamp"], nonce_str()
    wrong_key = {
        **headers,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": other.sign(f"{timestamp}\n{nonce}\n{delivery.body.decode()}\n"),
    }
    signed_by_other = notify(wrong_key, delivery.body)
    # a resource that does not decrypt, correctly signed by the platform
    envelope = json.loads(delivery.body)
    envelope["resource"]["ciphertext"] = envelope["resource"]["ciphertext"][:-8] + "AAAAAAAA"
    garbled = json.dumps(envelope)
    undecryptable = notify(
        {
            **headers,
            "Wechatpay-Signature": standin.platform.sign(
                f"{timestamp}\n{headers['Wechatpay-Nonce']}\n{garbled}\n"
            ),
        },
        garbled.encode(),
    )
    # the original, sent again ten minutes later
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=10), tick=True):
        replayed = notify(delivery.headers, delivery.body)
    for answer in (tampered, signed_by_other, undecryptable, replayed):
        assert answer["statusCode"] == 400, answer
        assert json.loads(answer["body"])["code"] == "FAIL"
    assert PaymentRepository().of_unit("A-101") == []
    assert BillRepository().get(bill.bill_id).status == "open"


def test_payments_28_a_lost_notification_is_found_when_the_owner_looks_and_by_the_sweep(wechat):
    standin, _ = wechat
    first = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    second = store_bill(make_bill("A-102", "2026-12", owner_id="O0002"))
    # GIVEN two owners who paid and whose notifications never came
    orders = []
    for bill in (first, second):
        order_id = order_of(start(pay_token(bill)))
        standin.lose_next_notification()
        standin.scan(OrderRepository().get(order_id).start_url)
        orders.append(order_id)
    assert BillRepository().get(first.bill_id).status == "open"
    # WHEN the first owner presses "I have paid": the page asks WeChat Pay
    page = owner_call("order_page", pay_token(first), params={"order_id": orders[0]})["body"]
    assert "Receipt number" in page or "收据" in page
    assert BillRepository().get(first.bill_id).status == "paid"
    # WHEN the sweep runs five minutes on
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=6), tick=True):
        swept = webhook_handler({"action": "sweep_orders"}, LambdaContext())
    # THEN the second lands too, once
    assert swept["wechat_pay"]["landed"] == 1
    assert BillRepository().get(second.bill_id).status == "paid"
    assert len(PaymentRepository().of_unit("A-102")) == 1


def test_an_order_of_another_unit_is_the_not_found_page(wechat):
    mine = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    theirs = store_bill(make_bill("A-102", "2026-12", owner_id="O0002"))
    order_id = order_of(start(pay_token(theirs)))
    page = owner_call("order_page", pay_token(mine), params={"order_id": order_id})
    assert page["statusCode"] == 404 and order_id not in page["body"]


def test_a_wechat_pay_refund_is_posted_when_wechat_pay_says_it_is_done_and_once(wechat):
    import time

    from infra.local.events import staff_claims

    standin, receiver = wechat
    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    order_id = order_of(start(pay_token(bill)))
    standin.scan(OrderRepository().get(order_id).start_url)[1].wait()
    standin.refund_delay_s = None  # WeChat Pay is still processing it
    # WHEN a cashier refunds part of it
    body = {"request_id": "wechat-refund-0001", "amount_minor": 3000, "reason": "多收了"}
    event = route_event(
        "start_refund",
        params={"payment_id": f"wechat_pay:{order_id}"},
        body=body,
        claims=staff_claims("cashier", sub="cashier-li"),
    )
    answer = api_handler(event, LambdaContext())
    refund = json.loads(answer["body"])
    # THEN it is sent, held on the payment, and nothing is posted yet
    assert answer["statusCode"] == 201 and refund["status"] == "sent", refund
    [payment] = PaymentRepository().of_unit("A-101")
    assert payment.refunded_minor == 0 and payment.refund_pending_minor == 3000
    # WHEN WeChat Pay finishes it and says so (REFUND.SUCCESS, signed and encrypted), twice
    delivery = standin.settle_refund(refund["refund_id"])
    assert delivery is not None
    delivery.wait()
    standin.redeliver(delivery)
    # THEN it is posted once: the bill owes that much again, the hold is gone
    deadline = time.monotonic() + 5
    while PaymentRepository().of_unit("A-101")[0].refunded_minor == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    [payment] = PaymentRepository().of_unit("A-101")
    assert payment.refunded_minor == 3000 and payment.refund_pending_minor == 0
    assert BillRepository().get(bill.bill_id).paid_minor == bill.total_minor - 3000
    assert 204 in receiver.answers


def test_a_refund_that_bounced_at_the_payer_s_bank_keeps_its_hold_for_staff(wechat):
    from infra.local.events import staff_claims
    from propdesk.payments.port import ProviderRefund
    from propdesk.services.refunds import record_rail_refund
    from propdesk.settings import get_settings

    standin, _ = wechat
    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    order_id = order_of(start(pay_token(bill)))
    standin.scan(OrderRepository().get(order_id).start_url)[1].wait()
    standin.refund_delay_s = None
    body = {"request_id": "wechat-refund-0002", "amount_minor": 1000, "reason": "多收了"}
    event = route_event(
        "start_refund", params={"payment_id": f"wechat_pay:{order_id}"}, body=body,
        claims=staff_claims("cashier", sub="cashier-li"),
    )  # fmt: skip
    refund = json.loads(api_handler(event, LambdaContext())["body"])
    assert refund["status"] == "sent"
    config = get_settings().property_config
    now = datetime.now(UTC)
    # REFUND.ABNORMAL: the money left and bounced; staff finish it: the hold stays
    bounced = ProviderRefund("wechat_pay", order_id, refund["refund_id"], 1000, "abnormal")
    assert record_rail_refund(bounced, config=config, now=now) == "ignored"
    [payment] = PaymentRepository().of_unit("A-101")
    assert payment.refund_pending_minor == 1000 and payment.refunded_minor == 0
    # and when staff have finished it, REFUND.SUCCESS posts it once
    done = ProviderRefund("wechat_pay", order_id, refund["refund_id"], 1000, "succeeded")
    assert record_rail_refund(done, config=config, now=now) == "refunded"
    assert record_rail_refund(done, config=config, now=now) == "already_recorded"
    [payment] = PaymentRepository().of_unit("A-101")
    assert (payment.refunded_minor, payment.refund_pending_minor) == (1000, 0)


def test_payments_29_a_refund_whose_confirmation_was_lost_is_found_by_the_next_morning_s_reconciliation(
    wechat,
):
    from infra.local.events import staff_claims
    from propdesk.payments.alipay import BEIJING

    standin, _ = wechat
    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    order_id = order_of(start(pay_token(bill)))
    standin.scan(OrderRepository().get(order_id).start_url)[1].wait()
    standin.refund_delay_s = None
    body = {"request_id": "wechat-refund-lost", "amount_minor": 3000, "reason": "多收了"}
    event = route_event(
        "start_refund",
        params={"payment_id": f"wechat_pay:{order_id}"},
        body=body,
        claims=staff_claims("cashier", sub="cashier-li"),
    )
    refund = json.loads(api_handler(event, LambdaContext())["body"])
    # WHEN WeChat Pay finishes the refund and its REFUND.SUCCESS never reaches us
    standin.lose_next_notification()
    standin.settle_refund(refund["refund_id"])
    assert PaymentRepository().of_unit("A-101")[0].refunded_minor == 0
    # THEN the next morning's reconciliation finds the refund the statement has and we did not post
    tomorrow = datetime.now(UTC).astimezone(BEIJING).date() + timedelta(days=1)
    with time_machine.travel(datetime(tomorrow.year, tomorrow.month, tomorrow.day, 10, 30, tzinfo=BEIJING)):
        result = webhook_handler({"action": "reconcile"}, LambdaContext())
    found = [d for day in result["wechat_pay"] for d in day["differences"]]
    assert [(d["type"], d["order_id"], d["provider_minor"], d["ours_minor"]) for d in found] == [
        ("refund_not_posted", order_id, 3000, 0)
    ]
    # AND staff see it on the reconciliation list
    listed = api_handler(
        route_event("list_reconciliation", claims=staff_claims("cashier", sub="cashier-li")), LambdaContext()
    )
    items = json.loads(listed["body"])["items"]
    assert listed["statusCode"] == 200 and [i["type"] for i in items] == ["refund_not_posted"]
