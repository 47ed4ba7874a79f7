"""How long an SMS is in segments (PROVIDERS.md, "Messages"), and picking the wording that fits one.

GSM-7 text takes 160 characters in one segment (153 per part when split), its extension table's
characters counting twice; any other character (every Chinese one) makes the whole message UCS-2:
70 in one segment, 67 per part. A mainland SMS is charged per segment, so a message's ``sms.txt``
may offer several wordings, one per line, fullest first: the first that fits one segment is sent,
and the last (the shortest) when none does.
"""

from __future__ import annotations

# GSM 03.38 basic character set, and the extension table (escape + character: two septets).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def is_gsm(text: str) -> bool:
    return all(char in GSM_BASIC or char in GSM_EXTENDED for char in text)


def sms_length(text: str) -> int:
    """Characters as the network counts them: septets for GSM-7, UTF-16 code units for UCS-2."""
    if is_gsm(text):
        return sum(2 if char in GSM_EXTENDED else 1 for char in text)
    return len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    """How many segments ``text`` is sent as."""
    length = sms_length(text)
    single, part = (GSM_SINGLE, GSM_PART) if is_gsm(text) else (UCS2_SINGLE, UCS2_PART)
    if length <= single:
        return 1
    return -(-length // part)


def fitting(wordings: list[str]) -> str:
    """The first wording that is one segment, else the last (the shortest)."""
    if not wordings:
        return ""
    return next((text for text in wordings if segments(text) == 1), wordings[-1])


def choose(rendered: str) -> str:
    """The SMS to send from a rendered ``sms.txt``: one wording per non-empty line."""
    return fitting([line.strip() for line in rendered.splitlines() if line.strip()])
