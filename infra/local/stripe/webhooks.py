"""Webhook events: built like Stripe's, signed with the webhook secret (``Stripe-Signature:
t=...,v1=...``), posted to the webhook URL, and a failed delivery retried in the background."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.local.stripe.api import event

log = logging.getLogger("propdesk.local.stripe")

__all__ = ["Delivery", "Post", "Webhooks", "event", "http_post", "sign_payload"]

# POST (url, body, headers) -> (status, start of the answer's body); status 0 if nothing answered.
Post = Callable[[str, bytes, dict[str, str]], tuple[int, str]]


def sign_payload(payload: str | bytes, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``payload`` (text, or the exact bytes sent), as Stripe
    computes it: HMAC-SHA256 of ``"<t>."`` and the payload."""
    t = int(time.time()) if timestamp is None else timestamp
    body = payload if isinstance(payload, bytes) else payload.encode()
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def http_post(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST and return the status and the start of the body; status 0 if nothing answered."""
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local URL
            return response.status, response.read(2000).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(2000).decode("utf-8", "replace")
    except OSError as exc:
        return 0, f"{type(exc).__name__}: {exc}"


@dataclass
class Delivery:
    event_id: str
    session_id: str
    attempts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return any(200 <= a.get("status", 0) < 300 for a in self.attempts)

    def summary(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "session_id": self.session_id,
            "delivered": self.delivered,
            "attempts": self.attempts,
        }


class Webhooks:
    """Sends events to one webhook endpoint and keeps a record of every delivery."""

    def __init__(
        self,
        *,
        secret: str,
        url: str | None = None,
        retry_delays_s: tuple[float, ...] = (1, 2, 4, 8),
        post: Post = http_post,
    ) -> None:
        self.secret = secret
        self.url = url
        self.retry_delays_s = retry_delays_s
        self._post = post
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()

    def send(self, event: dict[str, Any]) -> Delivery:
        """POST the signed event to the webhook URL now; retry a failure in the background."""
        delivery = Delivery(event_id=event["id"], session_id=event["data"]["object"].get("id", ""))
        with self._lock:
            self.deliveries.append(delivery)
        payload = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
        if self._attempt(delivery, payload) or not self.retry_delays_s:
            return delivery
        threading.Thread(
            target=self._retry, args=(delivery, payload), name=f"webhook-retry-{event['id']}", daemon=True
        ).start()
        return delivery

    def send_later(self, events: list[dict[str, Any]]) -> threading.Thread:
        """Send ``events`` in order from a thread of their own, as Stripe does after answering the
        request that caused them (so the caller is never held up by its own webhook)."""
        thread = threading.Thread(
            target=lambda: [self.send(item) for item in events], name="webhook-events", daemon=True
        )
        thread.start()
        return thread

    def summaries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [delivery.summary() for delivery in self.deliveries]

    def _retry(self, delivery: Delivery, payload: str) -> None:
        for delay in self.retry_delays_s:
            time.sleep(delay)
            if self._attempt(delivery, payload):
                return

    def _attempt(self, delivery: Delivery, payload: str) -> bool:
        """One POST, signed afresh (a retry carries a new timestamp, as Stripe's do)."""
        if not self.url:
            delivery.attempts.append({"status": 0, "error": "no webhook endpoint configured"})
            return False
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign_payload(payload, self.secret),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks) local stand-in",
        }
        status, body = self._post(self.url, payload.encode("utf-8"), headers)
        delivery.attempts.append({"status": status, "body": body[:500], "at": int(time.time())})
        if not 200 <= status < 300:
            log.warning("webhook delivery of %s answered %s", delivery.event_id, status)
        return 200 <= status < 300
