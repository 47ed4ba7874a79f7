"""Alarms on dead-letter queues, function errors and the payment webhook's own metrics, sent to
one alarm topic."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from propdesk import naming

# The environment through which Powertools Metrics learns its namespace and its default
# ``service`` dimension (set per function in infra/constructs/functions.py).
METRICS_NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"
SERVICE_NAME_ENV = "POWERTOOLS_SERVICE_NAME"
SERVICE_DIMENSION = "service"

PAYMENT_WEBHOOK = "payment_webhook"


@dataclass(frozen=True)
class MetricAlarm:
    """An alarm on a count a function emits with Powertools Metrics (Sum over five minutes)."""

    metric_name: str
    threshold: int
    description: str


def payment_webhook_alarms(property_id: str) -> tuple[MetricAlarm, ...]:
    """What the payment webhook (functions/payment_webhook/handler.py) counts that staff must hear of."""
    payments = naming.table_name(property_id, "payments")
    ledger = naming.table_name(property_id, "ledger")
    logs = (
        f"the {PAYMENT_WEBHOOK} function's log (message 'payment set aside for staff' or 'payment "
        "landed' gives payment_id, unit_id and reason)"
    )
    return (
        MetricAlarm(
            "StripeEvent_set_aside",
            1,
            "A Stripe payment landed on no account: no unit could be found for it, or it is in another "
            "currency. Its unit's overdue ladder is paused until staff resolve it. Find it in the staff "
            "payment queue (GET /staff/payments/review), in "
            f"{logs}, in table {payments} (status 'set_aside', review_state 'open') and in table "
            f"{ledger} (entity payment#<payment_id>, event 'set_aside'); allocate it to a unit or "
            "refund it.",
        ),
        MetricAlarm(
            "StripeEvent_duplicate",
            1,
            "A Stripe payment arrived for bills already paid (two checkout tabs, or desk and online). "
            "It was kept as credit on the unit's account and the owner's receipt says so. Find it in "
            f"the staff payment queue (GET /staff/payments/review), in {logs} and in table {payments} "
            "(review_reason 'duplicate'); keep the credit, allocate it or refund it, and tell the owner.",
        ),
        MetricAlarm(
            "StripeEvent_mismatch",
            1,
            "A Stripe payment differs from what its bills owed (the bill changed after the checkout "
            "started). It was allocated as it is: a smaller amount leaves the bill open, a larger one "
            "leaves credit. The unit's overdue ladder waits until staff resolve it in the staff payment "
            f"queue (GET /staff/payments/review). See {logs} and table {payments} (review_reason "
            "'mismatch').",
        ),
        MetricAlarm(
            "StripeEvent_unknown_bill",
            1,
            "A Stripe payment named bills its unit does not have. It was kept as credit on the unit's "
            "account; allocate it or refund it in the staff payment queue (GET /staff/payments/review). "
            f"See {logs} and table {payments} (review_reason 'unknown_bill').",
        ),
        MetricAlarm(
            "StripeEvent_dispute",
            1,
            "An owner's bank disputed (charged back) a Stripe payment. The disputed amount was taken "
            "back from the unit's account: the bills it had paid are open again and the owner was told. "
            "Answer the dispute in the Stripe dashboard before its deadline (with the receipt and the "
            "bill) and resolve the payment in the staff payment queue (GET /staff/payments/review). See "
            f"{logs}, table {payments} (review_reason 'dispute', disputed_minor) and table {ledger} "
            "(entity payment#<payment_id>, event 'disputed').",
        ),
        MetricAlarm(
            "StripeEvent_failed",
            1,
            "The Stripe webhook failed to process an event and answered 500 (the function's Errors "
            "metric does not show this: the handler catches the exception). Stripe retries for up to "
            f"3 days, so the payment is not lost yet. Read the {PAYMENT_WEBHOOK} function's log "
            "('webhook processing failed', with stripe_event_id and the traceback) and fix the cause "
            "(table throttling or permissions, a bad deploy); if it persists, check the event's "
            "deliveries in the Stripe dashboard.",
        ),
        MetricAlarm(
            "WebhookRejected",
            10,
            "Many requests to the Stripe webhook were rejected (bad signature, undecodable or oversized "
            "body). Either the webhook signing secret in Secrets Manager no longer matches Stripe's "
            "(e.g. after a rotation: real payments are then NOT recorded, check failed deliveries in "
            f"the Stripe dashboard) or someone is sending forged webhooks. See the {PAYMENT_WEBHOOK} "
            "function's log ('webhook signature rejected') and the API access log for the callers.",
        ),
        *order_rail_alarms(property_id),
    )


def order_rail_alarms(property_id: str) -> tuple[MetricAlarm, ...]:
    """WeChat Pay's and Alipay's notifications, the orders sweep and the daily reconciliation."""
    payments = naming.table_name(property_id, "payments")
    statements = naming.table_name(property_id, "statements")
    orders = naming.table_name(property_id, "orders")
    found: list[MetricAlarm] = []
    for metric, name in (("WeChatPay", "WeChat Pay"), ("Alipay", "Alipay")):
        found += [
            MetricAlarm(
                f"{metric}_failed",
                1,
                f"A {name} notification could not be landed (a store fault) and was answered with a "
                f"failure, so {name} sends it again; the orders sweep also finds the payment. Read the "
                f"{PAYMENT_WEBHOOK} function's log ('order notification failed', with the traceback).",
            ),
            MetricAlarm(
                f"{metric}_unknown_order",
                1,
                f"A {name} notification, correctly signed, named an order that is not in table {orders}: "
                "another system of the same merchant uses this notify URL, or an order was lost. It was "
                "acknowledged and nothing was credited; check the order in the merchant platform.",
            ),
            MetricAlarm(
                f"{metric}_mismatch",
                1,
                f"A {name} order was paid with another amount than it asked. What was paid was allocated "
                "as it is and the payment waits in the staff payment queue (GET /staff/payments/review; "
                f"table {payments}, review_reason 'mismatch').",
            ),
            MetricAlarm(
                f"{metric}_set_aside",
                1,
                f"A {name} payment landed on no bill (another currency, or no account): it waits in the "
                "staff payment queue (GET /staff/payments/review).",
            ),
        ]
    found += [
        MetricAlarm(
            "OrdersSweep_unconfigured",
            1,
            "A rail the property offers (payment.rails) has no keys in its secret yet: its open orders "
            "are not being queried or closed. Put the keys in the secret (see the README).",
        ),
        MetricAlarm(
            "ReconciliationDifferences",
            1,
            "This morning's reconciliation found payments that differ between a provider's statement "
            "and ours (provider_only, ours_only or amount_differs). Each is an item for staff: GET "
            f"/staff/reconciliation, table {statements} (ids RC<day><rail>, open-index 'recon'). Look "
            "at each in the provider's merchant platform, correct the account, then resolve the item.",
        ),
        MetricAlarm(
            "Reconciliation_failed",
            1,
            "A provider's daily statement (WeChat Pay, Alipay or Stripe) could not be fetched (provider "
            "unreachable, keys refused, or "
            "the rail not configured). The next run tries the missing days again (3 days back); if it "
            f"persists, read the {PAYMENT_WEBHOOK} function's log ('statement not fetched').",
        ),
    ]
    return tuple(found)


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, property_id: str) -> None:
        super().__init__(scope, construct_id)
        # A customer-managed key: CloudWatch alarms cannot publish to a topic encrypted with
        # the AWS-managed SNS key.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"PropDesk {property_id}: encrypts the alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"PropDesk {property_id} alarms",
            master_key=key,
            enforce_ssl=True,
        )
        self._action = actions.SnsAction(self.topic)

    def alarm_on_dead_letters(self, name: str, queue: sqs.IQueue) -> cloudwatch.Alarm:
        """Any message in a dead-letter queue is a message that was not handled: alarm at once."""
        alarm = cloudwatch.Alarm(
            self,
            f"{name}-dead-letters",
            alarm_description=f"Messages waiting in dead-letter queue {name}: look, fix, then redrive",
            metric=queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        return alarm

    def alarm_on_function_metrics(
        self,
        function_name: str,
        environment: Mapping[str, str],
        alarms: tuple[MetricAlarm, ...],
    ) -> list[cloudwatch.Alarm]:
        """Alarm on counts a function emits with Powertools Metrics.

        Powertools writes each metric in the namespace of ``POWERTOOLS_METRICS_NAMESPACE`` with the
        one default dimension ``service`` = ``POWERTOOLS_SERVICE_NAME``; both are read from the
        function's own environment so the alarm watches exactly the series the function emits.
        """
        namespace = environment[METRICS_NAMESPACE_ENV]
        service = environment[SERVICE_NAME_ENV]
        created = []
        for spec in alarms:
            alarm = cloudwatch.Alarm(
                self,
                f"{function_name}-{spec.metric_name}",
                alarm_description=spec.description,
                metric=cloudwatch.Metric(
                    namespace=namespace,
                    metric_name=spec.metric_name,
                    dimensions_map={SERVICE_DIMENSION: service},
                    period=Duration.minutes(5),
                    statistic="Sum",
                ),
                threshold=spec.threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(self._action)
            created.append(alarm)
        return created

    def alarm_on_errors(self, name: str, function: lambda_.IFunction) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            f"{name}-errors",
            alarm_description=f"Function {name} failed invocations",
            metric=function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        return alarm
