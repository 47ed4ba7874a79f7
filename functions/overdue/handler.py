"""Overdue: the daily reminders run, ``{"action": "run_ladder"}`` from EventBridge Scheduler:
the pre-due reminder on its day (F3, ``services.reminders``), then the ladder for bills past due
(F6, ``services.overdue``).

Today comes from the clock in the property's time zone, never from the event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from propdesk.domain.calendar import local_today
from propdesk.services.overdue import run_ladder
from propdesk.services.reminders import run_pre_due
from propdesk.settings import Settings, get_settings, load_at_cold_start

logger = Logger()
tracer = Tracer()


class UnknownAction(ValueError):
    pass


class HandlerSettings(Settings):
    """What the overdue function cannot work without."""

    bills_table: str
    payments_table: str
    mandates_table: str  # the pre-due reminder skips units on direct debit or card autopay
    owners_table: str  # ... and puts owners no message can reach on the call list
    statements_table: str  # (the call list)
    ledger_table: str
    messages_queue_url: str
    link_key_secret_name: str
    public_url_parameter: str


load_at_cold_start(HandlerSettings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(HandlerSettings)
    if event.get("action") != "run_ladder":
        raise UnknownAction("overdue expects {'action': 'run_ladder'}")
    config = get_settings().property_config
    now = datetime.now(UTC)
    today = local_today(now, config.tz)
    reminded = run_pre_due(today, config=config, now=now)  # F3: before the due date
    result = run_ladder(today, config=config, now=now)  # F6: after it
    return {
        "pre_due_period": reminded.period,
        "pre_due_reminded": reminded.reminded,
        "pre_due_to_call": reminded.to_call,
        "open_past_due": result.open_past_due,
        "steps_taken": result.steps_taken,
    }
