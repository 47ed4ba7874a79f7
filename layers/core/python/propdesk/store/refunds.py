"""Refunds in DynamoDB: ``RefundRecord`` and its one mapping to ``RefundItem``.

A refund is written together with the payment it holds part of (``PaymentRecord.pending_refunds``)
in one transaction, so two refunds of one payment asked for at once never take back more than it
brought: the second finds the payment moved and reads it again. A refund that moves money is
settled in the transaction that posts it (``store.accounts.Posting.refunds``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from propdesk.store import payments as payment_store
from propdesk.store.indexed import read_back
from propdesk.store.models import LedgerItem, RefundItem
from propdesk.store.payments import PaymentRecord

if TYPE_CHECKING:
    from propdesk.store.accounts import Entry

PENDING_APPROVAL = "pending_approval"  # above the approval amount: an admin approves it first
APPROVED = "approved"  # to be sent to the provider (or paid out at the desk)
SENT = "sent"  # the provider accepted it; its money is posted when the provider confirms it
SUCCEEDED = "succeeded"  # posted: the payment's bills and credit reversed
FAILED = "failed"  # the provider refused it; nothing moved
IN_FLIGHT = (APPROVED, SENT)  # the provider may be refunding it now


@dataclass(frozen=True)
class RefundRecord:
    refund_id: str
    payment_id: str
    unit_id: str | None
    amount_minor: int
    currency: str
    reason: str
    requested_by: str
    status: str
    created_at: datetime
    updated_at: datetime
    approved_by: str | None = None
    provider_refund_id: str | None = None
    failure: str | None = None
    paid_out_by: str | None = None  # a desk refund: the member of staff who paid the money back
    paid_out_at: datetime | None = None
    version: int | None = field(default=None, compare=False)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_item(refund: RefundRecord) -> RefundItem:
    item = RefundItem(
        refund_id=refund.refund_id,
        payment_id=refund.payment_id,
        unit_id=refund.unit_id,
        amount_minor=refund.amount_minor,
        currency=refund.currency,
        reason=refund.reason,
        requested_by=refund.requested_by,
        approved_by=refund.approved_by,
        status=refund.status,
        provider_refund_id=refund.provider_refund_id,
        failure=refund.failure,
        paid_out_by=refund.paid_out_by,
        paid_out_at=_utc(refund.paid_out_at) if refund.paid_out_at else None,
        created_at=_utc(refund.created_at),
        updated_at=_utc(refund.updated_at),
    )
    if refund.version is not None:
        item.version = refund.version
    return item


def from_item(item: RefundItem) -> RefundRecord:
    return RefundRecord(
        refund_id=item.refund_id,
        payment_id=item.payment_id,
        unit_id=item.unit_id,
        amount_minor=int(item.amount_minor),
        currency=item.currency,
        reason=item.reason,
        requested_by=item.requested_by,
        status=item.status,
        created_at=_utc(item.created_at),
        updated_at=_utc(item.updated_at),
        approved_by=item.approved_by,
        provider_refund_id=item.provider_refund_id,
        failure=item.failure,
        paid_out_by=item.paid_out_by,
        paid_out_at=_utc(item.paid_out_at) if item.paid_out_at else None,
        version=int(item.version) if item.version is not None else None,
    )


class Written(enum.Enum):
    WRITTEN = "written"
    EXISTS = "exists"  # the new refund's id was taken already
    MOVED = "moved"  # the payment or a refund changed since it was read: read again


class RefundRepository:
    def get(self, refund_id: str) -> RefundRecord | None:
        try:
            return from_item(RefundItem.get(refund_id, consistent_read=True))
        except RefundItem.DoesNotExist:
            return None

    def get_many(self, refund_ids: Iterable[str]) -> dict[str, RefundRecord]:
        ids = list(dict.fromkeys(refund_ids))
        if not ids:
            return {}
        return {item.refund_id: from_item(item) for item in RefundItem.batch_get(ids, consistent_read=True)}

    def paid_out_by(self, staff_id: str, start: datetime, end: datetime) -> list[RefundRecord]:
        """Desk refunds ``staff_id`` paid back in [start, end), oldest first (a cash-up)."""
        condition = RefundItem.paid_out_at.between(_utc(start), _utc(end))
        found = RefundItem.paid_out_index.query(staff_id, range_key_condition=condition)
        read = read_back(RefundItem, found, where=("paid_out_by", staff_id))
        return [from_item(item) for item in read if _utc(item.paid_out_at) < _utc(end)]

    def write(
        self,
        *,
        new: RefundRecord | None = None,
        changed: Sequence[RefundRecord] = (),
        payment: PaymentRecord | None = None,
        entries: Sequence[Entry] = (),
    ) -> Written:
        """All at once or nothing: a new refund (its id unused), refunds changed and the payment
        changed (each under the version it was read with), and ledger entries (keyed)."""
        kinds: list[str] = []
        try:
            with TransactWrite(connection=RefundItem._get_connection().connection) as transaction:
                if new is not None:
                    transaction.save(to_item(new), condition=RefundItem.refund_id.does_not_exist())
                    kinds.append("new")
                for refund in changed:
                    if refund.version is None:
                        raise ValueError(f"refund {refund.refund_id} changed without its version")
                    transaction.save(to_item(refund))
                    kinds.append("moved")
                if payment is not None:
                    if payment.version is None:
                        raise ValueError(f"payment {payment.payment_id} changed without its version")
                    transaction.save(payment_store.to_item(payment))
                    kinds.append("moved")
                for entry in entries:
                    item = LedgerItem(
                        entity=entry.entity, seq=entry.key, event=entry.event, at=entry.at, data=entry.data
                    )
                    transaction.save(item, condition=LedgerItem.seq.does_not_exist())
                    kinds.append("entry")
        except TransactWriteError as exc:
            if exc.cause_response_code != "TransactionCanceledException":
                raise
            codes = [reason.code if reason else None for reason in exc.cancellation_reasons]
            for index, code in enumerate(codes):
                if code == "ConditionalCheckFailed":
                    what = kinds[index] if index < len(kinds) else "moved"
                    if what == "entry":
                        raise  # an entry written before its change: a bug, not a race
                    return Written.EXISTS if what == "new" else Written.MOVED
            if "TransactionConflict" in codes:
                return Written.MOVED
            raise
        return Written.WRITTEN
