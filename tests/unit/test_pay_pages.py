"""Rendering the owner's pay pages: content, locales, and escaping of every data value."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from propdesk.config import PropertyConfig
from propdesk.web.pages import (
    choose_locale,
    render_bill_page,
    render_error,
    render_not_found,
    render_return_page,
)
from tests.paytools import make_bill

EVIL = '<script>alert("x")</script>'


@pytest.fixture
def evil_config(demo_config):
    data = demo_config.model_dump(by_alias=True, mode="json")
    data["name"]["en"] = EVIL
    data["fee_standard"]["items"][0]["name"]["en"] = EVIL
    data["payment"]["front_desk"]["place"]["en"] = EVIL
    data["payment"]["bank_account"]["account_name"] = EVIL
    return PropertyConfig.model_validate(data)


def test_bill_page_lists_items_total_due_date_and_pay_form(demo_config):
    # GIVEN an open bill
    bill = make_bill()
    # WHEN rendered in English
    page = render_bill_page(bill, config=demo_config, locale="en", token="tok.en")
    # THEN each line has its fee item name, basis and amount; the total and a Pay form
    assert "Property service fee" in page and "89.37 m² × ¥2.80/m²" in page and "¥250.24" in page
    assert "¥10.00 per unit" in page
    assert "¥327.27" in page
    assert "March 2026" in page and "15 March 2026" in page
    assert 'method="post" action="/pay/tok.en/checkout"' in page
    assert "SH-2026-01" in page


def test_bill_page_in_chinese(demo_config):
    page = render_bill_page(make_bill(), config=demo_config, locale="zh-CN", token="t.k")
    assert "物业服务费" in page and "2026年3月" in page and "2026年3月15日" in page and "在线支付" in page
    assert 'lang="zh-CN"' in page


def test_paid_bill_page_has_receipt_and_no_pay_form(demo_config):
    bill = replace(
        make_bill(),
        status="paid",
        paid_minor=32727,
        paid_at=datetime(2026, 3, 2, 17, 0, tzinfo=UTC),  # 3 March in Shanghai
        receipt_no="DEMO-2026-000007",
        payment_id="stripe:pi_1",
    )
    page = render_bill_page(bill, config=demo_config, locale="en", token="t.k")
    assert "DEMO-2026-000007" in page and "Paid" in page and "3 March 2026" in page
    assert "<form" not in page


def test_every_data_value_is_escaped(evil_config):
    # GIVEN configuration and data that carry markup
    bill = replace(make_bill(), unit_id=EVIL)
    token = '"><img src=x onerror=alert(1)>'
    # WHEN the pages are rendered
    pages = [
        render_bill_page(bill, config=evil_config, locale="en", token=token),
        render_return_page(bill, config=evil_config, locale="en", token=token),
    ]
    # THEN no markup from the data reaches the page unescaped
    for page in pages:
        assert "<script>" not in page
        assert "<img" not in page
        assert 'onerror=alert(1)>"' not in page
    assert "&lt;script&gt;" in pages[0]


def test_not_found_page_is_identical_and_says_nothing(demo_config):
    assert render_not_found("en") == render_not_found("en")
    page = render_not_found("en")
    assert "not valid" in page and "¥" not in page and "A-" not in page


def test_error_page_in_both_locales():
    assert "无法处理请求" in render_error("zh-CN")
    assert "Request not accepted" in render_error("en")


def test_return_page_processing_vs_paid(demo_config):
    open_page = render_return_page(make_bill(), config=demo_config, locale="en", token="t.k")
    paid = replace(make_bill(), status="paid", receipt_no="DEMO-2026-000001")
    paid_page = render_return_page(paid, config=demo_config, locale="en", token="t.k")
    assert "being confirmed" in open_page and "DEMO-2026" not in open_page
    assert "confirmed" in paid_page and "DEMO-2026-000001" in paid_page


@pytest.mark.parametrize(
    ("requested", "owner", "default", "expected"),
    [
        ("en", "zh-CN", "zh-CN", "en"),
        (None, "en", "zh-CN", "en"),
        ("fr", "en", "zh-CN", "en"),
        (None, None, "en", "en"),
        ("<x>", None, "zh-CN", "zh-CN"),
    ],
)
def test_locale_choice(requested, owner, default, expected):
    assert choose_locale(requested, owner, default) == expected
