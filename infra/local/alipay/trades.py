"""Trades and refunds: the rules Alipay applies to a page or WAP pay request's ``biz_content``
and to a refund, and the stand-in's in-memory store of them.

When a trade exists: Alipay creates a page/WAP pay trade when the buyer reaches the cashier (scans
or logs in), not when the app signs the request; before that, ``alipay.trade.query`` and
``alipay.trade.close`` answer ``ACQ.TRADE_NOT_EXIST``. Here the trade is created when the cashier
is opened (the signed URL is requested). Opening it again with the same ``out_trade_no`` and a
different ``total_amount`` is ``ACQ.CONTEXT_INCONSISTENT``; a paid or closed one cannot be opened.

Statuses: ``WAIT_BUYER_PAY`` -> ``TRADE_SUCCESS`` (paid; refundable) -> ``TRADE_CLOSED`` once
refunded in full, or ``TRADE_FINISHED`` (the refund period over: ``AlipayStandIn.finish``);
``WAIT_BUYER_PAY`` -> ``TRADE_CLOSED`` (``alipay.trade.close``, or ``time_expire`` /
``timeout_express`` passed).

Amounts are fen inside, yuan strings with two decimals outside. This stand-in takes
``total_amount`` and ``refund_amount`` only as JSON strings with exactly two decimals: Alipay also
takes numbers and fewer decimals, but the product converts fen to yuan exactly and sends strings.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from infra.local.alipay.errors import AlipayError, business

SHANGHAI = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
TRADE_SUCCESS = "TRADE_SUCCESS"
TRADE_CLOSED = "TRADE_CLOSED"
TRADE_FINISHED = "TRADE_FINISHED"

PAGE_PAY = "alipay.trade.page.pay"
WAP_PAY = "alipay.trade.wap.pay"
# The product code each pay method takes (Alipay's documentation; python-alipay-sdk's WAP helper
# sends "QUICK_WAP_PAY" unless given product_code="QUICK_WAP_WAY").
PRODUCT_CODES = {PAGE_PAY: "FAST_INSTANT_TRADE_PAY", WAP_PAY: "QUICK_WAP_WAY"}

MAX_TOTAL_FEN = 100_000_000 * 100  # total_amount is in [0.01, 100000000]
_AMOUNT = re.compile(r"^(0|[1-9][0-9]{0,8})\.([0-9]{2})$")
_OUT_TRADE_NO = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_TIMEOUT = re.compile(r"^([1-9][0-9]*)([mhdc])$")
MAX_TIMEOUT = timedelta(days=15)
# The subject may not hold these (Alipay's page/WAP pay documentation).
SUBJECT_FORBIDDEN = ("/", "=", "&")


def now() -> datetime:
    return datetime.now(SHANGHAI)


def stamp(moment: datetime) -> str:
    """Alipay's time format, Beijing time: ``2026-12-01 14:03:27``."""
    return moment.astimezone(SHANGHAI).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=SHANGHAI)


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def parse_amount(value: Any, name: str) -> int:
    """A yuan string with two decimals to fen, or ``ACQ.INVALID_PARAMETER``."""
    match = _AMOUNT.match(value) if isinstance(value, str) else None
    if match is None:
        raise business(
            "ACQ.INVALID_PARAMETER",
            f'参数无效 (invalid parameter): {name}={value!r} is not a yuan string like "349.38"',
        )
    return int(match.group(1)) * 100 + int(match.group(2))


def fee_of(fen: int, rate: Decimal) -> int:
    """Alipay's service fee on an amount, rounded half up to the fen."""
    return int((Decimal(fen) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _digits(count: int) -> str:
    return f"{secrets.randbelow(10**count):0{count}d}"


@dataclass
class Refund:
    out_request_no: str
    amount: int  # fen
    at: datetime
    reason: str
    fee_returned: int  # fen of the service fee given back


@dataclass
class Trade:
    app_id: str
    out_trade_no: str
    trade_no: str
    method: str  # PAGE_PAY or WAP_PAY
    subject: str
    body: str
    total: int  # fen
    product_code: str
    notify_url: str
    return_url: str
    quit_url: str
    passback_params: str
    created: datetime
    expires: datetime | None
    cashier_id: str
    status: str = WAIT_BUYER_PAY
    paid_at: datetime | None = None
    closed_at: datetime | None = None
    buyer_id: str = ""
    buyer_logon_id: str = ""
    fee: int = 0  # fen of service fee charged on the payment
    refunds: dict[str, Refund] = field(default_factory=dict)

    @property
    def refunded(self) -> int:
        return sum(r.amount for r in self.refunds.values())

    def snapshot(self) -> dict[str, Any]:
        """The trade for the stand-in's own pages and JSON (not an Alipay format)."""
        return {
            "app_id": self.app_id,
            "out_trade_no": self.out_trade_no,
            "trade_no": self.trade_no,
            "method": self.method,
            "subject": self.subject,
            "total_amount": yuan(self.total),
            "trade_status": self.status,
            "gmt_create": stamp(self.created),
            "gmt_payment": stamp(self.paid_at) if self.paid_at else None,
            "gmt_close": stamp(self.closed_at) if self.closed_at else None,
            "time_expire": stamp(self.expires) if self.expires else None,
            "refund_fee": yuan(self.refunded),
            "buyer_id": self.buyer_id,
            "notify_url": self.notify_url,
            "return_url": self.return_url,
            "cashier_id": self.cashier_id,
        }


@dataclass(frozen=True)
class Buyer:
    user_id: str  # 2088 and 12 digits
    logon_id: str  # masked, as Alipay shows it to merchants
    display: str  # the counterparty column of the statement


def new_buyer() -> Buyer:
    logon_id = "138****" + _digits(4)
    return Buyer(user_id="2088" + _digits(12), logon_id=logon_id, display=f"*业主({logon_id})")


@dataclass(frozen=True)
class BillEntry:
    """One line of the statement: a payment, or a refund (``refund`` set)."""

    trade: Trade
    at: datetime
    refund: Refund | None = None


class Trades:
    """Every trade of every app, by (app_id, out_trade_no); one lock for all changes."""

    def __init__(self, *, fee_rate: Decimal) -> None:
        self.fee_rate = fee_rate
        self._trades: dict[tuple[str, str], Trade] = {}
        self._by_trade_no: dict[str, Trade] = {}
        self._by_cashier: dict[str, Trade] = {}
        self.lock = threading.RLock()

    # -- page / WAP pay -------------------------------------------------------------------------

    def open(
        self, app_id: str, method: str, biz: Mapping[str, Any], *, notify_url: str, return_url: str
    ) -> Trade:
        """The buyer reaches the cashier: the trade, created now, or the one already open."""
        fields = _pay_fields(method, biz)
        with self.lock:
            trade = self._trades.get((app_id, fields["out_trade_no"]))
            if trade is not None:
                if trade.total != fields["total"]:
                    raise business("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改 (the trade's details differ)")
                if trade.status in (TRADE_SUCCESS, TRADE_FINISHED):
                    raise business("ACQ.TRADE_HAS_SUCCESS", "交易已被支付 (the trade is already paid)")
                if trade.status == TRADE_CLOSED:
                    raise business("ACQ.TRADE_HAS_CLOSE", "交易已经关闭 (the trade is closed)")
                return trade
            created = now()
            expires = _expiry(created, biz)
            if expires is not None and expires <= created:
                raise business("ACQ.TRADE_HAS_CLOSE", "交易已经关闭 (time_expire has passed)")
            trade = Trade(
                app_id=app_id,
                trade_no=self._new_trade_no(created),
                method=method,
                notify_url=notify_url,
                return_url=return_url,
                created=created,
                expires=expires,
                cashier_id=secrets.token_hex(12),
                **fields,
            )
            self._trades[(app_id, trade.out_trade_no)] = trade
            self._by_trade_no[trade.trade_no] = trade
            self._by_cashier[trade.cashier_id] = trade
            return trade

    def by_cashier(self, cashier_id: str) -> Trade | None:
        with self.lock:
            return self._by_cashier.get(cashier_id)

    def pay(self, trade: Trade, buyer: Buyer) -> Trade:
        with self.lock:
            if trade.status != WAIT_BUYER_PAY:
                raise business("ACQ.TRADE_STATUS_ERROR", f"交易状态不合法 (the trade is {trade.status})")
            if trade.expires is not None and now() >= trade.expires:
                raise business("ACQ.TRADE_HAS_CLOSE", "交易已经关闭 (time_expire has passed)")
            trade.status = TRADE_SUCCESS
            trade.paid_at = now()
            trade.buyer_id = buyer.user_id
            trade.buyer_logon_id = buyer.logon_id
            trade.fee = fee_of(trade.total, self.fee_rate)
            return trade

    # -- the API --------------------------------------------------------------------------------

    def find(self, app_id: str, biz: Mapping[str, Any]) -> Trade:
        """The trade named by ``out_trade_no`` or ``trade_no`` (one of them is required)."""
        out_trade_no, trade_no = biz.get("out_trade_no"), biz.get("trade_no")
        if not out_trade_no and not trade_no:
            raise business("ACQ.INVALID_PARAMETER", "参数无效 (out_trade_no and trade_no are both missing)")
        with self.lock:
            if trade_no:
                trade = self._by_trade_no.get(str(trade_no))
                if trade is not None and (
                    trade.app_id != app_id or out_trade_no not in (None, "", trade.out_trade_no)
                ):
                    trade = None
            else:
                trade = self._trades.get((app_id, str(out_trade_no)))
            if trade is None:
                raise business("ACQ.TRADE_NOT_EXIST", "交易不存在 (no such trade)")
            return trade

    def close(self, trade: Trade) -> Trade:
        with self.lock:
            if trade.status != WAIT_BUYER_PAY:
                raise business("ACQ.TRADE_STATUS_ERROR", f"交易状态不合法 (the trade is {trade.status})")
            trade.status = TRADE_CLOSED
            trade.closed_at = now()
            return trade

    def refund(self, trade: Trade, biz: Mapping[str, Any]) -> tuple[Refund, bool]:
        """Refund ``refund_amount`` of a paid trade once per ``out_request_no``; the same
        ``out_request_no`` again answers the refund already made (no money moves: ``False``)."""
        extra = {"out_trade_no": trade.out_trade_no, "refund_fee": "0.00", "send_back_fee": "0.00"}
        given_request_no = str(biz.get("out_request_no") or "")
        # Without out_request_no, Alipay takes the out_trade_no: one refund, of the whole amount.
        out_request_no = given_request_no or trade.out_trade_no
        with self.lock:
            previous = trade.refunds.get(out_request_no)
            if previous is not None:
                return previous, False
            try:
                amount = parse_amount(biz.get("refund_amount"), "refund_amount")
            except AlipayError:
                raise business(
                    "ACQ.REASON_TRADE_REFUND_FEE_ERR", "退款金额无效 (refund_amount)", **extra
                ) from None
            if amount <= 0:
                raise business("ACQ.REASON_TRADE_REFUND_FEE_ERR", "退款金额无效 (refund_amount)", **extra)
            if trade.status == WAIT_BUYER_PAY:
                raise business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法 (the trade is not paid)", **extra)
            if trade.status == TRADE_CLOSED:
                raise business("ACQ.TRADE_HAS_CLOSE", "交易已经关闭 (the trade is closed)", **extra)
            if trade.status == TRADE_FINISHED:
                raise business("ACQ.TRADE_HAS_FINISHED", "交易已完结 (the refund period is over)", **extra)
            extra["refund_fee"] = yuan(trade.refunded)
            if amount > trade.total - trade.refunded or (not given_request_no and amount != trade.total):
                raise business(
                    "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                    "退款金额超限 (more than what is left to refund)",
                    **extra,
                )
            refund = Refund(
                out_request_no=out_request_no,
                amount=amount,
                at=now(),
                reason=str(biz.get("refund_reason") or ""),
                fee_returned=fee_of(amount, self.fee_rate),
            )
            trade.refunds[out_request_no] = refund
            if trade.refunded == trade.total:
                trade.status = TRADE_CLOSED
                trade.closed_at = refund.at
            return refund, True

    def finish(self, trade: Trade) -> Trade:
        """The refund period of a paid trade ends: ``TRADE_FINISHED``."""
        with self.lock:
            if trade.status != TRADE_SUCCESS:
                raise business("ACQ.TRADE_STATUS_ERROR", f"交易状态不合法 (the trade is {trade.status})")
            trade.status = TRADE_FINISHED
            return trade

    # -- time and statements -------------------------------------------------------------------

    def expire_due(self) -> list[Trade]:
        """Close every unpaid trade whose time is up; the ones closed now (the stand-in sweeps
        before every request it answers, and sends their ``TRADE_CLOSED`` notifications)."""
        with self.lock:
            return [trade for trade in list(self._trades.values()) if self._expire_if_due(trade)]

    def entries(self, start: datetime, end: datetime) -> list[BillEntry]:
        """Payments and refunds completed in [start, end), in time order."""
        out: list[BillEntry] = []
        with self.lock:
            for trade in self._trades.values():
                if trade.paid_at is not None and start <= trade.paid_at < end:
                    out.append(BillEntry(trade=trade, at=trade.paid_at))
                for refund in trade.refunds.values():
                    if start <= refund.at < end:
                        out.append(BillEntry(trade=trade, at=refund.at, refund=refund))
        return sorted(out, key=lambda entry: entry.at)

    def all(self) -> list[Trade]:
        with self.lock:
            return list(self._trades.values())

    def _expire_if_due(self, trade: Trade) -> bool:
        if trade.status == WAIT_BUYER_PAY and trade.expires is not None and now() >= trade.expires:
            trade.status = TRADE_CLOSED
            trade.closed_at = trade.expires
            return True
        return False

    def _new_trade_no(self, created: datetime) -> str:
        # 28 digits, as Alipay's: the date, "22001" for these products, then 15 digits.
        while True:
            trade_no = f"{created.astimezone(SHANGHAI):%Y%m%d}22001{_digits(15)}"
            if trade_no not in self._by_trade_no:
                return trade_no


def _pay_fields(method: str, biz: Mapping[str, Any]) -> dict[str, Any]:
    out_trade_no = biz.get("out_trade_no")
    if not isinstance(out_trade_no, str) or not _OUT_TRADE_NO.match(out_trade_no):
        raise business(
            "ACQ.INVALID_PARAMETER", "参数无效 (out_trade_no: 1-64 letters, digits or underscores)"
        )
    total = parse_amount(biz.get("total_amount"), "total_amount")
    if total <= 0:
        raise business("ACQ.INVALID_PARAMETER", "参数无效 (total_amount must be at least 0.01)")
    if total > MAX_TOTAL_FEN:
        raise business("ACQ.TOTAL_FEE_EXCEED", "订单金额超过限额 (total_amount is at most 100000000.00)")
    subject = biz.get("subject")
    if not isinstance(subject, str) or not subject.strip() or len(subject) > 256:
        raise business("ACQ.INVALID_PARAMETER", "参数无效 (subject: 1-256 characters)")
    if any(ch in subject for ch in SUBJECT_FORBIDDEN):
        raise business("ACQ.INVALID_PARAMETER", "参数无效 (subject may not contain / = or &)")
    if biz.get("product_code") != PRODUCT_CODES[method]:
        raise business(
            "ACQ.INVALID_PARAMETER",
            f"参数无效 (product_code must be {PRODUCT_CODES[method]} for {method}, got {biz.get('product_code')!r})",
        )
    passback = biz.get("passback_params", "")
    return {
        "out_trade_no": out_trade_no,
        "total": total,
        "subject": subject,
        "body": str(biz.get("body") or ""),
        "product_code": PRODUCT_CODES[method],
        "quit_url": str(biz.get("quit_url") or ""),
        "passback_params": passback if isinstance(passback, str) else json.dumps(passback),
    }


def _expiry(created: datetime, biz: Mapping[str, Any]) -> datetime | None:
    """When an unpaid trade closes: ``time_expire`` (absolute, Beijing time) or
    ``timeout_express`` (``90m``, ``2h``, ``1d``, ``1c`` = the end of the day), the earlier."""
    candidates: list[datetime] = []
    if biz.get("time_expire"):
        try:
            candidates.append(parse_time(str(biz["time_expire"])))
        except ValueError:
            raise business("ACQ.INVALID_PARAMETER", "参数无效 (time_expire: yyyy-MM-dd HH:mm:ss)") from None
    if biz.get("timeout_express"):
        match = _TIMEOUT.match(str(biz["timeout_express"]))
        if match is None:
            raise business("ACQ.INVALID_PARAMETER", "参数无效 (timeout_express: 1m-15d)")
        count, unit = int(match.group(1)), match.group(2)
        if unit == "c":
            day = created.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
            candidates.append(day + timedelta(days=1))
        else:
            length = timedelta(minutes=count * {"m": 1, "h": 60, "d": 24 * 60}[unit])
            if length > MAX_TIMEOUT:
                raise business("ACQ.INVALID_PARAMETER", "参数无效 (timeout_express: 1m-15d)")
            candidates.append(created + length)
    return min(candidates) if candidates else None
