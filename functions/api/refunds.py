"""Refund routes (JSON): staff start a refund of a payment, and an admin approves a large one.

Who may call each one is in the route table (``propdesk.routes``); the authorization step has
checked it before a route runs. A refusal (``DeskError``) is a clear 4xx with its code; nothing
is written before it. The work is ``propdesk.services.refunds``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from api.desk import PaymentId
from api.responses import json_error, json_ok
from propdesk.services import refunds
from propdesk.services.errors import DeskError
from propdesk.settings import get_settings
from propdesk.store.refunds import RefundRecord
from propdesk.web.access import StaffUser, caller_of
from propdesk.web.http import endpoint
from propdesk.web.schemas import RefundIn, RefundOut, RefundTaken
from propdesk.web.staff_errors import ErrorAnswer

router = Router()

RefundId = Annotated[
    str,
    Path(
        pattern=r"^rf_[A-Za-z0-9_-]{1,100}$", description="The refund's id", examples=["rf_7c1e-refund-0001"]
    ),
]


def _staff() -> StaffUser:
    staff = caller_of(router.context)
    assert isinstance(staff, StaffUser)
    return staff


def _refused(error: DeskError) -> ErrorAnswer:
    return ErrorAnswer(json_error(error.status, error.code, error.message))


def refund_json(refund: RefundRecord) -> dict[str, Any]:
    return {
        "refund_id": refund.refund_id,
        "payment_id": refund.payment_id,
        "unit_id": refund.unit_id,
        "amount_minor": refund.amount_minor,
        "currency": refund.currency,
        "reason": refund.reason,
        "status": refund.status,
        "requested_by": refund.requested_by,
        "approved_by": refund.approved_by,
        "provider_refund_id": refund.provider_refund_id,
        "failure": refund.failure,
        "created_at": refund.created_at.astimezone(UTC).isoformat(),
        "updated_at": refund.updated_at.astimezone(UTC).isoformat(),
    }


@endpoint(router, "start_refund", status_code=201)
def start_refund(payment_id: PaymentId, body: RefundIn) -> Response[RefundTaken]:
    try:
        started = refunds.start_refund(
            payment_id,
            request_id=body.request_id,
            amount_minor=body.amount_minor,
            reason=body.reason,
            staff_id=_staff().sub,
            config=get_settings().property_config,
            now=datetime.now(UTC),
        )
    except DeskError as error:
        raise _refused(error) from None
    answer = {**refund_json(started.refund), "created": started.created}
    return json_ok(
        RefundTaken.model_validate(answer).model_dump(mode="json"), status=201 if started.created else 200
    )


@endpoint(router, "approve_refund")
def approve_refund(refund_id: RefundId) -> Response[RefundOut]:
    try:
        refund = refunds.approve_refund(
            refund_id, approver=_staff().sub, config=get_settings().property_config, now=datetime.now(UTC)
        )
    except DeskError as error:
        raise _refused(error) from None
    return json_ok(RefundOut.model_validate(refund_json(refund)).model_dump(mode="json"))
