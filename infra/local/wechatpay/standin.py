"""``WeChatPayStandIn``: the keys, the orders, the API, the pay pages and the notifications put
together behind one request router, and served on an HTTP port."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from infra.local.httpserver import StandInServer
from infra.local.wechatpay.api import Api, json_body
from infra.local.wechatpay.errors import Response, WeChatPayError
from infra.local.wechatpay.keys import CERTIFICATE, PUBLIC_KEY, PlatformKeys
from infra.local.wechatpay.notifications import Delivery, Notifier, Post, http_post
from infra.local.wechatpay.orders import Orders, Refund
from infra.local.wechatpay.paypages import PayPages

JSON = {"Content-Type": "application/json; charset=utf-8"}


# What a failure of the stand-in itself answers, in the provider's error format.
FAILURE = (
    500,
    {"Content-Type": "application/json; charset=utf-8"},
    json.dumps({"code": "SYSTEM_ERROR", "message": "系统错误"}, ensure_ascii=False).encode(),
)


class WeChatPayStandIn:
    """The stand-in's state and behaviour; ``serve()`` puts it on an HTTP port.

    ``merchant_serial`` and ``merchant_public_key``: the merchant's API certificate serial number
    and public key (PEM), to check request signatures. ``platform``: the platform keys (generated
    when not given). ``notification_signer``: who signs notifications, ``"public_key"`` (a merchant
    switched to the WeChat Pay public key) or ``"certificate"``. ``retry_scale``: WeChat Pay's
    retry delays are multiplied by it. ``refund_delay_s``: how long a refund stays PROCESSING
    (None: until ``settle_refund``). ``refund_notify_url``: where REFUND.SUCCESS goes for a refund
    that names no ``notify_url`` (the address configured on the merchant platform)."""

    def __init__(
        self,
        *,
        mchid: str,
        appid: str,
        apiv3_key: str,
        merchant_serial: str,
        merchant_public_key: str,
        platform: PlatformKeys | None = None,
        notification_signer: str = PUBLIC_KEY,
        retry_scale: float = 0.01,
        refund_delay_s: float | None = 0.05,
        refund_notify_url: str | None = None,
        post: Post | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(apiv3_key.encode()) != 32:
            raise ValueError("the APIv3 key is 32 characters")
        if notification_signer not in (PUBLIC_KEY, CERTIFICATE):
            raise ValueError("notification_signer is 'public_key' or 'certificate'")
        self.mchid = mchid
        self.appid = appid
        self.apiv3_key = apiv3_key
        self.platform = platform or PlatformKeys.generate()
        self.notification_signer = notification_signer
        self.refund_delay_s = refund_delay_s
        self.refund_notify_url = refund_notify_url
        self.base_url = ""  # set by serve(); h5_url and bill download URLs start with it
        self.orders = Orders(mchid=mchid, appid=appid, clock=clock)
        self.api = Api(
            self.orders,
            platform=self.platform,
            apiv3_key=apiv3_key,
            merchant_serial=merchant_serial,
            merchant_public_key=merchant_public_key,
            base_url=lambda: self.base_url,
            refund_created=self._refund_created,
            clock=clock,
        )
        self.notifier = Notifier(
            apiv3_key=apiv3_key,
            sign=lambda body: self.api.signed_headers(body, by=self.notification_signer),
            retry_scale=retry_scale,
            post=post or http_post,
            clock=clock,
        )
        self.pages = PayPages(self.orders, lambda out_trade_no: self.pay(out_trade_no))
        self._server: StandInServer | None = None

    # --- the platform's public material -----------------------------------------------------------

    @property
    def public_key_pem(self) -> str:
        return self.platform.public_key_pem

    @property
    def public_key_id(self) -> str:
        return self.platform.public_key_id

    @property
    def certificate_pem(self) -> str:
        return self.platform.certificate_pem

    @property
    def certificate_serial(self) -> str:
        return self.platform.certificate_serial

    @property
    def deliveries(self) -> list[Delivery]:
        return self.notifier.deliveries

    # --- the payer --------------------------------------------------------------------------------

    def pay(
        self, out_trade_no: str, *, openid: str | None = None, bank_type: str = "OTHERS"
    ) -> tuple[dict[str, Any], Delivery]:
        """The payer pays: the order becomes SUCCESS and TRANSACTION.SUCCESS is sent to its
        ``notify_url`` (first attempt before this returns, retries in the background)."""
        order = self.orders.pay(out_trade_no, payer=openid, bank_type=bank_type)
        transaction = order.transaction()
        delivery = self.notifier.send(
            order.notify_url,
            event_type="TRANSACTION.SUCCESS",
            summary="支付成功",
            original_type="transaction",
            resource=transaction,
            subject=out_trade_no,
        )
        return transaction, delivery

    def scan(self, code_url: str, **payer: Any) -> tuple[dict[str, Any], Delivery]:
        """The payer scans a Native order's ``code_url`` and pays."""
        return self.pay(self.orders.by_code_url(code_url).out_trade_no, **payer)

    # --- refunds ----------------------------------------------------------------------------------

    def _refund_created(self, refund: Refund) -> None:
        if self.refund_delay_s is None:
            return
        timer = threading.Timer(self.refund_delay_s, self.settle_refund, args=(refund.out_refund_no,))
        timer.daemon = True
        timer.start()

    def settle_refund(self, out_refund_no: str) -> Delivery | None:
        """The refund reaches the payer: SUCCESS, and REFUND.SUCCESS is sent."""
        before = self.orders.refund(out_refund_no)
        refund = self.orders.settle_refund(out_refund_no)
        if before.status == refund.status or self.notifier.stopped:
            return None
        return self.notifier.send(
            refund.notify_url or self.refund_notify_url,
            event_type="REFUND.SUCCESS",
            summary="退款成功",
            original_type="refund",
            resource=refund.notification(self.mchid),
            subject=out_refund_no,
        )

    # --- test hooks -------------------------------------------------------------------------------

    def lose_next_notification(self, count: int = 1) -> None:
        """The next payment (or refund) happens, but its notification is never sent."""
        self.notifier.lose_next(count)

    def redeliver(self, delivery: Delivery) -> tuple[int, str]:
        """Send a notification's exact signed headers and body again."""
        return self.notifier.redeliver(delivery)

    def tampered_notification(self, delivery: Delivery, **changes: Any) -> tuple[dict[str, str], bytes]:
        """A notification whose resource was changed (e.g. ``amount={"total": 1}``) and properly
        re-encrypted, under the original signature: the SDK must refuse it."""
        return self.notifier.tampered(delivery, changes)

    def corrupt_next_answer(self) -> None:
        """The next API answer is changed after it was signed: the SDK must refuse it."""
        self.api.corrupt_next_answer()

    @property
    def refund_balance_short(self) -> bool:
        """While True, refunds answer 403 ``NOT_ENOUGH`` (the merchant's balance is short)."""
        return self.orders.refund_balance_short

    @refund_balance_short.setter
    def refund_balance_short(self, value: bool) -> None:
        self.orders.refund_balance_short = value

    # --- HTTP -------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: str) -> Response:
        """Route one request; ``path`` is the request target (path and query) exactly as sent,
        ``headers`` have lower-case names; returns status, headers and body."""
        parts = [p for p in urlsplit(path).path.split("/") if p]
        if parts[:1] == ["v3"]:
            return self.api.handle(method, path, headers, body)
        if parts[:1] in (["h5"], ["native"]) and (answer := self.pages.handle(method, path, body)):
            return answer
        if method == "POST" and parts == ["_standin", "scan"]:
            return self._scan(body)
        if method == "GET" and parts == ["_standin", "deliveries"]:
            return 200, dict(JSON), json_body({"deliveries": self.notifier.summaries()}).encode()
        return 404, {"Content-Type": "text/plain; charset=utf-8"}, b"Not found"

    def _scan(self, body: str) -> Response:
        """``POST /_standin/scan`` ``{"code_url": ...}`` or ``{"out_trade_no": ...}`` (and optionally
        ``openid``, ``bank_type``): the payer scans and pays, without a browser."""
        try:
            request = json.loads(body or "{}")
            payer = {k: request[k] for k in ("openid", "bank_type") if request.get(k)}
            if request.get("code_url"):
                transaction, delivery = self.scan(request["code_url"], **payer)
            elif request.get("out_trade_no"):
                transaction, delivery = self.pay(request["out_trade_no"], **payer)
            else:
                raise WeChatPayError(400, "PARAM_ERROR", "code_url or out_trade_no is needed")
        except WeChatPayError as exc:
            return exc.status, dict(JSON), json_body(exc.body()).encode()
        except (ValueError, AttributeError):
            return 400, dict(JSON), json_body({"code": "PARAM_ERROR", "message": "a JSON object"}).encode()
        answer = {"transaction": transaction, "notification": delivery.summary()}
        return 200, dict(JSON), json_body(answer).encode()

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = StandInServer(
            self.handle, host=host, port=port, name="wechatpay-standin", failure=FAILURE
        )
        self.base_url = self._server.base_url
        self._server.start()
        return self.base_url

    def shutdown(self) -> None:
        self.notifier.stop()
        if self._server is not None:
            self._server.shutdown()
