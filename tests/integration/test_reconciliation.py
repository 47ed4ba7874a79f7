"""The daily reconciliation on moto, against the Alipay stand-in's real statement ZIP: a normal
day finds nothing; a lost notification, a payment of an order that is not ours and a payment we
have that Alipay doesn't each become an item for staff, counted for the alarm, once."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import time_machine

from api.handler import lambda_handler as api_handler
from infra.local.events import staff_claims
from payment_webhook.handler import lambda_handler as webhook_handler
from propdesk.payments.alipay import BEIJING
from propdesk.payments.port import ProviderPayment, Statement, StatementLine
from propdesk.services import rails
from propdesk.services.reconcile import compare
from propdesk.store.payments import PaymentRecord
from tests.alipay_rail_tools import alipay, started_order
from tests.alipay_tools import client as sdk_client
from tests.alipay_tools import page_pay_url
from tests.paytools import make_bill, pay_token, store_bill
from tests.route_events import LambdaContext, route_event

__all__ = ["alipay"]  # the fixture

CASHIER = staff_claims("cashier", sub="cashier-li")


def staff(key: str, **kwargs) -> tuple[int, dict]:
    answer = api_handler(route_event(key, claims=CASHIER, **kwargs), LambdaContext())
    return answer["statusCode"], json.loads(answer["body"])


def next_morning() -> datetime:
    """10:30 Beijing time tomorrow: the schedule's time."""
    tomorrow = datetime.now(UTC).astimezone(BEIJING).date() + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, 10, 30, tzinfo=BEIJING)


def run_reconciliation() -> dict:
    with time_machine.travel(next_morning(), tick=True):
        return webhook_handler({"action": "reconcile"}, LambdaContext())


def test_a_day_where_every_payment_was_recorded_finds_nothing(alipay, demo_config):
    for unit, owner in (("A-101", "O0001"), ("A-102", "O0002")):
        bill = store_bill(make_bill(unit, "2026-12", owner_id=owner))
        _, url = started_order(pay_token(bill))
        alipay.pay_url(url)
    result = run_reconciliation()
    days = result["alipay"]
    assert [day["state"] for day in days] == ["reconciled"] * 3
    assert all(day["differences"] == [] for day in days)
    assert staff("list_reconciliation") == (200, {"items": []})


def test_payments_29_each_difference_becomes_an_item_for_staff_once(alipay, demo_config):
    paid = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    lost = store_bill(make_bill("A-102", "2026-12", owner_id="O0002"))
    ours_only = store_bill(make_bill("A-103", "2026-12", owner_id="O0003"))
    # GIVEN a normal payment
    _, url = started_order(pay_token(paid))
    alipay.pay_url(url)
    # AND one whose notification never came (and no sweep ran before the day ended)
    lost_order, url = started_order(pay_token(lost))
    alipay.lose_next_notification()
    lost_trade = alipay.pay_url(url).trade
    # AND a payment of the same Alipay app for an order that is not ours
    sdk = sdk_client(alipay)
    foreign = alipay.pay_url(page_pay_url(sdk, "OTHERSYSTEM0001", total_amount="10.00")).trade
    # AND a payment we recorded that Alipay never had (reported by something that was not Alipay)
    fake_order, _ = started_order(pay_token(ours_only))
    rails.land(
        ProviderPayment(
            rail="alipay",
            order_id=fake_order,
            state="paid",
            amount_minor=ours_only.total_minor,
            currency="CNY",
            provider_payment_id="2026000000000000000000000000",
            method="alipay",
        ),
        config=demo_config,
        now=datetime.now(UTC),
    )
    # WHEN the next morning's reconciliation runs
    result = run_reconciliation()
    differences = [d for day in result["alipay"] for d in day["differences"]]
    # THEN each difference is found, and nothing else
    found = {(d["type"], d["order_id"]) for d in differences}
    assert found == {
        ("provider_only", lost_order),
        ("provider_only", "OTHERSYSTEM0001"),
        ("ours_only", fake_order),
    }
    lost_item = next(d for d in differences if d["order_id"] == lost_order)
    assert (lost_item["provider_minor"], lost_item["provider_payment_id"]) == (
        lost.total_minor,
        lost_trade["trade_no"],
    )
    assert next(d for d in differences if d["order_id"] == "OTHERSYSTEM0001")["provider_minor"] == 1000
    assert foreign["out_trade_no"] == "OTHERSYSTEM0001"
    # AND staff see them
    status, listed = staff("list_reconciliation")
    assert status == 200 and len(listed["items"]) == 3
    # WHEN it runs again (a double fire)
    again = run_reconciliation()
    # THEN nothing new
    assert [day["state"] for day in again["alipay"]] == ["reconciled_before"] * 3
    assert len(staff("list_reconciliation")[1]["items"]) == 3
    # WHEN a cashier resolves one, it leaves the list
    item = listed["items"][0]
    status, resolved = staff(
        "resolve_reconciliation",
        params={"reconciliation_id": item["reconciliation_id"], "line": str(item["line"])},
        body={"note": "landed by hand after checking the merchant platform"},
    )
    assert status == 200 and resolved["state"] == "resolved" and resolved["resolved_by"] == "cashier-li"
    assert len(staff("list_reconciliation")[1]["items"]) == 2


def test_yesterday_s_statement_not_ready_is_tried_again_by_the_next_run(alipay, demo_config):
    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    _, url = started_order(pay_token(bill))
    alipay.pay_url(url)
    alipay.bills.ready_after = timedelta(hours=20)  # Alipay is late with the statement today
    days = run_reconciliation()["alipay"]
    assert days[-1]["state"] == "not_ready" and days[-1]["differences"] == []
    alipay.bills.ready_after = timedelta(0)
    days = run_reconciliation()["alipay"]
    assert days[-1]["state"] == "reconciled" and days[-1]["differences"] == []


def _record(payment_id: str, amount: int) -> PaymentRecord:
    now = datetime.now(UTC)
    return PaymentRecord(
        payment_id=payment_id, unit_id="A-101", provider="alipay", method="alipay", channel="online",
        amount_minor=amount, currency="CNY", status="allocated", received_at=now, paid_at=now,
    )  # fmt: skip


def test_an_amount_that_differs_is_a_difference_and_partial_lines_of_one_order_add_up():
    now = datetime.now(UTC)
    statement = Statement(
        rail="alipay",
        day=now.date(),
        lines=(
            StatementLine("PD1", "T1", "payment", 1000, "CNY", now),
            StatementLine("PD2", "T2", "payment", 500, "CNY", now),
            StatementLine("PD2", "T2", "payment", 500, "CNY", now),
        ),
    )
    ours = [_record("alipay:PD1", 999), _record("alipay:PD2", 1000)]
    [difference] = compare("alipay", statement, ours, {})
    assert (difference.type, difference.payment_id, difference.provider_minor, difference.ours_minor) == (
        "amount_differs",
        "alipay:PD1",
        1000,
        999,
    )


def test_stripe_s_charges_of_the_day_are_reconciled_too(aws, stripe_config, monkeypatch):
    """Stripe's statement is the day's charges (UTC), keyed by payment intent like our payments
    (on a property that offers Stripe)."""
    from ops_support import import_demo_units

    from propdesk import naming

    demo_config = stripe_config
    monkeypatch.setenv(naming.PROPERTY_CONFIG_ENV, stripe_config.to_env_json())

    from propdesk.settings import get_settings
    from tests.refundtools import StripeWorld
    from tests.stripe_standin_tools import api_post, sdk_body
    from tests.testkeys import TEST_STRIPE_KEY

    import_demo_units(demo_config, 3)
    world = StripeWorld()
    monkeypatch.setenv("STRIPE_API_BASE", world.base_url)
    get_settings.cache_clear()
    try:
        recorded = world.pay(store_bill(make_bill("A-101", "2026-12", owner_id="O0001")))
        # a charge whose event never reached us: paid at Stripe, not recorded here
        params = {
            "mode": "payment",
            "success_url": "https://pay.example.test/pay/tok/return",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {"currency": "cny", "unit_amount": 5000, "product_data": {"name": "Fee"}},
                }
            ],
        }
        _, _, session = api_post(
            world.standin, "/v1/checkout/sessions", sdk_body(params), key=TEST_STRIPE_KEY
        )
        lost = world.standin.checkout.pay(session["id"])[0]["payment_intent"]
        tomorrow = datetime.now(UTC).date() + timedelta(days=1)
        with time_machine.travel(
            datetime(tomorrow.year, tomorrow.month, tomorrow.day, 2, 30, tzinfo=UTC), tick=True
        ):
            result = webhook_handler({"action": "reconcile"}, LambdaContext())
    finally:
        world.close()
    differences = [d for day in result["stripe"] for d in day["differences"]]
    assert [(d["type"], d["payment_id"]) for d in differences] == [("provider_only", f"stripe:{lost}")]
    assert recorded != lost


def test_a_refund_the_provider_made_and_we_did_not_post_is_a_difference():
    """The provider's refund lines against our payments' refunded totals (any day's)."""
    now = datetime.now(UTC)
    statement = Statement(
        rail="wechat_pay",
        day=now.date(),
        lines=(
            StatementLine("PD1", "T1", "refund", 300, "CNY", now),  # posted: nothing to say
            StatementLine("PD2", "T2", "refund", 200, "CNY", now),  # two refunds of one order
            StatementLine("PD2", "T2", "refund", 100, "CNY", now),
            StatementLine("PD9", "T9", "refund", 50, "CNY", now),  # an order we never had
        ),
    )
    posted = replace(_record("wechat_pay:PD1", 1000), refunded_minor=300)
    half = replace(_record("wechat_pay:PD2", 1000), refunded_minor=200)  # the second confirmation lost
    found = compare("wechat_pay", statement, [], {"wechat_pay:PD1": posted, "wechat_pay:PD2": half})
    assert [(d.type, d.payment_id, d.provider_minor, d.ours_minor) for d in found] == [
        ("refund_not_posted", "wechat_pay:PD2", 300, 200),
        ("refund_unknown", "wechat_pay:PD9", 50, None),
    ]
    # once the lost confirmation is posted, the same statement says nothing more of PD2
    settled = {"wechat_pay:PD1": posted, "wechat_pay:PD2": replace(half, refunded_minor=300)}
    assert [d.type for d in compare("wechat_pay", statement, [], settled)] == ["refund_unknown"]
