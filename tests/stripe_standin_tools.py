"""Test helpers for the local Stripe stand-in: session parameters, bodies encoded as the SDK
encodes them, a webhook poster that records, and requests made in process."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from stripe._encode import _api_encode

from infra.local.stripe import StripeStandIn

KEY = "sk_test_local_key"
SECRET = "whsec_local_secret"
WEBHOOK_URL = "http://127.0.0.1:8000/webhooks/stripe"


def session_params(**changes: Any) -> dict[str, Any]:
    """What the pay page sends to create a session; a change to None leaves that parameter out."""
    now = int(time.time())
    params = {
        "mode": "payment",
        "success_url": "http://127.0.0.1:8000/pay/tok/return?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://127.0.0.1:8000/pay/tok",
        "client_reference_id": "A-101#2027-01",
        "expires_at": now + 3600,
        "payment_method_types": ["card", "alipay"],
        "line_items": [
            {
                "quantity": 1,
                "price_data": {"currency": "cny", "unit_amount": 25024, "product_data": {"name": "Service"}},
            },
            {
                "quantity": 2,
                "price_data": {"currency": "cny", "unit_amount": 500, "product_data": {"name": "Waste"}},
            },
        ],
        "metadata": {"bill_id": "A-101#2027-01", "property_id": "demo"},
        "payment_intent_data": {"metadata": {"bill_id": "A-101#2027-01"}},
    }
    params.update(changes)
    return {k: v for k, v in params.items() if v is not None}


def sdk_body(params: dict[str, Any]) -> str:
    """The body exactly as the stripe SDK form-encodes it."""
    return urlencode(list(_api_encode(params)))


class Recorder:
    """A webhook endpoint that answers ``status`` and keeps every (url, body, headers) it got."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.calls: list[tuple[str, bytes, dict[str, str]]] = []

    def __call__(self, url: str, data: bytes, headers: dict[str, str]) -> tuple[int, str]:
        self.calls.append((url, data, headers))
        return self.status, '{"received": true}'


def make_standin(post: Recorder | None = None, **kwargs: Any) -> StripeStandIn:
    """A stand-in that is not served: requests go to ``handle``, webhooks to ``post``."""
    options: dict[str, Any] = {"webhook_url": WEBHOOK_URL, "retry_delays_s": ()} | kwargs
    standin = StripeStandIn(api_key=KEY, webhook_secret=SECRET, post=post or Recorder(), **options)
    standin.base_url = "http://127.0.0.1:9999"
    return standin


def _answer(answer: tuple[int, dict[str, str], bytes]) -> tuple[int, dict[str, str], Any]:
    status, headers, payload = answer
    return (
        status,
        headers,
        json.loads(payload) if headers.get("Content-Type") == "application/json" else payload,
    )


def api_post(standin: StripeStandIn, path: str, body: str, key: str = KEY, **headers: str):
    """POST to the REST API; returns status, headers and the decoded JSON body."""
    sent = {"authorization": f"Bearer {key}", **{k.lower(): v for k, v in headers.items()}}
    return _answer(standin.handle("POST", path, sent, body))


def api_get(standin: StripeStandIn, path: str, key: str = KEY):
    return _answer(standin.handle("GET", path, {"authorization": f"Bearer {key}"}, ""))
