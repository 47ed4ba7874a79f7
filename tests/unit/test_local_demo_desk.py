"""The demo's second act (``infra.local.demo``): which units it picks, and its checks against
the records. A passing world is built from plain records; each check is then shown to fail when
the records say otherwise."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

import pytest

from infra.local.demo import (
    ADMINS,
    CASHIER,
    COLLECTOR,
    POS_REFERENCE,
    DeskAct,
    DeskRecords,
    DeskUnits,
    Owner,
    ReceiptPdf,
    Sent,
    choose_desk_units,
    desk_summary_lines,
    duplicate_note,
    next_receipt,
    receipt_runs,
    verify_desk,
)
from propdesk.domain.accounts import Allocation
from propdesk.domain.billing import Bill
from propdesk.services.visits import Visit
from propdesk.store.accounts import Account
from propdesk.store.payments import PaymentRecord
from propdesk.store.refunds import RefundRecord
from tests.paytools import make_bill

PERIOD, NEXT = "2027-01", "2027-02"
AT = datetime(2026, 12, 17, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
UNITS = DeskUnits(
    front_desk="A-1", partial="A-2", overpaid="A-3", double="B-9", void="A-4", visit="A-5", all_bills="A-6"
)
OWED = dict.fromkeys(UNITS.all(), 30000) | {"B-9": 52000}
DUPLICATE_ID = "stripe:pi_dup"
ALL_BILLS_ID = "stripe:pi_all"


def receipt(sequence: int, year: int = 2026) -> str:
    return f"DEMO-{year}-{sequence:06d}"


def bill(unit: str, period: str = PERIOD, paid: int = 0, total: int | None = None) -> Bill:
    total = OWED[unit] if total is None else total
    status = "paid" if paid >= total else "open"
    return replace(make_bill(unit, period), total_minor=total, paid_minor=paid, status=status)


def payment(payment_id: str, unit: str, amount: int, number: str, **fields: object) -> PaymentRecord:
    defaults: dict[str, object] = {
        "provider": "desk",
        "method": "cash",
        "channel": "front_desk",
        "status": "allocated",
        "recorded_by": CASHIER,
        "allocations": (Allocation(f"{unit}#{PERIOD}", amount),),
    }
    return PaymentRecord(
        payment_id=payment_id,
        unit_id=unit,
        amount_minor=amount,
        currency="CNY",
        received_at=AT,
        paid_at=AT,
        receipt_no=number,
        **(defaults | fields),  # type: ignore[arg-type]
    )


def online(payment_id: str, unit: str, amount: int, number: str, **fields: object) -> PaymentRecord:
    return payment(
        payment_id,
        unit,
        amount,
        number,
        provider="stripe",
        method="card",
        channel="online",
        recorded_by=None,
        **fields,
    )


@dataclass
class World:
    act: DeskAct
    before: DeskRecords
    after: DeskRecords


def world() -> World:
    """What a good run leaves: every scenario done, the tables agreeing."""
    act = DeskAct(
        base_url="http://127.0.0.1:8000",
        period=PERIOD,
        day=date(2026, 12, 17),
        time_zone="Asia/Shanghai",
        currency="CNY",
        refund_approval_minor=50000,
        units=UNITS,
        bills=dict(OWED),
        tokens={unit: f"token-{unit}" for unit in UNITS.all()},
        owners={"B-9": Owner("B-9", "O-B-9", "b9@mail.example.com", None, "en")},
        last_online_receipt=receipt(2),
        unit_count=312,
    )
    payments = [
        online("stripe:pi_1", "Z-1", 30000, receipt(1), allocations=(Allocation("Z-1#2027-01", 30000),)),
        online("stripe:pi_2", "Z-2", 30000, receipt(2), allocations=(Allocation("Z-2#2027-01", 30000),)),
        payment("desk:demo-full-A-1", "A-1", 30000, receipt(3)),
        payment(
            "desk:demo-half-A-2",
            "A-2",
            15000,
            receipt(4),
            method="bank_card",
            reference=POS_REFERENCE,
        ),
        payment(
            "desk:demo-over-A-3",
            "A-3",
            35000,
            receipt(5),
            allocations=(Allocation("A-3#2027-01", 30000),),
            credit_minor=5000,
        ),
        payment("desk:demo-desk-B-9", "B-9", 52000, receipt(6)),
        online(
            DUPLICATE_ID,
            "B-9",
            52000,
            receipt(7),
            allocations=(),
            status="refunded",
            refunded_minor=52000,
            review_reason="duplicate",
            review_note="refunded in full",
        ),
        payment(
            "desk:demo-mistake-A-4",
            "A-4",
            30000,
            receipt(8),
            status="voided",
            void_requested_by=ADMINS[0],
            voided_by=ADMINS[1],
        ),
        payment("desk:demo-door-A-5", "A-5", 30000, receipt(9), channel="home_visit", recorded_by=COLLECTOR),
    ]
    for scenario, found in zip(
        ("front_desk", "partial", "overpaid", "double_desk", "double_online", "void", "visit"),
        payments[2:],
        strict=True,
    ):
        act.taken[scenario] = {"payment_id": found.payment_id, "receipt_no": found.receipt_no}
    cashiers = [p for p in payments if p.recorded_by == CASHIER]
    act.queued = {DUPLICATE_ID: "duplicate"}
    act.credit_before_double = 0
    act.refund = {"refund_id": "rf_demo-refund-B-9"}
    act.answers = {"void_own_approval": 403, "void_other_approval": 200, "visit_booking": 303}
    act.visit = {"visit_id": "A-5_2026-12-18_0900", "day": "2026-12-18", "slot": "09:00-11:00"}
    act.cash_up = {
        "totals_by_method": {"cash": 30000 + 35000 + 52000, "bank_card": 15000},
        "total_minor": 132000,
        "payments": [{"payment_id": p.payment_id, "status": p.status} for p in cashiers],
    }
    act.receipt_pdf = ReceiptPdf(receipt(3), 200, b"%PDF-", 3451)
    act.next_period = NEXT
    act.open_bills_before = 2
    act.taken["all_bills"] = {"payment_id": ALL_BILLS_ID, "receipt_no": receipt(1, 2027)}
    bills = [
        bill("A-1", paid=30000),
        bill("A-2", paid=15000),
        bill("A-3", paid=30000),
        bill("B-9", paid=52000),
        bill("A-4"),
        bill("A-5", paid=30000),
        bill("A-6"),
    ]
    before = DeskRecords(
        bills={b.bill_id: b for b in bills},
        accounts={
            unit: Account(unit, f"O-{unit}", "CNY", credit_minor=5000 if unit == "A-3" else 0)
            for unit in UNITS.all()
        },
        payments={p.payment_id: p for p in payments},
        refunds={
            "rf_demo-refund-B-9": RefundRecord(
                refund_id="rf_demo-refund-B-9",
                payment_id=DUPLICATE_ID,
                unit_id="B-9",
                amount_minor=52000,
                currency="CNY",
                reason="Paid twice",
                requested_by=CASHIER,
                status="succeeded",
                created_at=AT,
                updated_at=AT,
                approved_by=ADMINS[0],
                provider_refund_id="re_1",
            )
        },
        visits={
            "A-5_2026-12-18_0900": Visit(
                visit_id="A-5_2026-12-18_0900",
                unit_id="A-5",
                day=date(2026, 12, 18),
                slot="09:00-11:00",
                status="done",
                booked_by="owner",
                note=None,
                payment_id="desk:demo-door-A-5",
                created_at=AT,
            )
        },
        messages=[
            Sent(f"payment_receipt#{receipt(7)}", "payment_receipt", "sent"),
            Sent(f"payment_refunded#{DUPLICATE_ID}#stripe_refund_52000", "payment_refunded", "sent"),
        ],
        email=[
            {
                "to": ["b9@mail.example.com"],
                "body": f"Receipt no.: {receipt(7)}\n{duplicate_note('en')} 520.00 CNY is kept as credit.",
            }
        ],
        credited={DUPLICATE_ID: 52000},
    )
    all_bills = online(
        ALL_BILLS_ID,
        "A-6",
        60000,
        receipt(1, 2027),
        allocations=(Allocation("A-6#2027-01", 30000), Allocation("A-6#2027-02", 30000)),
    )
    new_bills = [bill(unit, NEXT) for unit in UNITS.all()]
    new_bills += [bill("A-3", NEXT, paid=5000), bill("A-6", NEXT, paid=30000), bill("A-6", paid=30000)]
    after = replace(
        before,
        bills=before.bills | {b.bill_id: b for b in new_bills},
        accounts=before.accounts | {"A-3": Account("A-3", "O-A-3", "CNY")},
        payments=before.payments | {ALL_BILLS_ID: all_bills},
        next_period_bills=312,
    )
    return World(act, before, after)


def failed(checks) -> list[str]:
    return [text for ok, text in checks.results if not ok]


def test_a_good_run_passes_every_check():
    # GIVEN what a good run leaves
    w = world()
    # WHEN the second act is checked
    checks = verify_desk(w.act, w.before, w.after)
    # THEN every check passes, and there is one per scenario and more
    assert failed(checks) == []
    assert len(checks.results) == 22


def _payment(records: DeskRecords, payment_id: str, **changes: object) -> None:
    records.payments[payment_id] = replace(records.payments[payment_id], **changes)  # type: ignore[arg-type]


def _bill(records: DeskRecords, bill_id: str, **changes: object) -> None:
    records.bills[bill_id] = replace(records.bills[bill_id], **changes)  # type: ignore[arg-type]


def _account(records: DeskRecords, unit: str, credit: int) -> None:
    records.accounts[unit] = replace(records.accounts[unit], credit_minor=credit)


Break = Callable[[World], None]

BREAKS: list[tuple[str, str, Break]] = [
    ("a scenario stopped", "second act stopped", lambda w: w.act.problems.append("void: 500")),
    (
        "recorded by someone else",
        "front desk:",
        lambda w: _payment(w.before, "desk:demo-full-A-1", recorded_by="somebody"),
    ),
    (
        "a receipt number skipped",
        "its receipt number follows",
        lambda w: setattr(w.act, "last_online_receipt", receipt(1)),
    ),
    ("the partial bill paid less", "partial:", lambda w: _bill(w.before, "A-2#2027-01", paid_minor=14999)),
    ("no credit kept", "overpayment:", lambda w: _account(w.before, "A-3", 0)),
    (
        "the desk cash landed as credit",
        "double payment: the cash",
        lambda w: _payment(w.before, "desk:demo-desk-B-9", allocations=()),
    ),
    ("not in the queue", "the owner's online payment", lambda w: w.act.queued.clear()),
    (
        "the receipt does not say it",
        "the owner's receipt",
        lambda w: w.before.email[0].update(body=f"Receipt no.: {receipt(7)}"),
    ),
    (
        "approved by nobody",
        "refund:",
        lambda w: w.before.refunds.update(
            {"rf_demo-refund-B-9": replace(w.before.refunds["rf_demo-refund-B-9"], approved_by=None)}
        ),
    ),
    (
        "still in the queue",
        "the refunded payment left the queue",
        lambda w: _payment(w.before, DUPLICATE_ID, review_state="open"),
    ),
    ("the owner not told", "the owner was told", lambda w: w.before.messages.pop()),
    (
        "approved by the admin who asked",
        "void: the admin who asked",
        lambda w: w.act.answers.update(void_own_approval=200),
    ),
    ("the bill still paid", "voided:", lambda w: _bill(w.before, "A-4#2027-01", status="paid")),
    (
        "the visit still booked",
        "home visit:",
        lambda w: w.before.visits.update(
            {"A-5_2026-12-18_0900": replace(w.before.visits["A-5_2026-12-18_0900"], status="booked")}
        ),
    ),
    (
        "a cash-up total off",
        "cash-up of",
        lambda w: w.act.cash_up["totals_by_method"].update(cash=116999),
    ),
    (
        "the voided payment not listed",
        "the voided payment is listed",
        lambda w: w.act.cash_up["payments"].pop(),
    ),
    (
        "not a PDF",
        "receipt PDF",
        lambda w: setattr(w.act, "receipt_pdf", ReceiptPdf(receipt(3), 200, b"<html", 99)),
    ),
    (
        "a bill missing",
        "second cycle",
        lambda w: setattr(w, "after", replace(w.after, next_period_bills=311)),
    ),
    ("the credit not used", "A-3's 2027-02 bill", lambda w: _account(w.after, "A-3", 5000)),
    ("one bill open before", "A-6 owed two bills", lambda w: setattr(w.act, "open_bills_before", 1)),
    (
        "a receipt number skipped in the table",
        "every receipt number",
        lambda w: _payment(w.after, ALL_BILLS_ID, receipt_no=receipt(2, 2027)),
    ),
    ("money lost", "money conserved", lambda w: _payment(w.after, "desk:demo-over-A-3", credit_minor=4999)),
    (
        "a message stuck",
        "every message",
        lambda w: w.after.messages.append(Sent("x", "bill_notice", "queued")),
    ),
]


@pytest.mark.parametrize(("what", "check", "breaks"), BREAKS, ids=[b[0] for b in BREAKS])
def test_each_check_fails_when_the_records_disagree(what: str, check: str, breaks: Break):
    # GIVEN a good run, with one thing wrong
    w = world()
    breaks(w)
    # WHEN it is checked
    failures = failed(verify_desk(w.act, w.before, w.after))
    # THEN that check fails
    assert any(text.startswith(check) for text in failures), failures


def test_the_units_are_chosen_the_same_every_time():
    # GIVEN the unpaid units' bills; the largest with e-mail is B-9
    bills = {"A-1": 30000, "A-2": 30000, "A-3": 31000, "A-4": 30000, "A-5": 30000, "A-6": 30000}
    bills |= {"A-7": 30000, "B-9": 52000, "C-1": 60000}
    # WHEN the units are chosen
    units = choose_desk_units(bills, with_email=set(bills) - {"C-1"})
    # THEN the double payment is on the largest bill with e-mail, the rest in unit order
    assert units == DeskUnits("A-1", "A-2", "A-3", "B-9", "A-4", "A-5", "A-6")


def test_receipt_numbers_follow_and_run_per_year():
    assert next_receipt("DEMO-2026-000270") == "DEMO-2026-000271"
    assert next_receipt(None) is None
    runs = receipt_runs(["DEMO-2027-000001", "DEMO-2026-000002", "DEMO-2026-000001"])
    assert runs == {"DEMO-2026": [1, 2], "DEMO-2027": [1]}


def test_the_summary_has_a_line_per_scenario_even_when_one_stopped():
    # GIVEN a run whose refund never happened
    w = world()
    w.act.refund = {}
    # WHEN the summary section is made
    lines = desk_summary_lines(w.act)
    # THEN it still has every line, with "?" where a figure is missing
    labels = [line.split()[0] for line in lines[2:12]]
    assert labels == [
        "front",
        "partial",
        "overpayment",
        "double",
        "refund",
        "void",
        "home",
        "cash-up",
        "receipt",
        "next",
    ]
    assert "? back through stripe" in lines[6]  # the rail of the online payment (Stripe by default)
