"""Messenger: consumes the messages queue and sends each message once (SES email, SNS SMS).

Partial batch failures: a failed or malformed record is reported alone, so the queue retries
only it and, after its retries, keeps it in the dead-letter queue.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from propdesk.messaging.requests import parse_message
from propdesk.services.messenger import Messenger
from propdesk.settings import get_settings

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@cache
def messenger() -> Messenger:
    # Built on first use (after settings and any mock exist); its pacer lives as long as the instance.
    return Messenger(get_settings().property_config)


def record_handler(record: SQSRecord) -> None:
    messenger().deliver(parse_message(record.body))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
