import pytest

from propdesk.domain.money import CurrencyMismatch, Money, multiply_rate


def test_per_area_fee_rounds_half_up_to_whole_fen():
    # 2.80 CNY/m² x 89.37 m² = 250.236 CNY -> 25024 fen
    assert multiply_rate(280, 8937, 100) == 25024
    # exactly half a fen rounds up: 0.45 x 12.50 m² = 5.625 CNY -> 563 fen
    assert multiply_rate(45, 1250, 100) == 563
    assert multiply_rate(45, 1249, 100) == 562


def test_money_refuses_floats_and_mixed_currencies():
    with pytest.raises(TypeError):
        Money(12.5, "CNY")  # type: ignore[arg-type]
    with pytest.raises(CurrencyMismatch):
        Money(1, "CNY") + Money(1, "USD")


def test_money_subtracts_below_zero():
    # (Formatting for people is propdesk.formatting: tests/unit/test_formatting.py.)
    assert (Money(100, "CNY") - Money(250, "CNY")).minor == -150
