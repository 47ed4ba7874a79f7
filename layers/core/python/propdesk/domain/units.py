"""Units (房屋) and their owners (业主) as plain values."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    unit_id: str  # e.g. "A-1203"
    building: str
    floor: int
    number: str
    area_centi_m2: int  # floor area in 1/100 m²
    owner_id: str


@dataclass(frozen=True)
class Owner:
    """Contact details are personal data: never logged."""

    owner_id: str
    name: str
    phone: str | None  # E.164
    email: str | None
    locale: str  # zh-CN | en
    sms_consent: bool
