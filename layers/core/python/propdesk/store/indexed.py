"""Keys-only global secondary indexes, read back by key.

An index that projects the whole item is written again whenever any attribute of the item
changes (a bill paid, a payment reviewed), and its copy can lag the table. The indexes here
project keys only: DynamoDB writes an index entry only when the item enters, leaves or moves in
the index, and readers read the items themselves afterwards, 100 keys a strongly consistent
BatchGetItem, so they see the item as it is now. An item that has left the index since (its key
attribute changed or removed: a bill paid, a review resolved) is left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

from pynamodb.models import Model

M = TypeVar("M", bound=Model)
READ_BATCH = 100  # keys per BatchGetItem


def read_back(model: type[M], found: Iterable[Any], *, where: tuple[str, object]) -> Iterator[M]:
    """The items ``found`` by a keys-only index query of ``model``, read again by key, in the
    index's order, leaving out those whose attribute ``where[0]`` is no longer ``where[1]``."""
    names = model.get_attributes().items()
    hash_key = next(name for name, attr in names if attr.is_hash_key)
    range_key = next((name for name, attr in names if attr.is_range_key), None)
    attribute, value = where

    def key(item: Any) -> Any:
        return (getattr(item, hash_key), getattr(item, range_key)) if range_key else getattr(item, hash_key)

    source = iter(found)
    while page := [key(item) for item in islice(source, READ_BATCH)]:
        items = {key(item): item for item in model.batch_get(page, consistent_read=True)}
        for wanted in page:
            item = items.get(wanted)
            if item is not None and getattr(item, attribute) == value:
                yield item
