"""EventBridge Scheduler schedules from the manifest, in the property's time zone."""

from __future__ import annotations

from aws_cdk import Duration, Stack, TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from constructs import Construct

from infra.constructs.nag import acknowledge, arn_in_finding
from infra.constructs.queues import dead_letter_queue
from infra.manifest import Schedule

RETRY_ATTEMPTS = 3
MAX_EVENT_AGE = Duration.hours(2)  # a daily run that cannot start within two hours goes to the DLQ


class Schedules(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, property_id: str, time_zone: str) -> None:
        super().__init__(scope, construct_id)
        self.time_zone = TimeZone.of(time_zone)
        self.property_id = property_id
        # Invocations the scheduler could not deliver after its retries.
        self.dead_letter_queue = dead_letter_queue(
            self, "dlq", queue_name=f"propdesk-{property_id}-schedules-dlq"
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the EventBridge Scheduler targets "
            "(DeadLetterConfig of each schedule), which cdk-nag cannot see from SQS redrive policies.",
        )
        acknowledge(
            self.dead_letter_queue,
            "Serverless-SQSRedrivePolicy",
            "A dead-letter queue is the end of the line: an alarm fires on its first message and an "
            "operator re-runs the schedule by hand after fixing the cause.",
        )
        # The role the scheduler assumes, only from this account.
        self.role = iam.Role(
            self,
            "InvokeRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
            description=f"EventBridge Scheduler invokes PropDesk {property_id} functions",
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
                role=self.role,
            ),
        )
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::{arn_in_finding(function)}:*]",
            "lambda:InvokeFunction on '<function ARN>:*' is how CDK's LambdaInvoke target grants invoking "
            "the function's versions and aliases; it names one function only.",
        )
        self.schedules[schedule.name] = created
        return created
