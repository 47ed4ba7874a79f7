"""Payment receipts as PDF: what they say in zh-CN and en, how they look, void/refunded marks, keys.

The PDFs are read back with pdfium (pypdfium2): its text layer for what the receipt says, and a
rendered bitmap for what it shows. STSong-Light is not embedded (the reader supplies it), so the
Chinese glyphs show only where the machine has a CJK font; the checks on ink use Latin text
(receipt number, amounts) and the stamp's frame, which pdfium draws with its own fonts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from propdesk.documents.receipts import (
    ReceiptDocument,
    ReceiptLine,
    format_paid_at,
    receipt_document,
    receipt_key,
    render_receipt_pdf,
)
from propdesk.domain.accounts import Allocation
from propdesk.rendering import catalog
from propdesk.store.payments import ALLOCATED, REFUNDED, VOIDED, PaymentRecord

REPO = Path(__file__).resolve().parents[2]
PAID_AT = datetime(2026, 12, 21, 3, 44, tzinfo=UTC)  # 11:44 in Shanghai
RECEIPT_NO = "DEMO-2026-000042"

# Two bills (November with a late fee, December) and the rest kept as credit: ¥327.27 in all.
PAYMENT = PaymentRecord(
    payment_id="pi_3Qabc",
    unit_id="A-101",
    provider="stripe",
    method="wechat_pay",
    channel="online",
    amount_minor=32727,
    currency="CNY",
    status=ALLOCATED,
    received_at=PAID_AT,
    paid_at=PAID_AT,
    allocations=(Allocation("A-101#2026-11", 14000, 500), Allocation("A-101#2026-12", 14000)),
    credit_minor=4227,
    receipt_no=RECEIPT_NO,
    reference="4200001234202612210001",
)


def _document(config, locale="zh-CN", **changes) -> ReceiptDocument:
    return receipt_document(PAYMENT, config=config, owner_name="张伟", locale=locale, **changes)


class Pdf:
    """A rendered receipt read back: its pages, its text, its pixels."""

    SCALE = 2

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.document = pdfium.PdfDocument(data)
        self.page = self.document[0]
        self.textpage = self.page.get_textpage()
        self.text = self.textpage.get_text_range()
        self.image = self.page.render(scale=self.SCALE).to_pil().convert("RGB")

    @property
    def flat_text(self) -> str:
        """The text without whitespace: a sentence wrapped over two lines still matches."""
        return re.sub(r"\s+", "", self.text)

    def says(self, sentence: str) -> bool:
        return re.sub(r"\s+", "", sentence) in self.flat_text

    def dark_pixels_over(self, text: str) -> int:
        """How many dark pixels lie inside the box of ``text`` on the page."""
        found = self.textpage.search(text, match_case=True).get_next()
        assert found is not None, f"{text!r} is not on the page"
        index, count = found
        boxes = [self.textpage.get_charbox(i) for i in range(index, index + count)]
        left, right = min(b[0] for b in boxes), max(b[2] for b in boxes)
        bottom, top = min(b[1] for b in boxes), max(b[3] for b in boxes)
        height = self.page.get_height()
        box = tuple(
            round(v * self.SCALE) for v in (left, height - top, right, height - bottom)
        )  # PDF points, origin bottom left -> pixels, origin top left
        return sum(self.image.crop(box).convert("L").histogram()[:110])

    def red_pixels(self) -> int:
        data = self.image.tobytes()
        return sum(
            1
            for r, g, b in zip(data[0::3], data[1::3], data[2::3], strict=True)
            if r > 150 and r - g > 40 and r - b > 40
        )


@pytest.fixture(scope="module")
def zh_receipt(demo_config) -> Pdf:
    return Pdf(render_receipt_pdf(_document(demo_config, "zh-CN")))


@pytest.fixture(scope="module")
def en_receipt(demo_config) -> Pdf:
    return Pdf(render_receipt_pdf(_document(demo_config, "en")))


# --- what the receipt says -----------------------------------------------------------------------


def test_a_chinese_receipt_names_property_payee_unit_owner_periods_method_time_and_amounts(zh_receipt):
    # GIVEN a WeChat Pay payment for two bills plus credit, paid 03:44 UTC (11:44 in Shanghai)
    # WHEN its receipt is rendered in Chinese
    text = zh_receipt.text
    # THEN the PDF's text has every element the owner needs
    for expected in (
        RECEIPT_NO,
        "锦绣花园",
        "上海锦绣物业服务有限公司",
        "上海市闵行区锦绣路 88 号",
        "021-5432 1088",
        "A-101",
        "张伟",
        "2026年11月",
        "2026年12月",
        "微信支付",
        "4200001234202612210001",
        "2026年12月21日 11:44",
        "¥145.00",  # November: principal and late fee
        "¥140.00",
        "存入预存款",
        "¥42.27",
        "¥327.27",
    ):
        assert expected in text, expected
    assert zh_receipt.says("如需开具发票，请在物业服务中心或在缴费页面提出申请（提供抬头和税号）。")


def test_an_english_receipt_has_english_labels_and_dates_and_keeps_a_chinese_owner_name(en_receipt):
    text = en_receipt.text
    for expected in (
        RECEIPT_NO,
        "Jinxiu Garden",
        "Shanghai Jinxiu Property Services Co. Ltd.",
        "A-101",
        "张伟",  # set in the CJK font inside Helvetica text
        "November 2026",
        "December 2026",
        "WeChat Pay",
        "21 Dec 2026 11:44",
        "Kept as account credit",
        "¥327.27",
    ):
        assert expected in text, expected
    assert en_receipt.says(catalog("en")["receipt_pdf"]["invoice"])
    assert "fapiao" in text
    assert not re.search(r"[\u4e00-\u9fff]", text.replace("张伟", "")), "untranslated Chinese"


def test_a_receipt_for_credit_only_has_no_period_line(demo_config):
    payment = replace(PAYMENT, allocations=(), credit_minor=PAYMENT.amount_minor)
    doc = receipt_document(payment, config=demo_config, owner_name="张伟", locale="zh-CN")
    pdf = Pdf(render_receipt_pdf(doc))
    assert doc.lines == (ReceiptLine(None, 32727, "credit"),)
    assert "缴费期间" not in pdf.text
    assert "存入预存款" in pdf.text and "¥327.27" in pdf.text


@pytest.mark.parametrize(
    ("moment", "locale", "expected"),
    [
        (PAID_AT, "zh-CN", "2026年12月21日 11:44"),
        (PAID_AT, "en", "21 Dec 2026 11:44"),
        # New Year's Eve in UTC is already New Year's Day in Shanghai
        (datetime(2026, 12, 31, 17, 5, tzinfo=UTC), "zh-CN", "2027年1月1日 01:05"),
        (datetime(2026, 9, 3, 0, 0, tzinfo=UTC), "en", "3 Sep 2026 08:00"),
    ],
)
def test_the_paid_time_is_the_property_local_time_in_the_locale(moment, locale, expected):
    assert format_paid_at(moment, "Asia/Shanghai", locale) == expected


# --- what the receipt shows ----------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_the_receipt_is_one_inked_a5_page(demo_config, locale):
    pdf = Pdf(render_receipt_pdf(_document(demo_config, locale)))
    assert pdf.data.startswith(b"%PDF-")
    assert len(pdf.document) == 1
    width, height = pdf.page.get_size()
    assert (round(width), round(height)) == (420, 595)  # A5 in points
    # the receipt number and the total are drawn where the text layer puts them, not left blank
    assert pdf.dark_pixels_over(RECEIPT_NO) > 100
    assert pdf.dark_pixels_over("¥327.27") > 50
    # and an ordinary receipt carries no red mark
    assert pdf.red_pixels() == 0


@pytest.mark.skipif(
    not (shutil.which("fc-list") and subprocess.run(["fc-list", ":lang=zh"], capture_output=True).stdout),
    reason="no CJK font on this machine for pdfium to show STSong-Light with",
)
def test_the_chinese_text_is_drawn(zh_receipt):
    assert zh_receipt.dark_pixels_over("锦绣花园") > 200
    assert zh_receipt.dark_pixels_over("微信支付") > 50


def test_the_pdf_names_the_receipt_and_the_property_in_its_metadata(zh_receipt):
    metadata = zh_receipt.document.get_metadata_dict()
    assert metadata["Title"] == RECEIPT_NO
    assert metadata["Author"] == "锦绣花园"
    assert metadata["Subject"] == "缴费收据"


def test_the_same_receipt_gives_the_same_bytes_and_another_one_different_bytes(demo_config):
    doc = _document(demo_config)
    first, second = render_receipt_pdf(doc), render_receipt_pdf(doc)
    assert first == second
    assert render_receipt_pdf(replace(doc, owner_name="李娜")) != first


def test_many_bills_still_fit_on_one_page_with_every_period(demo_config):
    # GIVEN a payment for three years of arrears
    allocations = tuple(
        Allocation(f"A-101#{2024 + month // 12}-{month % 12 + 1:02d}", 1000) for month in range(36)
    )
    payment = replace(PAYMENT, allocations=allocations, credit_minor=0, amount_minor=36_000)
    # WHEN its receipt is rendered
    pdf = Pdf(
        render_receipt_pdf(receipt_document(payment, config=demo_config, owner_name="张伟", locale="en"))
    )
    # THEN it is still one page (an A4 one), listing every bill
    assert len(pdf.document) == 1
    assert round(pdf.page.get_height()) == 842
    assert pdf.text.count("Property fee, ") == 36
    assert "Property fee, January 2024" in pdf.text and "Property fee, December 2026" in pdf.text
    assert "¥360.00" in pdf.text


# --- void and refunded -----------------------------------------------------------------------------


@pytest.mark.parametrize(("locale", "mark"), [("zh-CN", "作废"), ("en", "VOID")])
def test_a_void_receipt_keeps_its_number_and_is_stamped_void_with_the_reason(demo_config, locale, mark):
    # GIVEN a receipt voided because the payment was recorded twice
    doc = _document(demo_config, locale, state="void", state_note="duplicate entry, 2026-12-22")
    # WHEN it is rendered
    pdf = Pdf(render_receipt_pdf(doc))
    # THEN it keeps its number, says it is void (stamp and line) with the reason, in red
    assert RECEIPT_NO in pdf.text
    assert pdf.text.count(mark) >= 2
    assert "duplicate entry, 2026-12-22" in pdf.text
    assert pdf.red_pixels() > 5000
    assert pdf.document.get_metadata_dict()["Title"] == RECEIPT_NO


def test_a_refunded_receipt_says_refunded(demo_config):
    pdf = Pdf(render_receipt_pdf(_document(demo_config, "zh-CN", state="refunded")))
    assert RECEIPT_NO in pdf.text
    assert "已退款" in pdf.text and "作废" not in pdf.text
    assert pdf.says(catalog("zh-CN")["receipt_pdf"]["refunded_note"])


def test_a_partly_refunded_payment_s_receipt_adds_up_with_a_refunded_line(demo_config):
    # GIVEN the payment after a refund took back December and the credit (18227 of 32727)
    partly = replace(
        PAYMENT, allocations=(Allocation("A-101#2026-11", 14000, 500),), credit_minor=0, refunded_minor=18227
    )
    # WHEN its receipt is made and rendered
    doc = receipt_document(partly, config=demo_config, owner_name="Anna Liu", locale="en")
    pdf = Pdf(render_receipt_pdf(doc))
    # THEN its lines still add up to what the owner paid, the refund its own line
    assert doc.lines == (ReceiptLine("2026-11", 14500, "bill"), ReceiptLine(None, 18227, "refund"))
    assert "Refunded since" in pdf.text and "182.27" in pdf.text and "327.27" in pdf.text


@pytest.mark.parametrize(
    ("status", "state"), [(ALLOCATED, "valid"), (VOIDED, "void"), (REFUNDED, "refunded")]
)
def test_the_receipt_state_follows_the_payment_unless_given(demo_config, status, state):
    payment = replace(PAYMENT, status=status)
    assert receipt_document(payment, config=demo_config, owner_name="x", locale="en").state == state
    given = receipt_document(payment, config=demo_config, owner_name="x", locale="en", state="void")
    assert given.state == "void"


# --- from the payment record -----------------------------------------------------------------------


def test_the_document_takes_each_bill_period_from_its_id_and_the_credit_as_its_own_line(demo_config):
    doc = _document(demo_config)
    assert doc.lines == (
        ReceiptLine("2026-11", 14500, "bill"),
        ReceiptLine("2026-12", 14000, "bill"),
        ReceiptLine(None, 4227, "credit"),
    )
    assert doc.periods == ("2026-11", "2026-12")
    assert (doc.property_name, doc.company, doc.time_zone) == (
        "锦绣花园",
        "上海锦绣物业服务有限公司",
        "Asia/Shanghai",
    )


def test_given_bill_periods_win_over_the_bill_ids(demo_config):
    periods = {"A-101#2026-11": "2026-10", "A-101#2026-12": "2026-11"}
    doc = _document(demo_config, bills_periods=periods)
    assert doc.periods == ("2026-10", "2026-11")
    with pytest.raises(ValueError, match="no period given"):
        _document(demo_config, bills_periods={"A-101#2026-11": "2026-11"})


def test_a_bill_id_without_a_period_needs_the_periods_given(demo_config):
    payment = replace(PAYMENT, allocations=(Allocation("legacy-17", 28500),))
    with pytest.raises(ValueError, match="bills_periods"):
        receipt_document(payment, config=demo_config, owner_name="x", locale="en")


def test_a_set_aside_payment_has_no_receipt(demo_config):
    payment = replace(PAYMENT, unit_id=None, receipt_no=None, allocations=(), credit_minor=0)
    with pytest.raises(ValueError, match="has no receipt"):
        receipt_document(payment, config=demo_config, owner_name="x", locale="en")


@pytest.mark.parametrize(
    "change",
    [
        {"amount_minor": 32728},  # lines no longer add up
        {"locale": "fr"},
        {"state": "cancelled"},
        {"paid_at": datetime(2026, 12, 21, 3, 44)},  # naive
        {"lines": ()},
    ],
    ids=["sum", "locale", "state", "naive", "empty"],
)
def test_a_receipt_document_refuses_what_would_print_a_wrong_receipt(demo_config, change):
    doc = _document(demo_config)
    with pytest.raises(ValueError):
        replace(doc, **change)


@pytest.mark.parametrize(
    "line",
    [("2026-13", 100, "bill"), (None, 100, "bill"), ("2026-11", 100, "credit"), ("2026-11", 0, "bill")],
)
def test_a_receipt_line_is_a_bill_with_a_period_or_credit_without(line):
    with pytest.raises(ValueError):
        ReceiptLine(*line)


# --- where it is kept --------------------------------------------------------------------------------


def test_the_receipt_key_is_per_property_and_year_with_a_separate_void_or_refunded_file():
    assert receipt_key("demo", "DEMO-2026-000001") == "receipts/demo/2026/DEMO-2026-000001.pdf"
    assert (
        receipt_key("demo", "DEMO-2026-000001", version="void")
        == "receipts/demo/2026/DEMO-2026-000001-void.pdf"
    )
    assert (
        receipt_key("demo", "DEMO-2027-000003", version="refunded")
        == "receipts/demo/2027/DEMO-2027-000003-refunded.pdf"
    )
    assert (
        receipt_key("demo", "DEMO-2026-000001", locale="en") == "receipts/demo/2026/DEMO-2026-000001.en.pdf"
    )
    with pytest.raises(ValueError):
        receipt_key("demo", "DEMO-2026-000001", locale="fr")


@pytest.mark.parametrize(
    ("property_id", "receipt_no", "version"),
    [
        ("demo", "OTHER-2026-000001", "issued"),
        ("demo", "../../etc", "issued"),
        ("demo", "DEMO-2026-000001", "draft"),
    ],
)
def test_a_receipt_key_refuses_another_property_a_malformed_number_or_an_unknown_version(
    property_id, receipt_no, version
):
    with pytest.raises(ValueError):
        receipt_key(property_id, receipt_no, version=version)


# --- cold start ------------------------------------------------------------------------------------


def test_importing_the_module_does_not_load_reportlab_rendering_does():
    probe = (
        "import sys\n"
        f"sys.path[:0] = [{str(REPO / 'layers' / 'core' / 'python')!r}]\n"
        "import propdesk.documents.receipts as receipts\n"
        "before = 'reportlab' in sys.modules\n"
        "from datetime import UTC, datetime\n"
        "doc = receipts.ReceiptDocument('DEMO-2026-000001', 'P', 'C', 'A', '1', 'A-101', 'O', 'cash', None,\n"
        "    (receipts.ReceiptLine(None, 100, 'credit'),), 100, 'CNY', datetime(2026, 1, 1, tzinfo=UTC),\n"
        "    'Asia/Shanghai', 'en')\n"
        "receipts.render_receipt_pdf(doc)\n"
        "print(before, 'reportlab' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, cwd="/", check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["False", "True"]
