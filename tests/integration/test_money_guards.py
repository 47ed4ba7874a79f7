"""Guards on the money paths found in review, on moto: a payment with refunds is not voided, one
void is asked for once, refunds split to stay under the approval amount still need an admin, a
bank transfer entered twice is one payment, a payment over more open bills than one posting
holds keeps the rest as credit, a refund paid back on a later day lands in that day's cash-up,
checkout sessions noted on an account stay few, and a link names the owner it was sent to."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from ops_support import import_demo_units

from api.handler import lambda_handler
from infra.local.events import staff_claims
from propdesk.domain.accounts import MAX_BILLS_PER_POSTING
from propdesk.services import desk
from propdesk.services import refunds as refund_service
from propdesk.store.accounts import MAX_OPEN_SESSIONS, AccountStore
from propdesk.store.bills import BillRepository
from propdesk.store.payments import PaymentRepository
from tests.paytools import make_bill, pay_token, store_bill
from tests.route_events import LambdaContext, route_event

CASHIER = staff_claims("cashier", sub="cashier-li")
OTHER_CASHIER = staff_claims("cashier", sub="cashier-wang")
ADMIN = staff_claims("admin", sub="admin-zhao")
OTHER_ADMIN = staff_claims("admin", sub="admin-sun")


def call(key: str, *, claims=CASHIER, **kwargs) -> tuple[int, dict]:
    response = lambda_handler(route_event(key, claims=claims, **kwargs), LambdaContext())
    body = response["body"] or "null"
    return response["statusCode"], (json.loads(body) if body.startswith(("{", "[", "n")) else body)


def pay_at_desk(unit_id: str, request_id: str, amount: int, *, claims=CASHIER, **fields) -> tuple[int, dict]:
    body = {"request_id": request_id, "amount_minor": amount, "method": "cash", **fields}
    return call("record_desk_payment", params={"unit_id": unit_id}, body=body, claims=claims)


def refund(payment_id: str, request_id: str, amount: int, *, claims=CASHIER) -> tuple[int, dict]:
    body = {"request_id": request_id, "amount_minor": amount, "reason": "asked by the owner"}
    return call("start_refund", params={"payment_id": payment_id}, body=body, claims=claims)


@pytest.fixture
def units(aws, demo_config):
    import_demo_units(demo_config, 4)  # A-101 .. with owners O0001 ..


def bills_of(unit_id: str, *periods: str):
    return [store_bill(make_bill(unit_id, period, owner_id="O0001")) for period in periods]


# --- voids ----------------------------------------------------------------------------------------


def test_a_payment_with_a_refund_done_or_waiting_is_not_voided(units, demo_config):
    (bill,) = bills_of("A-101", "2026-03")
    big = demo_config.payment.refund_approval_minor + bill.total_minor
    _, done = pay_at_desk("A-101", "req-guard-0001", bill.total_minor + 3000)
    _, waiting = pay_at_desk("A-101", "req-guard-0002", big)
    assert refund(done["payment_id"], "refund-guard-0001", 3000)[1]["status"] == "succeeded"
    assert refund(waiting["payment_id"], "refund-guard-0002", big)[1]["status"] == "pending_approval"
    for paid in (done, waiting):
        status, body = call(
            "request_void", params={"payment_id": paid["payment_id"]}, body={"reason": "typo"}, claims=ADMIN
        )
        assert (status, body["error"]) == (409, "not_voidable")
        assert PaymentRepository().get(paid["payment_id"]).void_requested_by is None


def test_a_void_is_asked_for_once_so_the_second_asker_cannot_approve_the_first(units):
    (bill,) = bills_of("A-101", "2026-03")
    _, paid = pay_at_desk("A-101", "req-guard-0003", bill.total_minor)
    payment_id = paid["payment_id"]
    assert (
        call("request_void", params={"payment_id": payment_id}, body={"reason": "typo"}, claims=ADMIN)[0]
        == 202
    )
    status, body = call(
        "request_void", params={"payment_id": payment_id}, body={"reason": "mine"}, claims=OTHER_ADMIN
    )
    assert (status, body["error"]) == (409, "void_requested")
    stored = PaymentRepository().get(payment_id)
    assert (stored.void_requested_by, stored.void_reason) == ("admin-zhao", "typo")


# --- refunds --------------------------------------------------------------------------------------


def test_money_32_refunds_split_under_the_approval_amount_still_need_an_admin(units, demo_config):
    # GIVEN a payment of twice the approval amount
    limit = demo_config.payment.refund_approval_minor
    bills_of("A-101", "2026-03")
    _, paid = pay_at_desk("A-101", "req-guard-0004", 2 * limit)
    # WHEN a cashier refunds it in two parts, each just under the amount
    first = refund(paid["payment_id"], "refund-guard-0004", limit - 100)
    second = refund(paid["payment_id"], "refund-guard-0005", limit - 100)
    # THEN the first is paid back, the second (together over the amount) waits for an admin
    assert first[1]["status"] == "succeeded"
    assert second[1]["status"] == "pending_approval"
    assert PaymentRepository().get(paid["payment_id"]).refunded_minor == limit - 100


def test_a_refund_paid_back_on_a_later_day_is_in_that_day_s_cash_up_not_the_closed_one(units, demo_config):
    # GIVEN a cash payment taken today
    bills_of("A-101", "2026-03")
    _, paid = pay_at_desk("A-101", "req-guard-0006", 30_000)
    today = datetime.now(demo_config.tz).date()
    tomorrow_noon = datetime.combine(
        today + timedelta(days=1), datetime.min.time(), demo_config.tz
    ) + timedelta(hours=12)
    # WHEN the same cashier pays 5000 of it back tomorrow
    started = refund_service.start_refund(
        paid["payment_id"],
        request_id="refund-guard-0006",
        amount_minor=5000,
        reason="asked by the owner",
        staff_id="cashier-li",
        config=demo_config,
        now=tomorrow_noon,
    )
    assert started.refund.status == "succeeded"
    # THEN today's cash-up still holds the 30000 taken, and tomorrow's pays out the 5000
    closed = desk.cash_up("cashier-li", today, config=demo_config)
    assert (closed.total_minor, closed.paid_out) == (30_000, ())
    next_day = desk.cash_up("cashier-li", today + timedelta(days=1), config=demo_config)
    assert next_day.totals_by_method == {"cash": -5000} and next_day.total_minor == -5000
    assert [(out.refund.refund_id, out.method) for out in next_day.paid_out] == [
        ("rf_refund-guard-0006", "cash")
    ]
    # AND another cashier's day holds none of it
    assert desk.cash_up("cashier-wang", today + timedelta(days=1), config=demo_config).paid_out == ()


# --- transfers and large payments -----------------------------------------------------------------


def test_a_bank_transfer_entered_twice_is_one_payment(units):
    (bill,) = bills_of("A-101", "2026-03")
    fields = {"method": "bank_transfer", "reference": "icbc 2026-0301-7788"}
    first = pay_at_desk("A-101", "req-guard-0007", bill.total_minor, **fields)
    # the same transfer entered again by another cashier, on another screen (another request id)
    again = pay_at_desk("A-101", "req-guard-0008", bill.total_minor, claims=OTHER_CASHIER, **fields)
    assert first[0] == 201 and again[0] == 200
    assert again[1]["payment_id"] == first[1]["payment_id"] == "transfer:ICBC-2026-0301-7788"
    assert AccountStore().get("A-101").credit_minor == 0  # not paid twice
    # the same reference for another amount is someone's mistake: refused, nothing recorded
    status, body = pay_at_desk("A-102", "req-guard-0009", 100, **fields)
    assert (status, body["error"]) == (409, "transfer_recorded")
    assert PaymentRepository().of_unit("A-102") == []


def test_a_payment_over_more_open_bills_than_a_posting_holds_pays_the_oldest_and_keeps_credit(units):
    periods = [f"{2023 + m // 12}-{m % 12 + 1:02d}" for m in range(MAX_BILLS_PER_POSTING + 5)]
    bills = bills_of("A-101", *periods)
    owed = sum(b.total_minor for b in bills)
    status, paid = pay_at_desk("A-101", "req-guard-0010", owed)
    assert status == 201
    assert len(paid["allocations"]) == MAX_BILLS_PER_POSTING
    paid_ids = {a["bill_id"] for a in paid["allocations"]}
    assert paid_ids == {b.bill_id for b in bills[:MAX_BILLS_PER_POSTING]}  # the oldest
    rest = sum(b.total_minor for b in bills[MAX_BILLS_PER_POSTING:])
    assert paid["credit_minor"] == rest == AccountStore().get("A-101").credit_minor
    assert all(BillRepository().get(b.bill_id).status == "open" for b in bills[MAX_BILLS_PER_POSTING:])


# --- sessions and links ---------------------------------------------------------------------------


def test_an_account_keeps_at_most_a_few_open_checkout_sessions(units):
    bills_of("A-101", "2026-03")
    store = AccountStore()
    now = datetime.now(UTC)
    for n in range(MAX_OPEN_SESSIONS + 3):
        assert store.add_session(
            store.get("A-101"), f"cs_test_{n:02d}", expires_at=now + timedelta(hours=1), now=now
        )
    kept = store.get("A-101").sessions_open_at(now)
    assert len(kept) == MAX_OPEN_SESSIONS
    assert kept[-1] == f"cs_test_{MAX_OPEN_SESSIONS + 2:02d}" and "cs_test_00" not in kept  # newest kept
    # an expired session is dropped when the next is noted
    store.add_session(
        store.get("A-101"), "cs_test_late", expires_at=now + timedelta(hours=3), now=now + timedelta(hours=2)
    )
    assert store.get("A-101").sessions_open_at(now + timedelta(hours=2)) == ("cs_test_late",)


def test_a_link_sent_to_a_former_owner_opens_nothing(units):
    (bill,) = bills_of("A-101", "2026-03")  # the account's owner is O0001
    mine = pay_token(bill, owner_id="O0001")
    theirs = pay_token(bill, owner_id="O0009")  # sent when the unit was someone else's
    older = pay_token(bill)  # signed before links named their owner
    assert call("bill_page", params={"token": mine}, claims=None)[0] == 200
    assert call("bill_page", params={"token": older}, claims=None)[0] == 200
    status, page = call("bill_page", params={"token": theirs}, claims=None)
    assert status == 404 and "A-101" not in page
