"""The property's configuration: one validated model, shared by the stack and the functions.

The stack loads it from ``infra/properties/<id>.yaml`` (see ``infra/config.py``) and hands
the functions the same model as JSON in the ``PROPERTY_CONFIG`` environment variable, so
both sides validate it with the same rules.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Locale = Literal["zh-CN", "en"]
LOCALES: tuple[str, ...] = ("zh-CN", "en")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalizedText(_Strict):
    """A text in every supported locale."""

    zh_CN: str = Field(alias="zh-CN", min_length=1)
    en: str = Field(min_length=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def get(self, locale: str) -> str:
        return self.zh_CN if locale == "zh-CN" else self.en


class Building(_Strict):
    code: str = Field(pattern=r"^[A-Za-z0-9-]{1,16}$")
    name: LocalizedText
    floors: int = Field(ge=1, le=200)
    has_elevator: bool = True


class FeeItem(_Strict):
    """One service item of the fee standard (收费项目) and its rate.

    ``per_m2``: ``rate_minor`` per square metre of the unit's floor area per month.
    ``per_unit``: ``rate_minor`` per unit per month.
    """

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    name: LocalizedText
    basis: Literal["per_m2", "per_unit"]
    rate_minor: int = Field(ge=0)
    # Share of the fee that pays for this item, in basis points (F1 cost breakdown).
    cost_share_bp: int | None = Field(default=None, ge=0, le=10_000)
    # Buildings the item applies to; None means every building.
    buildings: tuple[str, ...] | None = None
    requires_elevator: bool = False


class FeeStandard(_Strict):
    """A published, versioned fee standard (收费标准); every bill names its version."""

    version: str = Field(pattern=r"^[A-Za-z0-9._-]{1,32}$")
    effective_from: date
    legal_basis: tuple[str, ...] = Field(min_length=1)
    items: tuple[FeeItem, ...] = Field(min_length=1)

    @field_validator("items")
    @classmethod
    def _unique_codes(cls, items: tuple[FeeItem, ...]) -> tuple[FeeItem, ...]:
        codes = [item.code for item in items]
        duplicates = sorted({code for code in codes if codes.count(code) > 1})
        if duplicates:
            raise ValueError(f"fee item codes must be unique, repeated: {', '.join(duplicates)}")
        return items


class BillingCalendar(_Strict):
    """When bills are issued, due and reminded. Periods are calendar months."""

    cycle: Literal["monthly"] = "monthly"
    # Notices go out this many days before the first day of the billing period.
    notice_lead_days: int = Field(ge=1, le=60)
    # Local time of day at which the daily notice and dunning runs fire.
    run_time: str = Field(default="09:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    # Day of the period's month on which payment is due (clamped to the month's last day).
    due_day: int = Field(ge=1, le=31)
    # The friendly reminder (F3) goes this many days before the due date.
    reminder_offset_days: int = Field(ge=1, le=28)
    # A cycle is prepared as a draft on its notice day; a manager approves it before anything
    # leaves. True: the draft is approved by itself once computed (a property that trusts its data).
    auto_issue: bool = False
    # A new fee standard is publicly posted (公示) at least this many days, starting at least this
    # many days before it takes effect (Shanghai practice: 30).
    standard_publication_days: int = Field(default=30, ge=1, le=365)


class PropertyContact(_Strict):
    """Who the owner deals with: printed on receipts, given on the invalid-link page."""

    company: LocalizedText  # the property-service company that collects the fees (收款单位)
    address: LocalizedText
    phone: str = Field(min_length=3, max_length=30, pattern=r"^[0-9+()\- ]+$")


class FrontDesk(_Strict):
    place: LocalizedText
    hours: LocalizedText


class BankAccount(_Strict):
    bank: LocalizedText
    account_name: str
    account_number: str


class HomeVisits(_Strict):
    """Home collection (上门收费) for elderly owners or owners with special needs."""

    slots: tuple[str, ...] = Field(min_length=1)  # local "HH:MM-HH:MM", e.g. "09:00-11:00"
    days_ahead: int = Field(default=14, ge=1, le=60)  # how far ahead a visit may be booked
    per_slot: int = Field(default=4, ge=1, le=50)  # visits one collector makes in a slot

    @field_validator("slots")
    @classmethod
    def _slots(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for slot in value:
            if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]", slot):
                raise ValueError(f"a slot is 'HH:MM-HH:MM', not {slot!r}")
            start, end = slot.split("-")
            if start >= end:
                raise ValueError(f"slot {slot!r} ends before it starts")
        if len(set(value)) != len(value):
            raise ValueError("slots must be different")
        return value


RAIL_CURRENCIES: dict[str, frozenset[str]] = {
    # WeChat Pay's and Alipay's merchant APIs for mainland merchants settle in CNY only.
    "wechat_pay": frozenset({"CNY"}),
    "alipay": frozenset({"CNY"}),
    "stripe": frozenset({"CNY", "USD", "EUR", "HKD", "SGD", "GBP"}),
}


class CardAutopay(_Strict):
    """Card autopay through Stripe: the owner saves a card (Checkout in setup mode); each bill is
    charged off-session on its due date after a notice, retried, then left to the reminders."""

    notice_days_before: int = Field(default=3, ge=1, le=14)
    # Days after the due date on which a declined charge is tried again.
    retry_days: tuple[int, ...] = Field(default=(2, 5), max_length=5)

    @field_validator("retry_days")
    @classmethod
    def _increasing(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(day < 1 for day in value) or list(value) != sorted(set(value)):
            raise ValueError("retry_days are days after the due date, increasing, each at least 1")
        return value


class PaymentSettings(_Strict):
    # The online rails the account page offers, in the order it shows them.
    rails: tuple[Literal["stripe", "wechat_pay", "alipay"], ...] = Field(default=("stripe",), min_length=1)
    # The methods Stripe's Checkout offers (a Stripe property's): card, and where Stripe has them
    # for the market, wallets such as paynow or alipay.
    payment_method_types: tuple[str, ...] = ("card",)
    # How long an owner's pay link stays valid.
    link_ttl_days: int = Field(default=60, ge=1, le=400)
    # How long a Stripe Checkout Session stays open (Stripe allows 30 minutes to 24 hours).
    checkout_expiry_minutes: int = Field(default=60, ge=30, le=1440)
    # Within a bill, whether a payment pays the principal (the fee lines) or the late fee first.
    allocation_order: Literal["principal_first", "late_fee_first"] = "principal_first"
    # A refund of more than this (minor units) waits for an admin other than the one who asked.
    refund_approval_minor: int = Field(default=50_000, ge=0)
    # Money for bills settled meanwhile (two tabs, desk and online): kept as the account's credit,
    # or refunded at once through the provider (online payments; the desk hands cash back itself).
    surplus: Literal["credit", "refund"] = "credit"
    front_desk: FrontDesk
    bank_account: BankAccount | None = None
    home_visits: HomeVisits | None = None
    # Bank direct debit (银行代扣) by file exchange: owners enrol from the account page; each
    # cycle's deduction file and the bank's result file go through the staff API.
    direct_debit: bool = False
    card_autopay: CardAutopay | None = None


class Department(_Strict):
    """A department that takes work orders (工程/保洁/安保/绿化 ...)."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    name: LocalizedText
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    # Request types routed to this department.
    handles: tuple[str, ...] = ()


class QuietHours(_Strict):
    """Local hours in which no SMS goes out (e-mail is not held): an SMS due then waits for
    ``end``. ``start`` after ``end`` spans midnight (21:00-08:00)."""

    start: str = Field(default="21:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    end: str = Field(default="08:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("messaging.quiet_hours: start and end must differ")
        return self


class Messaging(_Strict):
    sender_email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    sms_sender_id: str | None = Field(default=None, max_length=11)
    # Messages per second the messenger may send, per channel.
    max_send_rate: int = Field(default=10, ge=1, le=1000)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    # Nudges (reminders) an owner gets at most per ISO week, in the property's time zone. Essential
    # messages (notices, receipts, refunds, work orders, ...) are never capped nor counted.
    weekly_cap: int = Field(default=3, ge=1, le=20)


class PropertyConfig(_Strict):
    property_id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,30}$")
    name: LocalizedText
    contact: PropertyContact
    time_zone: str
    currency: Literal["CNY", "USD", "EUR", "HKD", "SGD", "GBP"]
    default_locale: Locale = "zh-CN"
    buildings: tuple[Building, ...] = Field(min_length=1)
    # CSV of units and owners, relative to the config file's folder.
    units_source: str
    fee_standard: FeeStandard
    billing: BillingCalendar
    payment: PaymentSettings
    messaging: Messaging
    departments: tuple[Department, ...] = Field(min_length=1)

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)") from exc
        return value

    @model_validator(mode="after")
    def _rails_serve_the_currency(self) -> PropertyConfig:
        rails = self.payment.rails
        if len(set(rails)) != len(rails):
            raise ValueError("payment.rails lists a rail twice")
        for rail in rails:
            if self.currency not in RAIL_CURRENCIES[rail]:
                served = ", ".join(sorted(RAIL_CURRENCIES[rail]))
                raise ValueError(f"payment rail {rail!r} cannot take {self.currency} (it takes {served})")
        if self.payment.card_autopay is not None and "stripe" not in rails:
            raise ValueError(
                "payment.card_autopay charges saved cards through Stripe: add stripe to payment.rails"
            )
        if self.payment.card_autopay is not None and self.payment.direct_debit:
            # Both would collect the same bills (a card charge and a bank debit): one or the other.
            raise ValueError(
                "payment.card_autopay and payment.direct_debit collect the same bills: offer one"
            )
        return self

    @model_validator(mode="after")
    def _references_resolve(self) -> PropertyConfig:
        codes = {b.code for b in self.buildings}
        if len(codes) != len(self.buildings):
            raise ValueError("building codes must be unique")
        for item in self.fee_standard.items:
            unknown = set(item.buildings or ()) - codes
            if unknown:
                raise ValueError(
                    f"fee item {item.code!r} names unknown buildings: {', '.join(sorted(unknown))}"
                )
        dept_codes = [d.code for d in self.departments]
        if len(set(dept_codes)) != len(dept_codes):
            raise ValueError("department codes must be unique")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def building(self, code: str) -> Building:
        for building in self.buildings:
            if building.code == code:
                return building
        raise KeyError(code)

    def to_env_json(self) -> str:
        """Compact JSON for the functions' ``PROPERTY_CONFIG`` environment variable."""
        return self.model_dump_json(by_alias=True, exclude_none=True)


PROPERTY_ID_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
