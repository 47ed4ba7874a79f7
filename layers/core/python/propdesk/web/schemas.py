"""The request and response bodies of the HTTP API, as pydantic models.

The resolver validates requests against them and the OpenAPI document is generated from them,
so what the document promises is what the functions accept and answer. Amounts are integer
minor units with their currency; times are ISO 8601 in UTC; dates are the property's local dates.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from propdesk.domain.calendar import PERIOD_PATTERN

__all__ = ["PERIOD_PATTERN"]


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
    currency: str
    due_date: str
    status: str
    receipt_no: str | None


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
                            "currency": "CNY",
                            "due_date": "2027-01-15",
                            "status": "paid",
                            "receipt_no": "DEMO-2026-000042",
                        }
                    ],
                }
            ]
        },
    )

    period: str
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
                    "currency": "CNY",
                    "due_date": "2027-01-15",
                    "status": "open",
                    "receipt_no": None,
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


class CycleQueued(_Out):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"period": "2027-01", "units": 312, "batches": 7}]}
    )

    period: str
    units: int
    batches: int


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
        "(no unit or another currency: in the staff queue) | already_recorded | ignored"
    )
