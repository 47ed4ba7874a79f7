"""Create a property's resources on an AWS emulator (moto) from the definitions the stack uses.

Tables come from the pynamodb models (``propdesk.store.models.TABLES``), queues and their
dead-letter queues from ``infra.manifest.QUEUES``, every name from ``propdesk.naming``. Used by
the local runtime (against moto server) and by the tests (inside ``mock_aws``). Returns a
``LocalResources``: ``function_environment`` computes each function's environment from it, as
the stack does from its own resources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import boto3

from infra import manifest
from infra.environment import function_environment
from propdesk import naming
from propdesk.config import PropertyConfig
from propdesk.store.models import TABLES


@dataclass(frozen=True)
class LocalSecrets:
    stripe_api_key: str
    stripe_webhook_secret: str
    link_key: str
    # The WeChat Pay merchant's keys and the stand-in's platform public key (WeChatPayKeys' fields);
    # None: the property offers no WeChat Pay, and the secret holds a placeholder as deployed.
    wechatpay: dict[str, str] | None = None
    # The Alipay app's keys and the stand-in's public key (AlipayKeys' fields); None likewise.
    alipay: dict[str, str] | None = None


@dataclass(frozen=True)
class LocalResources:
    """The property's resources on the emulator, named as the stack names them."""

    property_id: str
    property_config_env: str
    queue_urls: dict[str, str] = field(default_factory=dict)  # queue name (and "<name>-dlq") -> URL

    def table_name(self, key: str) -> str:
        return naming.table_name(self.property_id, key)

    def queue_url(self, name: str) -> str:
        return self.queue_urls[name]

    def documents_bucket(self) -> str:
        return naming.documents_bucket_name(self.property_id)

    def function_env(self, spec: manifest.FunctionSpec) -> dict[str, str]:
        """The environment the stack would give ``spec``'s function."""
        return function_environment(spec, self)

    def operator_env(self) -> dict[str, str]:
        """Everything, for code that plays the operator or a test (not a function): every table,
        queue and secret, as if one function declared them all."""
        env: dict[str, str] = {}
        for spec in manifest.FUNCTIONS:
            env.update(self.function_env(spec))
        for table in TABLES:
            env[naming.table_env(table.key)] = self.table_name(table.key)
        for spec in manifest.QUEUES:
            env[naming.queue_env(spec.name)] = self.queue_url(spec.name)
        for key in manifest.SECRETS:
            env[naming.secret_env(key)] = naming.secret_name(self.property_id, key)
        # Powertools' names and log level belong to each function, not to the operator.
        return {name: value for name, value in env.items() if not name.startswith("POWERTOOLS_")}


def create_mandates_key(property_id: str) -> None:
    """The KMS key of direct-debit mandates, under the alias the functions are given."""
    kms = boto3.client("kms")
    alias = naming.mandates_key_alias(property_id)
    if any(a["AliasName"] == alias for a in kms.list_aliases()["Aliases"]):
        return
    key_id = kms.create_key(Description=f"PropDesk {property_id}: direct-debit mandates")["KeyMetadata"][
        "KeyId"
    ]
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)


def create_tables(property_id: str) -> None:
    dynamodb = boto3.client("dynamodb")
    existing = set(dynamodb.list_tables().get("TableNames", []))
    for table in TABLES:
        name = naming.table_name(property_id, table.key)
        if name in existing:
            continue
        schema = table.model._get_schema()
        request = {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": sorted(schema["key_schema"], key=lambda k: k["KeyType"] != "HASH"),
            "AttributeDefinitions": schema["attribute_definitions"],
        }
        indexes = [
            {
                "IndexName": index["index_name"],
                "KeySchema": sorted(index["key_schema"], key=lambda k: k["KeyType"] != "HASH"),
                "Projection": index["projection"],
            }
            for index in schema["global_secondary_indexes"]
        ]
        if indexes:
            request["GlobalSecondaryIndexes"] = indexes
        dynamodb.create_table(**request)
        if table.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )


def create_queues(property_id: str) -> dict[str, str]:
    """Each queue with its dead-letter queue; returns queue name (and "<name>-dlq") -> URL."""
    sqs = boto3.client("sqs")
    urls: dict[str, str] = {}
    for spec in manifest.QUEUES:
        dlq_url = sqs.create_queue(QueueName=naming.dead_letter_queue_name(property_id, spec.name))[
            "QueueUrl"
        ]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        urls[spec.name] = sqs.create_queue(
            QueueName=naming.queue_name(property_id, spec.name),
            Attributes={
                "VisibilityTimeout": str(spec.visibility_timeout_s),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receive_count}
                ),
            },
        )["QueueUrl"]
        urls[f"{spec.name}-dlq"] = dlq_url
    return urls


def provision(config: PropertyConfig, *, public_url: str, secrets: LocalSecrets) -> LocalResources:
    """Create everything the functions use; the result names it all."""
    pid = config.property_id
    create_tables(pid)
    urls = create_queues(pid)

    secretsmanager = boto3.client("secretsmanager")
    values = {
        "stripe": {"api_key": secrets.stripe_api_key, "webhook_secret": secrets.stripe_webhook_secret},
        "link_key": {"key": secrets.link_key},
        "wechatpay": secrets.wechatpay or {"mchid": "REPLACE_WITH_MCHID"},
        "alipay": secrets.alipay or {"app_id": "REPLACE_WITH_APP_ID"},
    }
    for key in manifest.SECRETS:
        name = naming.secret_name(pid, key)
        try:
            secretsmanager.create_secret(Name=name, SecretString=json.dumps(values[key]))
        except secretsmanager.exceptions.ResourceExistsException:
            secretsmanager.put_secret_value(SecretId=name, SecretString=json.dumps(values[key]))

    boto3.client("ssm").put_parameter(
        Name=naming.public_url_parameter_name(pid), Value=public_url, Type="String", Overwrite=True
    )
    boto3.client("sesv2").create_email_identity(EmailIdentity=config.messaging.sender_email)
    create_mandates_key(pid)
    bucket = naming.documents_bucket_name(pid)
    s3 = boto3.client("s3")
    region = s3.meta.region_name
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    return LocalResources(property_id=pid, property_config_env=config.to_env_json(), queue_urls=urls)
