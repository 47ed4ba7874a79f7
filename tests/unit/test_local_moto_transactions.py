"""The local runtime's TransactWriteItems on moto behaves as DynamoDB specifies: all or
nothing, one reason per item in order, conditions against the state before the transaction,
and one transaction at a time."""

from __future__ import annotations

import threading

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra.local import moto_transactions


@pytest.fixture
def ddb():
    moto_transactions.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="ap-southeast-1")
        for name in ("a", "b"):
            client.create_table(
                TableName=name,
                KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        yield client


def put(table, key, value, condition=None):
    op = {"TableName": table, "Item": {"k": {"S": key}, "v": {"N": str(value)}}}
    if condition:
        op["ConditionExpression"] = condition
    return {"Put": op}


def value(client, table, key):
    item = client.get_item(TableName=table, Key={"k": {"S": key}}).get("Item")
    return int(item["v"]["N"]) if item else None


def test_all_writes_land_when_every_condition_holds(ddb):
    ddb.transact_write_items(TransactItems=[put("a", "x", 1, "attribute_not_exists(k)"), put("b", "y", 2)])
    assert (value(ddb, "a", "x"), value(ddb, "b", "y")) == (1, 2)


def test_one_failed_condition_writes_nothing_and_names_the_item(ddb):
    ddb.put_item(TableName="b", Item={"k": {"S": "y"}, "v": {"N": "7"}})
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(
            TransactItems=[
                put("a", "x", 1),
                put("b", "y", 2, "attribute_not_exists(k)"),
                {
                    "Update": {
                        "TableName": "a",
                        "Key": {"k": {"S": "z"}},
                        "UpdateExpression": "SET v = :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )
    reasons = [r["Code"] for r in caught.value.response["CancellationReasons"]]
    assert reasons == ["None", "ConditionalCheckFailed", "None"]
    assert (value(ddb, "a", "x"), value(ddb, "b", "y"), value(ddb, "a", "z")) == (None, 7, None)


def test_the_same_item_twice_is_a_validation_error(ddb):
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=[put("a", "x", 1), put("a", "x", 2)])
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert value(ddb, "a", "x") is None


def test_concurrent_increments_under_a_version_condition_never_lose_one(ddb):
    ddb.put_item(TableName="a", Item={"k": {"S": "n"}, "v": {"N": "0"}})
    done = []

    def bump():
        while True:
            seen = value(ddb, "a", "n")
            try:
                ddb.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": "a",
                                "Item": {"k": {"S": "n"}, "v": {"N": str(seen + 1)}},
                                "ConditionExpression": "v = :seen",
                                "ExpressionAttributeValues": {":seen": {"N": str(seen)}},
                            }
                        },
                        put("b", f"by-{seen + 1}", 1, "attribute_not_exists(k)"),
                    ]
                )
                done.append(seen + 1)
                return
            except ClientError:
                continue

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(done) == list(range(1, 9)) and value(ddb, "a", "n") == 8
    assert len(ddb.scan(TableName="b")["Items"]) == 8
