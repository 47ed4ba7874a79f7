"""One Lambda function per manifest ``FunctionSpec``, sharing one code asset and two layers."""

from __future__ import annotations

import json
import re

import jsii
from aws_cdk import BundlingOptions, Duration, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IValidation

from infra import bundling
from infra.constructs.nag import acknowledge
from infra.constructs.queues import dead_letter_queue
from infra.manifest import FunctionSpec

# The newest Python runtime that both aws-cdk-lib 2.275 (Runtime.PYTHON_3_14) and Powertools
# 3.37 (classifiers up to 3.14) support, and for which every layer dependency ships an
# aarch64 wheel. The dependency layer is built for the same version.
RUNTIME = lambda_.Runtime.PYTHON_3_14
PYTHON_VERSION = RUNTIME.name.removeprefix("python")
ARCHITECTURE = lambda_.Architecture.ARM_64
LOG_RETENTION = logs.RetentionDays.THREE_MONTHS

# Lambda rejects a function whose environment, measured as the JSON of the variables map,
# exceeds 4 KB. Values still unresolved at synth (queue URLs, the bucket name) are counted at
# this many bytes each: longer than any queue URL or bucket name this stack produces.
ENV_LIMIT_BYTES = 4096
TOKEN_BUDGET_BYTES = 112
_TOKEN = re.compile(r"\$\{Token\[[^\]]*\]\}")  # how CDK encodes an unresolved string


def environment_size(env: dict[str, str]) -> int:
    """Bytes Lambda counts for ``env``, with each unresolved token counted at ``TOKEN_BUDGET_BYTES``."""
    measurable = {key: _TOKEN.sub("x" * TOKEN_BUDGET_BYTES, value) for key, value in env.items()}
    return len(json.dumps(measurable, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


@jsii.implements(IValidation)
class _EnvironmentFits:
    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.env = env

    def validate(self) -> list[str]:
        size = environment_size(self.env)
        if size <= ENV_LIMIT_BYTES:
            return []
        largest = sorted(self.env, key=lambda k: environment_size({k: self.env[k]}), reverse=True)[:3]
        return [
            f"function {self.name!r}: environment variables take about {size} bytes, over Lambda's "
            f"{ENV_LIMIT_BYTES}-byte limit (largest: {', '.join(largest)}); shorten the property "
            "configuration or move a value out of the environment"
        ]


class Functions(Construct):
    """The functions and their shared code, each with the environment computed from its spec
    (``infra.environment``); the stack adds triggers and grants."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        specs: tuple[FunctionSpec, ...],
        property_id: str,
        environments: dict[str, dict[str, str]],
    ) -> None:
        super().__init__(scope, construct_id)
        code = lambda_.Code.from_asset(str(bundling.FUNCTIONS_DIR), exclude=bundling.CODE_EXCLUDES)
        self.core_layer = lambda_.LayerVersion(
            self,
            "CoreLayer",
            description="propdesk shared package (/opt/python/propdesk)",
            code=lambda_.Code.from_asset(str(bundling.CORE_LAYER_DIR), exclude=bundling.CODE_EXCLUDES),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
        )
        self.deps_layer = lambda_.LayerVersion(
            self,
            "DepsLayer",
            description="Third-party packages from layers/deps/requirements.txt",
            code=lambda_.Code.from_asset(
                str(bundling.DEPS_LAYER_DIR),
                bundling=BundlingOptions(
                    image=bundling.UNUSED_DOCKER_IMAGE,
                    local=bundling.DepsLayerBundler(python_version=PYTHON_VERSION),
                ),
            ),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
        )
        # Asynchronous invocations (the scheduler's) that still fail after Lambda's own two retries.
        self.failed_async = dead_letter_queue(
            self, "FailedAsyncInvocations", queue_name=f"propdesk-{property_id}-failed-runs"
        )
        acknowledge(
            self.failed_async,
            "Serverless-SQSRedrivePolicy",
            "A dead-letter queue is the end of the line: an alarm fires on its first message and an "
            "operator re-runs the failed run by hand after fixing the cause.",
        )
        self.by_name: dict[str, lambda_.Function] = {}
        self.environments: dict[str, dict[str, str]] = {}
        for spec in specs:
            log_group = logs.LogGroup(
                self,
                f"{spec.name}-logs",
                retention=LOG_RETENTION,
                removal_policy=RemovalPolicy.DESTROY,
            )
            env = dict(environments[spec.name])
            fn = lambda_.Function(
                self,
                spec.name,
                description=spec.description,
                handler=spec.handler,
                runtime=RUNTIME,
                architecture=ARCHITECTURE,
                code=code,
                layers=[self.core_layer, self.deps_layer],
                memory_size=spec.memory_mb,
                timeout=Duration.seconds(spec.timeout_s),
                tracing=lambda_.Tracing.ACTIVE,
                log_group=log_group,
                environment=dict(env),
                dead_letter_queue=self.failed_async if spec.schedules else None,
            )
            if not spec.schedules:
                acknowledge(
                    fn,
                    "Serverless-LambdaDLQ",
                    "This function is only invoked synchronously (API Gateway, or an SQS event source "
                    "mapping whose failed messages go to the source queue's redrive dead-letter queue); "
                    "a Lambda DLQ only applies to asynchronous invocations.",
                )
            self.by_name[spec.name] = fn
            self.environments[spec.name] = env
            fn.node.add_validation(_EnvironmentFits(spec.name, env))
