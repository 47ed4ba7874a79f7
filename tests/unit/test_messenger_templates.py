"""Templates in zh-CN and en carry what F2/F5 require, formatted from integers."""

from __future__ import annotations

import pytest

from propdesk.messaging.templates import TemplateError, render

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
    }
    zh = render("payment_receipt", locale="zh-CN", context=context, recipient_name="吴娜", config=demo_config)
    en = render("payment_receipt", locale="en", context=context, recipient_name="Anna", config=demo_config)
    # 16:30 UTC is 00:30 the next day in Shanghai
    assert "2026-07-04 00:30" in zh.text
    assert "R-000042" in zh.text and "¥327.27" in zh.text and "2026年7月" in zh.text
    assert "Receipt no.: R-000042" in en.text and "2026-07-04 00:30" in en.text
    assert "R-000042" in zh.sms


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
