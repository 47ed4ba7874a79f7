"""What the owner is told when money goes back, when a delayed payment fails, and when money for
bills paid already is refunded instead of kept (zh-CN and en)."""

from __future__ import annotations

from propdesk.messaging.templates import render

REFUNDED = {
    "payment_id": "stripe:pi_1",
    "receipt_no": "DEMO-2026-000042",
    "unit_id": "A-101",
    "amount_minor": 10000,
    "refunded_minor": 10000,
    "currency": "CNY",
    "disputed": False,
    "at_desk": False,
    "reopened": [{"bill_id": "A-101#2026-07", "period": "2026-07", "owed_minor": 10000}],
}
RECEIPT = {
    "receipt_no": "DEMO-2026-000043",
    "payment_id": "stripe:pi_2",
    "unit_id": "A-101",
    "amount_minor": 32727,
    "currency": "CNY",
    "paid_at": "2026-07-03T16:30:00Z",
    "method": "card",
    "bills": [],
    "credit_minor": 32727,
}


def both(template: str, context: dict, demo_config):
    return (
        render(template, locale="zh-CN", context=context, recipient_name="吴娜", config=demo_config),
        render(template, locale="en", context=context, recipient_name="Anna", config=demo_config),
    )


def test_a_refund_says_how_much_went_back_where_and_which_bill_is_open_again(demo_config):
    zh, en = both("payment_refunded", REFUNDED, demo_config)
    assert "¥100.00" in en.subject and "DEMO-2026-000042" in en.subject
    assert "We have refunded ¥100.00 of your payment for unit A-101" in en.text
    assert "back to the card or account you paid with" in en.text
    assert "Property fee July 2026: ¥100.00 to pay" in en.text
    assert "已退款" in zh.text and "2026年7月物业费：待缴 ¥100.00" in zh.text
    assert "The bill for July 2026 is open again." in en.sms and "2026年7月账单恢复待缴" in zh.sms


def test_a_desk_refund_says_it_was_paid_back_at_the_desk(demo_config):
    zh, en = both("payment_refunded", {**REFUNDED, "at_desk": True}, demo_config)
    assert "paid back to you at the property service centre" in en.text and "card" not in en.text
    assert "当面退还" in zh.text


def test_a_dispute_says_the_bank_reversed_it(demo_config):
    zh, en = both("payment_refunded", {**REFUNDED, "disputed": True}, demo_config)
    assert "reversed by your bank" in en.subject and "Your bank has reversed ¥100.00" in en.text
    assert "We have refunded" not in en.text and "card or account" not in en.text
    assert "银行" in zh.subject and "银行撤回" in zh.sms


def test_a_reversal_that_opens_no_bill_says_so(demo_config):
    zh, en = both("payment_refunded", {**REFUNDED, "reopened": []}, demo_config)
    assert "No bill is open again" in en.text and "open again." not in en.sms
    assert "没有账单" in zh.text


def test_a_failed_payment_says_nothing_was_paid_and_links_to_pay_again(demo_config):
    context = {
        "unit_id": "A-101",
        "amount_minor": 32727,
        "currency": "CNY",
        "bills": [{"bill_id": "A-101#2026-07", "period": "2026-07"}],
        "pay_url": "https://pay.example.test/pay/tok.sig",
    }
    zh, en = both("payment_failed", context, demo_config)
    assert "did not go through" in en.subject and "A-101" in en.subject
    assert "nothing was paid" in en.text and "Property fee July 2026" in en.text
    assert 'href="https://pay.example.test/pay/tok.sig"' in en.html and "Pay: https://" in en.sms
    assert "未成功" in zh.subject and "缴费：https://" in zh.sms
    without = {k: v for k, v in context.items() if k != "pay_url"}
    zh, en = both("payment_failed", without, demo_config)
    assert "<a " not in en.html and "https://" not in en.sms and "Pay again" not in en.text
    assert "Property service centre" in en.text  # the other ways to pay are still there


def test_a_receipt_for_money_to_be_refunded_says_so_instead_of_credit(demo_config):
    _, kept_en = both("payment_receipt", {**RECEIPT, "to_refund_minor": 0}, demo_config)
    assert "Kept as account credit: ¥327.27" in kept_en.text and "will be refunded" not in kept_en.text
    zh, en = both("payment_receipt", {**RECEIPT, "to_refund_minor": 32727}, demo_config)
    assert "To be refunded: ¥327.27" in en.text
    assert "¥327.27 will be refunded to the card or account you paid with" in en.text
    assert "Kept as account credit" not in en.text and "kept as credit" not in en.text
    assert "will be refunded" in en.sms and "原路退回" in zh.sms and "预存款" not in zh.text
    assert "将予退款" in zh.text
