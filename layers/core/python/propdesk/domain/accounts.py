"""A unit's account (户账): what it owes, what it has paid, and how each payment is spread (F4).

Pure rules over plain values, no I/O. Amounts are integer minor units of one currency.

- A bill owes its principal (the fee lines) and, later, a late fee; each is a *charge*.
- A payment is *allocated* to the unit's open bills: the oldest bill first (by period), and
  within a bill principal and late fee in the configured order. What is left becomes the
  account's *credit*, which the next bill issued for the unit uses first.
- A payment made for particular bills (an owner paying one bill on the account page) goes to
  those bills; what it overpays is credit, not a silent payment of other bills.

Money is conserved: for every payment, ``sum(allocations) + credit == amount``; nothing is ever
negative and no charge receives more than it owes. ``tests/unit/test_accounts_allocation.py``
proves both with Hypothesis.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

AllocationOrder = Literal["principal_first", "late_fee_first"]
# The most bills one posting pays: a posting is one DynamoDB transaction (at most 100 items), and
# each bill it pays writes three (the bill, its ledger entry, the account's). What a payment has
# left after that many bills is credit, which pays the next bills as they are issued.
MAX_BILLS_PER_POSTING = 30
PRINCIPAL = "principal"
LATE_FEE = "late_fee"


class AllocationError(ValueError):
    """The input cannot be allocated (a negative amount, a bill owing less than nothing)."""


@dataclass(frozen=True)
class OpenBill:
    """What one bill of the unit still owes, by charge."""

    bill_id: str
    period: str  # "YYYY-MM": the oldest period is paid first
    principal_minor: int
    late_fee_minor: int = 0

    @property
    def owed_minor(self) -> int:
        return self.principal_minor + self.late_fee_minor


@dataclass(frozen=True)
class Allocation:
    """Part of a payment (or of the account's credit) applied to one bill."""

    bill_id: str
    principal_minor: int
    late_fee_minor: int = 0

    @property
    def amount_minor(self) -> int:
        return self.principal_minor + self.late_fee_minor


@dataclass(frozen=True)
class Plan:
    """How an amount is spread: to bills, and the rest to the account's credit."""

    allocations: tuple[Allocation, ...]
    credit_minor: int

    @property
    def allocated_minor(self) -> int:
        return sum(a.amount_minor for a in self.allocations)

    def for_bill(self, bill_id: str) -> Allocation | None:
        return next((a for a in self.allocations if a.bill_id == bill_id), None)


def oldest_first(bills: Iterable[OpenBill]) -> list[OpenBill]:
    """Oldest period first (then bill id): the order a payment pays bills in."""
    return sorted(bills, key=lambda bill: (bill.period, bill.bill_id))


def allocate(
    amount_minor: int,
    bills: Sequence[OpenBill],
    *,
    order: AllocationOrder = "principal_first",
    targets: Collection[str] | None = None,
) -> Plan:
    """Spread ``amount_minor`` over ``bills`` (oldest first); what is left is credit.

    ``targets`` limits the payment to those bills (a payment made for them); ``None`` lets it
    pay any open bill of the unit (the front desk, a bank transfer, the account's credit).
    """
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or amount_minor < 0:
        raise AllocationError("an amount to allocate is a non-negative whole number of minor units")
    for bill in bills:
        if bill.principal_minor < 0 or bill.late_fee_minor < 0:
            raise AllocationError(f"bill {bill.bill_id} owes a negative amount")
    eligible = [bill for bill in oldest_first(bills) if targets is None or bill.bill_id in targets]
    left = amount_minor
    allocations: list[Allocation] = []
    for bill in eligible:
        if left == 0:
            break
        parts = {PRINCIPAL: 0, LATE_FEE: 0}
        for charge in _charges(order):
            owed = bill.principal_minor if charge == PRINCIPAL else bill.late_fee_minor
            take = min(owed, left)
            parts[charge] = take
            left -= take
        if parts[PRINCIPAL] or parts[LATE_FEE]:
            allocations.append(Allocation(bill.bill_id, parts[PRINCIPAL], parts[LATE_FEE]))
    return Plan(allocations=tuple(allocations), credit_minor=left)


def _charges(order: AllocationOrder) -> tuple[str, str]:
    return (PRINCIPAL, LATE_FEE) if order == "principal_first" else (LATE_FEE, PRINCIPAL)


def owed_after(bill: OpenBill, allocation: Allocation | None) -> OpenBill:
    """What ``bill`` still owes once ``allocation`` is applied to it."""
    if allocation is None:
        return bill
    if allocation.principal_minor > bill.principal_minor or allocation.late_fee_minor > bill.late_fee_minor:
        raise AllocationError(f"allocation to {bill.bill_id} exceeds what it owes")
    return OpenBill(
        bill.bill_id,
        bill.period,
        bill.principal_minor - allocation.principal_minor,
        bill.late_fee_minor - allocation.late_fee_minor,
    )
