"""Rendering the owner's pay pages: content, locales, and escaping of every data value."""

import re
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


def _all_pages(config, locale, bill=None, token="t.k"):
    bill = bill or make_bill()
    paid = replace(
        bill,
        status="paid",
        paid_minor=bill.total_minor,
        paid_at=datetime(2026, 3, 2, 17, 0, tzinfo=UTC),
        receipt_no="DEMO-2026-000007",
        payment_id="stripe:pi_1",
    )
    return {
        "bill": render_bill_page(bill, config=config, locale=locale, token=token),
        "bill_unavailable": render_bill_page(
            bill, config=config, locale=locale, token=token, notice="unavailable_body"
        ),
        "paid": render_bill_page(paid, config=config, locale=locale, token=token),
        "return": render_return_page(bill, config=config, locale=locale, token=token),
        "return_paid": render_return_page(paid, config=config, locale=locale, token=token),
        "not_found": render_not_found(locale),
        "error": render_error(locale),
        "error_unavailable": render_error(locale, message_key="unavailable_body"),
    }


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_page_renders_complete_and_without_scripts(demo_config, locale):
    # GIVEN every page in one locale
    for name, page in _all_pages(demo_config, locale).items():
        # THEN it is one whole document in that language, with every label filled in
        assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>"), name
        assert f'<html lang="{locale}">' in page, name
        assert not re.search(r"\{\w*\}", page), name
        assert not re.search(r"\bpage\.\w", page) and "None" not in page, name
        # AND nothing its Content-Security-Policy would block: no scripts, no outside resources
        assert "<script" not in page.lower() and "javascript:" not in page.lower(), name
        assert not re.search(r"\son\w+\s*=", page), name
        assert "<link" not in page and " src=" not in page, name
        assert page.count("<style>") == 1, name


def test_pages_in_chinese_have_no_english_labels_and_back(demo_config):
    zh = _all_pages(demo_config, "zh-CN")
    en = _all_pages(demo_config, "en")
    for page in zh.values():
        assert "Property management fee bill" not in page and "Total due" not in page
        assert "Link not valid" not in page and "Thank you" not in page
    for page in en.values():
        assert not any(
            word in page for word in ("物业管理费账单", "应缴合计", "链接无效", "感谢您的缴费", "待缴费")
        )


def test_language_switch_points_to_the_other_language_in_its_own_words(demo_config):
    zh = render_bill_page(make_bill(), config=demo_config, locale="zh-CN", token="t.k")
    en = render_return_page(make_bill(), config=demo_config, locale="en", token="t.k")
    assert '<a href="/pay/t.k?lang=en" hreflang="en">English</a>' in zh
    assert '<a href="/pay/t.k/return?lang=zh-CN" hreflang="zh-CN">中文</a>' in en


def test_other_ways_to_pay_are_on_the_bill(demo_config):
    page = render_bill_page(make_bill(), config=demo_config, locale="zh-CN", token="t.k")
    for expected in (
        "其他缴费方式",
        "物业服务中心（1号楼一层）",
        "每天 8:30-18:00",
        "中国工商银行上海锦绣支行",
        "上海锦绣物业服务有限公司",
        "1001 2345 6789 0123 456",
    ):
        assert expected in page, expected
    data = demo_config.model_dump(by_alias=True, mode="json")
    data["payment"]["bank_account"] = None
    without_bank = render_bill_page(
        make_bill(), config=PropertyConfig.model_validate(data), locale="en", token="t.k"
    )
    assert "Front desk" in without_bank and "Bank transfer" not in without_bank


def test_ampersands_and_markup_in_data_are_escaped_on_every_page(evil_config):
    # GIVEN a unit id with markup and an ampersand, and a token that tries to break out of an attribute
    bill = replace(make_bill(), unit_id="A-1<script>&")
    for name, page in _all_pages(evil_config, "en", bill=bill, token='a"b&<c>').items():
        assert "<script>" not in page, name
        assert 'a"b' not in page and "&<c>" not in page, name
        if name in ("bill", "paid", "return", "return_paid"):
            assert "A-1&lt;script&gt;&amp;" in page, name
            assert "/pay/a%22b%26%3Cc%3E" in page, name


def test_not_found_page_depends_on_the_language_alone(demo_config):
    # The handler renders it for every refused link; nothing about the link can reach it.
    for locale in ("zh-CN", "en"):
        first = render_not_found(locale)
        assert first == render_not_found(locale)
        assert "A-101" not in first and "¥" not in first and "/pay/" not in first
    assert render_not_found("fr") == render_not_found("zh-CN")
