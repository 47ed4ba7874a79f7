"""RELIABILITY 16, 17, 18 for messaging: provider failure, SMS not possible, poison message."""

from __future__ import annotations

import boto3
import pytest
from ops_support import bill_notice, drain, import_demo_units, sent_emails, sent_sms

import messenger.handler as messenger_handler
from infra.local.events import LambdaContext, sqs_event
from infra.local.pollers import pump
from infra.manifest import queue
from messenger.handler import lambda_handler
from propdesk.messaging.requests import MESSAGES_QUEUE
from propdesk.messaging.senders import SesEmailSender, SmsNotPossible
from propdesk.queues import QueueProducer
from propdesk.services.messenger import Messenger, Pacer
from propdesk.store.models import MessageItem

# What goes out, not when: messages are sent in the daytime (quiet hours hold SMS overnight).
pytestmark = pytest.mark.usefixtures("daytime")


class Throttled(Exception):
    pass


class FlakyEmail(SesEmailSender):
    """SES that throttles the first ``failures`` sends, then works."""

    def __init__(self, sender: str, failures: int) -> None:
        super().__init__(sender)
        self.failures = failures

    def send(self, **kwargs):
        if self.failures:
            self.failures -= 1
            raise Throttled("Throttling: Maximum sending rate exceeded")
        return super().send(**kwargs)


class RefusingSms:
    def send(self, *, phone, text):
        raise SmsNotPossible("OptedOut")


def _no_wait(demo_config) -> Pacer:
    return Pacer(demo_config.messaging.max_send_rate, sleep=lambda _s: None)


@pytest.fixture
def owners(aws, demo_config):
    import_demo_units(demo_config, 5)
    built = messenger_handler.messenger  # the cached builder (tests may monkeypatch it)
    built.cache_clear()
    yield
    built.cache_clear()


def test_messaging_16_provider_failure_is_retried_then_sent_once(owners, demo_config, monkeypatch):
    # GIVEN SES throttles twice; SMS works
    flaky = Messenger(
        demo_config, email=FlakyEmail(demo_config.messaging.sender_email, 2), pacer=_no_wait(demo_config)
    )
    monkeypatch.setattr(messenger_handler, "messenger", lambda: flaky)
    url = boto3.client("sqs").get_queue_url(QueueName="propdesk-demo-messages")["QueueUrl"]
    QueueProducer(MESSAGES_QUEUE).send([bill_notice("O0001", "A-101")])
    # WHEN the queue delivers it until it succeeds
    pump(url, lambda_handler, rounds=5)
    # THEN the failures were recorded, the email went out once and the SMS was not repeated
    assert len(sent_emails()) == 1
    assert len(sent_sms()) == 1
    item = MessageItem.get("bill_notice#A-101#2026-07")
    assert item.status == "sent"
    assert list(item.channels) == ["sms", "email"]  # SMS went out on the first try, email on the third
    assert item.attempts == 3
    assert drain(url) == []


def test_messaging_16_provider_down_keeps_the_message_in_the_dlq(owners, demo_config, monkeypatch):
    # GIVEN SES fails every time
    down = Messenger(
        demo_config, email=FlakyEmail(demo_config.messaging.sender_email, 99), pacer=_no_wait(demo_config)
    )
    monkeypatch.setattr(messenger_handler, "messenger", lambda: down)
    url = boto3.client("sqs").get_queue_url(QueueName="propdesk-demo-messages")["QueueUrl"]
    dlq = boto3.client("sqs").get_queue_url(QueueName="propdesk-demo-messages-dlq")["QueueUrl"]
    QueueProducer(MESSAGES_QUEUE).send([bill_notice("O0002", "A-102")])
    # WHEN the queue has delivered it more than its max receive count
    pump(url, lambda_handler, rounds=queue("messages").max_receive_count + 2)
    # THEN it is kept in the dead-letter queue, not dropped, and recorded as failed
    kept = drain(dlq)
    assert len(kept) == 1 and "A-102#2026-07" in kept[0]
    item = MessageItem.get("bill_notice#A-102#2026-07")
    assert item.status == "failed" and item.attempts == queue("messages").max_receive_count
    assert sent_emails() == []


def test_messaging_17_sms_not_possible_uses_email_and_records_it(owners, demo_config):
    messenger = Messenger(demo_config, pacer=_no_wait(demo_config))
    # GIVEN an owner without SMS consent, asked for SMS only
    request = bill_notice("O0002", "A-102").model_copy(update={"channels": ("sms",)})
    outcome = messenger.deliver(request)
    # THEN email is used instead and the reason is recorded
    assert outcome.channels == ("email",)
    item = MessageItem.get(request.message_id)
    assert list(item.channels) == ["email"]
    assert item.note == "sms skipped: no SMS consent; fallback to email"
    assert sent_sms() == []
    assert len(sent_emails()) == 1


def test_messaging_17_sms_refused_by_provider_falls_back_to_email(owners, demo_config):
    # GIVEN SNS refuses the number for good (opted out / spend limit) and only SMS was asked for
    messenger = Messenger(demo_config, sms=RefusingSms(), pacer=_no_wait(demo_config))
    request = bill_notice("O0001", "A-101").model_copy(update={"channels": ("sms",)})
    outcome = messenger.deliver(request)
    # THEN the owner still gets the notice by email, and why is on the record
    assert outcome.channels == ("email",)
    item = MessageItem.get(request.message_id)
    assert item.status == "sent"
    assert "sms refused by provider (OptedOut)" in item.note and "fallback to email" in item.note
    assert len(sent_emails()) == 1


def test_messaging_17_no_contact_is_recorded_undeliverable(owners, demo_config):
    # GIVEN an owner with a phone but no email, who refuses SMS (O0003 has consent, so fake it)
    messenger = Messenger(demo_config, pacer=_no_wait(demo_config))
    request = bill_notice("O0003", "A-103").model_copy(update={"channels": ("email",)})
    outcome = messenger.deliver(request)
    assert outcome.channels == ("sms",)  # phone only: SMS instead of email
    assert MessageItem.get(request.message_id).note == "email skipped: no email address; fallback to sms"


def test_messaging_18_poison_message(owners, demo_config, monkeypatch):
    monkeypatch.setattr(
        messenger_handler, "messenger", lambda: Messenger(demo_config, pacer=_no_wait(demo_config))
    )
    good = bill_notice("O0001", "A-101").model_dump_json()
    poison = ["{not json", '{"message_id": "x", "template": "ransom_note"}', "[]", ""]
    event = sqs_event([poison[0], good, poison[1], poison[2], poison[3]])
    # WHEN a batch holds malformed records beside a good one
    response = lambda_handler(event, LambdaContext())
    # THEN only the malformed records fail; the good one is sent
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    ids = [r["messageId"] for r in event["Records"]]
    assert failed == {ids[0], ids[2], ids[3], ids[4]}
    assert len(sent_emails()) == 1
    # AND on the real queue a poison record ends in the dead-letter queue after its retries
    url = boto3.client("sqs").get_queue_url(QueueName="propdesk-demo-messages")["QueueUrl"]
    dlq = boto3.client("sqs").get_queue_url(QueueName="propdesk-demo-messages-dlq")["QueueUrl"]
    boto3.client("sqs").send_message(QueueUrl=url, MessageBody=poison[1])
    pump(url, lambda_handler, rounds=queue("messages").max_receive_count + 2)
    assert drain(dlq) == [poison[1]]


def test_messaging_logs_carry_no_contact_details(owners, demo_config, caplog):
    caplog.set_level("INFO")
    messenger = Messenger(demo_config, pacer=_no_wait(demo_config))
    messenger.deliver(bill_notice("O0001", "A-101"))
    messenger.deliver(bill_notice("O0002", "A-102").model_copy(update={"channels": ("sms",)}))
    # every field of every record, extras included
    logs = "\n".join(repr(record.__dict__) for record in caplog.records)
    assert "message sent" in logs
    for personal in ("owner0001@mail.example.com", "+8613872620224", "Anna Liu", "owner0002@", "吴娜"):
        assert personal not in logs
