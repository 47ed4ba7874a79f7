"""The Alipay stand-in on a loopback port, driven by the real ``python-alipay-sdk``: page and WAP
pay through the cashier, the signed notification and sync return verified with ``AliPay.verify``,
query, close, refund, the statement, and the gateway's refusals."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import requests
import time_machine
from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError

from infra.local.alipay import ALIPAY_RETRY_SCHEDULE_S, AlipayStandIn
from infra.local.alipay.trades import SHANGHAI
from tests.alipay_tools import (
    APP_ID,
    NotifyEndpoint,
    app_keys,
    client,
    make_standin,
    other_app_keys,
    page_pay_url,
    query_params,
    read_statement,
    retry_scale,
    verified,
    wait_for,
)

TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@pytest.fixture
def endpoint() -> Iterator[NotifyEndpoint]:  # a fresh notify_url per test
    endpoint = NotifyEndpoint()
    yield endpoint
    endpoint.close()


@pytest.fixture(scope="module")
def standin() -> Iterator[AlipayStandIn]:
    # One stand-in for the module (each test has order numbers of its own): a served stand-in
    # takes half a second to shut down.
    standin = make_standin()
    yield standin
    standin.shutdown()


@pytest.fixture(scope="module")
def alipay(standin: AlipayStandIn) -> AliPay:
    return client(standin)


def open_and_pay(
    standin: AlipayStandIn, alipay: AliPay, out_trade_no: str, notify_url: str, amount: str = "349.38"
):
    requests.get(
        page_pay_url(alipay, out_trade_no, amount, notify_url=notify_url), timeout=5
    ).raise_for_status()
    return standin.pay(out_trade_no)


def test_page_pay_cashier_pay_button_notification_and_sync_return(standin, alipay, endpoint):
    url = page_pay_url(
        alipay, "PD2026120001", "349.38", notify_url=endpoint.url, passback_params="bill%3DA-101"
    )
    assert url.startswith(standin.base_url + "/gateway.do?")

    page = requests.get(url, timeout=5)  # the owner's browser: redirected to the cashier
    assert page.status_code == 200 and "/cashier/" in page.url
    assert "物业费 A-101 2026年12月" in page.text and "¥349.38" in page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)

    paid = requests.post(standin.base_url + action, allow_redirects=False, timeout=5)  # the Pay button
    assert paid.status_code == 303
    back = paid.headers["Location"]
    assert back.startswith("http://127.0.0.1:9/pay/return?")
    sync = query_params(back)
    assert sync["method"] == "alipay.trade.page.pay.return"
    assert sync["out_trade_no"] == "PD2026120001" and sync["total_amount"] == "349.38"
    assert sync["app_id"] == APP_ID and sync["seller_id"] == standin.seller_id
    assert verified(alipay, sync)

    assert endpoint.wait(1)
    note = endpoint.received[0]
    assert note.headers["content-type"] == "application/x-www-form-urlencoded; charset=utf-8"
    params = note.params
    assert params["notify_type"] == "trade_status_sync" and params["trade_status"] == "TRADE_SUCCESS"
    assert params["app_id"] == APP_ID and params["out_trade_no"] == "PD2026120001"
    assert params["total_amount"] == params["receipt_amount"] == "349.38"
    assert params["subject"] == "物业费 A-101 2026年12月"
    assert params["passback_params"] == "bill%3DA-101"
    assert params["charset"] == "utf-8" and params["version"] == "1.0" and params["sign_type"] == "RSA2"
    assert params["fund_bill_list"] == '[{"amount":"349.38","fundChannel":"ALIPAYACCOUNT"}]'
    assert re.fullmatch(r"\d{8}22001\d{15}", params["trade_no"])  # 28 digits
    assert params["trade_no"].startswith(datetime.now(SHANGHAI).strftime("%Y%m%d"))
    assert params["trade_no"] == sync["trade_no"]
    assert re.fullmatch(r"2088\d{12}", params["buyer_id"])
    assert TIME.match(params["gmt_payment"]) and TIME.match(params["notify_time"])
    assert verified(alipay, params)
    (delivery,) = [d for d in standin.deliveries if d.out_trade_no == "PD2026120001"]
    assert delivery.delivered and len(delivery.attempts) == 1 and delivery.body == note.body


def test_wap_pay_takes_quick_wap_way_only(standin, alipay, endpoint):
    def wap_url(out_trade_no: str, **kwargs: str) -> str:
        order = alipay.api_alipay_trade_wap_pay(
            subject="物业费 B-202",
            out_trade_no=out_trade_no,
            total_amount="88.00",
            return_url="http://127.0.0.1:9/pay/return",
            notify_url=endpoint.url,
            quit_url="http://127.0.0.1:9/pay/quit",
            **kwargs,
        )
        return alipay._gateway + "?" + order

    # python-alipay-sdk's own default product_code is "QUICK_WAP_PAY"; Alipay's is QUICK_WAP_WAY.
    refused = requests.get(wap_url("PDWAP0001"), timeout=5)
    assert "ACQ.INVALID_PARAMETER" in refused.text and "QUICK_WAP_WAY" in refused.text
    assert "/cashier/" not in refused.url

    page = requests.get(wap_url("PDWAP0002", product_code="QUICK_WAP_WAY"), timeout=5)
    assert (
        "手机网站支付" in page.text and "http://127.0.0.1:9/pay/quit" in page.text and "¥88.00" in page.text
    )

    answer = requests.post(standin.base_url + "/_standin/pay", json={"out_trade_no": "PDWAP0002"}, timeout=5)
    assert answer.status_code == 200
    body = answer.json()
    assert body["trade"]["trade_status"] == "TRADE_SUCCESS"
    assert query_params(body["return_url"])["method"] == "alipay.trade.wap.pay.return"
    assert body["notification"]["delivered"] is True
    assert endpoint.wait(1) and verified(alipay, endpoint.received[0].params)

    unknown = requests.post(
        standin.base_url + "/_standin/pay", json={"out_trade_no": "NEVEROPENED"}, timeout=5
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["sub_code"] == "ACQ.TRADE_NOT_EXIST"


def test_query_before_opening_before_paying_and_after(standin, alipay, endpoint):
    url = page_pay_url(alipay, "PDQUERY001", "120.50", notify_url=endpoint.url)
    # Alipay creates the trade when the buyer reaches the cashier, not when the URL is signed.
    before = alipay.api_alipay_trade_query(out_trade_no="PDQUERY001")
    assert before["code"] == "40004" and before["sub_code"] == "ACQ.TRADE_NOT_EXIST"

    requests.get(url, timeout=5).raise_for_status()
    waiting = alipay.api_alipay_trade_query(out_trade_no="PDQUERY001")
    assert waiting["code"] == "10000" and waiting["trade_status"] == "WAIT_BUYER_PAY"
    assert waiting["total_amount"] == "120.50" and "send_pay_date" not in waiting

    standin.pay("PDQUERY001")
    paid = alipay.api_alipay_trade_query(out_trade_no="PDQUERY001")
    assert paid["trade_status"] == "TRADE_SUCCESS" and paid["total_amount"] == "120.50"
    assert paid["trade_no"] == waiting["trade_no"] and TIME.match(paid["send_pay_date"])
    by_trade_no = alipay.api_alipay_trade_query(trade_no=paid["trade_no"])
    assert by_trade_no["out_trade_no"] == "PDQUERY001" and by_trade_no["trade_status"] == "TRADE_SUCCESS"


def test_close_an_unpaid_trade_and_not_a_paid_one(standin, alipay, endpoint):
    requests.get(page_pay_url(alipay, "PDCLOSE001", notify_url=endpoint.url), timeout=5).raise_for_status()
    closed = alipay.api_alipay_trade_close(out_trade_no="PDCLOSE001")
    assert closed["code"] == "10000" and closed["out_trade_no"] == "PDCLOSE001"
    assert alipay.api_alipay_trade_query(out_trade_no="PDCLOSE001")["trade_status"] == "TRADE_CLOSED"
    assert endpoint.wait(1)
    assert endpoint.received[0].params["trade_status"] == "TRADE_CLOSED" and verified(
        alipay, endpoint.received[0].params
    )
    cannot = requests.post(standin.base_url + "/_standin/pay", json={"out_trade_no": "PDCLOSE001"}, timeout=5)
    assert cannot.status_code == 409 and cannot.json()["error"]["sub_code"] == "ACQ.TRADE_STATUS_ERROR"
    reopened = requests.get(page_pay_url(alipay, "PDCLOSE001", notify_url=endpoint.url), timeout=5)
    assert "TRADE_HAS_CLOSE" in reopened.text

    open_and_pay(standin, alipay, "PDCLOSE002", endpoint.url)
    refused = alipay.api_alipay_trade_close(out_trade_no="PDCLOSE002")
    assert refused["code"] == "40004" and refused["sub_code"] == "ACQ.TRADE_STATUS_ERROR"
    never = alipay.api_alipay_trade_close(out_trade_no="PDNEVER001")
    assert never["sub_code"] == "ACQ.TRADE_NOT_EXIST"


def test_an_out_trade_no_keeps_its_amount_and_amounts_are_checked(standin, alipay):
    first = requests.get(page_pay_url(alipay, "PDDUP0001", "349.38"), allow_redirects=False, timeout=5)
    again = requests.get(page_pay_url(alipay, "PDDUP0001", "349.38"), allow_redirects=False, timeout=5)
    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]  # the same trade, opened again

    changed = requests.get(page_pay_url(alipay, "PDDUP0001", "349.39"), timeout=5)
    assert changed.status_code == 200 and "CONTEXT_INCONSISTENT" in changed.text
    assert changed.headers["X-Alipay-Sub-Code"] == "ACQ.CONTEXT_INCONSISTENT"
    assert alipay.api_alipay_trade_query(out_trade_no="PDDUP0001")["total_amount"] == "349.38"

    for amount, sub_code in [
        ("349.3", "ACQ.INVALID_PARAMETER"),
        ("0.00", "ACQ.INVALID_PARAMETER"),
        (349.38, "ACQ.INVALID_PARAMETER"),
        ("100000000.00", None),
        ("100000000.01", "ACQ.TOTAL_FEE_EXCEED"),
    ]:
        answer = requests.get(
            page_pay_url(alipay, f"PDAMT{len(str(amount))}{sub_code is None}", amount), timeout=5
        )
        if sub_code is None:
            assert "/cashier/" in answer.url, amount
        else:
            assert answer.headers.get("X-Alipay-Sub-Code") == sub_code, amount


def test_refund_is_idempotent_by_out_request_no_and_capped(standin, alipay, endpoint):
    open_and_pay(standin, alipay, "PDREFUND01", endpoint.url)

    first = alipay.api_alipay_trade_refund("100.00", out_trade_no="PDREFUND01", out_request_no="RF001")
    assert first["code"] == "10000" and first["fund_change"] == "Y" and first["refund_fee"] == "100.00"
    repeat = alipay.api_alipay_trade_refund("100.00", out_trade_no="PDREFUND01", out_request_no="RF001")
    assert repeat["fund_change"] == "N" and repeat["refund_fee"] == "100.00"  # not refunded twice

    too_much = alipay.api_alipay_trade_refund("249.39", out_trade_no="PDREFUND01", out_request_no="RF002")
    assert too_much["code"] == "40004" and too_much["sub_code"] == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"

    found = alipay.api_alipay_trade_fastpay_refund_query("RF001", out_trade_no="PDREFUND01")
    assert found["refund_status"] == "REFUND_SUCCESS" and found["refund_amount"] == "100.00"
    unknown = alipay.api_alipay_trade_fastpay_refund_query("RF002", out_trade_no="PDREFUND01")
    assert unknown == {"code": "10000", "msg": "Success"}  # Alipay's way of saying "not refunded"

    rest = alipay.api_alipay_trade_refund("249.38", out_trade_no="PDREFUND01", out_request_no="RF002")
    assert rest["fund_change"] == "Y" and rest["refund_fee"] == "349.38"
    assert alipay.api_alipay_trade_query(out_trade_no="PDREFUND01")["trade_status"] == "TRADE_CLOSED"

    # Each refund is notified: a partial one as TRADE_SUCCESS with refund_fee, the last as TRADE_CLOSED.
    assert endpoint.wait(3)
    refunds = sorted((r.params for r in endpoint.received[1:]), key=lambda p: p["refund_fee"])
    assert [(p["trade_status"], p["refund_fee"], p["out_biz_no"]) for p in refunds] == [
        ("TRADE_SUCCESS", "100.00", "RF001"),
        ("TRADE_CLOSED", "349.38", "RF002"),
    ]
    assert all(verified(alipay, p) and re.fullmatch(r"[\d: -]{19}\.\d{3}", p["gmt_refund"]) for p in refunds)


def test_statement_download_is_a_zip_of_gbk_csv(standin, alipay):
    day = datetime(2025, 6, 16, 12, 0, tzinfo=SHANGHAI)  # no other test pays on that day
    bill = {"bill_type": "trade", "bill_date": "2025-06-16"}
    with time_machine.travel(day, tick=True):
        open_and_pay(standin, alipay, "PDBILL0001", "", "349.38")
        open_and_pay(standin, alipay, "PDBILL0002", "", "50.00")
        alipay.api_alipay_trade_refund("20.00", out_trade_no="PDBILL0002", out_request_no="RFBILL01")
        requests.get(page_pay_url(alipay, "PDBILL0003", "10.00"), timeout=5)  # opened, never paid
    with time_machine.travel(day + timedelta(hours=20), tick=True):  # 08:00 the next day
        early = alipay.server_api("alipay.data.dataservice.bill.downloadurl.query", dict(bill))
        assert early["code"] == "40004" and early["sub_code"] == "isp.bill_not_exist"
    with time_machine.travel(day + timedelta(hours=22), tick=True):  # 10:00 the next day
        answer = alipay.server_api("alipay.data.dataservice.bill.downloadurl.query", dict(bill))
        empty = alipay.server_api(
            "alipay.data.dataservice.bill.downloadurl.query",
            {"bill_type": "trade", "bill_date": "2025-06-15"},
        )
        download = requests.get(answer["bill_download_url"], timeout=5)
    assert answer["code"] == "10000"
    assert empty["code"] == "40004" and empty["sub_code"] == "isp.bill_not_exist"
    assert download.status_code == 200

    account = standin.seller_id + "0156"
    statement = read_statement(download.content)
    assert sorted(statement.names) == [
        f"{account}_20250616_业务明细(汇总).csv",
        f"{account}_20250616_业务明细.csv",
    ]
    lines = statement.detail_lines
    assert lines[:2] == ["#支付宝业务明细查询", f"#账号：[{account}]"]
    assert lines[4].startswith("支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,")
    assert "订单金额（元）,商家实收（元）," in lines[4]
    assert [
        (r["商户订单号"], r["业务类型"], r["订单金额（元）"], r["商家实收（元）"]) for r in statement.rows
    ] == [
        ("PDBILL0001", "交易", "349.38", "349.38"),
        ("PDBILL0002", "交易", "50.00", "50.00"),
        ("PDBILL0002", "退款", "-20.00", "-20.00"),
    ]
    assert statement.rows[2]["退款批次号/请求号"] == "RFBILL01"
    assert statement.rows[0]["服务费（元）"] == "-2.10"  # 0.6% of 349.38, half up
    assert re.fullmatch(r"\d{28}", statement.rows[0]["支付宝交易号"])
    assert (
        "#-----------------------------------------业务明细列表结束------------------------------------"
        in lines
    )
    assert "#交易合计：2笔，商家实收共399.38元，商家优惠共0.00元" in lines
    assert "#退款合计：1笔，商家实收退款共-20.00元，商家优惠退款共0.00元" in lines

    with time_machine.travel(day + timedelta(hours=22, seconds=45), tick=True):  # the link lasts 30 s
        assert requests.get(answer["bill_download_url"], timeout=5).status_code == 403


def test_gateway_refuses_a_wrong_signature_and_an_unknown_app(standin, alipay):
    forger = client(standin, keys=other_app_keys())
    with pytest.raises(AliPayException) as refused:
        forger.api_alipay_trade_query(out_trade_no="PDANY00001")
    text = str(refused.value)
    assert (
        "code:40002" in text and '"sub_code":"isv.invalid-signature"' in text and "Invalid Arguments" in text
    )

    page = requests.get(page_pay_url(forger, "PDANY00002"), timeout=5)
    assert "invalid-signature" in page.text and "/cashier/" not in page.url

    # A correctly signed URL whose amount is changed on the way is a bad signature too.
    url = page_pay_url(alipay, "PDANY00003", "349.38")
    tampered = requests.get(url.replace("349.38", "3.49"), timeout=5)
    assert tampered.headers["X-Alipay-Sub-Code"] == "isv.invalid-signature"

    stranger = client(standin, app_id="2021000000009999")
    with pytest.raises(AliPayException) as unknown:
        stranger.api_alipay_trade_query(out_trade_no="PDANY00001")
    assert '"sub_code":"isv.invalid-app-id"' in str(unknown.value)


def test_answers_are_signed_by_alipay(standin, alipay):
    assert alipay.api_alipay_trade_query(out_trade_no="PDSIGNED01")["code"] == "40004"  # signed: returned
    # A client holding another "Alipay public key" rejects the stand-in's signed answers.
    wrong = AliPay(
        appid=APP_ID,
        app_private_key_string=app_keys().private_pem,
        alipay_public_key_string=other_app_keys().public_pem,
    )
    wrong._gateway = standin.gateway_url
    with pytest.raises(AliPayValidationError):
        wrong.api_alipay_trade_query(out_trade_no="PDSIGNED01")


def test_a_tampered_notification_fails_verify(standin, alipay, endpoint):
    delivery = open_and_pay(standin, alipay, "PDTAMPER01", endpoint.url).delivery
    assert verified(alipay, delivery.params)
    assert not verified(alipay, standin.tampered_notification(delivery, total_amount="0.01"))
    assert not verified(alipay, standin.tampered_notification(delivery, out_trade_no="PDTAMPER02"))


def test_a_notification_is_resent_on_alipays_schedule_until_answered_success(standin, alipay):
    scale = 0.00005  # 4 min -> 12 ms, 10 min -> 30 ms, 1 h -> 180 ms
    endpoint = NotifyEndpoint([(200, "fail"), (500, "success"), (200, "success\n"), (200, "SUCCESS")])
    try:
        with retry_scale(standin, scale):
            delivery = open_and_pay(standin, alipay, "PDRETRY001", endpoint.url).delivery
            assert endpoint.wait(5, timeout=3)
            assert wait_for(lambda: delivery.delivered)  # recorded once the answer is read
            gaps = [b.at - a.at for a, b in zip(endpoint.received, endpoint.received[1:], strict=False)]
            assert all(
                gap >= delay * scale * 0.9 for gap, delay in zip(gaps, ALIPAY_RETRY_SCHEDULE_S, strict=False)
            )
            assert len({r.body for r in endpoint.received}) == 1  # every attempt is the same notification
            # Answered "success": the resending thread ends, with no attempt after it.
            assert wait_for(
                lambda: not any(t.name.endswith(delivery.notify_id) for t in threading.enumerate())
            )
            assert len(endpoint.received) == len(delivery.attempts) == 5
    finally:
        endpoint.close()


def test_a_notification_never_answered_success_is_sent_eight_times(standin, alipay):
    endpoint = NotifyEndpoint([(200, "fail")] * 20)
    try:
        with retry_scale(standin, 0.000002):  # the 7 resends within 0.2 s
            delivery = open_and_pay(standin, alipay, "PDRETRY002", endpoint.url).delivery
            assert wait_for(
                lambda: not any(t.name.endswith(delivery.notify_id) for t in threading.enumerate())
            )
        assert len(endpoint.received) == len(delivery.attempts) == 8 and not delivery.delivered
    finally:
        endpoint.close()


def test_a_lost_notification_leaves_the_trade_paid_for_the_query(standin, alipay, endpoint):
    standin.lose_next_notification()
    delivery = open_and_pay(standin, alipay, "PDLOST0001", endpoint.url).delivery
    assert delivery.lost and delivery.attempts == [] and endpoint.received == []
    assert alipay.api_alipay_trade_query(out_trade_no="PDLOST0001")["trade_status"] == "TRADE_SUCCESS"

    assert standin.redeliver(delivery) and standin.redeliver(delivery)  # replayed, twice
    assert (
        len(endpoint.received) == 2
        and endpoint.received[0].body == endpoint.received[1].body == delivery.body
    )
    assert verified(alipay, endpoint.received[0].params)


def test_an_unpaid_trade_closes_when_its_time_is_up(standin, alipay, endpoint):
    start = datetime.now(SHANGHAI)
    with time_machine.travel(start, tick=True):
        url = page_pay_url(alipay, "PDEXPIRE01", notify_url=endpoint.url, timeout_express="15m")
        requests.get(url, timeout=5).raise_for_status()
    with time_machine.travel(start + timedelta(minutes=16), tick=True):
        assert alipay.api_alipay_trade_query(out_trade_no="PDEXPIRE01")["trade_status"] == "TRADE_CLOSED"
        assert endpoint.wait(1) and endpoint.received[0].params["trade_status"] == "TRADE_CLOSED"
    late = requests.get(page_pay_url(alipay, "PDEXPIRE02", time_expire="2020-01-01 00:00:00"), timeout=5)
    assert late.headers["X-Alipay-Sub-Code"] == "ACQ.TRADE_HAS_CLOSE"
