"""``/v1``, Stripe's REST API over the resources: the API key, idempotency keys, the routes the
SDK calls, and Stripe-shaped JSON answers (errors included)."""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from infra.local.stripe.cards import CardError, Cards
from infra.local.stripe.errors import StripeError
from infra.local.stripe.forms import decode_form
from infra.local.stripe.resources import Resources

API_VERSION = "2026-10-28.endive"  # the version the pinned SDK (stripe 16.1.0) speaks

# What answers a request: status, headers and body.
Response = tuple[int, dict[str, str], bytes]


def event(event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    """An event as Stripe sends it to a webhook endpoint."""
    return {
        "id": "evt_" + secrets.token_hex(12),
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def json_response(status: int, payload: dict[str, Any], *, replayed: bool = False) -> Response:
    headers = {
        "Content-Type": "application/json",
        "Stripe-Version": API_VERSION,
        "Request-Id": "req_" + secrets.token_hex(7),
    }
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return status, headers, json.dumps(payload).encode("utf-8")


# Sends events (in order, after the answer): what a change made through the API tells the webhook.
Events = Callable[[list[dict[str, Any]]], None]


class Api:
    def __init__(
        self, resources: Resources, *, api_key: str, events: Events | None = None, cards: Cards | None = None
    ) -> None:
        self.resources = resources
        self.cards = cards or Cards(resources)
        self.api_key = api_key
        self._events = events or (lambda _events: None)
        # Idempotency key -> the first answer to a POST that carried it, replayed on a repeat.
        self._idempotent: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def handle(self, method: str, parts: list[str], headers: dict[str, str], body: str) -> Response:
        """Answer ``/v1/<parts>``; ``headers`` have lower-case names."""
        try:
            self.check_key(headers.get("authorization"))
            key = headers.get("idempotency-key") if method == "POST" else None
            if key:
                with self._lock:
                    replay = self._idempotent.get(key)
                if replay is not None:
                    return json_response(200, replay, replayed=True)
            payload = self._route(method, parts, body)
            if key:
                with self._lock:
                    self._idempotent[key] = payload
            return json_response(200, payload)
        except StripeError as exc:
            return json_response(exc.status, exc.body())

    def check_key(self, authorization: str | None) -> None:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise StripeError(
                "You did not provide an API key. Provide it in the Authorization header (Bearer auth).",
                status=401,
            )
        if not hmac.compare_digest(key.strip(), self.api_key):
            masked = key[:8] + "*" * max(0, len(key) - 12) + key[-4:]
            raise StripeError(f"Invalid API Key provided: {masked}", status=401, code="api_key_invalid")

    def _route(self, method: str, parts: list[str], body: str) -> dict[str, Any]:
        match method, parts:
            case "POST", ["checkout", "sessions"]:
                return self.resources.create_session(decode_form(body))
            case "GET", ["checkout", "sessions", session_id]:
                return dict(self.resources.session(session_id).data)
            case "GET", ["checkout", "sessions", session_id, "line_items"]:
                return {
                    "object": "list",
                    "data": self.resources.session(session_id).line_items,
                    "has_more": False,
                    "url": f"/v1/checkout/sessions/{session_id}/line_items",
                }
            case "POST", ["checkout", "sessions", session_id, "expire"]:
                return self.resources.expire(session_id)
            case "GET", ["payment_intents", intent_id]:
                return self.resources.payment_intent(intent_id)
            case "POST", ["refunds"]:
                refund, charge = self.resources.create_refund(decode_form(body))
                # Stripe announces it: the refund, and the charge with its running refunded total.
                self._events([event("refund.created", refund), event("charge.refunded", charge)])
                return refund
            case "GET", ["refunds", refund_id]:
                return self.resources.refund(refund_id)
            case "POST", ["customers"]:
                return self.cards.create_customer(decode_form(body))
            case "GET", ["customers", customer_id]:
                return self.cards.customer(customer_id)
            case "GET", ["setup_intents", intent_id]:
                return self.cards.setup_intent(intent_id)
            case "GET", ["payment_methods", method_id]:
                return self.cards.payment_method(method_id)
            case "POST", ["payment_methods", method_id, "detach"]:
                return self.cards.detach(method_id)
            case "POST", ["payment_intents"]:
                try:
                    intent, _charge = self.cards.create_payment_intent(decode_form(body))
                except CardError as declined:
                    self._events([event("payment_intent.payment_failed", declined.intent)])
                    raise
                self._events([event("payment_intent.succeeded", intent)])
                return intent
            case "GET", ["charges"]:
                return self.resources.list_charges(decode_form(body))
            case "GET", ["charges", charge_id]:
                return self.resources.charge(charge_id)
        raise StripeError(f"Unrecognized request URL ({method}: /v1/{'/'.join(parts)}).", status=404)
