"""Secrets Manager secrets named by the manifest (``propdesk/<id>/<key>``)."""

from __future__ import annotations

import json

from aws_cdk import RemovalPolicy
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import manifest
from infra.constructs.nag import acknowledge
from propdesk import naming

# link_key: generated here and never seen by anyone; 48 letters and digits.
# stripe: created with generated placeholders; an administrator replaces the value with the
# property's real keys before going live (see the STRIPE_SECRET output):
#   aws secretsmanager put-secret-value --secret-id propdesk/<id>/stripe \
#     --secret-string '{"api_key": "sk_live_...", "webhook_secret": "whsec_..."}'
# wechatpay, alipay: likewise, with the merchant's WeChat Pay API v3 keys and the Alipay app's
# keys (see the README).
_GENERATED: dict[str, tuple[dict[str, str], str]] = {
    "link_key": ({}, "key"),
    "stripe": ({"api_key": "REPLACE_WITH_STRIPE_SECRET_KEY"}, "webhook_secret"),
    "wechatpay": ({"mchid": "REPLACE_WITH_MCHID"}, "apiv3_key"),
    "alipay": ({"app_id": "REPLACE_WITH_APP_ID"}, "app_private_key"),
}

_NO_ROTATION = {
    "link_key": "Rotating the pay-link signing key would invalidate every pay link already sent to owners; "
    "it is rotated by hand together with a notice re-run, not on a Secrets Manager schedule.",
    "stripe": "The Stripe API key and webhook signing secret are issued by Stripe's dashboard, which "
    "Secrets Manager rotation cannot call; an administrator rolls them there and updates the secret.",
    "wechatpay": "The WeChat Pay merchant keys (API certificate, APIv3 key) are issued in the merchant "
    "platform (商户平台), which Secrets Manager rotation cannot call; an administrator rolls them there.",
    "alipay": "The Alipay app's key pair is registered on the Alipay open platform (开放平台), which Secrets "
    "Manager rotation cannot call; an administrator rolls it there and updates the secret.",
}


class Secrets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, property_id: str) -> None:
        super().__init__(scope, construct_id)
        self.by_key: dict[str, secretsmanager.Secret] = {}
        for key, description in manifest.SECRETS.items():
            template, generate_key = _GENERATED[key]
            secret = secretsmanager.Secret(
                self,
                key,
                secret_name=naming.secret_name(property_id, key),
                description=description,
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template=json.dumps(template),
                    generate_string_key=generate_key,
                    password_length=48,
                    exclude_punctuation=True,
                ),
                removal_policy=RemovalPolicy.RETAIN,
            )
            acknowledge(secret, "AwsSolutions-SMG4", _NO_ROTATION[key])
            self.by_key[key] = secret
