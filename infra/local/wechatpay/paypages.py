"""The payer's side in a browser. ``GET /h5/{prepay_id}`` is where an H5 order's ``h5_url`` leads
(the merchant may append ``&redirect_url=...``, as with the real ``h5_url``); its Pay button,
``POST /h5/{prepay_id}/pay``, pays and sends the payer to ``redirect_url``. ``GET /native/{pr}``
is what a phone shows after scanning a Native ``code_url`` (``weixin://wxpay/bizpayurl?pr=...``),
with the same button (``POST /native/{pr}/pay``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from infra.local.pages import environment
from infra.local.wechatpay.errors import Response, WeChatPayError
from infra.local.wechatpay.orders import Order, Orders

HTML = {"Content-Type": "text/html; charset=utf-8"}

_templates = environment(Path(__file__).resolve().parent / "templates")

# out_trade_no -> the paid order (paying also sends its notification).
Pay = Callable[[str], Any]


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


class PayPages:
    def __init__(self, orders: Orders, pay: Pay) -> None:
        self.orders = orders
        self.pay = pay

    def handle(self, method: str, target: str, body: str) -> Response | None:
        """Answer ``/h5/...`` and ``/native/...``, or None if no such page."""
        url = urlsplit(target)
        parts = [p for p in url.path.split("/") if p]
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        form = {k: v[0] for k, v in parse_qs(body).items()} if method == "POST" else {}
        try:
            match method, parts:
                case "GET", ["h5", prepay]:
                    order = self.orders.by_prepay(prepay)
                    return self._page(order, f"/h5/{prepay}/pay", query.get("redirect_url", ""))
                case "POST", ["h5", prepay, "pay"]:
                    order = self.orders.by_prepay(prepay)
                    self.pay(order.out_trade_no)
                    redirect = form.get("redirect_url", "")
                    if redirect:
                        return 303, {"Location": redirect}, b""
                    return self._done(self.orders.order(order.out_trade_no), "")
                case "GET", ["native", code]:
                    order = self.orders.by_code_url(f"weixin://wxpay/bizpayurl?pr={code}")
                    return self._page(order, f"/native/{code}/pay", "")
                case "POST", ["native", code, "pay"]:
                    order = self.orders.by_code_url(f"weixin://wxpay/bizpayurl?pr={code}")
                    self.pay(order.out_trade_no)
                    return self._done(self.orders.order(order.out_trade_no), "")
        except WeChatPayError as exc:
            status = 404 if exc.status == 404 else 409
            page = _templates.get_template("error.html").render(message=f"{exc.message} ({exc.code})")
            return status, dict(HTML), page.encode()
        return None

    def _page(self, order: Order, action: str, redirect_url: str) -> Response:
        if order.paid:
            return self._done(order, redirect_url)
        if order.state == "CLOSED":
            raise WeChatPayError(400, "ORDER_CLOSED", "该订单已关闭")
        page = _templates.get_template("pay.html").render(
            order=order, amount=yuan(order.total), action=action, redirect_url=redirect_url
        )
        return 200, dict(HTML), page.encode()

    def _done(self, order: Order, redirect_url: str) -> Response:
        page = _templates.get_template("done.html").render(
            order=order, amount=yuan(order.total), redirect_url=redirect_url
        )
        return 200, dict(HTML), page.encode()
