"""The printable notice of a fee standard (收费标准公示), one A4 page per locale, made with ReportLab.

Posted at the site's entrances and each building's door (F1): the property, the version and its
effective date, the legal basis, each item's basis and rate, the cost breakdown, the publication
period and the contact. Chinese is set in ReportLab's CID font ``STSong-Light`` as the receipts
are (``documents.receipts``: no font file shipped), English in Helvetica with Chinese runs
switched to the CID font. ReportLab's ``invariant`` mode makes the same version give the same bytes.
Every word comes from the labels catalog (``[standard]``); money and dates from ``formatting``.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from propdesk.config import LOCALES, PropertyConfig
from propdesk.documents.layout import CREATOR, FRAME_PADDING, fonts_for, markup, register_cjk_font
from propdesk.domain.standards import StandardVersion
from propdesk.formatting import ZH, format_date, format_money, format_share
from propdesk.rendering import catalog

if TYPE_CHECKING:
    from reportlab.platypus import Flowable

__all__ = ["notice_key", "render_standard_pdf"]

MARGIN_MM = 18


def notice_key(property_id: str, version: str, locale: str) -> str:
    """Where a version's printable notice is kept: ``standards/demo/SH-2027-01.zh-CN.pdf``."""
    if locale not in LOCALES:
        raise ValueError(f"no notices in {locale!r}")
    return f"standards/{property_id}/{version}.{locale}.pdf"


def _rate(item: Any, labels: Any, currency: str) -> str:
    return labels[f"rate_{item.basis}"].format(rate=format_money(item.rate_minor, currency))


def _item_name(item: Any, labels: Any, locale: str) -> str:
    name = item.name.get(locale)
    if item.requires_elevator:
        name += f" ({labels['elevator_only']})"
    if item.buildings:
        name += f" ({labels['buildings_only'].format(buildings=', '.join(item.buildings))})"
    return name


def _story(standard: StandardVersion, config: PropertyConfig, locale: str, width: float) -> list[Flowable]:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

    labels = catalog(locale)["standard"]
    fonts = fonts_for(locale)
    wrap = "CJK" if locale == ZH else None
    base = ParagraphStyle("body", fontName=fonts.regular, fontSize=11, leading=16, wordWrap=wrap)
    styles = {
        "property": ParagraphStyle(
            "property", base, fontName=fonts.bold, fontSize=20, leading=26, alignment=TA_CENTER
        ),
        "title": ParagraphStyle(
            "title", base, fontName=fonts.bold, fontSize=17, leading=23, alignment=TA_CENTER
        ),
        "heading": ParagraphStyle(
            "heading", base, fontName=fonts.bold, fontSize=13, leading=18, spaceBefore=8
        ),
        "body": base,
        "right": ParagraphStyle("right", base, alignment=TA_RIGHT),
        "small": ParagraphStyle(
            "small", base, fontSize=9.5, leading=13, textColor=colors.HexColor("#333333")
        ),
    }

    def para(text: str, style: str = "body") -> Paragraph:
        return Paragraph(markup(text, fonts), styles[style])

    rule = colors.HexColor("#999999")

    def table(rows: list[list[Paragraph]], widths: list[float]) -> Table:
        made = Table(rows, colWidths=[w * width for w in widths])
        made.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                    ("LINEBELOW", (0, 1), (-1, -1), 0.4, rule),
                ]
            )
        )
        return made

    currency = config.currency
    separator = "：" if locale == ZH else ": "
    story: list[Flowable] = [
        para(config.name.get(locale), "property"),
        para(f"{labels['title']} · {standard.version}", "title"),
        Spacer(1, 4 * mm),
        para(labels["effective_sentence"].format(day=format_date(standard.effective_from, locale))),
    ]
    if standard.publication:
        period = labels["publication_period"].format(
            start=format_date(standard.publication.starts_on, locale),
            end=format_date(standard.publication.ends_on, locale),
        )
        story.append(para(f"{labels['publication']}{separator}{period}"))
    story += [para(labels["legal_basis"], "heading")]
    story += [para(f"· {line}") for line in standard.basis_lines(locale)]
    story += [para(labels["item_rates"], "heading")]
    rows = [[para(labels["item"]), para(labels["basis"]), para(labels["rate"], "right")]]
    rows += [
        [
            para(_item_name(item, labels, locale)),
            para(labels[item.basis]),
            para(_rate(item, labels, currency), "right"),
        ]
        for item in standard.items
    ]
    story.append(table(rows, [0.46, 0.22, 0.32]))
    if standard.cost_breakdown:
        story += [para(labels["costs"], "heading")]
        rows = [[para(labels["cost"]), para(labels["share"], "right")]]
        rows += [
            [para(line.name.get(locale)), para(format_share(line.share_bp), "right")]
            for line in standard.cost_breakdown
        ]
        total = sum(line.share_bp for line in standard.cost_breakdown)
        rows.append([para(labels["total_share"]), para(format_share(total), "right")])
        story.append(table(rows, [0.7, 0.3]))
    story += [
        Spacer(1, 8 * mm),
        para(labels["questions"].format(phone=config.contact.phone), "small"),
        para(f"{config.contact.company.get(locale)} · {config.contact.address.get(locale)}", "small"),
    ]
    return story


def render_standard_pdf(standard: StandardVersion, *, config: PropertyConfig, locale: str) -> bytes:
    """The version's notice as one A4 page (content shrinks to fit rather than run over)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepInFrame, SimpleDocTemplate

    if locale not in LOCALES:
        raise ValueError(f"no notices in {locale!r}")
    register_cjk_font()
    out = io.BytesIO()
    pdf = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN_MM * mm,
        rightMargin=MARGIN_MM * mm,
        topMargin=MARGIN_MM * mm,
        bottomMargin=MARGIN_MM * mm,
        title=f"{catalog(locale)['standard']['title']} {standard.version}",
        author=config.name.get(locale),
        creator=CREATOR,
        lang=locale,
        invariant=1,
        pageCompression=1,
    )
    width = pdf.width - 2 * FRAME_PADDING
    pdf.build([KeepInFrame(0, 0, _story(standard, config, locale, width), mode="shrink", vAlign="TOP")])
    return out.getvalue()
