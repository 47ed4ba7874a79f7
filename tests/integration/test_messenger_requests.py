"""Scale (issue 8): the messenger reads a batch's owners once and records a message in at most 3
DynamoDB requests. Counted, not timed: every botocore call the handler makes is tallied."""

from __future__ import annotations

import collections
import csv
from collections.abc import Iterator
from contextlib import contextmanager

import botocore.client
import pytest
from ops_support import bill_notice, import_demo_units, sent_emails, sent_sms

import messenger.handler as messenger_handler
from infra.config import units_csv_path
from infra.local.events import LambdaContext, sqs_event
from messenger.handler import lambda_handler
from propdesk.store.models import MessageItem

pytestmark = pytest.mark.usefixtures("daytime")

BATCH = 10
MAX_REQUESTS_PER_MESSAGE = 3


@contextmanager
def counted_calls() -> Iterator[collections.Counter[str]]:
    calls: collections.Counter[str] = collections.Counter()
    original = botocore.client.BaseClient._make_api_call

    def counting(client, operation_name, api_params):
        name = f"{client.meta.service_model.service_name}:{operation_name}"
        if str(api_params.get("TableName", "")).endswith("-links"):
            name += "@links"  # an SMS's short link: a document the SMS carries, counted apart
        calls[name] += 1
        return original(client, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = counting
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original


@pytest.fixture
def notices(aws, demo_config):
    import_demo_units(demo_config, BATCH)
    messenger_handler.messenger.cache_clear()
    rows = list(csv.DictReader(units_csv_path(demo_config).read_text(encoding="utf-8").splitlines()))[:BATCH]
    yield [bill_notice(row["owner_id"], row["unit_id"]) for row in rows]
    messenger_handler.messenger.cache_clear()


def test_a_batch_of_notices_reads_owners_once_and_records_each_in_at_most_3_requests(notices):
    assert len(notices) == BATCH
    # WHEN the messenger handles one SQS batch of bill notices
    with counted_calls() as calls:
        response = lambda_handler(sqs_event([n.model_dump_json() for n in notices]), LambdaContext())
    assert response == {"batchItemFailures": []}
    dynamodb = {op: n for op, n in calls.items() if op.startswith("dynamodb:")}
    # THEN the owners were read in one request for the whole batch, never one by one
    assert dynamodb.get("dynamodb:BatchGetItem") == 1
    assert "dynamodb:GetItem" not in dynamodb and "dynamodb:Scan" not in dynamodb
    # AND each SMS carried a short link: one put each, apart from the message's record
    texts = sent_sms()
    assert dynamodb.pop("dynamodb:PutItem@links", 0) == len(texts) > 0
    assert all("/p/" in text for _, text in texts)
    # AND each message was recorded in at most 3 requests (claim, first channel, the outcome)
    recording = sum(n for op, n in dynamodb.items() if op != "dynamodb:BatchGetItem")
    assert dynamodb.get("dynamodb:TransactWriteItems") == BATCH
    two_channel = sum(1 for n in notices if len(MessageItem.get(n.message_id).channels) == 2)
    assert two_channel > 0
    assert recording == BATCH * 2 + two_channel  # 2 for one channel, 3 for two
    assert recording <= MAX_REQUESTS_PER_MESSAGE * BATCH
    assert sum(dynamodb.values()) / BATCH <= MAX_REQUESTS_PER_MESSAGE
    # AND everything went out
    assert len(sent_emails()) + len(sent_sms()) == sum(
        len(MessageItem.get(n.message_id).channels) for n in notices
    )
