"""Bounces, complaints and failed SMS mark the owner's address or number (issue 8): the
messenger then uses the other channel, staff see the list, and an import with a new address or
number clears the mark. The events are built as the providers publish them: SES event publishing
JSON inside the SNS-to-Lambda envelope; SNS SMS delivery status inside a CloudWatch Logs
subscription delivery."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime

import pytest
from ops_support import bill_notice, import_demo_units, sent_emails, sent_sms

import messenger.handler as messenger_handler
from api.handler import lambda_handler as api_handler
from infra.config import units_csv_path
from infra.local.events import LambdaContext, sqs_event, staff_claims
from messenger.handler import lambda_handler
from propdesk.services.units import import_units_csv
from propdesk.store.models import MessageItem
from propdesk.store.owners import OwnerRepository
from tests.route_events import route_event

pytestmark = pytest.mark.usefixtures("daytime")

EMAIL_O1 = "owner0001@mail.example.com"
PHONE_O1 = "+8613872620224"
TOPIC = "arn:aws:sns:ap-southeast-1:123456789012:propdesk-demo-contact-events"


@pytest.fixture
def owners(aws, demo_config):
    import_demo_units(demo_config, 5)
    messenger_handler.messenger.cache_clear()
    yield
    messenger_handler.messenger.cache_clear()


def sns_delivery(ses_event: dict) -> dict:
    """An SNS topic's delivery to a Lambda subscriber."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{TOPIC}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                    "TopicArn": TOPIC,
                    "Subject": None,
                    "Message": json.dumps(ses_event),
                    "Timestamp": "2026-12-02T03:00:01.000Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://sns.ap-southeast-1.amazonaws.com/SimpleNotificationService-0000.pem",
                    "UnsubscribeUrl": "https://sns.ap-southeast-1.amazonaws.com/?Action=Unsubscribe",
                    "MessageAttributes": {},
                },
            }
        ]
    }


def _mail(owner_id: str, to: str) -> dict:
    return {
        "timestamp": "2026-12-02T02:59:58.000Z",
        "source": "billing@jinxiu-garden.example.com",
        "sendingAccountId": "123456789012",
        "messageId": "0100017c-ses-message-id",
        "destination": [to],
        "headersTruncated": False,
        "tags": {
            "ses:configuration-set": ["propdesk-demo-owner-mail"],
            "ses:source-ip": ["192.0.2.1"],
            "owner": [owner_id],
            "template": ["bill_notice"],
        },
    }


def bounce(owner_id: str, to: str, bounce_type: str = "Permanent") -> dict:
    """SES event publishing's Bounce event."""
    return {
        "eventType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": to,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": "2026-12-02T03:00:00.000Z",
            "feedbackId": "0100017c-bounce-feedback",
            "reportingMTA": "dsn; e226-55.smtp-out.ap-southeast-1.amazonses.com",
        },
        "mail": _mail(owner_id, to),
    }


def complaint(owner_id: str, to: str) -> dict:
    return {
        "eventType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": to}],
            "timestamp": "2026-12-02T04:00:00.000Z",
            "feedbackId": "0100017c-complaint-feedback",
            "userAgent": "Mail/1.0",
            "complaintFeedbackType": "abuse",
            "arrivalDate": "2026-12-02T03:59:00.000Z",
        },
        "mail": _mail(owner_id, to),
    }


def sms_status(sms_id: str, phone: str, response: str, status: str = "FAILURE") -> dict:
    """A CloudWatch Logs subscription's delivery of one SNS SMS delivery status record."""
    record = {
        "notification": {"messageId": sms_id, "timestamp": "2026-12-02 05:00:00.000"},
        "delivery": {
            "mnc": 0,
            "numberOfMessageParts": 1,
            "destination": phone,
            "priceInUSD": 0.02,
            "smsType": "Transactional",
            "mcc": 460,
            "providerResponse": response,
            "dwellTimeMs": 512,
        },
        "status": status,
    }
    data = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "sns/ap-southeast-1/123456789012/DirectPublishToPhoneNumber/Failure",
        "logStream": "0f5d0a25-4b2c-4e5e-9d5a-2a3f3f0c1b11",
        "subscriptionFilters": ["propdesk-demo-sms-failures"],
        "logEvents": [{"id": "1", "timestamp": 1796187600000, "message": json.dumps(record)}],
    }
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(data).encode())).decode()}}


def staff_list() -> list[dict]:
    event = route_event("list_unreachable_contacts", claims=staff_claims("agent", sub="agent-zhao"))
    response = api_handler(event, LambdaContext())
    assert response["statusCode"] == 200
    return json.loads(response["body"])["items"]


def send(request) -> MessageItem:
    assert lambda_handler(sqs_event([request.model_dump_json()]), LambdaContext()) == {
        "batchItemFailures": []
    }
    return MessageItem.get(request.message_id)


def test_a_permanent_bounce_marks_the_address_sms_takes_over_staff_see_it_and_an_import_clears_it(
    owners, demo_config
):
    # GIVEN O0001's notice went by e-mail and SMS, and SES reports a permanent bounce of the address
    send(bill_notice("O0001", "A-101", period="2026-07"))
    result = lambda_handler(sns_delivery(bounce("O0001", EMAIL_O1)), LambdaContext())
    assert result == {"marked": 1, "ignored": 0}
    # THEN the next message goes by SMS only, and says why
    item = send(bill_notice("O0001", "A-101", period="2026-08"))
    assert list(item.channels) == ["sms"] and item.note == "email skipped: address marked bounced"
    assert len(sent_emails()) == 1 and len(sent_sms()) == 2
    # AND staff see the owner, the unit, why and when
    (line,) = staff_list()
    assert line["owner_id"] == "O0001" and line["unit_ids"] == ["A-101"] and line["email"] == EMAIL_O1
    assert line["email_mark"] == {
        "reason": "bounced",
        "detail": "Permanent/General",
        "at": "2026-12-02T03:00:00Z",
    }
    assert line["phone_mark"] is None
    # WHEN the admin imports the units file with a new address for O0001
    text = units_csv_path(demo_config).read_text(encoding="utf-8").splitlines()[:6]
    text = [row.replace(EMAIL_O1, "new0001@mail.example.com") for row in text]
    assert import_units_csv("\n".join(text) + "\n", config=demo_config).errors == []
    # THEN the mark is gone, and e-mail is used again
    assert staff_list() == []
    item = send(bill_notice("O0001", "A-101", period="2026-09"))
    assert list(item.channels) == ["email", "sms"]


def test_an_import_that_keeps_the_address_keeps_its_mark(owners, demo_config):
    lambda_handler(sns_delivery(complaint("O0001", EMAIL_O1)), LambdaContext())
    text = units_csv_path(demo_config).read_text(encoding="utf-8").splitlines()[:6]
    renamed = [text[0], text[1].replace(text[1].split(",")[6], "新名字"), *text[2:]]
    assert import_units_csv("\n".join(renamed) + "\n", config=demo_config).errors == []
    owner = OwnerRepository().get("O0001")
    assert owner.name == "新名字" and owner.email_mark is not None and owner.email_mark.reason == "complained"


def test_a_complaint_marks_the_address(owners):
    assert lambda_handler(sns_delivery(complaint("O0001", EMAIL_O1)), LambdaContext())["marked"] == 1
    mark = OwnerRepository().get("O0001").email_mark
    assert mark.reason == "complained" and mark.detail == "abuse"
    assert mark.at == datetime(2026, 12, 2, 4, 0, tzinfo=UTC)


def test_a_transient_bounce_or_an_address_the_owner_no_longer_has_marks_nothing(owners):
    result = lambda_handler(sns_delivery(bounce("O0001", EMAIL_O1, "Transient")), LambdaContext())
    assert result == {"marked": 0, "ignored": 0}
    result = lambda_handler(sns_delivery(bounce("O0001", "old@mail.example.com")), LambdaContext())
    assert result == {"marked": 0, "ignored": 1}
    assert OwnerRepository().get("O0001").email_mark is None and staff_list() == []


def test_messaging_17_a_number_whose_sms_failed_for_good_gets_email_and_the_choice_is_recorded(owners):
    # GIVEN an SMS went to O0001 and SNS logs its delivery as failed for good
    sms_id = send(bill_notice("O0001", "A-101", period="2026-07")).sms_id
    assert sms_id
    result = lambda_handler(sms_status(sms_id, PHONE_O1, "Invalid phone number"), LambdaContext())
    assert result == {"marked": 1, "ignored": 0}
    # THEN the next message goes by e-mail only, the choice recorded
    item = send(bill_notice("O0001", "A-101", period="2026-08"))
    assert list(item.channels) == ["email"] and item.note == "sms skipped: number marked sms_failed"
    (line,) = staff_list()
    assert (
        line["phone_mark"]["reason"] == "sms_failed"
        and line["phone_mark"]["detail"] == "Invalid phone number"
    )


def test_a_temporary_sms_failure_marks_nothing(owners):
    sms_id = send(bill_notice("O0001", "A-101", period="2026-07")).sms_id
    unreachable = sms_status(sms_id, PHONE_O1, "Phone is currently unreachable/unavailable")
    assert lambda_handler(unreachable, LambdaContext()) == {"marked": 0, "ignored": 0}
    assert OwnerRepository().get("O0001").phone_mark is None
