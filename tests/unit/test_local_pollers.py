"""The local SQS event source: events like Lambda's, partial batch failures, redrive to the DLQ."""

import json

import boto3
import pytest
from moto import mock_aws

from infra.local.events import sqs_event
from infra.local.pollers import QueuePoller, failed_ids


@pytest.fixture
def queues():
    with mock_aws():
        sqs = boto3.client("sqs", region_name="ap-southeast-1")
        dlq = sqs.create_queue(QueueName="work-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        url = sqs.create_queue(
            QueueName="work",
            Attributes={
                "VisibilityTimeout": "60",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}),
            },
        )["QueueUrl"]
        yield sqs, url, dlq


def _poller(url, consumer):
    return QueuePoller(
        queue="work",
        queue_url=url,
        function="worker",
        invoke=consumer,
        batch_size=10,
        batching_window_s=0,
        region="ap-southeast-1",
        retry_delay_s=0,
        wait_time_s=0,
    )


def test_the_event_has_lambda_s_sqs_record_shape():
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "rh1",
        "Body": "{}",
        "MD5OfBody": "x",
        "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1", "Other": "ignored"},
    }
    (record,) = sqs_event([message], queue_arn="arn:aws:sqs:ap-southeast-1:123456789012:work")["Records"]
    assert record["messageId"] == "m1" and record["receiptHandle"] == "rh1" and record["body"] == "{}"
    assert record["attributes"] == {"ApproximateReceiveCount": "2", "SentTimestamp": "1"}
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(":work")
    assert record["awsRegion"] == "ap-southeast-1"


def test_batch_item_failures_are_read_like_lambda_does():
    ids = ["a", "b", "c"]
    assert failed_ids(None, ids) == set()
    assert failed_ids({"batchItemFailures": []}, ids) == set()
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, ids) == {"b"}
    # an unknown or empty identifier fails the whole batch
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, ids) == set(ids)
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, ids) == set(ids)


def test_successes_are_deleted_failures_retried_then_dead_lettered(queues):
    # GIVEN three messages, one of which the consumer always fails
    sqs, url, dlq = queues
    for body in ("ok-1", "poison", "ok-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    seen = []

    def consumer(name, event):
        seen.extend(r["body"] for r in event["Records"])
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "poison"
            ]
        }

    poller = _poller(url, consumer)
    # WHEN the poller runs until the queue is empty
    for _ in range(10):
        poller.poll_once()
    # THEN the good messages were delivered once, the poison one maxReceiveCount times, then moved to the DLQ
    assert sorted(b for b in seen if b != "poison") == ["ok-1", "ok-2"]
    assert seen.count("poison") == 3
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in dead] == ["poison"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert (poller.processed, poller.failures) == (2, 3)


def test_a_consumer_that_raises_leaves_the_whole_batch_for_redelivery(queues):
    sqs, url, _ = queues
    sqs.send_message(QueueUrl=url, MessageBody="one")
    calls = []

    def consumer(name, event):
        calls.append([r["attributes"]["ApproximateReceiveCount"] for r in event["Records"]])
        if len(calls) == 1:
            raise RuntimeError("crash")
        return None

    poller = _poller(url, consumer)
    poller.poll_once()
    poller.poll_once()
    # delivered again, and the receive count tells the consumer it is a retry
    assert calls == [["1"], ["2"]]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
