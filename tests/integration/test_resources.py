import boto3

from infra import manifest
from propdesk import naming
from propdesk.settings import get_settings
from propdesk.store.models import TABLES


def test_provision_creates_every_table_queue_and_secret(aws):
    # GIVEN a provisioned moto world (fixture)
    # THEN every table of the models exists, every queue has a dead-letter queue
    tables = set(boto3.client("dynamodb").list_tables()["TableNames"])
    assert {naming.table_name("demo", t.key) for t in TABLES} <= tables
    sqs = boto3.client("sqs")
    for spec in manifest.QUEUES:
        attrs = sqs.get_queue_attributes(QueueUrl=aws[naming.queue_env(spec.name)], AttributeNames=["All"])
        assert "deadLetterTargetArn" in attrs["Attributes"]["RedrivePolicy"]
    # AND every secret exists under its name
    secrets = boto3.client("secretsmanager")
    for key in manifest.SECRETS:
        assert secrets.describe_secret(SecretId=naming.secret_name("demo", key))["Name"]
    # AND the functions' settings load from the environment it returned
    settings = get_settings()
    assert settings.property_config.property_id == "demo"
    assert settings.messages_queue_url == aws["MESSAGES_QUEUE_URL"]
    assert settings.stripe_secret_name == naming.secret_name("demo", "stripe")
