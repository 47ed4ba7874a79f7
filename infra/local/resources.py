"""Create a property's resources on an AWS emulator (moto) from the definitions the stack uses.

Tables come from the pynamodb models (``propdesk.store.models.TABLES``), queues and their
dead-letter queues from ``infra.manifest.QUEUES``, secret and parameter names from the
manifest. Used by the local runtime (against moto server) and by the tests (inside
``mock_aws``). Returns the environment the functions run with, the same variables the stack
sets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import boto3

from infra import manifest
from propdesk.config import PropertyConfig
from propdesk.store.models import TABLES


@dataclass(frozen=True)
class LocalSecrets:
    stripe_api_key: str
    stripe_webhook_secret: str
    link_key_b64: str


def queue_name(property_id: str, name: str) -> str:
    return f"propdesk-{property_id}-{name}"


def documents_bucket_name(property_id: str) -> str:
    return f"propdesk-{property_id}-documents"


def create_tables() -> None:
    dynamodb = boto3.client("dynamodb")
    for table in TABLES:
        if not table.model.exists():
            table.model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
            if table.ttl_attribute:
                dynamodb.update_time_to_live(
                    TableName=table.model.Meta.table_name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
                )


def create_queues(property_id: str) -> dict[str, str]:
    """Each queue with its dead-letter queue; returns queue name -> URL."""
    sqs = boto3.client("sqs")
    urls: dict[str, str] = {}
    for spec in manifest.QUEUES:
        dlq_url = sqs.create_queue(QueueName=queue_name(property_id, f"{spec.name}-dlq"))["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        urls[spec.name] = sqs.create_queue(
            QueueName=queue_name(property_id, spec.name),
            Attributes={
                "VisibilityTimeout": str(spec.visibility_timeout_s),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receive_count}
                ),
            },
        )["QueueUrl"]
        urls[f"{spec.name}-dlq"] = dlq_url
    return urls


def provision(config: PropertyConfig, *, public_url: str, secrets: LocalSecrets) -> dict[str, str]:
    """Create everything the functions use and return their environment variables."""
    pid = config.property_id
    create_tables()
    urls = create_queues(pid)

    secretsmanager = boto3.client("secretsmanager")
    values = {
        "stripe": {"api_key": secrets.stripe_api_key, "webhook_secret": secrets.stripe_webhook_secret},
        "link_key": {"key": secrets.link_key_b64},
    }
    for key in manifest.SECRETS:
        name = manifest.secret_name(pid, key)
        try:
            secretsmanager.create_secret(Name=name, SecretString=json.dumps(values[key]))
        except secretsmanager.exceptions.ResourceExistsException:
            secretsmanager.put_secret_value(SecretId=name, SecretString=json.dumps(values[key]))

    boto3.client("ssm").put_parameter(
        Name=manifest.public_url_parameter_name(pid), Value=public_url, Type="String", Overwrite=True
    )
    boto3.client("sesv2").create_email_identity(EmailIdentity=config.messaging.sender_email)
    bucket = documents_bucket_name(pid)
    s3 = boto3.client("s3")
    region = s3.meta.region_name
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})

    env = {
        manifest.PROPERTY_CONFIG_ENV: config.to_env_json(),
        manifest.PUBLIC_URL_PARAMETER_ENV: manifest.public_url_parameter_name(pid),
        manifest.DOCUMENTS_BUCKET_ENV: bucket,
    }
    for table in TABLES:
        env[table.env_var] = table.model.Meta.table_name
    for spec in manifest.QUEUES:
        env[manifest.queue_env(spec.name)] = urls[spec.name]
    for key in manifest.SECRETS:
        env[manifest.secret_env(key)] = manifest.secret_name(pid, key)
    return env
