"""Stripe webhook (POST /webhooks/stripe): signature first, then once per event id, then credit.

1. The raw body (base64-decoded when API Gateway encoded it) and the ``stripe-signature``
   header are checked with the SDK (default tolerance 300 s). Anything wrong -> 400 and
   nothing is written.
2. Powertools idempotency keyed on the event id (kept 7 days, longer than Stripe's 3 days of
   retries): a repeat replays the first answer; a repeat while the first is still running
   gets 409 and Stripe delivers again later.
3. ``process_stripe_event`` filters and credits. A store failure raises -> 500 -> the
   idempotency record is released and Stripe's retry completes the payment.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.typing import LambdaContext

from propdesk import aws
from propdesk.payments.stripe_provider import InvalidWebhook, StripeKeys, stripe_keys, verify_webhook
from propdesk.services.payments import process_stripe_event
from propdesk.settings import get_settings
from propdesk.store.models import IdempotencyItem

logger = Logger()
tracer = Tracer()
metrics = Metrics()

# Stripe's events are a few kB; anything far larger is not from Stripe.
MAX_BODY_BYTES = 256 * 1024
EVENT_RECORD_SECONDS = 7 * 24 * 3600

idempotency_config = IdempotencyConfig(
    event_key_jmespath="id",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=EVENT_RECORD_SECONDS,
)

_persistence: DynamoDBPersistenceLayer | None = None


def persistence_layer() -> DynamoDBPersistenceLayer:
    """Built on first use (after a test's mock or the local endpoint is in place) and rebuilt
    when the shared clients are reset."""
    global _persistence
    dynamodb = aws.client("dynamodb")
    if _persistence is None or _persistence.client is not dynamodb:
        table = os.environ.get("IDEMPOTENCY_TABLE", IdempotencyItem.Meta.table_name)
        _persistence = DynamoDBPersistenceLayer(table_name=table, boto3_client=dynamodb)
    return _persistence


def _response(status: int, body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }


def _raw_body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body, validate=True)
    return body.encode("utf-8")


def _header(event: Mapping[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return value
    return None


def handle_webhook(
    event: Mapping[str, Any], context: LambdaContext, *, keys: StripeKeys | None = None
) -> dict:
    try:
        body = _raw_body(event)
    except (binascii.Error, ValueError):
        metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
        return _response(400, {"error": "invalid_body", "message": "The body could not be decoded."})
    if len(body) > MAX_BODY_BYTES:
        metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
        return _response(413, {"error": "too_large", "message": "The body is too large."})
    keys = keys or stripe_keys(get_settings())
    try:
        stripe_event = verify_webhook(body, _header(event, "stripe-signature"), keys.webhook_secret)
    except InvalidWebhook:
        logger.warning("webhook signature rejected")
        metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
        return _response(400, {"error": "invalid_signature", "message": "The signature is not valid."})

    logger.append_keys(stripe_event_id=stripe_event["id"], stripe_event_type=stripe_event.get("type"))
    idempotency_config.register_lambda_context(context)
    config = get_settings().property_config

    @idempotent_function(
        data_keyword_argument="stripe_event",
        persistence_store=persistence_layer(),
        config=idempotency_config,
        key_prefix="stripe-event",
    )
    def once(stripe_event: dict[str, Any]) -> dict[str, Any]:
        return process_stripe_event(
            stripe_event, config=config, livemode=keys.livemode, now=datetime.now(UTC)
        )

    try:
        result = once(stripe_event=stripe_event)
    except IdempotencyAlreadyInProgressError:
        # The same event is being handled right now; Stripe retries a non-2xx answer later.
        metrics.add_metric(name="StripeEvent_in_progress", unit=MetricUnit.Count, value=1)
        return _response(409, {"error": "in_progress", "message": "This event is being processed."})
    except Exception:
        # Nothing was credited or the credit is complete; either way the retry finishes it.
        logger.exception("webhook processing failed")
        metrics.add_metric(name="StripeEvent_failed", unit=MetricUnit.Count, value=1)
        return _response(500, {"error": "retry", "message": "Temporary failure, please retry."})
    # credited | already_recorded | mismatch | duplicate | ignored: alarms watch mismatch/duplicate.
    metrics.add_metric(name=f"StripeEvent_{result.get('outcome')}", unit=MetricUnit.Count, value=1)
    return _response(200, result)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return handle_webhook(event, context)
