"""Access to the AWS resources every function shares: clients, secrets, the public URL.

Secrets and parameters are read through Powertools parameters, cached for
``settings.parameters_max_age`` seconds in a warm function. Clients are created lazily and
reused; tests that start a new mock call ``reset_clients()``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters

from propdesk.settings import ConfigurationMissing, get_settings

__all__ = ["ConfigurationMissing", "client", "public_base_url", "reset_clients", "secret", "secret_json"]


def secret_json(name: str) -> dict[str, Any]:
    value = parameters.get_secret(name, transform="json", max_age=get_settings().parameters_max_age)
    if not isinstance(value, dict):
        raise ConfigurationMissing("secret is not a JSON object")
    return value


def secret(key: str) -> dict[str, Any]:
    """The function's secret ``key`` (a manifest secret it declared), as JSON."""
    return secret_json(get_settings().secret_name(key))


def public_base_url() -> str:
    """The public base URL of the API, without a trailing slash (owners' links start here)."""
    name = get_settings().public_url_parameter
    if not name:
        raise ConfigurationMissing("public URL parameter not declared for this function")
    value = parameters.get_parameter(name, max_age=get_settings().parameters_max_age)
    return str(value).rstrip("/")


@cache
def client(service: str) -> Any:
    return boto3.client(service)


@cache
def s3_client() -> Any:
    """S3 with Signature Version 4, so presigned links carry their expiry (``X-Amz-Expires``)."""
    from botocore.config import Config

    return boto3.client("s3", config=Config(signature_version="s3v4"))


def reset_clients() -> None:
    client.cache_clear()
    s3_client.cache_clear()
    parameters.clear_caches()
