"""Shared fixtures: every test runs against moto with fake credentials and no network.

Events and Lambda contexts come from ``infra.local.events`` (the builders the local runtime
uses); ``tests/route_events.py`` builds requests for the route table's routes with them.
"""

from __future__ import annotations

import os

import pytest

# Set before any boto3/pynamodb client exists. Tests never reach AWS.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "ap-southeast-1",
        "AWS_REGION": "ap-southeast-1",
        "POWERTOOLS_SERVICE_NAME": "propdesk-tests",
        "POWERTOOLS_METRICS_NAMESPACE": "PropDeskTests",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)

from infra.config import load_config
from tests.testkeys import TEST_LINK_KEY, TEST_STRIPE_KEY, TEST_WEBHOOK_SECRET


@pytest.fixture(scope="session")
def demo_config():
    return load_config("demo")


@pytest.fixture
def aws(demo_config, monkeypatch):
    """A fresh moto world with the demo property's resources; yields the functions' env."""
    from moto import mock_aws

    from infra.local import moto_speedups, moto_transactions
    from infra.local.resources import LocalSecrets, provision
    from propdesk.aws import reset_clients
    from propdesk.settings import get_settings

    moto_transactions.install()  # as the local runtime's moto: isolated, no copy of whole tables
    moto_speedups.install()
    with mock_aws():
        reset_clients()
        resources = provision(
            demo_config,
            public_url="https://pay.example.test",
            secrets=LocalSecrets(TEST_STRIPE_KEY, TEST_WEBHOOK_SECRET, TEST_LINK_KEY),
        )
        # The tests call every function's code in one process: they see every resource.
        env = resources.operator_env()
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield env
        get_settings.cache_clear()
        reset_clients()
