"""Money as an integer count of minor units with its currency. Never a float.

Showing an amount to people is presentation: ``propdesk.formatting.format_money``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# Minor units per major unit; every currency PropertyConfig allows has two decimals.
MINOR_DIGITS = {"CNY": 2, "USD": 2, "EUR": 2, "HKD": 2, "SGD": 2, "GBP": 2}


class CurrencyMismatch(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Money:
    minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise TypeError("Money.minor must be an int of minor units")
        if self.currency not in MINOR_DIGITS:
            raise ValueError(f"unsupported currency {self.currency!r}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)


def multiply_rate(rate_minor: int, quantity: int, divisor: int) -> int:
    """``rate_minor * quantity / divisor`` rounded half up to whole minor units.

    Used for per-area fees: rate per m² times area in 1/100 m² (divisor 100).
    """
    if divisor <= 0:
        raise ValueError("divisor must be positive")
    exact = Decimal(rate_minor) * Decimal(quantity) / Decimal(divisor)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
