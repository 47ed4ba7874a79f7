"""Messenger: consumes the messages queue and sends each message once (SES email, SNS SMS).

Also: ``{"action": "release_held"}`` from its schedule at the end of quiet hours queues the held
messages again; an SNS delivery of SES events (bounces, complaints) or a CloudWatch Logs
delivery of SMS delivery status marks the owner's address or number.

Partial batch failures: a failed or malformed record is reported alone, so the queue retries
only it and, after its retries, keeps it in the dead-letter queue. A copy of a message that
another invocation is sending right now fails the same way (``MessageInFlight``) and is
redelivered after the visibility timeout, when it finds the message sent. Failed records are
logged with their exception, whose text never carries a contact (see ``MalformedMessage``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from propdesk.messaging.requests import MessageRequest, parse_message
from propdesk.services.contacts import handle_contact_event
from propdesk.services.messenger import Messenger, release_held
from propdesk.settings import Settings, get_settings, load_at_cold_start

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False, logger=logger)


class HandlerSettings(Settings):
    """What the messenger cannot work without."""

    owners_table: str
    messages_table: str
    ledger_table: str
    bills_table: str  # a reminder's bill, read just before it goes
    links_table: str  # an SMS's short link
    standards_table: str  # a notice's items are named as its bill's fee standard version names them
    counters_table: str  # owners' weekly contact counts
    messages_queue_url: str  # held messages are queued again when quiet hours end


load_at_cold_start(HandlerSettings)


class MalformedMessage(ValueError):
    """A record that is not a ``MessageRequest``; names the offending fields, never their values."""


@cache
def messenger() -> Messenger:
    # Built on first use (after settings and any mock exist); its pacer lives as long as the instance.
    settings = get_settings()
    return Messenger(settings.property_config, configuration_set=settings.ses_configuration_set)


class UnknownAction(ValueError):
    pass


def _parsed(body: str) -> MessageRequest:
    try:
        return parse_message(body)
    except ValidationError as exc:
        # pydantic's text quotes the input (it may be an address): keep locations and kinds only.
        fields = sorted({".".join(str(part) for part in e["loc"]) or "(root)" for e in exc.errors()})
        kinds = sorted({e["type"] for e in exc.errors()})
        raise MalformedMessage(f"invalid fields: {', '.join(fields)} ({', '.join(kinds)})") from None


def record_handler(record: SQSRecord) -> None:
    messenger().deliver(_parsed(record.body))


def _prepare(event: dict[str, Any]) -> None:
    """Read the batch's owners (and contact counts) once; a malformed body fails on its own later."""
    requests = []
    for record in event["Records"]:
        try:
            requests.append(_parsed(record["body"]))
        except ValueError:  # MalformedMessage, or not JSON: its record fails on its own
            continue
    messenger().prepare(requests)


def _scheduled(event: dict[str, Any]) -> dict[str, Any]:
    if event.get("action") != "release_held":
        raise UnknownAction("messenger expects {'action': 'release_held'}")
    return {"released": release_held(now=datetime.now(UTC))}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(HandlerSettings)
    records = event.get("Records") or []
    if "awslogs" in event or (records and records[0].get("EventSource") == "aws:sns"):
        result = handle_contact_event(event)
        return {"marked": result.marked, "ignored": result.ignored}
    if "Records" not in event:
        return _scheduled(event)
    _prepare(event)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
