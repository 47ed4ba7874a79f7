"""EventBridge Scheduler schedules from the manifest, in the property's time zone."""

from __future__ import annotations

from aws_cdk import Duration, TimeZone
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.manifest import Schedule

RETRY_ATTEMPTS = 3
MAX_EVENT_AGE = Duration.hours(2)  # a daily run that cannot start within two hours goes to the DLQ


class Schedules(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, property_id: str, time_zone: str) -> None:
        super().__init__(scope, construct_id)
        self.time_zone = TimeZone.of(time_zone)
        self.property_id = property_id
        # Invocations the scheduler could not deliver after its retries.
        self.dead_letter_queue = sqs.Queue(
            self,
            "dlq",
            queue_name=f"propdesk-{property_id}-schedules-dlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.schedules: dict[str, scheduler.Schedule] = {}

    def add(self, schedule: Schedule, *, expression: str, function: lambda_.IFunction) -> scheduler.Schedule:
        created = scheduler.Schedule(
            self,
            schedule.name,
            schedule_name=f"propdesk-{self.property_id}-{schedule.name}",
            description=schedule.description,
            schedule=scheduler.ScheduleExpression.expression(expression, self.time_zone),
            target=targets.LambdaInvoke(
                function,
                input=scheduler.ScheduleTargetInput.from_object(schedule.payload),
                retry_attempts=RETRY_ATTEMPTS,
                max_event_age=MAX_EVENT_AGE,
                dead_letter_queue=self.dead_letter_queue,
            ),
        )
        self.schedules[schedule.name] = created
        return created
