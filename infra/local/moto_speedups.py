"""Places where moto (5.2) spends the local runtime's time on work that does not change its
answers; ``install`` replaces each with the same answer computed once.

Measured by sampling the demo's runtime process (moto's server shares it with the gateway, the
Stripe stand-in and the pollers, so whatever moto burns slows all of them):

- ``SQSBackend.is_message_valid_based_on_retention_period`` builds *all* of a queue's attributes
  (counting its messages among them) for every message it hands out, to read one number: about a
  tenth of the process. Here it reads the queue's retention period directly.
- ``moto.backends.list_of_moto_modules`` lists moto's package directory (``listdir`` plus an
  ``isdir`` per entry) on every request, to route it by host: about a twelfth. The directory
  does not change while the process runs; here it is listed once.
- ``moto.core.responses`` runs ``inspect.getmembers`` over the handler class on every request to
  find the action's method. Classes do not change either; here the names are kept per class.
- DynamoDB's item operations answer with plain DynamoDB JSON, which moto's generic serializer then
  walks attribute by attribute against the service model: about a sixth of the emulator's time.
  Here those answers are written with ``json.dumps`` (binary values in base64, as the wire
  carries them, and no ``null`` members, as the serializer leaves them out);
  ``tests/unit/test_local_moto_speedups.py`` checks both give the SDK the same answers.
- A Query of a table's own key (not an index) makes moto list and sort *every* item of the table
  (``Table.all_items``) to keep those of one partition: the ledger's account and bill entries,
  read on every account page and payment, cost as much as the whole ledger. Here the query
  reads its partition only; moto sorts the partition's items by range key itself, as before.

Like ``moto_transactions``, this is the emulator's speed, not the product's: it changes no
answer, and ``make bench`` counts requests, which it does not change.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
from collections.abc import Iterable
from typing import Any

from moto import backends as moto_backends
from moto.core import responses as moto_responses
from moto.core import utils as moto_utils
from moto.core.utils import unix_time
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult
from moto.sqs.models import Message, SQSBackend

_INSTALLED = False


def _retained(self: SQSBackend, queue_name: str, message: Message) -> bool:
    queue = self.get_queue(queue_name)
    retain_until = int(queue.message_retention_period) + message.sent_timestamp / 1000  # type: ignore[operator]
    return retain_until > unix_time()


@functools.cache
def _moto_modules() -> tuple[str, ...]:
    return tuple(_ORIGINAL_MODULES())


def _list_of_moto_modules() -> Iterable[str]:
    return _moto_modules()


_ORIGINAL_MODULES = moto_backends.list_of_moto_modules


@functools.cache
def _method_names(clazz: type) -> frozenset[str]:
    return frozenset(moto_utils.method_names_from_class(clazz))


# The operations whose answers are items and counts only (DynamoDB JSON), written directly.
ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
_ORIGINAL_SERIALIZED = moto_responses.BaseResponse.serialized


def _wire(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"not DynamoDB JSON: {type(value).__name__}")


def _serialized(self: moto_responses.BaseResponse, action_result: Any) -> Any:
    if (
        isinstance(self, DynamoHandler)
        and type(action_result) is DynamoResult
        and isinstance(action_result.result, dict)
        and self._get_action() in ITEM_OPERATIONS
    ):
        result = {k: v for k, v in action_result.result.items() if v is not None}
        body = json.dumps(result, default=_wire, separators=(",", ":"))
        headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}
        return 200, headers, body
    return _ORIGINAL_SERIALIZED(self, action_result)


_ORIGINAL_QUERY = Table.query
_ORIGINAL_ALL_ITEMS = Table.all_items
_partition = threading.local()  # (table, hash key) while a base-table Query runs in this thread


def _query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    # moto's backend passes ``index_name`` as the 8th argument (7th after ``hash_key``)
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    if index_name is not None or hash_key is None:
        return _ORIGINAL_QUERY(self, hash_key, *args, **kwargs)
    _partition.scope = (self, hash_key)
    try:
        return _ORIGINAL_QUERY(self, hash_key, *args, **kwargs)
    finally:
        _partition.scope = None


def _all_items(self: Table) -> list[Any]:
    scope = getattr(_partition, "scope", None)
    if scope is None or scope[0] is not self:
        return _ORIGINAL_ALL_ITEMS(self)
    held = self.items.get(scope[1])  # .get: the defaultdict must not grow a partition
    if held is None:
        return []
    return list(held.values()) if self.range_key_attr else [held]


def install() -> None:
    """Idempotent; call before the first request reaches moto."""
    global _INSTALLED
    if _INSTALLED:
        return
    SQSBackend.is_message_valid_based_on_retention_period = _retained  # type: ignore[method-assign]
    moto_backends.list_of_moto_modules = _list_of_moto_modules  # type: ignore[assignment]
    moto_responses.method_names_from_class = _method_names  # type: ignore[assignment]
    moto_responses.BaseResponse.serialized = _serialized  # type: ignore[method-assign]
    Table.query = _query  # type: ignore[method-assign]
    Table.all_items = _all_items  # type: ignore[method-assign]
    _INSTALLED = True
