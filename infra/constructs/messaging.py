"""Owner messages: permissions to send (SES email from the property's sender only, SNS SMS only),
and the way back of what the providers report about addresses and numbers.

- SES: a configuration set the messenger sends through, whose event destination publishes
  bounces and complaints to an SNS topic (encrypted) that the messenger subscribes to.
- SNS SMS: delivery status of direct-to-phone SMS is logged by SNS to CloudWatch Logs
  (``sns/<region>/<account>/DirectPublishToPhoneNumber/Failure``, once the account's SMS
  ``DeliveryStatusIAMRole`` is set to ``sms_delivery_logging_role``, an account-level SMS
  attribute CloudFormation does not manage); a subscription filter hands failures to the messenger.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_logs_destinations as log_destinations
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.constructs.nag import acknowledge, arn_in_finding
from infra.constructs.queues import dead_letter_queue
from propdesk import naming

SMS_FAILURE_LOG_RETENTION = logs.RetentionDays.ONE_MONTH


class Messaging(Construct):
    """The SES identity itself is verified by the administrator (DNS records)."""

    def __init__(self, scope: Construct, construct_id: str, *, property_id: str, sender_email: str) -> None:
        super().__init__(scope, construct_id)
        self.sender_email = sender_email
        stack = Stack.of(self)
        domain = sender_email.split("@", 1)[1]
        # SES authorizes against the address identity or, when the whole domain is verified,
        # the domain identity; the condition pins the From address either way.
        self.identity_arns = [
            stack.format_arn(service="ses", resource="identity", resource_name=name)
            for name in (sender_email, domain)
        ]
        key = kms.Key(
            self,
            "ContactEventsKey",
            description=f"PropDesk {property_id}: encrypts SES bounce and complaint events",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # SES publishes to an encrypted topic only if it may use the topic's key.
        key.grant(iam.ServicePrincipal("ses.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.contact_events = sns.Topic(
            self,
            "ContactEvents",
            display_name=f"PropDesk {property_id} bounces and complaints",
            master_key=key,
            enforce_ssl=True,
        )
        self.configuration_set = ses.ConfigurationSet(
            self,
            "OwnerMail",
            configuration_set_name=naming.ses_configuration_set(property_id),
        )
        self.configuration_set.add_event_destination(
            "BouncesAndComplaints",
            destination=ses.EventDestination.sns_topic(self.contact_events),
            events=[ses.EmailSendingEvent.BOUNCE, ses.EmailSendingEvent.COMPLAINT],
        )
        self.sms_failures = logs.LogGroup(
            self,
            "SmsFailures",
            log_group_name=f"sns/{stack.region}/{stack.account}/DirectPublishToPhoneNumber/Failure",
            retention=SMS_FAILURE_LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.sms_delivery_logging_role = iam.Role(
            self,
            "SmsDeliveryLogging",
            assumed_by=iam.ServicePrincipal("sns.amazonaws.com"),
            description=f"PropDesk {property_id}: SNS writes SMS delivery status to CloudWatch Logs",
        )
        self.sms_delivery_logging_role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:PutRetentionPolicy"],
                resources=[self.sms_failures.log_group_arn],
            )
        )
        acknowledge(
            self.sms_delivery_logging_role,
            f"AwsSolutions-IAM5[Resource::{arn_in_finding(self.sms_failures)}:*]",
            "SNS writes SMS delivery status into log streams it names itself, all inside this one "
            "log group; the ':*' covers those streams and nothing else.",
        )
        # Events SNS could not hand to the messenger after its retries are kept here (alarmed).
        self.contact_events_dlq = dead_letter_queue(
            self, "ContactEventsDlq", queue_name=f"{naming.prefix(property_id)}-contact-events-dlq"
        )
        acknowledge(
            self.contact_events_dlq,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the contact events subscription "
            "(its redrive policy), which cdk-nag cannot see from SQS redrive policies.",
        )
        acknowledge(
            self.contact_events_dlq,
            "Serverless-SQSRedrivePolicy",
            "A dead-letter queue is the end of the line: an alarm fires on its first message and an "
            "operator redrives it after fixing the cause.",
        )

    def grant_send_email(self, grantee: iam.IGrantable) -> None:
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="SendOwnerEmailFromPropertySender",
                actions=["ses:SendEmail", "ses:SendRawEmail"],
                resources=self.identity_arns,
                conditions={"StringEquals": {"ses:FromAddress": self.sender_email}},
            )
        )
        # Sending through a configuration set is authorized on the set too.
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="SendThroughOwnerMailConfigurationSet",
                actions=["ses:SendEmail", "ses:SendRawEmail"],
                resources=[
                    Stack.of(self).format_arn(
                        service="ses",
                        resource="configuration-set",
                        resource_name=self.configuration_set.configuration_set_name,
                    )
                ],
            )
        )

    def grant_send_sms(self, grantee: iam.IGrantable) -> None:
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(sid="SendOwnerSms", actions=["sns:Publish"], resources=["*"])
        )
        # Publishing straight to a phone number has no resource ARN, so the allow needs "*";
        # this deny keeps the function from publishing to any topic.
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="NoTopicPublishing",
                effect=iam.Effect.DENY,
                actions=["sns:Publish"],
                resources=["arn:*:sns:*:*:*"],
            )
        )

    def deliver_contact_events(self, function: lambda_.IFunction) -> None:
        """SES bounce and complaint events (SNS) and SMS delivery failures (CloudWatch Logs)."""
        self.contact_events.add_subscription(
            subscriptions.LambdaSubscription(function, dead_letter_queue=self.contact_events_dlq)
        )
        logs.SubscriptionFilter(
            self,
            "SmsFailuresToMessenger",
            log_group=self.sms_failures,
            destination=log_destinations.LambdaDestination(function),
            filter_pattern=logs.FilterPattern.all_events(),
        )
