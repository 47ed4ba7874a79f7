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


@pytest.fixture(scope="session")
def stripe_config(demo_config):
    """The demo property as a property that takes cards through Stripe (as one in Hong Kong does,
    where Stripe serves merchants; CNY is one of its currencies). The Shanghai demo offers its own
    market's rails only; the tests of the Stripe rail (Checkout, its webhooks, card autopay) run
    on this one, which offers Stripe first."""
    payment = demo_config.payment.model_copy(
        update={
            "rails": ("stripe", "wechat_pay", "alipay"),
            # Checkout's own wallets where Stripe has them for the market
            "payment_method_types": ("card", "alipay", "wechat_pay"),
        }
    )
    return demo_config.model_copy(update={"payment": payment})


@pytest.fixture
def property_config(demo_config):
    """The property the ``aws`` world is provisioned for: the demo's, unless a module asks for
    another by defining this fixture (``stripe_config`` for the Stripe rail's tests)."""
    return demo_config


@pytest.fixture
def aws(property_config, monkeypatch):
    """A fresh moto world with the property's resources (the demo's unless the module's
    ``property_config`` says otherwise); yields the functions' env."""
    demo_config = property_config
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


@pytest.fixture
def daytime(property_config):
    """Today at 10:00 in the property's time zone, the clock running: outside any quiet hours, so
    a test of what the messenger sends does not depend on when it runs (SMS wait overnight)."""
    from datetime import UTC, datetime, time

    import time_machine

    today = datetime.now(UTC).astimezone(property_config.tz).date()
    with time_machine.travel(datetime.combine(today, time(10, 0), tzinfo=property_config.tz), tick=True):
        yield
