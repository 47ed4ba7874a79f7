"""Receipts as documents the owner keeps (F5): the PDF of a payment, stored once in the documents
bucket and reached through a short-lived link.

A receipt's file is made the first time someone asks for it (the owner from the account page or
the receipt message, staff from the desk), in the language asked for, and kept under
``receipts/<property>/<year>/<receipt no>[-void|-refunded].<locale>.pdf``: asking again serves
the same file, and a void or a refund makes a new file beside the issued one, which is never
overwritten. The link is an S3 presigned GET that expires after a few minutes; the owner's
durable link is the account page's (``/pay/<token>/payments/<id>/receipt``), which mints a new
one each time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from propdesk.config import PropertyConfig
from propdesk.documents.receipts import receipt_document, receipt_key, render_receipt_pdf
from propdesk.services.documents import LINK_SECONDS, stored_pdf_link
from propdesk.store.owners import OwnerRepository
from propdesk.store.payments import REFUNDED, VOIDED, PaymentRecord

logger = Logger(child=True)


class NoReceipt(Exception):
    """The payment has no receipt (set aside, never landed)."""


@dataclass(frozen=True)
class ReceiptLink:
    receipt_no: str
    key: str
    url: str
    expires_in: int


def _version(record: PaymentRecord) -> str:
    if record.status == VOIDED:
        return "void"
    if record.status == REFUNDED:
        return "refunded"
    return "issued"


def receipt_link(
    record: PaymentRecord,
    *,
    config: PropertyConfig,
    locale: str,
    owners: OwnerRepository | None = None,
    s3: Any = None,
    bucket: str | None = None,
    expires_in: int = LINK_SECONDS,
) -> ReceiptLink:
    """A short-lived link to the payment's receipt PDF, made and stored first if need be."""
    if not record.receipt_no or not record.unit_id:
        raise NoReceipt(record.payment_id)
    key = receipt_key(config.property_id, record.receipt_no, version=_version(record), locale=locale)

    def make() -> bytes:
        owner_name = _owner_name(record, owners or OwnerRepository())
        note = record.void_reason if record.status == VOIDED else None
        document = receipt_document(
            record, config=config, owner_name=owner_name, locale=locale, state_note=note
        )
        return render_receipt_pdf(document)

    url = stored_pdf_link(
        key, make, filename=f"{record.receipt_no}.pdf", s3=s3, bucket=bucket, expires_in=expires_in
    )
    return ReceiptLink(receipt_no=record.receipt_no, key=key, url=url, expires_in=expires_in)


def _owner_name(record: PaymentRecord, owners: OwnerRepository) -> str:
    from propdesk.store.units import UnitRepository

    unit = UnitRepository().get(str(record.unit_id))
    owner = owners.get(unit.owner_id) if unit else None
    return owner.name if owner else ""
