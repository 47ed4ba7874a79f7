"""DynamoDB's TransactWriteItems on moto, at the cost DynamoDB has: the items it names, not the tables.

moto (5.2) makes every TransactWriteItems deep-copy each table it touches, so that it can roll a
cancelled transaction back. Posting to a unit's account touches the bills, payments, accounts,
ledger and counters tables, so each posting costs the size of all five: a demo month (a few
hundred postings over a few thousand items) spent most of its time copying. It also isn't
isolated: two threads' transactions interleave, and a rollback restores a copy taken before the
other thread's commit, undoing it.

``install`` replaces it with what DynamoDB specifies, in the same moto backend: every
condition is evaluated against the state before the transaction (its items are distinct, so
that is the state each item sees), and only if all hold are the writes applied; transactions
run one at a time. A write that still fails midway puts back the items written so far. The
answers are moto's own: ``TransactionCanceledException`` with one reason per item, in order.

This is the emulator's performance, not the product's: the local runtime's moto server and the
tests' ``mock_aws`` both install it (``make bench`` counts AWS requests, which it does not change).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend

_LOCK = threading.RLock()
_OPERATIONS = {"ConditionCheck", "Put", "Delete", "Update"}
_ORIGINAL = DynamoDBBackend.transact_write_items


def _key(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return op["Key"]
    table = backend.get_table(op["TableName"])
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    with _LOCK:
        targets: set[tuple[str, str]] = set()
        writes: list[tuple[str, dict[str, Any], dict[str, Any], Any]] = []
        errors: list[tuple[Any, Any, Any]] = []
        for item in transact_items:
            if len(item) > 1:
                raise TransactWriteSingleOpException
            op_type, op = next(iter(item.items()))
            original_item = None
            try:
                if op_type not in _OPERATIONS:
                    raise ValueError("Unsupported transaction operation")
                key = _key(self, op_type, op)
                target = (str(op["TableName"]), str(dict(sorted(key.items()))))
                if target in targets:
                    raise MultipleTransactionsException()
                targets.add(target)
                current = self.get_item(op["TableName"], key)
                condition = op.get("ConditionExpression")
                if condition is not None:
                    check = get_filter_expression(
                        condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                    )
                    if not check.expr(current):
                        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original_item)
                if op_type != "ConditionCheck":
                    writes.append((op_type, op, key, copy.deepcopy(current)))
                errors.append((None, None, None))
            except MockValidationException:
                raise
            except ConditionalCheckFailed as failed:
                errors.append(("ConditionalCheckFailed", str(failed.message), original_item))
            except Exception as error:
                errors.append((type(error).__name__, str(error), original_item))
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)
        done: list[tuple[str, dict[str, Any], Any]] = []
        try:
            for op_type, op, key, before in writes:
                table = op["TableName"]
                if op_type == "Put":
                    self.put_item(table, op["Item"])
                elif op_type == "Delete":
                    self.delete_item(table, key)
                else:
                    self.update_item(
                        table,
                        key,
                        update_expression=op["UpdateExpression"],
                        condition_expression=None,
                        expression_attribute_names=op.get("ExpressionAttributeNames"),
                        expression_attribute_values=op.get("ExpressionAttributeValues"),
                    )
                done.append((table, key, before))
        except Exception:
            for table, key, before in reversed(done):
                if before is None:
                    self.delete_item(table, key)
                else:
                    self.put_item(table, before.to_json()["Attributes"])
            raise


def install() -> None:
    """Use it in this process's moto (idempotent)."""
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def uninstall() -> None:
    DynamoDBBackend.transact_write_items = _ORIGINAL  # type: ignore[method-assign]
