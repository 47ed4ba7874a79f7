"""Payment providers' notifications: ``POST /webhooks/stripe``, ``/webhooks/wechatpay`` and
``/webhooks/alipay``; and the orders sweep (``{"action": "sweep_orders"}`` every 5 minutes from
EventBridge Scheduler).

WeChat Pay and Alipay: the authorization step verifies the provider's signature through its SDK
(and for WeChat Pay decrypts the resource): ``parse_notification`` of the rail's adapter. A
refusal is answered in the provider's format (WeChat Pay: ``{"code": "FAIL", ...}`` with a 4xx;
Alipay: ``fail``) and nothing is written. ``services.rails.land`` lands a paid order once (the
payment's key is the order); the answer is WeChat Pay's 204 or Alipay's ``success``. The sweep
asks each order rail about orders with no notification after some minutes, and closes those past
their expiry.

Stripe:

1. The authorization step checks the provider's signature over the raw body (the Stripe SDK,
   tolerance 300 s, old or ahead) before the route runs: anything wrong -> 400, nothing written.
2. Powertools idempotency keyed on the event id (kept 7 days, longer than Stripe's 3 days of
   retries): a repeat replays the first answer; a repeat while the first is still running gets
   409 and Stripe delivers again later.
3. ``process_stripe_event`` filters and credits; refunds, disputes and failed delayed payments
   go to ``services.refunds``. A store failure -> 500 -> the idempotency record is released and
   Stripe's retry completes the payment.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.typing import LambdaContext

from propdesk.payments import rails as offered
from propdesk.payments.links import pay_links
from propdesk.payments.port import (
    NotificationRejected,
    PaymentProvider,
    ProviderEvent,
    ProviderPayment,
    ProviderRefund,
)
from propdesk.payments.stripe_provider import stripe_keys
from propdesk.services import autopay, rails, reconcile
from propdesk.services import refunds as refund_service
from propdesk.services.payments import process_stripe_event
from propdesk.services.refunds import NotRecordedYet
from propdesk.settings import ConfigurationMissing, Settings, get_settings, load_at_cold_start
from propdesk.store.idempotency import persistence_layer
from propdesk.web import staff_errors
from propdesk.web.access import Access, InvalidPayload, InvalidSignature, Provider, Refused, caller_of
from propdesk.web.http import Resolver, endpoint, serve
from propdesk.web.schemas import WebhookAnswer
from propdesk.web.staff_errors import json_error, json_ok

logger = Logger()
tracer = Tracer()
metrics = Metrics()
router = Router()
ROUTERS = (router,)

EVENT_RECORD_SECONDS = 7 * 24 * 3600

idempotency_config = IdempotencyConfig(
    event_key_jmespath="id",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=EVENT_RECORD_SECONDS,
)


class HandlerSettings(Settings):
    """What the payment webhook cannot work without."""

    bills_table: str
    payments_table: str
    accounts_table: str
    counters_table: str
    ledger_table: str
    idempotency_table: str
    refunds_table: str
    orders_table: str
    statements_table: str
    mandates_table: str
    owners_table: str
    messages_queue_url: str
    stripe_secret_name: str
    wechatpay_secret_name: str
    alipay_secret_name: str
    link_key_secret_name: str
    public_url_parameter: str


load_at_cold_start(HandlerSettings)


def verify_stripe(body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """Stripe's adapter verifies the event (offered for new payments or not: a refund or a
    dispute of an earlier payment still comes); ``payments.events`` reads it."""
    try:
        event = offered.adapter("stripe", get_settings()).parse_notification(headers, body)
    except NotificationRejected as rejected:
        raise (InvalidPayload if rejected.reason == "body" else InvalidSignature) from None
    if not isinstance(event, ProviderEvent):
        raise InvalidPayload
    return dict(event.data)


def _verifier(rail: str) -> Callable[[bytes, Mapping[str, str]], ProviderPayment | ProviderRefund]:
    """The authorization step's verifier for one order rail."""

    def verify(body: bytes, headers: Mapping[str, str]) -> ProviderPayment | ProviderRefund:
        try:
            provider = offered.provider(rail, get_settings())
        except offered.RailNotOffered:
            logger.warning("notification for a rail the property does not offer", rail=rail)
            raise InvalidSignature from None
        try:
            reported = provider.parse_notification(headers, body)
        except NotificationRejected as rejected:
            logger.warning("notification rejected", rail=rail, reason=rejected.reason)
            raise InvalidSignature from None
        if isinstance(reported, ProviderEvent):  # an order rail speaks of its orders only
            raise InvalidPayload
        return reported

    return verify


access = Access(
    function="payment_webhook",
    providers={"stripe": verify_stripe} | {rail: _verifier(rail) for rail in offered.ORDER_RAILS},
)


def _receipt_url(record: Any, owner_id: str) -> str:
    return pay_links().receipt_url(
        str(record.unit_id), record.payment_id, owner_id=owner_id, now=datetime.now(UTC)
    )


def _wechat_fail(status: int, message: str) -> Response:
    """WeChat Pay's failure answer: it delivers the notification again later."""
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps({"code": "FAIL", "message": message}, ensure_ascii=False),
    )


def _alipay_answer(ok: bool) -> Response:
    """Alipay reads the body only: ``success`` stops its resends, anything else asks for one."""
    return Response(status_code=200, content_type="text/plain", body="success" if ok else "fail")


RAIL_METRIC = {"wechat_pay": "WeChatPay", "alipay": "Alipay"}


def _land(rail: str) -> bool:
    """Land the verified notification; False if it failed (the provider will deliver it again)."""
    caller = caller_of(router.context)
    assert isinstance(caller, Provider)
    reported: ProviderPayment | ProviderRefund = caller.payload
    try:
        if isinstance(reported, ProviderRefund):
            outcome = refund_service.record_rail_refund(
                reported, config=get_settings().property_config, now=datetime.now(UTC)
            )
            metrics.add_metric(name=f"{RAIL_METRIC[rail]}_refund_{outcome}", unit=MetricUnit.Count, value=1)
            return True
        landed = rails.land(
            reported, config=get_settings().property_config, now=datetime.now(UTC), receipt_url=_receipt_url
        )
    except Exception:
        # Nothing landed, or it landed whole (one transaction): the provider's retry finishes it.
        logger.exception("order notification failed", rail=rail)
        metrics.add_metric(name=f"{RAIL_METRIC[rail]}_failed", unit=MetricUnit.Count, value=1)
        return False
    # unknown_order is acknowledged (delivering it again would not make it ours) and alarmed.
    metrics.add_metric(name=f"{RAIL_METRIC[rail]}_{landed.outcome}", unit=MetricUnit.Count, value=1)
    return True


@endpoint(router, "wechatpay_notify", status_code=204)
def wechatpay_notify() -> Response[str]:
    if not _land("wechat_pay"):
        return _wechat_fail(500, "temporary failure, please retry")
    return Response(status_code=204, content_type="application/json", body="")


@endpoint(router, "alipay_notify")
def alipay_notify() -> Response[str]:
    return _alipay_answer(_land("alipay"))


def sweep_orders() -> dict[str, Any]:
    """Sweep each order rail the property offers. A rail that cannot be swept (its secret still
    holds the placeholder) is reported and alarmed; the others are swept all the same."""
    config = get_settings().property_config
    results: dict[str, Any] = {}
    for rail in offered.order_rails(config):
        try:
            provider: PaymentProvider = offered.provider(rail, get_settings())
        except ConfigurationMissing as missing:
            logger.error("order rail not configured", rail=rail, problem=str(missing))
            metrics.add_metric(name="OrdersSweep_unconfigured", unit=MetricUnit.Count, value=1)
            results[rail] = {"error": "not configured"}
            continue
        result = rails.sweep(provider, config=config, now=datetime.now(UTC), receipt_url=_receipt_url)
        for name, value in vars(result).items():
            metrics.add_metric(name=f"OrdersSwept_{name}", unit=MetricUnit.Count, value=value)
        results[rail] = vars(result)
    return results


def reconcile_rails() -> dict[str, Any]:
    """Each rail's statements of the last days not reconciled yet, against our payments.
    Every difference is an item for staff, counted for the alarm; a statement that could not be
    fetched is counted too (the next run tries that day again)."""
    config = get_settings().property_config
    now = datetime.now(UTC)
    results: dict[str, Any] = {}
    for rail in offered.reconciled_rails(config):
        try:
            provider = offered.provider(rail, get_settings())
        except ConfigurationMissing as missing:
            logger.error("rail not configured", rail=rail, problem=str(missing))
            metrics.add_metric(name="Reconciliation_failed", unit=MetricUnit.Count, value=1)
            results[rail] = {"error": "not configured"}
            continue
        days = reconcile.reconcile(provider, now=now)
        differences = sum(len(day.differences) for day in days)
        failed = sum(1 for day in days if day.state == "failed")
        if differences:
            metrics.add_metric(name="ReconciliationDifferences", unit=MetricUnit.Count, value=differences)
        if failed:
            metrics.add_metric(name="Reconciliation_failed", unit=MetricUnit.Count, value=failed)
        results[rail] = [
            {
                "day": day.day.isoformat(),
                "state": day.state,
                "differences": [vars(d) for d in day.differences],
            }
            for day in days
        ]
    return results


def autopay_run() -> dict[str, Any]:
    """Card autopay's day: notices, charges on the due date, retries (services.autopay)."""
    config = get_settings().property_config
    now = datetime.now(UTC)
    result = autopay.run(
        config=config,
        now=now,
        pay_url=lambda unit_id, owner_id: pay_links().account_url(unit_id, owner_id=owner_id, now=now),
        receipt_url=_receipt_url,
    )
    for name in ("charged", "declined", "given_up", "unavailable"):
        if getattr(result, name):
            metrics.add_metric(name=f"Autopay_{name}", unit=MetricUnit.Count, value=getattr(result, name))
    return {k: v for k, v in vars(result).items()}


@endpoint(router, "stripe_webhook")
def stripe_webhook() -> Response[WebhookAnswer]:
    caller = caller_of(router.context)
    assert isinstance(caller, Provider)
    stripe_event: dict[str, Any] = caller.payload
    logger.append_keys(stripe_event_id=stripe_event["id"], stripe_event_type=stripe_event.get("type"))
    idempotency_config.register_lambda_context(router.lambda_context)
    config = get_settings().property_config
    livemode = stripe_keys().livemode

    @idempotent_function(
        data_keyword_argument="stripe_event",
        persistence_store=persistence_layer(),
        config=idempotency_config,
        key_prefix="stripe-event",
    )
    def once(stripe_event: dict[str, Any]) -> dict[str, Any]:
        return process_stripe_event(
            stripe_event,
            config=config,
            livemode=livemode,
            now=datetime.now(UTC),
            expire=lambda session_id: offered.adapter("stripe", get_settings()).close(session_id),
            receipt_url=lambda record, owner_id: pay_links().receipt_url(
                str(record.unit_id), record.payment_id, owner_id=owner_id, now=datetime.now(UTC)
            ),
        )

    # A failure is answered by the app's exception handlers (409 in progress, 500 retry): an error
    # body returned from here would fail the validation of the route's WebhookAnswer (-> 422).
    result = once(stripe_event=stripe_event)
    # credited | partial | credit | duplicate | mismatch | unknown_bill | set_aside | refunded |
    # dispute | payment_failed | already_recorded | ignored: alarms watch those that wait in the
    # staff queue (set_aside, duplicate, mismatch, unknown_bill, dispute).
    metrics.add_metric(name=f"StripeEvent_{result.get('outcome')}", unit=MetricUnit.Count, value=1)
    return json_ok(result)


app = Resolver()
app.include_router(router)


def refusal(refused: Refused, event: Mapping[str, Any]) -> Response:
    if refused.kind in ("bad_signature", "bad_payload", "too_large", "too_deep", "unsupported_media_type"):
        logger.warning("webhook rejected", reason=refused.kind)
        metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
    if refused.route is not None and refused.route.key == "wechatpay_notify":
        answer = staff_errors.refusal(refused)
        return _wechat_fail(answer.status_code, refused.kind)
    if refused.route is not None and refused.route.key == "alipay_notify":
        return _alipay_answer(False)
    return staff_errors.refusal(refused)


def retry_later(what: str) -> Response:
    """A failure (logged with its trace, counted for the alarm): 500, and Stripe delivers again.
    Nothing was credited, or the credit is complete; either way the retry finishes the job."""
    logger.exception(what)
    metrics.add_metric(name="StripeEvent_failed", unit=MetricUnit.Count, value=1)
    return json_error(500, "retry", "Temporary failure, please retry.")


def failed(event: Mapping[str, Any]) -> Response:
    return retry_later("webhook failed before its route")


@app.exception_handler(NotFoundError)
def _no_route(_: NotFoundError) -> Response:
    return staff_errors.no_such_route()


@app.exception_handler(RequestValidationError)
def _invalid_request(exc: RequestValidationError) -> Response:
    return staff_errors.invalid_request(exc)


@app.exception_handler(IdempotencyAlreadyInProgressError)
def _in_progress(_: IdempotencyAlreadyInProgressError) -> Response:
    # The same event is being handled right now; Stripe retries a non-2xx answer later.
    metrics.add_metric(name="StripeEvent_in_progress", unit=MetricUnit.Count, value=1)
    return json_error(409, "in_progress", "This event is being processed.")


@app.exception_handler(NotRecordedYet)
def _not_recorded_yet(_: NotRecordedYet) -> Response:
    # A refund that arrived before its payment's completion: Stripe delivers it again later,
    # by when the payment has landed (nothing was written; the idempotency record is released).
    metrics.add_metric(name="StripeEvent_not_recorded_yet", unit=MetricUnit.Count, value=1)
    return json_error(409, "not_recorded_yet", "The payment this event is about has not landed yet.")


@app.exception_handler(RequestUnsupportedContentType)
def _unsupported_media_type(_: RequestUnsupportedContentType) -> Response:
    return staff_errors.unsupported_media_type()


@app.exception_handler(UnicodeDecodeError)
def _not_utf8(_: UnicodeDecodeError) -> Response:
    return staff_errors.invalid_encoding()


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response:
    return retry_later("webhook processing failed")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    get_settings(HandlerSettings)
    if event.get("action") == "sweep_orders":
        return sweep_orders()
    if event.get("action") == "reconcile":
        return reconcile_rails()
    if event.get("action") == "autopay":
        return autopay_run()
    return serve(app, event, context, access=access, refusal=refusal, failed=failed)
