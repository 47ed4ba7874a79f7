"""Bills written in batches (issue 8, scale): what a second cycle costs, and that it stays
exactly once: a copy of the batch running at once, a rerun after a payment, a crash between the
bills and their entries, a period issued out of order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ops_support import import_demo_units

from bench.capacity import Watch
from propdesk.services import notices
from propdesk.services.accounts import account_view
from propdesk.services.notices import issue_bills
from propdesk.services.payments import IncomingPayment, record_payment
from propdesk.store import issuing
from propdesk.store.accounts import AccountStore
from propdesk.store.bills import BillRepository
from propdesk.store.models import BillItem, LedgerItem

NOW = datetime(2026, 6, 16, 1, 0, tzinfo=UTC)
UNITS = 50  # one batch


@pytest.fixture
def unit_ids(aws, demo_config):
    import_demo_units(demo_config, UNITS)
    from propdesk.store.units import UnitRepository

    ids = sorted(UnitRepository().ids(b.code for b in demo_config.buildings))
    assert len(ids) == UNITS
    return ids


def first_cycle(unit_ids, config):
    """Each unit's first bill: a posting (it opens the account)."""
    result = issue_bills("2026-07", unit_ids, config=config, now=NOW)
    assert result.created == UNITS


def desk_payment(unit_id: str, amount_minor: int, key: str, config) -> None:
    outcome = record_payment(
        IncomingPayment(
            payment_id=f"desk:{key}",
            provider="desk",
            method="cash",
            channel="front_desk",
            unit_id=unit_id,
            amount_minor=amount_minor,
            currency=config.currency,
            paid_at=NOW + timedelta(days=40),
            recorded_by="cashier-1",
            unit_known=True,
        ),
        config=config,
        now=NOW + timedelta(days=40),
    )
    assert outcome.record is not None


def test_a_second_cycle_is_written_in_batches_at_two_write_units_a_bill(unit_ids, demo_config):
    # GIVEN every unit billed once (accounts open, no credit)
    first_cycle(unit_ids, demo_config)
    # WHEN the next period's batch of 50 is issued
    with Watch() as watch:
        result = issue_bills("2026-08", unit_ids, config=demo_config, now=NOW + timedelta(days=31))
    # THEN 50 bills are created with no transaction and no write to any account
    assert result.created == UNITS
    dynamodb = {op.split(":")[1]: n for op, n in watch.calls.items() if op.startswith("dynamodb:")}
    assert "TransactWriteItems" not in dynamodb and "UpdateItem" not in dynamodb
    # the bills and their charge entries, 25 a request; the batch's lease taken and given back
    assert dynamodb["BatchWriteItem"] == 4
    assert dynamodb["PutItem"] == 1 and dynamodb["DeleteItem"] == 1
    assert "Scan" not in dynamodb
    # AND the bills and their ledger entries cost at most 2 write units a bill
    meter = watch.meter
    assert meter is not None
    bills_and_entries = sum(n for table, n in meter.tables.items() if "bills" in table or "ledger" in table)
    assert bills_and_entries <= 2 * UNITS
    assert meter.table_units <= 2 * UNITS + 2  # the lease: one unit to take, one to give back
    # AND each bill has one ledger entry: its charge on the account
    bill_id = f"{unit_ids[0]}#2026-08"
    assert LedgerItem.count(f"bill#{bill_id}") == 0
    assert [i.event for i in LedgerItem.query(f"account#{unit_ids[0]}")] == ["charge", "charge"]
    # AND the owner's page shows both bills open, oldest first
    view = account_view(unit_ids[0])
    assert view is not None
    assert [b.period for b in view.open_bills] == ["2026-07", "2026-08"]


def test_a_copy_of_the_batch_running_at_once_writes_nothing_and_is_retried(unit_ids, demo_config):
    first_cycle(unit_ids, demo_config)
    later = NOW + timedelta(days=31)
    # GIVEN another invocation holds the batch's lease (the same message delivered twice)
    lease = issuing.lease_name("2026-08", list(reversed(unit_ids)))  # the same units, any order
    token = issuing.take_lease(lease, now=later)
    # WHEN this copy runs
    with pytest.raises(issuing.BatchInFlight):
        issue_bills("2026-08", unit_ids, config=demo_config, now=later)
    # THEN it wrote nothing (the queue retries it)
    assert BillItem.count() == UNITS
    # AND once the holder is done, the retry issues the batch once
    issuing.give_back(lease, token)
    assert issue_bills("2026-08", unit_ids, config=demo_config, now=later).created == UNITS
    assert issue_bills("2026-08", unit_ids, config=demo_config, now=later).existing == UNITS
    assert BillItem.count() == 2 * UNITS


def test_a_lease_left_by_a_crashed_holder_runs_out(unit_ids, demo_config):
    first_cycle(unit_ids, demo_config)
    later = NOW + timedelta(days=31)
    issuing.take_lease(issuing.lease_name("2026-08", unit_ids), now=later)  # never given back
    with pytest.raises(issuing.BatchInFlight):
        issue_bills("2026-08", unit_ids, config=demo_config, now=later + timedelta(seconds=60))
    after = later + issuing.ISSUE_LEASE + timedelta(seconds=1)
    assert issue_bills("2026-08", unit_ids, config=demo_config, now=after).created == UNITS


def test_a_rerun_after_a_payment_leaves_the_paid_bill_as_it_is(unit_ids, demo_config):
    # GIVEN the second period issued in a batch, and its bill for one unit paid at the desk
    first_cycle(unit_ids, demo_config)
    issue_bills("2026-08", unit_ids, config=demo_config, now=NOW + timedelta(days=31))
    unit = unit_ids[0]
    bills = BillRepository()
    july, august = bills.get(f"{unit}#2026-07"), bills.get(f"{unit}#2026-08")
    desk_payment(unit, july.total_minor + august.total_minor, "both", demo_config)
    paid = bills.get(august.bill_id)
    assert paid.status == "paid" and paid.paid_minor == august.total_minor
    # WHEN the batch is run again (a redelivery or an operator's rerun)
    result = issue_bills("2026-08", unit_ids, config=demo_config, now=NOW + timedelta(days=32))
    # THEN nothing is created or overwritten: the bill stays paid, the account owes nothing
    assert (result.created, result.existing) == (0, UNITS)
    assert bills.get(august.bill_id) == paid
    view = account_view(unit)
    assert view is not None and view.open_bills == () and view.credit_minor == 0
    # AND the charge is recorded once
    assert len([i for i in LedgerItem.query(f"account#{unit}") if i.event == "charge"]) == 2


def test_the_desk_pays_a_bill_issued_in_a_batch_and_the_account_records_it(unit_ids, demo_config):
    first_cycle(unit_ids, demo_config)
    issue_bills("2026-08", unit_ids, config=demo_config, now=NOW + timedelta(days=31))
    unit = unit_ids[1]
    august = BillRepository().get(f"{unit}#2026-08")
    july = BillRepository().get(f"{unit}#2026-07")
    # WHEN cash for both months is recorded against the unit (no bill named)
    desk_payment(unit, july.total_minor + august.total_minor, "cash", demo_config)
    # THEN both bills are paid, oldest first, and the account reflects the charges it has seen
    assert BillRepository().get(august.bill_id).status == "paid"
    account = AccountStore().get(unit)
    assert account is not None
    assert account.open_bill_ids == () and account.charges_seen == 2
    assert account.charges_through == f"charge#{august.bill_id}"


def test_a_crash_between_the_bills_and_their_entries_is_mended_by_the_rerun(
    unit_ids, demo_config, monkeypatch
):
    first_cycle(unit_ids, demo_config)
    later = NOW + timedelta(days=31)

    def crash(bills):
        raise RuntimeError("function timed out")

    # GIVEN a run that wrote the bills and died before their charge entries
    with monkeypatch.context() as patch:
        patch.setattr(issuing, "write_charges", crash)
        with pytest.raises(RuntimeError):
            issue_bills("2026-08", unit_ids, config=demo_config, now=later)
    assert BillItem.count() == 2 * UNITS
    assert account_view(unit_ids[0]).open_bills[-1].period == "2026-07"  # not found yet
    # WHEN the queue runs the batch again
    result = issue_bills("2026-08", unit_ids, config=demo_config, now=later + timedelta(minutes=6))
    # THEN no bill is written twice, the entries are there, and the owner sees the bill
    assert (result.created, result.existing, result.notices) == (0, UNITS, UNITS)
    assert [i.event for i in LedgerItem.query(f"account#{unit_ids[0]}")] == ["charge", "charge"]
    assert [b.period for b in account_view(unit_ids[0]).open_bills] == ["2026-07", "2026-08"]


def test_a_period_issued_out_of_order_is_found_after_a_later_one(unit_ids, demo_config):
    # GIVEN July and September issued, and a payment that read the account since (its fold kept)
    first_cycle(unit_ids, demo_config)
    issue_bills("2026-09", unit_ids, config=demo_config, now=NOW + timedelta(days=62))
    unit = unit_ids[2]
    july = BillRepository().get(f"{unit}#2026-07")
    desk_payment(unit, july.total_minor, "july", demo_config)
    account = AccountStore().get(unit)
    assert account.charges_through == f"charge#{unit}#2026-09" and account.charges_seen == 2
    # WHEN August is issued afterwards (an admin's backdated cycle), in a batch
    issue_bills("2026-08", unit_ids, config=demo_config, now=NOW + timedelta(days=63))
    # THEN the owner sees August and September open, oldest first
    assert [b.period for b in account_view(unit).open_bills] == ["2026-08", "2026-09"]


def test_credit_on_the_account_pays_the_new_bill_in_a_transaction(unit_ids, demo_config):
    first_cycle(unit_ids, demo_config)
    unit = unit_ids[3]
    july = BillRepository().get(f"{unit}#2026-07")
    desk_payment(unit, july.total_minor + 500, "extra", demo_config)  # 5.00 left as credit
    with Watch() as watch:
        issue_bills("2026-08", unit_ids, config=demo_config, now=NOW + timedelta(days=31))
    # THEN that unit's bill went through a transaction, the other 49 in batches
    assert watch.calls["dynamodb:TransactWriteItems"] == 1
    august = BillRepository().get(f"{unit}#2026-08")
    assert august.paid_minor == 500 and august.payment_id == notices.CREDIT_PAYMENT
    assert AccountStore().get(unit).credit_minor == 0


def test_a_checkout_of_a_bill_issued_in_a_batch_records_it_on_the_account(unit_ids, demo_config):
    first_cycle(unit_ids, demo_config)
    issue_bills("2026-08", unit_ids, config=demo_config, now=NOW + timedelta(days=31))
    unit = unit_ids[4]
    august = BillRepository().get(f"{unit}#2026-08")
    # WHEN the owner pays August alone by card (the checkout names the bill)
    paid_at = NOW + timedelta(days=35)
    record_payment(
        IncomingPayment(
            payment_id="stripe:pi_august",
            provider="stripe",
            method="card",
            channel="online",
            unit_id=unit,
            amount_minor=august.total_minor,
            currency=demo_config.currency,
            paid_at=paid_at,
            targets=(august.bill_id,),
        ),
        config=demo_config,
        now=paid_at,
    )
    # THEN August is paid, July still open, and the account has taken in August's charge:
    # the next reader finds nothing new (no bill read twice)
    assert BillRepository().get(august.bill_id).status == "paid"
    account = AccountStore().get(unit)
    assert account.open_bill_ids == (f"{unit}#2026-07",) and account.charges_seen == 2
    assert AccountStore().charges(account) is None
    assert [b.period for b in account_view(unit).open_bills] == ["2026-07"]
