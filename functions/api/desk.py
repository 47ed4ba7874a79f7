"""Front-desk and account routes (JSON): find an account, read it, record a desk payment, the
payment queue and its resolutions, voids, and the daily cash-up.

Who may call each one is in the route table (``propdesk.routes``); the authorization step has
checked it before a route runs. A refusal of the desk services (``DeskError``) is a clear 4xx
with its code; nothing is written before it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from api.responses import json_error, json_ok
from api.staff import UnitId, local_today
from propdesk.routes import ROLE_ADMIN
from propdesk.services import desk, invoices, receipts, review
from propdesk.services.accounts import account_view, find_accounts
from propdesk.services.reports import bill_row
from propdesk.settings import get_settings
from propdesk.store.owners import OwnerRepository
from propdesk.store.payments import PaymentRecord, PaymentRepository
from propdesk.store.units import UnitRepository
from propdesk.web.access import StaffUser, caller_of
from propdesk.web.http import endpoint
from propdesk.web.schemas import (
    AccountMatches,
    CashUpOut,
    DeskPaymentIn,
    DeskPaymentTaken,
    InvoiceIssuedIn,
    InvoiceQueue,
    IsoDate,
    PaymentOut,
    PaymentQueue,
    ReceiptLinkOut,
    ResolutionIn,
    UnitAccountOut,
    VoidRequestIn,
)
from propdesk.web.staff_errors import ErrorAnswer

router = Router()

PaymentId = Annotated[
    str,
    Path(
        pattern=r"^[a-z][a-z_]*:[A-Za-z0-9_-]{1,80}$",
        description="<provider>:<the provider's id>",
        examples=["desk:9b2f0c1e-desk-0001"],
    ),
]


def _staff() -> StaffUser:
    staff = caller_of(router.context)
    assert isinstance(staff, StaffUser)
    return staff


def _refused(error: desk.DeskError) -> ErrorAnswer:
    return ErrorAnswer(json_error(error.status, error.code, error.message))


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def payment_json(record: PaymentRecord) -> dict[str, Any]:
    return {
        "payment_id": record.payment_id,
        "unit_id": record.unit_id,
        "provider": record.provider,
        "method": record.method,
        "channel": record.channel,
        "amount_minor": record.amount_minor,
        "currency": record.currency,
        "status": record.status,
        "receipt_no": record.receipt_no,
        "allocations": [
            {"bill_id": a.bill_id, "period": a.bill_id.rsplit("#", 1)[-1], "amount_minor": a.amount_minor}
            for a in record.allocations
        ],
        "credit_minor": record.credit_minor,
        "refunded_minor": record.refunded_minor,
        "refund_pending_minor": record.refund_pending_minor,
        "disputed_minor": record.disputed_minor,
        "reference": record.reference,
        "recorded_by": record.recorded_by,
        "paid_at": _iso(record.paid_at),
        "received_at": _iso(record.received_at),
        "review_state": record.review_state,
        "review_reason": record.review_reason,
        "review_note": record.review_note,
        "void_reason": record.void_reason,
        "void_requested_by": record.void_requested_by,
        "voided_by": record.voided_by,
        "voided_at": _iso(record.voided_at),
        "invoice_state": record.invoice_state,
        "invoice_title": record.invoice_title,
        "invoice_tax_id": record.invoice_tax_id,
        "invoice_no": record.invoice_no,
    }


@endpoint(router, "find_accounts")
def find(
    q: Annotated[
        str, Query(min_length=1, max_length=64, description="Unit number, part of a name, or a phone number")
    ],
) -> AccountMatches:
    region = "CN" if get_settings().property_config.currency == "CNY" else "US"
    found = find_accounts(q, region=region)
    return AccountMatches.model_validate(
        {
            "query": q,
            "accounts": [
                {
                    "unit_id": f.unit.unit_id,
                    "building": f.unit.building,
                    "owner_id": f.unit.owner_id,
                    "owner_name": f.owner.name if f.owner else None,
                }
                for f in found
            ],
        }
    )


@endpoint(router, "unit_account")
def unit_account(unit_id: UnitId) -> Response[UnitAccountOut]:
    config = get_settings().property_config
    unit = UnitRepository().get(unit_id)
    if unit is None:
        raise ErrorAnswer(json_error(404, "not_found", f"No unit {unit_id}."))
    owner = OwnerRepository().get(unit.owner_id)
    view = account_view(unit_id)
    today = local_today(config)
    body = {
        "unit_id": unit.unit_id,
        "building": unit.building,
        "owner": (
            {"owner_id": owner.owner_id, "name": owner.name, "phone": owner.phone, "email": owner.email}
            if owner
            else None
        ),
        "currency": config.currency,
        "credit_minor": view.credit_minor if view else 0,
        "owed_minor": view.owed_minor if view else 0,
        "open_bills": [
            bill_row(b, today=today, unit=unit, owner=owner) for b in (view.open_bills if view else ())
        ],
        "payments": [payment_json(p) for p in (view.payments if view else ())],
    }
    return json_ok(UnitAccountOut.model_validate(body).model_dump(mode="json"))


@endpoint(router, "record_desk_payment", status_code=201)
def record_desk_payment(unit_id: UnitId, body: DeskPaymentIn) -> Response[DeskPaymentTaken]:
    staff = _staff()
    payment = desk.DeskPayment(
        unit_id=unit_id,
        amount_minor=body.amount_minor,
        method=body.method,
        request_id=body.request_id,
        staff_id=staff.sub,
        reference=body.reference,
        cheque_number=body.cheque_number,
        cheque_bank=body.cheque_bank,
        channel=body.channel,
        visit_id=body.visit_id,
    )
    try:
        outcome = desk.record_desk_payment(
            payment, config=get_settings().property_config, now=datetime.now(UTC)
        )
    except desk.DeskError as error:
        raise _refused(error) from None
    assert outcome.record is not None
    created = outcome.outcome != "already_recorded"
    answer = {**payment_json(outcome.record), "outcome": outcome.outcome, "created": created}
    return json_ok(
        DeskPaymentTaken.model_validate(answer).model_dump(mode="json"), status=201 if created else 200
    )


@endpoint(router, "payment_receipt")
def payment_receipt(payment_id: PaymentId) -> Response[ReceiptLinkOut]:
    config = get_settings().property_config
    record = PaymentRepository().get(payment_id)
    if record is None:
        raise ErrorAnswer(json_error(404, "not_found", "No payment with this id."))
    try:
        link = receipts.receipt_link(record, config=config, locale=config.default_locale)
    except receipts.NoReceipt:
        raise ErrorAnswer(json_error(409, "no_receipt", "This payment has no receipt.")) from None
    return json_ok({"receipt_no": link.receipt_no, "url": link.url, "expires_in": link.expires_in})


@endpoint(router, "payment_queue")
def payment_queue() -> PaymentQueue:
    return PaymentQueue.model_validate({"payments": [payment_json(p) for p in review.waiting()]})


@endpoint(router, "get_payment")
def get_payment(payment_id: PaymentId) -> Response[PaymentOut]:
    record = PaymentRepository().get(payment_id)
    if record is None:
        raise ErrorAnswer(json_error(404, "not_found", "No payment with this id."))
    return json_ok(payment_json(record))


@endpoint(router, "resolve_payment")
def resolve_payment(payment_id: PaymentId, body: ResolutionIn) -> Response[PaymentOut]:
    try:
        resolution = review.resolve(
            payment_id,
            body.action,
            staff_id=_staff().sub,
            config=get_settings().property_config,
            now=datetime.now(UTC),
            unit_id=body.unit_id,
            note=body.note,
        )
    except desk.DeskError as error:
        raise _refused(error) from None
    return json_ok(payment_json(resolution.payment))


@endpoint(router, "request_void", status_code=202)
def request_void(payment_id: PaymentId, body: VoidRequestIn) -> Response[PaymentOut]:
    try:
        record = desk.request_void(
            payment_id, reason=body.reason, staff_id=_staff().sub, now=datetime.now(UTC)
        )
    except desk.DeskError as error:
        raise _refused(error) from None
    return json_ok(payment_json(record), status=202)


@endpoint(router, "approve_void")
def approve_void(payment_id: PaymentId) -> Response[PaymentOut]:
    try:
        record = desk.approve_void(payment_id, approver=_staff().sub, now=datetime.now(UTC))
    except desk.DeskError as error:
        raise _refused(error) from None
    return json_ok(payment_json(record))


@endpoint(router, "cash_up")
def cash_up(
    day: Annotated[
        IsoDate | None, Query(alias="date", description="Local date, YYYY-MM-DD; today by default")
    ] = None,
    cashier: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="Whose cash-up (admins only); yours by default"),
    ] = None,
) -> Response[CashUpOut]:
    staff = _staff()
    config = get_settings().property_config
    if cashier and cashier != staff.sub and ROLE_ADMIN not in staff.roles:
        raise ErrorAnswer(
            json_error(403, "forbidden", "A cashier closes their own day; an admin may read anyone's.")
        )
    result = desk.cash_up(cashier or staff.sub, day or local_today(config), config=config)
    body = {
        "staff_id": result.staff_id,
        "date": result.day.isoformat(),
        "currency": result.currency,
        "totals_by_method": result.totals_by_method,
        "count_by_method": result.count_by_method,
        "total_minor": result.total_minor,
        "payments": [payment_json(p) for p in result.payments],
        "paid_out": [
            {
                "refund_id": out.refund.refund_id,
                "payment_id": out.refund.payment_id,
                "method": out.method,
                "amount_minor": out.refund.amount_minor,
                "paid_out_at": out.refund.paid_out_at,
            }
            for out in result.paid_out
        ],
    }
    return json_ok(CashUpOut.model_validate(body).model_dump(mode="json"))


@endpoint(router, "invoice_queue")
def invoice_queue() -> InvoiceQueue:
    return InvoiceQueue.model_validate({"payments": [payment_json(p) for p in invoices.waiting()]})


@endpoint(router, "record_invoice")
def record_invoice(payment_id: PaymentId, body: InvoiceIssuedIn) -> Response[PaymentOut]:
    try:
        if body.title:
            invoices.request_invoice(payment_id, unit_id=None, title=body.title, tax_id=body.tax_id)
        record = invoices.mark_issued(payment_id, invoice_no=body.invoice_no)
    except desk.DeskError as error:
        raise _refused(error) from None
    return json_ok(payment_json(record))
