"""Orders (Native and H5) and refunds: their rules, their store and the JSON WeChat Pay shows of
them. Amounts are integer fen; times are RFC 3339 in Beijing time (``+08:00``)."""

from __future__ import annotations

import copy
import re
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from infra.local.wechatpay.errors import WeChatPayError, param_error, required

__all__ = ["CST", "Order", "Orders", "Refund", "rfc3339"]

CST = timezone(timedelta(hours=8), "Asia/Shanghai")  # China has no daylight saving time

NATIVE = "NATIVE"
H5 = "MWEB"  # an H5 order's trade_type
STATE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "REFUND": "订单发生过退款",
    "CLOSED": "订单已关闭",
}
OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-*|]{6,32}$")
OUT_REFUND_NO = re.compile(r"^[0-9A-Za-z_\-*|@]{1,64}$")
H5_TYPES = {"Wap", "iOS", "Android"}
FUNDS_ACCOUNTS = {"AVAILABLE", "UNSETTLED", "UNAVAILABLE", "OPERATION", "BASIC"}


def rfc3339(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, CST).isoformat(timespec="seconds")


def _digits(n: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(n))


def transaction_id(now: float) -> str:
    """28 digits, as WeChat Pay's: ``42000`` ... the day ... (e.g. 4200002360202407091150650780)."""
    return "42000" + _digits(5) + datetime.fromtimestamp(now, CST).strftime("%Y%m%d") + _digits(10)


def refund_id(now: float) -> str:
    return "503" + _digits(7) + datetime.fromtimestamp(now, CST).strftime("%Y%m%d") + _digits(11)


def prepay_id(now: float) -> str:
    return "wx" + datetime.fromtimestamp(now, CST).strftime("%Y%m%d%H%M%S") + secrets.token_hex(10)


def openid() -> str:
    return "o" + "".join(secrets.choice(string.ascii_letters + string.digits + "_-") for _ in range(27))


@dataclass
class Order:
    out_trade_no: str
    trade_type: str
    appid: str
    mchid: str
    description: str
    total: int
    currency: str
    notify_url: str
    attach: str
    time_expire: float | None
    scene_info: dict[str, Any] | None
    key: dict[str, Any]  # the parameters that make a repeat of this order the same order
    prepay_id: str
    created: float
    code_url: str | None = None  # Native
    h5_path: str | None = None  # H5: the pay page, under the stand-in's base URL
    state: str = "NOTPAY"
    transaction_id: str | None = None
    success_time: float | None = None
    openid: str | None = None
    bank_type: str | None = None
    refunded: int = 0  # fen accepted for refund (processing or done)

    def expired(self, now: float) -> bool:
        return self.time_expire is not None and now > self.time_expire

    @property
    def paid(self) -> bool:
        return self.state in ("SUCCESS", "REFUND")

    def transaction(self) -> dict[str, Any]:
        """The order as the query APIs (and the TRANSACTION.SUCCESS notification) show it."""
        data: dict[str, Any] = {
            "appid": self.appid,
            "mchid": self.mchid,
            "out_trade_no": self.out_trade_no,
            "trade_state": self.state,
            "trade_state_desc": STATE_DESC[self.state],
            "attach": self.attach,
            "amount": {"total": self.total, "currency": self.currency, "payer_currency": self.currency},
            "payer": {},
            "promotion_detail": [],
        }
        if self.paid:
            data.update(
                transaction_id=self.transaction_id,
                trade_type=self.trade_type,
                bank_type=self.bank_type,
                success_time=rfc3339(self.success_time or 0),
                payer={"openid": self.openid},
            )
            data["amount"]["payer_total"] = self.total
        device = (self.scene_info or {}).get("device_id")
        if device:
            data["scene_info"] = {"device_id": device}
        return data


@dataclass
class Refund:
    refund_id: str
    out_refund_no: str
    out_trade_no: str
    transaction_id: str
    refund: int
    total: int
    currency: str
    reason: str
    notify_url: str | None
    funds_account: str
    create_time: float
    status: str = "PROCESSING"
    success_time: float | None = None
    request: dict[str, Any] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        """The refund as ``POST /v3/refund/domestic/refunds`` and its query show it."""
        data: dict[str, Any] = {
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "transaction_id": self.transaction_id,
            "out_trade_no": self.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": rfc3339(self.create_time),
            "status": self.status,
            "funds_account": self.funds_account,
            "amount": {
                "total": self.total,
                "refund": self.refund,
                "from": [],
                "payer_total": self.total,
                "payer_refund": self.refund,
                "settlement_refund": self.refund,
                "settlement_total": self.total,
                "discount_refund": 0,
                "currency": self.currency,
                "refund_fee": 0,
            },
            "promotion_detail": [],
        }
        if self.success_time is not None:
            data["success_time"] = rfc3339(self.success_time)
        return data

    def notification(self, mchid: str) -> dict[str, Any]:
        """The resource of a REFUND.SUCCESS notification."""
        return {
            "mchid": mchid,
            "transaction_id": self.transaction_id,
            "out_trade_no": self.out_trade_no,
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "refund_status": self.status,
            "success_time": rfc3339(self.success_time or 0),
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": self.total,
                "refund": self.refund,
                "payer_total": self.total,
                "payer_refund": self.refund,
            },
        }


# --- checks ---------------------------------------------------------------------------------------


def _text(body: dict[str, Any], name: str, label: str, *, limit: int, needed: bool = True) -> str:
    value = body.get(name)
    if value is None or value == "":
        if needed:
            raise required(f"/body/{name}", label)
        return ""
    if not isinstance(value, str):
        raise param_error(f"/body/{name}", label, "类型", "应为字符串", value)
    if len(value) > limit:
        raise param_error(f"/body/{name}", label, "字符串", f"长度超过最大值 {limit}", value)
    return value


def _fen(amount: dict[str, Any], name: str, label: str, where: str = "/body/amount") -> int:
    value = amount.get(name)
    if value is None:
        raise required(f"{where}/{name}", label)
    if not isinstance(value, int) or isinstance(value, bool):
        raise param_error(f"{where}/{name}", label, "数字", "应为整数（单位：分）", value)
    if value < 1:
        raise param_error(f"{where}/{name}", label, "数字", "值低于最小值 1", value)
    return value


def _currency(amount: dict[str, Any], *, needed: bool) -> str:
    value = amount.get("currency")
    if value is None and not needed:
        return "CNY"
    if value is None:
        raise required("/body/amount/currency", "退款币种")
    if value != "CNY":
        raise param_error("/body/amount/currency", "币种", "枚举", "目前只支持人民币 CNY", value)
    return value


def _notify_url(value: Any, name: str = "notify_url") -> str:
    if not value:
        raise required(f"/body/{name}", "通知地址")
    parts = urlsplit(str(value))
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or len(str(value)) > 255:
        # WeChat Pay wants a directly reachable HTTPS URL without a query string; the stand-in
        # also takes http for the local runtime.
        raise param_error(
            f"/body/{name}", "通知地址", "URL", "须为可直接访问的 HTTPS 地址，不能携带参数", value
        )
    return str(value)


def _time_expire(value: Any, now: float) -> float | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in str(value):
        raise param_error(
            "/body/time_expire", "交易结束时间", "时间", "格式须为 yyyy-MM-DDTHH:mm:ss+TIMEZONE", value
        )
    if moment.timestamp() <= now:
        raise WeChatPayError(400, "INVALID_REQUEST", "交易结束时间须晚于当前时间")
    return moment.timestamp()


def _object(body: dict[str, Any], name: str, label: str) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        raise required(f"/body/{name}", label)
    if not isinstance(value, dict):
        raise param_error(f"/body/{name}", label, "类型", "应为对象", value)
    return value


class Orders:
    """Every order and refund of one merchant, behind one lock."""

    def __init__(self, *, mchid: str, appid: str, clock: Callable[[], float] = time.time) -> None:
        self.mchid = mchid
        self.appid = appid
        self.clock = clock
        self.refund_balance_short = False  # test hook: refunds answer 403 NOT_ENOUGH
        self._orders: dict[str, Order] = {}
        self._by_transaction: dict[str, str] = {}
        self._by_code: dict[str, str] = {}
        self._by_prepay: dict[str, str] = {}
        self._refunds: dict[str, Refund] = {}
        self._lock = threading.RLock()

    def _check_merchant(self, body: dict[str, Any], signer_mchid: str, path: str = "/body/mchid") -> None:
        mchid = body.get("mchid")
        if not mchid:
            raise required(path, "直连商户号")
        if mchid != signer_mchid or mchid != self.mchid:
            raise WeChatPayError(400, "INVALID_REQUEST", "请求中的商户号与签名认证的商户号不一致")

    # --- orders -----------------------------------------------------------------------------------

    def create(self, trade_type: str, body: dict[str, Any], signer_mchid: str) -> Order:
        """``POST /v3/pay/transactions/native|h5``: a new order, or the same one again."""
        now = self.clock()
        appid = _text(body, "appid", "应用ID", limit=32)
        self._check_merchant(body, signer_mchid)
        if appid != self.appid:
            raise WeChatPayError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配，请检查后再试")
        description = _text(body, "description", "商品描述", limit=127)
        out_trade_no = _text(body, "out_trade_no", "商户订单号", limit=32)
        if not OUT_TRADE_NO.match(out_trade_no):
            raise param_error(
                "/body/out_trade_no",
                "商户订单号",
                "字符串",
                "6-32个字符，只能是数字、大小写字母_-|*",
                out_trade_no,
            )
        notify_url = _notify_url(body.get("notify_url"))
        amount = _object(body, "amount", "订单金额")
        total = _fen(amount, "total", "总金额")
        currency = _currency(amount, needed=False)
        attach = _text(body, "attach", "附加数据", limit=128, needed=False)
        time_expire = _time_expire(body.get("time_expire"), now)
        scene_info = body.get("scene_info")
        if trade_type == H5:
            scene = _object(body, "scene_info", "场景信息")
            if not scene.get("payer_client_ip"):
                raise required("/body/scene_info/payer_client_ip", "用户终端IP")
            h5_info = scene.get("h5_info")
            if not isinstance(h5_info, dict) or not h5_info.get("type"):
                raise required("/body/scene_info/h5_info/type", "场景类型")
            if h5_info["type"] not in H5_TYPES:
                raise param_error(
                    "/body/scene_info/h5_info/type",
                    "场景类型",
                    "枚举",
                    "可选 Wap、iOS、Android",
                    h5_info["type"],
                )
        key = {
            "trade_type": trade_type,
            "description": description,
            "total": total,
            "currency": currency,
            "attach": attach,
            "notify_url": notify_url,
            "time_expire": time_expire,
            "goods_tag": body.get("goods_tag"),
        }
        with self._lock:
            existing = self._orders.get(out_trade_no)
            if existing is not None:
                if existing.paid:
                    raise WeChatPayError(400, "ORDERPAID", "该订单已支付")
                if existing.state == "CLOSED":
                    raise WeChatPayError(400, "ORDER_CLOSED", "该订单已关闭")
                if existing.key != key:
                    raise WeChatPayError(400, "INVALID_REQUEST", "201 商户订单号重复")
                return copy.deepcopy(existing)
            order = Order(
                out_trade_no=out_trade_no,
                trade_type=trade_type,
                appid=appid,
                mchid=self.mchid,
                description=description,
                total=total,
                currency=currency,
                notify_url=notify_url,
                attach=attach,
                time_expire=time_expire,
                scene_info=scene_info if isinstance(scene_info, dict) else None,
                key=key,
                prepay_id=prepay_id(now),
                created=now,
            )
            if trade_type == NATIVE:
                code = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(9))
                order.code_url = f"weixin://wxpay/bizpayurl?pr={code}"
                self._by_code[order.code_url] = out_trade_no
            else:
                order.h5_path = f"/h5/{order.prepay_id}?package={_digits(10)}"
            self._orders[out_trade_no] = order
            self._by_prepay[order.prepay_id] = out_trade_no
            return copy.deepcopy(order)

    def order(self, out_trade_no: str) -> Order:
        with self._lock:
            order = self._orders.get(out_trade_no)
            if order is None:
                raise WeChatPayError(404, "ORDER_NOT_EXIST", "订单不存在")
            return copy.deepcopy(order)

    def by_transaction(self, transaction: str) -> Order:
        with self._lock:
            return self.order(self._by_transaction.get(transaction, "\0"))

    def by_code_url(self, code_url: str) -> Order:
        with self._lock:
            return self.order(self._by_code.get(code_url, "\0"))

    def by_prepay(self, prepay: str) -> Order:
        with self._lock:
            return self.order(self._by_prepay.get(prepay, "\0"))

    def close(self, out_trade_no: str, body: dict[str, Any], signer_mchid: str) -> None:
        """``POST .../out-trade-no/{no}/close``: 204 for an open or closed order (WeChat Pay also
        answers 204 for an order number it does not know), ``ORDERPAID`` for a paid one."""
        self._check_merchant(body, signer_mchid)
        with self._lock:
            order = self._orders.get(out_trade_no)
            if order is None:
                return
            if order.paid:
                raise WeChatPayError(400, "ORDERPAID", "订单已支付")
            order.state = "CLOSED"

    def pay(self, out_trade_no: str, *, payer: str | None = None, bank_type: str = "OTHERS") -> Order:
        """The payer pays the order (scans the Native code, or presses Pay on the H5 page)."""
        now = self.clock()
        with self._lock:
            order = self._orders.get(out_trade_no)
            if order is None:
                raise WeChatPayError(404, "ORDER_NOT_EXIST", "订单不存在")
            if order.paid:
                raise WeChatPayError(400, "ORDERPAID", "该订单已支付")
            if order.state == "CLOSED":
                raise WeChatPayError(400, "ORDER_CLOSED", "该订单已关闭")
            if order.expired(now):
                raise WeChatPayError(400, "ORDER_EXPIRED", "订单已过期，请重新下单")
            order.state = "SUCCESS"
            order.transaction_id = transaction_id(now)
            order.success_time = now
            order.openid = payer or openid()
            order.bank_type = bank_type
            self._by_transaction[order.transaction_id] = out_trade_no
            return copy.deepcopy(order)

    # --- refunds ----------------------------------------------------------------------------------

    def create_refund(self, body: dict[str, Any]) -> tuple[Refund, bool]:
        """``POST /v3/refund/domestic/refunds``: the refund and whether it is new (a repeat of an
        ``out_refund_no`` with the same amount returns the first one)."""
        now = self.clock()
        out_refund_no = _text(body, "out_refund_no", "商户退款单号", limit=64)
        if not OUT_REFUND_NO.match(out_refund_no):
            raise param_error(
                "/body/out_refund_no", "商户退款单号", "字符串", "只能是数字、大小写字母_-|*@", out_refund_no
            )
        transaction = body.get("transaction_id")
        out_trade_no = body.get("out_trade_no")
        if not transaction and not out_trade_no:
            raise WeChatPayError(400, "PARAM_ERROR", "transaction_id和out_trade_no必须二选一进行传参")
        amount = _object(body, "amount", "金额信息")
        refund = _fen(amount, "refund", "退款金额")
        total = _fen(amount, "total", "原订单金额")
        currency = _currency(amount, needed=True)
        reason = _text(body, "reason", "退款原因", limit=80, needed=False)
        notify_url = _notify_url(body["notify_url"]) if body.get("notify_url") else None
        funds_account = body.get("funds_account") or "AVAILABLE"
        if funds_account not in FUNDS_ACCOUNTS:
            raise param_error("/body/funds_account", "退款资金来源", "枚举", "不是可选的值", funds_account)
        with self._lock:
            number = self._by_transaction.get(transaction) if transaction else out_trade_no
            order = self._orders.get(number or "\0")
            if order is None or (transaction and order.transaction_id != transaction):
                raise WeChatPayError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
            existing = self._refunds.get(out_refund_no)
            if existing is not None:
                if existing.out_trade_no != order.out_trade_no or existing.refund != refund:
                    raise WeChatPayError(
                        400, "INVALID_REQUEST", "同一退款单号的订单号或退款金额与前次请求不一致"
                    )
                return copy.deepcopy(existing), False
            if not order.paid:
                raise WeChatPayError(400, "INVALID_REQUEST", "订单未支付，不能退款")
            if total != order.total:
                raise WeChatPayError(400, "INVALID_REQUEST", "订单金额total与原订单金额不一致")
            if refund > order.total - order.refunded:
                raise WeChatPayError(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
            if self.refund_balance_short:
                raise WeChatPayError(403, "NOT_ENOUGH", "基本账户余额不足，请充值后重新发起")
            made = Refund(
                refund_id=refund_id(now),
                out_refund_no=out_refund_no,
                out_trade_no=order.out_trade_no,
                transaction_id=order.transaction_id or "",
                refund=refund,
                total=total,
                currency=currency,
                reason=reason,
                notify_url=notify_url,
                funds_account=funds_account,
                create_time=now,
                request=dict(body),
            )
            self._refunds[out_refund_no] = made
            order.refunded += refund
            order.state = "REFUND"
            return copy.deepcopy(made), True

    def settle_refund(self, out_refund_no: str) -> Refund:
        """The refund reaches the payer: SUCCESS."""
        with self._lock:
            made = self._refunds[out_refund_no]
            if made.status == "PROCESSING":
                made.status = "SUCCESS"
                made.success_time = self.clock()
            return copy.deepcopy(made)

    def refund(self, out_refund_no: str) -> Refund:
        with self._lock:
            made = self._refunds.get(out_refund_no)
            if made is None:
                raise WeChatPayError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
            return copy.deepcopy(made)

    def snapshot(self) -> tuple[list[Order], list[Refund]]:
        with self._lock:
            return copy.deepcopy(list(self._orders.values())), copy.deepcopy(list(self._refunds.values()))
