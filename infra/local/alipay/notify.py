"""Async notifications (异步通知): built like Alipay's, signed with Alipay's key over the sorted
parameters without ``sign`` and ``sign_type``, posted as a UTF-8 form to the trade's
``notify_url``, and resent on Alipay's schedule until the answer is exactly ``success``.

Alipay resends after 4m, 10m, 10m, 1h, 2h, 6h and 15h (8 notifications in about 25 hours); here
that schedule is multiplied by ``retry_scale`` (the local runtime's default, 1/240, resends
within about 6 minutes). A resend carries the same body (the same ``notify_id``).

What is sent when, as Alipay does for page and WAP pay trades:

- paid: ``trade_status=TRADE_SUCCESS`` with ``gmt_payment``, the buyer and ``fund_bill_list``;
- a partial refund: ``TRADE_SUCCESS`` again, with ``refund_fee`` (the total refunded so far),
  ``gmt_refund`` and ``out_biz_no`` (the refund's ``out_request_no``) - not a new payment;
- refunded in full: ``TRADE_CLOSED`` with the same refund fields;
- closed unpaid (``alipay.trade.close`` or its time is up): ``TRADE_CLOSED`` with ``gmt_close``;
- the refund period over (``AlipayStandIn.finish``): ``TRADE_FINISHED``.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from infra.local.alipay.trades import SHANGHAI, TRADE_CLOSED, Refund, Trade, now, stamp, yuan

log = logging.getLogger("propdesk.local.alipay")

__all__ = ["ALIPAY_RETRY_SCHEDULE_S", "Delivery", "Notifier", "Post", "http_post", "trade_notification"]

# Alipay's resend schedule after a first notification that was not answered "success".
ALIPAY_RETRY_SCHEDULE_S = (4 * 60, 10 * 60, 10 * 60, 60 * 60, 2 * 60 * 60, 6 * 60 * 60, 15 * 60 * 60)
ACK = "success"

# POST (url, body, headers) -> (status, the answer's body); status 0 if nothing answered.
Post = Callable[[str, bytes, dict[str, str]], tuple[int, str]]


def http_post(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local URL
            return response.status, response.read(2000).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(2000).decode("utf-8", "replace")
    except OSError as exc:
        return 0, f"{type(exc).__name__}: {exc}"


def acknowledged(status: int, body: str) -> bool:
    """Alipay stops resending only on the 7 characters ``success``."""
    return status == 200 and body == ACK


def trade_notification(trade: Trade, *, seller_id: str, refund: Refund | None = None) -> dict[str, str]:
    """The notification's parameters for the trade as it is now (without ``sign``)."""
    moment = now()
    params = {
        "notify_time": stamp(moment),
        "notify_type": "trade_status_sync",
        "notify_id": f"{moment.astimezone(SHANGHAI):%Y%m%d}00222{secrets.randbelow(10**21):021d}",
        "app_id": trade.app_id,
        "auth_app_id": trade.app_id,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "seller_id": seller_id,
        "trade_status": trade.status,
        "total_amount": yuan(trade.total),
        "subject": trade.subject,
        "gmt_create": stamp(trade.created),
    }
    if trade.paid_at is not None:
        paid = yuan(trade.total)
        params.update(
            buyer_id=trade.buyer_id,
            buyer_logon_id=trade.buyer_logon_id,
            receipt_amount=paid,
            invoice_amount=paid,
            buyer_pay_amount=paid,
            point_amount="0.00",
            gmt_payment=stamp(trade.paid_at),
            fund_bill_list=json.dumps(
                [{"amount": paid, "fundChannel": "ALIPAYACCOUNT"}], separators=(",", ":")
            ),
        )
    if trade.body:
        params["body"] = trade.body
    if trade.passback_params:
        params["passback_params"] = trade.passback_params
    if refund is not None:
        # gmt_refund carries milliseconds: yyyy-MM-dd HH:mm:ss.S
        at = refund.at.astimezone(SHANGHAI)
        params.update(
            refund_fee=yuan(trade.refunded),
            gmt_refund=f"{stamp(at)}.{at.microsecond // 1000:03d}",
            out_biz_no=refund.out_request_no,
        )
    if trade.status == TRADE_CLOSED and trade.closed_at is not None:
        params["gmt_close"] = stamp(trade.closed_at)
    return params


@dataclass
class Delivery:
    """One notification and every attempt to deliver it."""

    notify_id: str
    out_trade_no: str
    trade_status: str
    url: str
    params: dict[str, str]  # as sent, sign included
    body: bytes  # the exact form body sent (every attempt sends it)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    lost: bool = False  # lose_next_notification(): never reached the app

    @property
    def delivered(self) -> bool:
        return any(a.get("acknowledged") for a in self.attempts)

    def summary(self) -> dict[str, Any]:
        return {
            "notify_id": self.notify_id,
            "out_trade_no": self.out_trade_no,
            "trade_status": self.trade_status,
            "url": self.url,
            "delivered": self.delivered,
            "lost": self.lost,
            "attempts": list(self.attempts),
        }


class Notifier:
    """Signs and posts notifications; keeps every delivery; resends in background threads."""

    def __init__(self, *, sign: Callable[[Mapping[str, str]], str], retry_scale: float, post: Post) -> None:
        self._sign = sign
        self.retry_delays_s = tuple(delay * retry_scale for delay in ALIPAY_RETRY_SCHEDULE_S)
        self._post = post
        self.deliveries: list[Delivery] = []
        self._lose = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def send(self, url: str, params: Mapping[str, str]) -> Delivery:
        """Sign and POST now; if not answered ``success``, resend in the background."""
        signed = dict(params)
        signed["sign"] = self._sign(signed)
        delivery = Delivery(
            notify_id=signed["notify_id"],
            out_trade_no=signed.get("out_trade_no", ""),
            trade_status=signed.get("trade_status", ""),
            url=url,
            params=signed,
            body=form_body(signed),
        )
        with self._lock:
            self.deliveries.append(delivery)
            if self._lose:
                self._lose -= 1
                delivery.lost = True
        if delivery.lost:
            log.info("alipay stand-in: notification %s lost on purpose", delivery.notify_id)
            return delivery
        if not self._attempt(delivery) and self.retry_delays_s:
            threading.Thread(
                target=self._resend, args=(delivery,), name=f"alipay-notify-{delivery.notify_id}", daemon=True
            ).start()
        return delivery

    def send_later(self, url: str, params: Mapping[str, str]) -> threading.Thread:
        """Send from a thread of its own (after the API answer that caused it, as Alipay does)."""
        thread = threading.Thread(target=self.send, args=(url, params), name="alipay-notify", daemon=True)
        thread.start()
        return thread

    def lose_next(self, count: int = 1) -> None:
        with self._lock:
            self._lose += count

    def redeliver(self, delivery: Delivery) -> bool:
        """POST the exact same body once more (a duplicate, as Alipay may send); acknowledged?"""
        return self._attempt(delivery)

    def summaries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [delivery.summary() for delivery in self.deliveries]

    def stop(self) -> None:
        self._stopped.set()

    def _resend(self, delivery: Delivery) -> None:
        for delay in self.retry_delays_s:
            if self._stopped.wait(delay):
                return
            if self._attempt(delivery):
                return

    def _attempt(self, delivery: Delivery) -> bool:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "User-Agent": "Mozilla/4.0 (Alipay local stand-in)",
        }
        status, body = self._post(delivery.url, delivery.body, headers)
        ok = acknowledged(status, body)
        with self._lock:
            delivery.attempts.append(
                {
                    "status": status,
                    "body": body[:200],
                    "acknowledged": ok,
                    "at": stamp(now()),
                    "t": time.time(),
                }
            )
        if not ok:
            log.warning(
                "alipay notification %s to %s answered %s %r",
                delivery.notify_id,
                delivery.url,
                status,
                body[:60],
            )
        return ok


def form_body(params: Mapping[str, str]) -> bytes:
    return urlencode(list(params.items()), encoding="utf-8").encode("ascii")
