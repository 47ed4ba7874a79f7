"""``/gateway.do``: the Open Platform's one endpoint. The method is a parameter.

A request's parameters come in the query string, in a form body (POST,
``application/x-www-form-urlencoded``), or both; ``python-alipay-sdk`` sends every API call as a
GET with everything in the query string, and page/WAP pay is a URL the app sends the browser to.
The gateway checks the public parameters, then the RSA2 signature with the app's public key over
every parameter but ``sign`` and the empty ones (``sign_type`` included), then runs the method.

- ``alipay.trade.page.pay`` / ``alipay.trade.wap.pay``: the buyer's browser; a redirect to the
  cashier page, or Alipay's error page (200, "错误代码 ... 错误原因 ...").
- ``alipay.trade.query``, ``.close``, ``.refund``, ``.fastpay.refund.query``,
  ``alipay.data.dataservice.bill.downloadurl.query``: JSON,
  ``{"<method with underscores>_response": {...}, "sign": "..."}`` where ``sign`` is Alipay's RSA2
  signature over the exact text of the response object (which the SDK cuts out and verifies).
  Gateway errors (40002) are not signed; business errors (40004) are. Other methods: 40006.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from infra.local.alipay.bills import Bills
from infra.local.alipay.errors import INSUFFICIENT_PERMISSIONS, AlipayError, business, invalid
from infra.local.alipay.keys import request_string, sign_rsa2, verify_rsa2
from infra.local.alipay.trades import (
    PAGE_PAY,
    WAP_PAY,
    Refund,
    Trade,
    Trades,
    stamp,
    yuan,
)

Response = tuple[int, dict[str, str], bytes]
JSON = {"Content-Type": "application/json;charset=utf-8"}
GATEWAY_PATH = "/gateway.do"

QUERY = "alipay.trade.query"
CLOSE = "alipay.trade.close"
REFUND = "alipay.trade.refund"
REFUND_QUERY = "alipay.trade.fastpay.refund.query"
BILL_URL = "alipay.data.dataservice.bill.downloadurl.query"
PAY_METHODS = (PAGE_PAY, WAP_PAY)
API_METHODS = (QUERY, CLOSE, REFUND, REFUND_QUERY, BILL_URL)

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


class Events(Protocol):
    """What the gateway tells the rest of the stand-in (which sends the notifications)."""

    def trade_closed(self, trade: Trade) -> None: ...

    def trade_refunded(self, trade: Trade, refund: Refund) -> None: ...


@dataclass(frozen=True)
class Request:
    app_id: str
    method: str
    biz: dict[str, Any]
    params: dict[str, str]


class Gateway:
    def __init__(
        self,
        *,
        app_keys: Mapping[str, rsa.RSAPublicKey],
        signer: rsa.RSAPrivateKey,
        trades: Trades,
        bills: Bills,
        events: Events,
        open_cashier: Callable[[Request], Response],
        error_page: Callable[[AlipayError], Response],
    ) -> None:
        self.app_keys = app_keys  # app_id -> the app's public key (shared, may grow)
        self._signer = signer
        self.trades = trades
        self.bills = bills
        self.events = events
        self._open_cashier = open_cashier
        self._error_page = error_page

    def handle(self, http_method: str, path: str, headers: Mapping[str, str], body: str) -> Response:
        params = self.parameters(path, headers, body)
        method = params.get("method", "")
        try:
            request = self.read(params)
            if request.method in PAY_METHODS:
                return self._open_cashier(request)
            return self.answer(request.method, self._run(request))
        except AlipayError as exc:
            if method in PAY_METHODS:
                return self._error_page(exc)
            return self.answer(method if method else "", exc.body(), signed=exc.signed)

    @staticmethod
    def parameters(path: str, headers: Mapping[str, str], body: str) -> dict[str, str]:
        params = dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))
        content_type = headers.get("content-type", "")
        if body and (not content_type or "application/x-www-form-urlencoded" in content_type):
            params.update(parse_qsl(body, keep_blank_values=True))
        return params

    def read(self, params: Mapping[str, str]) -> Request:
        """Check the public parameters and the signature: the request, or the gateway's error."""
        method = params.get("method")
        if not method:
            raise invalid("isv.missing-method", "缺少方法名参数 (method)")
        app_id = params.get("app_id")
        if not app_id:
            raise invalid("isv.missing-app-id", "缺少AppID参数 (app_id)")
        key = self.app_keys.get(app_id)
        if key is None:
            raise invalid("isv.invalid-app-id", "无效的AppID参数 (unknown app_id)")
        if not params.get("sign_type"):
            raise invalid("isv.missing-signature-type", "缺少签名类型参数 (sign_type)")
        if params["sign_type"] != "RSA2":
            raise invalid("isv.invalid-signature-type", "无效的签名类型参数 (this app signs with RSA2)")
        if not params.get("sign"):
            raise invalid("isv.missing-signature", "缺少签名参数 (sign)")
        if not params.get("timestamp"):
            raise invalid("isv.missing-timestamp", "缺少时间戳参数 (timestamp)")
        if not _TIMESTAMP.match(params["timestamp"]):
            raise invalid("isv.invalid-timestamp", "非法的时间戳参数 (timestamp: yyyy-MM-dd HH:mm:ss)")
        if not params.get("version"):
            raise invalid("isv.missing-version", "缺少版本参数 (version)")
        if params["version"] != "1.0":
            raise invalid("isv.invalid-parameter", "参数无效 (version must be 1.0)")
        if params.get("charset", "utf-8").lower() != "utf-8":
            raise invalid("isv.invalid-charset", "字符集错误 (the stand-in takes charset=utf-8)")
        if params.get("format", "JSON").upper() != "JSON":
            raise invalid("isv.invalid-format", "无效的数据格式 (format: JSON)")
        unsigned = request_string(params)
        if not verify_rsa2(key, unsigned, params["sign"]):
            raise invalid(
                "isv.invalid-signature",
                "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为："
                + unsigned,
            )
        if method not in PAY_METHODS + API_METHODS:
            raise AlipayError(
                INSUFFICIENT_PERMISSIONS,
                "isv.insufficient-isv-permissions",
                f"ISV权限不足 (the local stand-in does not serve {method})",
            )
        try:
            biz = json.loads(params.get("biz_content") or "{}")
        except ValueError:
            biz = None
        if not isinstance(biz, dict):
            raise invalid("isv.invalid-parameter", "参数无效 (biz_content is not a JSON object)")
        return Request(app_id=app_id, method=method, biz=biz, params=dict(params))

    def answer(self, method: str, payload: Mapping[str, Any], *, signed: bool = True) -> Response:
        """Alipay's JSON answer; ``sign`` covers the response object's exact text."""
        name = method.replace(".", "_") + "_response" if method else "error_response"
        inner = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        if signed:
            text = f'{{"{name}":{inner},"sign":"{sign_rsa2(self._signer, inner)}"}}'
        else:
            text = f'{{"{name}":{inner}}}'
        return 200, dict(JSON), text.encode("utf-8")

    # -- the methods ----------------------------------------------------------------------------

    def _run(self, request: Request) -> dict[str, Any]:
        app_id, biz = request.app_id, request.biz
        ok: dict[str, Any] = {"code": "10000", "msg": "Success"}
        match request.method:
            case "alipay.trade.query":
                return ok | query_answer(self.trades.find(app_id, biz))
            case "alipay.trade.close":
                trade = self.trades.close(self.trades.find(app_id, biz))
                self.events.trade_closed(trade)
                return ok | {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}
            case "alipay.trade.refund":
                trade = self.trades.find(app_id, biz)
                refund, moved = self.trades.refund(trade, biz)
                if moved:
                    self.events.trade_refunded(trade, refund)
                return ok | {
                    "trade_no": trade.trade_no,
                    "out_trade_no": trade.out_trade_no,
                    "buyer_logon_id": trade.buyer_logon_id,
                    "buyer_user_id": trade.buyer_id,
                    "fund_change": "Y" if moved else "N",
                    "refund_fee": yuan(trade.refunded),
                    "gmt_refund_pay": stamp(refund.at),
                }
            case "alipay.trade.fastpay.refund.query":
                if not biz.get("out_request_no"):
                    raise business("ACQ.INVALID_PARAMETER", "参数无效 (out_request_no)")
                trade = self.trades.find(app_id, biz)
                found = trade.refunds.get(str(biz["out_request_no"]))
                if found is None:
                    # Alipay answers a refund it does not know with a bare success: not refunded.
                    return ok
                return ok | {
                    "trade_no": trade.trade_no,
                    "out_trade_no": trade.out_trade_no,
                    "out_request_no": found.out_request_no,
                    "total_amount": yuan(trade.total),
                    "refund_amount": yuan(found.amount),
                    "refund_status": "REFUND_SUCCESS",
                    "gmt_refund_pay": stamp(found.at),
                    **({"refund_reason": found.reason} if found.reason else {}),
                }
            case "alipay.data.dataservice.bill.downloadurl.query":
                return ok | self.bills.download_url(biz)
        raise AssertionError(request.method)  # read() lets only the served methods through


def query_answer(trade: Trade) -> dict[str, Any]:
    """``alipay.trade.query``'s fields for a trade."""
    total = yuan(trade.total)
    paid = trade.paid_at is not None
    answer: dict[str, Any] = {
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "trade_status": trade.status,
        "total_amount": total,
        "buyer_pay_amount": total if paid else "0.00",
        "point_amount": "0.00",
        "invoice_amount": total if paid else "0.00",
        "receipt_amount": total if paid else "0.00",
    }
    if paid and trade.paid_at is not None:
        answer.update(
            buyer_logon_id=trade.buyer_logon_id,
            buyer_user_id=trade.buyer_id,
            send_pay_date=stamp(trade.paid_at),
            fund_bill_list=[{"fund_channel": "ALIPAYACCOUNT", "amount": total}],
        )
    return answer
