"""Home collection on moto: the owner books a slot from the account page (or staff do), the front
desk lists the day's visits, and the collector's payment at the door lands through the desk route
and marks the visit done."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from ops_support import import_demo_units

from api.handler import lambda_handler
from infra.local.events import staff_claims
from tests.paytools import make_bill, pay_token, store_bill
from tests.route_events import LambdaContext, route_event

CASHIER = staff_claims("cashier", sub="cashier-li")
COLLECTOR = staff_claims("cashier", sub="collector-zhou")


def call(key: str, *, claims=CASHIER, **kwargs) -> dict:
    return lambda_handler(route_event(key, claims=claims, **kwargs), LambdaContext())


def tomorrow() -> str:
    return (datetime.now(UTC) + timedelta(hours=8) + timedelta(days=1)).date().isoformat()


@pytest.fixture
def owing(aws, demo_config):
    import_demo_units(demo_config, 4)
    return store_bill(make_bill("A-102", "2026-03", owner_id="O0002"))


def book_as_owner(bill, day: str, slot: str = "09:00-11:00") -> dict:
    return call(
        "owner_book_visit",
        params={"token": pay_token(bill)},
        body=f"day={day}&slot={slot}&note=3F%2C+ring+twice&lang=en",
        headers={"content-type": "application/x-www-form-urlencoded"},
        claims=None,
    )


def test_an_owner_books_a_visit_the_desk_sees_it_and_the_payment_at_the_door_closes_it(owing):
    # GIVEN an elderly owner who books tomorrow morning from the account page
    booked = book_as_owner(owing, tomorrow())
    assert booked["statusCode"] == 303 and booked["headers"]["Location"].endswith("notice=visit_booked")
    page = call(
        "bill_page",
        params={"token": pay_token(owing)},
        query={"lang": "en", "notice": "visit_booked"},
        claims=None,
    )
    assert "A collector will come on" in page["body"] and "09:00-11:00" in page["body"]
    # WHEN the front desk reads tomorrow's visits
    day = json.loads(call("day_visits", query={"day": tomorrow()})["body"])
    (visit,) = day["visits"]
    assert (visit["unit_id"], visit["slot"], visit["status"], visit["booked_by"]) == (
        "A-102",
        "09:00-11:00",
        "booked",
        "owner",
    )
    assert (
        visit["owed_minor"] == owing.total_minor and visit["owner_name"] and visit["note"] == "3F, ring twice"
    )
    # AND the collector records the payment at the door
    body = {
        "request_id": "door-000001",
        "amount_minor": owing.total_minor,
        "method": "cash",
        "channel": "home_visit",
        "visit_id": visit["visit_id"],
    }
    paid = call("record_desk_payment", params={"unit_id": "A-102"}, body=body, claims=COLLECTOR)
    assert paid["statusCode"] == 201 and json.loads(paid["body"])["channel"] == "home_visit"
    # THEN the visit is done with its payment, and the collector's cash-up counts it
    (done,) = json.loads(call("day_visits", query={"day": tomorrow()})["body"])["visits"]
    assert done["status"] == "done" and done["payment_id"] == "desk:door-000001" and done["owed_minor"] == 0
    cash = json.loads(call("cash_up", claims=COLLECTOR)["body"])
    assert cash["totals_by_method"] == {"cash": owing.total_minor}


def test_booking_the_same_slot_twice_is_one_visit_and_a_full_slot_is_refused(owing, demo_config):
    assert book_as_owner(owing, tomorrow())["statusCode"] == 303
    assert book_as_owner(owing, tomorrow())["statusCode"] == 303
    assert len(json.loads(call("day_visits", query={"day": tomorrow()})["body"])["visits"]) == 1
    per_slot = demo_config.payment.home_visits.per_slot
    units = [f"A-10{n}" for n in (1, 3, 4)]
    for unit in units[: per_slot - 1]:
        staff = call("book_visit", body={"unit_id": unit, "day": tomorrow(), "slot": "09:00-11:00"})
        assert staff["statusCode"] == 201
    if per_slot - 1 < len(units):
        full = call(
            "book_visit", body={"unit_id": units[per_slot - 1], "day": tomorrow(), "slot": "09:00-11:00"}
        )
        assert full["statusCode"] == 409 and json.loads(full["body"])["error"] == "slot_full"


@pytest.mark.parametrize(
    ("day", "slot", "code"),
    [
        (
            lambda: (datetime.now(UTC) + timedelta(hours=8)).date().isoformat(),
            "09:00-11:00",
            "day_not_offered",
        ),
        (lambda: "2099-01-01", "09:00-11:00", "day_not_offered"),
        (tomorrow, "07:00-08:00", "unknown_slot"),
    ],
)
def test_a_day_or_slot_not_offered_is_a_clear_4xx(owing, day, slot, code):
    answer = call("book_visit", body={"unit_id": "A-102", "day": day(), "slot": slot})
    assert answer["statusCode"] == 400 and json.loads(answer["body"])["error"] == code
    assert json.loads(call("day_visits", query={"day": tomorrow()})["body"])["visits"] == []


def test_an_owner_asking_for_a_day_not_offered_is_told_on_the_page_and_nothing_is_booked(owing):
    answer = book_as_owner(owing, "2099-01-01")
    assert answer["statusCode"] == 303 and answer["headers"]["Location"].endswith("notice=visit_not_offered")
    page = call(
        "bill_page",
        params={"token": pay_token(owing)},
        query={"lang": "en", "notice": "visit_not_offered"},
        claims=None,
    )
    assert "That day or time is not offered" in page["body"]
    assert json.loads(call("day_visits", query={"day": "2099-01-01"})["body"])["visits"] == []


def test_a_payment_at_the_door_names_a_visit_of_its_unit(owing):
    body = {"request_id": "door-000002", "amount_minor": 100, "method": "cash", "channel": "home_visit"}
    missing = call("record_desk_payment", params={"unit_id": "A-102"}, body=body)
    assert missing["statusCode"] == 422  # no visit_id
    body["visit_id"] = "A-101_2099-01-01_0900"
    other = call("record_desk_payment", params={"unit_id": "A-102"}, body=body)
    assert other["statusCode"] == 404 and json.loads(other["body"])["error"] == "unknown_visit"
