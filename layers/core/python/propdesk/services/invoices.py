"""Official tax invoices (发票) for payments (F5): the receipt is not one. The owner asks from the
account page (or at the front desk), giving the title (抬头: a name or a company) and, for a
company, its tax number (税号); staff see the requests and, once the invoice is issued in the tax
system, note its number. One invoice per payment: asking again before it is issued corrects the
details; after, it is refused.
"""

from __future__ import annotations

import re
from dataclasses import replace

from aws_lambda_powertools import Logger

from propdesk.services.errors import DeskError
from propdesk.store.payments import ALLOCATED, PaymentRecord, PaymentRepository

logger = Logger(child=True)

REQUESTED = "requested"
ISSUED = "issued"
# A unified social credit code (统一社会信用代码) is 18 characters; older tax numbers 15 to 20.
TAX_ID = re.compile(r"^[0-9A-Z]{15,20}$")


def request_invoice(
    payment_id: str,
    *,
    unit_id: str | None,
    title: str,
    tax_id: str | None,
    payments: PaymentRepository | None = None,
) -> PaymentRecord:
    """Note a request for the payment's tax invoice. ``unit_id`` (the owner's link's unit) must be
    the payment's, when given."""
    payments = payments or PaymentRepository()
    record = payments.get(payment_id)
    if record is None or (unit_id is not None and record.unit_id != unit_id):
        raise DeskError(404, "not_found", "No payment with this id.")
    if record.status != ALLOCATED or not record.receipt_no:
        raise DeskError(409, "no_invoice", "An invoice is made for a payment that landed on the account.")
    if record.invoice_state == ISSUED:
        raise DeskError(409, "invoice_issued", f"The invoice was issued already ({record.invoice_no}).")
    title = title.strip()
    tax = (tax_id or "").strip().upper() or None
    if not title:
        raise DeskError(400, "title_required", "An invoice needs its title (a name or a company).")
    if tax is not None and not TAX_ID.match(tax):
        raise DeskError(400, "bad_tax_id", "A tax number is 15 to 20 letters and digits.")
    changed = replace(record, invoice_state=REQUESTED, invoice_title=title, invoice_tax_id=tax)
    if not payments.save_changed(changed):
        raise DeskError(409, "changed", "The payment changed meanwhile; please try again.")
    logger.info("invoice requested", payment_id=payment_id)
    return changed


def mark_issued(
    payment_id: str, *, invoice_no: str, payments: PaymentRepository | None = None
) -> PaymentRecord:
    payments = payments or PaymentRepository()
    record = payments.get(payment_id)
    if record is None:
        raise DeskError(404, "not_found", "No payment with this id.")
    if record.invoice_state != REQUESTED:
        raise DeskError(409, "no_invoice_requested", "No invoice was asked for on this payment.")
    changed = replace(record, invoice_state=ISSUED, invoice_no=invoice_no.strip())
    if not payments.save_changed(changed):
        raise DeskError(409, "changed", "The payment changed meanwhile; please try again.")
    return changed


def waiting(payments: PaymentRepository | None = None) -> list[PaymentRecord]:
    return (payments or PaymentRepository()).invoices(REQUESTED)
