"""DynamoDB tables, built from the pynamodb models so keys and indexes are defined once."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct
from pynamodb.models import Model

from propdesk import naming
from propdesk.store.models import TABLES, TableDef

_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


@dataclass(frozen=True)
class IndexSchema:
    name: str
    hash_key: tuple[str, str]
    range_key: tuple[str, str] | None
    projection: str  # ALL | KEYS_ONLY | INCLUDE
    non_key_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSchema:
    hash_key: tuple[str, str]  # (attribute name, DynamoDB type)
    range_key: tuple[str, str] | None
    indexes: tuple[IndexSchema, ...]


def _keys(key_schema: list[dict], types: dict[str, str]) -> tuple[tuple[str, str], tuple[str, str] | None]:
    by_type = {k["KeyType"]: k["AttributeName"] for k in key_schema}
    hash_name, range_name = by_type["HASH"], by_type.get("RANGE")
    return (hash_name, types[hash_name]), (range_name, types[range_name]) if range_name else None


def table_schema(model: type[Model]) -> TableSchema:
    """Keys and global secondary indexes of a pynamodb model, as pynamodb's own create_table sees them."""
    schema = model._get_schema()  # the same schema pynamodb sends to CreateTable
    types = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}
    if schema.get("local_secondary_indexes"):
        raise ValueError(f"{model.__name__}: local secondary indexes are not supported by the stack yet")
    hash_key, range_key = _keys(schema["key_schema"], types)
    indexes = []
    for index in sorted(schema.get("global_secondary_indexes", []), key=lambda i: i["index_name"]):
        index_hash, index_range = _keys(index["key_schema"], types)
        projection = index["projection"]
        indexes.append(
            IndexSchema(
                name=index["index_name"],
                hash_key=index_hash,
                range_key=index_range,
                projection=projection["ProjectionType"],
                non_key_attributes=tuple(projection.get("NonKeyAttributes", ())),
            )
        )
    return TableSchema(hash_key=hash_key, range_key=range_key, indexes=tuple(indexes))


def _attribute(key: tuple[str, str] | None) -> dynamodb.Attribute | None:
    return dynamodb.Attribute(name=key[0], type=_TYPES[key[1]]) if key else None


class Tables(Construct):
    """One on-demand table per ``TableDef``: point-in-time recovery, deletion protection, retained."""

    def __init__(self, scope: Construct, construct_id: str, *, property_id: str) -> None:
        super().__init__(scope, construct_id)
        self.by_key: dict[str, dynamodb.Table] = {}
        self.defs: dict[str, TableDef] = {}
        self.schemas: dict[str, TableSchema] = {}
        for table_def in TABLES:
            schema = table_schema(table_def.model)
            table = dynamodb.Table(
                self,
                table_def.key.capitalize(),
                # A fixed name an administrator recognises; also keeps the functions' environment
                # measurable at synth (see functions.ENV_LIMIT_BYTES).
                table_name=naming.table_name(property_id, table_def.key),
                partition_key=_attribute(schema.hash_key),
                sort_key=_attribute(schema.range_key),
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                deletion_protection=True,
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                time_to_live_attribute=table_def.ttl_attribute,
                removal_policy=RemovalPolicy.RETAIN,
            )
            for index in schema.indexes:
                table.add_global_secondary_index(
                    index_name=index.name,
                    partition_key=_attribute(index.hash_key),
                    sort_key=_attribute(index.range_key),
                    projection_type=dynamodb.ProjectionType(index.projection),
                    non_key_attributes=list(index.non_key_attributes) or None,
                )
            self.by_key[table_def.key] = table
            self.defs[table_def.key] = table_def
            self.schemas[table_def.key] = schema
