"""SQS queues from the manifest, each with its dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.nag import acknowledge
from infra.manifest import QueueSpec
from propdesk import naming

DLQ_RETENTION = Duration.days(14)  # the longest SQS keeps a message: time to look and redrive


def dead_letter_queue(
    scope: Construct, construct_id: str, *, queue_name: str, fifo: bool = False
) -> sqs.Queue:
    """A dead-letter queue as every part of the stack keeps them: encrypted, SSL only, 14 days."""
    return sqs.Queue(
        scope,
        construct_id,
        queue_name=queue_name,
        fifo=fifo or None,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DLQ_RETENTION,
    )


class Queues(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, property_id: str, specs: tuple[QueueSpec, ...]
    ) -> None:
        super().__init__(scope, construct_id)
        self.by_name: dict[str, sqs.Queue] = {}
        self.dead_letter: dict[str, sqs.Queue] = {}
        for spec in specs:
            suffix = ".fifo" if spec.fifo else ""
            dlq = dead_letter_queue(
                self,
                f"{spec.name}-dlq",
                queue_name=f"{naming.dead_letter_queue_name(property_id, spec.name)}{suffix}",
                fifo=spec.fifo,
            )
            acknowledge(
                dlq,
                "Serverless-SQSRedrivePolicy",
                "A dead-letter queue is the end of the line: an alarm fires on its first message and an "
                "operator redrives the messages to the source queue after fixing the cause.",
            )
            self.dead_letter[spec.name] = dlq
            self.by_name[spec.name] = sqs.Queue(
                self,
                spec.name,
                queue_name=f"{naming.queue_name(property_id, spec.name)}{suffix}",
                fifo=spec.fifo or None,
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                visibility_timeout=Duration.seconds(spec.visibility_timeout_s),
                dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=spec.max_receive_count),
            )
