"""Receipt numbers (票据编号): gap-free per property and calendar year (F5).

A number is ``<PROPERTY>-<YYYY>-<NNNNNN>``, e.g. ``DEMO-2026-000042``: the property id in
upper case, the year of the payment in the property's time zone, and the sequence of that
year. The sequence lives in a counter named ``receipt#<YYYY>`` that advances only inside the
transaction that records the payment, so no number is skipped or used twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

SEQUENCE_DIGITS = 6
MAX_SEQUENCE = 10**SEQUENCE_DIGITS - 1

_RECEIPT_RE = re.compile(r"^(?P<property>[A-Z][A-Z0-9-]{1,30})-(?P<year>[0-9]{4})-(?P<seq>[0-9]{6})$")


class ReceiptSequenceExhausted(ValueError):
    """More receipts in one year than the number format holds."""


@dataclass(frozen=True)
class ReceiptNumber:
    property_id: str
    year: int
    sequence: int

    def __str__(self) -> str:
        return format_receipt_number(self.property_id, self.year, self.sequence)


def receipt_year(paid_at: datetime, tz: ZoneInfo) -> int:
    """The year a payment counts in: its local date in the property's time zone."""
    if paid_at.tzinfo is None:
        raise ValueError("paid_at must be timezone-aware")
    return paid_at.astimezone(tz).year


def receipt_counter_name(year: int) -> str:
    return f"receipt#{year:04d}"


def format_receipt_number(property_id: str, year: int, sequence: int) -> str:
    if sequence < 1:
        raise ValueError("receipt sequence starts at 1")
    if sequence > MAX_SEQUENCE:
        raise ReceiptSequenceExhausted(f"more than {MAX_SEQUENCE} receipts in {year}")
    if not 1 <= year <= 9999:
        raise ValueError("year out of range")
    return f"{property_id.upper()}-{year:04d}-{sequence:0{SEQUENCE_DIGITS}d}"


def parse_receipt_number(text: str) -> ReceiptNumber:
    match = _RECEIPT_RE.match(text)
    if not match:
        raise ValueError("not a receipt number")
    return ReceiptNumber(match["property"].lower(), int(match["year"]), int(match["seq"]))
