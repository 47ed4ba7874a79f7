"""The billing calendar: month ends, leap years and the property's time zone (RELIABILITY 14)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from propdesk.config import BillingCalendar
from propdesk.domain.calendar import (
    InvalidPeriod,
    due_date,
    local_today,
    next_period,
    notice_date,
    period_noticed_on,
    reminder_date,
)


def _calendar(**overrides) -> BillingCalendar:
    values = {"notice_lead_days": 15, "due_day": 15, "reminder_offset_days": 7} | overrides
    return BillingCalendar(**values)


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("2026-01", date(2026, 1, 31)),
        ("2026-02", date(2026, 2, 28)),
        ("2028-02", date(2028, 2, 29)),  # leap year
        ("2100-02", date(2100, 2, 28)),  # not a leap year (century)
        ("2000-02", date(2000, 2, 29)),  # leap year (400)
        ("2026-04", date(2026, 4, 30)),
        ("2026-12", date(2026, 12, 31)),
    ],
)
def test_due_day_31_is_clamped_to_the_last_day_of_the_month(period, expected):
    # GIVEN a calendar due on the 31st
    calendar = _calendar(due_day=31)
    # WHEN / THEN
    assert due_date(period, calendar) == expected


def test_due_day_inside_the_month_is_kept():
    assert due_date("2026-02", _calendar(due_day=15)) == date(2026, 2, 15)


@pytest.mark.parametrize(
    ("period", "lead", "expected"),
    [
        ("2026-03", 15, date(2026, 2, 14)),
        ("2028-03", 15, date(2028, 2, 15)),  # February 2028 has 29 days
        ("2027-01", 15, date(2026, 12, 17)),  # across the year
        ("2026-03", 1, date(2026, 2, 28)),
        ("2026-03", 31, date(2026, 1, 29)),
    ],
)
def test_notice_date_is_the_first_day_minus_the_lead(period, lead, expected):
    assert notice_date(period, _calendar(notice_lead_days=lead)) == expected


def test_period_noticed_on_finds_the_period_only_on_its_notice_day():
    calendar = _calendar(notice_lead_days=15)
    # GIVEN every day of two years
    days = [date(2027, 1, 1).fromordinal(date(2027, 1, 1).toordinal() + n) for n in range(731)]
    # WHEN asking which period each day notices
    noticed = {day: period_noticed_on(day, calendar) for day in days}
    hits = {day: period for day, period in noticed.items() if period}
    # THEN exactly one day per month, and it is that period's notice date
    assert len(hits) == 24
    for day, period in hits.items():
        assert notice_date(period, calendar) == day
    assert noticed[date(2028, 2, 15)] == "2028-03"
    assert noticed[date(2028, 2, 14)] is None


def test_reminder_is_offset_before_the_due_date():
    assert reminder_date("2026-03", _calendar(due_day=5, reminder_offset_days=7)) == date(2026, 2, 26)
    assert reminder_date("2028-03", _calendar(due_day=5, reminder_offset_days=7)) == date(2028, 2, 27)


def test_next_period_rolls_over_the_year():
    assert next_period("2026-11") == "2026-12"
    assert next_period("2026-12") == "2027-01"


@pytest.mark.parametrize("bad", ["2026-13", "2026-00", "2026-1", "26-01", "", "2026/01", "2026-01-01"])
def test_malformed_period_is_refused(bad):
    with pytest.raises(InvalidPeriod):
        due_date(bad, _calendar())


def test_local_today_uses_the_property_time_zone():
    # GIVEN 16:30 UTC on 14 Feb, which is 00:30 on 15 Feb in Shanghai
    now = datetime(2028, 2, 14, 16, 30, tzinfo=UTC)
    # THEN the local business day is 15 Feb (a notice day), not the UTC date
    assert local_today(now, "Asia/Shanghai") == date(2028, 2, 15)
    assert local_today(now, "America/New_York") == date(2028, 2, 14)
    assert period_noticed_on(local_today(now, "Asia/Shanghai"), _calendar()) == "2028-03"


def test_local_today_refuses_a_naive_datetime():
    with pytest.raises(ValueError):
        local_today(datetime(2028, 2, 14, 16, 30), "Asia/Shanghai")
