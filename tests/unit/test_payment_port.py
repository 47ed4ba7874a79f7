"""The payment-provider port's pure parts: exact yuan/fen conversion, the device a browser is,
what an order request must be, the WeChat Pay secret, and WeChat Pay's trade statement."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from propdesk.payments.port import PaymentRequest, PaymentStart, device_of, minor_to_yuan, yuan_to_minor
from propdesk.payments.wechatpay import WeChatPayKeys, parse_tradebill
from propdesk.settings import ConfigurationMissing


@given(st.integers(min_value=0, max_value=10**13))
def test_fen_to_yuan_and_back_is_exact(fen):
    text = minor_to_yuan(fen)
    assert yuan_to_minor(text) == fen
    assert text.count(".") == 1 and len(text.split(".")[1]) == 2


@pytest.mark.parametrize("text", ["349.3", "349", "-1.00", "1e3", "0349.38", "349.380", "", "3 49.38"])
def test_a_yuan_amount_not_written_with_two_decimals_is_refused(text):
    with pytest.raises(ValueError):
        yuan_to_minor(text)


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148", "phone"),
        ("Mozilla/5.0 (Linux; Android 15; Pixel 9) Mobile Safari/537.36", "phone"),
        ("Mozilla/5.0 (Linux; Android 14) MicroMessenger/8.0.50", "phone"),
        ("Mozilla/5.0 (iPad; CPU OS 18_0 like Mac OS X) Mobile/15E148", "desktop"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0", "desktop"),
        (None, "desktop"),
    ],
)
def test_the_device_is_told_by_the_browser(agent, device):
    assert device_of(agent) == device


def _request(**changes):
    fields = {
        "order_id": "PD261217090000ABCDEF0123",
        "amount_minor": 34938,
        "currency": "CNY",
        "description": "x",
        "unit_id": "A-101",
        "bill_ids": ("A-101#2026-12",),
        "expires_at": datetime(2026, 12, 17, 2, 30, tzinfo=UTC),
        "notify_url": "https://x.test/n",
        "return_url": "https://x.test/r",
    }
    return PaymentRequest(**{**fields, **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {"order_id": "PD-2612"},
        {"order_id": "x" * 33},
        {"amount_minor": 0},
        {"amount_minor": 12.5},
        {"amount_minor": True},
        {"expires_at": datetime(2026, 12, 17, 2, 30)},
    ],
)
def test_an_order_request_is_refused_when_it_is_not_one_a_provider_takes(changes):
    with pytest.raises(ValueError):
        _request(**changes)
    assert _request().amount_minor == 34938


def test_a_start_is_a_redirect_or_a_qr_code_never_neither():
    assert PaymentStart("PD2612170900", "qr", qr_text="weixin://x").qr_text
    with pytest.raises(ValueError):
        PaymentStart("PD2612170900", "qr", redirect_url="https://x")
    with pytest.raises(ValueError):
        PaymentStart("PD2612170900", "redirect")


SECRET = {
    "mchid": "1900000109",
    "appid": "wxd678efh567hg6787",
    "private_key": "-----BEGIN PRIVATE KEY-----\n...",
    "cert_serial_no": "444F4864EA9B34415",
    "apiv3_key": "a" * 32,
    "public_key": "-----BEGIN PUBLIC KEY-----\n...",
    "public_key_id": "PUB_KEY_ID_0114",
}


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"mchid": ""}, "mchid"),
        ({"apiv3_key": "short"}, "32"),
        ({"public_key_id": ""}, "go together"),
    ],
)
def test_the_wechatpay_secret_is_refused_with_what_is_wrong(changes, problem):
    with pytest.raises(ConfigurationMissing, match=problem):
        WeChatPayKeys.from_secret({**SECRET, **changes})
    assert WeChatPayKeys.from_secret(SECRET).public_key_id == "PUB_KEY_ID_0114"


TRADEBILL = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
    "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
    "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\n"
    "`2026-12-17 10:01:02,`wxd678efh567hg6787,`1900000109,`0,`,`4200002626202612170000000001,"
    "`PD261217020000ABCDEF0123,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`NATIVE,`SUCCESS,`OTHERS,`CNY,`349.38,`0.00,"
    "`0,`0,`0.00,`0.00,`,`,`锦绣花园 A-101 物业费,`A-101,`2.10000,`0.60%,`349.38,`0.00,`\n"
    "`2026-12-17 11:00:00,`wxd678efh567hg6787,`1900000109,`0,`,`4200002626202612170000000002,"
    "`PD261217030000ABCDEF0456,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`NATIVE,`REFUND,`OTHERS,`CNY,`0.00,`0.00,"
    "`50300000002026121700000000001,`rfPD1,`100.00,`0.00,`ORIGINAL,`SUCCESS,`x,`,`0.00000,`0.60%,`0.00,`100.00,`\n"
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n"
    "`2,`349.38,`100.00,`0.00,`2.10000,`349.38,`100.00\n"
)


def test_wechat_pay_s_trade_statement_is_read_line_by_line_in_fen_and_utc():
    payment, refund = parse_tradebill(TRADEBILL)
    assert (payment.order_id, payment.kind, payment.amount_minor) == (
        "PD261217020000ABCDEF0123",
        "payment",
        34938,
    )
    assert payment.provider_payment_id == "4200002626202612170000000001"
    assert payment.at == datetime(2026, 12, 17, 2, 1, 2, tzinfo=UTC)  # 10:01:02 Beijing time
    assert (refund.kind, refund.amount_minor) == ("refund", 10000)


def test_a_file_that_is_not_a_trade_statement_is_refused():
    with pytest.raises(ValueError, match="not a WeChat Pay trade statement"):
        parse_tradebill("date,amount\n2026-12-17,1.00\n")
