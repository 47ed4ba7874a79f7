"""record_online_payment's decisions, with in-memory fakes for the stores (no AWS)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from propdesk.payments.events import OnlinePayment
from propdesk.services.payments import CreditContention, record_online_payment
from propdesk.store.payments import CreditResult
from tests.paytools import make_bill

NOW = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)


class FakeBills:
    def __init__(self, *bills):
        self.bills = {b.bill_id: b for b in bills}
        self.reads = 0

    def get(self, bill_id):
        self.reads += 1
        return self.bills.get(bill_id)


class FakePayments:
    def __init__(self, results):
        self.results = list(results)
        self.records = {}
        self.credits = []
        self.counter = None

    def get(self, payment_id):
        return self.records.get(payment_id)

    def record(self, record):
        self.records.setdefault(record.payment_id, record)
        return True

    def counter_value(self, name):
        return self.counter

    def credit(self, record, *, bill, counter, counter_value):
        self.credits.append((record, bill, counter, counter_value))
        return self.results.pop(0)


def payment(bill, amount=None) -> OnlinePayment:
    return OnlinePayment(
        event_id="evt_1",
        event_type="checkout.session.completed",
        payment_id="stripe:pi_1",
        bill_id=bill.bill_id,
        amount_minor=bill.total_minor if amount is None else amount,
        currency=bill.currency,
        paid_at=datetime(2026, 12, 31, 16, 30, tzinfo=UTC),  # 1 January 2027 in Shanghai
    )


def run(bills, payments, pay, demo_config, notes=None, ledger=None):
    return record_online_payment(
        pay,
        config=demo_config,
        now=NOW,
        bills=bills,
        payments=payments,
        notify=(notes if notes is not None else []).append,
        append=lambda *args, **kwargs: (ledger if ledger is not None else []).append((args, kwargs)) or True,
    )


def test_counter_race_is_retried_with_the_next_number(demo_config):
    # GIVEN another payment takes receipt number 1 between our read and our write
    bill = replace(make_bill(), version=1)
    payments = FakePayments([CreditResult.COUNTER_MOVED, CreditResult.CREDITED])
    notes = []
    # WHEN the payment is recorded
    result = run(FakeBills(bill), payments, payment(bill), demo_config, notes=notes)
    # THEN it is retried and credited; the receipt year is the local (Shanghai) year
    assert result.outcome == "credited"
    assert len(payments.credits) == 2
    assert payments.credits[0][2] == "receipt#2027"
    assert result.receipt_no == "DEMO-2027-000001"
    assert len(notes) == 1 and notes[0][0].message_id == "payment_receipt#DEMO-2027-000001"


def test_endless_contention_raises_so_the_provider_retries(demo_config):
    bill = replace(make_bill(), version=1)
    payments = FakePayments([CreditResult.COUNTER_MOVED] * 3)
    with pytest.raises(CreditContention):
        record_online_payment(
            payment(bill),
            config=demo_config,
            now=NOW,
            bills=FakeBills(bill),
            payments=payments,
            notify=lambda requests: None,
            append=lambda *a, **k: True,
            max_attempts=3,
        )


def test_bill_changed_to_a_new_total_turns_the_retry_into_a_mismatch(demo_config):
    # GIVEN the bill's total changes (e.g. a late fee) between our read and our write
    bill = replace(make_bill(), version=1)
    bills = FakeBills(bill)
    payments = FakePayments([CreditResult.BILL_CHANGED])

    def credit_then_change(record, *, bill, counter, counter_value):
        bills.bills[bill.bill_id] = replace(bill, total_minor=bill.total_minor + 500, version=2)
        return CreditResult.BILL_CHANGED

    payments.credit = credit_then_change
    ledger = []
    # WHEN the payment is recorded
    result = run(bills, payments, payment(bill), demo_config, ledger=ledger)
    # THEN it is set aside as a mismatch, nothing credited
    assert result.outcome == "mismatch"
    assert payments.records["stripe:pi_1"].status == "mismatch"
    assert ledger[0][0][1] == "payment_mismatch"


def test_bill_paid_by_another_payment_meanwhile_becomes_duplicate(demo_config):
    bill = replace(make_bill(), version=1)
    bills = FakeBills(bill)
    payments = FakePayments([])

    def credit_lost_race(record, *, bill, counter, counter_value):
        bills.bills[bill.bill_id] = replace(bill, status="paid", payment_id="stripe:pi_other", version=2)
        return CreditResult.BILL_CHANGED

    payments.credit = credit_lost_race
    result = run(bills, payments, payment(bill), demo_config)
    assert result.outcome == "duplicate"
    assert payments.records["stripe:pi_1"].status == "duplicate"


def test_the_receipt_and_the_ledger_carry_the_payment_not_the_bill_s_running_total(demo_config):
    # GIVEN a bill that has already received part of its total
    bill = replace(make_bill(), version=1, paid_minor=10000)
    outstanding = bill.total_minor - 10000
    notes, ledger = [], []
    # WHEN the rest is paid
    result = run(
        FakeBills(bill),
        FakePayments([CreditResult.CREDITED]),
        payment(bill, outstanding),
        demo_config,
        notes=notes,
        ledger=ledger,
    )
    # THEN the receipt says what this payment paid, and so does the ledger
    assert result.outcome == "credited"
    (receipt,) = notes[0]
    assert receipt.context["amount_minor"] == outstanding
    ((_, paid_entry),) = [(a, k) for a, k in ledger if a[1] == "paid"]
    assert paid_entry["data"]["amount_minor"] == outstanding


def test_the_decision_is_pure_and_covers_every_case():
    from propdesk.services.payments import AlreadyRecorded, Credit, SetAside, decide
    from propdesk.store.payments import PaymentRecord

    bill = replace(make_bill(), version=1)
    pay = payment(bill)
    assert decide(pay, existing=None, bill=bill) == Credit(bill)
    assert decide(pay, existing=None, bill=None) == SetAside("mismatch", "unknown bill", None)
    assert decide(payment(bill, bill.total_minor - 1), existing=None, bill=bill).status == "mismatch"
    paid_by_other = replace(bill, status="paid", payment_id="stripe:pi_other")
    assert decide(pay, existing=None, bill=paid_by_other).status == "duplicate"
    paid_by_this = replace(bill, status="paid", payment_id=pay.payment_id)
    assert decide(pay, existing=None, bill=paid_by_this) == AlreadyRecorded(None, paid_by_this)
    record = PaymentRecord(
        payment_id=pay.payment_id,
        bill_id=bill.bill_id,
        provider="stripe",
        channel="online",
        amount_minor=pay.amount_minor,
        currency="CNY",
        status="credited",
        received_at=NOW,
    )
    assert decide(pay, existing=record, bill=paid_by_this) == AlreadyRecorded(record, paid_by_this)
    assert decide(pay, existing=replace(record, status="mismatch"), bill=bill) == AlreadyRecorded(
        replace(record, status="mismatch"), None
    )
