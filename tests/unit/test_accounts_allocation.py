"""Allocating payments to a unit's open bills: the rules, and money conserved (Hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from propdesk.domain.accounts import (
    Allocation,
    AllocationError,
    OpenBill,
    Plan,
    allocate,
    owed_after,
)

JAN = OpenBill("A-101#2027-01", "2027-01", 30_000)
FEB = OpenBill("A-101#2027-02", "2027-02", 30_000, late_fee_minor=1_500)
MAR = OpenBill("A-101#2027-03", "2027-03", 30_000)


def test_the_oldest_bill_is_paid_first_whatever_order_the_bills_come_in():
    plan = allocate(45_000, [MAR, FEB, JAN])
    assert plan == Plan((Allocation(JAN.bill_id, 30_000), Allocation(FEB.bill_id, 15_000)), credit_minor=0)


def test_a_partial_payment_leaves_the_rest_of_the_bill_open():
    plan = allocate(10_000, [JAN])
    assert plan.allocations == (Allocation(JAN.bill_id, 10_000),)
    assert owed_after(JAN, plan.for_bill(JAN.bill_id)).owed_minor == 20_000


def test_principal_or_late_fee_first_as_configured():
    assert allocate(31_000, [FEB]).allocations == (Allocation(FEB.bill_id, 30_000, 1_000),)
    assert allocate(31_000, [FEB], order="late_fee_first").allocations == (
        Allocation(FEB.bill_id, 29_500, 1_500),
    )
    assert allocate(1_000, [FEB], order="late_fee_first").allocations == (Allocation(FEB.bill_id, 0, 1_000),)


def test_one_payment_can_settle_every_open_bill_and_the_rest_is_credit():
    plan = allocate(100_000, [JAN, FEB, MAR])
    assert [a.amount_minor for a in plan.allocations] == [30_000, 31_500, 30_000]
    assert plan.credit_minor == 100_000 - 91_500


def test_a_payment_made_for_one_bill_pays_that_bill_and_what_it_overpays_is_credit():
    plan = allocate(35_000, [JAN, FEB, MAR], targets={MAR.bill_id})
    assert plan.allocations == (Allocation(MAR.bill_id, 30_000),)
    assert plan.credit_minor == 5_000


def test_nothing_owed_means_everything_is_credit():
    assert allocate(12_345, []) == Plan((), 12_345)
    assert allocate(0, [JAN]) == Plan((), 0)


@pytest.mark.parametrize("amount", [-1, 1.5, True, "100"])
def test_an_amount_that_is_not_a_non_negative_whole_number_is_refused(amount):
    with pytest.raises(AllocationError):
        allocate(amount, [JAN])  # type: ignore[arg-type]


def test_a_bill_owing_a_negative_amount_is_refused():
    with pytest.raises(AllocationError):
        allocate(100, [OpenBill("x", "2027-01", -5)])
    with pytest.raises(AllocationError):
        owed_after(JAN, Allocation(JAN.bill_id, 30_001))


open_bills = st.lists(
    st.builds(
        OpenBill,
        bill_id=st.uuids().map(str),
        period=st.sampled_from([f"2027-{m:02d}" for m in range(1, 13)]),
        principal_minor=st.integers(0, 10_000_000),
        late_fee_minor=st.integers(0, 1_000_000),
    ),
    max_size=12,
    unique_by=lambda bill: bill.bill_id,
)


@settings(max_examples=300, deadline=None)
@given(
    amount=st.integers(0, 50_000_000),
    bills=open_bills,
    order=st.sampled_from(["principal_first", "late_fee_first"]),
    targeted=st.booleans(),
)
def test_money_is_conserved_and_never_negative(amount, bills, order, targeted):
    targets = {bill.bill_id for bill in bills[::2]} if targeted else None
    plan = allocate(amount, bills, order=order, targets=targets)
    # every minor unit lands once: on a bill or as credit
    assert plan.allocated_minor + plan.credit_minor == amount
    assert plan.credit_minor >= 0
    owed = {bill.bill_id: bill for bill in bills}
    for allocation in plan.allocations:
        bill = owed[allocation.bill_id]
        assert 0 <= allocation.principal_minor <= bill.principal_minor
        assert 0 <= allocation.late_fee_minor <= bill.late_fee_minor
        assert allocation.amount_minor > 0
        assert targets is None or allocation.bill_id in targets
        assert owed_after(bill, allocation).owed_minor >= 0
    # credit only when every eligible bill is paid in full
    eligible = [bill for bill in bills if targets is None or bill.bill_id in targets]
    if plan.credit_minor:
        assert all(owed_after(bill, plan.for_bill(bill.bill_id)).owed_minor == 0 for bill in eligible)
    # the oldest first: a newer bill gets money only once every older eligible bill is paid
    paid_in_full = [
        owed_after(b, plan.for_bill(b.bill_id)).owed_minor == 0
        for b in sorted(eligible, key=lambda b: (b.period, b.bill_id))
    ]
    touched = [
        plan.for_bill(b.bill_id) is not None for b in sorted(eligible, key=lambda b: (b.period, b.bill_id))
    ]
    for index, got_money in enumerate(touched):
        if got_money:
            assert all(paid_in_full[:index])
