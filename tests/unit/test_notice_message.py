"""The notice (F2) as owners get it: the designed e-mail and its plain-text part, the SMS that
fits one segment, and every label of every message in the owner's language (issue 8, items 3, 5)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from propdesk.messaging.sms import GSM_SINGLE, UCS2_SINGLE, choose, is_gsm, segments, sms_length
from propdesk.messaging.templates import TEMPLATE_NAMES, render
from tests.unit.test_messenger_templates import CONTEXTS, NOTICE

PAY_URL = NOTICE["pay_url"]
SHORT = "https://pay.example.test/p/x7Kp2mQ9aZ4"  # 11 characters, as ShortLinks makes them
CREDITED = {**NOTICE, "credit_applied_minor": 5000, "due_minor": 27727}


def notice(locale: str, context: dict | None = None, **kwargs):
    return render(
        "bill_notice",
        locale=locale,
        context=context or CREDITED,
        recipient_name="吴娜" if locale == "zh-CN" else "Anna Liu",
        config=kwargs.pop("config"),
        **kwargs,
    )


class _Links(HTMLParser):
    """The links of an HTML part, with their text, and the rows of its tables."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.rows: list[list[str]] = []
        self._href: str | None = None
        self._text = ""
        self._cell: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href, self._text = dict(attrs).get("href"), ""
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((self._href, self._text.strip()))
            self._href = None
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append(" ".join(self._cell.split()))
            self._cell = None

    def handle_data(self, data):
        if self._href is not None:
            self._text += data
        if self._cell is not None:
            self._cell += data


def parsed(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_notice_email_has_the_itemised_table_the_pay_button_and_the_standard_link(demo_config, locale):
    # GIVEN a bill part paid by the account's credit
    # WHEN its notice is rendered
    rendered = notice(locale, config=demo_config)
    html = parsed(rendered.html)
    # THEN the table lists each item with its amount, the total, the credit and what is due
    rows = [row for row in html.rows if len(row) == 2]
    names = {"zh-CN": ("物业服务费", "电梯运行维护费"), "en": ("Property service fee", "Elevator operation")}[
        locale
    ]
    assert any(row[0] == names[0] and row[1] == "¥250.24" for row in rows), rows
    assert any(row[0].startswith(names[1]) and row[1] == "¥40.22" for row in rows), rows
    assert any(row[1] == "¥327.27" for row in rows) and any(row[1] == "-¥50.00" for row in rows)
    assert any(row[1] == "¥277.27" for row in rows)
    # and the pay button leads to the pay link, saying how much
    button = [text for href, text in html.links if href == PAY_URL]
    assert button and "¥277.27" in button[0]
    assert 'class="pd-button"' in rendered.html and "v:roundrect" in rendered.html  # Outlook's own button
    # and the standard's version links to its public page in the message's language
    standard = f"https://pay.example.test/standards/SH-2026-01?lang={locale}"
    assert any(href == standard for href, _ in html.links) and "SH-2026-01" in rendered.html
    # and the printable notice is linked under the owner's pay link
    notice_pdf = f"{PAY_URL}/bills/A-101%232026-07/notice"
    assert any(href == notice_pdf for href, _ in html.links)
    # and the due date and the other ways to pay are there
    due = "2026年7月15日" if locale == "zh-CN" else "15 July 2026"
    assert due in rendered.html and "1001 2345 6789 0123 456" in rendered.html


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_notice_email_reads_in_dark_mode_and_never_in_times(demo_config, locale):
    html = notice(locale, config=demo_config).html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert '<meta name="supported-color-schemes" content="light dark">' in html
    assert "@media (prefers-color-scheme: dark)" in html
    # every font stack names system and CJK fonts and ends in sans-serif (never the serif default)
    stacks = re.findall(r"font-family:\s*([^;\"]+)", html)
    assert stacks
    for stack in stacks:
        assert "PingFang SC" in stack and "Microsoft YaHei" in stack and "Noto Sans CJK SC" in stack
        assert stack.strip().endswith("sans-serif") and "Times" not in stack
    first = stacks[0].split(",")[0].strip("'\" ")
    assert first == ("PingFang SC" if locale == "zh-CN" else "-apple-system")
    # a 600px column, laid out with tables
    assert "max-width:600px" in html and 'role="presentation"' in html


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_the_plain_text_part_has_the_same_facts(demo_config, locale):
    rendered = notice(locale, config=demo_config)
    for fact in (
        "¥250.24",
        "¥40.22",
        "¥327.27",
        "-¥50.00",
        "¥277.27",
        "2026年7月15日" if locale == "zh-CN" else "15 July 2026",
        PAY_URL,
        f"{PAY_URL}/bills/A-101%232026-07/notice",
        f"https://pay.example.test/standards/SH-2026-01?lang={locale}",
        "1001 2345 6789 0123 456",
        "锦绣花园" if locale == "zh-CN" else "Jinxiu Garden",
    ):
        assert fact in rendered.text, fact
        assert fact.replace("&", "&amp;") in rendered.html or fact.replace("-¥", "-¥") in rendered.html, fact


def test_a_typical_chinese_notice_sms_is_one_segment_with_its_short_link(demo_config):
    # GIVEN a short-link maker that counts its calls
    made = []

    def shorten(url):
        made.append(url)
        return SHORT

    # WHEN the SMS is rendered for a typical bill
    sms = notice("zh-CN", context=NOTICE, config=demo_config, short_link=shorten).sms
    # THEN it is one UCS-2 segment (70 characters, the 【】 signature included), with the short link
    assert sms.startswith("【锦绣花园】") and not is_gsm(sms)
    assert sms_length(sms) <= UCS2_SINGLE and segments(sms) == 1, (sms_length(sms), sms)
    assert SHORT in sms and "/pay/" not in sms and "¥327.27" in sms and "A-101" in sms
    # and one short link was made for the pay link, however many wordings were tried
    assert made == [PAY_URL]


def test_the_english_notice_sms_is_one_gsm_segment_with_the_full_wording(demo_config):
    sms = notice("en", context=NOTICE, config=demo_config, short_link=lambda url: SHORT).sms
    assert is_gsm(sms) and sms_length(sms) <= GSM_SINGLE and segments(sms) == 1
    assert "July 2026" in sms and "15 July 2026" in sms and SHORT in sms  # the fullest wording fits


def test_without_the_maker_no_short_link_is_made_and_the_sms_keeps_the_pay_link(demo_config):
    sms = notice("zh-CN", context=NOTICE, config=demo_config).sms
    assert PAY_URL in sms and "/p/" not in sms


def test_sms_lengths_as_the_network_counts_them():
    assert segments("a" * 160) == 1 and segments("a" * 161) == 2 and segments("a" * 307) == 3
    assert sms_length("€") == 2 and segments("€" * 80) == 1 and segments("€" * 81) == 2  # extension table
    assert segments("中" * 70) == 1 and segments("中" * 71) == 2 and segments("中" * 135) == 3
    assert segments("¥" + "a" * 159) == 1  # ¥ is GSM-7
    assert segments("😀" * 35) == 1 and segments("😀" * 36) == 2  # two UTF-16 units each
    assert choose("中" * 80 + "\n" + "中" * 60 + "\n" + "中" * 10) == "中" * 60
    assert choose("中" * 80 + "\n" + "中" * 75) == "中" * 75  # none fits: the shortest


# --- every label translated ------------------------------------------------------------------------

# Codes the messages are given (fee items, ticket kinds, categories, priorities, pay methods,
# statuses) and English words of our labels: none may reach a Chinese message.
CODES = (
    "service",
    "common_energy",
    "elevator",
    "waste",
    "repair",
    "consultation",
    "complaint",
    "water",
    "urgent",
    "high",
    "normal",
    "card",
    "cash",
    "wechat_pay",
    "alipay",
    "open",
    "paid",
    "dispatched",
)
# What may be Latin in a Chinese message: ids, URLs, e-mail, the standard's version, brand names,
# the recipient's or staff's own words (a work order's summary, why a bill was withdrawn), PDF and ¥ amounts.
ALLOWED_LATIN = re.compile(
    r"https?://\S+|[\w.+-]+@[\w.-]+|SH-\d{4}-\d{2}|[A-Z]-\d+(#\d{4}-\d{2})?|T-\w+|DEMO-\d{4}-\d+|R-\d+"
    r"|stripe:\w+|Kitchen pipe leaking|Wrong area for building 1|Anna|Visa|PDF|Stripe|Asia/Shanghai|m²|\bAM\b|\bPM\b"
)


def _visible_text(part: str, html: bool) -> str:
    if not html:
        return part
    text = re.sub(r"<(style|title)[^>]*>.*?</\1>", " ", part, flags=re.S)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    return re.sub(r"<[^>]+>", " ", text)


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_a_chinese_message_has_no_english_label_or_code(demo_config, template):
    # GIVEN a realistic context (work orders with a category and a priority, receipts with a method)
    # WHEN the message is rendered in zh-CN
    rendered = render(
        template, locale="zh-CN", context=CONTEXTS[template], recipient_name="吴娜", config=demo_config
    )
    # THEN no Latin word is left but ids, links and names
    for name in ("subject", "text", "html", "sms"):
        text = ALLOWED_LATIN.sub(" ", _visible_text(getattr(rendered, name), name == "html"))
        words = re.findall(r"[A-Za-z]{2,}", text)
        assert words == [], f"{template}.{name}: {words}"
        for code in CODES:
            assert not re.search(rf"(?<![\w/.#-]){code}(?![\w/.-])", text), f"{template}.{name}: {code}"


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_an_english_message_has_no_chinese_label(demo_config, template):
    rendered = render(
        template, locale="en", context=CONTEXTS[template], recipient_name="Anna", config=demo_config
    )
    for name in ("subject", "text", "html", "sms"):
        text = _visible_text(getattr(rendered, name), name == "html")
        # the bank account's holder is the company's registered Chinese name: the one Chinese allowed
        text = text.replace(demo_config.payment.bank_account.account_name, " ")
        assert not re.search(r"[\u4e00-\u9fff]", text), f"{template}.{name}: {text}"


def test_a_work_order_names_its_category_and_priority_in_chinese(demo_config):
    rendered = render(
        "work_order",
        locale="zh-CN",
        context=CONTEXTS["work_order"],
        recipient_name="工程部",
        config=demo_config,
    )
    assert (
        "给排水" in rendered.subject and "类别: 给排水" in rendered.text and "优先级: 紧急" in rendered.text
    )
    assert "water" not in rendered.html and "urgent" not in rendered.html
