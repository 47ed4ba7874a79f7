"""Reading items of several tables in one BatchGetItem (DynamoDB allows 100 keys a request)."""

from __future__ import annotations

import itertools
import time
from typing import Any

from pynamodb.models import Model

BATCH_GET_LIMIT = 100


def batch_get(
    wanted: dict[type[Model], list[dict[str, Any]]], *, consistent: bool = True
) -> dict[type[Model], list[Model]]:
    """Items by raw key, per model: one request per 100 keys, more only for keys DynamoDB leaves
    unprocessed (retried with a short back-off)."""
    wanted = {model: keys for model, keys in wanted.items() if keys}
    if not wanted:
        return {}
    for model in wanted:
        model._get_connection()  # names the table from the settings (ConfigurationMissing if undeclared)
    by_table = {model.Meta.table_name: model for model in wanted}
    keys = [(model.Meta.table_name, key) for model, model_keys in wanted.items() for key in model_keys]
    client = next(iter(wanted))._get_connection().connection.client  # the models' own client
    found: dict[type[Model], list[Model]] = {}
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        request: dict[str, Any] = {}
        for table, key in keys[start : start + BATCH_GET_LIMIT]:
            request.setdefault(table, {"Keys": [], "ConsistentRead": consistent})["Keys"].append(key)
        for attempt in itertools.count():
            if not request:
                break
            if attempt:
                time.sleep(min(0.05 * 2**attempt, 1.0))  # DynamoDB left keys out: back off
            response = client.batch_get_item(RequestItems=request)
            for table, items in response.get("Responses", {}).items():
                model = by_table[table]
                found.setdefault(model, []).extend(model.from_raw_data(item) for item in items)
            request = response.get("UnprocessedKeys") or {}
    return found
