"""The local runtime's SES and SNS stand-ins report bounces, complaints and failed SMS in the
providers' formats: what they play back, the messenger takes (and marks the contact)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from moto.sesv2.responses import SESV2Response
from ops_support import bill_notice, import_demo_units

import messenger.handler as messenger_handler
from infra.local import contact_events, outbox
from infra.local.events import LambdaContext, sqs_event
from messenger.handler import lambda_handler
from propdesk.store.owners import OwnerRepository

pytestmark = pytest.mark.usefixtures("daytime")

AT = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
TOPIC = "arn:aws:sns:ap-southeast-1:123456789012:propdesk-demo-contact-events"


@pytest.fixture
def sent(aws, demo_config, monkeypatch):
    # GIVEN moto's SES keeps each e-mail's tags, as the local runtime's moto does
    monkeypatch.setattr(SESV2Response, "send_email", SESV2Response.send_email)
    contact_events.install()
    import_demo_units(demo_config, 3)
    messenger_handler.messenger.cache_clear()
    lambda_handler(sqs_event([bill_notice("O0001", "A-101").model_dump_json()]), LambdaContext())
    yield outbox.collect()
    messenger_handler.messenger.cache_clear()


def test_the_stand_in_echoes_the_owner_tag_and_its_bounce_marks_the_address(sent):
    (email,) = sent["email"]
    assert email["tags"] == {"owner": "O0001", "template": "bill_notice"}
    event = contact_events.sns_delivery(
        contact_events.ses_event(email, kind="bounce", at=AT), topic_arn=TOPIC, at=AT
    )
    assert lambda_handler(event, LambdaContext()) == {"marked": 1, "ignored": 0}
    mark = OwnerRepository().get("O0001").email_mark
    assert mark.reason == "bounced" and mark.at == AT


def test_the_stand_in_complaint_marks_the_address(sent):
    event = contact_events.sns_delivery(
        contact_events.ses_event(sent["email"][0], kind="complaint", at=AT), topic_arn=TOPIC, at=AT
    )
    assert lambda_handler(event, LambdaContext())["marked"] == 1
    assert OwnerRepository().get("O0001").email_mark.reason == "complained"


def test_the_stand_in_sms_failure_marks_the_number(sent):
    (sms,) = sent["sms"]
    event = contact_events.sms_failure_delivery(
        sms, response="Invalid phone number", region="ap-southeast-1", at=AT
    )
    assert lambda_handler(event, LambdaContext()) == {"marked": 1, "ignored": 0}
    assert OwnerRepository().get("O0001").phone_mark.reason == "sms_failed"
