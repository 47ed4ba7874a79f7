"""The Alipay rail on moto, for tests: the stand-in (its notifications handed to the payment
webhook as API Gateway would), the secret and the public URL set as the operator would, and the
owner's calls that start an order."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qsl, quote, urlparse

import boto3
import pytest
from ops_support import import_demo_units

from api.handler import lambda_handler as api_handler
from infra.local.alipay import AlipayStandIn
from payment_webhook.handler import lambda_handler as webhook_handler
from propdesk import naming
from propdesk.settings import get_settings
from tests.alipay_tools import APP_ID, app_keys
from tests.alipay_tools import alipay_keys as standin_keys
from tests.route_events import LambdaContext, route_event

DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148"
PUBLIC_URL = "https://pay.jinxiu.example"


def notify(body: bytes, content_type: str = "application/x-www-form-urlencoded") -> dict:
    """The payment webhook's answer to a notification, as API Gateway hands it over."""
    event = route_event("alipay_notify", body=body, headers={"content-type": content_type})
    return webhook_handler(event, LambdaContext())


def post_to_webhook(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """The stand-in's notifications go to the webhook handler, as if over the API."""
    assert url == PUBLIC_URL + "/webhooks/alipay"
    answer = notify(body, headers.get("Content-Type", "application/x-www-form-urlencoded").split(";")[0])
    return answer["statusCode"], answer.get("body") or ""


@pytest.fixture
def alipay(aws, demo_config, monkeypatch):
    import_demo_units(demo_config, 3)
    standin = AlipayStandIn(
        app_id=APP_ID,
        app_public_key=app_keys().public_pem,
        alipay_keys=standin_keys(),
        retry_scale=0.0,
        bill_ready_after=timedelta(0),
        post=post_to_webhook,
    )
    standin.serve("127.0.0.1", 0)
    pid = demo_config.property_id
    boto3.client("secretsmanager").put_secret_value(
        SecretId=naming.secret_name(pid, "alipay"),
        SecretString=json.dumps(
            {
                "app_id": APP_ID,
                "app_private_key": app_keys().private_pem,
                "alipay_public_key": standin.alipay_public_key_pem,
                "seller_id": standin.seller_id,
            }
        ),
    )
    boto3.client("ssm").put_parameter(
        Name=naming.public_url_parameter_name(pid), Value=PUBLIC_URL, Type="String", Overwrite=True
    )
    monkeypatch.setenv("ALIPAY_GATEWAY", standin.gateway_url)
    get_settings.cache_clear()
    from propdesk import aws as propdesk_aws

    propdesk_aws.reset_clients()
    yield standin
    standin.shutdown()
    get_settings.cache_clear()


def owner_call(key: str, token: str, *, agent: str = DESKTOP, **kwargs) -> dict:
    headers = {"user-agent": agent, **kwargs.pop("headers", {})}
    event = route_event(key, params={"token": token, **kwargs.pop("params", {})}, headers=headers, **kwargs)
    return api_handler(event, LambdaContext())


def start(token: str, *, agent: str = DESKTOP, bill: str = "all") -> dict:
    return owner_call(
        "start_order",
        token,
        agent=agent,
        body=f"rail=alipay&bill={quote(bill)}&lang=en",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def started_order(token: str, **kwargs) -> tuple[str, str]:
    """(our order id, the Alipay URL the owner's browser was sent to)."""
    answer = start(token, **kwargs)
    assert answer["statusCode"] == 303, answer
    url = answer["headers"]["Location"]
    biz = json.loads(dict(parse_qsl(urlparse(url).query))["biz_content"])
    return biz["out_trade_no"], url
