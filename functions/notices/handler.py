"""Notices: the daily scheduled run prepares a cycle's draft on its notice day; the queue worker
computes the draft's batches, issues an approved cycle's bills and voids a voided one's.

Scheduled event (EventBridge Scheduler): ``{"action": "plan_cycle"}``, optionally with
``"period": "YYYY-MM"`` to force a cycle. Today always comes from the clock, in the
property's time zone, never from the event. Queue event: SQS records, each a job named by its
``kind``: ``tally_bills`` (``TallyBills``), ``issue_bills`` (``IssueBills``), ``void_bills``
(``VoidBills``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from propdesk.domain.calendar import local_today, parse_period
from propdesk.services import cycles, standards
from propdesk.services.notices import ISSUE_BILLS, IssueBills
from propdesk.settings import Settings, get_settings, load_at_cold_start

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False, logger=logger)


class UnknownAction(ValueError):
    pass


class HandlerSettings(Settings):
    """What the notices function cannot work without."""

    units_table: str
    owners_table: str
    cycles_table: str
    standards_table: str
    bills_table: str
    accounts_table: str
    ledger_table: str
    counters_table: str  # the lease on a batch of bills
    notices_queue_url: str
    messages_queue_url: str
    link_key_secret_name: str
    public_url_parameter: str


load_at_cold_start(HandlerSettings)


class UnknownJob(ValueError):
    pass


def record_handler(record: SQSRecord) -> None:
    body: Any = json.loads(record.body)
    kind = body.get("kind") if isinstance(body, dict) else None
    config, now = get_settings().property_config, datetime.now(UTC)
    if kind == cycles.TALLY_BILLS:
        cycles.tally_batch(cycles.TallyBills.model_validate(body), config=config, now=now)
    elif kind == ISSUE_BILLS:
        cycles.issue_approved(IssueBills.model_validate(body), config=config, now=now)
    elif kind == cycles.VOID_BILLS:
        cycles.void_bills(cycles.VoidBills.model_validate(body), now=now)
    elif kind == standards.ANNOUNCE_STANDARD:  # a published fee standard, told to every owner
        standards.announce(standards.AnnounceStandard.model_validate(body), config=config)
    else:
        raise UnknownJob(f"unknown notices job kind: {kind!r}")


def _scheduled(event: dict[str, Any]) -> dict[str, Any]:
    if event.get("action") != "plan_cycle":
        raise UnknownAction("notices expects {'action': 'plan_cycle'}")
    period = event.get("period")
    if period is not None:
        parse_period(str(period))
    config = get_settings().property_config
    now = datetime.now(UTC)
    result = cycles.run_notice_day(local_today(now, config.tz), config=config, now=now, period=period)
    return {"period": result.period, "units": result.units, "batches": result.batches, "state": result.state}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(HandlerSettings)
    if "Records" in event:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    return _scheduled(event)
