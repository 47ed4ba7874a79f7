"""The emulator's shortcuts (``infra.local.moto_speedups``) give the SDK the answers moto's own
code gives: every DynamoDB item operation, with every attribute type, run once through moto's
serializer and once through the direct one, must parse to the same response."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import responses as moto_responses

from infra.local import moto_speedups

ITEM = {
    "pk": {"S": "unit#A-101"},
    "sk": {"S": "2026-12"},
    "n": {"N": "327.27"},
    "big": {"N": "12345678901234567890"},
    "b": {"B": b"\x00\xffpdf"},
    "bs": {"BS": [b"\x01", b"\x02"]},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.5"]},
    "l": {"L": [{"S": "x"}, {"N": "1"}, {"BOOL": False}]},
    "m": {"M": {"nested": {"M": {"z": {"NULL": True}}}, "zh": {"S": "锦绣花园"}}},
    "t": {"BOOL": True},
}


def _operations(client: Any) -> list[dict[str, Any]]:
    client.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    key = {"pk": ITEM["pk"], "sk": ITEM["sk"]}
    answers = [
        client.put_item(TableName="t", Item=ITEM, ReturnConsumedCapacity="TOTAL"),
        client.put_item(TableName="t", Item={**ITEM, "n": {"N": "1"}}, ReturnValues="ALL_OLD"),
        client.get_item(TableName="t", Key=key, ConsistentRead=True),
        client.get_item(TableName="t", Key={"pk": {"S": "none"}, "sk": {"S": "none"}}),
        client.update_item(
            TableName="t",
            Key=key,
            UpdateExpression="SET n = n + :one, l = list_append(l, :more)",
            ExpressionAttributeValues={":one": {"N": "1"}, ":more": {"L": [{"S": "y"}]}},
            ReturnValues="ALL_NEW",
            ReturnConsumedCapacity="TOTAL",
        ),
        client.query(
            TableName="t",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": ITEM["pk"]},
            Limit=1,
        ),
        client.scan(TableName="t", ProjectionExpression="pk, m.zh"),
        client.batch_get_item(RequestItems={"t": {"Keys": [key]}}, ReturnConsumedCapacity="TOTAL"),
        client.batch_write_item(
            RequestItems={"t": [{"PutRequest": {"Item": {**ITEM, "sk": {"S": "2027-01"}}}}]}
        ),
        client.transact_get_items(TransactItems=[{"Get": {"TableName": "t", "Key": key}}]),
        client.transact_write_items(
            TransactItems=[{"Put": {"TableName": "t", "Item": {**ITEM, "sk": {"S": "2027-02"}}}}]
        ),
        client.delete_item(TableName="t", Key=key, ReturnValues="ALL_OLD"),
    ]
    with pytest.raises(client.exceptions.ConditionalCheckFailedException) as refused:
        client.put_item(TableName="t", Item=ITEM | key, ConditionExpression="attribute_exists(pk)")
    answers.append(refused.value.response["Error"])
    return [{k: v for k, v in answer.items() if k != "ResponseMetadata"} for answer in answers]


def _answers(monkeypatch: pytest.MonkeyPatch, serialized: Any) -> list[dict[str, Any]]:
    monkeypatch.setattr(moto_responses.BaseResponse, "serialized", serialized)
    with mock_aws():
        return _operations(boto3.client("dynamodb", region_name="ap-southeast-1"))


def test_direct_dynamodb_answers_parse_as_moto_s_own(monkeypatch):
    moto_speedups.install()
    theirs = _answers(monkeypatch, moto_speedups._ORIGINAL_SERIALIZED)
    ours = _answers(monkeypatch, moto_speedups._serialized)
    assert ours == theirs
    assert ours[2]["Item"]["b"]["B"] == b"\x00\xffpdf"  # binary round-trips through base64
    assert ours[3] == {}  # no item: no "Item" member at all


def test_the_sqs_retention_check_still_drops_expired_messages(monkeypatch):
    import time

    moto_speedups.install()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="ap-southeast-1")
        url = sqs.create_queue(QueueName="q", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="old")
        assert len(sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages", [])) == 1
        real_time = time.time
        monkeypatch.setattr(moto_speedups, "unix_time", lambda: real_time() + 61)
        assert sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages", []) == []


def test_a_query_of_the_table_s_key_reads_its_partition_and_answers_as_moto_does(monkeypatch):
    import boto3
    from moto import mock_aws
    from moto.dynamodb.models.table import Table

    def answers() -> list:
        client = boto3.client("dynamodb", region_name="ap-southeast-1")
        query = {"TableName": "t", "KeyConditionExpression": "e = :e", "ConsistentRead": True}
        return [
            client.query(**query, ExpressionAttributeValues={":e": {"S": entity}})["Items"]
            for entity in ("account#A-101", "account#A-102", "nobody")
        ] + [
            client.query(
                TableName="t",
                KeyConditionExpression="e = :e AND begins_with(s, :p)",
                ExpressionAttributeValues={":e": {"S": "account#A-101"}, ":p": {"S": "charge#"}},
                ScanIndexForward=False,
            )["Items"],
            client.query(
                TableName="t",
                IndexName="by-kind",
                KeyConditionExpression="k = :k",
                ExpressionAttributeValues={":k": {"S": "charge"}},
            )["Items"],
        ]

    def world() -> list:
        with mock_aws():
            client = boto3.client("dynamodb", region_name="ap-southeast-1")
            client.create_table(
                TableName="t",
                KeySchema=[
                    {"AttributeName": "e", "KeyType": "HASH"},
                    {"AttributeName": "s", "KeyType": "RANGE"},
                ],
                AttributeDefinitions=[
                    {"AttributeName": "e", "AttributeType": "S"},
                    {"AttributeName": "s", "AttributeType": "S"},
                    {"AttributeName": "k", "AttributeType": "S"},
                ],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": "by-kind",
                        "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                    }
                ],
                BillingMode="PAY_PER_REQUEST",
            )
            for unit in ("A-101", "A-102", "A-103"):
                for seq in ("charge#2027-02", "paid#1", "charge#2027-01"):
                    item = {"e": {"S": f"account#{unit}"}, "s": {"S": seq}, "k": {"S": seq.split("#")[0]}}
                    client.put_item(TableName="t", Item=item)
            return answers()

    monkeypatch.setattr(Table, "query", moto_speedups._ORIGINAL_QUERY)
    monkeypatch.setattr(Table, "all_items", moto_speedups._ORIGINAL_ALL_ITEMS)
    theirs = world()
    monkeypatch.setattr(Table, "query", moto_speedups._query)
    monkeypatch.setattr(Table, "all_items", moto_speedups._all_items)
    ours = world()
    assert ours == theirs
    assert [i["s"]["S"] for i in ours[0]] == ["charge#2027-01", "charge#2027-02", "paid#1"]
    assert ours[2] == [] and [i["s"]["S"] for i in ours[3]] == ["charge#2027-02", "charge#2027-01"]
    assert len(ours[4]) == 6  # an index query still sees every partition
