"""What the PDF documents (receipts, notices) share: fonts, paragraph styles and Chinese text.

Chinese is set in ReportLab's built-in CID font ``STSong-Light``: the PDF names the font and the
reader supplies the glyphs, so no font file is shipped or embedded. A zh-CN document is set in it
throughout; an English one in Helvetica, with any run Helvetica cannot show switched to it.
ReportLab is imported inside the functions, so importing this module costs nothing at cold start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from propdesk.formatting import ZH

__all__ = [
    "CJK_FONT",
    "CREATOR",
    "FRAME_PADDING",
    "LATIN_BOLD",
    "LATIN_FONT",
    "MARGIN_MM",
    "Fonts",
    "fonts_for",
    "labelled",
    "markup",
    "paragraph_styles",
    "register_cjk_font",
]

CJK_FONT = "STSong-Light"
LATIN_FONT = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
CREATOR = "PropDesk"
MARGIN_MM = 12
FRAME_PADDING = 6  # points: ReportLab's default padding inside a page's frame


@dataclass(frozen=True)
class Fonts:
    regular: str
    bold: str
    cjk_runs: bool  # switch runs Helvetica cannot show to the CJK font


def fonts_for(locale: str) -> Fonts:
    if locale == ZH:
        return Fonts(CJK_FONT, CJK_FONT, cjk_runs=False)  # the CID font has no bold: size stands out
    return Fonts(LATIN_FONT, LATIN_BOLD, cjk_runs=True)


def _latin(char: str) -> bool:
    try:
        char.encode("cp1252")  # Helvetica's encoding in ReportLab (WinAnsi)
    except UnicodeEncodeError:
        return False
    return True


def markup(text: str, fonts: Fonts) -> str:
    """Text as paragraph markup: escaped, runs Helvetica lacks set in the CJK font."""
    if not fonts.cjk_runs:
        return escape(text)
    runs: list[str] = []
    for char in text:
        latin = _latin(char)
        if runs and _latin(runs[-1][-1]) == latin:
            runs[-1] += char
        else:
            runs.append(char)
    return "".join(
        escape(run) if _latin(run[-1]) else f'<font name="{CJK_FONT}">{escape(run)}</font>' for run in runs
    )


def register_cjk_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def paragraph_styles(fonts: Fonts, locale: str) -> dict[str, Any]:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle

    wrap = "CJK" if locale == ZH else None
    base = ParagraphStyle("body", fontName=fonts.regular, fontSize=9, leading=12.5, wordWrap=wrap)
    return {
        "property": ParagraphStyle(
            "property", base, fontName=fonts.bold, fontSize=16, leading=20, alignment=TA_CENTER
        ),
        "title": ParagraphStyle(
            "title", base, fontName=fonts.bold, fontSize=12.5, leading=17, alignment=TA_CENTER
        ),
        "small": ParagraphStyle("small", base, fontSize=8, leading=11, textColor=colors.HexColor("#333333")),
        "label": ParagraphStyle("label", base, textColor=colors.HexColor("#555555")),
        "label_amount": ParagraphStyle(
            "label_amount", base, textColor=colors.HexColor("#555555"), alignment=TA_RIGHT
        ),
        "body": base,
        "amount": ParagraphStyle("amount", base, alignment=TA_RIGHT),
        "total": ParagraphStyle("total", base, fontName=fonts.bold, fontSize=11, leading=15),
        "total_amount": ParagraphStyle(
            "total_amount", base, fontName=fonts.bold, fontSize=11, leading=15, alignment=TA_RIGHT
        ),
        "state": ParagraphStyle(
            "state",
            base,
            fontName=fonts.bold,
            fontSize=10.5,
            leading=14,
            textColor=colors.HexColor("#c0171d"),
        ),
    }


def labelled(label: str, value: str, locale: str) -> str:
    return f"{label}：{value}" if locale == ZH else f"{label}: {value}"
