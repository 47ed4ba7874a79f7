"""CDK app: ``PropDesk-<id>`` for the property named by the context value ``property`` (default demo).

    npx cdk synth -c property=demo      # what `make synth PROPERTY=demo` runs

cdk-nag's AwsSolutions and Serverless packs run on every synth; an unacknowledged finding
stops it. Every acknowledgement carries its reason where it is made (``infra/constructs/nag.py``).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.config import load_config
from infra.stack import PropertyStack, stack_name

DEFAULT_PROPERTY = "demo"

# Feature flags set here rather than in cdk.json, so the tests synthesize exactly what `cdk synth` does.
FEATURE_FLAGS: dict[str, Any] = {
    # Server access logs delivered through a bucket policy instead of the deprecated log-delivery ACL.
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
}


def build_app(
    property_id: str | None = None, *, context: dict[str, Any] | None = None, outdir: str | None = None
) -> tuple[App, PropertyStack]:
    app = App(context={**FEATURE_FLAGS, **(context or {})}, outdir=outdir)
    pid = property_id or app.node.try_get_context("property") or DEFAULT_PROPERTY
    config = load_config(pid)
    stack = PropertyStack(app, stack_name(pid), config=config)
    add_nag_checks(app)
    return app, stack


def add_nag_checks(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
