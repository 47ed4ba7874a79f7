"""Rendering the owner's pay pages: the account, the return from Checkout, the refusals;
content, locales, and escaping of every data value."""

import re
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from propdesk.config import PropertyConfig
from propdesk.domain.accounts import Allocation
from propdesk.domain.units import Owner
from propdesk.services.accounts import AccountView
from propdesk.store.accounts import Account
from propdesk.store.payments import PaymentRecord
from propdesk.web.pages import (
    choose_locale,
    render_account_page,
    render_error,
    render_not_found,
    render_renew_sent,
    render_return_page,
)
from tests.paytools import make_bill

EVIL = '<script>alert("x")</script>'
TODAY = date(2026, 3, 20)  # March bills (due the 15th) are overdue
PAID_AT = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 3 March in Shanghai
OWNER = Owner("O0001", "Anna Liu", "+8613800138000", "anna@example.com", "en", True)


@pytest.fixture
def evil_config(demo_config):
    data = demo_config.model_dump(by_alias=True, mode="json")
    data["name"]["en"] = EVIL
    data["fee_standard"]["items"][0]["name"]["en"] = EVIL
    data["payment"]["front_desk"]["place"]["en"] = EVIL
    data["payment"]["bank_account"]["account_name"] = EVIL
    return PropertyConfig.model_validate(data)


def payment(amount=32727, *, receipt="DEMO-2026-000007", credit=0, **changes) -> PaymentRecord:
    base = PaymentRecord(
        payment_id="stripe:pi_1", unit_id="A-101", provider="stripe", method="wechat_pay", channel="online",
        amount_minor=amount, currency="CNY", status="allocated", received_at=PAID_AT, paid_at=PAID_AT,
        allocations=(Allocation("A-101#2026-02", amount - credit),), credit_minor=credit, receipt_no=receipt,
    )  # fmt: skip
    return replace(base, **changes)


def view(*bills, payments=(), credit=0, unit_id="A-101", owner=OWNER, sessions=()) -> AccountView:
    account = Account(
        unit_id, "O0001", "CNY", credit, tuple(b.bill_id for b in bills), open_sessions=sessions, version=3
    )
    return AccountView(
        unit_id=unit_id,
        currency="CNY",
        credit_minor=credit,
        open_bills=tuple(bills),
        payments=tuple(payments),
        owner_id="O0001",
        owner=owner,
        account=account,
    )


def page(v, config, locale="en", token="tok.en", **kwargs):
    return render_account_page(v, config=config, locale=locale, token=token, today=TODAY, **kwargs)


def test_the_account_shows_what_is_owed_and_one_pay_button_for_all_of_it_first(stripe_config):
    # GIVEN an account with two open bills, one partly paid (a property that offers Stripe first)
    march = make_bill(period="2026-03")
    april = replace(make_bill(period="2026-04"), paid_minor=10000)
    html = page(view(march, april), stripe_config)
    # THEN the amount due and the Pay-all button come before any bill
    owed = march.total_minor + april.total_minor - 10000
    assert f"Pay all: ¥{owed / 100:,.2f}" in html
    assert html.index('id="pay"') < html.index("March 2026")
    assert 'name="bill" value="all"' in html and 'action="/pay/tok.en/checkout"' in html
    # AND each bill has its items, its own Pay button and what is left on it
    assert "Property service fee" in html and "89.37 m² × ¥2.80/m²" in html and "¥10.00 per unit" in html
    assert 'name="bill" value="A-101#2026-03"' in html and 'name="bill" value="A-101#2026-04"' in html
    assert "Left to pay" in html and f"¥{(april.total_minor - 10000) / 100:,.2f}" in html
    assert "Overdue" in html  # March was due on the 15th
    assert "SH-2026-01" in html
    assert "Anna Liu" not in html  # nothing personal: whoever holds the link sees the page


def test_one_open_bill_has_one_pay_button_per_rail(demo_config, stripe_config):
    stripe_only = demo_config.model_copy(
        update={"payment": demo_config.payment.model_copy(update={"rails": ("stripe",)})}
    )
    html = page(view(make_bill()), stripe_only)
    assert html.count('name="bill"') == 1 and "Pay all: ¥327.27" in html
    html = page(view(make_bill()), stripe_config)  # Stripe, WeChat Pay and Alipay
    assert html.count('name="bill" value="all"') == len(stripe_config.payment.rails) == 3
    assert html.count('id="pay"') == 1
    assert 'name="rail" value="wechat_pay"' in html and 'name="rail" value="alipay"' in html
    # The Shanghai demo offers its own market's rails only: no card checkout at all.
    html = page(view(make_bill()), demo_config, locale="zh-CN")
    assert html.count('name="bill" value="all"') == 2 and "/checkout" not in html
    assert "微信支付：¥327.27" in html and "支付宝：¥327.27" in html


def test_an_owner_who_owes_can_book_a_home_visit_and_then_sees_it(demo_config):
    from propdesk.services.visits import Visit

    days = [date(2026, 3, 21), date(2026, 3, 22)]
    html = page(view(make_bill()), demo_config, visit_days=days)
    assert 'action="/pay/tok.en/visits"' in html and "Home collection" in html
    assert '<option value="2026-03-21">21 March 2026</option>' in html
    assert '<option value="09:00-11:00">09:00-11:00</option>' in html
    booked = Visit(
        "A-101_2026-03-21_0900", "A-101", days[0], "09:00-11:00", "booked", "owner", None, None, PAID_AT
    )
    shown = page(replace(view(make_bill()), visit=booked), demo_config, visit_days=days)
    assert "A collector will come on 21 March 2026, 09:00-11:00." in shown and "/visits" not in shown
    settled = page(view(payments=[payment()]), demo_config, visit_days=days)
    assert "Home collection" not in settled


def test_a_settled_account_says_so_and_offers_no_way_to_pay(demo_config):
    html = page(view(payments=[payment()]), demo_config)
    assert "Nothing to pay: your account is settled" in html
    assert 'name="bill"' not in html and "Other ways to pay" not in html and "Bank transfer" not in html
    # (the forms left ask for a tax invoice for the payment, and enrol in direct debit for the
    # bills to come)
    assert html.count("<form") == 2 and 'action="/pay/tok.en/payments/stripe%3Api_1/invoice"' in html
    assert 'action="/pay/tok.en/debit"' in html
    assert "DEMO-2026-000007" in html and "WeChat Pay" in html and "3 March 2026" in html
    assert "/pay/tok.en/payments/stripe%3Api_1/receipt?lang=en" in html


def test_a_payment_s_tax_invoice_is_asked_for_once_and_then_shown(demo_config):
    asked = page(view(payments=[payment(invoice_state="requested", invoice_title="Anna Liu")]), demo_config)
    issued = page(view(payments=[payment(invoice_state="issued", invoice_no="3100 0042")]), demo_config)
    assert "Tax invoice asked for" in asked and "/invoice" not in asked
    assert "Tax invoice 3100 0042" in issued and "/invoice" not in issued
    voided = page(view(payments=[payment(status="voided")]), demo_config)
    assert "/invoice" not in voided


def test_credit_voids_refunds_and_payments_under_review_are_told(demo_config):
    payments = [
        payment(receipt="DEMO-2026-000009", credit=5000, payment_id="stripe:pi_9"),
        payment(receipt="DEMO-2026-000008", status="voided", payment_id="desk:a"),
        payment(receipt="DEMO-2026-000007", review_state="open", payment_id="stripe:pi_7"),
    ]
    html = page(view(payments=payments, credit=5000), demo_config)
    assert "Credit on your account" in html and "¥50.00" in html and "pays your next bill first" in html
    assert (
        "¥50.00 kept as credit" in html and "Void" in html and "Being checked by the property office" in html
    )


def test_the_account_page_in_chinese(demo_config):
    html = page(view(make_bill()), demo_config, locale="zh-CN")
    assert (
        "物业服务费" in html
        and "2026年3月" in html
        and "2026年3月15日" in html
        and "微信支付：¥327.27" in html
    )
    assert 'lang="zh-CN"' in html and "已逾期" in html


def test_every_data_value_is_escaped(evil_config):
    # GIVEN configuration and data that carry markup
    bill = replace(make_bill(), unit_id=EVIL)
    token = '"><img src=x onerror=alert(1)>'
    evil_owner = replace(OWNER, name=EVIL)
    pages = [
        page(view(bill, unit_id=EVIL, owner=evil_owner), evil_config, token=token),
        render_return_page(
            view(bill, unit_id=EVIL), config=evil_config, locale="en", token=token, confirmed=False
        ),
    ]
    # THEN no markup from the data reaches the page unescaped
    for html in pages:
        assert "<script>" not in html
        assert "<img" not in html
        assert 'onerror=alert(1)>"' not in html
    assert "&lt;script&gt;" in pages[0]


def test_not_found_page_is_identical_and_says_nothing(demo_config):
    assert render_not_found("en") == render_not_found("en")
    page = render_not_found("en")
    assert "not valid" in page and "¥" not in page and "A-" not in page


def test_error_page_in_both_locales():
    assert "无法处理请求" in render_error("zh-CN")
    assert "Request not accepted" in render_error("en")


def test_return_page_processing_vs_confirmed(demo_config):
    waiting = render_return_page(
        view(make_bill()), config=demo_config, locale="en", token="t.k", confirmed=False
    )
    done = render_return_page(
        view(payments=[payment(receipt="DEMO-2026-000001")]),
        config=demo_config,
        locale="en",
        token="t.k",
        confirmed=True,
    )
    assert "being confirmed" in waiting and "DEMO-2026" not in waiting
    assert "confirmed" in done and "DEMO-2026-000001" in done


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
    open_view = view(bill, unit_id=bill.unit_id)
    settled = view(payments=[payment()], unit_id=bill.unit_id)
    return {
        "account": page(open_view, config, locale, token),
        "account_unavailable": page(open_view, config, locale, token, notice="unavailable_body"),
        "account_nothing_owed": page(settled, config, locale, token, notice="nothing_owed"),
        "settled": page(settled, config, locale, token),
        "return": render_return_page(open_view, config=config, locale=locale, token=token, confirmed=False),
        "return_paid": render_return_page(settled, config=config, locale=locale, token=token, confirmed=True),
        "not_found": render_not_found(locale, config),
        "renew_sent": render_renew_sent(locale, config),
        "error": render_error(locale),
        "error_unavailable": render_error(locale, message_key="unavailable_body"),
    }


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_page_renders_complete_and_without_scripts(demo_config, locale):
    # GIVEN every page in one locale
    for name, html in _all_pages(demo_config, locale).items():
        # THEN it is one whole document in that language, with every label filled in
        assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>"), name
        assert f'<html lang="{locale}">' in html, name
        assert not re.search(r"\{\w*\}", html), name
        assert not re.search(r"\bpage\.\w", html) and "None" not in html, name
        # AND nothing its Content-Security-Policy would block: no scripts, no outside resources
        assert "<script" not in html.lower() and "javascript:" not in html.lower(), name
        assert not re.search(r"\son\w+\s*=", html), name
        assert "<link" not in html and " src=" not in html, name
        assert html.count("<style>") == 1, name


def test_pages_in_chinese_have_no_english_labels_and_back(demo_config):
    bilingual = ("not_found", "renew_sent")  # the pages for people without a valid link
    zh = {k: v for k, v in _all_pages(demo_config, "zh-CN").items() if k not in bilingual}
    en = {k: v for k, v in _all_pages(demo_config, "en").items() if k not in bilingual}
    for html in zh.values():
        assert "Property fee account" not in html and "Amount due" not in html
        assert "Link not valid" not in html and "Thank you" not in html
    for html in en.values():
        assert not any(
            word in html for word in ("物业费账户", "应缴金额", "链接无效", "感谢您的缴费", "未缴账单")
        )


def test_language_switch_points_to_the_other_language_in_its_own_words(demo_config):
    zh = page(view(make_bill()), demo_config, "zh-CN", "t.k")
    en = render_return_page(view(make_bill()), config=demo_config, locale="en", token="t.k", confirmed=False)
    assert '<a href="/pay/t.k?lang=en" hreflang="en">English</a>' in zh
    assert '<a href="/pay/t.k/return?lang=zh-CN" hreflang="zh-CN">中文</a>' in en


def test_other_ways_to_pay_are_on_an_account_that_owes(demo_config):
    html = page(view(make_bill()), demo_config, "zh-CN")
    for expected in (
        "其他缴费方式",
        "物业服务中心（1号楼一层）",
        "每天 8:30-18:00",
        "中国工商银行上海锦绣支行",
        "上海锦绣物业服务有限公司",
        "1001 2345 6789 0123 456",
    ):
        assert expected in html, expected
    data = demo_config.model_dump(by_alias=True, mode="json")
    data["payment"]["bank_account"] = None
    without_bank = page(view(make_bill()), PropertyConfig.model_validate(data))
    assert "Front desk" in without_bank and "Bank transfer" not in without_bank


def test_ampersands_and_markup_in_data_are_escaped_on_every_page(evil_config):
    # GIVEN a unit id with markup and an ampersand, and a token that tries to break out of an attribute
    bill = replace(make_bill(), unit_id="A-1<script>&")
    for name, html in _all_pages(evil_config, "en", bill=bill, token='a"b&<c>').items():
        assert "<script>" not in html, name
        assert 'a"b' not in html and "&<c>" not in html, name
        if name in ("account", "settled", "return", "return_paid"):
            assert "A-1&lt;script&gt;&amp;" in html, name
            assert "/pay/a%22b%26%3Cc%3E" in html, name


def test_not_found_page_depends_on_the_language_alone(demo_config):
    # The handler renders it for every refused link; nothing about the link can reach it.
    for locale in ("zh-CN", "en"):
        first = render_not_found(locale, demo_config)
        assert first == render_not_found(locale, demo_config)
        assert "A-101" not in first and "¥" not in first
        assert re.findall(r"/pay/[^\"?]*", first) == ["/pay/renew"]  # the form's, and no link's
    assert render_not_found("fr", demo_config) == render_not_found("zh-CN", demo_config)


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_the_invalid_link_page_speaks_both_languages_gives_the_phone_and_offers_a_fresh_link(
    demo_config, locale
):
    html = render_not_found(locale, demo_config)
    assert "链接无效" in html and "Link not valid" in html
    assert "物业服务中心电话：021-5432 1088" in html and "Property service centre: 021-5432 1088" in html
    assert '<form method="post" action="/pay/renew">' in html
    assert 'name="unit"' in html and 'name="contact"' in html
    first_title = "链接无效" if locale == "zh-CN" else "Link not valid"
    other_title = "Link not valid" if locale == "zh-CN" else "链接无效"
    assert html.index(first_title) < html.index(other_title)  # the asked-for language first
    sent = render_renew_sent(locale, demo_config)
    assert "已收到申请" in sent and "Request received" in sent and "If the unit and the contact" in sent
