"""The front desk on moto: a cashier records payments against a unit's account, voids need an
admin's approval, the day closes with a cash-up, and staff work the payment queue."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from ops_support import import_demo_units

from api.handler import lambda_handler
from infra.local.events import staff_claims
from payment_webhook.handler import lambda_handler as webhook_handler
from propdesk.store.accounts import AccountStore
from propdesk.store.bills import BillRepository
from propdesk.store.models import LedgerItem, PaymentItem
from propdesk.store.payments import PaymentRepository
from tests.paytools import checkout_event, event_body, make_bill, store_bill, webhook_request
from tests.route_events import LambdaContext, route_event

CASHIER = staff_claims("cashier", sub="cashier-li")
OTHER_CASHIER = staff_claims("cashier", sub="cashier-wang")
ADMIN = staff_claims("admin", sub="admin-zhao")
OTHER_ADMIN = staff_claims("admin", sub="admin-sun")


def call(key: str, *, claims=CASHIER, **kwargs) -> tuple[int, dict]:
    response = lambda_handler(route_event(key, claims=claims, **kwargs), LambdaContext())
    return response["statusCode"], json.loads(response["body"] or "null")


def pay_at_desk(unit_id: str, request_id: str, amount: int, *, claims=CASHIER, **fields) -> tuple[int, dict]:
    body = {"request_id": request_id, "amount_minor": amount, "method": "cash", **fields}
    return call("record_desk_payment", params={"unit_id": unit_id}, body=body, claims=claims)


@pytest.fixture
def units(aws, demo_config):
    import_demo_units(demo_config, 6)  # A-101 .. with owners O0001 ..


def bills_of(unit_id: str, *periods: str):
    return [store_bill(make_bill(unit_id, period, owner_id="O0001")) for period in periods]


def test_a_cash_payment_pays_the_oldest_bill_first_and_keeps_the_rest_as_credit(units):
    older, newer = bills_of("A-101", "2026-02", "2026-03")
    amount = older.total_minor + newer.total_minor + 5000
    status, body = pay_at_desk("A-101", "req-00000001", amount)
    assert status == 201 and body["created"] is True and body["outcome"] == "credit"
    assert [a["bill_id"] for a in body["allocations"]] == [older.bill_id, newer.bill_id]
    assert body["credit_minor"] == 5000 and body["receipt_no"].endswith("-000001")
    assert body["recorded_by"] == "cashier-li" and body["channel"] == "front_desk"
    assert {BillRepository().get(b.bill_id).status for b in (older, newer)} == {"paid"}
    assert AccountStore().get("A-101").credit_minor == 5000


def test_the_same_request_twice_is_one_payment(units):
    (bill,) = bills_of("A-101", "2026-03")
    first = pay_at_desk("A-101", "req-00000002", 1000)
    again = pay_at_desk("A-101", "req-00000002", 1000)
    assert (first[0], again[0]) == (201, 200) and again[1]["created"] is False
    assert again[1]["receipt_no"] == first[1]["receipt_no"]
    assert BillRepository().get(bill.bill_id).paid_minor == 1000
    assert len(list(PaymentItem.scan())) == 1


def test_a_request_id_reused_for_another_payment_is_refused(units):
    bills_of("A-101", "2026-03")
    pay_at_desk("A-101", "req-00000003", 1000)
    status, body = pay_at_desk("A-101", "req-00000003", 2000)
    assert status == 409 and body["error"] == "request_reused"


def test_a_partial_payment_leaves_the_rest_open(units):
    (bill,) = bills_of("A-101", "2026-03")
    status, body = pay_at_desk("A-101", "req-00000004", 10000)
    assert status == 201 and body["outcome"] == "partial"
    stored = BillRepository().get(bill.bill_id)
    assert (stored.status, stored.paid_minor) == ("open", 10000)
    status, account = call("unit_account", params={"unit_id": "A-101"})
    assert account["owed_minor"] == bill.total_minor - 10000
    assert account["open_bills"][0]["owed_minor"] == bill.total_minor - 10000


def test_an_overpayment_becomes_credit_that_the_next_bill_uses(units):
    (march,) = bills_of("A-101", "2026-03")
    pay_at_desk("A-101", "req-00000005", march.total_minor + 12345)
    april = store_bill(make_bill("A-101", "2026-04", owner_id="O0001"))  # issued as the notice worker does
    assert (april.paid_minor, april.status) == (12345, "open")
    assert AccountStore().get("A-101").credit_minor == 0
    entries = {e.event for e in LedgerItem.query("account#A-101")}
    assert {"charge", "payment", "allocation", "credit", "credit_applied"} <= entries


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"amount_minor": 0}, "greater than 0"),
        ({"amount_minor": -500}, "greater than 0"),
        ({"amount_minor": 12.5}, "whole number"),
        ({"amount_minor": "100"}, "whole number"),
        ({"amount_minor": True}, "whole number"),
        ({"method": "cheque"}, "cheque needs its number"),
        ({"method": "cheque", "cheque_number": "000123"}, "cheque needs its number"),
        ({"method": "bank_card"}, "needs its reference"),
        ({"method": "bank_transfer"}, "needs its reference"),
        ({"method": "bitcoin"}, "method"),
        ({"request_id": "x"}, "request_id"),
    ],
)
def test_bad_desk_input_is_a_clear_4xx_and_changes_nothing(units, fields, problem):
    (bill,) = bills_of("A-101", "2026-03")
    body = {"request_id": "req-00000006", "amount_minor": 1000, "method": "cash", **fields}
    status, answer = call("record_desk_payment", params={"unit_id": "A-101"}, body=body)
    assert status == 422 and answer["error"] == "invalid_request"
    assert problem in json.dumps(answer["details"], ensure_ascii=False)
    assert list(PaymentItem.scan()) == [] and BillRepository().get(bill.bill_id).paid_minor == 0


def test_a_payment_for_an_unknown_unit_is_404_and_changes_nothing(units):
    status, body = pay_at_desk("Z-999", "req-00000007", 1000)
    assert status == 404 and body["error"] == "unknown_unit"
    assert list(PaymentItem.scan()) == []


def test_a_cheque_and_a_card_payment_keep_their_references(units):
    bills_of("A-101", "2026-03")
    status, body = pay_at_desk(
        "A-101", "req-00000008", 500, method="cheque", cheque_number="000123", cheque_bank="ICBC"
    )
    assert status == 201 and body["reference"] == "000123 (ICBC)"
    status, body = pay_at_desk("A-101", "req-00000009", 500, method="bank_card", reference="POS 77")
    assert body["reference"] == "POS 77" and body["method"] == "bank_card"


def test_a_unit_never_billed_gets_an_account_with_the_payment_as_credit(units):
    status, body = pay_at_desk("A-102", "req-00000010", 8000)
    assert status == 201 and body["outcome"] == "credit" and body["credit_minor"] == 8000
    assert AccountStore().get("A-102").credit_minor == 8000


# --- voids ----------------------------------------------------------------------------------------


def test_a_void_needs_another_admin_and_reopens_the_bill_keeping_the_receipt_number(units):
    (bill,) = bills_of("A-101", "2026-03")
    _, paid = pay_at_desk("A-101", "req-00000011", bill.total_minor)
    payment_id = paid["payment_id"]
    status, asked = call(
        "request_void", params={"payment_id": payment_id}, body={"reason": "wrong unit"}, claims=ADMIN
    )
    assert status == 202 and asked["void_requested_by"] == "admin-zhao" and asked["status"] == "allocated"
    assert BillRepository().get(bill.bill_id).status == "paid"  # nothing changes until approved
    status, body = call("approve_void", params={"payment_id": payment_id}, claims=OTHER_ADMIN)
    assert status == 200 and body["status"] == "voided" and body["voided_by"] == "admin-sun"
    assert body["receipt_no"] == paid["receipt_no"]
    stored = BillRepository().get(bill.bill_id)
    assert (stored.status, stored.paid_minor) == ("open", 0)
    assert AccountStore().get("A-101").open_bill_ids == (bill.bill_id,)


def test_money_32_a_void_approved_by_who_asked_for_it_or_recorded_it_is_refused(units):
    (bill,) = bills_of("A-101", "2026-03")
    # GIVEN a payment recorded by an admin working the desk, and a void that admin asked for
    _, paid = pay_at_desk("A-101", "req-00000012", bill.total_minor, claims=ADMIN)
    payment_id = paid["payment_id"]
    call("request_void", params={"payment_id": payment_id}, body={"reason": "typo"}, claims=ADMIN)
    # WHEN the same admin approves it
    status, body = call("approve_void", params={"payment_id": payment_id}, claims=ADMIN)
    # THEN 403, and nothing changed
    assert status == 403 and body["error"] == "self_approval"
    assert PaymentRepository().get(payment_id).status == "allocated"
    assert BillRepository().get(bill.bill_id).status == "paid"
    # AND a cashier may not approve at all (the route is admins')
    status, _ = call("approve_void", params={"payment_id": payment_id}, claims=CASHIER)
    assert status == 403


def test_a_void_is_asked_for_with_a_reason_and_only_for_desk_payments(units):
    (bill,) = bills_of("A-101", "2026-03")
    webhook_handler(
        webhook_request(event_body(checkout_event(bill, payment_intent="pi_v1"))), LambdaContext()
    )
    status, body = call("request_void", params={"payment_id": "stripe:pi_v1"}, body={"reason": "x y z"})
    assert status == 409 and body["error"] == "not_a_desk_payment"
    status, body = call("request_void", params={"payment_id": "desk:nothing-here"}, body={"reason": "x y z"})
    assert status == 404
    status, body = call("request_void", params={"payment_id": "stripe:pi_v1"}, body={})
    assert status == 422


# --- the cash-up ----------------------------------------------------------------------------------


def test_the_cash_up_totals_by_method_match_the_payments_and_leave_out_voids(units):
    bills_of("A-101", "2026-03")
    pay_at_desk("A-101", "req-00000013", 1000)
    pay_at_desk("A-101", "req-00000014", 2500)
    pay_at_desk("A-101", "req-00000015", 700, method="bank_card", reference="POS 1")
    _, voided = pay_at_desk("A-101", "req-00000016", 999)
    pay_at_desk("A-101", "req-00000017", 4000, claims=OTHER_CASHIER)
    call("request_void", params={"payment_id": voided["payment_id"]}, body={"reason": "duplicate"})
    call("approve_void", params={"payment_id": voided["payment_id"]}, claims=ADMIN)
    status, body = call("cash_up")
    assert status == 200
    assert body["totals_by_method"] == {"cash": 3500, "bank_card": 700}
    assert body["count_by_method"] == {"cash": 2, "bank_card": 1}
    assert body["total_minor"] == 4200
    assert len(body["payments"]) == 4  # the voided one is listed
    assert sum(p["amount_minor"] for p in body["payments"] if p["status"] != "voided") == body["total_minor"]
    # a cashier reads only their own day; an admin reads anyone's
    assert call("cash_up", query={"cashier": "cashier-wang"})[0] == 403
    status, theirs = call("cash_up", query={"cashier": "cashier-wang"}, claims=ADMIN)
    assert status == 200 and theirs["total_minor"] == 4000
    yesterday = (datetime.now(UTC) + timedelta(hours=8) - timedelta(days=1)).date().isoformat()
    assert call("cash_up", query={"date": yesterday})[1]["total_minor"] == 0


# --- the payment queue ----------------------------------------------------------------------------


def test_a_double_payment_waits_in_the_queue_until_staff_keep_it_as_credit(units):
    (bill,) = bills_of("A-101", "2026-03")
    for intent in ("pi_q1", "pi_q2"):
        webhook_handler(
            webhook_request(event_body(checkout_event(bill, payment_intent=intent))), LambdaContext()
        )
    status, queue = call("payment_queue")
    assert status == 200 and [p["payment_id"] for p in queue["payments"]] == ["stripe:pi_q2"]
    assert queue["payments"][0]["review_reason"] == "duplicate"
    status, body = call(
        "resolve_payment", params={"payment_id": "stripe:pi_q2"}, body={"action": "keep_credit"}
    )
    assert status == 200 and body["review_state"] is None and body["review_note"] == "keep_credit"
    assert call("payment_queue")[1]["payments"] == []
    status, body = call(
        "resolve_payment", params={"payment_id": "stripe:pi_q2"}, body={"action": "keep_credit"}
    )
    assert status == 409 and body["error"] == "not_in_queue"


def test_staff_allocate_a_double_payment_s_credit_to_the_unit_s_open_bill(units):
    march, april = bills_of("A-101", "2026-03", "2026-04")
    first = checkout_event(march, payment_intent="pi_a1")
    webhook_handler(webhook_request(event_body(first)), LambdaContext())
    webhook_handler(
        webhook_request(event_body(checkout_event(march, payment_intent="pi_a2"))), LambdaContext()
    )
    status, body = call("resolve_payment", params={"payment_id": "stripe:pi_a2"}, body={"action": "allocate"})
    assert status == 200 and [a["bill_id"] for a in body["allocations"]] == [april.bill_id]
    assert march.total_minor == april.total_minor and body["credit_minor"] == 0
    assert BillRepository().get(april.bill_id).status == "paid"
    assert AccountStore().get("A-101").credit_minor == body["credit_minor"]


def test_a_payment_without_a_unit_lands_where_staff_say(units):
    (bill,) = bills_of("A-101", "2026-03")
    event = checkout_event(bill, payment_intent="pi_lost")
    event["data"]["object"]["metadata"].update(unit_id="Z-1", bill_ids="Z-1#2026-03")
    webhook_handler(webhook_request(event_body(event)), LambdaContext())
    assert PaymentRepository().get("stripe:pi_lost").status == "set_aside"
    status, body = call(
        "resolve_payment", params={"payment_id": "stripe:pi_lost"}, body={"action": "keep_credit"}
    )
    assert status == 400 and body["error"] == "unit_required"
    status, body = call(
        "resolve_payment",
        params={"payment_id": "stripe:pi_lost"},
        body={"action": "allocate", "unit_id": "A-101"},
    )
    assert status == 200 and body["status"] == "allocated" and body["unit_id"] == "A-101"
    assert body["receipt_no"] and BillRepository().get(bill.bill_id).status == "paid"


# --- finding an account, and the bill list --------------------------------------------------------


def test_an_account_is_found_by_unit_number_owner_name_or_phone(units, demo_config):
    from propdesk.store.owners import OwnerRepository

    owner = OwnerRepository().get("O0001")
    by_unit = call("find_accounts", query={"q": "A-101"})[1]["accounts"]
    assert [a["unit_id"] for a in by_unit] == ["A-101"] and by_unit[0]["owner_name"] == owner.name
    by_name = call("find_accounts", query={"q": owner.name[:2]})[1]["accounts"]
    assert "A-101" in [a["unit_id"] for a in by_name]
    local = owner.phone.removeprefix("+86")
    spaced = f"{local[:3]} {local[3:7]} {local[7:]}"
    by_phone = call("find_accounts", query={"q": spaced})[1]["accounts"]
    assert [a["unit_id"] for a in by_phone] == ["A-101"]
    assert call("find_accounts", query={"q": "nobody-here"})[1]["accounts"] == []


def test_bills_are_filtered_and_in_natural_unit_order_with_the_owner_s_name(units):
    for unit in ("A-1001", "A-101", "A-99", "B-2"):
        store_bill(make_bill(unit, "2026-03", owner_id="O0001"))
    _, body = call("list_bills", query={"period": "2026-03"})
    assert [b["unit_id"] for b in body["bills"]] == ["A-99", "A-101", "A-1001", "B-2"]
    assert all(b["owner_name"] for b in body["bills"] if b["unit_id"] == "A-101")
    pay_at_desk("A-101", "req-00000018", 10**6)
    open_ones = call("list_bills", query={"period": "2026-03", "status": "open"})[1]["bills"]
    assert "A-101" not in [b["unit_id"] for b in open_ones]
    overdue = call("list_bills", query={"status": "open", "days_overdue": "1"})[1]["bills"]
    assert overdue and all(b["days_overdue"] >= 1 for b in overdue)  # March bills are long past due
    assert call("list_bills", query={"status": "open", "days_overdue": "100000"})[0] == 422


def test_an_amount_written_as_a_whole_json_number_is_taken(units):
    # JSON Schema's integer, as the API document says: 1500.0 is 1500; 12.5 is refused (above)
    bills_of("A-101", "2026-03")
    status, body = pay_at_desk("A-101", "req-00000019", 1500.0)
    assert status == 201 and body["amount_minor"] == 1500
