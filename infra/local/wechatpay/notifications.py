"""Notifications (回调通知): the event, its ``resource`` encrypted with AEAD_AES_256_GCM under the
APIv3 key, signed with the platform key (``Wechatpay-Signature`` over ``TIMESTAMP\\nNONCE\\nBODY\\n``),
POSTed to the order's ``notify_url``. Success is HTTP 200 or 204; anything else, or no answer
within 5 seconds, is retried on WeChat Pay's schedule (15s, 15s, 30s, 3m, 10m, 20m, 30m, 30m, 30m,
60m, 3h, 3h, 3h, 6h, 6h) times ``retry_scale``, in a background thread. Each attempt carries the
same body, signed afresh."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.local.wechatpay.keys import aead_decrypt, aead_encrypt
from infra.local.wechatpay.orders import rfc3339

log = logging.getLogger("propdesk.local.wechatpay")

__all__ = ["RETRY_SCHEDULE_S", "Delivery", "Notifier", "Post", "http_post"]

RETRY_SCHEDULE_S = (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600)

# POST (url, body, headers) -> (status, start of the answer's body); status 0 if nothing answered.
Post = Callable[[str, bytes, dict[str, str]], tuple[int, str]]
# body -> the signed headers (Wechatpay-Serial, -Signature, -Timestamp, -Nonce, -Signature-Type).
Sign = Callable[[str], dict[str, str]]


def http_post(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - local URL
            return response.status, response.read(2000).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(2000).decode("utf-8", "replace")
    except OSError as exc:
        return 0, f"{type(exc).__name__}: {exc}"


@dataclass
class Delivery:
    """One notification: what was sent (the first attempt's exact headers and body) and every
    attempt's answer. ``lost``: the payment happened, but this notification was never sent."""

    id: str
    event_type: str
    subject: str  # the out_trade_no, or the out_refund_no
    url: str | None
    body: bytes
    headers: dict[str, str]
    lost: bool = False
    attempts: list[dict[str, Any]] = field(default_factory=list)
    finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def delivered(self) -> bool:
        return any(a.get("status") in (200, 204) for a in self.attempts)

    def wait(self, timeout: float = 5.0) -> bool:
        """Until delivered, given up, or lost; True if delivered."""
        self.finished.wait(timeout)
        return self.delivered

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_type": self.event_type,
            "subject": self.subject,
            "url": self.url,
            "lost": self.lost,
            "delivered": self.delivered,
            "attempts": list(self.attempts),
        }


class Notifier:
    def __init__(
        self,
        *,
        apiv3_key: str,
        sign: Sign,
        retry_scale: float = 0.01,
        post: Post = http_post,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.apiv3_key = apiv3_key
        self.sign = sign
        self.retry_scale = retry_scale
        self.deliveries: list[Delivery] = []
        self._post = post
        self._clock = clock
        self._lose = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def lose_next(self, count: int = 1) -> None:
        with self._lock:
            self._lose += count

    def envelope(self, event_type: str, summary: str, original_type: str, resource: dict[str, Any]) -> str:
        """The notification's body, as WeChat Pay sends it (compact JSON, Chinese as is)."""
        plain = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
        event = {
            "id": str(uuid.uuid4()),
            "create_time": rfc3339(self._clock()),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {
                "original_type": original_type,
                **aead_encrypt(self.apiv3_key, plain, original_type),
            },
        }
        return json.dumps(event, ensure_ascii=False, separators=(",", ":"))

    def send(
        self,
        url: str | None,
        *,
        event_type: str,
        summary: str,
        original_type: str,
        resource: dict[str, Any],
        subject: str,
    ) -> Delivery:
        """Record the notification and make its first attempt now; retry in the background."""
        body = self.envelope(event_type, summary, original_type, resource)
        delivery = Delivery(
            id=json.loads(body)["id"],
            event_type=event_type,
            subject=subject,
            url=url,
            body=body.encode("utf-8"),
            headers=self._headers(body),
        )
        with self._lock:
            self.deliveries.append(delivery)
            if self._lose:
                self._lose -= 1
                delivery.lost = True
        if delivery.lost or not url:
            delivery.finished.set()
            return delivery
        if self._attempt(delivery, delivery.headers):
            delivery.finished.set()
            return delivery
        threading.Thread(
            target=self._retry, args=(delivery,), name=f"wechatpay-notify-{delivery.id[:8]}", daemon=True
        ).start()
        return delivery

    def redeliver(self, delivery: Delivery) -> tuple[int, str]:
        """POST the first attempt's exact headers and body again (a duplicate, or a replay)."""
        if not delivery.url:
            return 0, "no notify_url"
        status, text = self._post(delivery.url, delivery.body, dict(delivery.headers))
        delivery.attempts.append(
            {"status": status, "body": text[:500], "at": int(self._clock()), "replay": True}
        )
        return status, text

    def tampered(self, delivery: Delivery, changes: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        """The delivery with its resource changed (``changes`` merged into the decrypted resource,
        one level deep) and re-encrypted properly under the APIv3 key, under the original
        signature: what someone who knows the APIv3 key but not the platform key could forge."""
        event = json.loads(delivery.body)
        resource = json.loads(aead_decrypt(self.apiv3_key, event["resource"]) or "{}")
        for name, value in changes.items():
            if isinstance(value, dict) and isinstance(resource.get(name), dict):
                resource[name] = {**resource[name], **value}
            else:
                resource[name] = value
        original_type = event["resource"]["original_type"]
        plain = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
        event["resource"] = {
            "original_type": original_type,
            **aead_encrypt(self.apiv3_key, plain, original_type),
        }
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return dict(delivery.headers), body

    def summaries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [delivery.summary() for delivery in self.deliveries]

    def stop(self) -> None:
        self._stopped.set()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def _headers(self, body: str) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "User-Agent": "Mozilla/4.0 (local WeChat Pay stand-in)",
            **self.sign(body),
        }

    def _retry(self, delivery: Delivery) -> None:
        try:
            for delay in RETRY_SCHEDULE_S:
                if self._stopped.wait(delay * self.retry_scale):
                    return
                if self._attempt(delivery, self._headers(delivery.body.decode("utf-8"))):
                    return
        finally:
            delivery.finished.set()

    def _attempt(self, delivery: Delivery, headers: dict[str, str]) -> bool:
        assert delivery.url
        status, text = self._post(delivery.url, delivery.body, headers)
        delivery.attempts.append({"status": status, "body": text[:500], "at": int(self._clock())})
        if status not in (200, 204):
            log.warning("notification %s to %s answered %s", delivery.id, delivery.url, status)
        return status in (200, 204)
