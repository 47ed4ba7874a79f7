"""Quiet hours and the weekly cap as plain rules (zone-aware; DST checked in a zone that has it)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import get_args
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from propdesk.config import Messaging, QuietHours
from propdesk.messaging.courtesy import ESSENTIAL, NUDGES, contact_week, quiet_until
from propdesk.messaging.requests import Template

SHANGHAI = "Asia/Shanghai"
NIGHT = QuietHours(start="21:00", end="08:00")


def at(zone: str, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone))


@pytest.mark.parametrize(
    ("hour", "minute", "until"),
    [
        (20, 59, None),
        (21, 0, date(2026, 12, 3)),
        (22, 30, date(2026, 12, 3)),
        (0, 0, date(2026, 12, 2)),
        (7, 59, date(2026, 12, 2)),
        (8, 0, None),
        (12, 0, None),
    ],
)
def test_quiet_hours_span_midnight_start_inclusive_end_exclusive(hour, minute, until):
    now = at(SHANGHAI, date(2026, 12, 2), hour, minute).astimezone(UTC)  # the clock is UTC
    expected = None if until is None else at(SHANGHAI, until, 8, 0)
    assert quiet_until(now, time_zone=SHANGHAI, quiet=NIGHT) == expected


def test_quiet_hours_within_one_day():
    lunch = QuietHours(start="12:00", end="14:00")
    assert quiet_until(at(SHANGHAI, date(2026, 12, 2), 13), time_zone=SHANGHAI, quiet=lunch) == at(
        SHANGHAI, date(2026, 12, 2), 14
    )
    assert quiet_until(at(SHANGHAI, date(2026, 12, 2), 14), time_zone=SHANGHAI, quiet=lunch) is None


def test_quiet_hours_end_on_the_local_clock_across_a_dst_change():
    # Europe/London springs forward on 2027-03-28 at 01:00: the night is an hour shorter
    zone = "Europe/London"
    until = quiet_until(at(zone, date(2027, 3, 27), 22), time_zone=zone, quiet=NIGHT)
    assert until == at(zone, date(2027, 3, 28), 8) and until.astimezone(UTC).hour == 7


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)))
def test_a_held_sms_is_released_at_a_moment_outside_quiet_hours(now):
    until = quiet_until(now, time_zone=SHANGHAI, quiet=NIGHT)
    if until is not None:
        assert until > now and quiet_until(until, time_zone=SHANGHAI, quiet=NIGHT) is None


def test_the_contact_week_is_the_local_iso_week():
    sunday_late = at(SHANGHAI, date(2026, 12, 6), 23, 59)
    monday_early = at(SHANGHAI, date(2026, 12, 7), 0, 30)
    assert monday_early.astimezone(UTC).date() == date(2026, 12, 6)  # still Sunday in UTC
    assert contact_week(sunday_late, time_zone=SHANGHAI) == "2026-W49"
    assert contact_week(monday_early.astimezone(UTC), time_zone=SHANGHAI) == "2026-W50"
    assert contact_week(at(SHANGHAI, date(2027, 1, 1), 12), time_zone=SHANGHAI) == "2026-W53"


def test_every_template_is_either_a_nudge_or_essential():
    templates = set(get_args(Template))
    assert templates == NUDGES | ESSENTIAL and not NUDGES & ESSENTIAL
    assert {
        "bill_notice",
        "payment_receipt",
        "payment_refunded",
        "payment_failed",
        "autopay_notice",
    } <= ESSENTIAL


@pytest.mark.parametrize(
    "bad",
    [
        {"quiet_hours": {"start": "21:00", "end": "21:00"}},
        {"quiet_hours": {"start": "25:00", "end": "08:00"}},
        {"quiet_hours": {"start": "9pm", "end": "08:00"}},
        {"weekly_cap": 0},
    ],
)
def test_bad_messaging_settings_are_refused(bad):
    with pytest.raises(ValidationError):
        Messaging.model_validate({"sender_email": "billing@example.com", **bad})


def test_messaging_defaults():
    messaging = Messaging.model_validate({"sender_email": "billing@example.com"})
    assert (messaging.quiet_hours.start, messaging.quiet_hours.end, messaging.weekly_cap) == (
        "21:00",
        "08:00",
        3,
    )
