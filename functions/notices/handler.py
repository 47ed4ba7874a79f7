"""Notices: the daily scheduled run plans a cycle on its notice day; the queue worker issues bills.

Scheduled event (EventBridge Scheduler): ``{"action": "plan_cycle"}``, optionally with
``"period": "YYYY-MM"`` to force a cycle. Today always comes from the clock, in the
property's time zone, never from the event. Queue event: SQS records of ``IssueBills``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from propdesk.domain.calendar import local_today, parse_period
from propdesk.services.notices import issue_bills, parse_issue_bills, run_notice_day
from propdesk.settings import Settings, get_settings, load_at_cold_start

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False, logger=logger)


class UnknownAction(ValueError):
    pass


class HandlerSettings(Settings):
    """What the notices function cannot work without."""

    units_table: str
    bills_table: str
    accounts_table: str
    ledger_table: str
    counters_table: str  # the lease on a batch of bills
    notices_queue_url: str
    messages_queue_url: str
    link_key_secret_name: str
    public_url_parameter: str


load_at_cold_start(HandlerSettings)


def record_handler(record: SQSRecord) -> None:
    request = parse_issue_bills(record.body)
    issue_bills(
        request.period,
        request.unit_ids,
        config=get_settings().property_config,
        now=datetime.now(UTC),
    )


def _scheduled(event: dict[str, Any]) -> dict[str, Any]:
    if event.get("action") != "plan_cycle":
        raise UnknownAction("notices expects {'action': 'plan_cycle'}")
    period = event.get("period")
    if period is not None:
        parse_period(str(period))
    config = get_settings().property_config
    today = local_today(datetime.now(UTC), config.tz)
    result = run_notice_day(today, config=config, period=period)
    return {"period": result.period, "units": result.units, "batches": result.batches}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(HandlerSettings)
    if "Records" in event:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    return _scheduled(event)
