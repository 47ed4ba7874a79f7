"""The Powertools idempotency store (event ids of the payment webhooks), on the idempotency table."""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from propdesk import aws
from propdesk.settings import get_settings

_layers: dict[tuple[str, int], DynamoDBPersistenceLayer] = {}


def persistence_layer() -> DynamoDBPersistenceLayer:
    """Built from the settings on first use, and again when the shared clients were reset (tests)."""
    table = get_settings().table("idempotency")
    client = aws.client("dynamodb")
    key = (table, id(client))
    layer = _layers.get(key)
    if layer is None:
        _layers.clear()
        layer = _layers[key] = DynamoDBPersistenceLayer(table_name=table, boto3_client=client)
    return layer
