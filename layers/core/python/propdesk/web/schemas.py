"""The request and response bodies of the HTTP API, as pydantic models.

The resolver validates requests against them and the OpenAPI document is generated from them,
so what the document promises is what the functions accept and answer. Amounts are integer
minor units with their currency; times are ISO 8601 in UTC; dates are the property's local dates.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from propdesk.domain.calendar import PERIOD_PATTERN

__all__ = ["PERIOD_PATTERN"]

UNIT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(_Out):
    """One invalid field: where and what, never the submitted value."""

    field: str
    problem: str


class LineProblem(_Out):
    """One invalid line of an uploaded file."""

    line: int
    message: str


class WeChatPayFailure(BaseModel):
    """The answer WeChat Pay expects to a notification we did not take: it delivers it again."""

    model_config = ConfigDict(extra="forbid")
    code: Literal["FAIL"]
    message: str


class ErrorBody(BaseModel):
    """Every error the API answers: a code, a sentence for people, and details where useful.
    (API Gateway's own 401 carries only ``message``.)"""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "error": "invalid_request",
                    "message": "The request is not valid.",
                    "details": [
                        {
                            "field": "period",
                            "problem": "String should match pattern '^(2[0-9]{3})-(0[1-9]|1[0-2])$'",
                        }
                    ],
                }
            ]
        },
    )

    error: str | None = Field(default=None, description="Machine-readable code, e.g. 'forbidden'")
    message: str
    details: list[Problem] | None = None
    errors: list[LineProblem] | None = None


class BillRow(_Out):
    bill_id: str
    unit_id: str
    period: str
    total_minor: int
    paid_minor: int
    owed_minor: int
    currency: str
    due_date: str
    status: str
    days_overdue: int
    receipt_no: str | None
    owner_name: str | None = None
    building: str | None = None


class BillsPage(_Out):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "period": "2027-01",
                    "bills": [
                        {
                            "bill_id": "A-1203#2027-01",
                            "unit_id": "A-1203",
                            "period": "2027-01",
                            "total_minor": 37727,
                            "paid_minor": 37727,
                            "owed_minor": 0,
                            "currency": "CNY",
                            "due_date": "2027-01-15",
                            "status": "paid",
                            "days_overdue": 0,
                            "receipt_no": "DEMO-2026-000042",
                            "owner_name": "张伟",
                            "building": "A",
                        }
                    ],
                }
            ]
        },
    )

    period: str | None = Field(description="The period asked for; null when listing open bills of any period")
    bills: list[BillRow]


class BillLineOut(_Out):
    code: str
    basis: str
    rate_minor: int
    quantity: int
    amount_minor: int


class BillDetail(BillRow):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "bill_id": "A-1203#2027-01",
                    "unit_id": "A-1203",
                    "period": "2027-01",
                    "total_minor": 37727,
                    "owed_minor": 37727,
                    "currency": "CNY",
                    "due_date": "2027-01-15",
                    "status": "open",
                    "days_overdue": 0,
                    "receipt_no": None,
                    "owner_name": "张伟",
                    "building": "A",
                    "owner_id": "O0042",
                    "fee_standard_version": "SH-2026-01",
                    "lines": [
                        {
                            "code": "service",
                            "basis": "per_m2",
                            "rate_minor": 280,
                            "quantity": 8937,
                            "amount_minor": 25024,
                        }
                    ],
                    "issued_at": "2026-12-17T01:00:00+00:00",
                    "paid_minor": 0,
                    "paid_at": None,
                    "payment_id": None,
                }
            ]
        },
    )

    owner_id: str
    fee_standard_version: str
    lines: list[BillLineOut]
    issued_at: str
    paid_minor: int
    paid_at: str | None
    payment_id: str | None


class CollectionSummaryOut(_Out):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "period": "2027-01",
                    "currency": "CNY",
                    "bills_issued": 312,
                    "bills_paid": 270,
                    "bills_unpaid": 42,
                    "billed_minor": 11650112,
                    "collected_minor": 10082541,
                    "outstanding_minor": 1567571,
                    "collection_rate_bp": 8654,
                }
            ]
        },
    )

    period: str
    currency: str
    bills_issued: int
    bills_paid: int
    bills_unpaid: int
    billed_minor: int
    collected_minor: int
    outstanding_minor: int
    collection_rate_bp: int = Field(description="Collected / billed in basis points (10000 = 100 %)")


class ImportResult(_Out):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"created": 312, "updated": 0, "unchanged": 0}]}
    )

    created: int
    updated: int
    unchanged: int


class CycleOutOfTurnIn(BaseModel):
    """Only to issue a period other than the next one: why, and the word "backdated"."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason": "Units added late to the 2026-11 cycle", "confirm": "backdated"}]
        },
    )

    reason: str = Field(min_length=10, max_length=300)
    confirm: Literal["backdated"]


class CycleVoidIn(BaseModel):
    """Why the cycle is voided: kept in the ledger and told to every owner it reached."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"reason": "Wrong area for building 3; corrected and re-billed"}]},
    )

    reason: str = Field(min_length=10, max_length=300)


class CycleBuildingOut(_Out):
    building: str
    bills: int
    total_minor: int


class CycleExceptionOut(_Out):
    unit_id: str
    kind: Literal["no_contact", "credit_covers", "not_computable", "unit_missing"]
    amount_minor: int | None = None


class CycleOut(_Out):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "period": "2027-01",
                    "state": "draft",
                    "fee_standard_version": "SH-2026-01",
                    "units": 312,
                    "batches": 7,
                    "batches_done": 7,
                    "bills": 312,
                    "total_minor": 10236455,
                    "by_building": [{"building": "A", "bills": 80, "total_minor": 2856320}],
                    "exceptions": [{"unit_id": "C-0201", "kind": "no_contact", "amount_minor": None}],
                    "prepared_by": "system",
                    "prepared_at": "2026-12-17T01:00:00+00:00",
                    "approved_by": None,
                    "approved_at": None,
                    "voided_by": None,
                    "voided_at": None,
                    "void_reason": None,
                }
            ]
        },
    )

    period: str
    state: Literal["preparing", "draft", "approved", "voided"]
    fee_standard_version: str | None
    units: int
    batches: int
    batches_done: int
    bills: int
    total_minor: int
    by_building: list[CycleBuildingOut]
    exceptions: list[CycleExceptionOut]
    prepared_by: str | None = None
    prepared_at: str | None = None
    approved_by: str | None = None
    approved_at: str | None = None
    voided_by: str | None = None
    voided_at: str | None = None
    void_reason: str | None = None


class TicketIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "kind": "repair",
                    "category": "water",
                    "unit_id": "A-1203",
                    "channel": "hotline",
                    "summary": "Water dripping from the bathroom ceiling since this morning.",
                    "emergency": False,
                }
            ]
        },
    )

    kind: Literal["repair", "consultation", "complaint", "suggestion"]
    category: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z][A-Za-z0-9_ -]*$")
    unit_id: str | None = Field(
        default=None, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
    )
    channel: Literal["hotline", "app", "front_desk"]
    # Not only white space (it is stripped before the length is checked).
    summary: str = Field(min_length=1, max_length=2000, pattern=r"\S")
    emergency: bool = False


class TicketOut(_Out):
    ticket_id: str
    kind: str
    category: str
    unit_id: str | None
    channel: str
    summary: str
    emergency: bool
    status: str
    department: str | None
    priority: str | None
    due_at: str | None
    created_at: str


class TicketTaken(TicketOut):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "ticket_id": "T-26551ed85794fc2bab8c",
                    "kind": "repair",
                    "category": "water",
                    "unit_id": "A-1203",
                    "channel": "hotline",
                    "summary": "Water dripping from the bathroom ceiling since this morning.",
                    "emergency": False,
                    "status": "received",
                    "department": None,
                    "priority": None,
                    "due_at": None,
                    "created_at": "2026-12-01T05:26:16+00:00",
                    "created": True,
                }
            ]
        },
    )

    created: bool = Field(description="False: the same request was already taken within the minute")


class WebhookAnswer(_Out):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"received": True, "outcome": "credited"}]}
    )

    received: bool
    outcome: str = Field(
        description="credited (bills paid in full) | partial | credit (the rest kept as credit) | "
        "duplicate (the bills were paid already: kept as credit, in the staff queue) | set_aside "
        "(no unit or another currency: in the staff queue) | already_recorded | ignored | refunded (a "
        "refund posted: bills open again) | dispute (a chargeback reversed it: in the staff queue) | "
        "payment_failed (a delayed payment failed: the owner is told)"
    )


# --- accounts and the front desk --------------------------------------------------------------

REQUEST_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"


def _whole_number(value: object) -> object:
    """An amount is a JSON integer: 100 or 100.0 (JSON Schema's integer), never 12.5, "100" or true."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("an amount is a whole number of minor units (an integer)")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("an amount is a whole number of minor units (an integer)")
        return int(value)
    return value


MinorUnits = Annotated[int, BeforeValidator(_whole_number)]


def _iso_date(value: object) -> object:
    """A date is written YYYY-MM-DD (not a timestamp, not 20270105)."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("a date is written YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
MAX_AMOUNT_MINOR = 10**10  # 100 million in major units: larger is a typing error


class DeskPaymentIn(BaseModel):
    """A payment taken at the front desk, or at the owner's door (channel home_visit)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # The rules of _method_details, so the document says what the route accepts.
            "allOf": [
                {
                    "if": {"properties": {"method": {"const": "cheque"}}, "required": ["method"]},
                    "then": {
                        "required": ["cheque_number", "cheque_bank"],
                        "properties": {
                            "cheque_number": {"type": "string"},
                            "cheque_bank": {"type": "string"},
                        },
                    },
                },
                {
                    "if": {
                        "properties": {"method": {"enum": ["bank_card", "bank_transfer"]}},
                        "required": ["method"],
                    },
                    "then": {"required": ["reference"], "properties": {"reference": {"type": "string"}}},
                },
                {
                    "if": {"properties": {"method": {"enum": ["cash", "bank_card", "bank_transfer"]}}},
                    "then": {
                        "properties": {"cheque_number": {"type": "null"}, "cheque_bank": {"type": "null"}}
                    },
                },
                {
                    "if": {"properties": {"channel": {"const": "home_visit"}}, "required": ["channel"]},
                    "then": {"required": ["visit_id"], "properties": {"visit_id": {"type": "string"}}},
                },
            ],
            "examples": [
                {
                    "request_id": "9b2f0c1e-desk-0001",
                    "amount_minor": 37727,
                    "method": "bank_card",
                    "reference": "POS 000123",
                }
            ],
        },
    )

    request_id: str = Field(
        pattern=REQUEST_ID_PATTERN,
        description="Made by the cashier's screen for this payment: sending it again records nothing new",
    )
    amount_minor: MinorUnits = Field(gt=0, le=MAX_AMOUNT_MINOR, description="Minor units (fen), > 0")
    method: Literal["cash", "bank_card", "cheque", "bank_transfer"]
    reference: str | None = Field(
        default=None, min_length=1, max_length=64, description="POS reference (bank card), transfer reference"
    )
    cheque_number: str | None = Field(default=None, min_length=1, max_length=32)
    cheque_bank: str | None = Field(default=None, min_length=1, max_length=64)
    channel: Literal["front_desk", "home_visit"] = "front_desk"
    visit_id: str | None = Field(default=None, min_length=3, max_length=64)

    @model_validator(mode="after")
    def _method_details(self) -> DeskPaymentIn:
        if self.method == "cheque" and not (self.cheque_number and self.cheque_bank):
            raise ValueError("a cheque needs its number (cheque_number) and bank (cheque_bank)")
        if self.method in ("bank_card", "bank_transfer") and not self.reference:
            raise ValueError(f"a {self.method.replace('_', ' ')} payment needs its reference")
        if self.method != "cheque" and (self.cheque_number or self.cheque_bank):
            raise ValueError("cheque details belong to a cheque payment")
        if self.channel == "home_visit" and not self.visit_id:
            raise ValueError("a payment at the door names its visit (visit_id)")
        return self


class AllocationOut(_Out):
    bill_id: str
    period: str
    amount_minor: int


class PaymentOut(_Out):
    payment_id: str
    unit_id: str | None
    provider: str
    method: str
    channel: str
    amount_minor: int
    currency: str
    status: str = Field(description="allocated | set_aside | voided | refunded")
    receipt_no: str | None
    allocations: list[AllocationOut]
    credit_minor: int
    refunded_minor: int = Field(description="Gone back to the payer: refunds and disputes")
    refund_pending_minor: int = Field(description="Held by refunds waiting for approval or the provider")
    disputed_minor: int = Field(description="The part of refunded_minor a dispute (chargeback) took back")
    reference: str | None
    recorded_by: str | None
    paid_at: str
    received_at: str
    review_state: str | None
    review_reason: str | None
    review_note: str | None
    void_reason: str | None
    void_requested_by: str | None
    voided_by: str | None
    voided_at: str | None
    invoice_state: str | None = Field(
        default=None, description="requested | issued: an official tax invoice (发票)"
    )
    invoice_title: str | None = None
    invoice_tax_id: str | None = None
    invoice_no: str | None = None


class DeskPaymentTaken(PaymentOut):
    outcome: str = Field(description="credited | partial | credit | already_recorded")
    created: bool


class PaymentQueue(_Out):
    payments: list[PaymentOut]


class ResolutionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["keep_credit", "allocate", "refund"] = Field(
        description="keep_credit | allocate (its credit pays the open bills; unit_id places a payment "
        "without a unit) | refund (its credit goes back through its provider; a large one waits for an "
        "admin's approval)"
    )
    unit_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,32}$")
    note: str | None = Field(default=None, min_length=1, max_length=200)


class VoidRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=200)


class OwnerOut(_Out):
    owner_id: str
    name: str
    phone: str | None
    email: str | None


class UnitAccountOut(_Out):
    unit_id: str
    building: str
    owner: OwnerOut | None
    currency: str
    credit_minor: int
    owed_minor: int
    open_bills: list[BillRow]
    payments: list[PaymentOut]


class AccountMatch(_Out):
    unit_id: str
    building: str
    owner_id: str
    owner_name: str | None


class AccountMatches(_Out):
    query: str
    accounts: list[AccountMatch]


class PaidOutOut(_Out):
    refund_id: str
    payment_id: str
    method: str
    amount_minor: int
    paid_out_at: datetime


class CashUpOut(_Out):
    staff_id: str
    date: str
    currency: str
    totals_by_method: dict[str, int] = Field(
        description="Taken less paid back that day, by method: what the drawer and the POS should hold"
    )
    count_by_method: dict[str, int]
    total_minor: int
    payments: list[PaymentOut]
    paid_out: list[PaidOutOut] = Field(description="Refunds paid back at the desk that day")


class ReceiptLinkOut(_Out):
    receipt_no: str
    url: str = Field(description="The receipt PDF; the link stops working after expires_in seconds")
    expires_in: int


# --- refunds ----------------------------------------------------------------------------------


class RefundIn(BaseModel):
    """A refund of (part of) a payment, started by staff."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"request_id": "7c1e-refund-0001", "amount_minor": 5000, "reason": "Paid twice"}]
        },
    )

    request_id: str = Field(
        pattern=REQUEST_ID_PATTERN,
        description="Made by the staff member's screen for this refund: sending it again starts nothing new",
    )
    amount_minor: MinorUnits = Field(
        gt=0,
        le=MAX_AMOUNT_MINOR,
        description="Minor units (fen), > 0; at most what is left of the payment (409 refund_too_large)",
    )
    reason: str = Field(
        min_length=3, max_length=200, description="Why, for the records (not sent to the owner)"
    )


class RefundOut(_Out):
    refund_id: str
    payment_id: str
    unit_id: str | None
    amount_minor: int
    currency: str
    reason: str
    status: str = Field(
        description="pending_approval (an admin other than the one asking approves it) | approved (to "
        "be sent) | sent (the provider took it; posted when it confirms) | succeeded (posted: the bills "
        "it had paid are open again) | failed (the provider refused it; nothing moved)"
    )
    requested_by: str
    approved_by: str | None
    provider_refund_id: str | None
    failure: str | None
    created_at: str
    updated_at: str


class RefundTaken(RefundOut):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "refund_id": "rf_7c1e-refund-0001",
                    "payment_id": "stripe:pi_3Qx1",
                    "unit_id": "A-1203",
                    "amount_minor": 5000,
                    "currency": "CNY",
                    "reason": "Paid twice",
                    "status": "sent",
                    "requested_by": "cashier-li",
                    "approved_by": None,
                    "provider_refund_id": "re_3Qx1",
                    "failure": None,
                    "created_at": "2027-01-05T02:00:00+00:00",
                    "updated_at": "2027-01-05T02:00:01+00:00",
                    "created": True,
                }
            ]
        },
    )

    created: bool = Field(description="False: this request_id started a refund before; this is that refund")


class VisitIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"unit_id": "A-1203", "day": "2027-01-05", "slot": "09:00-11:00"}]},
    )

    unit_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    day: IsoDate = Field(description="The property's local date")
    slot: str = Field(pattern=r"^[0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9]$", examples=["09:00-11:00"])
    note: str | None = Field(default=None, min_length=1, max_length=200, description="For the collector")


class VisitOut(_Out):
    visit_id: str
    unit_id: str
    day: str
    slot: str
    status: str = Field(description="booked | done")
    booked_by: str
    note: str | None
    payment_id: str | None
    owner_name: str | None = None
    owner_phone: str | None = None
    owed_minor: int | None = None


class VisitBooked(VisitOut):
    created: bool


class DayVisits(_Out):
    day: str
    visits: list[VisitOut]


class InvoiceIssuedIn(BaseModel):
    """An invoice issued in the tax system for a payment; title and tax number record a request
    taken at the desk in the same step."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"invoice_no": "31001234 56789012"}]}
    )

    invoice_no: str = Field(min_length=4, max_length=40, pattern=r"^[0-9A-Za-z -]+$")
    title: str | None = Field(default=None, min_length=1, max_length=100)
    tax_id: str | None = Field(default=None, pattern=r"^[0-9A-Za-z]{15,20}$")


class InvoiceQueue(_Out):
    payments: list[PaymentOut]


class BankLineOut(_Out):
    """One line of a bank statement and what became of it."""

    line: int = Field(description="Its line number in the file (the header is line 1)")
    state: Literal["proposed", "unmatched", "confirmed", "recorded_already", "set_aside", "not_a_credit"]
    day: str
    amount_minor: int
    payer: str
    memo: str
    reference: str | None
    match: Literal["exact", "unit"] | None = Field(
        description="exact: the unit and the amount agree; unit: the unit is named, the amount differs"
    )
    unit_id: str | None
    bill_ids: list[str]
    owed_minor: int | None = Field(description="What the unit owed when the statement was read")
    reason: str
    payment_id: str | None


class BankStatementOut(_Out):
    statement_id: str
    created: bool = Field(description="False: this statement was imported before, and nothing changed")
    imported_by: str
    imported_at: str
    first_day: str
    last_day: str
    credit_minor: int
    counts: dict[str, int]
    lines: list[BankLineOut]


class BankDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line: int = Field(ge=2, le=100_000, description="The line's number in the file")
    action: Literal["confirm", "set_aside"]
    unit_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$",
        description="Credit this unit instead of the proposed one (or an unmatched line's unit)",
    )
    note: str = Field(default="", max_length=200)


class BankDecisionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decisions: list[BankDecisionIn] = Field(min_length=1, max_length=200)


class BankDecisionOut(_Out):
    line: int
    state: str
    payment_id: str | None
    receipt_no: str | None
    outcome: str | None


class BankDecisionsOut(_Out):
    statement_id: str
    results: list[BankDecisionOut]


class ReconciliationItemOut(_Out):
    """A difference between a provider's statement and our payments, for staff."""

    reconciliation_id: str
    line: int
    state: Literal["open", "resolved"]
    rail: str
    day: str
    type: Literal["provider_only", "ours_only", "amount_differs", "refund_not_posted", "refund_unknown"]
    payment_id: str
    order_id: str | None
    provider_payment_id: str | None
    provider_minor: int | None
    ours_minor: int | None
    unit_id: str | None
    note: str | None = None
    resolved_by: str | None = None


class ReconciliationList(_Out):
    items: list[ReconciliationItemOut]


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=3, max_length=500, description="What it was, and what was done")


class CallOut(_Out):
    model_config = ConfigDict(extra="forbid")

    outcome: str
    note: str | None
    by: str
    at: str


class CallItemOut(_Out):
    """An owner to call about a bill: no message can reach them (the pre-due reminder's call list)."""

    call_list_id: str = Field(description="CL<YYYYMM>, the period's list")
    line: int
    state: Literal["open", "done"]
    period: str
    unit_id: str
    bill_id: str
    owner_name: str | None = Field(description="For the caller; personal data, never logged")
    phone: str | None
    owed_minor: int
    currency: str
    due_date: str
    why: Literal["no contact", "no usable channel"]
    calls: list[CallOut]


class CallList(_Out):
    items: list[CallItemOut]


class CallOutcomeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"outcome": "promised_to_pay", "note": "本周五来前台"}]},
    )

    outcome: Literal["reached", "promised_to_pay", "no_answer", "busy", "wrong_number", "refused"] = Field(
        description="reached, promised_to_pay, wrong_number and refused take the owner off the list"
    )
    note: str | None = Field(default=None, min_length=1, max_length=300)


class DebitLineOut(_Out):
    reference: str = Field(description="The line's reference in the bank's file: DDyyyymm-nnnn")
    state: Literal["sent", "paid", "failed"]
    unit_id: str
    bank: str
    account: str = Field(description="Masked: 6222 **** **** 1234")
    amount_minor: int
    bill_ids: list[str]
    payment_id: str | None
    reason: str | None = None


class DebitBatchOut(_Out):
    batch_id: str
    period: str
    created: bool = Field(description="False: the period's batch was made before; this is it")
    amount_minor: int
    lines: list[DebitLineOut]
    file_url: str = Field(description="The bank's file (full account numbers): a link valid 5 minutes")


class DebitAppliedOut(_Out):
    reference: str
    unit_id: str
    state: Literal["paid", "failed"]
    changed: bool = Field(description="False: this line had its result already")
    payment_id: str | None
    receipt_no: str | None


class DebitResultsOut(_Out):
    results: list[DebitAppliedOut]


# --- fee standards (F1) ----------------------------------------------------------------------------

STANDARD_VERSION_PATTERN = r"^[A-Za-z0-9._-]{1,32}$"
FEE_ITEM_CODE_PATTERN = r"^[a-z][a-z0-9_]{1,31}$"
FULL_SHARE_BP = 10_000


class LocalizedIn(BaseModel):
    """A text in every locale the property's pages and messages use: zh-CN and en."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    zh_CN: str = Field(alias="zh-CN", min_length=1, max_length=300)
    en: str = Field(min_length=1, max_length=300)

    @model_validator(mode="before")
    @classmethod
    def _known_locales(cls, data: object) -> object:
        if isinstance(data, dict):
            unknown = sorted(str(key) for key in data if key not in ("zh-CN", "en"))
            if unknown:
                raise ValueError(f"unknown locale {', '.join(unknown)}: give the text in zh-CN and en")
        return data


class LegalDocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["approval", "filing"] = Field(description="A government approval (审批) or filing (备案)")
    reference: str = Field(min_length=1, max_length=120, examples=["沪房物备〔2026〕第0412号"])
    issued_by: LocalizedIn


class ContractClauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contract: LocalizedIn
    clause: LocalizedIn


class LegalBasisIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document: LegalDocumentIn
    contract_clauses: list[ContractClauseIn] = Field(min_length=1, max_length=10)


class FeeItemIn(BaseModel):
    """A service item and its monthly rate in minor units: per m² of floor area, or per unit."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=FEE_ITEM_CODE_PATTERN, examples=["service"])
    name: LocalizedIn
    basis: Literal["per_m2", "per_unit"]
    rate_minor: int = Field(ge=0, le=MAX_AMOUNT_MINOR, description="Per month, in minor units (fen)")
    buildings: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,16}$")]] | None = Field(
        default=None, max_length=100, description="Only these buildings (none: every building)"
    )
    requires_elevator: bool = Field(default=False, description="Only buildings with elevators")


class CostLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: LocalizedIn
    share_bp: int = Field(ge=1, le=FULL_SHARE_BP, description="Share of the fee, in basis points (1/100 %)")
    item: str | None = Field(
        default=None, pattern=FEE_ITEM_CODE_PATTERN, description="The fee item it is the cost of"
    )


_STANDARD_EXAMPLE = {
    "effective_from": "2027-03-01",
    "legal_basis": {
        "document": {
            "kind": "filing",
            "reference": "沪房物备〔2026〕第0412号",
            "issued_by": {"zh-CN": "上海市浦东新区房屋管理局", "en": "Pudong Housing Administration"},
        },
        "contract_clauses": [
            {
                "contract": {
                    "zh-CN": "《锦绣花园物业服务合同》",
                    "en": "Jinxiu Garden property-service contract",
                },
                "clause": {"zh-CN": "第五章第二十一条", "en": "chapter 5, clause 21"},
            }
        ],
    },
    "items": [
        {
            "code": "service",
            "name": {"zh-CN": "物业服务费", "en": "Property service fee"},
            "basis": "per_m2",
            "rate_minor": 295,
        },
        {
            "code": "waste",
            "name": {"zh-CN": "生活垃圾清运费", "en": "Household waste removal"},
            "basis": "per_unit",
            "rate_minor": 1000,
        },
    ],
    "cost_breakdown": [
        {"name": {"zh-CN": "保洁", "en": "Cleaning"}, "share_bp": 3500},
        {"name": {"zh-CN": "安保", "en": "Security"}, "share_bp": 3000},
        {"name": {"zh-CN": "绿化养护", "en": "Landscaping"}, "share_bp": 1500},
        {"name": {"zh-CN": "垃圾清运", "en": "Waste removal"}, "share_bp": 2000, "item": "waste"},
    ],
}


class FeeStandardDraftIn(BaseModel):
    """A draft version: its effective date, legal basis, items and cost breakdown (whose shares add
    up to exactly 100 %, 10000 basis points)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_STANDARD_EXAMPLE]})

    effective_from: IsoDate = Field(description="The property's local date it takes effect")
    legal_basis: LegalBasisIn
    items: list[FeeItemIn] = Field(min_length=1, max_length=30)
    cost_breakdown: list[CostLineIn] = Field(min_length=1, max_length=30)

    @model_validator(mode="after")
    def _consistent(self) -> FeeStandardDraftIn:
        codes = [item.code for item in self.items]
        repeated = sorted({code for code in codes if codes.count(code) > 1})
        if repeated:
            raise ValueError(f"fee item codes must be unique, repeated: {', '.join(repeated)}")
        total = sum(line.share_bp for line in self.cost_breakdown)
        if total != FULL_SHARE_BP:
            raise ValueError(
                f"the cost breakdown's shares add up to {total} basis points; they must add up to "
                f"exactly {FULL_SHARE_BP} (100 %)"
            )
        unknown = sorted({line.item for line in self.cost_breakdown if line.item and line.item not in codes})
        if unknown:
            raise ValueError(f"cost lines name fee items the version does not have: {', '.join(unknown)}")
        return self


class FeeStandardIn(FeeStandardDraftIn):
    """A new draft version, with its id."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"version": "SH-2027-01", **_STANDARD_EXAMPLE}]}
    )

    version: str = Field(pattern=STANDARD_VERSION_PATTERN, examples=["SH-2027-01"])


class PublicationIn(BaseModel):
    """The publication (公示): from when to when it is posted (local dates, both included), and where."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "starts_on": "2027-01-05",
                    "ends_on": "2027-02-28",
                    "channels": ["notice_board", "building_doors", "website", "owner_message"],
                }
            ]
        },
    )

    starts_on: IsoDate
    ends_on: IsoDate
    channels: list[Literal["notice_board", "building_doors", "website", "owner_message"]] = Field(
        min_length=1, max_length=4, json_schema_extra={"uniqueItems": True}
    )

    @model_validator(mode="after")
    def _each_channel_once(self) -> PublicationIn:
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("each channel once")
        return self


class LocalizedOut(_Out):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    zh_CN: str = Field(alias="zh-CN")
    en: str


class FeeItemOut(_Out):
    code: str
    name: LocalizedOut
    basis: Literal["per_m2", "per_unit"]
    rate_minor: int
    buildings: list[str] | None = None
    requires_elevator: bool = False
    cost_share_bp: int | None = None


class CostLineOut(_Out):
    name: LocalizedOut
    share_bp: int
    item: str | None = None


class LegalDocumentOut(_Out):
    kind: Literal["approval", "filing"]
    reference: str
    issued_by: LocalizedOut


class ContractClauseOut(_Out):
    contract: LocalizedOut
    clause: LocalizedOut


class LegalBasisOut(_Out):
    document: LegalDocumentOut
    contract_clauses: list[ContractClauseOut]


class PublicationOut(_Out):
    starts_on: str
    ends_on: str
    channels: list[str]
    published_by: str
    published_at: datetime


class FeeStandardOut(_Out):
    """A version: the launch standard (from the property's configuration, ``launch``) has its legal
    basis as lines only."""

    version: str
    status: Literal["draft", "published"]
    effective_from: str
    legal_basis: LegalBasisOut | None
    legal_basis_lines: list[str]
    items: list[FeeItemOut]
    cost_breakdown: list[CostLineOut]
    publication: PublicationOut | None
    created_at: datetime | None
    created_by: str | None
    launch: bool
    public_url: str | None = Field(description="The public page, once published")


class FeeStandardList(_Out):
    in_force: str | None = Field(description="The version in force today")
    versions: list[FeeStandardOut]


class ContactMarkOut(_Out):
    reason: Literal["bounced", "complained", "sms_failed"]
    detail: str | None = Field(description="The provider's bounce type or SMS delivery response")
    at: datetime = Field(description="When the provider reported it")


class UnreachableContactOut(_Out):
    """An owner with a marked address or number (personal data: never logged)."""

    owner_id: str
    owner_name: str
    unit_ids: list[str]
    email: str | None
    phone: str | None
    email_mark: ContactMarkOut | None
    phone_mark: ContactMarkOut | None


class UnreachableContacts(_Out):
    items: list[UnreachableContactOut]
