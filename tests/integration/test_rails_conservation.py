"""A property-based test of the order rails on moto: for WeChat Pay and Alipay, any sequence of
notifications (the amount asked, less, more), repeats, active queries and refunds (done at once,
or confirmed later by the provider, or refused) leaves every account conserved:

- each payment == what it paid on bills + what it left as credit + what was refunded;
- each bill's paid amount == what the payments put on it;
- the account's credit == what the payments left as credit;
- the money recorded == the money the provider took, less what it gave back;
- one order is one payment, however often it is reported.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ops_support import import_demo_units

from propdesk.payments.port import ProviderPayment, ProviderRefund, ProviderRefused, RefundResult
from propdesk.services import rails, refunds
from propdesk.services.errors import DeskError
from propdesk.store.accounts import AccountStore
from propdesk.store.bills import BillRepository
from propdesk.store.payments import PaymentRepository
from propdesk.store.units import UnitRepository
from tests.integration.test_rails import NOW, PlayedBack, _start
from tests.paytools import make_bill, store_bill

UNIT_COUNT = 20  # one unit per example, so that examples never meet


@dataclass
class Rail(PlayedBack):
    """The played-back provider, with refunds: done at once, processing, or refused."""

    refund_mode: str = "done"
    taken: dict[str, int] = field(default_factory=dict)  # order id -> what the payer paid
    given_back: dict[str, int] = field(default_factory=dict)  # refund id -> amount, once done
    processing: dict[str, ProviderRefund] = field(default_factory=dict)

    def refund(self, order_id, *, refund_id, amount_minor, total_minor, reason) -> RefundResult:
        if self.refund_mode == "refused":
            raise ProviderRefused("NOT_ENOUGH", "balance short")
        if self.refund_mode == "processing":
            self.processing[refund_id] = ProviderRefund(
                self.rail, order_id, refund_id, amount_minor, "succeeded"
            )
            return RefundResult(refund_id, None, "processing")
        self.given_back[refund_id] = amount_minor
        return RefundResult(refund_id, f"R{refund_id}", "succeeded")


step = st.one_of(
    st.tuples(st.just("notify"), st.integers(0, 1), st.sampled_from(["asked", "less", "more"])),
    st.tuples(st.just("repeat"), st.integers(0, 1), st.just("")),
    st.tuples(st.just("sweep"), st.just(0), st.just("")),
    st.tuples(st.just("refund"), st.integers(1, 40_000), st.sampled_from(["done", "processing", "refused"])),
    st.tuples(st.just("confirm"), st.just(0), st.just("")),
)
_units = itertools.count()


@pytest.fixture
def owners(aws, demo_config):
    import_demo_units(demo_config, UNIT_COUNT)
    return [unit for page in UnitRepository().pages() for unit in page]


@settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rail=st.sampled_from(["wechat_pay", "alipay"]), steps=st.lists(step, min_size=1, max_size=10))
def test_payments_conservation_any_sequence_on_any_order_rail_leaves_the_account_conserved(
    owners, demo_config, monkeypatch, rail, steps
):
    config = demo_config
    index = next(_units)
    assume(index < len(owners))  # a unit of its own for each example
    unit, owner = owners[index].unit_id, owners[index].owner_id
    bills = [store_bill(make_bill(unit, period, owner_id=owner)) for period in ("2026-11", "2026-12")]
    provider = Rail(rail=rail)
    # two tabs: an order for both bills, and one for the older only
    _start(provider, bills, config)
    _start(provider, bills[:1], config)
    monkeypatch.setattr(refunds, "rail_refund", lambda refund, payment, _config: provider.refund(
        payment.payment_id.split(":", 1)[1], refund_id=refund.refund_id, amount_minor=refund.amount_minor,
        total_minor=payment.amount_minor, reason=refund.reason))  # fmt: skip
    last: dict[int, ProviderPayment] = {}
    requests = itertools.count()
    for kind, number, detail in steps:
        if kind == "notify":
            request = provider.started[number]
            amount = {"asked": request.amount_minor, "less": request.amount_minor - 100,
                      "more": request.amount_minor + 500}[detail]  # fmt: skip
            if request.order_id in provider.taken:
                continue  # the provider takes an order's money once
            provider.taken[request.order_id] = amount
            last[number] = provider.paid(request, amount=amount)
            rails.land(last[number], config=config, now=NOW)
        elif kind == "repeat" and number in last:
            rails.land(last[number], config=config, now=NOW)
        elif kind == "sweep":
            rails.sweep(provider, config=config, now=NOW + timedelta(minutes=6))
        elif kind == "refund":
            landed = [p for p in PaymentRepository().of_unit(unit) if p.refundable_minor > 0]
            if not landed:
                continue
            payment = landed[0]
            provider.refund_mode = detail
            try:
                refunds.start_refund(
                    payment.payment_id,
                    request_id=f"prop-{unit}-{next(requests)}",
                    amount_minor=min(number, payment.refundable_minor, config.payment.refund_approval_minor),
                    reason="test",
                    staff_id="cashier-li",
                    config=config,
                    now=NOW,
                )
            except DeskError as refused:
                assert refused.code in ("provider_refused", "not_landed", "refunded"), refused.code
        elif kind == "confirm":
            for refund_id, reported in list(provider.processing.items()):
                refunds.record_rail_refund(reported, config=config, now=NOW)
                refunds.record_rail_refund(reported, config=config, now=NOW)  # delivered twice
                provider.given_back[refund_id] = reported.amount_minor
                del provider.processing[refund_id]
    # THEN the account is conserved
    payments = PaymentRepository().of_unit(unit)
    assert len({p.payment_id for p in payments}) == len(payments) <= len(provider.taken)
    assert {p.payment_id.split(":", 1)[1] for p in payments} <= set(provider.taken)
    on_bills: dict[str, int] = {}
    for payment in payments:
        assert payment.amount_minor == payment.allocated_minor + payment.credit_minor + payment.refunded_minor
        for allocation in payment.allocations:
            on_bills[allocation.bill_id] = on_bills.get(allocation.bill_id, 0) + allocation.amount_minor
    for bill in bills:
        assert BillRepository().get(bill.bill_id).paid_minor == on_bills.get(bill.bill_id, 0)
    account = AccountStore().get(unit)
    assert account.credit_minor == sum(p.credit_minor for p in payments)
    recorded = sum(p.amount_minor for p in payments)
    refunded = sum(p.refunded_minor for p in payments)
    # every order the provider was paid for is recorded (landed, or found by the sweep) or still
    # only at the provider until the next sweep; never more than it took
    assert recorded <= sum(provider.taken.values())
    assert refunded == sum(provider.given_back.values())
    pending = sum(p.refund_pending_minor for p in payments)
    assert pending == sum(r.amount_minor for r in provider.processing.values())
