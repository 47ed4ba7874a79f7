"""The printable billing notice (缴费通知书, F2) as one A4 page of PDF, made with ReportLab.

Like the receipt (``propdesk.documents.receipts``, whose fonts and styles it shares): two pure
steps, ``notice_document`` (a bill and the property's configuration -> what the notice says)
and ``render_notice_pdf`` (-> the PDF's bytes, the same bytes for the same document); Chinese
in the CID font ``STSong-Light``, every word from the label catalog (``[notice_pdf]``), money
and dates through ``propdesk.formatting``. Storing the file is the caller's business
(``notice_key`` says where).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from propdesk.config import LOCALES, PropertyConfig
from propdesk.documents.layout import (
    CREATOR,
    FRAME_PADDING,
    MARGIN_MM,
    fonts_for,
    labelled,
    markup,
    paragraph_styles,
    register_cjk_font,
)
from propdesk.domain.billing import Bill
from propdesk.formatting import format_date, format_money, format_period
from propdesk.rendering import catalog

if TYPE_CHECKING:
    from reportlab.platypus import Flowable

__all__ = ["NoticeDocument", "notice_document", "notice_key", "render_notice_pdf"]


@dataclass(frozen=True)
class NoticeDocument:
    """What one notice says, in one locale: plain values, ready to lay out."""

    bill_id: str
    property_name: str
    company: str
    address: str
    phone: str
    unit_id: str
    owner_name: str
    period: str  # YYYY-MM
    lines: tuple[tuple[str, int], ...]  # (item name, amount in minor units)
    total_minor: int
    credit_applied_minor: int
    currency: str
    due_date: date
    issued_on: date
    ways_to_pay: tuple[str, ...]
    fee_standard_version: str
    standard_url: str
    locale: str

    def __post_init__(self) -> None:
        if self.locale not in LOCALES:
            raise ValueError(f"no notices in locale {self.locale!r}")
        if sum(amount for _name, amount in self.lines) != self.total_minor:
            raise ValueError("the notice's lines do not add up to its total")
        if not 0 <= self.credit_applied_minor <= self.total_minor:
            raise ValueError("the credit applied is between nothing and the total")

    @property
    def due_minor(self) -> int:
        return self.total_minor - self.credit_applied_minor


def notice_document(
    bill: Bill,
    *,
    config: PropertyConfig,
    owner_name: str,
    credit_applied_minor: int,
    standard_url: str,
    locale: str,
) -> NoticeDocument:
    """The notice of an issued bill: what it was issued for, less the credit applied at issue."""
    labels = catalog(locale)

    def item_name(code: str) -> str:
        item = next((i for i in config.fee_standard.items if i.code == code), None)
        return item.name.get(locale) if item else labels["notice_pdf"]["other_item"]

    desk, bank = config.payment.front_desk, config.payment.bank_account
    ways = [
        labels["notice_pdf"]["online"],
        labels["message"]["front_desk"].format(place=desk.place.get(locale), hours=desk.hours.get(locale)),
    ]
    if bank:
        ways.append(
            labels["message"]["bank_transfer"].format(
                bank=bank.bank.get(locale),
                account_name=bank.account_name,
                account_number=bank.account_number,
                unit=bill.unit_id,
            )
        )
    return NoticeDocument(
        bill_id=bill.bill_id,
        property_name=config.name.get(locale),
        company=config.contact.company.get(locale),
        address=config.contact.address.get(locale),
        phone=config.contact.phone,
        unit_id=bill.unit_id,
        owner_name=owner_name,
        period=bill.period,
        lines=tuple((item_name(line.code), line.amount_minor) for line in bill.lines),
        total_minor=bill.total_minor,
        credit_applied_minor=credit_applied_minor,
        currency=bill.currency,
        due_date=bill.due_date,
        issued_on=bill.issued_at.astimezone(config.tz).date(),
        ways_to_pay=tuple(ways),
        fee_standard_version=bill.fee_standard_version,
        standard_url=standard_url,
        locale=locale,
    )


def notice_key(property_id: str, bill: Bill, locale: str) -> str:
    """Where a bill's notice is kept: ``notices/demo/2026-07/A-101.zh-CN.pdf``. A bill's lines never
    change once issued, so the first file made is the notice for good."""
    if locale not in LOCALES:
        raise ValueError(f"no notices in {locale!r}")
    return f"notices/{property_id}/{bill.period}/{bill.unit_id}.{locale}.pdf"


def _story(doc: NoticeDocument, labels: Mapping[str, Any], width: float) -> list[Flowable]:
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

    fonts = fonts_for(doc.locale)
    styles = paragraph_styles(fonts, doc.locale)

    def para(text: str, style: str) -> Paragraph:
        return Paragraph(markup(text, fonts), styles[style])

    def money(minor: int) -> str:
        return format_money(minor, doc.currency)

    due = format_date(doc.due_date, doc.locale)
    story: list[Flowable] = [
        para(doc.property_name, "property"),
        para(labels["title"], "title"),
        Spacer(1, 2 * mm),
        para(labelled(labels["company"], doc.company, doc.locale), "small"),
        para(labelled(labels["address"], doc.address, doc.locale), "small"),
        para(labelled(labels["phone"], doc.phone, doc.locale), "small"),
        Spacer(1, 5 * mm),
    ]
    rule = colors.HexColor("#999999")
    facts = [
        (labels["unit"], doc.unit_id),
        (labels["owner"], doc.owner_name),
        (labels["period"], format_period(doc.period, doc.locale)),
        (labels["issued_on"], format_date(doc.issued_on, doc.locale)),
        (labels["due_date"], due),
    ]
    facts_table = Table(
        [[para(label, "label"), para(value, "body")] for label, value in facts],
        colWidths=[0.26 * width, 0.74 * width],
    )
    facts_table.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, -1), (-1, -1), 0.5, rule)])
    )
    story += [para(labels["intro"].format(unit=doc.unit_id, due=due), "body"), Spacer(1, 3 * mm)]
    story += [facts_table, Spacer(1, 4 * mm)]

    rows = [[para(labels["item"], "label"), para(labels["amount"], "label_amount")]]
    rows += [[para(name, "body"), para(money(amount), "amount")] for name, amount in doc.lines]
    rows.append([para(labels["total"], "total"), para(money(doc.total_minor), "total_amount")])
    if doc.credit_applied_minor:
        rows.append(
            [para(labels["credit_applied"], "body"), para(f"-{money(doc.credit_applied_minor)}", "amount")]
        )
    rows.append([para(labels["amount_due"], "total"), para(money(doc.due_minor), "total_amount")])
    items = Table(rows, colWidths=[0.7 * width, 0.3 * width])
    items.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, rule),
                ("LINEABOVE", (0, len(doc.lines) + 1), (-1, len(doc.lines) + 1), 1, colors.black),
                ("LINEABOVE", (0, -1), (-1, -1), 1, colors.black),
                ("LINEBELOW", (0, -1), (-1, -1), 1, colors.black),
            ]
        )
    )
    story += [items, Spacer(1, 4 * mm)]
    if doc.due_minor == 0:
        story += [para(labels["covered"], "body")]
    else:
        story += [para(labels["pay_by"].format(due=due, amount=money(doc.due_minor)), "total")]
    story += [Spacer(1, 4 * mm), para(labels["ways"], "label")]
    story += [para(f"• {way}", "body") for way in doc.ways_to_pay]
    story += [
        Spacer(1, 5 * mm),
        para(labels["fee_standard"].format(version=doc.fee_standard_version), "small"),
        para(doc.standard_url, "small"),
        Spacer(1, 2 * mm),
        para(labels["questions"].format(phone=doc.phone), "small"),
    ]
    return story


def render_notice_pdf(doc: NoticeDocument) -> bytes:
    """The notice as one A4 page; the same document always gives the same bytes."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepInFrame, SimpleDocTemplate

    register_cjk_font()
    labels = catalog(doc.locale)["notice_pdf"]
    out = io.BytesIO()
    pdf = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=2 * MARGIN_MM * mm,
        rightMargin=2 * MARGIN_MM * mm,
        topMargin=2 * MARGIN_MM * mm,
        bottomMargin=2 * MARGIN_MM * mm,
        title=f"{labels['title']} {doc.unit_id} {doc.period}",
        author=doc.property_name,
        subject=labels["title"],
        creator=CREATOR,
        lang=doc.locale,
        invariant=1,
        pageCompression=1,
    )
    width = pdf.width - 2 * FRAME_PADDING
    # One page always: a bill with very many lines shrinks rather than runs onto a second page.
    pdf.build([KeepInFrame(0, 0, _story(doc, labels, width), mode="shrink", vAlign="TOP")])
    return out.getvalue()
