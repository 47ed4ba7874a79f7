"""Two copies of one message processed at once send it once: the send is a claim under a lease."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from ops_support import bill_notice, import_demo_units, sent_emails

import messenger.handler as messenger_handler
from infra.local.events import LambdaContext, sqs_event
from messenger.handler import lambda_handler
from propdesk.messaging.requests import MessageRequest
from propdesk.services.messenger import Messenger, Pacer
from propdesk.store.messages import SEND_LEASE, SENT, MessageInFlight, MessageRepository
from propdesk.store.models import MessageItem

# What goes out, not when: messages are sent in the daytime (quiet hours hold SMS overnight).
pytestmark = pytest.mark.usefixtures("daytime")

EMAIL_O1, PHONE_O1 = "owner0001@mail.example.com", "+8613872620224"


def _notice(owner_id: str = "O0001", unit_id: str = "A-101") -> MessageRequest:
    return bill_notice(owner_id, unit_id, period="2027-01")


class CountingEmail:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, *, to, subject, text, html, tags=None):
        self.sent.append(to)
        return f"e{len(self.sent)}"


class CountingSms:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, *, phone, text):
        self.sent.append(phone)
        return f"s{len(self.sent)}"


def _no_wait(demo_config) -> Pacer:
    return Pacer(demo_config.messaging.max_send_rate, sleep=lambda _s: None)


@pytest.fixture
def owners(aws, demo_config):
    import_demo_units(demo_config, 5)
    built = messenger_handler.messenger
    built.cache_clear()
    yield
    built.cache_clear()


def test_two_concurrent_deliveries_of_one_message_send_once(owners, demo_config):
    # GIVEN two invocations that both reach the claim before either sends
    barrier = threading.Barrier(2)
    # DynamoDB applies a conditional write atomically; moto does not lock, so the lock stands in
    # for that. The barrier still lets both claims happen before either invocation sends.
    atomic = threading.Lock()

    class RacingRepository(MessageRepository):
        def claim(self, **kwargs):
            try:
                with atomic:
                    return super().claim(**kwargs)
            finally:
                barrier.wait(timeout=10)

    email, sms = CountingEmail(), CountingSms()
    messengers = [
        Messenger(demo_config, email=email, sms=sms, messages=RacingRepository(), pacer=_no_wait(demo_config))
        for _ in range(2)
    ]
    results: list[object] = []

    def run(messenger: Messenger) -> None:
        try:
            results.append(messenger.deliver(_notice()))
        except Exception as exc:  # collected for the assertions
            results.append(exc)

    threads = [threading.Thread(target=run, args=(m,)) for m in messengers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN exactly one email and one SMS went out, and the other copy is left to the queue's retry
    assert email.sent == [EMAIL_O1] and sms.sent == [PHONE_O1]
    errors = [r for r in results if isinstance(r, Exception)]
    outcomes = [r for r in results if not isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], MessageInFlight)
    assert len(outcomes) == 1 and outcomes[0].status == SENT
    item = MessageItem.get(_notice().message_id)
    assert item.status == SENT and list(item.channels) == ["email", "sms"]
    assert item.lease_until is None and item.claimed_by is None
    # AND the redelivered copy then finds it sent and sends nothing
    again = Messenger(demo_config, email=email, sms=sms, pacer=_no_wait(demo_config)).deliver(_notice())
    assert again.status == "skipped"
    assert len(email.sent) == 1 and len(sms.sent) == 1


def test_crashed_holder_is_taken_over_after_its_lease_without_resending_a_channel(owners, demo_config):
    t0 = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)
    repo = MessageRepository()
    request = _notice()
    # GIVEN an invocation claimed the message, sent the email and died (timeout) before finishing
    held = repo.claim(message_id=request.message_id, template=request.template, recipient="O0001", now=t0)
    assert held.claim is not None
    repo.channel_sent(request.message_id, channel="email", provider_id="e-crashed")
    email, sms = CountingEmail(), CountingSms()

    def messenger_at(at: datetime) -> Messenger:
        return Messenger(demo_config, email=email, sms=sms, pacer=_no_wait(demo_config), now=lambda: at)

    # WHEN a copy arrives while the lease still runs: it is refused, to be retried
    with pytest.raises(MessageInFlight):
        messenger_at(t0 + SEND_LEASE - timedelta(seconds=1)).deliver(request)
    assert email.sent == [] and sms.sent == []
    # AND when one arrives after the lease ran out: it takes over and sends only the SMS
    outcome = messenger_at(t0 + SEND_LEASE + timedelta(seconds=1)).deliver(request)
    assert outcome.status == SENT and outcome.channels == ("email", "sms")
    assert email.sent == [] and sms.sent == [PHONE_O1]
    item = MessageItem.get(request.message_id)
    assert item.status == SENT and list(item.channels) == ["email", "sms"]
    assert list(item.provider_ids) == ["email:e-crashed", "sms:s1"]
    # AND the crashed holder, had it woken up, could no longer finish over it
    assert repo.finish(request.message_id, status="failed", note="late", now=t0, claim=held.claim) is False
    assert MessageItem.get(request.message_id).status == SENT


def test_handler_reports_a_message_being_sent_elsewhere_as_a_batch_item_failure(owners, demo_config, caplog):
    held, other = _notice("O0001", "A-101"), _notice("O0002", "A-102")
    repo = MessageRepository()
    # GIVEN another invocation is sending the first message right now
    claim = repo.claim(
        message_id=held.message_id, template=held.template, recipient="O0001", now=datetime.now(UTC)
    ).claim
    assert claim is not None
    event = sqs_event([held.model_dump_json(), other.model_dump_json()])
    # WHEN a batch holds a copy of it beside another message
    response = lambda_handler(event, LambdaContext())
    # THEN only that copy fails (the queue redelivers it later); the other is sent
    assert response["batchItemFailures"] == [{"itemIdentifier": event["Records"][0]["messageId"]}]
    assert [e.destinations["ToAddresses"] for e in sent_emails()] == [["owner0002@mail.example.com"]]
    assert "Record processing exception" in caplog.text and "MessageInFlight" in caplog.text
    # AND once the holder has finished, the redelivered copy is skipped
    assert repo.finish(held.message_id, status=SENT, note=None, now=datetime.now(UTC), claim=claim)
    assert lambda_handler(sqs_event([held.model_dump_json()]), LambdaContext()) == {"batchItemFailures": []}
    assert len(sent_emails()) == 1


class RejectingEmail:
    """SES answering as it does, with the recipient in the error text."""

    def send(self, *, to, subject, text, html, tags=None):
        raise ClientError(
            {"Error": {"Code": "MessageRejected", "Message": f"Email address is not verified: {to}"}},
            "SendEmail",
        )


class FailingSms:
    def send(self, *, phone, text):
        raise ClientError(
            {"Error": {"Code": "InternalError", "Message": f"Could not deliver to {phone}"}}, "Publish"
        )


def test_failed_record_log_carries_no_contact_details(owners, demo_config, monkeypatch, caplog):
    caplog.set_level("INFO")
    messenger = Messenger(demo_config, email=RejectingEmail(), sms=FailingSms(), pacer=_no_wait(demo_config))
    monkeypatch.setattr(messenger_handler, "messenger", lambda: messenger)
    # GIVEN a message both providers fail with errors that quote the recipient, and a malformed
    # record that carries an address in an unexpected field
    malformed = '{"message_id": "x", "template": "bill_notice", "email": "' + EMAIL_O1 + '"}'
    event = sqs_event([_notice().model_dump_json(), malformed])
    response = lambda_handler(event, LambdaContext())
    # THEN both records fail and are logged, with the provider's codes but no contact
    assert len(response["batchItemFailures"]) == 2
    # the formatted lines with their tracebacks (chained causes included), and every record's fields
    logs = caplog.text + "\n".join(repr(r.__dict__) for r in caplog.records)
    assert "Record processing exception" in logs
    assert "email failed: MessageRejected; sms failed: InternalError" in logs
    assert "MalformedMessage" in logs and "email" in logs
    for personal in (EMAIL_O1, "owner0001@", PHONE_O1, "13872620224"):
        assert personal not in logs
    # AND the failed attempt is on the record, its lease released for the retry
    item = MessageItem.get(_notice().message_id)
    assert item.status == "failed" and item.attempts == 1
    assert item.note == "email failed: MessageRejected; sms failed: InternalError"
    assert item.lease_until is None and item.claimed_by is None


def test_a_failed_outcome_write_after_the_last_send_is_retried_without_resending_it(
    owners, demo_config, monkeypatch
):
    from pynamodb.exceptions import TransactWriteError
    from pynamodb.transactions import TransactWrite

    email, sms = CountingEmail(), CountingSms()
    messenger = Messenger(demo_config, email=email, sms=sms, pacer=_no_wait(demo_config))
    # GIVEN the store fails the outcome's transaction once, after both channels went out (the
    # first transaction is the e-mail's record with the SMS's short link; the second, the outcome)
    calls = {"n": 0}
    commit = TransactWrite._commit

    def failing_once(self):
        calls["n"] += 1
        if calls["n"] == 2:
            raise TransactWriteError("throttled", None)
        return commit(self)

    monkeypatch.setattr(TransactWrite, "_commit", failing_once)
    with pytest.raises(TransactWriteError):
        messenger.deliver(_notice())
    # THEN both channels are on the record, and the queue's retry only finishes the message
    item = MessageItem.get(_notice().message_id)
    assert item.status == "failed" and list(item.channels) == ["email", "sms"]
    again = messenger.deliver(_notice())
    assert again.status == SENT and again.channels == ("email", "sms")
    assert len(email.sent) == 1 and len(sms.sent) == 1
    assert MessageItem.get(_notice().message_id).status == SENT


def test_a_failed_e_mail_record_with_the_sms_link_records_the_e_mail_alone_and_sends_each_once(
    owners, demo_config, monkeypatch
):
    from pynamodb.exceptions import TransactWriteError
    from pynamodb.transactions import TransactWrite

    from propdesk.store.links import LinkRepository

    class TextsKept(CountingSms):
        def __init__(self) -> None:
            super().__init__()
            self.texts: list[str] = []

        def send(self, *, phone, text):
            self.texts.append(text)
            return super().send(phone=phone, text=text)

    email, sms = CountingEmail(), TextsKept()
    messenger = Messenger(demo_config, email=email, sms=sms, pacer=_no_wait(demo_config))
    # GIVEN the store refuses the e-mail's record that carries the SMS's short link
    calls = {"n": 0}
    commit = TransactWrite._commit

    def failing_first(self):
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransactWriteError("throttled", None)
        return commit(self)

    monkeypatch.setattr(TransactWrite, "_commit", failing_first)
    outcome = messenger.deliver(_notice())
    # THEN the e-mail is recorded on its own, the SMS gets a link stored apart, each goes once
    assert outcome.status == SENT and outcome.channels == ("email", "sms")
    assert len(email.sent) == 1 and len(sms.sent) == 1
    code = sms.texts[0].rsplit("/p/", 1)[1].split()[0]
    assert LinkRepository().token(code, now=datetime.now(UTC))
