from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from propdesk.domain.receipts import (
    ReceiptSequenceExhausted,
    format_receipt_number,
    parse_receipt_number,
    receipt_counter_name,
    receipt_year,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_receipt_number_is_property_year_and_six_digits():
    assert format_receipt_number("demo", 2026, 42) == "DEMO-2026-000042"
    assert format_receipt_number("jinxiu-garden", 2027, 1) == "JINXIU-GARDEN-2027-000001"


def test_receipt_number_round_trips():
    parsed = parse_receipt_number("JINXIU-GARDEN-2027-000123")
    assert (parsed.property_id, parsed.year, parsed.sequence) == ("jinxiu-garden", 2027, 123)
    assert str(parsed) == "JINXIU-GARDEN-2027-000123"


@pytest.mark.parametrize("sequence", [0, -1])
def test_sequence_starts_at_one(sequence):
    with pytest.raises(ValueError, match="starts at 1"):
        format_receipt_number("demo", 2026, sequence)


def test_sequence_beyond_six_digits_is_refused_not_widened():
    assert format_receipt_number("demo", 2026, 999_999) == "DEMO-2026-999999"
    with pytest.raises(ReceiptSequenceExhausted):
        format_receipt_number("demo", 2026, 1_000_000)


@pytest.mark.parametrize(
    "text", ["DEMO-2026-42", "demo-2026-000042", "DEMO-26-000042", "DEMO-2026-0000042", ""]
)
def test_malformed_receipt_numbers_are_refused(text):
    with pytest.raises(ValueError):
        parse_receipt_number(text)


def test_year_is_the_local_year_of_the_payment():
    # GIVEN a payment at 16:30 UTC on 31 December, which is already 1 January in Shanghai
    paid_at = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)
    # THEN it counts in the new year there
    assert receipt_year(paid_at, SHANGHAI) == 2027
    assert receipt_year(datetime(2026, 12, 31, 15, 59, tzinfo=UTC), SHANGHAI) == 2026


def test_naive_time_is_refused():
    with pytest.raises(ValueError):
        receipt_year(datetime(2026, 1, 1), SHANGHAI)


def test_counter_name_per_year():
    assert receipt_counter_name(2026) == "receipt#2026"
