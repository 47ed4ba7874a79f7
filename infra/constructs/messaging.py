"""Permissions to send owner messages: SES email from the property's sender only, SNS SMS only."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct


class Messaging(Construct):
    """Grants, not resources: the SES identity is verified by the administrator (DNS records)."""

    def __init__(self, scope: Construct, construct_id: str, *, sender_email: str) -> None:
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

    def grant_send_email(self, grantee: iam.IGrantable) -> None:
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="SendOwnerEmailFromPropertySender",
                actions=["ses:SendEmail", "ses:SendRawEmail"],
                resources=self.identity_arns,
                conditions={"StringEquals": {"ses:FromAddress": self.sender_email}},
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
