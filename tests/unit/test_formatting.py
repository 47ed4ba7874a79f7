"""Amounts, periods, dates and times as owners read them: exact from integers, in both locales."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from propdesk.formatting import (
    format_area,
    format_date,
    format_local_time,
    format_money,
    format_period,
    local_day,
)


@pytest.mark.parametrize(
    ("minor", "currency", "expected"),
    [
        (123450, "CNY", "¥1,234.50"),
        (1, "CNY", "¥0.01"),
        (0, "CNY", "¥0.00"),
        (-1, "CNY", "-¥0.01"),
        (-5, "USD", "-$0.05"),
        (-123450, "CNY", "-¥1,234.50"),
        (100, "HKD", "HK$1.00"),
        (99, "GBP", "£0.99"),
        (100000000, "EUR", "€1,000,000.00"),
        # Past a float's 53 bits: a float round trip would change the last digits.
        (2**53 + 1, "CNY", "¥90,071,992,547,409.93"),
        (10**22 + 7, "SGD", "S$100,000,000,000,000,000,000.07"),
    ],
)
def test_money_is_exact_from_integer_minor_units(minor, currency, expected):
    assert format_money(minor, currency) == expected


@pytest.mark.parametrize("not_minor_units", [12.5, 1234.0, "123450", True, None])
def test_money_refuses_anything_but_an_int(not_minor_units):
    with pytest.raises(TypeError):
        format_money(not_minor_units, "CNY")  # type: ignore[arg-type]


def test_money_refuses_an_unknown_currency():
    with pytest.raises(ValueError, match="JPY"):
        format_money(100, "JPY")


def test_area_in_hundredths_of_a_square_metre():
    assert format_area(8937) == "89.37"
    assert format_area(5) == "0.05"
    assert format_area(12000) == "120.00"
    with pytest.raises(TypeError):
        format_area(89.37)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("period", "zh", "en"),
    [
        ("2026-07", "2026年7月", "July 2026"),
        ("2026-01", "2026年1月", "January 2026"),
        ("2025-12", "2025年12月", "December 2025"),
    ],
)
def test_period_in_both_locales(period, zh, en):
    assert format_period(period, "zh-CN") == zh
    assert format_period(period, "en") == en


@pytest.mark.parametrize("bad", ["2026-13", "2026-00", "2026-7", "202607", "", "2026-07-01"])
def test_period_must_be_a_month(bad):
    with pytest.raises(ValueError):
        format_period(bad, "en")


def test_date_in_both_locales_from_a_date_or_an_iso_string():
    assert format_date(date(2026, 7, 15), "zh-CN") == "2026年7月15日"
    assert format_date(date(2026, 7, 15), "en") == "15 July 2026"
    assert format_date("2026-03-01", "en") == "1 March 2026"
    with pytest.raises(TypeError):
        format_date(datetime(2026, 7, 15, tzinfo=UTC), "en")  # a timestamp has no day until given a zone


def test_local_time_in_the_property_zone():
    assert format_local_time("2026-07-03T16:30:00Z", "Asia/Shanghai") == "2026-07-04 00:30 (Asia/Shanghai)"
    assert format_local_time(datetime(2026, 7, 3, 1, 0, tzinfo=UTC), "Asia/Shanghai") == (
        "2026-07-03 09:00 (Asia/Shanghai)"
    )
    assert local_day(datetime(2026, 3, 2, 17, 0, tzinfo=UTC), "Asia/Shanghai") == date(2026, 3, 3)
    with pytest.raises(ValueError, match="time zone"):
        format_local_time("2026-07-03T16:30:00", "Asia/Shanghai")
