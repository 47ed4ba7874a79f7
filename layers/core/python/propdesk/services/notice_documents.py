"""The printable notice of a bill (F2) as a stored document: made the first time the owner asks
for it (the link in the notice e-mail), kept under ``notices/<property>/<period>/<unit>.<locale>.pdf``
and served from there through a short-lived link, like a receipt (``propdesk.services.receipts``).

Made on first request rather than when the notice is sent: the messenger then needs no access
to the documents bucket, nothing is made for owners who never open it, and the file is the same
either way (what the bill was issued for never changes; the credit applied at issue is read from
the bill's ledger, not from its current state, which a later payment moves on).
"""

from __future__ import annotations

from typing import Any

from propdesk.config import PropertyConfig
from propdesk.documents.notices import notice_document, notice_key, render_notice_pdf
from propdesk.domain.billing import Bill
from propdesk.payments.links import standard_page_url
from propdesk.services.documents import LINK_SECONDS, stored_pdf_link
from propdesk.store import ledger
from propdesk.store.owners import OwnerRepository

CREDIT_PAID_KEY = "paid#credit"  # the bill's ledger entry when its account's credit paid it at issue


def credit_applied_at_issue(bill: Bill) -> int:
    """What the account's credit paid of the bill when it was issued (its ledger says)."""
    return sum(
        int(entry.data.get("amount_minor", 0))
        for entry in ledger.entries(ledger.bill_entity(bill.bill_id), CREDIT_PAID_KEY)
    )


def notice_link(
    bill: Bill,
    *,
    config: PropertyConfig,
    locale: str,
    page_url: str,
    owners: OwnerRepository | None = None,
    s3: Any = None,
    bucket: str | None = None,
    expires_in: int = LINK_SECONDS,
) -> str:
    """A short-lived link to the bill's notice PDF, made and stored first if need be. ``page_url``
    is the owner's page the request came through (the fee standard's page is on the same site)."""

    def make() -> bytes:
        owner = (owners or OwnerRepository()).get(bill.owner_id)
        document = notice_document(
            bill,
            config=config,
            owner_name=owner.name if owner else "",
            credit_applied_minor=credit_applied_at_issue(bill),
            standard_url=standard_page_url(page_url, bill.fee_standard_version, locale),
            locale=locale,
        )
        return render_notice_pdf(document)

    filename = f"{bill.unit_id}-{bill.period}.pdf"
    return stored_pdf_link(
        notice_key(config.property_id, bill, locale),
        make,
        filename=filename,
        s3=s3,
        bucket=bucket,
        expires_in=expires_in,
    )
