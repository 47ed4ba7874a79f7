"""The WeChat Pay stand-in on a loopback port, driven by the real ``wechatpayv3`` SDK: orders,
queries, closing, refunds and trade statements answer as WeChat Pay's do and verify with the SDK,
notifications decrypt with the SDK's ``callback``, and what must be refused is refused."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
import time_machine
from wechatpayv3 import WeChatPay, WeChatPayType

from infra.local.wechatpay import MerchantKeys, PlatformKeys, WeChatPayStandIn, merchant_keys
from infra.local.wechatpay.keys import load_public_key, rsa_verify
from infra.local.wechatpay.orders import CST
from tests.wechatpay_tools import APIV3_KEY, APPID, MCHID, Receiver, client, parse_tradebill, signed_request

TOTAL = 25024  # fen: ¥250.24


@pytest.fixture(scope="module")
def merchant() -> MerchantKeys:
    return merchant_keys()


@pytest.fixture(scope="module")
def platform() -> PlatformKeys:
    return PlatformKeys.generate()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


def make_standin(merchant: MerchantKeys, platform: PlatformKeys, **options: Any) -> WeChatPayStandIn:
    standin = WeChatPayStandIn(
        mchid=MCHID,
        appid=APPID,
        apiv3_key=APIV3_KEY,
        merchant_serial=merchant.serial_no,
        merchant_public_key=merchant.public_key,
        platform=platform,
        **{"retry_scale": 0.001, "refund_delay_s": 0.01, **options},
    )
    standin.serve("127.0.0.1", 0)
    return standin


@pytest.fixture
def standin(merchant: MerchantKeys, platform: PlatformKeys) -> Iterator[WeChatPayStandIn]:
    standin = make_standin(merchant, platform)
    yield standin
    standin.shutdown()


@pytest.fixture
def wxpay(standin: WeChatPayStandIn, merchant: MerchantKeys, receiver: Receiver) -> WeChatPay:
    return client(standin, merchant, notify_url=receiver.url)


def native(
    wxpay: WeChatPay, out_trade_no: str, total: int = TOTAL, **extra: Any
) -> tuple[int, dict[str, Any]]:
    code, text = wxpay.pay(
        description="物业费 A-101 2027-01", out_trade_no=out_trade_no, amount={"total": total}, **extra
    )
    return code, json.loads(text) if text else {}


def query(wxpay: WeChatPay, **by: str) -> tuple[int, dict[str, Any]]:
    code, text = wxpay.query(**by)
    return code, json.loads(text)


def paid_order(
    wxpay: WeChatPay, standin: WeChatPayStandIn, out_trade_no: str, total: int = TOTAL
) -> dict[str, Any]:
    _, answer = native(wxpay, out_trade_no, total)
    transaction, delivery = standin.scan(answer["code_url"])
    assert delivery.delivered
    return transaction


# --- orders, paying, notifications ----------------------------------------------------------------


def test_a_native_order_paid_by_scanning_sends_a_notification_the_sdk_decrypts(standin, wxpay, receiver):
    code, answer = native(wxpay, "A101-202701", attach="bill=A-101#2027-01")
    assert code == 200
    assert re.fullmatch(r"weixin://wxpay/bizpayurl\?pr=\w+", answer["code_url"])

    code, before = query(wxpay, out_trade_no="A101-202701")
    assert (code, before["trade_state"], before["trade_state_desc"]) == (200, "NOTPAY", "订单未支付")
    assert "transaction_id" not in before and before["amount"]["total"] == TOTAL

    scanned = requests.post(
        f"{standin.base_url}/_standin/scan", json={"code_url": answer["code_url"]}, timeout=5
    )
    assert scanned.status_code == 200
    [(headers, body)] = receiver.wait_for(1)
    assert headers["Wechatpay-Serial"] == standin.public_key_id
    assert headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"
    event = wxpay.callback(headers, body)
    assert event is not None
    assert (event["event_type"], event["summary"], event["resource_type"]) == (
        "TRANSACTION.SUCCESS",
        "支付成功",
        "encrypt-resource",
    )
    assert json.loads(body)["resource"]["associated_data"] == "transaction"
    paid = event["resource"]
    assert re.fullmatch(r"4200\d{24}", paid["transaction_id"])
    assert paid["success_time"].endswith("+08:00")
    assert (paid["trade_state"], paid["trade_type"], paid["out_trade_no"]) == (
        "SUCCESS",
        "NATIVE",
        "A101-202701",
    )
    assert (paid["amount"]["total"], paid["amount"]["payer_total"], paid["attach"]) == (
        TOTAL,
        TOTAL,
        "bill=A-101#2027-01",
    )
    assert paid["payer"]["openid"].startswith("o")

    _, after = query(wxpay, out_trade_no="A101-202701")
    _, by_id = query(wxpay, transaction_id=paid["transaction_id"])
    assert after == by_id
    assert (after["trade_state"], after["transaction_id"]) == ("SUCCESS", paid["transaction_id"])
    assert standin.deliveries[0].delivered


def test_an_h5_order_is_paid_on_its_page_and_the_payer_sent_back(standin, merchant, receiver):
    wxpay = client(standin, merchant, notify_url=receiver.url, pay_type=WeChatPayType.H5)
    scene = {"payer_client_ip": "203.0.113.7", "h5_info": {"type": "Wap"}}
    code, text = wxpay.pay(
        description="物业费", out_trade_no="H5-A101-01", amount={"total": TOTAL}, scene_info=scene
    )
    assert code == 200
    h5_url = json.loads(text)["h5_url"]
    assert h5_url.startswith(f"{standin.base_url}/h5/wx")

    back = "http://127.0.0.1:8000/pay/tok/return"
    page = requests.get(f"{h5_url}&redirect_url={quote(back, safe='')}", timeout=5)
    assert page.status_code == 200 and "¥250.24" in page.text and back in page.text
    action = re.search(r'action="([^"]+)"', page.text).group(1)
    paid = requests.post(
        standin.base_url + action, data={"redirect_url": back}, allow_redirects=False, timeout=5
    )
    assert (paid.status_code, paid.headers["Location"]) == (303, back)

    [(headers, body)] = receiver.wait_for(1)
    assert wxpay.callback(headers, body)["resource"]["trade_type"] == "MWEB"
    _, order = query(wxpay, out_trade_no="H5-A101-01")
    assert order["trade_state"] == "SUCCESS"
    again = requests.post(standin.base_url + action, data={}, allow_redirects=False, timeout=5)
    assert again.status_code == 409 and "ORDERPAID" in again.text


def test_an_h5_order_needs_its_scene(standin, merchant, receiver):
    wxpay = client(standin, merchant, notify_url=receiver.url, pay_type=WeChatPayType.H5)
    code, text = wxpay.pay(
        description="物业费",
        out_trade_no="H5-A101-02",
        amount={"total": 1},
        scene_info={"payer_client_ip": "203.0.113.7"},
    )
    assert (code, json.loads(text)["code"]) == (400, "PARAM_ERROR")
    assert "h5_info" in json.loads(text)["message"]


def test_the_same_out_trade_no_is_the_same_order_only_with_the_same_parameters(standin, wxpay):
    _, first = native(wxpay, "A101-202702")
    assert native(wxpay, "A101-202702") == (200, first)
    code, answer = native(wxpay, "A101-202702", total=TOTAL + 1)
    assert (code, answer["code"]) == (400, "INVALID_REQUEST")
    standin.scan(first["code_url"])
    code, answer = native(wxpay, "A101-202702")
    assert (code, answer["code"]) == (400, "ORDERPAID")


def test_closing_an_order(standin, wxpay):
    _, order = native(wxpay, "A101-202703")
    assert wxpay.close("A101-202703") == (204, b"")
    _, closed = query(wxpay, out_trade_no="A101-202703")
    assert (closed["trade_state"], closed["trade_state_desc"]) == ("CLOSED", "订单已关闭")
    code, answer = native(wxpay, "A101-202703")
    assert (code, answer["code"]) == (400, "ORDER_CLOSED")
    scanned = requests.post(
        f"{standin.base_url}/_standin/scan", json={"code_url": order["code_url"]}, timeout=5
    )
    assert (scanned.status_code, scanned.json()["code"]) == (400, "ORDER_CLOSED")

    paid_order(wxpay, standin, "A101-202704")
    code, text = wxpay.close("A101-202704")
    assert (code, json.loads(text)["code"]) == (400, "ORDERPAID")


def test_an_unknown_order_is_not_found(wxpay):
    code, answer = query(wxpay, out_trade_no="NO-SUCH-ORDER")
    assert (code, answer["code"]) == (404, "ORDER_NOT_EXIST")
    code, answer = query(wxpay, transaction_id="4200000000202701010000000000")
    assert (code, answer["code"]) == (404, "ORDER_NOT_EXIST")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"amount": {"total": 0}}, "PARAM_ERROR"),
        ({"amount": {"total": 12.5}}, "PARAM_ERROR"),
        ({"amount": {"total": 100, "currency": "USD"}}, "PARAM_ERROR"),
        ({"time_expire": "2027-01-31 23:59:59"}, "PARAM_ERROR"),
        ({"time_expire": "2020-01-31T23:59:59+08:00"}, "INVALID_REQUEST"),
        ({"notify_url": "https://example.com/notify?bill=1"}, "PARAM_ERROR"),
        ({"notify_url": "ftp://example.com/notify"}, "PARAM_ERROR"),
        ({"out_trade_no": "A1"}, "PARAM_ERROR"),
        ({"appid": "wx0000000000000000"}, "APPID_MCHID_NOT_MATCH"),
    ],
)
def test_orders_are_checked(wxpay, changes, code):
    params = {"description": "物业费", "out_trade_no": "A101-202705", "amount": {"total": 100}, **changes}
    status, text = wxpay.pay(**params)
    assert (status, json.loads(text)["code"]) == (400, code)


def test_an_order_past_its_time_expire_cannot_be_paid(standin, wxpay):
    expire = (datetime.now(CST) + timedelta(minutes=30)).isoformat(timespec="seconds")
    _, order = native(wxpay, "A101-202706", time_expire=expire)
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=1), tick=True):
        scanned = requests.post(
            f"{standin.base_url}/_standin/scan", json={"code_url": order["code_url"]}, timeout=5
        )
        assert (scanned.status_code, scanned.json()["code"]) == (400, "ORDER_EXPIRED")
        assert query(wxpay, out_trade_no="A101-202706")[1]["trade_state"] == "NOTPAY"


# --- refunds --------------------------------------------------------------------------------------


def test_refunds_settle_and_notify_and_cannot_exceed_the_payment(standin, wxpay, receiver):
    paid = paid_order(wxpay, standin, "A101-202707")
    amount = {"refund": 10000, "total": TOTAL, "currency": "CNY"}
    code, text = wxpay.refund(
        out_refund_no="R-A101-1",
        amount=amount,
        transaction_id=paid["transaction_id"],
        notify_url=receiver.url,
    )
    refund = json.loads(text)
    assert (code, refund["status"], refund["amount"]["refund"]) == (200, "PROCESSING", 10000)
    again = json.loads(wxpay.refund(out_refund_no="R-A101-1", amount=amount, out_trade_no="A101-202707")[1])
    assert again["refund_id"] == refund["refund_id"]

    code, text = wxpay.refund(
        out_refund_no="R-A101-2", amount={**amount, "refund": TOTAL - 10000 + 1}, out_trade_no="A101-202707"
    )
    assert (code, json.loads(text)["code"]) == (400, "INVALID_REQUEST")
    assert "可退金额" in json.loads(text)["message"]

    _, (headers, body) = receiver.wait_for(2)
    event = wxpay.callback(headers, body)
    assert (event["event_type"], event["summary"]) == ("REFUND.SUCCESS", "退款成功")
    assert event["resource"]["refund_status"] == "SUCCESS"
    assert (event["resource"]["out_refund_no"], event["resource"]["amount"]["refund"]) == ("R-A101-1", 10000)
    done = json.loads(wxpay.query_refund("R-A101-1")[1])
    assert (done["status"], done["success_time"][-6:]) == ("SUCCESS", "+08:00")
    assert query(wxpay, out_trade_no="A101-202707")[1]["trade_state"] == "REFUND"

    standin.refund_balance_short = True
    code, text = wxpay.refund(
        out_refund_no="R-A101-3", amount={**amount, "refund": 100}, out_trade_no="A101-202707"
    )
    assert (code, json.loads(text)["code"]) == (403, "NOT_ENOUGH")
    standin.refund_balance_short = False
    code, text = wxpay.query_refund("R-A101-3")
    assert (code, json.loads(text)["code"]) == (404, "RESOURCE_NOT_EXISTS")


def test_an_unpaid_order_cannot_be_refunded(wxpay):
    native(wxpay, "A101-202708")
    amount = {"refund": 100, "total": TOTAL, "currency": "CNY"}
    code, text = wxpay.refund(out_refund_no="R-A101-4", amount=amount, out_trade_no="A101-202708")
    assert (code, json.loads(text)["code"]) == (400, "INVALID_REQUEST")


# --- trade statements ----------------------------------------------------------------------------


def test_the_trade_statement_lists_the_days_payments_and_refunds(standin, merchant, wxpay, receiver):
    first = paid_order(wxpay, standin, "A101-202709")
    paid_order(wxpay, standin, "A102-202709", total=10000)
    native(wxpay, "A103-202709")  # never paid: not in the statement
    amount = {"refund": 5000, "total": 10000, "currency": "CNY"}
    wxpay.refund(out_refund_no="R-A102-1", amount=amount, out_trade_no="A102-202709", notify_url=receiver.url)
    receiver.wait_for(3)
    day = datetime.fromisoformat(first["success_time"]).date()

    code, text = wxpay.trade_bill(bill_date=day.isoformat())
    assert (code, json.loads(text)["code"]) == (400, "STATEMENT_CREATING")  # the day is not over
    with time_machine.travel(datetime.now(UTC) + timedelta(days=1), tick=True):
        code, text = wxpay.trade_bill(bill_date=day.isoformat())
        assert code == 200
        bill = json.loads(text)
        assert bill["hash_type"] == "SHA1"
        assert bill["download_url"].startswith(f"{standin.base_url}/v3/billdownload/file?token=")
        code, data = wxpay.download_bill(bill["download_url"])
        assert code == 200
        raw = gzip.decompress(data)
        assert hashlib.sha1(raw).hexdigest() == bill["hash_value"]
        code, text = wxpay.trade_bill(bill_date=(day - timedelta(days=1)).isoformat())
        assert (code, json.loads(text)["code"]) == (400, "NO_STATEMENT_EXIST")
        # Without tar_type, the file comes as it is.
        asked = signed_request(
            standin, merchant, "GET", f"/v3/bill/tradebill?bill_date={day}&bill_type=SUCCESS"
        )
        plain = wxpay.download_bill(asked.json()["download_url"])[1].decode("utf-8")
        success_header, success_rows, _ = parse_tradebill(plain)

    header, rows, summary = parse_tradebill(raw.decode("utf-8"))
    assert header[:7] == [
        "交易时间",
        "公众账号ID",
        "商户号",
        "特约商户号",
        "设备号",
        "微信订单号",
        "商户订单号",
    ]
    assert len(header) == 27 and header[9] == "交易状态" and header[12] == "应结订单金额"
    assert raw.decode().splitlines()[1].startswith("`")
    by_state = [(r["商户订单号"], r["交易状态"], r["应结订单金额"], r["退款金额"]) for r in rows]
    assert by_state == [
        ("A101-202709", "SUCCESS", "250.24", "0.00"),
        ("A102-202709", "SUCCESS", "100.00", "0.00"),
        ("A102-202709", "REFUND", "0.00", "50.00"),
    ]
    assert rows[0]["微信订单号"] == first["transaction_id"] and rows[0]["交易时间"].startswith(
        day.isoformat()
    )
    assert rows[2]["商户退款单号"] == "R-A102-1" and rows[2]["申请退款金额"] == "50.00"
    assert (
        summary["总交易单数"],
        summary["应结订单总金额"],
        summary["退款总金额"],
        summary["订单总金额"],
    ) == (
        "3",
        "350.24",
        "50.00",
        "350.24",
    )
    assert len(success_header) == 20 and [r["交易状态"] for r in success_rows] == ["SUCCESS", "SUCCESS"]


# --- signatures -----------------------------------------------------------------------------------


def test_a_request_signed_with_another_key_is_refused(standin, merchant, receiver):
    impostor = merchant_keys()
    wrong_key = MerchantKeys(
        private_key=impostor.private_key, public_key=impostor.public_key, serial_no=merchant.serial_no
    )
    code, text = client(standin, wrong_key, notify_url=receiver.url).query(out_trade_no="A101-202701")
    assert (code, json.loads(text)["code"]) == (401, "SIGN_ERROR")
    code, text = client(standin, impostor, notify_url=receiver.url).query(out_trade_no="A101-202701")
    assert (code, json.loads(text)["code"]) == (401, "SIGN_ERROR")


def test_a_request_signed_too_long_ago_or_not_at_all_is_refused(standin, merchant, platform):
    target = f"/v3/pay/transactions/out-trade-no/NO-SUCH-ORDER?mchid={MCHID}"
    now = int(datetime.now(UTC).timestamp())
    stale = signed_request(standin, merchant, "GET", target, timestamp=now - 301)
    assert (stale.status_code, stale.json()["code"]) == (401, "SIGN_ERROR")
    recent = signed_request(standin, merchant, "GET", target, timestamp=now - 30)
    assert (recent.status_code, recent.json()["code"]) == (404, "ORDER_NOT_EXIST")
    bare = requests.get(standin.base_url + target, timeout=5)
    assert (bare.status_code, bare.json()["code"]) == (401, "SIGN_ERROR")
    # Errors are signed too; without a public key id in the request, with the certificate.
    assert bare.headers["Wechatpay-Serial"] == standin.certificate_serial
    message = f"{bare.headers['Wechatpay-Timestamp']}\n{bare.headers['Wechatpay-Nonce']}\n{bare.text}\n"
    assert rsa_verify(platform.certificate.public_key(), message, bare.headers["Wechatpay-Signature"])
    assert not rsa_verify(
        load_public_key(standin.public_key_pem), message, bare.headers["Wechatpay-Signature"]
    )


def test_an_answer_changed_after_signing_is_refused_by_the_sdk(standin, wxpay):
    standin.corrupt_next_answer()
    with pytest.raises(Exception, match="failed to verify the signature"):
        native(wxpay, "A101-202710")
    assert native(wxpay, "A101-202710")[0] == 200


def test_a_tampered_notification_is_refused_by_the_sdk(standin, wxpay, receiver):
    paid_order(wxpay, standin, "A101-202711")
    [delivery] = standin.deliveries
    headers, body = standin.tampered_notification(delivery, amount={"total": 1, "payer_total": 1})
    assert body != delivery.body
    assert wxpay.callback(headers, body) is None
    assert wxpay.callback(delivery.headers, delivery.body)["resource"]["amount"]["total"] == TOTAL


# --- delivery -------------------------------------------------------------------------------------


def test_a_notification_answered_500_is_retried_until_answered_204(standin, wxpay, receiver):
    receiver.statuses = [500, 500]
    _, order = native(wxpay, "A101-202712")
    _, delivery = standin.scan(order["code_url"])
    assert delivery.wait(3.0)
    received = receiver.wait_for(3)
    assert [a["status"] for a in delivery.attempts] == [500, 500, 204]
    assert len({body for _, body in received}) == 1  # the same notification ...
    assert len({h["Wechatpay-Nonce"] for h, _ in received}) == 3  # ... signed afresh each time
    assert all(wxpay.callback(h, b)["id"] == delivery.id for h, b in received)
    assert receiver.wait_for(4, timeout=0.1) == received  # and no more once delivered


def test_a_lost_notification_leaves_the_query_to_find_the_payment(standin, wxpay, receiver):
    _, order = native(wxpay, "A101-202713")
    standin.lose_next_notification()
    transaction, delivery = standin.scan(order["code_url"])
    assert delivery.lost and not delivery.attempts
    assert receiver.wait_for(1, timeout=0.05) == []
    _, found = query(wxpay, out_trade_no="A101-202713")
    assert (found["trade_state"], found["transaction_id"]) == ("SUCCESS", transaction["transaction_id"])


def test_a_notification_can_be_delivered_again_exactly(standin, wxpay, receiver):
    paid_order(wxpay, standin, "A101-202714")
    [delivery] = standin.deliveries
    assert standin.redeliver(delivery)[0] == 204
    first, second = receiver.wait_for(2)
    assert first[1] == second[1] and first[0]["Wechatpay-Signature"] == second[0]["Wechatpay-Signature"]
    assert wxpay.callback(*second)["id"] == delivery.id
    listed = requests.get(f"{standin.base_url}/_standin/deliveries", timeout=5).json()["deliveries"]
    assert [a["status"] for a in listed[0]["attempts"]] == [204, 204]


# --- certificate mode -----------------------------------------------------------------------------


def test_certificate_mode(merchant, platform, receiver, tmp_path: Path):
    standin = make_standin(merchant, platform, notification_signer="certificate")
    try:
        (tmp_path / f"{standin.certificate_serial}.pem").write_text(standin.certificate_pem)
        wxpay = client(standin, merchant, notify_url=receiver.url, cert_dir=tmp_path)
        code, text = wxpay.pay(description="物业费", out_trade_no="A101-202715", amount={"total": TOTAL})
        assert code == 200
        # Forget the certificate: the SDK downloads it from /v3/certificates and decrypts it.
        wxpay._core._certificates.clear()
        assert query(wxpay, out_trade_no="A101-202715")[0] == 200
        assert [c.serial_number for c in wxpay._core._certificates] == [platform.certificate.serial_number]

        standin.scan(json.loads(text)["code_url"])
        [(headers, body)] = receiver.wait_for(1)
        assert headers["Wechatpay-Serial"] == standin.certificate_serial
        assert wxpay.callback(headers, body)["resource"]["trade_state"] == "SUCCESS"
    finally:
        standin.shutdown()


def test_routes_the_product_does_not_use(standin, merchant):
    jsapi = signed_request(standin, merchant, "POST", "/v3/pay/transactions/jsapi", {"mchid": MCHID})
    assert (jsapi.status_code, jsapi.json()["code"]) == (403, "NO_AUTH")
    unknown = signed_request(standin, merchant, "GET", "/v3/merchant/unknown")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "NOT_FOUND")
    scanned = requests.post(
        f"{standin.base_url}/_standin/scan", json={"code_url": "weixin://wxpay/bizpayurl?pr=x"}, timeout=5
    )
    assert (scanned.status_code, scanned.json()["code"]) == (404, "ORDER_NOT_EXIST")
