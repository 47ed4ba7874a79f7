"""PropertyStack: one property's whole deployment, composed from the constructs and wired by the manifest.

Every function, schedule, queue, table grant and secret comes from ``infra/manifest.py``, every
route and its audience from the route table (``propdesk.routes``), every table's keys and indexes
from ``propdesk.store.models.TABLES``, each function's environment from ``infra.environment``.
This module only wires.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from infra import manifest
from infra.constructs.api import Api
from infra.constructs.auth import StaffAuth
from infra.constructs.documents import Documents
from infra.constructs.functions import Functions
from infra.constructs.messaging import Messaging
from infra.constructs.monitoring import PAYMENT_WEBHOOK, Monitoring, payment_webhook_alarms
from infra.constructs.nag import acknowledge, arn_in_finding
from infra.constructs.queues import Queues
from infra.constructs.schedules import Schedules
from infra.constructs.secrets import Secrets
from infra.constructs.tables import Tables
from infra.environment import function_environment
from propdesk import naming
from propdesk.config import PropertyConfig
from propdesk.routes import ProviderSignature
from propdesk.settings import compress_env_value


def stack_name(property_id: str) -> str:
    return f"PropDesk-{property_id}"


@dataclass(frozen=True)
class StackResources:
    """The stack's resources, as ``function_environment`` names them (CloudFormation tokens)."""

    property_id: str
    property_config_env: str
    tables: Tables
    queues: Queues
    documents: Documents

    def table_name(self, key: str) -> str:
        # The name the table is created with (a literal, not a token: Lambda's 4 KB environment
        # counts its bytes, and the role's grant on the table already orders the deployment).
        if key not in self.tables.by_key:
            raise KeyError(f"no table {key!r} in the stack")
        return naming.table_name(self.property_id, key)

    def queue_url(self, name: str) -> str:
        return self.queues.by_name[name].queue_url

    def documents_bucket(self) -> str:
        return self.documents.bucket.bucket_name


class PropertyStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PropertyConfig,
        functions: tuple[manifest.FunctionSpec, ...] = manifest.FUNCTIONS,
        queues: tuple[manifest.QueueSpec, ...] = manifest.QUEUES,
        **kwargs,
    ) -> None:
        super().__init__(
            scope, construct_id, description=f"PropDesk for {config.name.en} ({config.property_id})", **kwargs
        )
        pid = config.property_id
        self.config = config
        self.specs = {spec.name: spec for spec in functions}

        self.tables = Tables(self, "Tables", property_id=pid)
        self.queues = Queues(self, "Queues", property_id=pid, specs=queues)
        self.documents = Documents(self, "Documents")
        self.secrets = Secrets(self, "Secrets", property_id=pid)
        # Owners' bank account numbers (direct-debit mandates) are encrypted under this key, bound
        # to their unit (encryption context); only the api function may use it.
        self.mandates_key = kms.Key(
            self,
            "MandatesKey",
            alias=naming.mandates_key_alias(pid),
            description=f"PropDesk {pid}: encrypts owners' bank account numbers (direct debit)",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.auth = StaffAuth(self, "StaffAuth", property_id=pid, roles=manifest.staff_roles(config))
        self.messaging = Messaging(
            self, "Messaging", property_id=pid, sender_email=config.messaging.sender_email
        )
        self.monitoring = Monitoring(self, "Monitoring", property_id=pid)
        resources = StackResources(
            property_id=pid,
            property_config_env=compress_env_value(config.to_env_json()),
            tables=self.tables,
            queues=self.queues,
            documents=self.documents,
        )
        self.functions = Functions(
            self,
            "Functions",
            specs=functions,
            property_id=pid,
            environments={spec.name: function_environment(spec, resources) for spec in functions},
        )
        self.api = Api(
            self,
            "Api",
            property_id=pid,
            routes=[(spec, route) for spec in functions for route in spec.routes],
            functions=self.functions.by_name,
            jwt_issuer=self.auth.issuer_url,
            jwt_audience=self.auth.client.user_pool_client_id,
            public_url_parameter_name=naming.public_url_parameter_name(pid),
        )
        self.schedules = Schedules(self, "Schedules", property_id=pid, time_zone=config.time_zone)

        for spec in functions:
            self._wire(spec)

        for name, dlq in self.queues.dead_letter.items():
            self.monitoring.alarm_on_dead_letters(f"{name}-dlq", dlq)
        self.monitoring.alarm_on_dead_letters("schedules-dlq", self.schedules.dead_letter_queue)
        self.monitoring.alarm_on_dead_letters("contact-events-dlq", self.messaging.contact_events_dlq)
        self.monitoring.alarm_on_dead_letters("failed-runs", self.functions.failed_async)
        self.monitoring.alarm_on_function_metrics(
            PAYMENT_WEBHOOK,
            self.functions.environments[PAYMENT_WEBHOOK],
            payment_webhook_alarms(pid),
        )
        self._outputs()

    def _wire(self, spec: manifest.FunctionSpec) -> None:
        """Triggers and least-privilege grants of one function, as its spec lists them (its
        environment names the same resources: ``infra.environment``)."""
        fn = self.functions.by_name[spec.name]

        for key, access in spec.tables.items():
            table = self.tables.by_key[key]
            if access == "read":
                table.grant_read_data(fn)
            else:
                table.grant_read_write_data(fn)

        for name in spec.sends_to:
            self.queues.by_name[name].grant_send_messages(fn)

        for key in spec.secrets:
            self.secrets.by_key[key].grant_read(fn)

        if spec.reads_public_url:
            self.api.public_url.grant_read(fn)

        if spec.documents:
            self._grant_documents(spec, fn)

        if spec.mandates_key:
            # Exactly the calls the code makes (no GenerateDataKey*, no ReEncrypt*), on this key only.
            actions = ["kms:Encrypt"] + (["kms:Decrypt"] if spec.mandates_key == "encrypt_decrypt" else [])
            fn.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=[self.mandates_key.key_arn]))

        if spec.sends_email:
            self.messaging.grant_send_email(fn)
        if spec.sends_sms:
            self.messaging.grant_send_sms(fn)
        if spec.contact_events:
            self.messaging.deliver_contact_events(fn)

        for trigger in spec.consumes:
            queue_spec = manifest.queue(trigger.queue)
            if queue_spec.visibility_timeout_s < spec.timeout_s:
                raise ValueError(
                    f"queue {queue_spec.name!r}: visibility timeout {queue_spec.visibility_timeout_s}s is "
                    f"shorter than consumer {spec.name!r}'s timeout {spec.timeout_s}s"
                )
            mapping = sources.SqsEventSource(
                self.queues.by_name[trigger.queue],
                batch_size=trigger.batch_size,
                max_batching_window=(
                    Duration.seconds(trigger.max_batching_window_s) if trigger.max_batching_window_s else None
                ),
                report_batch_item_failures=True,
            )
            fn.add_event_source(mapping)
            acknowledge(
                fn,
                "Serverless-LambdaEventSourceMappingDestination",
                "SQS event source mappings take no on-failure destination: a message that keeps failing "
                f"goes to queue {trigger.queue!r}'s own dead-letter queue (redrive policy), which has an alarm.",
            )

        for schedule in spec.schedules:
            if not schedule.applies(self.config):
                continue
            self.schedules.add(schedule, expression=schedule.expression(self.config), function=fn)

        self.monitoring.alarm_on_errors(spec.name, fn)
        self._acknowledge_function_findings(spec, fn)

    def _grant_documents(self, spec: manifest.FunctionSpec, fn: lambda_.Function) -> None:
        """The objects under the function's document prefixes: read (and write), nothing else in
        the bucket. Listing is allowed under those prefixes only, so a missing object is a 404
        (without it S3 answers 403, and "not made yet" would look like "not allowed")."""
        bucket = self.documents.bucket
        actions = ["s3:GetObject"] + (["s3:PutObject"] if spec.documents == "read_write" else [])
        objects = [bucket.arn_for_objects(f"{prefix}*") for prefix in spec.document_prefixes]
        fn.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=objects))
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in spec.document_prefixes]}},
            )
        )
        role = fn.role
        assert role is not None
        for prefix in spec.document_prefixes:
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::{arn_in_finding(bucket)}/{prefix}*]",
                f"The function reads{' and writes' if spec.documents == 'read_write' else ''} the documents "
                f"under {prefix!r} only (one object per document, named by the code); no other part of the "
                "bucket and no bucket-level action but listing that prefix.",
            )

    def _acknowledge_function_findings(self, spec: manifest.FunctionSpec, fn: lambda_.Function) -> None:
        role = fn.role
        assert role is not None
        acknowledge(
            role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "AWSLambdaBasicExecutionRole only allows writing the function's own CloudWatch logs "
            "(logs:CreateLogGroup/CreateLogStream/PutLogEvents); a hand-written copy would add nothing.",
        )
        wildcard_reason = (
            "X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) only accepts Resource '*'."
        )
        if spec.sends_sms:
            wildcard_reason += (
                " sns:Publish to a phone number (SMS) has no resource ARN, so it can only be allowed on '*';"
                " a Deny on every topic ARN in the same policy limits it to SMS."
            )
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]", wildcard_reason)
        for key in spec.tables:
            table = self.tables.by_key[key]
            if self.tables.schemas[key].indexes:
                acknowledge(
                    role,
                    f"AwsSolutions-IAM5[Resource::{arn_in_finding(table)}/index/*]",
                    f"Access to table {key!r} includes its own global secondary indexes "
                    f"({', '.join(i.name for i in self.tables.schemas[key].indexes)}), which the "
                    "repositories query instead of scanning; no other table is covered.",
                )

    def _outputs(self) -> None:
        pid = self.config.property_id
        CfnOutput(self, "ApiUrl", value=self.api.url, description="Public base URL of the API")
        CfnOutput(self, "UserPoolId", value=self.auth.user_pool.user_pool_id, description="Staff user pool")
        CfnOutput(
            self,
            "StaffConsoleClientId",
            value=self.auth.client.user_pool_client_id,
            description="App client id of the staff console (SRP sign-in, no secret)",
        )
        CfnOutput(
            self,
            "StripeSecretName",
            value=naming.secret_name(pid, "stripe"),
            description="Created with placeholders: put the real Stripe keys before going live, as "
            '{"api_key": "sk_...", "webhook_secret": "whsec_..."} (aws secretsmanager put-secret-value)',
        )
        CfnOutput(
            self,
            "WeChatPaySecretName",
            value=naming.secret_name(pid, "wechatpay"),
            description="Created with placeholders: put the WeChat Pay merchant's API v3 keys before "
            "offering the wechat_pay rail (see the README)",
        )
        CfnOutput(
            self,
            "AlipaySecretName",
            value=naming.secret_name(pid, "alipay"),
            description="Created with placeholders: put the Alipay app's keys before offering the alipay "
            "rail (see the README)",
        )
        CfnOutput(
            self,
            "LinkKeySecretName",
            value=naming.secret_name(pid, "link_key"),
            description="Generated pay-link signing key; changing it invalidates pay links already sent",
        )
        for _, route in manifest.routes():
            if isinstance(route.audience, ProviderSignature) and route.audience.provider == "stripe":
                CfnOutput(
                    self,
                    "StripeWebhookUrl",
                    value=f"{self.api.url}{route.path}",
                    description="Register this endpoint in Stripe (event checkout.session.completed)",
                )
            if isinstance(route.audience, ProviderSignature) and route.audience.provider == "wechat_pay":
                CfnOutput(
                    self,
                    "WeChatPayNotifyUrl",
                    value=f"{self.api.url}{route.path}",
                    description="WeChat Pay's notify_url (sent with each order; its domain must be the "
                    "one registered in the merchant platform)",
                )
            if isinstance(route.audience, ProviderSignature) and route.audience.provider == "alipay":
                CfnOutput(
                    self,
                    "AlipayNotifyUrl",
                    value=f"{self.api.url}{route.path}",
                    description="Alipay's notify_url (sent with each order)",
                )
        CfnOutput(
            self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn, description="Subscribe on-call here"
        )
        CfnOutput(
            self, "DocumentsBucket", value=self.documents.bucket.bucket_name, description="Documents bucket"
        )
        CfnOutput(
            self,
            "SmsDeliveryStatusRoleArn",
            value=self.messaging.sms_delivery_logging_role.role_arn,
            description="Set as the account's SNS SMS DeliveryStatusIAMRole: failed SMS then mark numbers",
        )
