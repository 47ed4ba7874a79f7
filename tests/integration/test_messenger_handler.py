"""The messenger function on moto: SES email and SNS SMS in the owner's locale, sent once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ops_support import bill_notice, import_demo_units, sent_emails, sent_sms

import messenger.handler as messenger_handler
from infra.local.events import LambdaContext, sqs_event
from messenger.handler import lambda_handler
from propdesk.messaging.requests import MessageRequest
from propdesk.messaging.sms import segments
from propdesk.payments.links import verify_pay_link
from propdesk.store.models import LedgerItem, LinkItem, MessageItem
from tests.testkeys import TEST_LINK_KEY

# What goes out, not when: messages are sent in the daytime (quiet hours hold SMS overnight).
pytestmark = pytest.mark.usefixtures("daytime")

# Demo owners: O0001 en, email + phone, SMS consent; O0002 zh-CN, email + phone, no consent;
# O0003 zh-CN, phone only, consent.


def _notice(owner_id: str, unit_id: str) -> MessageRequest:
    return bill_notice(owner_id, unit_id, lines=(("service", 25024), ("waste", 1000)))


@pytest.fixture
def owners(aws, demo_config):
    import_demo_units(demo_config, 5)
    built = messenger_handler.messenger
    built.cache_clear()
    yield
    built.cache_clear()


def test_notice_goes_by_email_and_sms_in_the_owners_locale(owners, demo_config):
    event = sqs_event([_notice("O0001", "A-101").model_dump_json()])
    # WHEN the messenger gets the notice of an English-speaking owner with SMS consent
    response = lambda_handler(event, LambdaContext())
    # THEN one English email from the property's sender and one SMS went out
    assert response == {"batchItemFailures": []}
    (email,) = sent_emails()
    assert email.source == demo_config.messaging.sender_email
    assert email.destinations["ToAddresses"] == ["owner0001@mail.example.com"]
    assert "property fee notice for A-101" in email.subject
    assert "¥260.24" in email.body
    ((phone, text),) = sent_sms()
    assert phone == "+8613872620224"
    # with a short link to the pay page (in place of the 134-character pay link), one segment
    assert "¥260.24" in text and "https://pay.example.test/p/" in text and "/pay/" not in text
    code = text.rsplit("/p/", 1)[1]
    link = verify_pay_link(
        LinkItem.get(f"code#{code}").token, key=TEST_LINK_KEY.encode(), now=datetime.now(UTC)
    )
    assert (link.unit_id, link.bill_id) == ("A-101", "A-101#2026-07") and segments(text) == 1
    item = MessageItem.get("bill_notice#A-101#2026-07")
    assert item.status == "sent" and list(item.channels) == ["email", "sms"] and item.sent_at is not None
    assert LedgerItem.count("message#bill_notice#A-101#2026-07") == 1
    assert LedgerItem.count("bill#A-101#2026-07") == 1


def test_a_receipt_is_told_on_the_unit_account_s_ledger(owners):
    from datetime import UTC, datetime

    from propdesk.services.payments import receipt_message
    from propdesk.store.payments import PaymentRecord

    paid = datetime(2026, 7, 3, 8, 0, tzinfo=UTC)
    record = PaymentRecord(
        payment_id="desk:1", unit_id="A-101", provider="desk", method="cash", channel="front_desk",
        amount_minor=5000, currency="CNY", status="allocated", received_at=paid, paid_at=paid,
        credit_minor=5000, receipt_no="DEMO-2026-000009",
    )  # fmt: skip
    request = receipt_message(record, owner_id="O0001")
    lambda_handler(sqs_event([request.model_dump_json()]), LambdaContext())
    (email,) = sent_emails()
    assert "DEMO-2026-000009" in email.body and "Cash" in email.body
    told = [(e.event, e.seq) for e in LedgerItem.query("account#A-101")]
    assert told == [("payment_receipt_sent", "sent#payment_receipt#DEMO-2026-000009")]


def test_the_same_message_twice_is_sent_once(owners):
    body = _notice("O0001", "A-101").model_dump_json()
    # WHEN the same message arrives twice, in one batch and again later
    lambda_handler(sqs_event([body, body]), LambdaContext())
    lambda_handler(sqs_event([body]), LambdaContext())
    # THEN it went out once per channel
    assert len(sent_emails()) == 1
    assert len(sent_sms()) == 1


def test_chinese_owner_without_sms_consent_gets_email_only(owners):
    lambda_handler(sqs_event([_notice("O0002", "A-102").model_dump_json()]), LambdaContext())
    (email,) = sent_emails()
    assert "物业费缴费通知" in email.subject
    assert sent_sms() == []
    item = MessageItem.get("bill_notice#A-102#2026-07")
    assert list(item.channels) == ["email"]
    assert item.note == "sms skipped: no SMS consent"


def test_department_work_order_goes_to_its_mailbox(owners, demo_config):
    request = MessageRequest(
        message_id="work_order#T-1",
        template="work_order",
        to_email="engineering@jinxiu-garden.example.com",
        channels=("email",),
        context={
            "ticket_id": "T-1",
            "kind": "repair",
            "category": "water",
            "unit_id": "A-101",
            "summary": "leak",
            "emergency": False,
            "priority": "normal",
            "dispatched_at": "2026-07-03T01:00:00+00:00",
            "due_at": "2026-07-05T01:00:00+00:00",
            "department": "engineering",
        },
    )
    assert lambda_handler(sqs_event([request.model_dump_json()]), LambdaContext()) == {
        "batchItemFailures": []
    }
    (email,) = sent_emails()
    assert email.destinations["ToAddresses"] == ["engineering@jinxiu-garden.example.com"]
    assert "工单 T-1" in email.subject  # property default locale
    assert "工程部" in email.body


def test_unknown_owner_is_recorded_undeliverable_not_retried(owners):
    response = lambda_handler(sqs_event([_notice("O9999", "Z-1").model_dump_json()]), LambdaContext())
    assert response == {"batchItemFailures": []}
    assert MessageItem.get("bill_notice#Z-1#2026-07").status == "undeliverable"
    assert sent_emails() == []
