"""RELIABILITY 14: month ends (28-31 days), leap years and the property's time zone: every date
of the billing calendar falls on the right local day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from propdesk.config import BillingCalendar
from propdesk.domain.calendar import (
    due_date,
    first_day,
    last_day,
    local_today,
    next_period,
    next_to_notice,
    notice_date,
    period_noticed_on,
    reminder_date,
)

_calendars = st.builds(
    BillingCalendar,
    notice_lead_days=st.integers(min_value=1, max_value=60),
    due_day=st.integers(min_value=1, max_value=31),
    reminder_offset_days=st.integers(min_value=1, max_value=28),
)
_days = st.dates(min_value=date(2024, 1, 1), max_value=date(2040, 12, 31))


@settings(max_examples=300, deadline=None)
@given(calendar=_calendars, day=_days)
def test_calendar_14_each_period_is_noticed_on_exactly_one_local_day(calendar, day):
    noticed = period_noticed_on(day, calendar)
    if noticed is not None:
        assert notice_date(noticed, calendar) == day
    # the period that may be prepared today is the one noticed on or before today, whose
    # successor's notice day is still to come: a day never falls between two periods
    current = next_to_notice(day, calendar)
    assert notice_date(current, calendar) <= day < notice_date(next_period(current), calendar)


@settings(max_examples=300, deadline=None)
@given(calendar=_calendars, day=_days)
def test_calendar_14_due_and_reminder_days_fall_in_the_period_whatever_its_length(calendar, day):
    period = f"{day.year:04d}-{day.month:02d}"
    due = due_date(period, calendar)
    assert first_day(period) <= due <= last_day(period)
    assert due.day == min(calendar.due_day, last_day(period).day)
    assert reminder_date(period, calendar) == due - timedelta(days=calendar.reminder_offset_days)


@pytest.mark.parametrize(
    ("period", "due"),
    [
        ("2028-02", date(2028, 2, 29)),  # a leap year's February
        ("2027-02", date(2027, 2, 28)),
        ("2027-04", date(2027, 4, 30)),
        ("2027-12", date(2027, 12, 31)),
    ],
)
def test_calendar_14_a_due_day_of_31_is_the_month_s_last_day(period, due):
    calendar = BillingCalendar(notice_lead_days=15, due_day=31, reminder_offset_days=7)
    assert due_date(period, calendar) == due
    # the March notice day counts back across February's end, leap year or not
    assert notice_date("2028-03", calendar) == date(2028, 2, 15)
    assert notice_date("2027-03", calendar) == date(2027, 2, 14)


@pytest.mark.parametrize(
    ("instant", "local"),
    [
        (datetime(2026, 6, 15, 15, 59, tzinfo=UTC), date(2026, 6, 15)),  # 23:59 in Shanghai
        (datetime(2026, 6, 15, 16, 0, tzinfo=UTC), date(2026, 6, 16)),  # 00:00 in Shanghai
        (datetime(2027, 12, 31, 16, 30, tzinfo=UTC), date(2028, 1, 1)),  # a new year, locally
        (datetime(2028, 2, 28, 16, 0, tzinfo=UTC), date(2028, 2, 29)),  # the leap day, locally
    ],
)
def test_calendar_14_today_is_the_property_s_local_day_not_utc_s(instant, local):
    assert local_today(instant, ZoneInfo("Asia/Shanghai")) == local
    assert local_today(instant, "Asia/Shanghai") == local
    with pytest.raises(ValueError):
        local_today(instant.replace(tzinfo=None), "Asia/Shanghai")
