"""Payment receipts (缴费收据) as PDF documents, one page, made with ReportLab.

Two steps, both pure: ``receipt_document`` turns a stored payment and the property's
configuration into a ``ReceiptDocument`` (plain values: what the receipt says), and
``render_receipt_pdf`` lays that out and returns the PDF's bytes. Storing the file (under
``receipt_key``) and sending it are the caller's business.

Design choices:

- Chinese is set in ReportLab's built-in CID font ``STSong-Light``: the PDF names the font and
  the reader supplies the glyphs (every PDF reader that shows Chinese has one), so no font file
  is shipped or embedded and a receipt stays a few kilobytes. A zh-CN receipt is set in it
  throughout; an English one in Helvetica, with any run of characters Helvetica cannot show
  (an owner's Chinese name) switched to ``STSong-Light`` (fonts and styles: ``documents.layout``,
  shared with the notice).
- Every word comes from the label catalog (``[receipt_pdf]`` and ``[pay_method]`` in
  ``templates/labels/<locale>.toml``); money, months and dates go through ``propdesk.formatting``.
- The same document gives the same bytes: ReportLab's ``invariant`` mode fixes the creation
  date and the file id, so a receipt rendered again (a resend, a retry) is the same file.
- A voided or refunded receipt keeps its number and says so twice: a large stamp across the page
  and a line under the heading with the reason.
- ReportLab is imported inside ``render_receipt_pdf`` only, so a function that imports this
  module for ``receipt_key`` or ``receipt_document`` does not load it at cold start.
- One page, always: A5, or A4 when a payment covers more bills than A5 holds (about ten); past
  what A4 holds the content shrinks to fit rather than run onto a second page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from propdesk.config import LOCALES, PropertyConfig
from propdesk.documents.layout import (
    CJK_FONT,
    CREATOR,
    FRAME_PADDING,
    LATIN_BOLD,
    MARGIN_MM,
    fonts_for,
    labelled,
    markup,
    paragraph_styles,
    register_cjk_font,
)
from propdesk.domain.receipts import parse_receipt_number
from propdesk.formatting import MONTHS_EN, ZH, format_date, format_money, format_period
from propdesk.rendering import catalog
from propdesk.store.payments import REFUNDED, VOIDED, PaymentRecord

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import Flowable

__all__ = [
    "ReceiptDocument",
    "ReceiptLine",
    "format_paid_at",
    "receipt_document",
    "receipt_key",
    "render_receipt_pdf",
]

VALID = "valid"
VOID = "void"
REFUNDED_STATE = "refunded"
STATES = (VALID, VOID, REFUNDED_STATE)

BILL = "bill"
CREDIT = "credit"
REFUND = "refund"  # the part of the payment refunded (or taken back by a dispute) since

# Versions of a receipt's file: the one issued, and the one marked void or refunded beside it.
KEY_VERSIONS = {"issued": "", VOID: "-void", REFUNDED_STATE: "-refunded"}


_PERIOD = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class ReceiptLine:
    """One line of the receipt: a bill paid (its period), the amount kept as account credit, or
    the amount refunded since."""

    label_period: str | None  # "YYYY-MM" for a bill, None otherwise
    amount_minor: int
    kind: str  # "bill" | "credit" | "refund"

    def __post_init__(self) -> None:
        if self.kind == BILL:
            if self.label_period is None or not _PERIOD.match(self.label_period):
                raise ValueError(f"a bill line needs a YYYY-MM period, not {self.label_period!r}")
        elif self.kind in (CREDIT, REFUND):
            if self.label_period is not None:
                raise ValueError(f"a {self.kind} line has no period")
        else:
            raise ValueError(f"a receipt line is a bill, credit or refund, not {self.kind!r}")
        if self.amount_minor <= 0:
            raise ValueError("a receipt line's amount is positive")


@dataclass(frozen=True)
class ReceiptDocument:
    """What one receipt says, in one locale: plain values, ready to lay out."""

    receipt_no: str
    property_name: str
    company: str  # who collects the fees (收款单位)
    address: str
    phone: str
    unit_id: str
    owner_name: str
    method: str  # a payment method's code (``[pay_method]`` in the labels)
    reference: str | None
    lines: tuple[ReceiptLine, ...]
    amount_minor: int
    currency: str
    paid_at: datetime  # UTC, aware
    time_zone: str  # IANA name: the receipt shows the property's local time
    locale: str
    state: str = VALID  # "valid" | "void" | "refunded"
    state_note: str | None = None  # the reason and/or date of a void or refund

    def __post_init__(self) -> None:
        if self.locale not in LOCALES:
            raise ValueError(f"no receipts in locale {self.locale!r}")
        if self.state not in STATES:
            raise ValueError(f"a receipt is {', '.join(STATES)}, not {self.state!r}")
        if self.paid_at.tzinfo is None:
            raise ValueError("paid_at must carry a time zone")
        ZoneInfo(self.time_zone)  # an unknown zone fails here, not half-way through a render
        if not self.lines:
            raise ValueError("a receipt has at least one line")
        if sum(line.amount_minor for line in self.lines) != self.amount_minor:
            raise ValueError("the receipt's lines do not add up to its amount")

    @property
    def periods(self) -> tuple[str, ...]:
        """The bills' periods, each once, in the order of the lines."""
        return tuple(dict.fromkeys(line.label_period for line in self.lines if line.label_period))


# --- from a stored payment -----------------------------------------------------------------------


def receipt_document(
    record: PaymentRecord,
    *,
    config: PropertyConfig,
    owner_name: str,
    locale: str,
    bills_periods: Mapping[str, str] | None = None,
    state: str | None = None,
    state_note: str | None = None,
) -> ReceiptDocument:
    """The receipt of a landed payment. ``bills_periods`` maps bill ids to periods; without it the
    period is read from the bill id (``A-101#2026-03``). ``state`` defaults to the payment's."""
    if record.receipt_no is None or record.unit_id is None:
        raise ValueError(f"payment {record.payment_id} has no receipt (it did not land on an account)")
    lines = [
        ReceiptLine(_period_of(a.bill_id, bills_periods), a.amount_minor, BILL) for a in record.allocations
    ]
    if record.credit_minor:
        lines.append(ReceiptLine(None, record.credit_minor, CREDIT))
    if record.refunded_minor:
        # What the payment paid before a refund or dispute took part of it back: the lines still
        # add up to the amount the owner paid.
        lines.append(ReceiptLine(None, record.refunded_minor, REFUND))
    return ReceiptDocument(
        receipt_no=record.receipt_no,
        property_name=config.name.get(locale),
        company=config.contact.company.get(locale),
        address=config.contact.address.get(locale),
        phone=config.contact.phone,
        unit_id=record.unit_id,
        owner_name=owner_name,
        method=record.method,
        reference=record.reference,
        lines=tuple(lines),
        amount_minor=record.amount_minor,
        currency=record.currency,
        paid_at=record.paid_at,
        time_zone=config.time_zone,
        locale=locale,
        state=state or _state_of(record),
        state_note=state_note,
    )


def _period_of(bill_id: str, bills_periods: Mapping[str, str] | None) -> str:
    if bills_periods is not None:
        if bill_id not in bills_periods:
            raise ValueError(f"no period given for bill {bill_id!r}")
        return bills_periods[bill_id]
    period = bill_id.rpartition("#")[2]
    if not _PERIOD.match(period):
        raise ValueError(f"bill id {bill_id!r} does not end in #YYYY-MM: pass bills_periods")
    return period


def _state_of(record: PaymentRecord) -> str:
    return {VOIDED: VOID, REFUNDED: REFUNDED_STATE}.get(record.status, VALID)


def receipt_key(
    property_id: str, receipt_no: str, *, version: str = "issued", locale: str | None = None
) -> str:
    """Where a receipt's PDF is kept: ``receipts/demo/2026/DEMO-2026-000001.pdf``, and its void or
    refunded version beside it (``...-void.pdf``), so the issued file is never overwritten. A
    ``locale`` names the copy in that language (``...-000001.en.pdf``)."""
    if version not in KEY_VERSIONS:
        raise ValueError(f"a receipt file is {', '.join(KEY_VERSIONS)}, not {version!r}")
    if locale is not None and locale not in LOCALES:
        raise ValueError(f"no receipts in {locale!r}")
    number = parse_receipt_number(receipt_no)
    if number.property_id != property_id:
        raise ValueError(f"receipt {receipt_no} is not property {property_id!r}'s")
    language = f".{locale}" if locale else ""
    return f"receipts/{property_id}/{number.year:04d}/{receipt_no}{KEY_VERSIONS[version]}{language}.pdf"


def format_paid_at(moment: datetime, time_zone: str, locale: str) -> str:
    """A payment's time in the property's zone: ``2026年12月21日 11:44`` or ``21 Dec 2026 11:44``."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must carry a time zone")
    local = moment.astimezone(ZoneInfo(time_zone))
    if locale == ZH:
        return f"{format_date(local.date(), locale)} {local:%H:%M}"
    return f"{local.day} {MONTHS_EN[local.month - 1][:3]} {local.year} {local:%H:%M}"


# --- layout ----------------------------------------------------------------------------------------


def _story(
    doc: ReceiptDocument, labels: Mapping[str, Any], methods: Mapping[str, str], width: float
) -> list[Flowable]:
    """The page's content, ``width`` points wide."""
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

    fonts = fonts_for(doc.locale)
    styles = paragraph_styles(fonts, doc.locale)

    def para(text: str, style: str) -> Paragraph:
        return Paragraph(markup(text, fonts), styles[style])

    def money(minor: int) -> str:
        return format_money(minor, doc.currency)

    story: list[Flowable] = [
        para(doc.property_name, "property"),
        para(labels["title"], "title"),
        Spacer(1, 2 * mm),
        para(labelled(labels["payee"], doc.company, doc.locale), "small"),
        para(labelled(labels["address"], doc.address, doc.locale), "small"),
        para(labelled(labels["phone"], doc.phone, doc.locale), "small"),
        Spacer(1, 3 * mm),
    ]
    if doc.state != VALID:
        mark, note = labels[f"{doc.state}_mark"], labels[f"{doc.state}_note"]
        gap = "" if doc.locale == ZH else " "  # a Chinese sentence ends in its own full stop
        reason = f"{gap}{labels['state_reason'].format(note=doc.state_note)}" if doc.state_note else ""
        story += [para(f"{mark} · {note}{reason}", "state"), Spacer(1, 2 * mm)]

    facts = [
        (labels["receipt_no"], doc.receipt_no),
        (labels["unit"], doc.unit_id),
        (labels["owner"], doc.owner_name),
    ]
    if doc.periods:
        separator = labels["separator"]
        facts.append((labels["periods"], separator.join(format_period(p, doc.locale) for p in doc.periods)))
    facts += [
        (labels["paid_at"], format_paid_at(doc.paid_at, doc.time_zone, doc.locale)),
        (labels["method"], methods.get(doc.method, doc.method)),
    ]
    if doc.reference:
        facts.append((labels["reference"], doc.reference))
    rule = colors.HexColor("#999999")
    facts_table = Table(
        [[para(label, "label"), para(value, "body")] for label, value in facts],
        colWidths=[0.26 * width, 0.74 * width],
    )
    facts_table.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, -1), (-1, -1), 0.5, rule)])
    )
    story += [facts_table, Spacer(1, 3 * mm)]

    rows = [[para(labels["item"], "label"), para(labels["amount"], "label_amount")]]
    for line in doc.lines:
        text = (
            labels["bill_line"].format(period=format_period(line.label_period, doc.locale))
            if line.label_period
            else labels["refund_line"]
            if line.kind == REFUND
            else labels["credit_line"]
        )
        rows.append([para(text, "body"), para(money(line.amount_minor), "amount")])
    rows.append([para(labels["total"], "total"), para(money(doc.amount_minor), "total_amount")])
    items = Table(rows, colWidths=[0.7 * width, 0.3 * width])
    items.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 1), (-1, -2), 2),
                ("BOTTOMPADDING", (0, 1), (-1, -2), 2),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, rule),
                ("LINEABOVE", (0, -1), (-1, -1), 1, colors.black),
                ("LINEBELOW", (0, -1), (-1, -1), 1, colors.black),
            ]
        )
    )
    story += [
        items,
        Spacer(1, 5 * mm),
        para(labels["invoice"], "small"),
        Spacer(1, 1.5 * mm),
        para(labels["keep"].format(phone=doc.phone), "small"),
    ]
    return story


def _stamp(doc: ReceiptDocument, labels: Mapping[str, Any]) -> Callable[[Canvas, Any], None]:
    """The page callback that draws a void/refunded receipt's stamp across the page."""
    from reportlab.lib import colors
    from reportlab.pdfbase.pdfmetrics import stringWidth

    mark = labels[f"{doc.state}_mark"]
    font = CJK_FONT if doc.locale == ZH else LATIN_BOLD

    def draw(canvas: Canvas, template: Any) -> None:
        page_width, page_height = template.pagesize
        size = min(96.0, 0.75 * page_width / stringWidth(mark, font, 1))
        canvas.saveState()
        canvas.translate(page_width / 2, page_height / 2)
        canvas.rotate(30)
        red = colors.Color(0.8, 0.1, 0.1, alpha=0.35)
        canvas.setFillColor(red)
        canvas.setStrokeColor(red)
        canvas.setLineWidth(4)
        canvas.setFont(font, size)
        canvas.drawCentredString(0, -size * 0.35, mark)
        pad = size * 0.3
        half = stringWidth(mark, font, size) / 2 + pad
        canvas.roundRect(-half, -size * 0.35 - pad, 2 * half, size + pad, radius=pad / 2, stroke=1, fill=0)
        canvas.restoreState()

    return draw


def _height(story: list[Flowable], width: float) -> float:
    return sum(f.wrap(width, 10**6)[1] + f.getSpaceBefore() + f.getSpaceAfter() for f in story)


def render_receipt_pdf(doc: ReceiptDocument) -> bytes:
    """The receipt as one page of PDF, A5 (A4 for a payment of many bills); the same document
    always gives the same bytes."""
    from reportlab.lib.pagesizes import A4, A5
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepInFrame, SimpleDocTemplate

    register_cjk_font()
    labels = catalog(doc.locale)["receipt_pdf"]
    methods = catalog(doc.locale)["pay_method"]
    out = io.BytesIO()
    for pagesize in (A5, A4):
        pdf = SimpleDocTemplate(
            out,
            pagesize=pagesize,
            leftMargin=MARGIN_MM * mm,
            rightMargin=MARGIN_MM * mm,
            topMargin=MARGIN_MM * mm,
            bottomMargin=MARGIN_MM * mm,
            title=doc.receipt_no,
            author=doc.property_name,
            subject=labels["title"],
            creator=CREATOR,
            lang=doc.locale,
            invariant=1,  # fixed creation date and file id: same input, same bytes
            pageCompression=1,
        )
        width, height = pdf.width - 2 * FRAME_PADDING, pdf.height - 2 * FRAME_PADDING
        if _height(_story(doc, labels, methods, width), width) <= height:
            break
    # A fresh story (wrapping left the measured one laid out); beyond A4 it shrinks to stay one page.
    content = KeepInFrame(0, 0, _story(doc, labels, methods, width), mode="shrink", vAlign="TOP")
    if doc.state == VALID:
        pdf.build([content])
    else:
        pdf.build([content], onFirstPage=_stamp(doc, labels))
    return out.getvalue()
