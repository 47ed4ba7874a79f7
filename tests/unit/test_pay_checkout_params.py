"""The Checkout Session request built for a bill."""

from dataclasses import replace
from datetime import UTC, datetime

from propdesk.payments.stripe_provider import session_params
from propdesk.services.checkout import checkout_request
from tests.paytools import make_bill

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def checkout_params(bills, *, config, now, page_url, locale):
    """The Checkout Session request Stripe's adapter makes for what the account page asks."""
    request = checkout_request(bills, config=config, now=now, page_url=page_url, locale=locale)
    return session_params(
        request, property_id=config.property_id, methods=config.payment.payment_method_types
    )


def test_params_carry_lines_metadata_expiry_and_urls(stripe_config):
    # A CNY property that takes Alipay and WeChat Pay through Stripe's Checkout (where Stripe serves it)
    bill = make_bill()
    params = checkout_params(
        bill,
        config=stripe_config,
        now=NOW,
        page_url="https://pay.example.test/pay/abc.def",
        locale="zh-CN",
    )
    assert params["mode"] == "payment"
    assert [item["price_data"]["unit_amount"] for item in params["line_items"]] == [25024, 2681, 4022, 1000]
    assert (
        sum(item["price_data"]["unit_amount"] * item["quantity"] for item in params["line_items"])
        == bill.total_minor
    )
    assert {item["price_data"]["currency"] for item in params["line_items"]} == {"cny"}
    assert params["line_items"][0]["price_data"]["product_data"]["name"] == "物业服务费 · 2026-03"
    assert params["metadata"] == {"property_id": "demo", "unit_id": "A-101", "bill_ids": "A-101#2026-03"}
    assert params["payment_intent_data"]["metadata"] == params["metadata"]
    assert params["client_reference_id"] == "A-101#2026-03"
    assert params["expires_at"] == int(NOW.timestamp()) + 61 * 60  # configured hour + margin
    assert params["payment_method_types"] == ["card", "alipay", "wechat_pay"]
    assert params["payment_method_options"] == {"wechat_pay": {"client": "web"}}
    assert (
        params["success_url"]
        == "https://pay.example.test/pay/abc.def/return?session_id={CHECKOUT_SESSION_ID}"
    )
    assert params["cancel_url"] == "https://pay.example.test/pay/abc.def"
    assert params["locale"] == "zh"


def test_zero_amount_lines_are_left_out(demo_config):
    bill = make_bill()
    lines = (*bill.lines[:3], replace(bill.lines[3], amount_minor=0))
    bill = replace(bill, lines=lines, total_minor=sum(line.amount_minor for line in lines))
    params = checkout_params(bill, config=demo_config, now=NOW, page_url="https://x/pay/t.k", locale="en")
    assert len(params["line_items"]) == 3


def test_partly_paid_bill_charges_the_outstanding_amount(demo_config):
    bill = replace(make_bill(), paid_minor=10000)
    params = checkout_params(bill, config=demo_config, now=NOW, page_url="https://x/pay/t.k", locale="en")
    assert [item["price_data"]["unit_amount"] for item in params["line_items"]] == [bill.total_minor - 10000]


def test_expiry_stays_within_stripe_s_window_at_both_ends():
    from propdesk.services.checkout import checkout_expires_at

    # Stripe counts from its own creation time, a moment after NOW: 30 minutes must not fall short
    created = NOW.timestamp() + 2
    assert checkout_expires_at(NOW, 30) - created >= 30 * 60
    # and 24 hours must not run over
    assert checkout_expires_at(NOW, 1440) - NOW.timestamp() <= 24 * 3600
