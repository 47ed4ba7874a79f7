"""Bill computation: itemised lines, building and elevator filters, half-up rounding."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from propdesk.config import BillingCalendar, FeeStandard
from propdesk.domain.billing import bill_id_for, compute_bill
from propdesk.domain.units import Unit

ISSUED = datetime(2026, 6, 16, 1, 0, tzinfo=UTC)
CALENDAR = BillingCalendar(notice_lead_days=15, due_day=15, reminder_offset_days=7)


def _standard(*items) -> FeeStandard:
    return FeeStandard(version="T-1", effective_from=date(2026, 1, 1), legal_basis=("basis",), items=items)


def _item(code, basis, rate, **extra):
    return {"code": code, "name": {"zh-CN": code, "en": code}, "basis": basis, "rate_minor": rate} | extra


def _unit(area_centi_m2=8937, building="A") -> Unit:
    return Unit("A-101", building, 1, "101", area_centi_m2, "O0001")


def test_demo_standard_for_an_elevator_building(demo_config):
    # GIVEN unit A-101 of 89.37 m² in a building with an elevator
    bill = compute_bill(
        _unit(8937),
        has_elevator=True,
        fee_standard=demo_config.fee_standard,
        period="2026-07",
        calendar=demo_config.billing,
        currency="CNY",
        issued_at=ISSUED,
    )
    # THEN by hand: 2.80*89.37=250.236 -> 250.24; 0.30*89.37=26.811 -> 26.81;
    # 0.45*89.37=40.2165 -> 40.22 (half up); waste 10.00
    assert [(line.code, line.amount_minor) for line in bill.lines] == [
        ("service", 25024),
        ("common_energy", 2681),
        ("elevator", 4022),
        ("waste", 1000),
    ]
    assert bill.total_minor == 25024 + 2681 + 4022 + 1000
    assert bill.bill_id == "A-101#2026-07" == bill_id_for("A-101", "2026-07")
    assert bill.due_date == date(2026, 7, 15)
    assert bill.status == "open"
    assert bill.fee_standard_version == demo_config.fee_standard.version
    assert bill.lines[0].quantity == 8937 and bill.lines[-1].quantity == 1


def test_elevator_item_skipped_without_elevator(demo_config):
    bill = compute_bill(
        _unit(8937, building="C"),
        has_elevator=False,
        fee_standard=demo_config.fee_standard,
        period="2026-07",
        calendar=demo_config.billing,
        currency="CNY",
        issued_at=ISSUED,
    )
    assert [line.code for line in bill.lines] == ["service", "common_energy", "waste"]
    assert bill.total_minor == 25024 + 2681 + 1000


@pytest.mark.parametrize(
    ("rate", "area", "expected"),
    [
        (5, 10, 1),  # 0.5 -> 1 (half up, not banker's)
        (5, 30, 2),  # 1.5 -> 2
        (5, 50, 3),  # 2.5 -> 3 (banker's rounding would give 2)
        (3, 10, 0),  # 0.3 -> 0
        (7, 10, 1),  # 0.7 -> 1
        (280, 10000, 28000),
    ],
)
def test_per_m2_rounds_half_up(rate, area, expected):
    bill = compute_bill(
        _unit(area),
        has_elevator=True,
        fee_standard=_standard(_item("service", "per_m2", rate)),
        period="2026-07",
        calendar=CALENDAR,
        currency="CNY",
        issued_at=ISSUED,
    )
    assert bill.lines[0].amount_minor == expected
    assert bill.total_minor == expected


def test_building_filter_limits_an_item():
    standard = _standard(
        _item("service", "per_unit", 500), _item("garden", "per_unit", 300, buildings=("B",))
    )
    in_a = compute_bill(
        _unit(building="A"),
        has_elevator=True,
        fee_standard=standard,
        period="2026-07",
        calendar=CALENDAR,
        currency="CNY",
        issued_at=ISSUED,
    )
    in_b = compute_bill(
        _unit(building="B"),
        has_elevator=True,
        fee_standard=standard,
        period="2026-07",
        calendar=CALENDAR,
        currency="CNY",
        issued_at=ISSUED,
    )
    assert in_a.total_minor == 500
    assert in_b.total_minor == 800


def test_due_date_follows_the_calendar_month_end():
    bill = compute_bill(
        _unit(),
        has_elevator=True,
        fee_standard=_standard(_item("service", "per_unit", 500)),
        period="2028-02",
        calendar=BillingCalendar(notice_lead_days=15, due_day=31, reminder_offset_days=7),
        currency="CNY",
        issued_at=ISSUED,
    )
    assert bill.due_date == date(2028, 2, 29)


def test_naive_issue_time_is_refused():
    with pytest.raises(ValueError):
        compute_bill(
            _unit(),
            has_elevator=True,
            fee_standard=_standard(_item("service", "per_unit", 500)),
            period="2026-07",
            calendar=CALENDAR,
            currency="CNY",
            issued_at=datetime(2026, 6, 16),
        )


# Property-based: whatever the standard and the unit, a bill adds up, is never negative and is
# the same computed twice (a rerun, or the draft and the approved cycle, agree to the fen).
_codes = st.from_regex(r"[a-z][a-z0-9_]{1,10}", fullmatch=True)
_items = st.lists(
    st.fixed_dictionaries(
        {
            "code": _codes,
            "basis": st.sampled_from(["per_m2", "per_unit"]),
            "rate": st.integers(min_value=0, max_value=50_000),
            "requires_elevator": st.booleans(),
            "buildings": st.one_of(st.none(), st.lists(st.sampled_from("ABC"), min_size=1, max_size=3)),
        }
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda item: item["code"],
)


def _from(drawn) -> FeeStandard:
    return _standard(
        *(
            _item(
                d["code"],
                d["basis"],
                d["rate"],
                requires_elevator=d["requires_elevator"],
                buildings=tuple(sorted(set(d["buildings"]))) if d["buildings"] else None,
            )
            for d in drawn
        )
    )


@settings(max_examples=300, deadline=None)
@given(
    drawn=_items,
    area=st.integers(min_value=1, max_value=100_000_00),
    building=st.sampled_from("ABCD"),
    has_elevator=st.booleans(),
)
def test_a_bill_adds_up_is_never_negative_and_is_the_same_computed_twice(drawn, area, building, has_elevator):
    standard = _from(drawn)
    unit = _unit(area_centi_m2=area, building=building)

    def bill():
        return compute_bill(
            unit,
            has_elevator=has_elevator,
            fee_standard=standard,
            period="2026-07",
            calendar=CALENDAR,
            currency="CNY",
            issued_at=ISSUED,
        )

    first, again = bill(), bill()
    assert first == again
    assert first.total_minor == sum(line.amount_minor for line in first.lines)
    assert all(line.amount_minor >= 0 for line in first.lines) and first.total_minor >= 0
    # one line per item that applies to the unit's building, in the standard's order
    applies = [
        d["code"]
        for d in drawn
        if (not d["buildings"] or building in d["buildings"])
        and not (d["requires_elevator"] and not has_elevator)
    ]
    assert [line.code for line in first.lines] == applies
    # a per-m² line is the rate times the area, half up to the fen: never off by more than half a fen
    for line in first.lines:
        if line.basis == "per_m2":
            assert abs(line.amount_minor * 100 - line.rate_minor * area) <= 50


@settings(max_examples=200, deadline=None)
@given(
    drawn=_items,
    area=st.integers(min_value=1, max_value=10_000_00),
    more=st.integers(min_value=1, max_value=5000),
)
def test_a_larger_unit_never_pays_less(drawn, area, more):
    standard = _from(drawn)

    def total(centi_m2: int) -> int:
        return compute_bill(
            _unit(area_centi_m2=centi_m2),
            has_elevator=True,
            fee_standard=standard,
            period="2026-07",
            calendar=CALENDAR,
            currency="CNY",
            issued_at=ISSUED,
        ).total_minor

    assert total(area + more) >= total(area)
