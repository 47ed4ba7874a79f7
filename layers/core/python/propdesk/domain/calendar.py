"""The billing calendar: which local day a period is noticed, due and reminded (F2, F3).

Pure functions over dates. Periods are calendar months written ``"YYYY-MM"``. Every date
here is a local date in the property's time zone; ``local_today`` turns a UTC instant into
that date, so callers never compare a UTC date with a local one.
"""

from __future__ import annotations

import calendar as _calendar
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from propdesk.config import BillingCalendar

# ASCII digits only (\d would take any script's digits); years 2000-2999, which every date
# computed from a period (notice day, due day) can hold.
PERIOD_PATTERN = r"^(2[0-9]{3})-(0[1-9]|1[0-2])$"
_PERIOD_RE = re.compile(PERIOD_PATTERN)


class InvalidPeriod(ValueError):
    """A period is not written ``YYYY-MM``."""


def parse_period(period: str) -> tuple[int, int]:
    match = _PERIOD_RE.match(period or "")
    if not match:
        raise InvalidPeriod(f"period must be a month such as 2026-07 (years 2000-2999), got {period[:16]!r}")
    return int(match.group(1)), int(match.group(2))


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def first_day(period: str) -> date:
    year, month = parse_period(period)
    return date(year, month, 1)


def last_day(period: str) -> date:
    year, month = parse_period(period)
    return date(year, month, _calendar.monthrange(year, month)[1])


def next_period(period: str) -> str:
    year, month = parse_period(period)
    return f"{year + 1:04d}-01" if month == 12 else f"{year:04d}-{month + 1:02d}"


def due_date(period: str, calendar: BillingCalendar) -> date:
    """``due_day`` of the period's month, clamped to its last day (31 -> 28/29/30)."""
    end = last_day(period)
    return end.replace(day=min(calendar.due_day, end.day))


def notice_date(period: str, calendar: BillingCalendar) -> date:
    """The period's first day minus ``notice_lead_days``."""
    return first_day(period) - timedelta(days=calendar.notice_lead_days)


def reminder_date(period: str, calendar: BillingCalendar) -> date:
    """The friendly reminder (F3) goes ``reminder_offset_days`` before the due date."""
    return due_date(period, calendar) - timedelta(days=calendar.reminder_offset_days)


def next_to_notice(today: date, calendar: BillingCalendar) -> str:
    """The period whose notice window holds ``today``: its notice day is today or before, the
    following period's is after. The one period a cycle may be issued for without a reason."""
    return period_of(today + timedelta(days=calendar.notice_lead_days))


def period_noticed_on(today: date, calendar: BillingCalendar) -> str | None:
    """The period whose notice date is ``today``, or None on any other day."""
    start = today + timedelta(days=calendar.notice_lead_days)
    return period_of(start) if start.day == 1 else None


def local_today(now: datetime, time_zone: str | ZoneInfo) -> date:
    """The property's local date at the instant ``now`` (which must carry a time zone)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    tz = time_zone if isinstance(time_zone, ZoneInfo) else ZoneInfo(time_zone)
    return now.astimezone(tz).date()
