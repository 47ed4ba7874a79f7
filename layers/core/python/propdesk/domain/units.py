"""Units (房屋) and their owners (业主) as plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Unit:
    unit_id: str  # e.g. "A-1203"
    building: str
    floor: int
    number: str
    area_centi_m2: int  # floor area in 1/100 m²
    owner_id: str


@dataclass(frozen=True)
class ContactMark:
    """Why an address or number no longer takes our messages, and since when (provider time)."""

    reason: str  # bounced | complained | sms_failed
    at: datetime
    detail: str | None = None  # e.g. the bounce type or the SMS provider's response


@dataclass(frozen=True)
class Owner:
    """Contact details are personal data: never logged. A marked channel (``email_mark``,
    ``phone_mark``) is not used; the marks are not part of the owner's details (``compare``):
    the unit import compares what the CSV says."""

    owner_id: str
    name: str
    phone: str | None  # E.164
    email: str | None
    locale: str  # zh-CN | en
    sms_consent: bool
    email_mark: ContactMark | None = field(default=None, compare=False)
    phone_mark: ContactMark | None = field(default=None, compare=False)
