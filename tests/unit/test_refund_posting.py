"""The refund posting (``services.refunds.reversal``): what goes back and from where, and money
conserved over any sequence of bills issued, payments, refunds and disputes (Hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from propdesk.domain.accounts import Allocation
from propdesk.domain.billing import BillLine
from propdesk.services.desk import DESK_PROVIDER
from propdesk.services.errors import DeskError
from propdesk.services.notices import issuance
from propdesk.services.payments import IncomingPayment, Post, decide
from propdesk.services.refunds import (
    DESK,
    credit_paid_from,
    reversal,
    spent_credit_needed,
)
from propdesk.store.accounts import Account, Posting, Snapshot
from propdesk.store.ledger import LedgerEntry
from propdesk.store.payments import DUPLICATE, REVIEW_OPEN
from propdesk.store.refunds import APPROVED, SUCCEEDED, RefundRecord
from tests.paytools import make_bill

NOW = datetime(2027, 3, 5, 2, 0, tzinfo=UTC)
UNIT = "A-101"


@dataclass
class Books:
    """One unit's books in memory, changed only by postings (as the store's transaction does)."""

    account: Account = field(default_factory=lambda: Account(UNIT, owner_id="O0001", currency="CNY"))
    bills: dict = field(default_factory=dict)
    payments: dict = field(default_factory=dict)
    counter: int = 0
    entries: list = field(default_factory=list)

    def apply(self, posting: Posting) -> None:
        self.account = posting.account
        for bill in (*posting.new_bills, *posting.changed_bills):
            self.bills[bill.bill_id] = bill
        for record in (posting.new_payment, posting.changed_payment):
            if record is not None:
                self.payments[record.payment_id] = record
        if posting.counter is not None:
            self.counter += 1
        keys = {(e.entity, e.key) for e in self.entries}
        for entry in posting.entries:
            assert (entry.entity, entry.key) not in keys, f"ledger key written twice: {entry.key}"
            keys.add((entry.entity, entry.key))
        self.entries.extend(posting.entries)

    def issue(self, period: str, total: int) -> None:
        bill = make_bill(UNIT, period, lines=(BillLine("service", "per_unit", total, 1, total),))
        self.apply(issuance(bill, self.account, owner_id="O0001", now=NOW))

    def pay(self, config, payment_id: str, amount: int, targets: tuple[str, ...] = (), provider="stripe"):
        payment = IncomingPayment(
            payment_id=payment_id,
            provider=provider,
            method="card",
            channel="online",
            unit_id=UNIT,
            amount_minor=amount,
            currency="CNY",
            paid_at=NOW,
            targets=targets,
        )
        snapshot = Snapshot(
            payment=None, account=self.account, bills=dict(self.bills), counter_value=self.counter
        )
        decision = decide(payment, snapshot, config=config, now=NOW)
        assert isinstance(decision, Post)
        self.apply(decision.posting)
        return decision

    def credit_paid(self) -> dict[str, int]:
        return credit_paid_from(
            [
                LedgerEntry(e.key, e.event, e.at, e.data)
                for e in self.entries
                if e.entity == f"account#{UNIT}" and e.key.startswith("credit_")
            ]
        )

    def reverse(self, payment_id: str, amount: int, key: str, **kwargs) -> Posting:
        record = self.payments[payment_id]
        credit_paid = self.credit_paid() if spent_credit_needed(record, self.account, amount) else None
        posting = reversal(
            record, self.account, self.bills, amount, key=key, now=NOW, credit_paid=credit_paid, **kwargs
        )
        self.apply(posting)
        return posting


def assert_books_balance(books: Books) -> None:
    paid_in = sum(p.amount_minor for p in books.payments.values())
    refunded = sum(p.refunded_minor for p in books.payments.values())
    on_bills = sum(b.paid_minor for b in books.bills.values())
    # every minor unit paid in is on a bill, in the account's credit, or went back
    assert paid_in == on_bills + books.account.credit_minor + refunded
    assert books.account.credit_minor >= 0
    for p in books.payments.values():
        assert p.amount_minor == p.allocated_minor + p.credit_minor + p.refunded_minor, p.payment_id
        assert p.credit_minor >= 0 and p.refunded_minor >= 0 and p.disputed_minor >= 0
        assert all(
            a.principal_minor >= 0 and a.late_fee_minor >= 0 and a.amount_minor > 0 for a in p.allocations
        )
        assert p.status == ("refunded" if p.refunded_minor == p.amount_minor else "allocated")
    for b in books.bills.values():
        assert 0 <= b.paid_minor <= b.total_minor, b.bill_id
        assert b.status == ("paid" if b.paid_minor == b.total_minor else "open"), b.bill_id
    owing = sorted(b.bill_id for b in books.bills.values() if b.paid_minor < b.total_minor)
    assert list(books.account.open_bill_ids) == owing


# --- what a refund takes back, and from where ----------------------------------------------------


def test_a_refund_takes_the_payments_credit_first_then_its_newest_bill_which_opens_again(demo_config):
    # GIVEN two bills paid by one payment that also left 5000 of credit
    books = Books()
    books.issue("2027-01", 30_000)
    books.issue("2027-02", 20_000)
    books.pay(demo_config, "desk:p1", 55_000)
    assert books.account.credit_minor == 5_000
    # WHEN 12000 of it is refunded
    posting = books.reverse("desk:p1", 12_000, key="rf_1")
    # THEN the 5000 of credit goes first, then 7000 of the newest bill (February), which opens again
    assert books.account.credit_minor == 0
    assert (books.bills["A-101#2027-02"].paid_minor, books.bills["A-101#2027-02"].status) == (13_000, "open")
    assert books.bills["A-101#2027-01"].status == "paid"
    assert books.account.open_bill_ids == ("A-101#2027-02",)
    record = books.payments["desk:p1"]
    assert (record.credit_minor, record.refunded_minor, record.status) == (0, 12_000, "allocated")
    assert record.allocations == (Allocation("A-101#2027-01", 30_000), Allocation("A-101#2027-02", 13_000))
    # AND the ledger records each part on the account, the bill and the payment
    events = {(e.entity, e.event) for e in posting.entries}
    assert {
        ("account#A-101", "credit_reversed"),
        ("account#A-101", "allocation_reversed"),
        ("account#A-101", "refund"),
        ("bill#A-101#2027-02", "reopened"),
        ("payment#desk:p1", "refunded"),
    } == events
    assert_books_balance(books)


def test_a_full_refund_reopens_every_bill_oldest_first_on_the_account(demo_config):
    books = Books()
    books.issue("2027-01", 30_000)
    books.issue("2027-02", 20_000)
    books.pay(demo_config, "stripe:pi_1", 50_000)
    books.reverse("stripe:pi_1", 50_000, key="rf_all")
    assert books.payments["stripe:pi_1"].status == "refunded"
    assert books.account.open_bill_ids == ("A-101#2027-01", "A-101#2027-02")
    assert {b.paid_minor for b in books.bills.values()} == {0}
    assert_books_balance(books)


def test_credit_a_later_bill_used_is_taken_back_from_that_bill(demo_config):
    # GIVEN a payment kept wholly as credit, which then paid the next bill when it was issued
    books = Books()
    books.pay(demo_config, "desk:ahead", 25_000)
    books.issue("2027-01", 30_000)
    assert books.account.credit_minor == 0 and books.bills["A-101#2027-01"].paid_minor == 25_000
    record, account = books.payments["desk:ahead"], books.account
    assert spent_credit_needed(record, account, 10_000) == 10_000
    # WHEN 10000 of that payment is refunded
    posting = books.reverse("desk:ahead", 10_000, key="rf_2")
    # THEN the bill its credit paid gives it back, and stays open for it
    assert books.bills["A-101#2027-01"].paid_minor == 15_000
    assert books.payments["desk:ahead"].credit_minor == 15_000
    assert ("account#A-101", "credit_unapplied") in {(e.entity, e.event) for e in posting.entries}
    # AND what credit paid of the bill is now less by as much
    assert books.credit_paid() == {"A-101#2027-01": 15_000}
    assert_books_balance(books)


def test_without_the_ledger_credit_that_was_used_cannot_be_found(demo_config):
    books = Books()
    books.pay(demo_config, "desk:ahead", 25_000)
    books.issue("2027-01", 30_000)
    with pytest.raises(DeskError) as refused:
        reversal(books.payments["desk:ahead"], books.account, books.bills, 10_000, key="k", now=NOW)
    assert (refused.value.status, refused.value.code) == (409, "cannot_reverse")


@pytest.mark.parametrize("amount", [0, -1, 32_728])
def test_more_than_is_left_or_nothing_is_refused(demo_config, amount):
    books = Books()
    books.issue("2027-01", 32_727)
    books.pay(demo_config, "stripe:pi_1", 32_727)
    with pytest.raises(DeskError) as refused:
        books.reverse("stripe:pi_1", amount, key="k")
    assert refused.value.code == "refund_too_large"
    books.reverse("stripe:pi_1", 32_727, key="all")
    with pytest.raises(DeskError):
        books.reverse("stripe:pi_1", 1, key="more")


@pytest.mark.parametrize(
    ("order", "left"),
    [
        ("principal_first", Allocation("A-101#2027-01", 9_000, 0)),
        ("late_fee_first", Allocation("A-101#2027-01", 8_000, 1_000)),
    ],
)
def test_what_was_paid_last_of_a_bill_is_taken_back_first(order, left):
    allocation = Allocation("A-101#2027-01", 10_000, 1_000)
    from propdesk.services.refunds import _taken_back

    assert _taken_back(allocation, 2_000, order) == left


def test_a_dispute_reverses_and_puts_the_payment_in_the_staff_queue(demo_config):
    books = Books()
    books.issue("2027-01", 30_000)
    books.pay(demo_config, "stripe:pi_d", 30_000)
    books.reverse("stripe:pi_d", 30_000, key="dp_1", kind="dispute")
    record = books.payments["stripe:pi_d"]
    assert (record.review_state, record.review_reason) == (REVIEW_OPEN, "dispute")
    assert (record.disputed_minor, record.refunded_minor, record.status) == (30_000, 30_000, "refunded")
    assert books.bills["A-101#2027-01"].status == "open"
    assert_books_balance(books)


def test_refunding_a_duplicate_in_full_takes_it_out_of_the_staff_queue(demo_config):
    books = Books()
    books.issue("2027-01", 30_000)
    books.pay(demo_config, "stripe:pi_1", 30_000, targets=("A-101#2027-01",))
    decision = books.pay(demo_config, "stripe:pi_2", 30_000, targets=("A-101#2027-01",))
    assert decision.outcome == "duplicate" and books.payments["stripe:pi_2"].review_state == REVIEW_OPEN
    books.reverse("stripe:pi_2", 10_000, key="part")
    assert books.payments["stripe:pi_2"].review_state == REVIEW_OPEN  # partly refunded: staff still look
    books.reverse("stripe:pi_2", 20_000, key="rest")
    record = books.payments["stripe:pi_2"]
    assert (record.review_state, record.review_reason, record.status) == (None, DUPLICATE, "refunded")
    assert books.bills["A-101#2027-01"].status == "paid"  # the first payment still pays it
    assert_books_balance(books)


def test_the_refunds_a_posting_settles_are_written_succeeded_and_release_their_hold(demo_config):
    books = Books()
    books.issue("2027-01", 30_000)
    books.pay(demo_config, "stripe:pi_1", 30_000)
    refund = RefundRecord(
        "rf_x", "stripe:pi_1", UNIT, 10_000, "CNY", "r", "cashier-li", APPROVED, NOW, NOW, version=3
    )
    books.payments["stripe:pi_1"] = replace(
        books.payments["stripe:pi_1"], pending_refunds=(("rf_x", 10_000), ("rf_y", 5_000))
    )
    posting = books.reverse("stripe:pi_1", 10_000, key="rf_x", settles=[refund])
    (settled,) = posting.refunds
    assert (settled.status, settled.version, settled.updated_at) == (SUCCEEDED, 3, NOW)
    assert books.payments["stripe:pi_1"].pending_refunds == (("rf_y", 5_000),)


def test_the_desk_provider_is_the_desks():
    assert DESK == DESK_PROVIDER


# --- money conserved, whatever happens (Hypothesis) ----------------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("issue"), st.integers(1, 60_000)),
        st.tuples(st.just("pay"), st.integers(1, 90_000), st.sampled_from(["any", "oldest", "newest"])),
        st.tuples(st.just("refund"), st.integers(0, 50), st.integers(1, 100), st.booleans()),
        st.tuples(st.just("dispute"), st.integers(0, 50)),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations)
def test_money_is_conserved_and_never_negative_through_bills_payments_refunds_and_disputes(demo_config, ops):
    books = Books()
    periods = iter(f"{2027 + m // 12}-{m % 12 + 1:02d}" for m in range(40))
    for n, op in enumerate(ops):
        kind = op[0]
        if kind == "issue":
            books.issue(next(periods), op[1])
        elif kind == "pay":
            ids = sorted(books.bills)
            targets = ()
            if op[2] != "any" and ids:
                targets = (ids[0] if op[2] == "oldest" else ids[-1],)
            books.pay(demo_config, f"stripe:pi_{n}", op[1], targets=targets)
        elif books.payments:
            payment_id = sorted(books.payments)[op[1] % len(books.payments)]
            record = books.payments[payment_id]
            left = record.amount_minor - record.refunded_minor
            if left == 0:
                continue
            if kind == "refund":
                amount = left if op[3] else max(1, left * op[2] // 100)
                books.reverse(payment_id, amount, key=f"rf_{n}")
            elif not record.disputed_minor:
                books.reverse(payment_id, left, key=f"dp_{n}", kind="dispute")
        # THEN after every step: conserved, nothing negative, the account's open bills exact
        assert_books_balance(books)


@pytest.mark.parametrize(("field", "value"), [("surplus", "both"), ("refund_approval_minor", -1)])
def test_the_refund_settings_are_checked(demo_config, field, value):
    from pydantic import ValidationError

    from propdesk.config import PaymentSettings, PropertyConfig

    assert (PaymentSettings.model_fields["surplus"].default, demo_config.payment.refund_approval_minor) == (
        "credit",
        50_000,
    )
    data = demo_config.model_dump(by_alias=True, mode="json")
    data["payment"][field] = value
    with pytest.raises(ValidationError):
        PropertyConfig.model_validate(data)
