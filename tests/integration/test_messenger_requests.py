"""Scale (issue 8): the messenger reads a batch's owners once and records a message in at most 3
DynamoDB requests. Counted, not timed: every botocore call the handler makes is tallied."""

from __future__ import annotations

import collections
import csv
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

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
    # AND each message was recorded in at most 3 requests, its SMS's short link included: the
    # claim, the outcome, and between them the first channel's record (e-mail first, with the
    # SMS's link in the same request) or, for an SMS alone, its link
    recording = sum(n for op, n in dynamodb.items() if op != "dynamodb:BatchGetItem")
    records = [MessageItem.get(n.message_id) for n in notices]
    two_channel = sum(1 for r in records if len(r.channels) == 2)
    sms_only = sum(1 for r in records if list(r.channels) == ["sms"])
    assert two_channel > 0
    assert dynamodb.get("dynamodb:TransactWriteItems") == BATCH + two_channel
    assert dynamodb.get("dynamodb:PutItem@links", 0) == sms_only
    assert recording == BATCH * 2 + two_channel + sms_only
    assert recording <= MAX_REQUESTS_PER_MESSAGE * BATCH
    assert sum(dynamodb.values()) / BATCH <= MAX_REQUESTS_PER_MESSAGE
    # AND every SMS carries a short link that leads to its owner's pay page
    from propdesk.store.links import LinkRepository

    texts = sent_sms()
    assert texts and all("/p/" in text for _, text in texts)
    for _, text in texts:
        code = text.rsplit("/p/", 1)[1].split()[0]
        assert LinkRepository().token(code, now=datetime.now(UTC))
    # AND everything went out
    assert len(sent_emails()) + len(sent_sms()) == sum(
        len(MessageItem.get(n.message_id).channels) for n in notices
    )


def test_a_short_link_code_already_taken_is_drawn_again_and_the_e_mail_is_not_sent_twice(
    notices, monkeypatch
):
    from datetime import timedelta

    import propdesk.services.messenger as messenger_service
    from propdesk.services.short_links import ShortLinks
    from propdesk.store.links import LinkRepository

    taken, fresh = "A" * 11, "B" * 11
    assert LinkRepository().put(taken, token="someone.else", expires_at=datetime.now(UTC) + timedelta(days=1))
    draws = iter([taken, fresh])
    monkeypatch.setattr(messenger_service, "ShortLinks", lambda: ShortLinks(new_code=lambda: next(draws)))
    # GIVEN an owner with an e-mail address and a phone that takes SMS
    notice = next(n for n in notices if n.owner_id == "O0001")
    # WHEN the first code drawn for the SMS turns out to be taken
    response = lambda_handler(sqs_event([notice.model_dump_json()]), LambdaContext())
    # THEN the e-mail went once, the SMS carries the second code, and the first still leads elsewhere
    assert response == {"batchItemFailures": []}
    assert len(sent_emails()) == 1
    [(_, text)] = sent_sms()
    assert f"/p/{fresh}" in text and taken not in text
    assert LinkRepository().token(fresh, now=datetime.now(UTC)) != "someone.else"
    assert LinkRepository().token(taken, now=datetime.now(UTC)) == "someone.else"
    assert list(MessageItem.get(notice.message_id).channels) == ["email", "sms"]
