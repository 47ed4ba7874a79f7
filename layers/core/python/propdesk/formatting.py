"""Money, dates and periods as owners read them, in zh-CN and en: the one place where numbers
and dates become words (the templates call these through filters, see ``propdesk.rendering``).

Our own small module rather than Babel: two locales and six currencies need a few lines, and
Babel's CLDR output is not what our owners are shown (``CN¥`` and US month-day order in
English, amounts taken in major units). The measurements are in ``docs/RENDERING.md``.

Amounts are integer minor units split with ``divmod``, never floats. English month names come
from the table below, not ``strftime("%B")``, which follows the process's C locale.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from propdesk.domain.money import MINOR_DIGITS

ZH = "zh-CN"

# The same symbol in both locales: owners are in the property's country and read "¥" as
# their currency (CLDR's English "CN¥" only helps readers abroad).
SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "HKD": "HK$", "SGD": "S$", "GBP": "£"}

MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

_PERIOD = re.compile(r"^([0-9]{4})-([0-9]{2})$")


def _minor_units(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"amounts are integer minor units, not {type(value).__name__}")
    return value


def format_money(minor: int, currency: str) -> str:
    """``¥1,234.50``, ``-$0.05``: the same in zh-CN and en (both group thousands with commas)."""
    amount = _minor_units(minor)
    if currency not in MINOR_DIGITS:
        raise ValueError(f"unsupported currency {currency!r}")
    digits = MINOR_DIGITS[currency]
    sign = "-" if amount < 0 else ""
    major, rest = divmod(abs(amount), 10**digits)
    fraction = f".{rest:0{digits}d}" if digits else ""
    return f"{sign}{SYMBOLS[currency]}{major:,}{fraction}"


def format_share(basis_points: int) -> str:
    """A share in basis points (``7000``, ``850``) as a percentage: ``70%``, ``8.5%``."""
    value = _minor_units(basis_points)
    whole, rest = divmod(value, 100)
    return f"{whole}%" if rest == 0 else f"{whole}.{rest:02d}".rstrip("0") + "%"


def format_area(hundredths: int) -> str:
    """A floor area held in 1/100 m² (``8937``) as ``89.37``."""
    value = _minor_units(hundredths)
    sign = "-" if value < 0 else ""
    whole, rest = divmod(abs(value), 100)
    return f"{sign}{whole}.{rest:02d}"


def format_period(period: str, locale: str) -> str:
    """A billing period ``2026-07`` as ``2026年7月`` or ``July 2026``."""
    match = _PERIOD.match(str(period))
    month = int(match.group(2)) if match else 0
    if match is None or not 1 <= month <= 12:
        raise ValueError(f"a period is YYYY-MM, not {period!r}")
    year = int(match.group(1))
    return f"{year}年{month}月" if locale == ZH else f"{MONTHS_EN[month - 1]} {year}"


def format_date(day: date | str, locale: str) -> str:
    """A day (or an ISO date) as ``2026年7月15日`` or ``15 July 2026``."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    if isinstance(day, datetime):
        raise TypeError("format_date takes a date; convert a timestamp to the property's day first")
    if locale == ZH:
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"


def format_short_date(day: date | str, locale: str) -> str:
    """A day without its year, for an SMS that must fit one segment: ``7月15日`` or ``15 Jul``."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    if locale == ZH:
        return f"{day.month}月{day.day}日"
    return f"{day.day} {MONTHS_EN[day.month - 1][:3]}"


def format_short_period(period: str, locale: str) -> str:
    """A period without its year, for an SMS: ``7月`` or ``Jul``."""
    format_period(period, locale)  # the same checks
    month = int(str(period)[5:7])
    return f"{month}月" if locale == ZH else MONTHS_EN[month - 1][:3]


def _aware(moment: datetime | str) -> datetime:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("timestamps must carry a time zone")
    return moment


def format_local_time(moment: datetime | str, time_zone: str) -> str:
    """A timestamp (or ISO timestamp) as the property's local time: ``2026-07-03 11:00 (Asia/Shanghai)``."""
    local = _aware(moment).astimezone(ZoneInfo(time_zone))
    return f"{local:%Y-%m-%d %H:%M} ({time_zone})"


def local_day(moment: datetime | str, time_zone: str) -> date:
    """The property's calendar day of a timestamp."""
    return _aware(moment).astimezone(ZoneInfo(time_zone)).date()
