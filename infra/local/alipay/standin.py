"""``AlipayStandIn``: the gateway, the cashier, the notifications and the statements put together
behind one request router, and served on an HTTP port."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from infra.local.alipay.bills import DOWNLOAD_PATH, Bills
from infra.local.alipay.cashier import cashier_page, error_page, not_found, return_params, return_url
from infra.local.alipay.errors import AlipayError, business
from infra.local.alipay.gateway import GATEWAY_PATH, PAY_METHODS, Gateway, Request
from infra.local.alipay.keys import KeyPair, load_private_key, load_public_key, notification_string, sign_rsa2
from infra.local.alipay.notify import Delivery, Notifier, Post, http_post, trade_notification
from infra.local.alipay.trades import Buyer, Refund, Trade, Trades, new_buyer
from infra.local.httpserver import StandInServer

Response = tuple[int, dict[str, str], bytes]
JSON = {"Content-Type": "application/json;charset=utf-8"}


# What a failure of the stand-in itself answers, in the provider's error format.
FAILURE: Response = (500, dict(JSON), b'{"error": "stand-in error"}')


@dataclass(frozen=True)
class PayResult:
    """What paying did: the trade as it is now, where the browser goes, the notification."""

    trade: dict[str, Any]
    return_url: str  # "" if the trade has no return_url
    delivery: Delivery | None  # None if the trade has no notify_url


class AlipayStandIn:
    """The stand-in's state and behaviour; ``serve()`` puts it on an HTTP port.

    ``app_id`` and ``app_public_key`` (PEM or the console's bare base64) are the app the product
    signs as; more apps: ``add_app``. Alipay's key pair is generated here unless ``alipay_keys``
    is given: give the SDK ``alipay_public_key_pem``.
    """

    def __init__(
        self,
        *,
        app_id: str,
        app_public_key: str,
        alipay_keys: KeyPair | None = None,
        seller_id: str | None = None,
        retry_scale: float = 1 / 240,
        fee_rate: Decimal = Decimal("0.006"),
        bill_ready_after: timedelta = timedelta(hours=9),
        bill_link_ttl_s: float = 30,
        post: Post | None = None,
    ) -> None:
        self.base_url = ""  # set by serve(); the gateway URL and the cashier's links start with it
        self.app_id = app_id
        self.alipay_keys = alipay_keys or KeyPair.generate()
        self._private_key = load_private_key(self.alipay_keys.private_pem)
        self._app_keys = {app_id: load_public_key(app_public_key)}
        self.seller_id = seller_id or "2088" + f"{secrets.randbelow(10**12):012d}"  # the merchant's PID
        self.buyer: Buyer = new_buyer()  # who pays, unless pay() is told otherwise
        self.trades = Trades(fee_rate=fee_rate)
        self.notifier = Notifier(sign=self.sign_notification, retry_scale=retry_scale, post=post or http_post)
        self.bills = Bills(
            trades=self.trades,
            account=self.seller_id + "0156",
            base_url=lambda: self.base_url,
            ready_after=bill_ready_after,
            link_ttl_s=bill_link_ttl_s,
        )
        self.gateway = Gateway(
            app_keys=self._app_keys,
            signer=self._private_key,
            trades=self.trades,
            bills=self.bills,
            events=self,
            open_cashier=self._open_cashier,
            error_page=error_page,
        )
        self._server: StandInServer | None = None

    # -- keys and configuration -----------------------------------------------------------------

    @property
    def alipay_public_key_pem(self) -> str:
        """The SDK's ``alipay_public_key_string``."""
        return self.alipay_keys.public_pem

    @property
    def alipay_public_key(self) -> str:
        """Alipay's public key as the Open Platform console shows it (bare base64)."""
        return self.alipay_keys.public_base64

    @property
    def gateway_url(self) -> str:
        """What the product's ``ALIPAY_GATEWAY`` is set to (the SDK's ``_gateway``)."""
        return self.base_url + GATEWAY_PATH

    def add_app(self, app_id: str, app_public_key: str) -> None:
        self._app_keys[app_id] = load_public_key(app_public_key)

    def sign_notification(self, params: Mapping[str, str]) -> str:
        """Alipay's signature of a notification or a sync return (without sign and sign_type)."""
        return sign_rsa2(self._private_key, notification_string(params))

    # -- the buyer ------------------------------------------------------------------------------

    def pay(self, out_trade_no: str, *, app_id: str | None = None, buyer: Buyer | None = None) -> PayResult:
        """What the cashier's Pay button does: the opened trade is paid (``TRADE_SUCCESS``), its
        notification is sent (first attempt now, resends in the background), and the browser's
        way back to ``return_url`` with the signed sync-return parameters is returned."""
        self.expire_due()
        trade = self.trades.find(app_id or self.app_id, {"out_trade_no": out_trade_no})
        return self._pay(trade, buyer)

    def pay_url(self, url: str, *, buyer: Buyer | None = None) -> PayResult:
        """Open a signed page/WAP pay URL (as the owner's browser would) and pay it."""
        trade = self.open_url(url)
        return self._pay(trade, buyer)

    def open_url(self, url: str) -> Trade:
        """The owner's browser requests a signed page/WAP pay URL: the trade it opens."""
        self.expire_due()
        params = self.gateway.parameters(url, {}, "")
        request = self.gateway.read(params)
        if request.method not in PAY_METHODS:
            raise business("ACQ.INVALID_PARAMETER", f"{request.method} is not a page or WAP pay request")
        return self._open(request)

    def finish(self, out_trade_no: str, *, app_id: str | None = None) -> Delivery | None:
        """The refund period of a paid trade is over: ``TRADE_FINISHED``, and its notification."""
        trade = self.trades.finish(self.trades.find(app_id or self.app_id, {"out_trade_no": out_trade_no}))
        return self._notify(trade)

    def expire_due(self) -> list[Trade]:
        """Close the unpaid trades whose time is up, and notify them (done before every request)."""
        closed = self.trades.expire_due()
        for trade in closed:
            self.trade_closed(trade)
        return closed

    # -- notifications (and the test hooks) -----------------------------------------------------

    @property
    def deliveries(self) -> list[Delivery]:
        return self.notifier.deliveries

    def lose_next_notification(self, count: int = 1) -> None:
        """The next ``count`` notifications never reach the app (no attempt, no resend)."""
        self.notifier.lose_next(count)

    def redeliver(self, delivery: Delivery) -> bool:
        """POST a delivery's exact body again (Alipay does send duplicates); answered ``success``?"""
        return self.notifier.redeliver(delivery)

    def tampered_notification(self, delivery: Delivery, **changes: str) -> dict[str, str]:
        """A delivery's parameters with ``changes`` and its original ``sign``: a forgery."""
        params = dict(delivery.params)
        params.update(changes)
        return params

    def trade_closed(self, trade: Trade) -> None:
        self._notify(trade, later=True)

    def trade_refunded(self, trade: Trade, refund: Refund) -> None:
        self._notify(trade, refund=refund, later=True)

    # -- HTTP -----------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: str) -> Response:
        """Route one request; ``headers`` have lower-case names; returns status, headers and body."""
        self.expire_due()
        split = urlsplit(path)
        parts = [p for p in split.path.split("/") if p]
        match method, parts:
            case _, ["gateway.do"]:
                return self.gateway.handle(method, path, headers, body)
            case "GET", ["cashier", cashier_id]:
                trade = self.trades.by_cashier(cashier_id)
                return cashier_page(trade) if trade else not_found()
            case "POST", ["cashier", cashier_id, "pay"]:
                return self._pay_button(cashier_id)
            case "GET", [name] if "/" + name == DOWNLOAD_PATH:
                return self.bills.download(split.query)
            case "POST", ["_standin", "pay"]:
                return self._standin_pay(body)
            case "GET", ["_standin", "deliveries"]:
                return _json(200, {"deliveries": self.notifier.summaries()})
            case "GET", ["_standin", "trades"]:
                return _json(200, {"trades": [trade.snapshot() for trade in self.trades.all()]})
            case "GET", ["_standin", "keys"]:
                return _json(
                    200,
                    {
                        "alipay_public_key": self.alipay_public_key_pem,
                        "app_ids": sorted(self._app_keys),
                        "seller_id": self.seller_id,
                    },
                )
        return 404, {"Content-Type": "text/plain; charset=utf-8"}, b"Not found"

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = StandInServer(
            self.handle, host=host, port=port, name="alipay-standin", failure=FAILURE
        )
        self.base_url = self._server.base_url
        self._server.start()
        return self.base_url

    def shutdown(self) -> None:
        self.notifier.stop()
        if self._server is not None:
            self._server.shutdown()

    # -- inside ---------------------------------------------------------------------------------

    def _open(self, request: Request) -> Trade:
        return self.trades.open(
            request.app_id,
            request.method,
            request.biz,
            notify_url=request.params.get("notify_url", ""),
            return_url=request.params.get("return_url", ""),
        )

    def _open_cashier(self, request: Request) -> Response:
        trade = self._open(request)
        return 302, {"Location": f"{self.base_url}/cashier/{trade.cashier_id}"}, b""

    def _pay(self, trade: Trade, buyer: Buyer | None) -> PayResult:
        self.trades.pay(trade, buyer or self.buyer)
        delivery = self._notify(trade)
        back = return_url(trade, return_params(trade, seller_id=self.seller_id, sign=self.sign_notification))
        return PayResult(trade=trade.snapshot(), return_url=back, delivery=delivery)

    def _pay_button(self, cashier_id: str) -> Response:
        trade = self.trades.by_cashier(cashier_id)
        if trade is None:
            return not_found()
        try:
            result = self._pay(trade, None)
        except AlipayError as exc:
            return error_page(exc)
        if result.return_url:
            return 303, {"Location": result.return_url}, b""
        return cashier_page(trade)

    def _standin_pay(self, body: str) -> Response:
        """``POST /_standin/pay`` {"out_trade_no": ..., "app_id"?: ...} or {"url": <pay URL>}:
        the Pay button without a browser (an out_trade_no must have been opened)."""
        try:
            args = json.loads(body or "{}")
            if not isinstance(args, dict):
                raise ValueError
        except ValueError:
            return _json(400, {"error": 'a JSON object: {"out_trade_no": ...} or {"url": ...}'})
        try:
            if args.get("url"):
                result = self.pay_url(str(args["url"]))
            elif args.get("out_trade_no"):
                result = self.pay(str(args["out_trade_no"]), app_id=args.get("app_id"))
            else:
                return _json(400, {"error": 'give "out_trade_no" or "url"'})
        except AlipayError as exc:
            status = 404 if exc.sub_code == "ACQ.TRADE_NOT_EXIST" else 409
            return _json(status, {"error": exc.body()})
        return _json(
            200,
            {
                "trade": result.trade,
                "return_url": result.return_url,
                "notification": result.delivery.summary() if result.delivery else None,
            },
        )

    def _notify(self, trade: Trade, *, refund: Refund | None = None, later: bool = False) -> Delivery | None:
        if not trade.notify_url:
            return None
        params = trade_notification(trade, seller_id=self.seller_id, refund=refund)
        if later:
            self.notifier.send_later(trade.notify_url, params)
            return None
        return self.notifier.send(trade.notify_url, params)


def _json(status: int, payload: dict[str, Any]) -> Response:
    return status, dict(JSON), json.dumps(payload, ensure_ascii=False).encode("utf-8")
