"""The local stand-ins' reports about addresses and numbers, in the providers' own formats.

Deployed, SES publishes a configuration set's bounces and complaints to an SNS topic (event
publishing JSON inside SNS's Lambda envelope) and SNS logs failed SMS deliveries to CloudWatch
Logs, whose subscription filter hands them to a function (``awslogs.data``: base64 of gzip).
moto does neither, so the local runtime plays them back on request (``POST /_local/ses/feedback``,
``POST /_local/sms/failure``) for a message moto's SES or SNS really sent, to the functions the
manifest subscribes (``contact_events``).

SES echoes a message's tags (``EmailTags``) in its events; moto drops them, so ``install``
(in the moto server's process) keeps each sent e-mail's tags and configuration set by its id.
"""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from datetime import UTC, datetime
from typing import Any

ACCOUNT = "123456789012"

# In the moto server's process: SES message id -> {"tags": {name: value}, "configuration_set": str}
SENT: dict[str, dict[str, Any]] = {}


def install() -> None:
    """Keep the tags and configuration set of every e-mail moto's SES v2 sends (once)."""
    from moto.sesv2.responses import SESV2Response

    if getattr(SESV2Response.send_email, "_keeps_tags", False):
        return
    original = SESV2Response.send_email

    def send_email(self: SESV2Response) -> str:
        answer = original(self)
        params = json.loads(self.body)
        SENT[json.loads(answer)["MessageId"]] = {
            "tags": {t["Name"]: t["Value"] for t in params.get("EmailTags") or ()},
            "configuration_set": params.get("ConfigurationSetName"),
        }
        return answer

    send_email._keeps_tags = True  # type: ignore[attr-defined]
    SESV2Response.send_email = send_email  # type: ignore[method-assign]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ses_event(email: dict[str, Any], *, kind: str, at: datetime) -> dict[str, Any]:
    """SES event publishing's ``Bounce`` (permanent, as the mailbox simulator's bounce address
    answers) or ``Complaint`` event for an e-mail in the outbox."""
    to = email["to"][0]
    tags = {name: [value] for name, value in (email.get("tags") or {}).items()}
    if email.get("configuration_set"):
        tags["ses:configuration-set"] = [email["configuration_set"]]
    mail = {
        "timestamp": _iso(at),
        "source": email["from"],
        "sendingAccountId": ACCOUNT,
        "messageId": email["id"],
        "destination": email["to"],
        "headersTruncated": False,
        "tags": tags,
    }
    feedback = f"{uuid.uuid4().hex}-000000"
    if kind == "complaint":
        return {
            "eventType": "Complaint",
            "complaint": {
                "complainedRecipients": [{"emailAddress": to}],
                "timestamp": _iso(at),
                "feedbackId": feedback,
                "complaintFeedbackType": "abuse",
            },
            "mail": mail,
        }
    return {
        "eventType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": to,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": _iso(at),
            "feedbackId": feedback,
        },
        "mail": mail,
    }


def sns_delivery(message: dict[str, Any], *, topic_arn: str, at: datetime) -> dict[str, Any]:
    """SNS's invocation of a Lambda subscriber with one notification."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic_arn}:{uuid.uuid4()}",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": topic_arn,
                    "Subject": None,
                    "Message": json.dumps(message),
                    "Timestamp": _iso(at),
                    "SignatureVersion": "1",
                    "Signature": "",
                    "SigningCertUrl": "",
                    "UnsubscribeUrl": "",
                    "MessageAttributes": {},
                },
            }
        ]
    }


def sms_failure_delivery(sms: dict[str, Any], *, response: str, region: str, at: datetime) -> dict[str, Any]:
    """A CloudWatch Logs subscription's invocation with SNS's delivery status of a failed SMS."""
    record = {
        "notification": {
            "messageId": sms["id"],
            "timestamp": at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
        },
        "delivery": {
            "destination": sms["to"],
            "smsType": "Transactional",
            "providerResponse": response,
            "priceInUSD": 0.0,
            "dwellTimeMs": 1000,
        },
        "status": "FAILURE",
    }
    data = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": f"sns/{region}/{ACCOUNT}/DirectPublishToPhoneNumber/Failure",
        "logStream": str(uuid.uuid4()),
        "subscriptionFilters": ["sms-failures"],
        "logEvents": [
            {"id": uuid.uuid4().hex, "timestamp": int(at.timestamp() * 1000), "message": json.dumps(record)}
        ],
    }
    return {
        "awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(data).encode("utf-8"))).decode("ascii")}
    }
