"""Templates in zh-CN and en carry what F2/F5 require, formatted from integers."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pytest

from propdesk.messaging.templates import TEMPLATE_NAMES, TemplateError, render
from propdesk.rendering import catalog

NOTICE = {
    "bill_id": "A-101#2026-07",
    "unit_id": "A-101",
    "period": "2026-07",
    "lines": [
        {"code": "service", "amount_minor": 25024},
        {"code": "common_energy", "amount_minor": 2681},
        {"code": "elevator", "amount_minor": 4022},
        {"code": "waste", "amount_minor": 1000},
    ],
    "total_minor": 32727,
    "currency": "CNY",
    "due_date": "2026-07-15",
    "pay_url": "https://pay.example.test/pay/tok.sig",
    "fee_standard_version": "SH-2026-01",
}


def test_bill_notice_in_chinese_has_every_f2_element(demo_config):
    rendered = render(
        "bill_notice", locale="zh-CN", context=NOTICE, recipient_name="吴娜", config=demo_config
    )
    for expected in (
        "A-101",
        "吴娜",
        "2026年7月",
        "物业服务费",
        "¥250.24",
        "电梯运行维护费",
        "¥40.22",
        "¥327.27",
        "2026年7月15日",
        "https://pay.example.test/pay/tok.sig",
        "物业服务中心（1号楼一层）",
        "每天 8:30-18:00",
        "中国工商银行上海锦绣支行",
        "1001 2345 6789 0123 456",
        "SH-2026-01",
    ):
        assert expected in rendered.text, expected
    assert "¥327.27" in rendered.html and 'href="https://pay.example.test/pay/tok.sig"' in rendered.html
    assert "A-101" in rendered.subject
    assert "¥327.27" in rendered.sms and "pay/tok.sig" in rendered.sms


def test_bill_notice_in_english(demo_config):
    rendered = render(
        "bill_notice", locale="en", context=NOTICE, recipient_name="Anna Liu", config=demo_config
    )
    for expected in (
        "Dear Anna Liu",
        "July 2026",
        "Property service fee: ¥250.24",
        "Total: ¥327.27",
        "15 July 2026",
        "Property service centre, ground floor of Building 1",
        "ICBC Shanghai Jinxiu sub-branch",
    ):
        assert expected in rendered.text, expected
    assert "物业服务费" not in rendered.text and "缴费" not in rendered.text


def test_html_escapes_values(demo_config):
    rendered = render(
        "bill_notice", locale="en", context=NOTICE, recipient_name="<b>x</b>", config=demo_config
    )
    assert "<b>x</b>" not in rendered.html
    assert "&lt;b&gt;x&lt;/b&gt;" in rendered.html


def test_receipt_shows_the_paid_time_in_the_property_time_zone(demo_config):
    context = {
        "receipt_no": "R-000042",
        "bill_id": "A-101#2026-07",
        "unit_id": "A-101",
        "period": "2026-07",
        "amount_minor": 32727,
        "currency": "CNY",
        "paid_at": "2026-07-03T16:30:00Z",
        "method": "wechat_pay",
        "bills": [{"bill_id": "A-101#2026-07", "period": "2026-07", "amount_minor": 32727}],
        "credit_minor": 0,
    }
    zh = render("payment_receipt", locale="zh-CN", context=context, recipient_name="吴娜", config=demo_config)
    en = render("payment_receipt", locale="en", context=context, recipient_name="Anna", config=demo_config)
    # 16:30 UTC is 00:30 the next day in Shanghai
    assert "2026-07-04 00:30" in zh.text
    assert "R-000042" in zh.text and "¥327.27" in zh.text and "2026年7月" in zh.text
    assert "Receipt no.: R-000042" in en.text and "2026-07-04 00:30" in en.text
    assert "R-000042" in zh.sms
    assert "微信支付" in zh.text and "2026年7月物业费: ¥327.27" in zh.text


def test_a_receipt_for_money_kept_as_credit_says_so(demo_config):
    context = {**RECEIPT, "bills": [], "credit_minor": 32727}
    zh = render("payment_receipt", locale="zh-CN", context=context, recipient_name="吴娜", config=demo_config)
    en = render("payment_receipt", locale="en", context=context, recipient_name="Anna", config=demo_config)
    assert "已缴清" in zh.text and "预存款" in zh.sms and "Property fee" not in en.text
    assert "already been paid" in en.text and "Kept as account credit: ¥327.27" in en.text
    part = {**RECEIPT, "credit_minor": 500, "amount_minor": 33227}
    en = render("payment_receipt", locale="en", context=part, recipient_name="Anna", config=demo_config)
    assert "Property fee 2026-07" in en.text or "Property fee Jul" in en.text
    assert "more than the bills owed" in en.text


def test_overdue_reminder_is_friendly_and_has_the_amount(demo_config):
    context = {
        k: NOTICE[k]
        for k in ("bill_id", "unit_id", "period", "total_minor", "currency", "due_date", "pay_url")
    }
    zh = render(
        "overdue_reminder", locale="zh-CN", context=context, recipient_name="吴娜", config=demo_config
    )
    assert "温馨提醒" in zh.subject
    assert "¥327.27" in zh.text and "如您已缴纳，请忽略" in zh.text and "pay/tok.sig" in zh.text


def test_pre_due_reminder_says_when_it_is_due_and_names_the_desk_once(demo_config):
    zh = render(
        "pre_due_reminder", locale="zh-CN", context=REMINDER, recipient_name="吴娜", config=demo_config
    )
    en = render("pre_due_reminder", locale="en", context=REMINDER, recipient_name="Anna", config=demo_config)
    assert "将于 2026年7月15日 到期" in zh.subject and "¥327.27" in zh.text and "pay/tok.sig" in zh.sms
    assert "is due on 15 July 2026" in en.subject and "¥327.27" in en.text
    # the front desk's place is not named inside a sentence that names it again (both reminders)
    for template in ("pre_due_reminder", "overdue_reminder"):
        for locale in ("zh-CN", "en"):
            text = render(
                template, locale=locale, context=REMINDER, recipient_name="Anna", config=demo_config
            ).text
            assert "物业服务中心（物业服务中心" not in text
            assert "property service centre (Property service centre" not in text


def test_work_order_for_a_department(demo_config):
    context = {
        "ticket_id": "T-abc",
        "kind": "repair",
        "category": "water",
        "unit_id": "A-101",
        "summary": "Kitchen pipe leaking",
        "emergency": True,
        "priority": "urgent",
        "dispatched_at": "2026-07-03T01:00:00+00:00",
        "due_at": "2026-07-03T03:00:00+00:00",
        "department": "engineering",
    }
    rendered = render(
        "work_order", locale="zh-CN", context=context, recipient_name="工程部", config=demo_config
    )
    assert rendered.subject.startswith("【紧急】")
    assert "T-abc" in rendered.text and "Kitchen pipe leaking" in rendered.text
    assert "2026-07-03 11:00" in rendered.text  # due time in Shanghai


@pytest.mark.parametrize("missing", ["total_minor", "lines", "pay_url", "due_date"])
def test_incomplete_context_is_a_template_error(demo_config, missing):
    context = {k: v for k, v in NOTICE.items() if k != missing}
    with pytest.raises(TemplateError):
        render("bill_notice", locale="en", context=context, recipient_name="x", config=demo_config)


def test_unknown_template(demo_config):
    with pytest.raises(TemplateError):
        render("spam", locale="en", context={}, recipient_name="x", config=demo_config)


RECEIPT = {
    "receipt_no": "R-000042",
    "bill_id": "A-101#2026-07",
    "unit_id": "A-101",
    "period": "2026-07",
    "amount_minor": 32727,
    "currency": "CNY",
    "paid_at": "2026-07-03T16:30:00Z",
    "method": "card",
    "bills": [{"bill_id": "A-101#2026-07", "period": "2026-07", "amount_minor": 32727}],
    "credit_minor": 0,
}
REMINDER = {
    k: NOTICE[k] for k in ("bill_id", "unit_id", "period", "total_minor", "currency", "due_date", "pay_url")
}
WORK_ORDER = {
    "ticket_id": "T-abc",
    "kind": "repair",
    "category": "water",
    "unit_id": "A-101",
    "summary": "Kitchen pipe leaking",
    "emergency": True,
    "priority": "urgent",
    "dispatched_at": "2026-07-03T01:00:00+00:00",
    "due_at": "2026-07-03T03:00:00+00:00",
    "department": "engineering",
}
PAY_LINK = {"unit_id": "A-101", "pay_url": "https://pay.example.com/pay/tok.sig"}
REFUNDED = {
    "payment_id": "stripe:pi_1",
    "receipt_no": "DEMO-2026-000042",
    "unit_id": "A-101",
    "amount_minor": 32727,
    "refunded_minor": 32727,
    "currency": "CNY",
    "disputed": False,
    "at_desk": False,
    "reopened": [{"bill_id": "A-101#2026-07", "period": "2026-07", "owed_minor": 32727}],
}
FAILED = {
    "unit_id": "A-101",
    "amount_minor": 32727,
    "currency": "CNY",
    "bills": [{"bill_id": "A-101#2026-07", "period": "2026-07"}],
    "pay_url": "https://pay.example.test/pay/tok.sig",
}
AUTOPAY_NOTICE = {
    "unit_id": "A-101",
    "amount_minor": 32727,
    "currency": "CNY",
    "card": "Visa •••• 4242",
    "due_date": "2026-07-15",
    "bills": [{"bill_id": "A-101#2026-07", "period": "2026-07"}],
    "pay_url": "https://pay.example.test/pay/tok.sig",
}
VOIDED = {
    "bill_id": "A-101#2026-07",
    "unit_id": "A-101",
    "period": "2026-07",
    "total_minor": 32727,
    "currency": "CNY",
    "reason": "Wrong area for building 1",
}
STANDARD_PUBLISHED = {
    "unit_id": "A-101",
    "version": "SH-2027-01",
    "effective_from": "2027-03-01",
    "page_url": "https://pay.example.test/standards/SH-2027-01",
}
CONTEXTS = {
    "bill_voided": VOIDED,
    "standard_published": STANDARD_PUBLISHED,
    "autopay_notice": AUTOPAY_NOTICE,
    "payment_refunded": REFUNDED,
    "payment_failed": FAILED,
    "bill_notice": NOTICE,
    "payment_receipt": RECEIPT,
    "overdue_reminder": REMINDER,
    "pre_due_reminder": REMINDER,
    "work_order": WORK_ORDER,
    "pay_link": PAY_LINK,
}
# What each template cannot do without; the rest of its context is optional.
REQUIRED = {
    "bill_voided": ("unit_id", "period", "total_minor", "currency", "reason"),
    "standard_published": ("unit_id", "version", "effective_from", "page_url"),
    "payment_refunded": ("receipt_no", "unit_id", "amount_minor", "currency", "disputed", "reopened"),
    "payment_failed": ("unit_id", "amount_minor", "currency", "bills"),
    "pay_link": ("unit_id", "pay_url"),
    "autopay_notice": ("unit_id", "amount_minor", "currency", "card", "due_date", "bills"),
    "bill_notice": ("unit_id", "period", "lines", "total_minor", "currency", "due_date", "pay_url"),
    "payment_receipt": ("receipt_no", "unit_id", "amount_minor", "currency", "paid_at", "method", "bills"),
    "overdue_reminder": ("unit_id", "period", "total_minor", "currency", "due_date"),
    "pre_due_reminder": ("unit_id", "period", "total_minor", "currency", "due_date"),
    "work_order": ("ticket_id", "kind", "category", "summary", "dispatched_at", "due_at"),
}
EVIL_NAME = "<script>alert(1)</script> Wu & Sons"
EVIL_UNIT = "A-1<b>01&"


def test_every_template_has_required_keys_listed():
    assert set(CONTEXTS) == set(TEMPLATE_NAMES) == set(REQUIRED)


def _fixed_labels(locale):
    """The catalog's sentences without placeholders: words that only this locale uses."""

    def walk(section):
        for value in section.values():
            if isinstance(value, Mapping):
                yield from walk(value)
            elif "{" not in value:
                yield value.strip()

    return set(walk(catalog(locale)))


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_template_renders_in_both_locales_with_nothing_left_untranslated(demo_config, template, locale):
    # GIVEN a complete context
    other = "en" if locale == "zh-CN" else "zh-CN"
    foreign = _fixed_labels(other) - _fixed_labels(locale) - {"English", "中文"}
    # WHEN rendered
    rendered = render(
        template, locale=locale, context=CONTEXTS[template], recipient_name="Anna", config=demo_config
    )
    # THEN every part is filled in, in the locale asked for
    for part in ("subject", "text", "html", "sms"):
        value = getattr(rendered, part)
        assert value.strip(), part
        assert not re.search(r"\{\w*\}", value), f"{part}: placeholder left: {value}"
        assert not re.search(
            r"\b(page|message|bill_notice|payment_receipt|overdue_reminder|pre_due_reminder|work_order|payment_refunded"
            r"|payment_failed|payment_surplus)\.\w",
            value,
        )
        assert "None" not in value and "Undefined" not in value, part
        leaked = [label for label in foreign if len(label) > 2 and label in value]
        assert leaked == [], f"{part} in {locale} shows {other} labels: {leaked}"
    for part in ("subject", "text", "sms"):
        assert not re.search(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-f]+);", getattr(rendered, part)), part
    assert "\n" not in rendered.subject and "\n" not in rendered.sms
    assert rendered.html.startswith("<!doctype html>") and f'lang="{locale}"' in rendered.html
    assert f"<title>{rendered.subject}</title>" in rendered.html


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_data_is_escaped_in_html_and_verbatim_in_text_and_sms(demo_config, template, locale):
    # GIVEN an owner name and a unit id that carry markup and ampersands
    context = {**CONTEXTS[template], "unit_id": EVIL_UNIT}
    # WHEN rendered
    rendered = render(template, locale=locale, context=context, recipient_name=EVIL_NAME, config=demo_config)
    # THEN the HTML part shows them escaped, never as markup
    assert "<script>" not in rendered.html and "<b>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Wu &amp; Sons" in rendered.html
    assert "A-1&lt;b&gt;01&amp;" in rendered.html
    # AND the plain-text parts carry the characters themselves
    assert EVIL_NAME in rendered.text and EVIL_UNIT in rendered.text
    assert EVIL_UNIT in rendered.sms
    if template in ("bill_notice", "overdue_reminder", "pre_due_reminder"):
        assert EVIL_UNIT in rendered.subject
    for part in (rendered.text, rendered.sms, rendered.subject):
        assert "&lt;" not in part and "&amp;" not in part


def test_configured_names_are_escaped_in_html_too(demo_config):
    from propdesk.config import PropertyConfig

    data = demo_config.model_dump(by_alias=True, mode="json")
    data["name"]["en"] = "<i>Garden</i> & Co"
    data["fee_standard"]["items"][0]["name"]["en"] = "Service <fee>"
    data["payment"]["bank_account"]["account_name"] = "<Acme & Co>"
    config = PropertyConfig.model_validate(data)
    rendered = render("bill_notice", locale="en", context=NOTICE, recipient_name="Anna", config=config)
    assert "<i>" not in rendered.html and "<fee>" not in rendered.html and "<Acme" not in rendered.html
    assert "&lt;i&gt;Garden&lt;/i&gt; &amp; Co" in rendered.html and "Service &lt;fee&gt;" in rendered.html
    assert "Service <fee>: ¥250.24" in rendered.text and "<Acme & Co>" in rendered.text
    assert rendered.subject.startswith("<i>Garden</i> & Co:") and rendered.sms.startswith(
        "<i>Garden</i> & Co:"
    )


@pytest.mark.parametrize(("template", "missing"), [(t, key) for t, keys in REQUIRED.items() for key in keys])
def test_a_missing_context_key_is_a_template_error(demo_config, template, missing):
    context = {k: v for k, v in CONTEXTS[template].items() if k != missing}
    with pytest.raises(TemplateError, match=template):
        render(template, locale="zh-CN", context=context, recipient_name="x", config=demo_config)


@pytest.mark.parametrize(
    ("template", "change"),
    [
        ("bill_notice", {"total_minor": 327.27}),  # amounts are integer minor units, never floats
        ("bill_notice", {"total_minor": "32727"}),
        ("bill_notice", {"lines": [{"code": "service"}]}),
        ("bill_notice", {"period": "2026-7"}),
        ("bill_notice", {"currency": "XXX"}),
        ("bill_notice", {"due_date": "15/07/2026"}),
        ("payment_receipt", {"paid_at": "2026-07-03T16:30:00"}),  # no time zone
        ("work_order", {"due_at": "soon"}),
    ],
)
def test_a_malformed_context_value_is_a_template_error(demo_config, template, change):
    with pytest.raises(TemplateError):
        render(
            template,
            locale="en",
            context={**CONTEXTS[template], **change},
            recipient_name="x",
            config=demo_config,
        )


def test_optional_values_may_be_left_out(demo_config):
    reminder = {k: v for k, v in REMINDER.items() if k != "pay_url"}
    zh = render(
        "overdue_reminder", locale="zh-CN", context=reminder, recipient_name="吴娜", config=demo_config
    )
    assert "在线缴费" not in zh.text and "<a " not in zh.html and "缴费：" not in zh.sms
    order = {k: v for k, v in WORK_ORDER.items() if k not in ("unit_id", "emergency", "priority")}
    en = render(
        "work_order",
        locale="en",
        context={**order, "kind": "other"},
        recipient_name="Eng",
        config=demo_config,
    )
    assert "Unit: (none)" in en.text and "Type: other" in en.text and "Priority: \n" in en.text
    assert not en.subject.startswith("[URGENT]")
    notice = {k: v for k, v in NOTICE.items() if k != "fee_standard_version"}
    assert (
        "fee standard"
        not in render("bill_notice", locale="en", context=notice, recipient_name="x", config=demo_config).text
    )


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_sms_stays_short(demo_config, template):
    context = CONTEXTS[template]
    url = context.get("pay_url") or context.get("page_url", "")
    zh = render(template, locale="zh-CN", context=context, recipient_name="吴娜", config=demo_config).sms
    en = render(template, locale="en", context=context, recipient_name="Anna", config=demo_config).sms
    # One UCS-2 segment (70) for Chinese, besides the link; English within 120 characters.
    assert len(zh.replace(url, "")) <= 70, zh
    assert len(en.replace(url, "")) <= 120, en
