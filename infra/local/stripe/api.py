"""``/v1``, Stripe's REST API over the resources: the API key, idempotency keys, the routes the
SDK calls, and Stripe-shaped JSON answers (errors included)."""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from typing import Any

from infra.local.stripe.errors import StripeError
from infra.local.stripe.forms import decode_form
from infra.local.stripe.resources import Resources

API_VERSION = "2026-10-28.endive"  # the version the pinned SDK (stripe 16.1.0) speaks

# What answers a request: status, headers and body.
Response = tuple[int, dict[str, str], bytes]


def json_response(status: int, payload: dict[str, Any], *, replayed: bool = False) -> Response:
    headers = {
        "Content-Type": "application/json",
        "Stripe-Version": API_VERSION,
        "Request-Id": "req_" + secrets.token_hex(7),
    }
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return status, headers, json.dumps(payload).encode("utf-8")


class Api:
    def __init__(self, resources: Resources, *, api_key: str) -> None:
        self.resources = resources
        self.api_key = api_key
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
        raise StripeError(f"Unrecognized request URL ({method}: /v1/{'/'.join(parts)}).", status=404)
