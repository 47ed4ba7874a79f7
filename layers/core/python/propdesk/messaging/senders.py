"""Email through SES (v2) and SMS through SNS. Each send returns the provider's message id.

A provider error is raised to the caller (so the queue retries the message and finally keeps
it in the dead-letter queue), except an SMS the provider refuses for good (opted out, invalid
number), which raises ``SmsNotPossible`` so the messenger can fall back to email.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from botocore.exceptions import ClientError

from propdesk.aws import client


class SmsNotPossible(Exception):
    """The SMS provider refused this number for good; retrying would not help."""


class EmailSender(Protocol):
    def send(
        self, *, to: str, subject: str, text: str, html: str, tags: Mapping[str, str] | None = None
    ) -> str: ...


class SmsSender(Protocol):
    def send(self, *, phone: str, text: str) -> str: ...


class SesEmailSender:
    """Sends through the property's configuration set when there is one, so SES publishes the
    message's bounces and complaints (with its ``tags``: the owner it went to) to the contact
    events topic."""

    def __init__(self, sender_email: str, *, configuration_set: str | None = None) -> None:
        self._from = sender_email
        self._configuration_set = configuration_set

    def send(
        self, *, to: str, subject: str, text: str, html: str, tags: Mapping[str, str] | None = None
    ) -> str:
        extra: dict = {}
        if self._configuration_set:
            extra["ConfigurationSetName"] = self._configuration_set
        if tags:
            extra["EmailTags"] = [{"Name": name, "Value": value} for name, value in tags.items()]
        response = client("sesv2").send_email(
            FromEmailAddress=self._from,
            Destination={"ToAddresses": [to]},
            **extra,
            Content={
                "Simple": {
                    "Subject": {"Data": subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": text, "Charset": "UTF-8"},
                        "Html": {"Data": html, "Charset": "UTF-8"},
                    },
                }
            },
        )
        return str(response["MessageId"])


# SNS errors that mean "this number will never take an SMS from us", not "try later".
_PERMANENT_SMS_ERRORS = {"InvalidParameter", "InvalidParameterValue", "OptedOut", "OptedOutException"}


class SnsSmsSender:
    def __init__(self, sender_id: str | None) -> None:
        self._sender_id = sender_id

    def send(self, *, phone: str, text: str) -> str:
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if self._sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self._sender_id}
        try:
            response = client("sns").publish(PhoneNumber=phone, Message=text, MessageAttributes=attributes)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _PERMANENT_SMS_ERRORS:
                raise SmsNotPossible(exc.response["Error"]["Code"]) from exc
            raise
        return str(response["MessageId"])
