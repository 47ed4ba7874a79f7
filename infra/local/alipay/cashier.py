"""The hosted cashier (收银台): ``GET /cashier/{id}`` shows the trade's subject and amount with a
Pay button; ``POST /cashier/{id}/pay`` pays it (see ``AlipayStandIn.pay``) and sends the browser
to the trade's ``return_url`` with the signed sync-return parameters (同步通知):
``charset, out_trade_no, method (alipay.trade.page.pay.return / alipay.trade.wap.pay.return),
total_amount, sign, trade_no, auth_app_id, version, app_id, sign_type, seller_id, timestamp``,
signed like a notification (without ``sign`` and ``sign_type``). Also Alipay's error page for a
refused page/WAP pay request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from infra.local.alipay.errors import AlipayError
from infra.local.alipay.trades import Trade, now, stamp, yuan
from infra.local.pages import environment

Response = tuple[int, dict[str, str], bytes]
HTML = {"Content-Type": "text/html; charset=utf-8"}

_templates = environment(Path(__file__).resolve().parent / "templates")


def return_params(trade: Trade, *, seller_id: str, sign: Callable[[dict[str, str]], str]) -> dict[str, str]:
    params = {
        "charset": "utf-8",
        "out_trade_no": trade.out_trade_no,
        "method": f"{trade.method}.return",
        "total_amount": yuan(trade.total),
        "trade_no": trade.trade_no,
        "auth_app_id": trade.app_id,
        "version": "1.0",
        "app_id": trade.app_id,
        "sign_type": "RSA2",
        "seller_id": seller_id,
        "timestamp": stamp(now()),
    }
    params["sign"] = sign(params)
    return params


def return_url(trade: Trade, params: dict[str, str]) -> str:
    """The trade's ``return_url`` with the sync-return parameters; "" if it has none."""
    if not trade.return_url:
        return ""
    joiner = "&" if "?" in trade.return_url else "?"
    return trade.return_url + joiner + urlencode(params)


def cashier_page(trade: Trade, *, back_url: str = "") -> Response:
    page = _templates.get_template("cashier.html").render(
        trade=trade, total=yuan(trade.total), return_url=back_url
    )
    return 200, dict(HTML), page.encode()


def error_page(error: AlipayError) -> Response:
    """Alipay's page for a refused page/WAP pay request (it answers 200)."""
    short = error.sub_code.removeprefix("isv.").removeprefix("ACQ.")
    page = _templates.get_template("error.html").render(
        code=error.code, sub_code=error.sub_code, short_code=short, sub_msg=error.sub_msg
    )
    return 200, {**HTML, "X-Alipay-Sub-Code": error.sub_code}, page.encode()


def not_found() -> Response:
    return 404, {"Content-Type": "text/plain; charset=utf-8"}, "收银台不存在 · No such cashier".encode()
