"""The order rails' service on moto (``services.rails``), with a provider that plays back what a
provider would report (the real WeChat Pay and Alipay adapters are tested against their
stand-ins): orders are written before the owner leaves, a paid order lands once whatever the
notifications and queries do, an amount that differs never lands as asked, and the active query
finds what was never notified and closes what was never paid."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from ops_support import import_demo_units

from propdesk.payments.port import (
    ORDER_ID,
    PaymentRequest,
    PaymentStart,
    ProviderPayment,
    ProviderRefused,
    ProviderUnavailable,
)
from propdesk.services import rails
from propdesk.store.accounts import AccountStore
from propdesk.store.bills import BillRepository
from propdesk.store.orders import OrderRepository
from propdesk.store.payments import PaymentRepository
from tests.paytools import make_bill, store_bill

NOW = datetime(2026, 12, 17, 2, 0, tzinfo=UTC)


@dataclass
class PlayedBack:
    """A provider whose answers the test sets: what it reports of each order."""

    rail: str = "wechat_pay"
    reports: dict[str, ProviderPayment] = field(default_factory=dict)
    started: list[PaymentRequest] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    refuse_close: bool = False
    down: bool = False

    def start(self, request: PaymentRequest) -> PaymentStart:
        # The order is in the table before the owner is sent anywhere.
        assert OrderRepository().get(request.order_id) is not None
        self.started.append(request)
        return PaymentStart(
            order_id=request.order_id, kind="qr", qr_text=f"weixin://wxpay/bizpayurl?pr={request.order_id}"
        )

    def query(self, order_id: str) -> ProviderPayment | None:
        if self.down:
            raise ProviderUnavailable("timeout")
        return self.reports.get(order_id)

    def close(self, order_id: str) -> None:
        if self.refuse_close:
            raise ProviderRefused("ORDERPAID", "paid")
        self.closed.append(order_id)

    def paid(
        self, request: PaymentRequest, *, amount: int | None = None, currency: str = "CNY"
    ) -> ProviderPayment:
        report = ProviderPayment(
            rail=self.rail,
            order_id=request.order_id,
            state="paid",
            amount_minor=request.amount_minor if amount is None else amount,
            currency=currency,
            provider_payment_id="4200002626202612170000000001",
            paid_at=NOW + timedelta(minutes=1),
            method="wechat_pay",
            notification_id="EV-1",
        )
        self.reports[request.order_id] = report
        return report


@pytest.fixture
def units(aws, demo_config):
    import_demo_units(demo_config, 3)


def _start(provider: PlayedBack, bills, demo_config, now=NOW) -> rails.Started:
    return rails.start_order(
        bills,
        provider=provider,
        owner_id="O0001",
        device="desktop",
        client_ip="203.0.113.9",
        notify_url="https://pay.example.test/webhooks/wechatpay",
        return_url="https://pay.example.test/pay/x",
        config=demo_config,
        now=now,
    )


def test_an_order_is_written_before_the_owner_leaves_for_the_amount_still_owed(units, demo_config):
    older, newer = (store_bill(make_bill("A-101", p, owner_id="O0001")) for p in ("2026-11", "2026-12"))
    provider = PlayedBack()
    started = _start(provider, [older, newer], demo_config)
    (request,) = provider.started
    assert ORDER_ID.match(request.order_id) and request.order_id.startswith("PD261217")
    assert request.amount_minor == older.total_minor + newer.total_minor
    assert "2026-11" in request.description and "A-101" in request.description
    stored = OrderRepository().get(started.order.order_id)
    assert (stored.state, stored.bill_ids, stored.amount_minor) == (
        "open",
        (older.bill_id, newer.bill_id),
        request.amount_minor,
    )
    assert stored.expires_at == NOW + rails.ORDER_LIFETIME
    assert started.start.qr_text.endswith(request.order_id)


def test_a_paid_order_lands_once_however_often_it_is_reported(units, demo_config):
    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    provider = PlayedBack()
    started = _start(provider, [bill], demo_config)
    report = provider.paid(provider.started[0])
    outcomes = [rails.land(report, config=demo_config, now=NOW).outcome for _ in range(3)]
    assert outcomes == ["credited", "already_recorded", "already_recorded"]
    payment = PaymentRepository().get(f"wechat_pay:{started.order.order_id}")
    assert (payment.amount_minor, payment.reference, payment.method) == (
        bill.total_minor,
        "4200002626202612170000000001",
        "wechat_pay",
    )
    assert BillRepository().get(bill.bill_id).status == "paid"
    order = OrderRepository().get(started.order.order_id)
    assert (order.state, order.provider_payment_id) == ("paid", "4200002626202612170000000001")


def test_an_order_paid_with_another_amount_or_currency_never_lands_as_asked(units, demo_config):
    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    provider = PlayedBack()
    _start(provider, [bill], demo_config)
    short = provider.paid(provider.started[0], amount=bill.total_minor - 1)
    assert rails.land(short, config=demo_config, now=NOW).outcome == "mismatch"
    assert BillRepository().get(bill.bill_id).status == "open"  # staff decide, from their queue
    other = store_bill(make_bill("A-102", "2026-12", owner_id="O0002"))
    _start(provider, [other], demo_config)
    dollars = provider.paid(provider.started[1], currency="USD")
    assert rails.land(dollars, config=demo_config, now=NOW).outcome == "set_aside"
    assert BillRepository().get(other.bill_id).status == "open"


def test_a_report_for_an_order_we_never_made_writes_nothing(units, demo_config):
    store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    stranger = ProviderPayment(
        rail="wechat_pay",
        order_id="PD000000000000ABCDEF0123",
        state="paid",
        amount_minor=100,
        currency="CNY",
        provider_payment_id="4200000000000000000000000000",
    )
    assert rails.land(stranger, config=demo_config, now=NOW).outcome == "unknown_order"
    assert list(PaymentRepository().of_unit("A-101")) == []


def test_payments_28_a_notification_that_never_comes_is_found_by_the_query_and_credited_once(
    units, demo_config
):
    # GIVEN an order paid at the provider whose notification was lost
    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    provider = PlayedBack()
    started = _start(provider, [bill], demo_config)
    provider.paid(provider.started[0])
    # WHEN the sweep runs before the wait is over: nothing is asked yet
    assert rails.sweep(provider, config=demo_config, now=NOW + timedelta(minutes=2)).asked == 0
    # WHEN it runs after it, twice
    first = rails.sweep(provider, config=demo_config, now=NOW + timedelta(minutes=6))
    second = rails.sweep(provider, config=demo_config, now=NOW + timedelta(minutes=12))
    # THEN the payment lands once and the order is no longer open
    assert (first.asked, first.landed, second.asked) == (1, 1, 0)
    assert BillRepository().get(bill.bill_id).status == "paid"
    assert [p.payment_id for p in PaymentRepository().of_unit("A-101")] == [
        f"wechat_pay:{started.order.order_id}"
    ]
    # AND the late notification after it changes nothing
    late = rails.land(
        provider.reports[started.order.order_id], config=demo_config, now=NOW + timedelta(minutes=13)
    )
    assert late.outcome == "already_recorded"
    assert AccountStore().get("A-101").credit_minor == 0


def test_payments_28_an_order_left_unpaid_is_closed_at_the_provider_after_its_expiry(units, demo_config):
    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    provider = PlayedBack()
    started = _start(provider, [bill], demo_config)
    order_id = started.order.order_id
    provider.reports[order_id] = ProviderPayment(
        rail="wechat_pay", order_id=order_id, state="open", amount_minor=bill.total_minor, currency="CNY"
    )
    waiting = rails.sweep(provider, config=demo_config, now=NOW + timedelta(minutes=10))
    assert (waiting.still_open, provider.closed) == (1, [])
    expired = rails.sweep(provider, config=demo_config, now=NOW + rails.ORDER_LIFETIME + timedelta(minutes=1))
    assert (expired.closed, provider.closed) == (1, [order_id])
    assert OrderRepository().get(order_id).state == "closed"
    assert BillRepository().get(bill.bill_id).status == "open"


def test_an_order_paid_in_the_instant_before_its_close_lands_instead(units, demo_config):
    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    provider = PlayedBack(refuse_close=True)
    started = _start(provider, [bill], demo_config)
    open_report = ProviderPayment(
        rail="wechat_pay",
        order_id=started.order.order_id,
        state="open",
        amount_minor=bill.total_minor,
        currency="CNY",
    )
    paid_report = replace(provider.paid(provider.started[0]))
    answers = iter([open_report, paid_report])
    provider.query = lambda order_id: next(answers)  # type: ignore[method-assign]
    result = rails.sweep(provider, config=demo_config, now=NOW + rails.ORDER_LIFETIME + timedelta(minutes=1))
    assert (result.landed, result.closed) == (1, 0)
    assert BillRepository().get(bill.bill_id).status == "paid"


def test_a_provider_that_cannot_be_reached_leaves_orders_for_the_next_sweep(units, demo_config):
    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    provider = PlayedBack(down=True)
    started = _start(provider, [bill], demo_config)
    result = rails.sweep(provider, config=demo_config, now=NOW + timedelta(hours=1))
    assert (result.failed, result.closed) == (1, 0)
    assert OrderRepository().get(started.order.order_id).state == "open"
