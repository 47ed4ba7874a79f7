"""Addresses and numbers that stopped taking our messages (issue 8): marked, so the messenger
uses the owner's other channel, and listed for staff, who fix the contact by the unit import.

Two sources, in the providers' own formats:

- SES configuration-set event publishing, through SNS: a ``Bounce`` whose ``bounceType`` is
  ``Permanent`` (the address does not exist) or a ``Complaint`` (the owner marked it as spam)
  marks the address. A transient bounce (mailbox full) marks nothing: the next message may go.
  Each message carries the owner's id as an SES tag (``mail.tags.owner``).
- SNS SMS delivery status (the ``DirectPublishToPhoneNumber/Failure`` log, through a
  CloudWatch Logs subscription): a ``FAILURE`` whose provider response says the number can never
  take an SMS marks the number. A temporary failure (phone off) marks nothing.

A mark applies only while the owner still has that address or number (an import may have
changed it meanwhile). Logs carry owner ids and reasons, never the address or number.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from propdesk.domain.units import ContactMark
from propdesk.store.messages import MessageRepository
from propdesk.store.owners import ContactChannel, OwnerRepository, UnreachableOwner

logger = Logger(child=True)

BOUNCED = "bounced"
COMPLAINED = "complained"
SMS_FAILED = "sms_failed"

# SNS SMS delivery responses that mean the number will never take an SMS (lower case, matched as
# parts of ``delivery.providerResponse``); anything else (unreachable, carrier busy) is temporary.
PERMANENT_SMS_RESPONSES = (
    "invalid phone number",
    "destination phone number invalid",
    "phone number is opted out",
    "opted out",
    "not a mobile",
    "unknown subscriber",
    "number does not exist",
)


@dataclass(frozen=True)
class ContactReport:
    """What a provider reported about one address or number."""

    channel: ContactChannel
    contact: str  # personal data: never logged
    mark: ContactMark
    owner_id: str | None = None  # from the SES tag; an SMS report is found by its message id
    sms_id: str | None = None


def _time(value: str) -> datetime:
    """SES writes ISO 8601 with a Z; SNS SMS logs write ``2016-06-28 00:40:34.558`` (UTC)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def ses_reports(event: dict[str, Any]) -> list[ContactReport]:
    """The marks an SES event (event publishing's ``eventType``, or an identity notification's
    ``notificationType``) asks for: permanent bounces and complaints; anything else, none."""
    kind = event.get("eventType") or event.get("notificationType")
    tags = (event.get("mail") or {}).get("tags") or {}
    owner_id = next(iter(tags.get("owner") or ()), None)
    if kind == "Bounce":
        bounce = event.get("bounce") or {}
        if bounce.get("bounceType") != "Permanent":
            return []
        at = _time(bounce["timestamp"])
        return [
            ContactReport(
                "email",
                r["emailAddress"],
                ContactMark(BOUNCED, at, f"Permanent/{bounce.get('bounceSubType') or 'General'}"),
                owner_id=owner_id,
            )
            for r in bounce.get("bouncedRecipients") or ()
        ]
    if kind == "Complaint":
        complaint = event.get("complaint") or {}
        at = _time(complaint["timestamp"])
        detail = complaint.get("complaintFeedbackType") or complaint.get("complaintSubType")
        return [
            ContactReport("email", r["emailAddress"], ContactMark(COMPLAINED, at, detail), owner_id=owner_id)
            for r in complaint.get("complainedRecipients") or ()
        ]
    return []


def sms_reports(status: dict[str, Any]) -> list[ContactReport]:
    """The mark an SNS SMS delivery status record asks for: a permanent ``FAILURE`` only."""
    if status.get("status") != "FAILURE":
        return []
    delivery = status.get("delivery") or {}
    response = str(delivery.get("providerResponse") or "")
    if not any(part in response.lower() for part in PERMANENT_SMS_RESPONSES):
        return []
    notification = status.get("notification") or {}
    return [
        ContactReport(
            "phone",
            str(delivery.get("destination") or ""),
            ContactMark(SMS_FAILED, _time(notification["timestamp"]), response[:200]),
            sms_id=notification.get("messageId"),
        )
    ]


def sns_records(event: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """The SES events inside an SNS-to-Lambda invocation (``Records[].Sns.Message``, JSON)."""
    for record in event.get("Records") or ():
        if record.get("EventSource") == "aws:sns":
            yield json.loads(record["Sns"]["Message"])


def log_records(event: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """The delivery status records inside a CloudWatch Logs subscription invocation
    (``awslogs.data``: base64 of gzip of JSON, each log event's ``message`` a JSON record)."""
    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    for log_event in data.get("logEvents") or ():
        yield json.loads(log_event["message"])


@dataclass(frozen=True)
class Marked:
    marked: int
    ignored: int  # reports that asked for nothing, or whose owner or contact changed


def mark_reports(
    reports: Iterable[ContactReport],
    *,
    owners: OwnerRepository | None = None,
    messages: MessageRepository | None = None,
) -> Marked:
    owners = owners or OwnerRepository()
    messages = messages or MessageRepository()
    marked = ignored = 0
    for report in reports:
        owner_id = report.owner_id or (messages.sms_owner(report.sms_id) if report.sms_id else None)
        if (
            owner_id
            and report.contact
            and owners.mark(owner_id, channel=report.channel, contact=report.contact, mark=report.mark)
        ):
            marked += 1
            logger.info(
                "contact marked", owner_id=owner_id, channel=report.channel, reason=report.mark.reason
            )
        else:
            ignored += 1
            logger.info("contact report ignored", owner_id=owner_id, channel=report.channel)
    return Marked(marked, ignored)


def handle_contact_event(event: dict[str, Any], **repositories: Any) -> Marked:
    """An SNS delivery of SES events, or a CloudWatch Logs delivery of SMS delivery status."""
    if "awslogs" in event:
        reports = [r for status in log_records(event) for r in sms_reports(status)]
    else:
        reports = [r for ses_event in sns_records(event) for r in ses_reports(ses_event)]
    return mark_reports(reports, **repositories)


def unreachable(*, owners: OwnerRepository | None = None) -> list[UnreachableOwner]:
    """Staff's list: owners with a marked address or number, their units and why."""
    return (owners or OwnerRepository()).unreachable()
