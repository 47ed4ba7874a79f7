"""DynamoDB write units, computed from the requests the way DynamoDB bills them.

moto answers ``ReturnConsumedCapacity`` with a constant, so the units are computed here: an
item's size is the UTF-8 length of its attribute names and values (numbers about one byte per
two digits, lists and maps 3 bytes plus 1 per element); a write costs one unit per started KB
of the item (an update or a delete: of the larger of the item before and after), twice that
inside TransactWriteItems. A global secondary index the item enters costs one unit per started
KB of what it projects (keys, plus the listed attributes for INCLUDE, the whole item for ALL);
those are counted apart, per index (for items put; an update that moves an index's key is
not counted there).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import botocore.client

KB = 1024
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}

Item = dict[str, dict[str, Any]]
Lookup = Callable[[str, Item], Item | None]  # (table, key) -> the stored item, if any


def value_size(value: dict[str, Any]) -> int:
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        digits = raw.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(raw) if isinstance(raw, bytes) else math.ceil(len(raw) * 3 / 4)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in raw.items())
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: v}) for v in raw)
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: Item) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def units(size: int) -> int:
    return max(1, math.ceil(size / KB))


class Indexes:
    """Each table's global secondary indexes: key attributes and what they project."""

    def __init__(self, describe: Callable[[str], dict[str, Any]]) -> None:
        self._describe = describe
        self._tables: dict[str, tuple[list[str], list[tuple[str, list[str], str, list[str]]]]] = {}

    def of(self, table: str) -> tuple[list[str], list[tuple[str, list[str], str, list[str]]]]:
        if table not in self._tables:
            description = self._describe(table)
            keys = [k["AttributeName"] for k in description["KeySchema"]]
            indexes = [
                (
                    index["IndexName"],
                    [k["AttributeName"] for k in index["KeySchema"]],
                    index["Projection"]["ProjectionType"],
                    index["Projection"].get("NonKeyAttributes", []),
                )
                for index in description.get("GlobalSecondaryIndexes", [])
            ]
            self._tables[table] = (keys, indexes)
        return self._tables[table]

    def writes(self, table: str, item: Item) -> Counter:
        """Units each index the item enters costs when the item is put."""
        keys, indexes = self.of(table)
        found: Counter = Counter()
        for name, index_keys, projection, included in indexes:
            if not all(k in item for k in index_keys):
                continue  # a sparse index the item is not in
            if projection == "ALL":
                projected = item
            else:
                wanted = {*keys, *index_keys, *(included if projection == "INCLUDE" else [])}
                projected = {k: v for k, v in item.items() if k in wanted}
            found[f"{table}.{name}"] += units(item_size(projected))
        return found


class Meter:
    """Write units of the DynamoDB requests it is shown: by table, and by index apart."""

    def __init__(self, indexes: Indexes, lookup: Lookup) -> None:
        self.indexes = indexes
        self.lookup = lookup
        self.tables: Counter = Counter()
        self.index_units: Counter = Counter()

    @property
    def table_units(self) -> int:
        return sum(self.tables.values())

    def before(self, operation: str, params: dict[str, Any]) -> Any:
        """What an update or a delete needs from before the request: the item's size then."""
        if operation in ("UpdateItem", "DeleteItem"):
            stored = self.lookup(params["TableName"], params["Key"])
            return item_size(stored) if stored else 0
        if operation == "TransactWriteItems":
            sizes = []
            for entry in params["TransactItems"]:
                ((kind, body),) = entry.items()
                if kind in ("Update", "Delete", "ConditionCheck"):
                    stored = self.lookup(body["TableName"], body["Key"])
                    sizes.append(item_size(stored) if stored else 0)
                else:
                    sizes.append(0)
            return sizes
        return None

    def after(self, operation: str, params: dict[str, Any], before: Any) -> None:
        if operation == "PutItem":
            self._put(params["TableName"], params["Item"])
        elif operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        self._put(table, request["PutRequest"]["Item"])
                    else:
                        self.tables[table] += 1
        elif operation in ("UpdateItem", "DeleteItem"):
            stored = self.lookup(params["TableName"], params["Key"]) if operation == "UpdateItem" else None
            self.tables[params["TableName"]] += units(max(before, item_size(stored) if stored else 0))
        elif operation == "TransactWriteItems":
            for entry, size in zip(params["TransactItems"], before, strict=True):
                ((kind, body),) = entry.items()
                table = body["TableName"]
                if kind == "Put":
                    self.tables[table] += 2 * units(item_size(body["Item"]))
                    self.index_units.update(self.indexes.writes(table, body["Item"]))
                else:
                    stored = self.lookup(table, body["Key"]) if kind == "Update" else None
                    self.tables[table] += 2 * units(max(size, item_size(stored) if stored else 0))

    def _put(self, table: str, item: Item) -> None:
        self.tables[table] += units(item_size(item))
        self.index_units.update(self.indexes.writes(table, item))


class Watch:
    """Every botocore call while installed: counted by ``service:Operation``, and DynamoDB's
    writes metered (``meter``). The meter's own reads (the item before and after an update, a
    table's indexes) go to the original method and are not counted."""

    def __init__(self) -> None:
        self.calls: Counter = Counter()
        self.meter: Meter | None = None
        self.active = True
        self._original = botocore.client.BaseClient._make_api_call

    def install(self) -> Watch:
        watch, original = self, self._original

        def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if not watch.active:
                return original(client, operation, params)
            service = client.meta.service_model.service_name
            watch.calls[f"{service}:{operation}"] += 1
            if service != "dynamodb" or operation not in WRITES:
                return original(client, operation, params)
            meter = watch._meter(client)
            before = meter.before(operation, params)
            response = original(client, operation, params)
            meter.after(operation, params, before)
            return response

        botocore.client.BaseClient._make_api_call = counted
        return self

    def uninstall(self) -> None:
        botocore.client.BaseClient._make_api_call = self._original

    def __enter__(self) -> Watch:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def _meter(self, client: Any) -> Meter:
        if self.meter is None:
            original = self._original

            def describe(table: str) -> dict[str, Any]:
                return original(client, "DescribeTable", {"TableName": table})["Table"]

            def lookup(table: str, key: Item) -> Item | None:
                found = original(client, "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True})
                return found.get("Item")

            self.meter = Meter(Indexes(describe), lookup)
        return self.meter
