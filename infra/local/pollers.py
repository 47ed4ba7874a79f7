"""SQS event source mappings, locally: one poller thread per manifest ``QueueTrigger``.

A poller long-polls its queue, hands the batch to the consumer as an SQS event, deletes what
succeeded and leaves the rest for redelivery, honouring ``batchItemFailures`` like Lambda's
``ReportBatchItemFailures``. A failed message is made visible again after a short delay (so
local retries happen within seconds); the queue's redrive policy moves it to the dead-letter
queue after ``maxReceiveCount`` receives (moto applies it on receive).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from infra.local.events import LambdaContext, sqs_event

log = logging.getLogger("propdesk.local.pollers")


def failed_ids(result: Any, message_ids: list[str]) -> set[str]:
    """Which messages to keep for redelivery, from a consumer's return value.

    Like Lambda: a ``batchItemFailures`` entry naming an unknown or empty id fails the whole batch.
    """
    if not isinstance(result, dict) or not result.get("batchItemFailures"):
        return set()
    known = set(message_ids)
    failed: set[str] = set()
    for item in result["batchItemFailures"]:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in known:
            return known
        failed.add(identifier)
    return failed


class QueuePoller:
    def __init__(
        self,
        *,
        queue: str,
        queue_url: str,
        function: str,
        invoke: Callable[[str, dict], Any],
        batch_size: int,
        batching_window_s: float,
        region: str,
        retry_delay_s: int = 1,
        wait_time_s: int = 1,
    ) -> None:
        self.queue = queue
        self.queue_url = queue_url
        self.function = function
        self._invoke = invoke
        self._batch_size = batch_size
        self._batching_window_s = batching_window_s
        self._region = region
        self._retry_delay_s = retry_delay_s
        self._wait_time_s = wait_time_s
        self._sqs = boto3.client("sqs")
        self.queue_arn = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.busy = False
        self.activity = 0  # batches taken so far; lets a drain check see work in between
        self.processed = 0
        self.failures = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"poller-{self.queue}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._wait_time_s + 30)

    def _receive(self, count: int, wait: int) -> list[dict[str, Any]]:
        return self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # the emulator went away on shutdown, or a transient error
                if self._stop.is_set():
                    return
                log.exception("poller %s failed; retrying", self.queue)
                time.sleep(0.5)

    def poll_once(self) -> int:
        """Receive one batch and hand it to the consumer; returns how many messages were taken."""
        messages = self._receive(min(self._batch_size, 10), self._wait_time_s)
        if not messages:
            return 0
        self.busy = True
        self.activity += 1
        try:
            deadline = time.monotonic() + self._batching_window_s
            while len(messages) < self._batch_size and time.monotonic() < deadline:
                more = self._receive(min(self._batch_size - len(messages), 10), 0)
                if not more:
                    break
                messages.extend(more)
            self._deliver(messages)
            return len(messages)
        finally:
            self.busy = False

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        ids = [m["MessageId"] for m in messages]
        event = sqs_event(messages, queue_arn=self.queue_arn)
        try:
            failed = failed_ids(self._invoke(self.function, event), ids)
        except Exception:
            log.exception("consumer %s raised; the batch will be retried", self.function)
            failed = set(ids)
        for message in messages:
            if message["MessageId"] in failed:
                self.failures += 1
                self._sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self._retry_delay_s,
                )
            else:
                self.processed += 1
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


def queue_depths(queue_urls: dict[str, str], *, client: Any) -> dict[str, dict[str, int]]:
    """Visible and in-flight message counts per queue (dead-letter queues included)."""
    sqs = client
    depths = {}
    for name, url in queue_urls.items():
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        depths[name] = {
            "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
            "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
            "delayed": int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
        }
    return depths


@dataclass(frozen=True)
class Pumped:
    processed: int
    failed: int


def pump(
    queue_url: str, handler: Callable[[dict, Any], Any], *, batch_size: int = 10, rounds: int = 1000
) -> Pumped:
    """The SQS event source, synchronously, for tests and the benchmark: receive a batch, invoke
    ``handler``, delete the records it did not report as failed, until the queue is empty (or
    ``rounds`` batches). Failed records become visible again at once (visibility timeout 0), so
    the queue's redrive policy moves them to the dead-letter queue after ``maxReceiveCount``."""
    sqs = boto3.client("sqs")
    processed = failed_count = 0
    for _ in range(rounds):
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=batch_size, VisibilityTimeout=0, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            break
        failed = failed_ids(handler(sqs_event(messages), LambdaContext()), [m["MessageId"] for m in messages])
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)],
            )
        processed += len(done)
        failed_count += len(failed)
    return Pumped(processed, failed_count)
