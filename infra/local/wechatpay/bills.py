"""Trade statements (``tradebill``): the day's payments and refunds (Beijing time) in WeChat Pay's
CSV layout. A header row, one row per payment (``SUCCESS``) or refund (``REFUND``) with every
field prefixed by a backtick, then the summary header and the summary row. Amounts in yuan with
2 decimals; fees (0.60%, rounded to the fen) with 5."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from infra.local.wechatpay.orders import CST, Order, Refund

__all__ = ["BILL_TYPES", "HEADERS", "SUMMARY_HEADER", "tradebill"]

RATE = Decimal("0.006")
RATE_TEXT = "0.60%"
_COMMON = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额"
HEADERS = {
    "ALL": _COMMON
    + ",微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注",
    "SUCCESS": _COMMON + ",商品名称,商户数据包,手续费,费率,订单金额,费率备注",
    "REFUND": _COMMON
    + ",退款申请时间,退款成功时间,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注",
}
BILL_TYPES = tuple(HEADERS)
SUMMARY_HEADER = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)


def _yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def _fee(fen: int) -> int:
    return int((Decimal(fen) * RATE).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _fee_text(fen: int) -> str:
    return f"{Decimal(fen) / 100:.5f}"


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, CST).strftime("%Y-%m-%d %H:%M:%S")


def _day(timestamp: float | None) -> date | None:
    return datetime.fromtimestamp(timestamp, CST).date() if timestamp is not None else None


@dataclass
class _Line:
    at: float
    cells: list[str]
    settle: int = 0  # 应结订单金额
    refund: int = 0  # 退款金额
    fee: int = 0
    order_amount: int = 0  # 订单金额
    refund_asked: int = 0  # 申请退款金额


def _payment(order: Order, bill_type: str) -> _Line:
    fee = _fee(order.total)
    head = [
        _when(order.success_time or 0),
        order.appid,
        order.mchid,
        "0",
        "",
        order.transaction_id or "",
        order.out_trade_no,
        order.openid or "",
        order.trade_type,
        "SUCCESS",
        order.bank_type or "OTHERS",
        order.currency,
        _yuan(order.total),
        "0.00",
    ]
    tail = [order.description, order.attach, _fee_text(fee), RATE_TEXT, _yuan(order.total)]
    if bill_type == "SUCCESS":
        cells = [*head, *tail, ""]
    else:
        cells = [*head, "0", "0", "0.00", "0.00", "", "", *tail, "0.00", ""]
    return _Line(order.success_time or 0, cells, settle=order.total, fee=fee, order_amount=order.total)


def _refund(order: Order, refund: Refund, bill_type: str) -> _Line:
    fee = -_fee(refund.refund)
    head = [
        _when(refund.success_time or 0),
        order.appid,
        order.mchid,
        "0",
        "",
        order.transaction_id or "",
        order.out_trade_no,
        order.openid or "",
        order.trade_type,
        "REFUND",
        order.bank_type or "OTHERS",
        order.currency,
        "0.00",
        "0.00",
    ]
    times = [_when(refund.create_time), _when(refund.success_time or 0)] if bill_type == "REFUND" else []
    cells = [
        *head,
        *times,
        refund.refund_id,
        refund.out_refund_no,
        _yuan(refund.refund),
        "0.00",
        "ORIGINAL",
        refund.status,
        order.description,
        order.attach,
        _fee_text(fee),
        RATE_TEXT,
        "0.00",
        _yuan(refund.refund),
        "",
    ]
    return _Line(refund.success_time or 0, cells, refund=refund.refund, fee=fee, refund_asked=refund.refund)


def tradebill(orders: list[Order], refunds: list[Refund], day: date, bill_type: str = "ALL") -> str | None:
    """The statement of ``day``, or None when nothing was paid or refunded that day."""
    by_number = {order.out_trade_no: order for order in orders}
    lines: list[_Line] = []
    if bill_type in ("ALL", "SUCCESS"):
        lines += [_payment(o, bill_type) for o in orders if o.transaction_id and _day(o.success_time) == day]
    if bill_type in ("ALL", "REFUND"):
        lines += [
            _refund(by_number[r.out_trade_no], r, bill_type)
            for r in refunds
            if r.status == "SUCCESS" and _day(r.success_time) == day
        ]
    if not lines:
        return None
    lines.sort(key=lambda line: line.at)
    rows = [HEADERS[bill_type]]
    rows += [",".join("`" + cell for cell in line.cells) for line in lines]
    rows.append(SUMMARY_HEADER)
    summary = [
        str(len(lines)),
        _yuan(sum(line.settle for line in lines)),
        _yuan(sum(line.refund for line in lines)),
        "0.00",
        _fee_text(sum(line.fee for line in lines)),
        _yuan(sum(line.order_amount for line in lines)),
        _yuan(sum(line.refund_asked for line in lines)),
    ]
    rows.append(",".join("`" + cell for cell in summary))
    return "\n".join(rows) + "\n"
