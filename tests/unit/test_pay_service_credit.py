"""record_payment's decisions, with an in-memory account store (no AWS).

The fake store applies a posting the way DynamoDB's transaction does: all or nothing, refused
when the payment exists or when the account, a bill or the receipt counter is not at the
version the posting read. A hook runs before each posting, so a test can move the store under
it as a concurrent writer would.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from propdesk.domain.accounts import Allocation
from propdesk.services.notices import issuance
from propdesk.services.payments import (
    AlreadyRecorded,
    CreditContention,
    IncomingPayment,
    Post,
    SetAside,
    decide,
    record_payment,
)
from propdesk.store.accounts import Account, PostResult, Snapshot
from tests.paytools import make_bill

NOW = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
PAID_AT = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)  # 1 January 2027 in Shanghai


class FakeAccounts:
    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.bills: dict = {}
        self.payments: dict = {}
        self.counters: dict[str, int] = {}
        self.entries: list = []
        self.before_post = lambda: None
        self.posts = 0

    def issue(self, bill):
        posting = issuance(bill, self.accounts.get(bill.unit_id), owner_id=bill.owner_id, now=NOW)
        assert self.post(posting, now=NOW) is PostResult.POSTED
        return self.bills[bill.bill_id]

    def snapshot(self, *, payment_id=None, unit_id=None, bill_ids=(), counter=None, payment_ids=()):
        return Snapshot(
            payment=self.payments.get(payment_id),
            account=self.accounts.get(unit_id) if unit_id else None,
            bills={b: self.bills[b] for b in bill_ids if b in self.bills},
            counter_value=self.counters.get(counter) if counter else None,
        )

    def get(self, unit_id):
        return self.accounts.get(unit_id)

    def charges(self, account):
        return None  # every bill here is issued by a posting, listed on its account

    def with_new_bills(self, account, known=None):
        return account

    def post(self, posting, *, now):
        self.before_post()
        self.posts += 1
        if posting.new_payment and posting.new_payment.payment_id in self.payments:
            return PostResult.PAYMENT_EXISTS
        if any(b.bill_id in self.bills for b in posting.new_bills):
            return PostResult.BILL_EXISTS
        stored = self.accounts.get(posting.account.unit_id)
        if (stored.version if stored else None) != posting.account.version:
            return PostResult.MOVED_ON
        if any(self.bills[b.bill_id].version != b.version for b in posting.changed_bills):
            return PostResult.MOVED_ON
        if posting.counter and self.counters.get(posting.counter[0]) != posting.counter[1]:
            return PostResult.MOVED_ON
        self.accounts[posting.account.unit_id] = replace(
            posting.account, version=(posting.account.version or 0) + 1
        )
        for bill in (*posting.new_bills, *posting.changed_bills):
            self.bills[bill.bill_id] = replace(bill, version=(bill.version or 0) + 1)
        if posting.new_payment:
            self.payments[posting.new_payment.payment_id] = posting.new_payment
        if posting.counter:
            self.counters[posting.counter[0]] = (posting.counter[1] or 0) + 1
        self.entries.extend(posting.entries)
        return PostResult.POSTED


class FakePayments:
    def __init__(self) -> None:
        self.set_aside_records: list = []

    def set_aside(self, record):
        self.set_aside_records.append(record)
        return True

    def get(self, payment_id):
        return next((r for r in self.set_aside_records if r.payment_id == payment_id), None)


def incoming(amount, *targets, unit_id="A-101", payment_id="stripe:pi_1", currency="CNY", channel="online"):
    return IncomingPayment(
        payment_id=payment_id,
        provider=payment_id.split(":")[0],
        method="card",
        channel=channel,
        unit_id=unit_id,
        amount_minor=amount,
        currency=currency,
        paid_at=PAID_AT,
        targets=tuple(targets),
    )


def run(store, pay, demo_config, notes=None, **kwargs):
    return record_payment(
        pay,
        config=demo_config,
        now=NOW,
        store=store,
        payments=kwargs.pop("payments", FakePayments()),
        notify=(notes if notes is not None else []).extend,
        **kwargs,
    )


def test_a_full_payment_settles_its_bill_and_sends_a_receipt_with_its_items(demo_config):
    store = FakeAccounts()
    bill = store.issue(make_bill())
    notes = []
    result = run(store, incoming(bill.total_minor, bill.bill_id), demo_config, notes)
    assert result.outcome == "credited"
    assert store.bills[bill.bill_id].status == "paid"
    assert store.accounts["A-101"].open_bill_ids == ()
    (receipt,) = notes
    # the receipt year is the local (Shanghai) year of the payment
    assert receipt.message_id == "payment_receipt#DEMO-2027-000001"
    assert receipt.context["bills"] == [
        {"bill_id": bill.bill_id, "period": "2026-03", "amount_minor": bill.total_minor}
    ]
    assert receipt.context["method"] == "card" and receipt.context["credit_minor"] == 0


def test_a_partial_payment_leaves_the_rest_open(demo_config):
    store = FakeAccounts()
    bill = store.issue(make_bill())
    result = run(store, incoming(10000, channel="front_desk", payment_id="desk:1"), demo_config)
    assert result.outcome == "partial"
    stored = store.bills[bill.bill_id]
    assert (stored.status, stored.paid_minor) == ("open", 10000)
    assert store.accounts["A-101"].open_bill_ids == (bill.bill_id,)
    assert store.payments["desk:1"].review_state is None  # nothing for staff to look at


def test_a_checkout_for_less_than_its_bill_owes_lands_and_waits_for_staff(demo_config):
    store = FakeAccounts()
    bill = store.issue(make_bill())
    result = run(store, incoming(10000, bill.bill_id), demo_config)
    assert result.outcome == "mismatch"
    assert store.bills[bill.bill_id].paid_minor == 10000
    assert store.payments["stripe:pi_1"].review_reason == "mismatch"


def test_an_untargeted_payment_pays_the_oldest_bill_first_and_keeps_the_rest_as_credit(demo_config):
    store = FakeAccounts()
    older = store.issue(make_bill(period="2026-02"))
    newer = store.issue(make_bill(period="2026-03"))
    amount = older.total_minor + 5000
    result = run(store, incoming(amount, channel="front_desk", payment_id="desk:1"), demo_config)
    assert result.outcome == "partial"
    assert result.allocations == (
        Allocation(older.bill_id, older.total_minor),
        Allocation(newer.bill_id, 5000),
    )
    over = run(store, incoming(newer.total_minor, channel="front_desk", payment_id="desk:2"), demo_config)
    assert over.outcome == "credit" and over.credit_minor == 5000
    assert store.accounts["A-101"].credit_minor == 5000
    assert {b.status for b in store.bills.values()} == {"paid"}


def test_the_credit_pays_the_next_bill_when_it_is_issued(demo_config):
    store = FakeAccounts()
    bill = store.issue(make_bill(period="2026-02"))
    run(store, incoming(bill.total_minor + 7000, bill.bill_id), demo_config)
    assert store.accounts["A-101"].credit_minor == 7000
    nxt = store.issue(make_bill(period="2026-03"))
    assert (nxt.paid_minor, nxt.status, nxt.payment_id) == (7000, "open", "credit")
    assert store.accounts["A-101"].credit_minor == 0
    assert [e.event for e in store.entries if e.key == f"credit_applied#{nxt.bill_id}"] == ["credit_applied"]


def test_money_for_a_bill_paid_meanwhile_becomes_credit_and_waits_for_staff(demo_config):
    # GIVEN another payment settles the bill between our read and our write
    store = FakeAccounts()
    bill = store.issue(make_bill())
    other = incoming(bill.total_minor, bill.bill_id, payment_id="stripe:pi_other")

    def other_tab_wins():
        store.before_post = lambda: None
        assert run(store, other, demo_config).outcome == "credited"

    store.before_post = other_tab_wins
    notes = []
    # WHEN our payment is recorded
    result = run(store, incoming(bill.total_minor, bill.bill_id), demo_config, notes)
    # THEN it is retried, lands as credit, and waits in the staff queue; the receipt says so
    assert result.outcome == "duplicate"
    record = store.payments["stripe:pi_1"]
    assert (record.credit_minor, record.allocations) == (bill.total_minor, ())
    assert (record.review_state, record.review_reason) == ("open", "duplicate")
    assert store.accounts["A-101"].credit_minor == bill.total_minor
    assert notes[-1].context["bills"] == [] and notes[-1].context["credit_minor"] == bill.total_minor
    assert record.receipt_no == "DEMO-2027-000002"  # the other payment took number 1


def test_endless_contention_raises_so_the_provider_retries(demo_config):
    store = FakeAccounts()
    bill = store.issue(make_bill())

    def someone_else_moves_the_counter():
        store.counters["receipt#2027"] = store.counters.get("receipt#2027", 0) + 1

    store.before_post = someone_else_moves_the_counter
    with pytest.raises(CreditContention):
        run(store, incoming(bill.total_minor, bill.bill_id), demo_config, max_attempts=3)
    assert store.payments == {} and store.posts == 1 + 3  # the bill's issue, then three attempts


def test_a_repeat_finishes_the_follow_ups_and_counts_nothing_twice(demo_config):
    store = FakeAccounts()
    bill = store.issue(make_bill())
    first, again = [], []
    run(store, incoming(bill.total_minor, bill.bill_id), demo_config, first)
    result = run(store, incoming(bill.total_minor, bill.bill_id), demo_config, again)
    assert result.outcome == "already_recorded"
    assert [n.message_id for n in again] == [n.message_id for n in first]  # same id: sent once
    assert store.counters["receipt#2027"] == 1 and store.accounts["A-101"].credit_minor == 0


def test_the_decision_is_pure_and_covers_every_case(demo_config):
    bill = replace(make_bill(), version=1)
    account = Account("A-101", "O0001", "CNY", open_bill_ids=(bill.bill_id,), version=1)
    seen = Snapshot(payment=None, account=account, bills={bill.bill_id: bill}, counter_value=None)

    def decision(pay, snapshot=seen):
        return decide(pay, snapshot, config=demo_config, now=NOW)

    landed = decision(incoming(bill.total_minor, bill.bill_id))
    assert isinstance(landed, Post) and landed.outcome == "credited"
    assert landed.posting.counter == ("receipt#2027", None)
    nobody = Snapshot(payment=None, account=None, bills={}, counter_value=None)
    assert decision(incoming(100, "B-9#2026-03", unit_id="B-9"), nobody) == SetAside("unknown_unit", "B-9")
    assert decision(incoming(100, bill.bill_id, currency="USD")) == SetAside("currency", "A-101")
    recorded = replace(seen, payment=landed.record)
    assert decision(incoming(bill.total_minor, bill.bill_id), recorded) == AlreadyRecorded(landed.record)
    # a bill of another unit named in the payment is not paid by it
    foreign = replace(make_bill(unit_id="B-202"), version=1)
    mixed = replace(seen, bills={**seen.bills, foreign.bill_id: foreign})
    stray = decision(incoming(foreign.total_minor, foreign.bill_id), mixed)
    assert isinstance(stray, Post) and stray.record.allocations == () and stray.outcome == "unknown_bill"


def test_money_is_conserved_in_every_posting(demo_config):
    store = FakeAccounts()
    bills = [store.issue(make_bill(period=p)) for p in ("2026-01", "2026-02", "2026-03")]
    for n, amount in enumerate((1, bills[0].total_minor, 99999, 5, 300000)):
        run(store, incoming(amount, channel="front_desk", payment_id=f"desk:{n}"), demo_config)
    paid = sum(p.amount_minor for p in store.payments.values())
    allocated = sum(p.allocated_minor for p in store.payments.values())
    credit = sum(p.credit_minor for p in store.payments.values())
    assert paid == allocated + credit
    assert sum(b.paid_minor for b in store.bills.values()) == allocated
    assert store.accounts["A-101"].credit_minor == credit
