"""Tickets: the queue consumer that routes each service request to a department as a work order.

Requests are taken by the api function (``POST /staff/tickets``), which queues each new ticket
on the tickets queue; this function routes them, once each (the routing write is conditional).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from propdesk.services.tickets import parse_route_ticket, route_ticket
from propdesk.settings import Settings, get_settings, load_at_cold_start

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False, logger=logger)


class HandlerSettings(Settings):
    """What the tickets function cannot work without."""

    tickets_table: str
    ledger_table: str
    messages_queue_url: str


load_at_cold_start(HandlerSettings)


def record_handler(record: SQSRecord) -> None:
    request = parse_route_ticket(record.body)
    route_ticket(request.ticket_id, config=get_settings().property_config, now=datetime.now(UTC))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(HandlerSettings)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
