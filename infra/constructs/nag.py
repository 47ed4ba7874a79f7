"""Acknowledging a cdk-nag finding always takes a written, specific reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

MIN_REASON_LENGTH = 40


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge ``rule_id`` (e.g. ``AwsSolutions-IAM5[Resource::*]``) on ``scope`` and its children."""
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"acknowledging {rule_id} needs a specific reason, got {reason!r}")
    pack = rule_id.split("-", 1)[0]  # "AwsSolutions", "Serverless": the plugin that reports it
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{pack}::{rule_id}", reason=reason))


def arn_in_finding(resource: IConstruct) -> str:
    """How cdk-nag writes a resource's ARN inside a finding id: ``<LogicalId.Arn>``."""
    cfn = resource.node.default_child
    assert cfn is not None, f"{resource.node.path} has no CloudFormation resource"
    stack = Stack.of(resource)
    return f"<{stack.resolve(stack.get_logical_id(cfn))}.Arn>"
